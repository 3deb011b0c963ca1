"""Reading the output of managed processes.

Each record keeps a cursor per stream: read_from_process returns what was
produced since the previous read, waiting up to ``timeout`` when there is
nothing new.  Named cursors (``cursor="agent-a"``) are independent of it and
of each other, so that two readers of one process never take each other's
output.  Views for agents: ``strip_ansi`` removes terminal escape sequences,
``max_bytes`` keeps the head and the tail around a "[... N bytes omitted ...]"
line.  The output lives in the engine's ring buffers; what the ring
overwrote before it was read is reported as ``dropped``.
"""

from __future__ import annotations

import time
from typing import Any, Optional, Union

from . import _engine
from ._agent import agent_state
from ._command import BadArgument, check_timeout, time_left
from ._lookup import failure, managed
from ._registry import ProcessRecord, Registry
from ._text import decode_prefix
from ._views import ansi_hold_back, head_tail, strip_ansi as _strip_ansi

__all__ = ["read_from_process", "get_process_output_info"]

Offset = Union[int, tuple[int, int]]


def _cut_lines(data: bytes, max_lines: Optional[int]) -> bytes:
    """The first ``max_lines`` lines of data (all of it when None)."""
    if max_lines is None:
        return data
    end = -1
    for _ in range(max_lines):
        end = data.find(b"\n", end + 1)
        if end < 0:
            return data
    return data[: end + 1]


def _check_offset(offset: object) -> Optional[tuple[int, int]]:
    if offset is None:
        return None
    if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0:
        return offset, offset
    if (isinstance(offset, tuple) and len(offset) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offset)):
        return offset[0], offset[1]
    raise BadArgument(f"offset must be an int >= 0 or a (stdout, stderr) pair, got {offset!r}")


def cursor_offsets(record: ProcessRecord, cursor: Optional[str]) -> tuple[int, int]:
    """Where the default cursor (None) or a named one stands; a new named
    cursor starts at the beginning of the output."""
    if cursor is None:
        with record.lock:
            return record.out_cursor, record.err_cursor
    state = agent_state(record)
    with record.lock:
        pos = state.cursors.setdefault(cursor, [0, 0])
        return pos[0], pos[1]


def _move_cursor(record: ProcessRecord, cursor: Optional[str], out: int, err: int) -> None:
    if cursor is None:
        with record.lock:
            record.out_cursor, record.err_cursor = out, err
        return
    state = agent_state(record)
    with record.lock:
        state.cursors[cursor] = [out, err]


def read_record(record: ProcessRecord, timeout: Optional[float] = 0.0, max_lines: Optional[int] = None,
                offset: Optional[tuple[int, int]] = None, max_bytes: Optional[int] = None,
                strip_ansi: bool = False, cursor: Optional[str] = None) -> dict[str, Any]:
    proc = record.process
    out_off, err_off = offset if offset is not None else cursor_offsets(record, cursor)
    waits = timeout is None or timeout > 0
    deadline = None if timeout is None else time.monotonic() + timeout
    # Wait for output past these: the cursor, then (when all that is new is
    # a cut character or escape sequence, held back) past what was seen.
    past_out, past_err = out_off, err_off
    while True:
        if (waits and proc.stream_info(_engine.OUT)[0] <= past_out
                and proc.stream_info(_engine.ERR)[0] <= past_err):
            proc.wait_output(past_out, past_err, time_left(deadline))
        texts, ends, seen, missed_total, lines, omitted = _read_streams(
            proc, record.encoding, out_off, err_off, max_lines, max_bytes, strip_ansi)
        if (texts[_engine.OUT] or texts[_engine.ERR] or not waits or seen == (past_out, past_err)
                or (deadline is not None and time.monotonic() >= deadline)):
            break
        past_out, past_err = seen
    _move_cursor(record, cursor, ends[_engine.OUT], ends[_engine.ERR])
    out_info = proc.stream_info(_engine.OUT)
    err_info = proc.stream_info(_engine.ERR)
    stdout, stderr = texts[_engine.OUT], texts[_engine.ERR]
    return {
        "success": True,
        "pid": record.pid,
        "stdout": stdout,
        "stderr": stderr,
        "output": stdout + stderr,
        "lines": lines,
        "dropped": missed_total,
        "omitted": omitted,
        "stdout_offset": ends[_engine.OUT],
        "stderr_offset": ends[_engine.ERR],
        "has_more": ends[_engine.OUT] < out_info[0] or ends[_engine.ERR] < err_info[0],
        "eof": out_info[3] and err_info[3],
        "state": record.state,
        "running": record.running,
        "return_code": proc.returncode,
        "error": None,
    }


def _read_streams(proc: _engine.Process, encoding: str, out_off: int, err_off: int,
                  max_lines: Optional[int], max_bytes: Optional[int], strip_ansi: bool
                  ) -> tuple[dict[int, str], dict[int, int], tuple[int, int], int, int, int]:
    """read_record's reads: (texts, ends: where the next read starts, the
    offsets up to which bytes were seen, missed, lines, omitted)."""
    texts: dict[int, str] = {}
    ends: dict[int, int] = {}
    seen: dict[int, int] = {}
    missed_total = 0
    lines = 0
    omitted = 0
    for stream, start in ((_engine.OUT, out_off), (_engine.ERR, err_off)):
        eof = proc.stream_info(stream)[3]  # before the read: then data is all there is
        data, first, missed = proc.read(stream, start)
        missed_total += missed
        whole = len(data)
        data = _cut_lines(data, max_lines)
        final = eof and len(data) == whole
        if strip_ansi and not final:
            data = data[:ansi_hold_back(data)]  # an escape sequence cut in two waits for its end
        # A character split at the end stays for the next read, unless no more can come.
        text, used = decode_prefix(data, encoding, final=final and len(data) == whole)
        if strip_ansi:
            text = _strip_ansi(text)
        if max_bytes is not None:
            text, cut = head_tail(text, max_bytes, encoding)
            omitted += cut
        texts[stream] = text
        ends[stream] = first + used
        seen[stream] = first + whole
        lines += data[:used].count(b"\n")
    return texts, ends, (seen[_engine.OUT], seen[_engine.ERR]), missed_total, lines, omitted


def read_from_process(pid: int, timeout: Optional[float] = 0.0, max_lines: Optional[int] = None,
                      offset: Optional[Offset] = None, *, max_bytes: Optional[int] = None,
                      strip_ansi: bool = False, cursor: Optional[str] = None,
                      _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Output of a managed process produced since the previous read.

    Waits up to ``timeout`` seconds (None: until there is output or EOF)
    when nothing new is there.  ``max_lines`` caps the lines returned per
    stream (the rest stays for the next read).  ``offset`` re-reads from an
    absolute byte offset (an int for both streams, or a (stdout, stderr)
    pair) as far as the ring still holds it.  Returns a dict: ``stdout``,
    ``stderr``, ``output`` (both), ``lines``, ``dropped`` (bytes the ring
    overwrote before they were read), ``stdout_offset``/``stderr_offset``
    (where the next read starts), ``eof``, ``state``, ``success``, ``error``.

    For agents: ``max_bytes`` caps each of stdout and stderr: a longer text
    keeps its first and last bytes (about half each) around a line
    "[... N bytes omitted ...]" (``omitted``: bytes left out; the cursor
    still moves past all of it).  ``strip_ansi=True`` removes ANSI escape
    sequences (colours, cursor moves, titles; a sequence cut by the end of
    the output waits for the next read).  ``cursor="name"`` reads with a
    named cursor of its own (starting at the beginning of the output)
    instead of the default one, so independent readers of one process do
    not take each other's output.
    """
    record, error = managed(pid, "read its output", _registry)
    if record is None:
        assert error is not None
        return error
    try:
        seconds = check_timeout(timeout) if timeout is not None else None
        start = _check_offset(offset)
        check_view(max_lines, max_bytes, cursor)
    except BadArgument as exc:
        return failure(pid, str(exc))
    return read_record(record, seconds, max_lines, start, max_bytes, bool(strip_ansi), cursor)


def check_view(max_lines: object, max_bytes: object, cursor: object) -> None:
    """BadArgument unless read_from_process's view arguments are valid."""
    if max_lines is not None and (isinstance(max_lines, bool) or not isinstance(max_lines, int)
                                  or max_lines < 1):
        raise BadArgument(f"max_lines must be a positive int, got {max_lines!r}")
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                  or max_bytes < 1):
        raise BadArgument(f"max_bytes must be a positive int, got {max_bytes!r}")
    if cursor is not None and (not isinstance(cursor, str) or not cursor):
        raise BadArgument(f"cursor must be a non-empty str (a name), got {cursor!r}")


def output_info(record: ProcessRecord) -> dict[str, Any]:
    proc = record.process
    out_end, out_dropped, out_lines, out_eof = proc.stream_info(_engine.OUT)
    err_end, err_dropped, err_lines, err_eof = proc.stream_info(_engine.ERR)
    with record.lock:
        unread = max(0, out_end - record.out_cursor) + max(0, err_end - record.err_cursor)
    return {
        "success": True,
        "pid": record.pid,
        "size": out_end + err_end,
        "lines": out_lines + err_lines,
        "stdout_size": out_end,
        "stderr_size": err_end,
        "stdout_lines": out_lines,
        "stderr_lines": err_lines,
        "dropped": out_dropped + err_dropped,
        "stdout_dropped": out_dropped,
        "stderr_dropped": err_dropped,
        "unread": unread,
        "eof": out_eof and err_eof,
        "state": record.state,
        "running": record.running,
        "return_code": proc.returncode,
        "error": None,
    }


def get_process_output_info(pid: int, *, _registry: Optional[Registry] = None) -> dict[str, Any]:
    """Counters of a managed process's output: ``size`` (bytes produced),
    ``lines``, per-stream sizes, lines and drops, ``dropped``, ``unread``
    (bytes after the read cursors) and the run ``state``."""
    record, error = managed(pid, "report on its output", _registry)
    if record is None:
        assert error is not None
        return error
    return output_info(record)
