"""Records: kept until cleanup, bounded, separate per CommandExecutor."""

from __future__ import annotations

from Core.ProcessManager import (CommandExecutor, ExecutionMode, cleanup_finished_processes,
                                 execute_command, get_active_processes, get_process_output_info,
                                 kill_process, read_from_process, wait_for_process)


def test_records_are_kept_until_cleanup() -> None:
    done = execute_command("echo kept")
    running = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    active = get_active_processes()
    assert running.pid in active and done.pid not in active
    info = active[running.pid]
    assert info["command"] == "sleep 30" and info["mode"] == "background" and info["state"] == "running"
    assert read_from_process(done.pid)["stdout"] == "kept\n", "finished output stays readable"
    removed = cleanup_finished_processes()
    assert removed >= 1
    assert not read_from_process(done.pid)["success"]
    assert running.pid in get_active_processes(), "cleanup keeps running processes"
    kill_process(running.pid)
    assert cleanup_finished_processes() == 1
    assert cleanup_finished_processes() == 0


def test_executors_are_separate_registries(api_executor: CommandExecutor) -> None:
    mine = api_executor.execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    shared = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    assert mine.pid in api_executor.get_active_processes()
    assert shared.pid not in api_executor.get_active_processes()
    assert mine.pid not in get_active_processes() and shared.pid in get_active_processes()
    # A managed pid is still found (and signalled through the engine) by the module functions.
    assert kill_process(mine.pid)["success"]
    assert api_executor.cleanup_finished_processes() == 1
    kill_process(shared.pid)


def test_finished_records_are_bounded() -> None:
    executor = CommandExecutor(max_finished=5)
    pids = [executor.execute_command("true").pid for _ in range(12)]
    kept = executor.get_processes()
    assert len(kept) <= 6
    assert pids[-1] in kept and pids[0] not in kept, "the oldest finished records are dropped"
    executor.cleanup_finished_processes()


def test_state_and_return_code_in_records() -> None:
    r = execute_command("exit 5", mode=ExecutionMode.BACKGROUND)
    assert wait_for_process(r.pid, timeout=10)["return_code"] == 5
    info = get_process_output_info(r.pid)
    assert info["state"] == "exited" and info["return_code"] == 5
    killed = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    kill_process(killed.pid, force=True)
    assert get_process_output_info(killed.pid)["state"] == "killed"


def test_no_descriptor_leaks_after_cleanup() -> None:
    import os

    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    execute_command("true")  # the engine's reactor and its own descriptors exist from here on
    cleanup_finished_processes()
    before = fds()
    for _ in range(30):
        execute_command("echo x; echo y >&2")
        execute_command(["pm-no-such-command-xyz"])
        execute_command("true", cwd="/nope")
        r = execute_command("cat", mode=ExecutionMode.INTERACTIVE, on_output=lambda t: None)
        write_to_process_and_close(r.pid)
        wait_for_process(r.pid, timeout=10)
    cleanup_finished_processes()
    assert fds() == before


def write_to_process_and_close(pid: int) -> None:
    from Core.ProcessManager import write_to_process
    assert write_to_process(pid, "x\n", close_stdin=True)["success"]
