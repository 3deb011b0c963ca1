"""The dispatcher: one thread that runs every callback, never the reactor.

Processes with callbacks (or awaited by asyncio) are subscribed, under a
tag, to the dispatcher's own NoticeChannel; the thread waits on it and, for
each tag, reads the new output, decodes it and calls the callbacks in order.
Being a single thread, it never runs two callbacks at once for a process.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from typing import Any, Callable, Optional, Sequence

from . import _engine
from ._text import LineDecoder
from ._types import ExecutionResult

log = logging.getLogger("Core.ProcessManager")

# A partial line (a prompt...) is delivered after this long without its end.
FLUSH_DELAY = 0.05
# After the exit, output is awaited this long before on_complete when a
# descendant keeps the pipes open.
DRAIN = 0.25

TextCallback = Callable[[str], Any]
ResultCallback = Callable[[ExecutionResult], Any]


def call_safely(callback: Callable[..., Any], arg: object, what: str, pid: int) -> None:
    """Call a user callback; an exception is logged and stops nothing."""
    try:
        callback(arg)
    except Exception:
        log.exception("%s callback of pid %d raised", what, pid)


class Watcher:
    """Callback state of one process, touched only by the dispatcher thread
    (except ``done``)."""

    def __init__(self, encoding: str, on_output: Optional[TextCallback],
                 on_error: Optional[TextCallback], on_complete: Optional[ResultCallback],
                 make_result: Callable[[_engine.Process], ExecutionResult],
                 completions: Sequence[ResultCallback] = ()) -> None:
        self.on_output = on_output
        self.on_error = on_error
        self.on_complete = on_complete
        self.make_result = make_result
        self.completions = list(completions)
        self.decoders = {_engine.OUT: LineDecoder(encoding), _engine.ERR: LineDecoder(encoding)}
        self.cursors = {_engine.OUT: 0, _engine.ERR: 0}
        self.flush_at: Optional[float] = None
        self.drain_until: Optional[float] = None
        self.process: Optional[_engine.Process] = None
        self.done = threading.Event()
        self.result: Optional[ExecutionResult] = None
        self.completions_ran = False  # under the dispatcher's lock (add_completion)

    def deadline(self) -> Optional[float]:
        times = [t for t in (self.flush_at, self.drain_until) if t is not None]
        return min(times) if times else None


class Dispatcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._watchers: dict[int, Watcher] = {}
        self._tags = itertools.count(1)
        self._thread: Optional[threading.Thread] = None
        self._channel: Optional[_engine.NoticeChannel] = None

    def spawn(self, watcher: Watcher, argv: Sequence[bytes], **kwargs: Any) -> _engine.Process:
        """Spawn, register ``watcher``, then subscribe: the subscription
        notifies once at once, so nothing that happened before is missed."""
        tag = next(self._tags)
        proc = _engine.spawn(argv, tag=tag, **kwargs)
        self._register(proc, watcher, tag)
        return proc

    def watch(self, proc: _engine.Process, watcher: Watcher) -> None:
        """Watch a process started without the dispatcher (RuntimeError when
        both of its subscriptions are taken)."""
        tag = next(self._tags)
        try:
            self._register(proc, watcher, tag)
        except RuntimeError:
            with self._lock:
                self._watchers.pop(tag, None)
            raise

    def _register(self, proc: _engine.Process, watcher: Watcher, tag: int) -> None:
        watcher.process = proc
        with self._lock:
            if self._channel is None:
                self._channel = _engine.NoticeChannel()
            channel = self._channel
            self._watchers[tag] = watcher
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(channel,), name="Core.ProcessManager-dispatcher", daemon=True)
                self._thread.start()
        # Without line callbacks only the end matters: no wake-up per output.
        proc.subscribe(channel, tag, output=watcher.on_output is not None or watcher.on_error is not None)

    def add_completion(self, proc: _engine.Process, completion: ResultCallback) -> bool:
        """Add an internal completion to the watcher of ``proc``; False when
        it has none or its completions have already run."""
        with self._lock:
            w = self._watchers.get(proc.tag)
            if w is None or w.process is not proc or w.completions_ran:
                return False
            w.completions.append(completion)
            return True

    def settle(self, proc: _engine.Process, timeout: Optional[float]) -> None:
        """Wait until the callbacks of ``proc`` (its last output,
        on_complete) have run, up to ``timeout`` seconds (None: no limit).
        At once when it has no watcher, or from a callback itself."""
        if self.in_dispatcher():
            return
        with self._lock:
            w = self._watchers.get(proc.tag)
        if w is not None and w.process is proc:
            w.done.wait(timeout)

    def in_dispatcher(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _timeout(self) -> Optional[float]:
        with self._lock:
            deadlines = [d for w in self._watchers.values() if (d := w.deadline()) is not None]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _run(self, channel: _engine.NoticeChannel) -> None:
        while True:
            tags = channel.wait(self._timeout())
            now = time.monotonic()
            with self._lock:
                ready = {t: self._watchers[t] for t in tags if t in self._watchers}
                for tag, w in self._watchers.items():
                    d = w.deadline()
                    if d is not None and d <= now:
                        ready[tag] = w
            for tag in sorted(ready):
                try:
                    if self._service(ready[tag]):
                        with self._lock:
                            self._watchers.pop(tag, None)
                except Exception:  # a bug here must not kill every process's callbacks
                    log.exception("dispatcher failed on tag %d", tag)
                    with self._lock:
                        self._watchers.pop(tag, None)
                    ready[tag].done.set()

    def _service(self, w: Watcher) -> bool:
        """Deliver what is new; True once the process is complete."""
        proc = w.process
        assert proc is not None
        now = time.monotonic()
        all_eof = self._deliver(w)
        self._flush_partials(w, now)
        if proc.exited:
            if w.drain_until is None:
                w.drain_until = (proc.exit_time or now) + DRAIN
            if all_eof or not proc.pipes_open or now >= w.drain_until:
                self._deliver(w)  # what arrived since the read above
                self._complete(w)
                return True
        return False

    def _deliver(self, w: Watcher) -> bool:
        """Read each stream past the watcher's cursor and pass whole lines to
        the callbacks; True when both streams are read to their EOF."""
        proc = w.process
        assert proc is not None
        all_eof = True
        for stream, callback in ((_engine.OUT, w.on_output), (_engine.ERR, w.on_error)):
            # EOF first: if it was already there, the read below gets everything.
            end, _dropped, _lines, eof = proc.stream_info(stream)
            all_eof = all_eof and eof
            if callback is None:  # nobody reads it: no copy
                w.cursors[stream] = end
                continue
            data, first, missed = proc.read(stream, w.cursors[stream])
            w.cursors[stream] = first + len(data)
            if missed:
                log.warning("pid %d: %d bytes of output were overwritten before the callback saw them",
                            proc.pid, missed)
            what = "output" if stream == _engine.OUT else "error"
            for line in w.decoders[stream].feed(data):
                call_safely(callback, line, what, proc.pid)
            if eof:
                rest = w.decoders[stream].finish()
                if rest:
                    call_safely(callback, rest, what, proc.pid)
        return all_eof

    def _flush_partials(self, w: Watcher, now: float) -> None:
        proc = w.process
        assert proc is not None
        partial = any(d.partial for d in w.decoders.values())
        if not partial:
            w.flush_at = None
            return
        if w.flush_at is None:
            w.flush_at = now + FLUSH_DELAY
            return
        if now < w.flush_at:
            return
        w.flush_at = None
        for stream, callback in ((_engine.OUT, w.on_output), (_engine.ERR, w.on_error)):
            text = w.decoders[stream].flush()
            if text and callback is not None:
                call_safely(callback, text, "output" if stream == _engine.OUT else "error", proc.pid)

    def _complete(self, w: Watcher) -> None:
        proc = w.process
        assert proc is not None
        for stream, callback in ((_engine.OUT, w.on_output), (_engine.ERR, w.on_error)):
            rest = w.decoders[stream].finish()
            if rest and callback is not None:
                call_safely(callback, rest, "output" if stream == _engine.OUT else "error", proc.pid)
        result = w.make_result(proc)
        w.result = result
        if w.on_complete is not None:
            call_safely(w.on_complete, result, "completion", proc.pid)
        ran = 0
        while True:  # add_completion may append meanwhile
            with self._lock:
                todo = w.completions[ran:]
                if not todo:
                    w.completions_ran = True
                    break
            ran += len(todo)
            for completion in todo:
                call_safely(completion, result, "internal completion", proc.pid)
        w.done.set()

    def _after_fork(self) -> None:
        # The child starts with a fresh engine: no process, no thread.
        self._lock = threading.Lock()
        self._watchers = {}
        self._thread = None
        self._channel = None


dispatcher = Dispatcher()
os.register_at_fork(after_in_child=dispatcher._after_fork)
