"""asyncio-native waiting on one engine NoticeChannel per loop (asyncio and uvloop)."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from typing import Any, Awaitable, Callable, TypeVar

import pytest

from Core.ProcessManager import (ExecutionMode, execute_command, execute_command_async, expect_async,
                                 kill_process, read_from_process_async, wait_for_process_async,
                                 write_to_process)
from Core.ProcessManager import _aio

T = TypeVar("T")
PY = sys.executable


def run_asyncio(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())  # type: ignore[arg-type]


def run_uvloop(main: Callable[[], Awaitable[T]]) -> T:
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        return loop.run_until_complete(main())  # type: ignore[no-any-return]
    finally:
        loop.close()


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Callable[[Callable[[], Awaitable[Any]]], Any]:
    return run_asyncio if request.param == "asyncio" else run_uvloop


def subscriptions() -> int:
    return _aio.channel_for(asyncio.get_running_loop()).subscriptions


def test_execute_command_async_many_on_one_channel(run: Any) -> None:
    async def main() -> list[str]:
        before = threading.active_count()
        tasks = [asyncio.ensure_future(execute_command_async(["sh", "-c", f"sleep 0.1; echo {i}; exit {i % 3}"]))
                 for i in range(100)]
        await asyncio.sleep(0.02)
        assert threading.active_count() - before <= 1, "no thread per call"
        results = await asyncio.gather(*tasks)
        assert [r.return_code for r in results] == [i % 3 for i in range(100)]
        assert subscriptions() == 0, "every process unsubscribed after its await"
        return [r.stdout for r in results]

    assert run(main) == [f"{i}\n" for i in range(100)]


def test_wait_read_expect_async(run: Any) -> None:
    async def main() -> None:
        r = execute_command([PY, "-i", "-q"], mode=ExecutionMode.INTERACTIVE, pty=True)
        assert (await expect_async(r.pid, ">>> ", timeout=20)).success
        write_to_process(r.pid, "6*7\n")
        got = await expect_async(r.pid, r"(\d+)\r\n>>> ", timeout=20)
        assert got.groups == ("42",)
        pending = await wait_for_process_async(r.pid, timeout=0.05)
        assert pending["finished"] is False and pending["running"]
        write_to_process(r.pid, "exit()\n")
        done = await wait_for_process_async(r.pid, timeout=20)
        assert done["finished"] and done["return_code"] == 0
        assert subscriptions() == 0

    run(main)


def test_read_from_process_async_waits_for_new_output(run: Any) -> None:
    async def main() -> None:
        r = execute_command("sleep 0.2; echo late; sleep 0.2; printf 'x\\033[1mbold\\033[0m\\n'",
                            mode=ExecutionMode.BACKGROUND)
        first = await read_from_process_async(r.pid, timeout=20)
        assert first["stdout"] == "late\n"
        second = await read_from_process_async(r.pid, timeout=20, strip_ansi=True, cursor=None)
        assert second["stdout"] == "xbold\n"
        other = await read_from_process_async(r.pid, timeout=20, cursor="mine")
        assert other["stdout"].startswith("late\n")
        end = await read_from_process_async(r.pid, timeout=20)  # nothing new, then EOF: returns
        assert end["stdout"] == "" and (end["eof"] or not end["running"])
        nothing = execute_command("exec sleep 30", mode=ExecutionMode.BACKGROUND)
        quiet = await read_from_process_async(nothing.pid, timeout=0.05)
        assert quiet["success"] and quiet["stdout"] == ""
        kill_process(nothing.pid, force=True)

    run(main)


def test_cancelled_await_unsubscribes(run: Any) -> None:
    async def main() -> None:
        r = execute_command("exec sleep 30", mode=ExecutionMode.BACKGROUND)
        task = asyncio.ensure_future(wait_for_process_async(r.pid))
        await asyncio.sleep(0.05)
        assert subscriptions() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert subscriptions() == 0
        kill_process(r.pid, force=True)

    run(main)


def test_second_subscription_beside_the_dispatcher(run: Any) -> None:
    async def main() -> None:
        lines: list[str] = []
        r = execute_command("sleep 0.2; echo cb", mode=ExecutionMode.MONITORED, on_output=lines.append)
        done = await wait_for_process_async(r.pid, timeout=20)  # the dispatcher holds the other one
        assert done["finished"] and done["stdout"] == "cb\n"

    run(main)


def test_one_channel_per_loop_dropped_with_the_loop() -> None:
    async def main() -> int:
        await execute_command_async(["true"])
        await execute_command_async(["true"])
        return id(_aio.channel_for(asyncio.get_running_loop()))

    for _ in range(3):
        asyncio.run(main())
    gc.collect()
    asyncio.run(main())
    assert _aio.channel_count() <= 1


def test_async_with_callbacks_and_errors() -> None:
    async def main() -> None:
        seen: list[str] = []
        r = await execute_command_async("echo a; echo b", on_output=seen.append)
        assert r.success and seen == ["a\n", "b\n"]
        bad = await execute_command_async("true", timeout=-1)
        assert not bad.success
        timed = await execute_command_async("exec sleep 30", timeout=0.2)
        assert timed.timed_out and not timed.success

    asyncio.run(main())
