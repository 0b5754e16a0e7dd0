"""The supervisor's restart policy on real (tiny) processes: backoff doubling to its cap,
the dead child named with its exit status, and giving up after repeated crashes."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

import supervisor
from supervisor import Child, GiveUp, describe_exit


def crasher(into: list[subprocess.Popen[bytes]], code: int = 3) -> subprocess.Popen[bytes]:
    process = subprocess.Popen([sys.executable, "-c", f"raise SystemExit({code})"])
    into.append(process)
    return process


def test_describe_exit() -> None:
    assert describe_exit(3) == "exit status 3"
    assert describe_exit(-9) == "signal SIGKILL (-9)"
    assert describe_exit(-15) == "signal SIGTERM (-15)"


def test_backoff_doubles_to_its_cap_and_resets_after_a_good_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    child = Child("w", lambda: subprocess.Popen(["true"]), [])
    child.started_at = 100.0
    delays = [child.crashed(100.0 + i * 0.001) for i in range(7)]
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    child.started_at = 1000.0
    assert child.crashed(1000.0 + supervisor.RESET_AFTER_S) == 1


def test_gives_up_after_repeated_crashes_naming_the_child(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(supervisor, "MAX_CRASHES", 3)
    into: list[subprocess.Popen[bytes]] = []
    child = Child("worker-1", lambda: crasher(into), into, backoff_s=0.01)
    monkeypatch.setattr(supervisor, "BACKOFF_MAX_S", 0.02)
    child.launch()
    started = time.monotonic()
    with pytest.raises(GiveUp) as raised:
        supervisor.supervise([child], poll_s=0.01)
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert "worker-1" in message and "exit status 3" in message and "3 crashes" in message
    logged = capsys.readouterr().err
    assert logged.count("worker-1 (pid") == 2 and "restarting it in" in logged
    assert logged.count("worker-1 restarted") == 2
    assert len(into) == 1, "a restart replaces the dead process in the stop list"
    supervisor.stop(into)


def test_a_child_that_lives_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    into: list[subprocess.Popen[bytes]] = []

    def sleeper() -> subprocess.Popen[bytes]:
        process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        into.append(process)
        return process

    child = Child("api", sleeper, into)
    child.launch()
    assert child.exited() is None
    supervisor.stop(into)
    assert into[0].poll() is not None
