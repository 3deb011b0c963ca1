"""Shared fixtures of the API tests: every test ends the processes it started."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator

import psutil
import pytest


@pytest.fixture(autouse=True)
def api_end_started_processes() -> Iterator[None]:
    """After each test, end what the default executor still runs and forget it."""
    yield
    if "Core.ProcessManager" not in sys.modules:
        return
    from Core.ProcessManager import cleanup_finished_processes, get_default_executor

    get_default_executor().terminate_all(timeout=2.0)
    cleanup_finished_processes()


@pytest.fixture
def api_executor() -> Iterator["object"]:
    """A private CommandExecutor, emptied after the test."""
    from Core.ProcessManager import CommandExecutor

    executor = CommandExecutor()
    yield executor
    executor.terminate_all(timeout=2.0)
    executor.cleanup_finished_processes()


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def api_unique_sleep(tmp_path: Path) -> Iterator[str]:
    """Path of a copy of /bin/sleep under a name no other process has; any
    process still running it is killed after the test."""
    path = tmp_path / _unique("pm-test-sleep")
    shutil.copy(shutil.which("sleep") or "/bin/sleep", path)
    yield str(path)
    api_kill_by_exe_name(path.name)


def api_kill_by_exe_name(name: str) -> None:
    """Kill our own leftover processes named ``name`` (a unique test name)."""
    for proc in psutil.process_iter(["name", "uids"]):
        if proc.info["name"] == name and proc.info["uids"].real == os.getuid():
            try:
                proc.kill()
            except psutil.Error:
                pass


@pytest.fixture
def api_child_env() -> dict[str, str]:
    """Environment for a fresh interpreter that must import what this one
    imports (the engine may come from an installed wheel or a source tree)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return env


@pytest.fixture
def api_script(tmp_path: Path) -> Callable[[str, str], str]:
    """write(name, source) -> path of a Python script in tmp_path."""

    def write(name: str, source: str) -> str:
        path = tmp_path / name
        path.write_text(source)
        return str(path)

    return write
