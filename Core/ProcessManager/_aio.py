"""asyncio without a thread per call: one engine NoticeChannel per event loop.

Each running loop gets, on first use, a NoticeChannel whose descriptor is
registered with ``loop.add_reader``.  A process being awaited is subscribed
to its loop's channel (``Process.subscribe(channel, tag)``) for as long as
at least one await on that loop needs it, then unsubscribed: a process has
two subscriptions at most, and the dispatcher may hold the other one.  When
the descriptor is readable, the loop takes the tags and re-checks the
condition of each await on those processes: nothing polls, no thread waits.
Works with any loop that implements add_reader (asyncio's selector loops,
uvloop).

The channel of a loop is dropped when the loop is closed (found closed at
the next channel creation) or collected (the map holds loops weakly).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
import time
import weakref
from typing import Callable, Optional

from . import _engine
from ._command import time_left

log = logging.getLogger("Core.ProcessManager")

Predicate = Callable[[], bool]

# Fallback when both subscriptions of a process are taken (a third loop
# awaiting it): a worker thread re-checks at least this often.
_FALLBACK_SLICE = 0.05


class _Subscription:
    __slots__ = ("proc", "tag", "count", "waiters")

    def __init__(self, proc: _engine.Process, tag: int) -> None:
        self.proc = proc
        self.tag = tag
        self.count = 0
        self.waiters: set[Callable[[], None]] = set()


class LoopChannel:
    """The NoticeChannel of one event loop and the awaits that use it.
    Touched only from its loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self.channel: Optional[_engine.NoticeChannel] = _engine.NoticeChannel()
        self.fd = self.channel.fd
        self._tags = itertools.count(1)
        self._by_tag: dict[int, _Subscription] = {}
        self._by_proc: dict[int, _Subscription] = {}  # id(proc); the subscription holds proc
        loop.add_reader(self.fd, self._ready)

    @property
    def subscriptions(self) -> int:
        return len(self._by_tag)

    def _ready(self) -> None:
        channel = self.channel
        if channel is None:
            return
        for tag in channel.take():
            sub = self._by_tag.get(tag)
            if sub is not None:
                for check in list(sub.waiters):
                    check()

    def acquire(self, proc: _engine.Process) -> _Subscription:
        """Subscribe proc (once, however many awaits need it).  RuntimeError
        when both of its subscriptions are taken elsewhere."""
        assert self.channel is not None
        sub = self._by_proc.get(id(proc))
        if sub is None:
            tag = next(self._tags)
            proc.subscribe(self.channel, tag)
            sub = _Subscription(proc, tag)
            self._by_tag[tag] = sub
            self._by_proc[id(proc)] = sub
        sub.count += 1
        return sub

    def release(self, sub: _Subscription) -> None:
        sub.count -= 1
        if sub.count == 0:
            del self._by_tag[sub.tag]
            del self._by_proc[id(sub.proc)]
            if self.channel is not None:
                sub.proc.unsubscribe(self.channel)

    async def wait(self, proc: _engine.Process, predicate: Predicate, timeout: Optional[float]) -> bool:
        """Until predicate() holds (checked at each notice of proc) or timeout
        seconds (None: no limit).  True when it holds."""
        if predicate():
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        try:
            sub = self.acquire(proc)
        except RuntimeError as exc:
            log.debug("pid %d: %s; waiting in a worker thread", proc.pid, exc)
            return await loop.run_in_executor(None, _wait_in_thread, proc, predicate, timeout)
        future: asyncio.Future[bool] = loop.create_future()

        def check() -> None:
            if not future.done() and predicate():
                future.set_result(True)

        def expire() -> None:
            if not future.done():
                future.set_result(False)

        sub.waiters.add(check)
        timer = loop.call_later(timeout, expire) if timeout is not None else None
        try:
            check()  # whatever happened between the first look and the subscription
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            sub.waiters.discard(check)
            self.release(sub)

    def close(self) -> None:
        """Forget the channel: unsubscribe everything and stop watching the fd."""
        loop = self._loop()
        if loop is not None and not loop.is_closed():
            try:
                loop.remove_reader(self.fd)
            except (RuntimeError, ValueError, OSError):
                pass
        channel, self.channel = self.channel, None
        for sub in list(self._by_tag.values()):
            if channel is not None:
                sub.proc.unsubscribe(channel)
        self._by_tag.clear()
        self._by_proc.clear()


def _wait_in_thread(proc: _engine.Process, predicate: Predicate, timeout: Optional[float]) -> bool:
    deadline = None if timeout is None else time.monotonic() + timeout
    while not predicate():
        left = time_left(deadline)
        if left is not None and left <= 0:
            return False
        out_end = proc.stream_info(_engine.OUT)[0]
        err_end = proc.stream_info(_engine.ERR)[0]
        proc.wait_output(out_end, err_end, _FALLBACK_SLICE if left is None else min(left, _FALLBACK_SLICE))
    return True


_lock = threading.Lock()
_channels: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopChannel]" = weakref.WeakKeyDictionary()


def channel_for(loop: asyncio.AbstractEventLoop) -> LoopChannel:
    """The channel of ``loop`` (made on first use; those of closed loops are dropped)."""
    ch = _channels.get(loop)
    if ch is not None and ch.channel is not None:
        return ch
    with _lock:
        for other in [lp for lp in list(_channels.keys()) if lp.is_closed()]:
            stale = _channels.pop(other, None)
            if stale is not None:
                stale.close()
        ch = _channels.get(loop)
        if ch is None or ch.channel is None:
            ch = LoopChannel(loop)
            _channels[loop] = ch
        return ch


def channel_count() -> int:
    """Channels alive (for tests)."""
    return len(_channels)


async def wait(proc: _engine.Process, predicate: Predicate, timeout: Optional[float]) -> bool:
    """Await predicate() on the running loop's channel."""
    if predicate():
        return True
    return await channel_for(asyncio.get_running_loop()).wait(proc, predicate, timeout)


def _after_fork() -> None:
    global _lock, _channels
    _lock = threading.Lock()
    _channels = weakref.WeakKeyDictionary()


os.register_at_fork(after_in_child=_after_fork)


def _all_eof(proc: _engine.Process) -> bool:
    return not proc.pipes_open or (proc.stream_info(_engine.OUT)[3] and proc.stream_info(_engine.ERR)[3])


async def wait_blocking_end(proc: _engine.Process, timeout: Optional[float],
                            background_after: Optional[float], grace: float, eof_grace: float) -> Optional[bool]:
    """The awaitable half of a BLOCKING execute_command: until the process
    has exited and its pipes reached EOF (at most ``eof_grace`` after the
    exit, within the timeout's half second).  None when background_after
    came first (still running); False when it outlived its timeout's
    guard (the caller kills it); True otherwise."""
    start = proc.start_time
    if not proc.exited:
        limit = None if timeout is None else timeout + grace + 0.1
        moved = False
        if background_after is not None and (limit is None or background_after < limit):
            limit, moved = background_after, True
        left = None if limit is None else max(0.0, start + limit - time.monotonic())
        ch = channel_for(asyncio.get_running_loop())
        try:
            sub = ch.acquire(proc)  # one subscription for both waits below
        except RuntimeError:
            sub = None
        try:
            if not await ch.wait(proc, lambda: proc.exited, left):
                return None if moved else False
            if not _all_eof(proc):
                eof_wait = eof_grace
                if timeout is not None:
                    eof_wait = min(eof_wait, start + timeout + 0.45 - time.monotonic())
                await ch.wait(proc, lambda: _all_eof(proc), max(0.0, eof_wait))
        finally:
            if sub is not None:
                ch.release(sub)
    elif not _all_eof(proc):
        await wait(proc, lambda: _all_eof(proc), eof_grace)
    return True
