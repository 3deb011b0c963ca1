"""Ending processes: gracefully (SIGTERM, wait, SIGKILL) or at once, one
process, a tree, or every process of the caller's user with a given name.

Managed processes are signalled through the engine (their pidfd), so a pid
the system has given to someone else is never hit; other pids go through
psutil, which checks that the pid was not reused.  The calling process,
its ancestors and pid 1 are never killed.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any, Optional, Union

import psutil

from ._command import BadArgument, check_timeout
from ._lookup import check_pid, failure
from ._registry import ProcessRecord, Registry, find

__all__ = ["kill_process", "kill_process_tree", "kill_processes_by_name"]

# After SIGKILL, how long to wait for the process to be gone.
KILL_WAIT = 5.0

Target = Union[ProcessRecord, psutil.Process]


def _protected() -> set[int]:
    """The caller, its ancestors and pid 1."""
    pids = {1, os.getpid()}
    try:
        pids.update(p.pid for p in psutil.Process().parents())
    except psutil.Error:
        pids.add(os.getppid())
    return pids


def _signal(target: Target, sig: int) -> None:
    if isinstance(target, ProcessRecord):
        target.process.send_signal(sig)
        return
    try:
        target.send_signal(sig)
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        pass


def _gone(target: Target) -> bool:
    if isinstance(target, ProcessRecord):
        return target.process.exited
    try:
        return not target.is_running() or target.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(targets: list[Target], timeout: float) -> list[Target]:
    """Wait until every target is gone or ``timeout``; return the survivors.
    Managed ones are waited on through the engine; others (not our
    children) can only be polled, with a growing interval."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    alive = list(targets)
    while True:
        for t in alive:
            if isinstance(t, ProcessRecord):
                t.process.wait(max(0.0, deadline - time.monotonic()))
        alive = [t for t in alive if not _gone(t)]
        left = deadline - time.monotonic()
        if not alive or left <= 0:
            return alive
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.05)


def _live(pid: int, proc: psutil.Process, registry: Optional[Registry]) -> Target:
    """A pid found by psutil: its record when it is a running managed process."""
    record = find(pid, registry)
    return record if record is not None and record.running else proc


def _target(pid: int, registry: Optional[Registry]) -> Union[Target, str]:
    """The record or psutil.Process of ``pid``, or the error text."""
    if pid in _protected():
        return f"refusing to kill pid {pid}: it is the calling process, one of its ancestors or init"
    record = find(pid, registry)
    if record is not None:
        return record
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return f"no process with pid {pid}"
    except psutil.Error as exc:
        return f"cannot access pid {pid}: {exc}"


def stop(targets: list[Target], force: bool, timeout: float) -> tuple[list[int], dict[int, str]]:
    """SIGTERM, wait ``timeout``, SIGKILL the survivors (force: SIGKILL at
    once), wait for them to be gone.  Returns (ended pids, {pid: error})."""
    errors: dict[int, str] = {}

    def send(batch: list[Target], sig: int) -> None:
        for t in batch:
            try:
                _signal(t, sig)
            except psutil.AccessDenied:
                errors[t.pid] = f"permission denied to signal pid {t.pid}"
            except psutil.Error as exc:
                errors[t.pid] = f"cannot signal pid {t.pid}: {exc}"

    alive = [t for t in targets if not _gone(t)]
    if not force:
        send(alive, signal.SIGTERM)
        alive = _wait_gone([t for t in alive if t.pid not in errors], timeout)
    send(alive, signal.SIGKILL)
    alive = _wait_gone([t for t in alive if t.pid not in errors], KILL_WAIT)
    for t in alive:
        errors[t.pid] = f"pid {t.pid} is still alive after SIGKILL"
    ended = [t.pid for t in targets if t.pid not in errors]
    return ended, errors


def _check(force: object, timeout: object) -> float:
    if not isinstance(force, bool):
        raise BadArgument(f"force must be a bool, not {type(force).__name__}")
    seconds = check_timeout(timeout)
    return 5.0 if seconds is None else seconds


def _checked(pid: object, force: object, timeout: object, registry: Optional[Registry]
             ) -> Union[dict[str, Any], tuple[Target, float]]:
    """(the process to end, the grace in seconds), or the failure dict that
    says which argument is wrong or why the pid cannot be ended."""
    error = check_pid(pid)
    if error is not None:
        return failure(pid, error)
    assert isinstance(pid, int)
    try:
        seconds = _check(force, timeout)
    except BadArgument as exc:
        return failure(pid, str(exc))
    target = _target(pid, registry)
    if isinstance(target, str):
        return failure(pid, target)
    return target, seconds


def kill_process(pid: int, force: bool = False, timeout: float = 5.0, *,
                 _registry: Optional[Registry] = None) -> dict[str, Any]:
    """End one process: SIGTERM, up to ``timeout`` seconds, then SIGKILL
    (``force=True``: SIGKILL at once).  Returns once it is gone."""
    checked = _checked(pid, force, timeout, _registry)
    if isinstance(checked, dict):
        return checked
    target, seconds = checked
    was_running = not _gone(target)
    _ended, errors = stop([target], force, seconds)
    if errors:
        return failure(pid, errors[pid])
    result: dict[str, Any] = {"success": True, "pid": pid, "error": None, "was_running": was_running}
    if isinstance(target, ProcessRecord):
        result["return_code"] = target.process.returncode
        result["state"] = target.state
    return result


def kill_process_tree(pid: int, force: bool = False, timeout: float = 5.0,
                      include_parent: bool = True, *,
                      _registry: Optional[Registry] = None) -> dict[str, Any]:
    """End a process and all of its descendants (found through psutil),
    the parent first so it cannot start new children."""
    checked = _checked(pid, force, timeout, _registry)
    if isinstance(checked, dict):
        return checked
    parent, seconds = checked
    protected = _protected()
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        children = []  # already gone: its children (if any) were reparented
    targets: list[Target] = [parent] if include_parent else []
    for child in children:
        if child.pid in protected:
            continue
        targets.append(_live(child.pid, child, _registry))
    ended, errors = stop(targets, force, seconds)
    return {"success": not errors, "pid": pid, "killed": ended, "failed": errors,
            "error": "; ".join(errors.values()) or None}


def kill_processes_by_name(name: str, force: bool = False, timeout: float = 5.0, *,
                           _registry: Optional[Registry] = None) -> dict[str, Any]:
    """End every process of the caller's user whose name is exactly ``name``,
    except the caller, its ancestors and pid 1."""
    if not isinstance(name, str) or not name.strip():
        return {"success": False, "name": name, "killed": [], "failed": {}, "count": 0,
                "error": "name must be a non-empty str"}
    try:
        seconds = _check(force, timeout)
    except BadArgument as exc:
        return {"success": False, "name": name, "killed": [], "failed": {}, "count": 0,
                "error": str(exc)}
    protected = _protected()
    uid = os.getuid()
    targets: list[Target] = []
    for proc in psutil.process_iter(["name", "uids"]):
        info = proc.info
        if info.get("name") != name or proc.pid in protected:
            continue
        uids = info.get("uids")
        if uids is None or uids.real != uid:
            continue
        targets.append(_live(proc.pid, proc, _registry))
    ended, errors = stop(targets, force, seconds)
    return {"success": not errors, "name": name, "killed": ended, "failed": errors,
            "count": len(ended), "error": "; ".join(errors.values()) or None}
