"""Completion notices: which processes finished since the last look."""

from __future__ import annotations

import threading
from typing import Any, Iterator

import pytest

from Core.ProcessManager import (CommandExecutor, ExecutionMode, ExecutionResult, get_default_executor,
                                 pop_finished_processes, wait_for_process)


class Collector:
    """on_finished callback that lets a test wait for n results."""

    def __init__(self) -> None:
        self.results: list[ExecutionResult] = []
        self.cond = threading.Condition()

    def __call__(self, result: ExecutionResult) -> None:
        with self.cond:
            self.results.append(result)
            self.cond.notify_all()

    def wait_for(self, n: int) -> list[ExecutionResult]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.results) >= n, timeout=20), self.results
            return list(self.results)


@pytest.fixture
def executor() -> Iterator[CommandExecutor]:
    ex = CommandExecutor()
    yield ex
    ex.terminate_all(timeout=2.0)
    ex.cleanup_finished_processes()


def test_each_finished_process_is_reported_once(executor: CommandExecutor) -> None:
    assert executor.finished_since_last_look() == []
    seen = Collector()
    executor.on_finished = seen
    started = [executor.execute_command(f"exit {i}", mode=ExecutionMode.BACKGROUND) for i in range(3)]
    blocking = executor.execute_command("echo done")
    seen.wait_for(4)
    got = executor.finished_since_last_look()
    assert sorted(r.pid for r in got) == sorted([r.pid for r in started] + [blocking.pid])  # type: ignore[type-var]
    by_pid = {r.pid: r for r in got}
    assert [by_pid[r.pid].return_code for r in started] == [0, 1, 2]
    assert by_pid[blocking.pid].stdout == "done\n" and all(r.finished for r in got)
    assert executor.finished_since_last_look() == [], "each once"


def test_processes_started_before_the_first_look(executor: CommandExecutor) -> None:
    done_early = executor.execute_command("echo early")
    lines: list[str] = []
    running = executor.execute_command("sleep 0.3; echo late", mode=ExecutionMode.BACKGROUND)
    with_callback = executor.execute_command("sleep 0.3; echo cb", mode=ExecutionMode.MONITORED,
                                             on_output=lines.append)
    first = executor.finished_since_last_look()
    assert [r.pid for r in first] == [done_early.pid]
    seen = Collector()
    executor.on_finished = seen
    seen.wait_for(2)
    later = executor.finished_since_last_look()
    assert {r.pid for r in later} == {running.pid, with_callback.pid}
    assert lines == ["cb\n"]


def test_a_failing_on_finished_callback_stops_nothing(executor: CommandExecutor,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    def boom(result: Any) -> None:
        raise RuntimeError("boom")

    executor.on_finished = boom
    r = executor.execute_command("echo x", mode=ExecutionMode.BACKGROUND)
    assert wait_for_process(r.pid, timeout=20, _registry=executor.registry)["finished"]
    seen = Collector()
    executor.on_finished = seen
    executor.execute_command("true")
    seen.wait_for(1)
    assert r.pid in {x.pid for x in executor.finished_since_last_look()}
    with pytest.raises(ValueError):
        executor.on_finished = 3  # type: ignore[assignment]


def test_module_level_pop_finished_processes() -> None:
    feed = get_default_executor()._feed
    try:
        pop_finished_processes()
        seen = Collector()
        get_default_executor().on_finished = seen
        from Core.ProcessManager import execute_command
        r = execute_command("exit 7", mode=ExecutionMode.BACKGROUND)
        seen.wait_for(1)
        got = pop_finished_processes()
        assert [(x.pid, x.return_code) for x in got] == [(r.pid, 7)]
        assert pop_finished_processes() == []
    finally:
        feed.disable()  # leave the default executor as the other tests expect it
