"""`python -m supervisor` end to end: the real process tree, real ports, real signals.

Each test boots the supervisor exactly as `make run` does (embedded Valkey, uvicorn, one
ARQ worker, SQLite under a temporary var/), drives it over HTTP and the ARQ queue, stops it
with a signal and checks that nothing it started is left running or holding a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings

from memory import serialization
from settings import Settings
from tests.helpers import PASSWORD, unique_email

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 90.0
EXIT_TIMEOUT_S = 30.0
QUEUE_NAME = Settings.model_fields["queue_name"].default


# --- processes, read from /proc (psutil is not a dependency) ------------------------------


@dataclass(frozen=True)
class Proc:
    """A process, identified by pid *and* start time so a reused pid is never mistaken for it."""

    pid: int
    start: int
    cmdline: str = field(compare=False)  # Valkey rewrites its own

    def alive(self) -> bool:
        stat = _stat(self.pid)
        return stat is not None and int(stat[19]) == self.start and stat[0] != "Z"


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from `state` on (index 0 = state, 1 = ppid, 19 = start)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def _pids() -> Iterator[int]:
    return (int(name) for name in os.listdir("/proc") if name.isdigit())


def descendants(root: int) -> set[Proc]:
    """Every live process below `root` (children run in their own sessions: walk ppids)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for pid in _pids():
        stat = _stat(pid)
        if stat is not None and stat[0] != "Z":
            children.setdefault(int(stat[1]), []).append(pid)
            starts[pid] = int(stat[19])
    found: set[Proc] = set()
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.add(Proc(pid, starts[pid], _cmdline(pid)))
        todo.extend(children.get(pid, []))
    return found


def processes_of(var_dir: Path) -> set[Proc]:
    """Live processes started for `var_dir`, even orphans re-parented to init: those with
    NUMBORS_VAR_DIR=var_dir in their environment, or working in it (Valkey chdirs to its data
    dir and overwrites its environ with its process title)."""
    marker = f"NUMBORS_VAR_DIR={var_dir}".encode()
    found = set()
    for pid in _pids():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:
            continue
        stat = _stat(pid)
        if stat is None or stat[0] == "Z":
            continue
        if marker in environ or cwd == var_dir or var_dir in cwd.parents:
            found.add(Proc(pid, int(stat[19]), _cmdline(pid)))
    return found


# --- ports ----------------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_is_free(port: int) -> bool:
    """Whether a server could listen on the port now. SO_REUSEADDR as uvicorn and Valkey set it:
    connections the old server closed may sit in TIME_WAIT, which is not "left holding it"."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
    return True


# --- the platform under test ----------------------------------------------------------------


class Platform:
    """One `python -m supervisor` process tree on its own ports and var dir."""

    def __init__(self, directory: Path, *, jwt_secret: str | None = None) -> None:
        self.directory = directory
        self.var_dir = (directory / "var").resolve()
        self.api_port, self.valkey_port = free_ports(2)
        self.jwt_secret = jwt_secret
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.seen: set[Proc] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBORS_")}
        env.pop("MONGODB_URL", None)
        env |= {
            "NUMBORS_PORT": str(self.api_port),
            "NUMBORS_VAR_DIR": str(self.var_dir),
            "NUMBORS_VALKEY_PORT": str(self.valkey_port),
        }
        if self.jwt_secret is not None:
            env["NUMBORS_JWT_SECRET"] = self.jwt_secret
        return env

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        self.runs += 1
        self.stdout_file = self.directory / f"supervisor-{self.runs}.out"
        self.stderr_file = self.directory / f"supervisor-{self.runs}.err"
        with open(self.stdout_file, "ab") as out, open(self.stderr_file, "ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "supervisor"],
                cwd=ROOT,
                env=self.env(),
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    def stdout(self) -> str:
        return self.stdout_file.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_file.read_text(errors="replace")

    def output(self) -> str:
        return f"--- stdout ---\n{self.stdout()}\n--- stderr ---\n{self.stderr()}"

    def fail(self, message: str) -> NoReturn:
        pytest.fail(f"{message}\n{self.output()}")

    def wait_ready(self) -> None:
        """Until GET /api/ready is 200 and the supervisor has printed where the docs are."""
        assert self.process is not None
        docs = f"docs at {self.url}/api/docs"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"the supervisor exited with {self.process.returncode} while starting")
            try:
                ready = httpx.get(f"{self.url}/api/ready", timeout=1).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready and docs in self.stdout():
                self.seen |= descendants(self.process.pid)
                return
            time.sleep(0.1)
        self.fail(f"not ready with {docs!r} printed within {READY_TIMEOUT_S} s")

    def wait_exit(self, timeout: float = EXIT_TIMEOUT_S) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"the supervisor did not exit within {timeout} s")

    def wait_for_child(self, name: str) -> None:
        """Until a process whose command line holds `name` runs below the supervisor."""
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline and self.process.poll() is None:
            tree = descendants(self.process.pid)
            if any(name in p.cmdline for p in tree):
                self.seen |= tree
                return
            time.sleep(0.002)
        self.fail(f"no {name} started below the supervisor")

    def stop(
        self, *signums: signal.Signals, started: bool = True, children_failed: bool = False
    ) -> None:
        """Send the signals back to back; the supervisor must exit 0 in time and take its
        whole tree with it. `started`: the whole tree is up (else: stopped while starting).
        `children_failed`: children were killed, so their tracebacks may be in the output."""
        assert self.process is not None
        tree = descendants(self.process.pid)
        commands = " ".join(p.cmdline for p in tree)
        for expected in ("valkey-server", "uvicorn", "-m workers") if started else ():
            assert expected in commands, f"no {expected} below the supervisor: {tree}"
        self.seen |= tree
        for signum in signums:
            self.process.send_signal(signum)
        code = self.wait_exit()
        names = "+".join(s.name for s in signums)
        if code != 0:
            self.fail(f"the supervisor exited with {code} on {names}")
        # A killed Valkey makes the children log tracebacks; none may come from the supervisor.
        if ('supervisor.py"' if children_failed else "Traceback") in self.stderr():
            self.fail(f"the supervisor printed a traceback on {names}")
        self.assert_nothing_left()

    def assert_nothing_left(self) -> None:
        left = {p for p in self.seen if p.alive()} | processes_of(self.var_dir)
        assert not left, f"still running after the supervisor exited: {left}\n{self.output()}"
        for port in (self.api_port, self.valkey_port):
            assert port_is_free(port), f"port {port} still held\n{self.output()}"

    def kill(self) -> None:
        """Cleanup, whatever state the test left: SIGKILL the supervisor and all it started."""
        if self.process is None:
            return
        victims = self.seen | processes_of(self.var_dir)
        if self.process.poll() is None:
            victims |= descendants(self.process.pid)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for proc in victims:
            if proc.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.kill()


# --- API and queue clients ------------------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()["data"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _ping(valkey_port: int) -> Any:
    pool = await create_pool(
        RedisSettings.from_dsn(f"redis://127.0.0.1:{valkey_port}/0"),
        job_serializer=serialization.dumps,
        job_deserializer=serialization.loads,
    )
    try:
        job = await pool.enqueue_job("ping", _queue_name=QUEUE_NAME)
        assert job is not None
        return await job.result(timeout=10)
    finally:
        await pool.aclose()


def ping_job(valkey_port: int) -> Any:
    """Round-trip the `ping` job through a worker (a private loop: these tests are sync)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_ping(valkey_port))
    finally:
        loop.close()


# --- tests ----------------------------------------------------------------------------------


def test_runs_stops_and_restarts_with_its_data(platform: Platform) -> None:
    platform.start()
    platform.wait_ready()
    secret_file = platform.var_dir / "jwt_secret"
    assert secret_file.is_file(), "the development JWT secret was not generated into var/"
    secret, secret_mtime = secret_file.read_text(), secret_file.stat().st_mtime_ns

    email = unique_email("e2e")
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        body = {"email": email, "password": PASSWORD, "name": "E2E", "company_name": "E2E Ltd"}
        token = ok(http.post("/api/auth/register", json=body), 201)["token"]
        contact = ok(
            http.post(
                "/api/contacts",
                json={"name": "Acme", "email": "ap@acme.example"},
                headers=bearer(token),
            ),
            201,
        )
    assert ping_job(platform.valkey_port) == "pong", "no worker consumed the queue"

    platform.stop(signal.SIGINT)

    platform.start()
    platform.wait_ready()
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        me = ok(http.get("/api/auth/me", headers=bearer(token)))
        assert me["email"] == email, "a token from the first run no longer works"
        login = {"email": email, "password": PASSWORD}
        token = ok(http.post("/api/auth/login", json=login), 201)["token"]
        again = ok(http.get(f"/api/contacts/{contact['id']}", headers=bearer(token)))
        assert again["name"] == "Acme"
    assert secret_file.read_text() == secret
    assert secret_file.stat().st_mtime_ns == secret_mtime, "var/jwt_secret was rewritten"
    assert ping_job(platform.valkey_port) == "pong"

    platform.stop(signal.SIGTERM)


def test_stop_while_valkey_starts_stops_valkey_too(platform: Platform) -> None:
    """Regression: a Stop raised while waiting for Valkey's PONG skipped stopping Valkey (it
    was recorded only once it answered); the supervisor exited 0 with Valkey still running."""
    platform.start()
    platform.wait_for_child("valkey-server")
    platform.stop(signal.SIGINT, started=False)


def test_second_signal_while_stopping_is_ignored(platform: Platform) -> None:
    """Regression: a second signal raised Stop again inside main's `except Stop`/`finally`
    (traceback, exit 1, possibly skipping the stop of the children)."""
    platform.start()
    platform.wait_ready()
    platform.stop(signal.SIGINT, signal.SIGTERM)


def test_short_jwt_secret_is_refused(platform: Platform) -> None:
    platform.jwt_secret = "0123456789"  # 10 bytes
    started = time.monotonic()
    platform.start()
    code = platform.wait_exit(timeout=10)
    assert time.monotonic() - started < 10
    assert code != 0, platform.output()
    stderr = platform.stderr()
    assert "NUMBORS_JWT_SECRET" in stderr, platform.output()
    assert re.search(r"\b32\b", stderr) and "bytes" in stderr, platform.output()
    assert "Traceback" not in stderr, platform.output()
    platform.assert_nothing_left()
    assert not (platform.var_dir / "jwt_secret").exists()


# --- one dead child does not stop the platform ---------------------------------------------


def child_pid(platform: Platform, name: str) -> int:
    assert platform.process is not None
    found = [p for p in descendants(platform.process.pid) if name in p.cmdline]
    assert found, f"no {name} below the supervisor"
    return min(found, key=lambda p: p.pid).pid


def wait_until(predicate: Any, what: str, platform: Platform, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    platform.fail(f"timed out waiting for {what}")


def wait_logged(platform: Platform, text: str) -> None:
    wait_until(lambda: text in platform.stderr(), f"the supervisor to log {text!r}", platform)


def api_answers(platform: Platform) -> bool:
    try:
        return httpx.get(f"{platform.url}/api/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_a_killed_child_is_restarted_and_named(platform: Platform) -> None:
    platform.start()
    platform.wait_ready()
    email = unique_email("restart")
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        body = {"email": email, "password": PASSWORD, "name": "R", "company_name": "R Ltd"}
        token = ok(http.post("/api/auth/register", json=body), 201)["token"]

    for name, pattern in (("worker-1", "-m workers"), ("api", "uvicorn")):
        before = child_pid(platform, pattern)
        os.kill(before, signal.SIGKILL)
        wait_logged(platform, f"{name} (pid {before}) exited with signal SIGKILL (-9); restarting")
        wait_logged(platform, f"{name} restarted")
        assert platform.process is not None and platform.process.poll() is None
    wait_until(lambda: api_answers(platform), "the restarted API", platform)
    assert ping_job(platform.valkey_port) == "pong", "the restarted worker consumes no jobs"

    valkey = child_pid(platform, "valkey-server")
    os.kill(valkey, signal.SIGKILL)
    wait_logged(platform, "valkey restarted")
    assert ping_job(platform.valkey_port) == "pong", "no worker after Valkey came back"
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        me = ok(http.get("/api/auth/me", headers=bearer(token)))
        assert me["email"] == email
    platform.seen |= descendants(platform.process.pid)
    platform.stop(signal.SIGTERM, children_failed=True)


def test_sigterm_from_timeout_stops_everything(platform: Platform) -> None:
    """`timeout 20 make run`: timeout SIGTERMs its child and the whole process group (the
    supervisor among them); nothing may be left running."""
    platform.stdout_file = platform.directory / "timeout.out"
    platform.stderr_file = platform.directory / "timeout.err"
    with open(platform.stdout_file, "ab") as out, open(platform.stderr_file, "ab") as err:
        platform.process = subprocess.Popen(
            ["timeout", "-s", "TERM", "25", sys.executable, "-m", "supervisor"],
            cwd=ROOT,
            env=platform.env(),
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    platform.wait_ready()
    assert "uvicorn" in " ".join(p.cmdline for p in platform.seen)
    code = platform.wait_exit(timeout=60)
    assert code == 124, platform.output()  # timeout's own status once it had to signal
    assert "numbors: stopping" in platform.stdout(), platform.output()
    assert "Traceback" not in platform.stderr(), platform.output()
    platform.assert_nothing_left()


def test_jobs_survive_valkey_killed_during_enqueues(platform: Platform) -> None:
    """Valkey SIGKILLed while jobs are submitted: each answer is 202 or 503 queue_unavailable
    (within a bounded time), and once the supervisor has Valkey back every record reaches a
    final state (the outbox re-enqueues what Valkey lost) in bounded time."""
    platform.start()
    platform.wait_ready()
    with httpx.Client(base_url=platform.url, timeout=10) as http:
        body = {"email": unique_email("outage"), "password": PASSWORD, "name": "Outage"}
        auth = bearer(ok(http.post("/api/auth/register", json=body), 201)["token"])
        ids: list[str] = []
        statuses: list[int] = []
        valkey = child_pid(platform, "valkey-server")
        for n in range(30):
            if n == 10:
                os.kill(valkey, signal.SIGKILL)
            started = time.monotonic()
            answer = http.post(
                "/api/jobs",
                json={"kind": "sleep", "input": {"seconds": 0.05}},
                params={"wait": "false"},
                headers=auth,
            )
            assert time.monotonic() - started < 8, "enqueue waited without bound"
            statuses.append(answer.status_code)
            if answer.status_code == 202:
                ids.append(answer.json()["data"]["job"]["id"])
            else:
                assert answer.status_code == 503, answer.text
                assert answer.json()["error"]["code"] == "queue_unavailable"
                assert answer.headers["Retry-After"].isdigit()
                ids.append(answer.json()["error"]["details"][0]["job_id"])
        assert 503 in statuses and statuses[:10] == [202] * 10, statuses
        wait_logged(platform, "valkey restarted")
        deadline = time.monotonic() + 120
        pending: dict[str, Any] = dict.fromkeys(ids)
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                job = ok(http.get(f"/api/jobs/{job_id}", headers=auth))
                pending[job_id] = job
                if job["status"] in ("succeeded", "failed", "cancelled"):
                    del pending[job_id]
            time.sleep(1)
        assert not pending, f"records never reached a final state: {pending}"
    platform.seen |= descendants(platform.process.pid)
    platform.stop(signal.SIGTERM, children_failed=True)
