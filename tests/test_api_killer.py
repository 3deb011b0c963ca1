"""kill_process, kill_process_tree, kill_processes_by_name, terminate_managed_process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable

import psutil
import pytest

from Core.ProcessManager import (ExecutionMode, execute_command, get_process_status, kill_process,
                                 kill_process_tree, kill_processes_by_name, terminate_managed_process,
                                 wait_for_process)
from Core.ProcessManager.process_killer import _protected

IGNORE_TERM = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)"


def _started(pid: int) -> None:
    from Core.ProcessManager import read_from_process
    assert "ready" in read_from_process(pid, timeout=10)["stdout"]


def test_kill_process_graceful_returns_once_gone() -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    out = kill_process(r.pid, force=False)
    assert out["success"] and out["return_code"] == -signal.SIGTERM and out["state"] == "killed"
    assert not get_process_status(r.pid) or get_process_status(r.pid)["status"] != "running"


def test_kill_process_escalates_to_sigkill_after_timeout() -> None:
    r = execute_command([sys.executable, "-c", IGNORE_TERM], mode=ExecutionMode.BACKGROUND)
    _started(r.pid)
    out = kill_process(r.pid, timeout=0.3)
    assert out["success"] and out["return_code"] == -signal.SIGKILL


def test_kill_process_force_is_sigkill_at_once() -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    assert kill_process(r.pid, force=True)["return_code"] == -signal.SIGKILL


def test_kill_unmanaged_process(api_unique_sleep: str) -> None:
    proc = subprocess.Popen([api_unique_sleep, "30"])
    try:
        out = kill_process(proc.pid)
        assert out["success"]
        assert proc.wait(10) == -signal.SIGTERM
    finally:
        proc.kill()
        proc.wait()


def test_kill_refuses_the_caller_init_and_bad_input() -> None:
    for pid in (os.getpid(), 1, os.getppid()):
        out = kill_process(pid)
        assert not out["success"] and "refusing" in out["error"]
    assert not kill_process("1")["success"]  # type: ignore[arg-type]
    assert not kill_process(-5)["success"]
    assert not kill_process(os.getpid(), timeout=-1)["success"]
    assert not kill_process(12345678)["success"]


def test_protected_set_is_caller_ancestors_and_init() -> None:
    protected = _protected()
    assert {1, os.getpid(), os.getppid()} <= protected
    assert {p.pid for p in psutil.Process().parents()} <= protected


def test_kill_process_tree_ends_descendants(api_unique_sleep: str) -> None:
    r = execute_command(f"{api_unique_sleep} 30 & {api_unique_sleep} 30 & wait", mode=ExecutionMode.BACKGROUND)
    name = Path(api_unique_sleep).name
    children: list[psutil.Process] = []
    for _ in range(200):
        children = [c for c in psutil.Process(r.pid).children(recursive=True) if c.name() == name]
        if len(children) == 2:
            break
        wait_for_process(r.pid, timeout=0.02)
    assert len(children) == 2
    out = kill_process_tree(r.pid)
    assert out["success"] and set(out["killed"]) >= {r.pid, *(c.pid for c in children)}
    assert all(not c.is_running() or c.status() == psutil.STATUS_ZOMBIE for c in children)


def test_terminate_managed_process_ends_the_group(api_unique_sleep: str) -> None:
    r = execute_command(f"{api_unique_sleep} 30 & {api_unique_sleep} 31", mode=ExecutionMode.BACKGROUND)
    out = terminate_managed_process(r.pid, timeout=2)
    assert out["success"] and out["state"] == "killed"
    name = Path(api_unique_sleep).name
    left = [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]
    assert psutil.wait_procs(left, timeout=5)[1] == []
    assert not terminate_managed_process(os.getpid())["success"]


def test_kill_processes_by_name_exact_match_only(api_unique_sleep: str) -> None:
    name = Path(api_unique_sleep).name
    # A longer name that starts with ours must not match.
    longer = Path(api_unique_sleep).with_name(name + "x")
    longer.write_bytes(Path(api_unique_sleep).read_bytes())
    longer.chmod(0o755)
    a = execute_command([api_unique_sleep, "30"], mode=ExecutionMode.BACKGROUND)
    b = execute_command([api_unique_sleep, "30"], mode=ExecutionMode.BACKGROUND)
    other = execute_command([str(longer), "30"], mode=ExecutionMode.BACKGROUND)
    out = kill_processes_by_name(name, force=True)
    assert out["success"] and sorted(out["killed"]) == sorted([a.pid, b.pid]) and out["count"] == 2
    assert get_process_status(other.pid)["status"] == "running"
    kill_process(other.pid)
    assert kill_processes_by_name(name)["count"] == 0
    assert not kill_processes_by_name("")["success"]
    assert not kill_processes_by_name(None)["success"]  # type: ignore[arg-type]


CHAIN = r'''
import json, sys
from Core.ProcessManager import ExecutionMode, execute_command, kill_processes_by_name
me, level = sys.argv[1], int(sys.argv[2])
if level > 0:
    r = execute_command([me, sys.argv[0], me, str(level - 1)], timeout=60)
    sys.stdout.write(r.stdout)
    sys.exit(r.return_code)
sleeper = execute_command([me, "-c", "import time; time.sleep(60)"], mode=ExecutionMode.BACKGROUND)
out = kill_processes_by_name(__import__("os").path.basename(me), timeout=5)
print(json.dumps({"killed": out["killed"], "sleeper": sleeper.pid}))
'''


@pytest.mark.slow
def test_kill_by_name_never_touches_the_caller_or_its_ancestors(
        tmp_path: Path, api_child_env: dict[str, str], api_script: Callable[[str, str], str]) -> None:
    # Three interpreters in a chain, all with the same unique name; the last one
    # kills by that name: only its own background sleeper (same name) must die.
    me = tmp_path / f"pm-test-py-{uuid.uuid4().hex[:8]}"
    me.symlink_to(os.path.realpath(sys.executable))
    script = api_script("chain.py", CHAIN)
    done = subprocess.run([str(me), script, str(me), "2"], env=api_child_env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["killed"] == [report["sleeper"]]
