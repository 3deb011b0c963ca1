"""Records of the processes an executor started, and the exit-time cleanup."""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from . import _engine
from ._types import ExecutionMode

if TYPE_CHECKING:
    from ._agent import AgentState

# Finished records kept per registry before the oldest are dropped.
MAX_FINISHED = 1000
# At interpreter exit: SIGTERM to each group, SIGKILL after this, then wait.
EXIT_GRACE = 0.2
EXIT_WAIT = 0.5


@dataclass(eq=False)
class ProcessRecord:
    """One process started by an executor, kept until cleanup."""

    pid: int
    command: str
    mode: ExecutionMode
    process: _engine.Process
    start_time: float  # time.time() at start
    encoding: str
    detached: bool = False
    via_shell: bool = False
    stdin_piped: bool = False
    pty: bool = False  # a pseudo-terminal: stdout and stderr merged, EOF is typed as ^D
    # Read cursors of read_from_process: absolute offsets in each stream.
    out_cursor: int = 0
    err_cursor: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Named cursors, expect state, completion notice (_agent.py), made on first use.
    agent: Optional["AgentState"] = None

    @property
    def running(self) -> bool:
        return not self.process.exited

    @property
    def state(self) -> str:
        """"running", "exited", "killed" (ended by a signal) or "timed_out"."""
        proc = self.process
        if not proc.exited:
            return "running"
        if proc.timed_out:
            return "timed_out"
        rc = proc.returncode
        if rc is not None and rc < 0:
            return "killed"
        return "exited"

    def info(self) -> dict[str, Any]:
        proc = self.process
        now = time.monotonic()
        end = proc.exit_time if proc.exit_time is not None else now
        return {
            "pid": self.pid,
            "command": self.command,
            "mode": self.mode.value,
            "state": self.state,
            "status": self.state,
            "start_time": self.start_time,
            "running_time": max(0.0, end - proc.start_time),
            "return_code": proc.returncode,
            "timed_out": proc.timed_out,
            "detached": self.detached,
            "stdin_open": proc.stdin_open,
        }


def end_record(record: ProcessRecord) -> None:
    """Forget a record's pipes: a descendant still holding them gets EPIPE
    from now on, and the descriptors are not leaked."""
    if record.process.pipes_open:
        record.process.close_pipes()


class Registry:
    """Thread-safe map pid -> record, in start order.

    The finished records are bounded without looking at every record on
    every add: add() sweeps (drops the oldest finished beyond max_finished)
    once the registry has grown by an eighth since the previous sweep (and
    is above max_finished), so an add costs O(1) amortised; between sweeps,
    max_finished plus that eighth are kept at most."""

    def __init__(self, max_finished: int = MAX_FINISHED) -> None:
        self._lock = threading.Lock()
        self._records: dict[int, ProcessRecord] = {}  # insertion (start) order
        self.max_finished = max_finished
        self._sweep_above = max_finished  # size beyond which add() sweeps
        _all_registries.add(self)

    def add(self, record: ProcessRecord) -> None:
        with self._lock:
            old = self._records.pop(record.pid, None)  # a reused pid: the old one has exited
            self._records[record.pid] = record
            dropped = self._sweep() if len(self._records) > self._sweep_above else []
        if old is not None:
            end_record(old)
        for r in dropped:
            end_record(r)

    def _sweep(self) -> list[ProcessRecord]:
        """Drop the oldest finished records beyond max_finished (lock held)."""
        finished = [r for r in self._records.values() if r.process.exited]
        dropped = finished[: max(0, len(finished) - self.max_finished)]
        for r in dropped:
            del self._records[r.pid]
        self._plan_sweep()
        return dropped

    def _plan_sweep(self) -> None:
        size = len(self._records)
        self._sweep_above = max(size, self.max_finished) + size // 8

    def get(self, pid: int) -> Optional[ProcessRecord]:
        # One dict look-up is atomic; the lock guards the multi-step changes.
        return self._records.get(pid)

    def records(self) -> list[ProcessRecord]:
        with self._lock:
            return list(self._records.values())

    def running(self) -> list[ProcessRecord]:
        return [r for r in self.records() if r.running]

    def cleanup(self) -> int:
        """Remove the finished records; return how many were removed."""
        with self._lock:
            finished = [r for r in self._records.values() if not r.running]
            for r in finished:
                del self._records[r.pid]
            self._plan_sweep()
        for r in finished:
            end_record(r)
        return len(finished)

    def discard(self, record: ProcessRecord) -> bool:
        with self._lock:
            if self._records.get(record.pid) is record:
                del self._records[record.pid]
                removed = True
            else:
                removed = False
        if removed:
            end_record(record)
        return removed


_all_registries: "weakref.WeakSet[Registry]" = weakref.WeakSet()
default_registry = Registry()
# default_registry.get without the method call, for the per-message paths.
find_default = default_registry._records.get


def find(pid: int, registry: Optional[Registry] = None) -> Optional[ProcessRecord]:
    """The record of ``pid`` in ``registry``, else in the default registry,
    else in any executor: a managed pid is always found, so it is always
    signalled through its pidfd rather than by number."""
    if registry is not None:
        rec = registry.get(pid)
        if rec is not None:
            return rec
    rec = default_registry.get(pid)
    if rec is not None:
        return rec
    for reg in list(_all_registries):
        rec = reg.get(pid)
        if rec is not None:
            return rec
    return None


def _end_at_exit() -> None:
    """End the still-running managed processes, except detached ones."""
    victims = [r for reg in list(_all_registries) for r in reg.running() if not r.detached]
    for r in victims:
        r.process.terminate(EXIT_GRACE, True)
    deadline = time.monotonic() + EXIT_GRACE + EXIT_WAIT
    for r in victims:
        r.process.wait(max(0.0, deadline - time.monotonic()))


atexit.register(_end_at_exit)
