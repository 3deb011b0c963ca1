"""Building an ExecutionResult from an engine Process."""

from __future__ import annotations

import time
from typing import Callable, Optional

from . import _engine
from ._command import describe_exit
from ._text import decode_prefix
from ._types import ExecutionMode, ExecutionResult


def read_all(proc: _engine.Process, stream: int, encoding: str) -> tuple[str, int]:
    """Everything still buffered in ``stream``, decoded; and the bytes dropped."""
    if not proc.stream_info(stream)[0]:
        return "", 0  # nothing ever written (the usual stderr): no copy, no decoder
    data, _first, _missed = proc.read(stream, 0)
    _end, dropped, _lines, eof = proc.stream_info(stream)
    # While a descendant still holds the pipe, a split character at the end
    # is left out rather than replaced.
    text, _used = decode_prefix(data, encoding, final=eof or not proc.pipes_open)
    return text, dropped


# The engine saw the exit, but someone else in this process collected its status.
STATUS_LOST = ("exit status lost: another part of this program reaped the process "
               "(a SIGCHLD handler calling waitpid(-1), or SIGCHLD ignored)")


def finished_result(proc: _engine.Process, command: str, mode: ExecutionMode,
                    timeout: Optional[float], encoding: str, via_shell: bool) -> ExecutionResult:
    """The result of a process that has exited (or is being given up on)."""
    stdout, out_dropped = read_all(proc, _engine.OUT, encoding)
    stderr, err_dropped = read_all(proc, _engine.ERR, encoding)
    rc = proc.returncode
    timed_out = proc.timed_out
    exit_time = proc.exit_time
    end = exit_time if exit_time is not None else time.monotonic()
    sig: Optional[int] = None
    error: Optional[str] = None
    if rc != 0 or timed_out:  # a clean exit has nothing to describe
        sig = proc.term_signal
        if sig is None and rc is not None and rc < 0:
            sig = -rc
        error = (describe_exit(rc, timed_out, timeout, via_shell) if rc is not None or timed_out
                 else STATUS_LOST if proc.status_lost else "process did not exit")
    return ExecutionResult(
        success=rc == 0 and not timed_out,
        command=command,
        pid=proc.pid,
        return_code=rc,
        stdout=stdout,
        stderr=stderr,
        execution_time=max(0.0, end - proc.start_time),
        mode=mode,
        error=error,
        timed_out=timed_out,
        signal=sig,
        stdout_dropped=out_dropped,
        stderr_dropped=err_dropped,
    )


def result_maker(command: str, mode: ExecutionMode, timeout: Optional[float], encoding: str,
                 via_shell: bool) -> Callable[[_engine.Process], ExecutionResult]:
    """finished_result with everything but the process bound (for the
    dispatcher's on_complete)."""
    def make_result(proc: _engine.Process) -> ExecutionResult:
        return finished_result(proc, command, mode, timeout, encoding, via_shell)
    return make_result
