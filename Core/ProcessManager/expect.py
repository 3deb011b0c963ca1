"""expect(): wait for a regular expression in the output of a managed process.

Like pexpect's ``expect``, without its costs: the output is already drained
by the engine's reactor into a ring buffer, and the caller waits on the
engine (``Process.wait_output``, GIL released) until new output arrives,
never in a loop of sleeps.  Each process has an expect cursor per stream,
independent of read_from_process's: a match consumes the text up to its end.

    execute_command([sys.executable, "-i", "-q"], mode=ExecutionMode.INTERACTIVE, pty=True)
    expect(pid, ">>> ")
    write_to_process(pid, "1+1\\n")
    r = expect(pid, [r"(\\d+)\\r\\n>>> ", "Error"])
    r.index, r.groups  # 0, ("2",)

EOF and timeout are outcomes (``outcome == "eof"`` / ``"timeout"``), never
exceptions.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Optional, Pattern, Sequence, Union

from . import _engine
from ._agent import ExpectBuffer, agent_state
from ._command import BadArgument, check_timeout, time_left
from ._lookup import failure, managed
from ._registry import ProcessRecord, Registry

__all__ = ["ExpectResult", "expect", "resize_process"]

PatternLike = Union[str, Pattern[str]]
Patterns = Union[PatternLike, Sequence[PatternLike]]

_STREAMS = {"stdout": _engine.OUT, "stderr": _engine.ERR}


@dataclass
class ExpectResult:
    """The outcome of expect().

    ``outcome`` is "match" (then ``index`` says which pattern, ``match`` is
    the text matched, ``groups`` its groups and ``re_match`` the re.Match),
    "eof" (the output ended without a match: ``before`` holds the rest of
    it), "timeout" (``before`` holds what arrived so far, which stays
    unconsumed for the next call) or "error" (bad argument, unmanaged pid:
    ``error`` says why).  ``success`` is True for a match only.
    ``dropped``: bytes the ring overwrote before expect could see them.
    """

    success: bool
    pid: Any
    outcome: str
    index: Optional[int] = None
    before: str = ""
    match: Optional[str] = None
    groups: tuple[Optional[str], ...] = ()
    re_match: Optional[re.Match[str]] = field(default=None, repr=False)
    error: Optional[str] = None
    dropped: int = 0

    @property
    def eof(self) -> bool:
        return self.outcome == "eof"

    @property
    def timed_out(self) -> bool:
        return self.outcome == "timeout"

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict (without re_match), like the other pid-based functions return."""
        d = asdict(self)
        d.pop("re_match")
        return d


def compile_patterns(patterns: object) -> list[Pattern[str]]:
    """One pattern or a list of them (str regexes or compiled), compiled."""
    items = [patterns] if isinstance(patterns, (str, re.Pattern)) else patterns
    if not isinstance(items, (list, tuple)) or not items:
        raise BadArgument("patterns must be a regex (str or compiled) or a non-empty list of them, "
                          f"not {type(patterns).__name__}")
    out: list[Pattern[str]] = []
    for p in items:
        if isinstance(p, str):
            try:
                out.append(re.compile(p))
            except re.error as exc:
                raise BadArgument(f"invalid pattern {p!r}: {exc}") from None
        elif isinstance(p, re.Pattern) and isinstance(p.pattern, str):
            out.append(p)
        else:
            raise BadArgument(f"a pattern must be a str regex or a compiled str pattern, not {p!r}")
    return out


def check_stream(stream: object) -> int:
    if stream not in _STREAMS:
        raise BadArgument(f"stream must be 'stdout' or 'stderr', not {stream!r}")
    return _STREAMS[stream]


def scan(record: ProcessRecord, buf: ExpectBuffer, stream: int,
         patterns: list[Pattern[str]]) -> Optional[ExpectResult]:
    """Take what is new in ``stream`` into ``buf`` and look for the
    patterns: a "match" or "eof" result, or None (wait for more).  The
    caller holds buf.lock."""
    proc = record.process
    if not buf.final:
        # EOF first: if it was already there, the read below gets everything.
        eof = proc.stream_info(stream)[3] or not proc.pipes_open
        data, first, missed = proc.read(stream, buf.offset)
        if missed:
            buf.dropped += missed
            buf.reset_decoder()
        buf.offset = first + len(data)
        if data or eof:
            buf.text += buf.decoder.decode(data, final=eof)
        buf.final = eof
    text = buf.text
    best: Optional[re.Match[str]] = None
    index = -1
    for i, pattern in enumerate(patterns):
        m = pattern.search(text)
        if m is not None and (best is None or m.start() < best.start()):
            best, index = m, i
    dropped, buf.dropped = buf.dropped, 0
    if best is not None:
        buf.text = text[best.end():]
        return ExpectResult(success=True, pid=record.pid, outcome="match", index=index,
                            before=text[:best.start()], match=best.group(0), groups=best.groups(),
                            re_match=best, dropped=dropped)
    if buf.final:
        buf.text = ""
        return ExpectResult(success=False, pid=record.pid, outcome="eof", before=text, dropped=dropped,
                            error="end of output before any pattern matched")
    buf.dropped = dropped
    return None


def timeout_result(record: ProcessRecord, buf: ExpectBuffer, seconds: Optional[float]) -> ExpectResult:
    dropped, buf.dropped = buf.dropped, 0
    return ExpectResult(success=False, pid=record.pid, outcome="timeout", before=buf.text, dropped=dropped,
                        error=f"no pattern matched within {seconds:g} s" if seconds is not None else None)


def prepare(pid: object, patterns: object, timeout: object, stream: object, what: str,
            registry: Optional[Registry]) -> tuple[Optional[tuple[ProcessRecord, ExpectBuffer, int,
                                                                    list[Pattern[str]], Optional[float]]],
                                                     Optional[ExpectResult]]:
    """Validated arguments, or the "error" result."""
    record, error = managed(pid, what, registry)
    if record is None:
        assert error is not None
        return None, ExpectResult(success=False, pid=pid, outcome="error", error=error["error"])
    try:
        compiled = compile_patterns(patterns)
        seconds = check_timeout(timeout)
        stream_id = check_stream(stream)
    except BadArgument as exc:
        return None, ExpectResult(success=False, pid=pid, outcome="error", error=str(exc))
    buf = agent_state(record).expect_buffer(stream_id)
    return (record, buf, stream_id, compiled, seconds), None


def expect(pid: int, patterns: Patterns, timeout: Optional[float] = 30.0, stream: str = "stdout", *,
           _registry: Optional[Registry] = None) -> ExpectResult:
    """Wait until one of ``patterns`` (a regex, str or compiled, or a list
    of them) matches the decoded output of a managed process after its
    expect cursor, the output ends, or ``timeout`` seconds pass (None: no
    limit).  The earliest match in the text wins (the lowest index on a
    tie).  A match moves the cursor past it; "eof" consumes the rest;
    "timeout" consumes nothing.  ``stream``: "stdout" (a pseudo-terminal's
    only output) or "stderr".  Returns an ExpectResult."""
    prepared, err = prepare(pid, patterns, timeout, stream, "expect its output", _registry)
    if prepared is None:
        assert err is not None
        return err
    record, buf, stream_id, compiled, seconds = prepared
    proc = record.process
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        with buf.lock:  # never held while waiting (expect_async takes it on its loop's thread)
            result = scan(record, buf, stream_id, compiled)
            if result is not None:
                return result
            offset = buf.offset
            left = time_left(deadline)
            if left is not None and left <= 0:
                return timeout_result(record, buf, seconds)
        if stream_id == _engine.OUT:
            proc.wait_output(offset, None, left)
        else:
            proc.wait_output(None, offset, left)


def resize_process(pid: int, rows: int, cols: int, *, _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Set the window size of a managed process started with ``pty=True``
    (it gets SIGWINCH).  Returns ``success``, ``rows``, ``cols``, ``error``."""
    record, error = managed(pid, "resize its terminal", _registry)
    if record is None:
        assert error is not None
        return error
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
            return failure(pid, f"{name} must be an int in 1..65535, got {value!r}")
    if not record.pty:
        return failure(pid, f"pid {pid} has no pseudo-terminal: start it with pty=True")
    try:
        record.process.set_winsize(rows, cols)
    except (ValueError, OSError) as exc:
        return failure(pid, f"cannot resize the terminal of pid {pid}: {exc}")
    return {"success": True, "pid": pid, "rows": rows, "cols": cols, "error": None}
