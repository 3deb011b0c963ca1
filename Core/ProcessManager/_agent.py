"""Per-process state of the agent features (named read cursors, expect
buffers), the "still running" result, and the completion notices of an
executor.

Kept out of ProcessRecord itself: a record gets an AgentState only when one
of these features is first used on it, so plain runs pay nothing.
"""

from __future__ import annotations

import codecs
import collections
import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Optional

from . import _engine
from ._command import BadArgument, check_timeout
from ._dispatch import ResultCallback, Watcher, call_safely, dispatcher
from ._lookup import failure, managed
from ._results import finished_result, read_all
from ._types import ExecutionResult

if TYPE_CHECKING:
    from ._registry import ProcessRecord, Registry

log = logging.getLogger("Core.ProcessManager")

# The terminal's end-of-input character (VEOF, ^D): how a pty's input is closed.
PTY_EOF = b"\x04"
# Finished results kept for finished_since_last_look() before the oldest are
# dropped (counted in FinishedFeed.overflow).
MAX_PENDING_FINISHED = 10000


class ExpectBuffer:
    """Decoded output of one stream not yet consumed by expect()."""

    def __init__(self, encoding: str) -> None:
        self.lock = threading.Lock()
        self.offset = 0  # absolute byte offset decoded up to
        self.text = ""   # decoded, after the expect cursor
        self.final = False
        self.dropped = 0
        self._encoding = encoding
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="replace")

    def reset_decoder(self) -> None:
        self.decoder = codecs.getincrementaldecoder(self._encoding)(errors="replace")


class AgentState:
    """Agent features' state of one record (made by agent_state())."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        # name -> [stdout offset, stderr offset]
        self.cursors: dict[str, list[int]] = {}
        self.expect: dict[int, ExpectBuffer] = {}
        self.reported = False  # its completion was queued by a FinishedFeed

    def expect_buffer(self, stream: int) -> ExpectBuffer:
        buf = self.expect.get(stream)
        if buf is None:
            buf = self.expect.setdefault(stream, ExpectBuffer(self.encoding))
        return buf


def pty_eof(last_written: bytes) -> bytes:
    """^D ends the input only at the start of a line: after a partial line
    the first one hands that line over, the second is the EOF."""
    return PTY_EOF if not last_written or last_written.endswith((b"\n", b"\r")) else PTY_EOF * 2


def agent_state(record: "ProcessRecord") -> AgentState:
    state = record.agent
    if state is None:
        with record.lock:
            if record.agent is None:
                record.agent = AgentState(record.encoding)
            state = record.agent
    assert state is not None
    return state


def running_result(record: "ProcessRecord") -> ExecutionResult:
    """A result for a process that has not finished: ``finished=False``,
    ``success=True`` (nothing has failed yet), no return code, the output
    produced so far."""
    proc = record.process
    stdout, out_dropped = read_all(proc, _engine.OUT, record.encoding)
    stderr, err_dropped = read_all(proc, _engine.ERR, record.encoding)
    return ExecutionResult(success=True, command=record.command, pid=record.pid, stdout=stdout,
                           stderr=stderr, execution_time=max(0.0, time.monotonic() - proc.start_time),
                           mode=record.mode, stdout_dropped=out_dropped, stderr_dropped=err_dropped,
                           finished=False)


def record_result(record: "ProcessRecord", timeout: Optional[float] = None) -> ExecutionResult:
    """The result of a record: finished_result once it has exited, else
    running_result."""
    if not record.process.exited:
        return running_result(record)
    return finished_result(record.process, record.command, record.mode, timeout, record.encoding,
                           record.via_shell)


class FinishedFeed:
    """Completion notices of one executor: which of its processes ended
    since the last look, fed by the dispatcher thread (never by polling).

    Off until first used (a look, or an on_finished callback): from then on
    every process the executor starts is watched by the dispatcher, and the
    processes it was already running are watched from that moment (those
    already finished are reported by the first look)."""

    def __init__(self, registry: "Registry") -> None:
        self._registry = registry
        self._lock = threading.Lock()
        self._pending: collections.deque[ExecutionResult] = collections.deque()
        self.enabled = False
        self.overflow = 0  # results dropped because nobody looked
        self.on_finished: Optional[ResultCallback] = None

    def slot(self) -> "FeedSlot":
        """Completion of a process about to be started (see FeedSlot)."""
        return FeedSlot(self)

    def push(self, record: "ProcessRecord", result: ExecutionResult) -> None:
        state = agent_state(record)
        with self._lock:
            if not self.enabled or state.reported:
                return
            state.reported = True
            if len(self._pending) >= MAX_PENDING_FINISHED:
                self._pending.popleft()
                self.overflow += 1
            self._pending.append(result)
        callback = self.on_finished
        if callback is not None:
            call_safely(callback, result, "on_finished", record.pid)

    def enable(self) -> None:
        """Start watching (idempotent): every running record without a
        dispatcher watcher gets one; finished records are queued now."""
        with self._lock:
            if self.enabled:
                return
            self.enabled = True
        for record in self._registry.records():
            proc = record.process
            if proc.exited:
                self.push(record, record_result(record))
            elif proc.tag == 0:  # not started through the dispatcher: no watcher yet
                self._watch(record)
            elif not dispatcher.add_completion(proc, self._adopt(record)):
                self.push(record, record_result(record))  # its watcher has just completed

    def _adopt(self, record: "ProcessRecord") -> ResultCallback:
        def done(result: ExecutionResult) -> None:
            self.push(record, result)
        return done

    def _watch(self, record: "ProcessRecord") -> None:
        def make(proc: _engine.Process) -> ExecutionResult:
            return finished_result(proc, record.command, record.mode, None, record.encoding, record.via_shell)
        watcher = Watcher(record.encoding, None, None, None, make, [self._adopt(record)])
        try:
            dispatcher.watch(record.process, watcher)
        except RuntimeError as exc:  # both of its subscriptions are taken
            log.warning("pid %d: cannot watch for its end (%s); it will not be reported", record.pid, exc)

    def disable(self) -> None:
        """Stop queueing (processes already watched still complete quietly)
        and forget what was queued and the callback."""
        with self._lock:
            self.enabled = False
            self._pending.clear()
        self.on_finished = None

    def take(self) -> list[ExecutionResult]:
        self.enable()
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
        return out


class FeedSlot:
    """The feed's completion for a new process.  The watcher may complete
    before the record exists (a fast process): the result then waits here
    until bind(record)."""

    def __init__(self, feed: FinishedFeed) -> None:
        self._feed = feed
        self._lock = threading.Lock()
        self._record: Optional["ProcessRecord"] = None
        self._result: Optional[ExecutionResult] = None

    def __call__(self, result: ExecutionResult) -> None:
        with self._lock:
            record = self._record
            if record is None:
                self._result = result
                return
        self._feed.push(record, result)

    def bind(self, record: "ProcessRecord") -> None:
        with self._lock:
            self._record = record
            result, self._result = self._result, None
        if result is not None:
            self._feed.push(record, result)


# After the exit, output still in flight is awaited this long (a descendant
# holding the pipes does not hold the caller longer).
EXIT_DRAIN = 0.25


def wait_target(pid: object, timeout: object, registry: "Optional[Registry]"
                ) -> "tuple[ProcessRecord, Optional[float]] | dict[str, Any]":
    """(the record, the timeout in seconds) for wait_for_process and its
    async twin, or the failure dict that says why it cannot be waited for."""
    record, error = managed(pid, "wait for it", registry)
    if record is None:
        assert error is not None
        return error
    try:
        return record, check_timeout(timeout)
    except BadArgument as exc:
        return failure(pid, str(exc))


def wait_result(record: "ProcessRecord", finished: bool) -> dict[str, Any]:
    """What wait_for_process returns: the final result when the process
    has ended, else the output so far with ``finished=False``."""
    proc = record.process
    result = record_result(record) if finished else running_result(record)
    return {
        "success": True,
        "pid": record.pid,
        "finished": finished,
        "running": not finished,
        "status": "finished" if finished else "still running",
        "state": record.state,
        "return_code": proc.returncode,
        "timed_out": proc.timed_out,
        "stdout": result.stdout,
        "stderr": result.stderr,
        "output": result.stdout + result.stderr,
        "result": result,
        "error": None,
    }
