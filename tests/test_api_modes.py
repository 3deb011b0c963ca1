"""BACKGROUND, INTERACTIVE and MONITORED modes, and the callback contract."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from typing import Callable

import pytest

from Core.ProcessManager import (ExecutionMode, ExecutionResult, execute_command, get_active_processes,
                                 kill_process, read_from_process, wait_for_process, wait_for_process_async,
                                 write_to_process)


class Collector:
    """Records callback calls, their thread, and overlapping calls."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        self.busy = 0
        self.overlaps = 0
        self.lock = threading.Lock()
        self.done = threading.Event()

    def _enter(self, kind: str, value: object) -> None:
        with self.lock:
            self.busy += 1
            self.overlaps += self.busy > 1
            self.events.append((kind, value))
            self.threads.add(threading.get_ident())
        with self.lock:
            self.busy -= 1

    def out(self, text: str) -> None:
        self._enter("out", text)

    def err(self, text: str) -> None:
        self._enter("err", text)

    def complete(self, result: ExecutionResult) -> None:
        self._enter("complete", result)
        self.done.set()

    def texts(self, kind: str) -> list[str]:
        return [str(v) for k, v in self.events if k == kind]


def test_background_returns_at_once_with_a_pid() -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    assert r.success and r.pid and r.return_code is None and r.mode is ExecutionMode.BACKGROUND
    assert r.pid in get_active_processes()
    assert kill_process(r.pid)["success"]


def test_background_stdin_is_devnull_unless_input_data() -> None:
    r = execute_command("cat; echo done", mode=ExecutionMode.BACKGROUND)
    assert wait_for_process(r.pid, timeout=10)["return_code"] == 0
    assert read_from_process(r.pid)["stdout"] == "done\n"
    fed = execute_command("cat", mode=ExecutionMode.BACKGROUND, input_data="fed\n")
    assert wait_for_process(fed.pid, timeout=10)["success"]
    assert read_from_process(fed.pid)["stdout"] == "fed\n"
    assert not write_to_process(r.pid, "x")["success"]


def test_interactive_keeps_stdin_open_and_writes_input_data_first() -> None:
    col = Collector()
    r = execute_command("cat", mode=ExecutionMode.INTERACTIVE, input_data="first\n",
                        on_output=col.out, on_complete=col.complete)
    assert r.success and r.pid
    assert write_to_process(r.pid, "second\n")["bytes_written"] == 7
    assert write_to_process(r.pid, b"third\n", close_stdin=True)["success"]
    assert col.done.wait(10)
    assert col.texts("out") == ["first\n", "second\n", "third\n"]


def test_monitored_on_complete_exactly_once_and_last() -> None:
    col = Collector()
    r = execute_command([sys.executable, "-c", "import sys\nfor i in range(200): print(i)\n"
                         "print('oops', file=sys.stderr)"],
                        mode=ExecutionMode.MONITORED, on_output=col.out, on_error=col.err,
                        on_complete=col.complete)
    assert r.success and r.return_code is None
    assert col.done.wait(10)
    assert wait_for_process(r.pid, timeout=10)["success"]
    kinds = [k for k, _ in col.events]
    assert kinds.count("complete") == 1 and kinds[-1] == "complete"
    assert col.texts("out") == [f"{i}\n" for i in range(200)], "whole lines, in order"
    assert col.texts("err") == ["oops\n"]
    final = col.events[-1][1]
    assert isinstance(final, ExecutionResult) and final.success and final.return_code == 0
    assert final.stdout.endswith("199\n")


def test_callbacks_run_on_one_thread_never_the_caller_and_never_overlap() -> None:
    col = Collector()
    runs = [execute_command([sys.executable, "-c", "import sys\nfor i in range(50):\n"
                             " print(i); print(i, file=sys.stderr)"],
                            mode=ExecutionMode.MONITORED, on_output=col.out, on_error=col.err)
            for _ in range(5)]
    for r in runs:
        wait_for_process(r.pid, timeout=10)
    last = execute_command("true", mode=ExecutionMode.MONITORED, on_complete=col.complete)
    assert last.success and col.done.wait(10)
    assert len(col.threads) == 1 and threading.get_ident() not in col.threads
    assert col.overlaps == 0


def test_monitored_timeout_is_enforced() -> None:
    col = Collector()
    r = execute_command("echo before; sleep 30", mode=ExecutionMode.MONITORED, timeout=0.5,
                        on_output=col.out, on_complete=col.complete)
    assert r.success
    assert col.done.wait(10)
    final = col.events[-1][1]
    assert isinstance(final, ExecutionResult)
    assert final.timed_out and not final.success and final.return_code is not None and final.return_code < 0
    assert col.texts("out") == ["before\n"]


def test_partial_line_is_delivered_without_its_end() -> None:
    got = threading.Event()
    seen: list[str] = []

    def on_output(text: str) -> None:
        seen.append(text)
        got.set()

    r = execute_command([sys.executable, "-u", "-c", "import sys, time\nsys.stdout.write('>>> ')\n"
                         "sys.stdout.flush()\ntime.sleep(30)"],
                        mode=ExecutionMode.INTERACTIVE, on_output=on_output)
    assert got.wait(10), "a prompt without newline is flushed after a short delay"
    assert seen == [">>> "]
    kill_process(r.pid, force=True)


def test_split_multibyte_character_is_not_corrupted() -> None:
    col = Collector()
    code = ("import sys, time\nb = 'é€'.encode()\nfor byte in b:\n"
            " sys.stdout.buffer.write(bytes([byte])); sys.stdout.flush(); time.sleep(0.02)\n"
            "sys.stdout.buffer.write(b'\\n\\xff\\n')")
    execute_command([sys.executable, "-c", code], mode=ExecutionMode.MONITORED,
                    on_output=col.out, on_complete=col.complete)
    assert col.done.wait(10)
    assert "".join(col.texts("out")) == "é€\n\ufffd\n"


def test_callback_exceptions_are_logged_and_stop_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="Core.ProcessManager")
    col = Collector()

    def boom(text: str) -> None:
        col.out(text)
        raise RuntimeError("callback failure")

    execute_command("echo a; echo b", mode=ExecutionMode.MONITORED, on_output=boom,
                    on_complete=col.complete)
    assert col.done.wait(10)
    assert col.texts("out") == ["a\n", "b\n"]
    assert "callback failure" in caplog.text
    assert any(rec.name == "Core.ProcessManager" for rec in caplog.records)


def test_blocking_with_callbacks_returns_after_on_complete() -> None:
    col = Collector()
    r = execute_command("echo one; echo two >&2", on_output=col.out, on_error=col.err,
                        on_complete=col.complete)
    assert col.done.is_set(), "on_complete ran before the blocking call returned"
    assert r.stdout == "one\n" and r.stderr == "two\n"
    assert col.texts("out") == ["one\n"] and col.texts("err") == ["two\n"]


@pytest.mark.parametrize("how", ["sync", "async"])
def test_wait_for_process_returns_after_the_callbacks(how: str) -> None:
    """Once wait_for_process says finished, every output callback has run
    and so has on_complete (the dispatcher thread may lag behind the exit:
    here a slow callback makes it)."""
    col = Collector()

    def slow(text: str) -> None:
        time.sleep(0.3)
        col.out(text)

    r = execute_command([sys.executable, "-c", "print('a'); print('b')"], mode=ExecutionMode.MONITORED,
                        on_output=slow, on_complete=col.complete)
    if how == "sync":
        done = wait_for_process(r.pid, timeout=20)
    else:
        done = asyncio.run(wait_for_process_async(r.pid, timeout=20))
    assert done["finished"] and done["stdout"] == "a\nb\n"
    assert col.done.is_set(), "on_complete ran before wait_for_process returned"
    assert "".join(col.texts("out")) == "a\nb\n"


def test_wait_for_process_timeout_bounds_the_wait_for_callbacks() -> None:
    release = threading.Event()
    r = execute_command("echo x", mode=ExecutionMode.MONITORED, on_output=lambda t: release.wait(20))
    try:
        start = time.monotonic()
        done = wait_for_process(r.pid, timeout=1)
        assert done["finished"] and time.monotonic() - start < 10
    finally:
        release.set()


def test_blocking_call_from_inside_a_callback_does_not_deadlock() -> None:
    results: list[ExecutionResult] = []
    col = Collector()

    def nested(text: str) -> None:
        results.append(execute_command("echo inner", on_output=lambda t: None))

    execute_command("echo outer", mode=ExecutionMode.MONITORED, on_output=nested,
                    on_complete=col.complete)
    assert col.done.wait(10)
    assert results and results[0].stdout == "inner\n"


@pytest.mark.parametrize("mode", list(ExecutionMode))
def test_every_mode_takes_every_common_argument(mode: ExecutionMode, tmp_path: object) -> None:
    col = Collector()
    noop: Callable[[str], None] = lambda text: None
    r = execute_command("cat; echo $PM_X; pwd", mode=mode, cwd=str(tmp_path), env=None,
                        extra_env={"PM_X": "x"}, timeout=30, input_data="in\n",
                        on_output=noop, on_error=noop, on_complete=col.complete)
    assert r.success
    if mode is ExecutionMode.INTERACTIVE:  # stdin stays open until closed
        assert write_to_process(r.pid, "", close_stdin=True)["success"]
    assert col.done.wait(10)
    final = col.events[-1][1]
    assert isinstance(final, ExecutionResult)
    assert final.stdout == f"in\nx\n{tmp_path}\n"
