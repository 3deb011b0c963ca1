"""Helpers for the engine tests: start processes and always end them."""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterator

import pytest

from Core.ProcessManager import _engine as E


def open_fds() -> set[int]:
    return {int(f) for f in os.listdir("/proc/self/fd")} - {max(int(f) for f in os.listdir("/proc/self/fd"))}


def eventually(check: Callable[[], bool], within: float = 10.0) -> bool:
    """Poll check until it holds.  The reactor lets go of a finished process
    at the end of its current batch of events, just after waiters wake."""
    end = time.monotonic() + within
    while not check():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


class Spawner:
    """spawn() that remembers what it started, to end it after the test."""

    def __init__(self) -> None:
        self.started: list[E.Process] = []

    def __call__(self, argv: list[bytes] | list[str], **kw: Any) -> E.Process:
        p = E.spawn([os.fsencode(a) for a in argv], **kw)
        self.started.append(p)
        return p

    def end_all(self) -> None:
        for p in self.started:
            if not p.exited:
                p.terminate(grace=0.1)
        for p in self.started:
            assert p.wait(10), f"pid {p.pid} survived SIGKILL"
            p.close_pipes()
        self.started.clear()


@pytest.fixture
def spawn() -> Iterator[Spawner]:
    s = Spawner()
    yield s
    s.end_all()
