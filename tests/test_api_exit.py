"""At interpreter exit, managed running processes end unless detach=True."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Callable

import psutil
import pytest

SCRIPT = r'''
import json, sys
from Core.ProcessManager import ExecutionMode, execute_command
sleeper = sys.argv[1]
ended = execute_command(f"{sleeper} 60 & {sleeper} 61", mode=ExecutionMode.BACKGROUND)
kept = execute_command([sleeper, "62"], mode=ExecutionMode.BACKGROUND, detach=True)
print(json.dumps({"ended": ended.pid, "kept": kept.pid}), flush=True)
'''


@pytest.mark.slow
def test_exit_ends_managed_processes_except_detached(
        api_unique_sleep: str, api_child_env: dict[str, str], api_script: Callable[[str, str], str]) -> None:
    script = api_script("exiting.py", SCRIPT)
    done = subprocess.run([sys.executable, script, api_unique_sleep], env=api_child_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    pids = json.loads(done.stdout)
    name = api_unique_sleep.rsplit("/", 1)[-1]
    survivors = [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]
    alive = [p.pid for p in survivors if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    try:
        assert pids["ended"] not in alive
        assert pids["kept"] in alive, "detach=True is left running"
        assert len(alive) == 1, "the group of the ended one (its background child too) is gone"
    finally:
        for p in survivors:
            try:
                p.kill()
            except psutil.Error:
                pass
