"""Resource limits through the documented API."""

from __future__ import annotations

import asyncio
import signal

from Core.ProcessManager import ExecutionMode, execute_command, execute_command_async


def test_limits_reach_the_program_in_every_entry_point() -> None:
    r = execute_command(["sh", "-c", "ulimit -t; ulimit -n"], limits={"cpu": 7, "open_files": 99})
    assert r.success and r.stdout == "7\n99\n"
    r = asyncio.run(execute_command_async(["sh", "-c", "ulimit -n"], limits={"open_files": 77}))
    assert r.success and r.stdout == "77\n"


def test_a_cpu_limit_ends_a_runaway_loop() -> None:
    r = execute_command(["sh", "-c", "while :; do :; done"], limits={"cpu": 1}, timeout=30)
    assert not r.success and not r.timed_out
    assert r.return_code in (-signal.SIGXCPU, -signal.SIGKILL)


def test_bad_limits_are_a_failed_result_not_an_exception() -> None:
    for limits, words in (({"nope": 1}, "unknown limit"), ({"cpu": (5, 1)}, "above hard"),
                          (["cpu"], "dict"), ({"open_files": (8, 1 << 40)}, "open_files limit")):
        r = execute_command(["true"], limits=limits)  # type: ignore[arg-type]
        assert not r.success and words in (r.error or ""), (limits, r.error)
    r = execute_command(["sleep", "5"], mode=ExecutionMode.BACKGROUND, limits={"nope": 1})
    assert not r.success and r.pid is None
