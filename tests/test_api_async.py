"""execute_command_async: awaited without a thread per call."""

from __future__ import annotations

import asyncio
import threading

import psutil

from Core.ProcessManager import ExecutionMode, execute_command_async, get_process_status


def test_async_blocking_result() -> None:
    result = asyncio.run(execute_command_async("echo async; exit 2"))
    assert result.stdout == "async\n" and result.return_code == 2 and not result.success


def test_many_awaits_without_a_thread_each() -> None:
    async def main() -> list[str]:
        before = threading.active_count()
        tasks = [asyncio.create_task(execute_command_async(f"sleep 0.2; echo {i}")) for i in range(40)]
        await asyncio.sleep(0.05)
        during = threading.active_count()
        results = await asyncio.gather(*tasks)
        assert during - before <= 2, "one dispatcher (and the reactor) at most, not one per call"
        return [r.stdout for r in results]

    assert asyncio.run(main()) == [f"{i}\n" for i in range(40)]


def test_async_timeout_and_errors() -> None:
    timed = asyncio.run(execute_command_async("sleep 30", timeout=0.3))
    assert timed.timed_out and not timed.success
    bad = asyncio.run(execute_command_async(""))
    assert not bad.success and "empty" in (bad.error or "")
    missing = asyncio.run(execute_command_async(["pm-no-such-command-xyz"]))
    assert missing.error == "command not found: pm-no-such-command-xyz"


def test_async_other_modes_return_at_once() -> None:
    r = asyncio.run(execute_command_async("sleep 30", mode=ExecutionMode.BACKGROUND))
    assert r.success and r.pid
    st = get_process_status(r.pid)
    assert st is not None and st["status"] == "running"


def test_cancelling_the_await_ends_the_process() -> None:
    async def main() -> int:
        task = asyncio.create_task(execute_command_async("echo $$; exec sleep 30"))
        await asyncio.sleep(0.3)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        return 0

    asyncio.run(main())
    # Nothing of ours named sleep 30 is left running from this test.
    mine = [p for p in psutil.Process().children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and p.name() == "sleep"]
    assert psutil.wait_procs(mine, timeout=5)[1] == []
