"""Soft timeouts: wait_for_process leaves a process running; background_after."""

from __future__ import annotations

import asyncio

from Core.ProcessManager import (ExecutionMode, execute_command, execute_command_async, expect,
                                 get_process_status, kill_process, wait_for_process)


def test_wait_returns_the_output_so_far_and_leaves_it_running() -> None:
    r = execute_command("echo started; exec sleep 30", mode=ExecutionMode.BACKGROUND)
    assert expect(r.pid, "started", timeout=20).success
    w = wait_for_process(r.pid, timeout=0.1)
    assert w["success"] and w["finished"] is False and w["running"] and w["status"] == "still running"
    assert w["return_code"] is None and w["stdout"] == "started\n" and w["error"] is None
    assert w["result"].finished is False and w["result"].stdout == "started\n"
    assert get_process_status(r.pid)["status"] == "running"  # type: ignore[index]
    kill_process(r.pid, force=True)
    done = wait_for_process(r.pid, timeout=20)
    assert done["finished"] and done["return_code"] == -9


def test_wait_returns_the_result_once_finished() -> None:
    r = execute_command("echo hi; echo oops >&2; exit 3", mode=ExecutionMode.BACKGROUND)
    w = wait_for_process(r.pid, timeout=20)
    assert w["success"] and w["finished"] and not w["running"] and w["status"] == "finished"
    assert w["return_code"] == 3 and w["stdout"] == "hi\n" and w["stderr"] == "oops\n"
    assert w["result"].return_code == 3 and not w["result"].success and w["result"].finished


def test_background_after_returns_a_running_result() -> None:
    r = execute_command("echo begun; exec sleep 30", background_after=0.3)
    assert r.success and r.finished is False and r.pid and r.return_code is None
    assert r.mode is ExecutionMode.BLOCKING
    assert expect(r.pid, "begun", timeout=20).success
    assert get_process_status(r.pid)["status"] == "running"  # type: ignore[index]
    kill_process(r.pid, force=True)


def test_background_after_does_not_delay_a_quick_command() -> None:
    r = execute_command("echo quick", background_after=30)
    assert r.success and r.finished and r.stdout == "quick\n" and r.return_code == 0


def test_timeout_still_ends_a_backgrounded_command() -> None:
    r = execute_command("exec sleep 30", timeout=0.5, background_after=0.05)
    assert r.finished is False
    done = wait_for_process(r.pid, timeout=20)
    assert done["finished"] and done["timed_out"] and done["result"].timed_out


def test_async_background_after() -> None:
    async def main() -> tuple[bool, bool]:
        slow = await execute_command_async("exec sleep 30", background_after=0.1)
        quick = await execute_command_async("echo fine", background_after=30)
        assert slow.pid is not None
        kill_process(slow.pid, force=True)
        return slow.finished, quick.finished and quick.stdout == "fine\n"

    assert asyncio.run(main()) == (False, True)


def test_bad_background_after() -> None:
    r = execute_command("true", background_after=-1)
    assert not r.success and "background_after" in (r.error or "")
