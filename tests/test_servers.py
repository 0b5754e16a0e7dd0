"""The suite's own servers die with the process that started them, however it dies: a run
killed outright (a CI timeout's SIGKILL) leaves no Valkey holding memory and a port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STARTER = """
import sys, time
from pathlib import Path
from tests.servers import ValkeyProcess
server = ValkeyProcess(Path(sys.argv[1]))
print(server.process.pid, flush=True)
time.sleep(60)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead, only not yet reaped
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:  # reaped since the signal
        return False


def test_a_valkey_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parent.parent
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.PIPE,
        text=True,
    )
    valkey = 0
    try:
        assert starter.stdout is not None
        valkey = int(starter.stdout.readline())
        assert alive(valkey)
        starter.send_signal(signal.SIGKILL)
        starter.wait(10)
        deadline = time.monotonic() + 10
        while alive(valkey) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(valkey), "the Valkey outlived the process that started it"
    finally:
        starter.kill()
        if valkey and alive(valkey):
            os.kill(valkey, signal.SIGKILL)
