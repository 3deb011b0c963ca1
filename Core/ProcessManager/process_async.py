"""Awaitable waiting, reading and expect for asyncio (and uvloop).

Each await subscribes the process to the running loop's engine
NoticeChannel (see _aio.py) for its duration: no thread per call, no
polling.  The results are those of the synchronous functions.

    async def agent(pid):
        await expect_async(pid, ">>> ")
        write_to_process(pid, "1+1\\n")
        r = await expect_async(pid, r"(\\d+)\\r\\n>>> ")
        done = await wait_for_process_async(pid, timeout=5)
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Optional

from . import _aio, _engine
from ._agent import EXIT_DRAIN, wait_result, wait_target
from ._command import BadArgument, check_timeout, time_left
from ._dispatch import dispatcher
from ._lookup import failure, managed
from ._registry import Registry
from ._types import ExecutionResult
from .expect import ExpectResult, Patterns, prepare, scan, timeout_result
from .process_reader import check_view, cursor_offsets, read_record

__all__ = ["wait_for_process_async", "read_from_process_async", "expect_async"]


async def wait_for_process_async(pid: int, timeout: Optional[float] = None, *,
                                 _registry: Optional[Registry] = None) -> dict[str, Any]:
    """wait_for_process for asyncio: the same dict (``finished``, the
    output, ``result``...), the process left running at the timeout."""
    target = wait_target(pid, timeout, _registry)
    if isinstance(target, dict):
        return target
    record, seconds = target
    proc = record.process
    deadline = None if seconds is None else time.monotonic() + seconds
    exited = await _aio.wait(proc, lambda: proc.exited, seconds)
    if exited:
        await _aio.wait(proc, lambda: _aio._all_eof(proc), EXIT_DRAIN)
        await _callbacks_settled(proc, time_left(deadline))
    return wait_result(record, exited)


async def _callbacks_settled(proc: _engine.Process, timeout: Optional[float]) -> None:
    """dispatcher.settle without blocking the loop: an internal completion
    of the process's watcher (if it has one left to run) resolves a future."""
    loop = asyncio.get_running_loop()
    settled: asyncio.Future[None] = loop.create_future()

    def resolve() -> None:
        if not settled.done():
            settled.set_result(None)

    def completed(_result: ExecutionResult) -> None:
        try:
            loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop was closed meanwhile: nobody is waiting
            pass

    if not dispatcher.in_dispatcher() and dispatcher.add_completion(proc, completed):
        await asyncio.wait({settled}, timeout=timeout)


async def read_from_process_async(pid: int, timeout: Optional[float] = None, max_lines: Optional[int] = None,
                                  *, max_bytes: Optional[int] = None, strip_ansi: bool = False,
                                  cursor: Optional[str] = None,
                                  _registry: Optional[Registry] = None) -> dict[str, Any]:
    """read_from_process for asyncio: awaits new output after the cursor
    (default or ``cursor`` named) for up to ``timeout`` seconds (None: until
    there is some, or the output ends), then returns what is new, as
    read_from_process does (``max_lines``, ``max_bytes``, ``strip_ansi``)."""
    record, error = managed(pid, "read its output", _registry)
    if record is None:
        assert error is not None
        return error
    try:
        seconds = check_timeout(timeout)
        check_view(max_lines, max_bytes, cursor)
    except BadArgument as exc:
        return failure(pid, str(exc))
    proc = record.process
    out_off, err_off = cursor_offsets(record, cursor)

    def ready() -> bool:
        out_end, _d, _l, out_eof = proc.stream_info(_engine.OUT)
        err_end, _d, _l, err_eof = proc.stream_info(_engine.ERR)
        return out_end > out_off or err_end > err_off or (out_eof and err_eof) or not proc.pipes_open

    await _aio.wait(proc, ready, seconds)
    return read_record(record, 0.0, max_lines, None, max_bytes, bool(strip_ansi), cursor)


async def expect_async(pid: int, patterns: Patterns, timeout: Optional[float] = 30.0, stream: str = "stdout",
                       *, _registry: Optional[Registry] = None) -> ExpectResult:
    """expect for asyncio: the same ExpectResult, the same cursor."""
    prepared, err = prepare(pid, patterns, timeout, stream, "expect its output", _registry)
    if prepared is None:
        assert err is not None
        return err
    record, buf, stream_id, compiled, seconds = prepared
    proc = record.process
    deadline = None if seconds is None else time.monotonic() + seconds
    loop = asyncio.get_running_loop()
    ch = _aio.channel_for(loop)
    sub = None
    try:
        while True:
            with buf.lock:  # never held across an await
                result = scan(record, buf, stream_id, compiled)
                if result is not None:
                    return result
                offset = buf.offset
                left = time_left(deadline)
                if left is not None and left <= 0:
                    return timeout_result(record, buf, seconds)
            if sub is None:
                try:
                    sub = ch.acquire(proc)  # one subscription for every turn of the loop
                except RuntimeError:
                    pass

            def more(offset: int = offset) -> bool:
                info = proc.stream_info(stream_id)
                return info[0] > offset or info[3] or not proc.pipes_open

            await ch.wait(proc, more, left)
    finally:
        if sub is not None:
            ch.release(sub)
