"""Status of a managed process read straight from /proc (Linux).

get_process_status for the processes we started reads /proc/<pid>/stat
and /proc/<pid>/statm (in one call of the engine, parsed here) instead of
going through psutil, which costs several times more per process.  What
does not change while the process runs (its start time; its cmdline, unless
it execs) is kept between calls.  The shapes are psutil's: ``os_status`` is
one of psutil's STATUS_* strings and ``memory_info`` psutil's own named
tuple type, so the result reads the same as for any other pid.

``cpu_percent`` is measured from utime + stime: since the previous call for
that process, or, on the first call, averaged since the process started.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, NamedTuple, Optional

import psutil

from . import _engine

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

# /proc/<pid>/stat's state letter -> psutil's status string (its STATUS_*
# constants are these plain strings; psutil._pslinux maps the letters so).
_STATUSES = {
    "R": "running", "S": "sleeping", "D": "disk-sleep", "T": "stopped", "t": "tracing-stop",
    "Z": "zombie", "X": "dead", "x": "dead", "K": "wake-kill", "W": "waking", "I": "idle",
    "P": "parked",
}
# Field positions in what follows the ")" that ends comm in /proc/<pid>/stat
# (proc(5) numbers them from 1, with pid and comm as 1 and 2).
_STATE, _PPID, _UTIME, _STIME, _THREADS, _START = 0, 1, 11, 12, 17, 19
# /proc/<pid>/statm, in pages: size resident shared text lib data dt.
_STATM_FIELDS = {"vms": 0, "rss": 1, "shared": 2, "text": 3, "lib": 4, "data": 5, "dirty": 6}


class _MemoryType:
    """psutil's memory_info() type, found once: its class (which module
    defines it changes between psutil versions) and, for each of its
    fields, the position of that field in statm."""

    def __init__(self) -> None:
        self._made: Optional[tuple[Callable[..., Any], tuple[int, ...]]] = None
        self._lock = threading.Lock()

    def make(self, statm: list[bytes]) -> Optional[NamedTuple]:
        made = self._made
        if made is None:
            with self._lock:
                made = self._made = self._find()
        cls, positions = made
        if not positions:
            return None  # an unknown shape: the caller asks psutil
        return cls(*[int(statm[i]) * _PAGE_SIZE for i in positions])  # type: ignore[no-any-return]

    @staticmethod
    def _find() -> tuple[Callable[..., Any], tuple[int, ...]]:
        cls = type(psutil.Process().memory_info())
        fields = getattr(cls, "_fields", ())
        if not fields or any(f not in _STATM_FIELDS for f in fields):
            return cls, ()
        return cls, tuple(_STATM_FIELDS[f] for f in fields)


_memory_type = _MemoryType()


def _parse_cmdline(data: bytes) -> list[str]:
    """As psutil does: NUL-separated, or space-separated when a process
    rewrote its title without NULs."""
    sep = b"\0" if data.endswith(b"\0") else b" "
    if data.endswith(sep):
        data = data[:-1]
    words = data.split(sep)
    if sep == b"\0" and len(words) == 1 and b" " in data:
        words = data.split(b" ")
    return [os.fsdecode(w) for w in words]


class _Memo:
    """What stays the same between two status reads of one process."""

    __slots__ = ("owner", "paths", "start_ticks", "create_time", "comm", "name",
                 "cmdline", "cpu_ticks", "cpu_at")

    def __init__(self, owner: object, pid: int) -> None:
        self.owner = owner
        self.paths = (b"/proc/%d/stat" % pid, b"/proc/%d/statm" % pid)
        self.start_ticks = -1
        self.create_time = 0.0
        self.comm = b""
        self.name = ""
        self.cmdline: list[str] = []
        self.cpu_ticks = -1  # none measured yet
        self.cpu_at = 0.0

    def restart(self, pid: int, start_ticks: int, comm: bytes) -> None:
        """A first look at the process (or a new one on the same pid)."""
        self.start_ticks = start_ticks
        self.create_time = psutil.boot_time() + start_ticks / _CLOCK_TICKS
        self.cpu_ticks = -1
        self.remember_cmdline(pid, comm)

    def remember_cmdline(self, pid: int, comm: bytes) -> None:
        """Read the cmdline (again: comm changed, so the process exec'd)."""
        self.comm = comm
        self.cmdline = _parse_cmdline(_engine.read_small_files((b"/proc/%d/cmdline" % pid,))[0])
        # comm is cut at 15 characters: psutil then takes the program's basename.
        name = comm.decode(errors="replace")
        base = os.path.basename(self.cmdline[0]) if self.cmdline else ""
        self.name = base if len(comm) >= 15 and base.startswith(name) else name


_MEMO_MAX = 4096
_memos: dict[int, _Memo] = {}
_memos_lock = threading.Lock()

# read_status's figures, in this order.
Status = tuple[str, str, list[str], Any, int, int, float, float, float]


def read_status(pid: int, owner: object) -> Optional[Status]:
    """(os_status, name, cmdline, memory_info, num_threads, ppid,
    cpu_percent, create_time, running_time) of a live process, shaped as
    psutil gives them.  ``owner`` identifies who started it (a new owner: a
    new process on a reused pid, nothing is carried over).  None when the
    process is a zombie or its memory figures have an unknown shape: ask
    psutil.  Raises OSError (FileNotFoundError once it is gone)."""
    memo = _memos.get(pid)  # a plain get is atomic; only the changes take the lock
    if memo is None or memo.owner is not owner:
        memo = _Memo(owner, pid)
        with _memos_lock:
            if len(_memos) >= _MEMO_MAX:
                _memos.clear()
            _memos[pid] = memo
    stat, statm_text = _engine.read_small_files(memo.paths)
    statm = statm_text.split()
    now = time.monotonic()
    comm_end = stat.rindex(b")")
    fields = stat[comm_end + 2:].split()
    state = fields[_STATE]
    if state == b"Z":
        return None
    memory = _memory_type.make(statm)
    if memory is None:
        return None
    comm = stat[stat.index(b"(") + 1:comm_end]
    start_ticks = int(fields[_START])
    if memo.start_ticks != start_ticks:
        memo.restart(pid, start_ticks, comm)
    elif memo.comm != comm:
        memo.remember_cmdline(pid, comm)
    cpu_ticks = int(fields[_UTIME]) + int(fields[_STIME])
    wall = time.time()
    if memo.cpu_ticks < 0:  # first look: the average since it started
        elapsed = wall - memo.create_time
        busy = cpu_ticks
    else:
        elapsed = now - memo.cpu_at
        busy = cpu_ticks - memo.cpu_ticks
    memo.cpu_ticks, memo.cpu_at = cpu_ticks, now
    return (_STATUSES.get(state.decode(), "?"), memo.name, list(memo.cmdline), memory,
            int(fields[_THREADS]), int(fields[_PPID]),
            100.0 * busy / _CLOCK_TICKS / elapsed if elapsed > 0 else 0.0,
            memo.create_time, max(0.0, wall - memo.create_time))
