"""execute_command in BLOCKING mode: results, commands, errors, timeouts, env, text."""

from __future__ import annotations

import logging
import os
import signal
import stat
import sys
import time
from pathlib import Path

import psutil
import pytest

from Core.ProcessManager import (CommandFailedError, CommandStartError, CommandTimeoutError,
                                 ExecutionMode, ExecutionResult, execute_command,
                                 get_active_processes, get_default_executor, get_process_output_info,
                                 kill_processes_by_name)


def test_blocking_result_fields() -> None:
    r = execute_command("echo out; echo err >&2; exit 3", mode=ExecutionMode.BLOCKING)
    assert isinstance(r, ExecutionResult)
    assert (r.success, r.return_code, r.stdout, r.stderr) == (False, 3, "out\n", "err\n")
    assert r.command == "echo out; echo err >&2; exit 3"
    assert r.mode is ExecutionMode.BLOCKING and r.pid and r.execution_time >= 0
    assert r.error == "exit status 3" and not r.timed_out and r.signal is None
    ok = execute_command("true")
    assert ok.success and ok.return_code == 0 and ok.error is None


@pytest.mark.parametrize("command", [
    ["/bin/true"], "echo out; echo err >&2; exit 3", ["sh", "-c", "kill -TERM $$"], ("printf", "a\\nb"),
    ["pm-no-such-command-xyz"], "pm-no-such-command-xyz", "", [], 123, ["echo", None], "echo \0",
])
def test_the_plain_call_and_the_general_path_agree(command: object) -> None:
    """execute_command(command) with every other argument at its default
    takes a short cut; a timeout far away sends it the general way.  Both
    give the same result, and both leave a record."""
    plain = execute_command(command)
    general = execute_command(command, timeout=1000.0)
    fields = ("success", "command", "return_code", "stdout", "stderr", "mode", "error", "timed_out",
              "signal", "finished", "errno", "stdout_dropped", "stderr_dropped")
    assert [getattr(plain, f) for f in fields] == [getattr(general, f) for f in fields]
    assert (plain.pid is None) == (general.pid is None)
    if plain.pid is not None:
        known = get_default_executor().get_processes()
        assert plain.pid in known and general.pid in known


def test_mode_accepts_plain_strings() -> None:
    assert execute_command("true", mode="blocking").success
    bad = execute_command("true", mode="sideways")
    assert not bad.success and "mode" in (bad.error or "")


def test_str_runs_through_the_shell_and_list_never_does() -> None:
    assert execute_command("echo $((1+2)) | tr 3 x").stdout == "x\n"
    literal = execute_command(["echo", "$HOME;", "|", "rm"])
    assert literal.stdout == "$HOME; | rm\n"


def test_shell_and_capture_output_keywords_are_accepted() -> None:
    r = execute_command("echo a b", shell=True, capture_output=True)
    assert r.stdout == "a b\n"
    split = execute_command("echo '$X;'", shell=False, capture_output=True)
    assert split.stdout == "$X;\n"
    # As in subprocess: the first item is the script, the next ones its $0, $1...
    as_list = execute_command(["echo $0-$1", "zero", "one"], shell=True)
    assert as_list.stdout == "zero-one\n"


def test_signal_gives_negative_return_code() -> None:
    r = execute_command([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    assert r.return_code == -signal.SIGKILL and r.signal == signal.SIGKILL
    assert not r.success and "SIGKILL" in (r.error or "")


def test_input_data_is_fed_to_stdin() -> None:
    assert execute_command("cat", input_data="hello\n").stdout == "hello\n"
    assert execute_command(["cat"], input_data=b"\x00bytes").stdout == "\x00bytes"


def test_blocking_keeps_all_output() -> None:
    size = 5_000_000
    r = execute_command([sys.executable, "-c", f"import sys; sys.stdout.write('x' * {size})"])
    assert r.success and len(r.stdout) == size and r.stdout_dropped == 0


def test_stdin_is_devnull_without_input() -> None:
    r = execute_command("cat", timeout=10)
    assert r.success and r.stdout == ""


# -- timeouts ------------------------------------------------------------------

@pytest.mark.slow
def test_timeout_ends_the_group_and_bounds_wall_time(api_unique_sleep: str) -> None:
    start = time.monotonic()
    r = execute_command(f"{api_unique_sleep} 30 & echo started; {api_unique_sleep} 30", timeout=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 1.5
    assert r.timed_out and not r.success and r.return_code is not None and r.return_code < 0
    assert r.stdout == "started\n", "output before the timeout is kept"
    assert "timed out" in (r.error or "")
    name = Path(api_unique_sleep).name
    gone = psutil.wait_procs([p for p in psutil.process_iter(["name"]) if p.info["name"] == name],
                             timeout=5)[1]
    assert gone == [], "the background sleeper in the group was ended too"


@pytest.mark.slow
def test_timeout_returns_even_when_a_grandchild_in_another_session_holds_the_pipes(
        api_unique_sleep: str) -> None:
    start = time.monotonic()
    r = execute_command(f"setsid {api_unique_sleep} 30 & {api_unique_sleep} 30", timeout=1.0)
    assert time.monotonic() - start < 1.5
    assert r.timed_out
    kill_processes_by_name(Path(api_unique_sleep).name, force=True)


def test_exit_without_eof_returns_promptly_and_stays_tracked(api_unique_sleep: str) -> None:
    r = execute_command(f"{api_unique_sleep} 30 & echo started")
    assert r.success and r.stdout == "started\n"
    info = get_process_output_info(r.pid)
    assert info["success"] and info["state"] == "exited"
    # The descendant is not killed by a closed pipe: it is still there.
    name = Path(api_unique_sleep).name
    assert [p for p in psutil.process_iter(["name"]) if p.info["name"] == name]
    kill_processes_by_name(name, force=True)


def test_zero_timeout_is_an_immediate_timeout() -> None:
    r = execute_command("sleep 10", timeout=0)
    assert r.timed_out and not r.success


# -- bad input -------------------------------------------------------------------

@pytest.mark.parametrize("command, cause", [
    ("", "empty"), ("   ", "empty"), ([], "empty"), ((), "empty"), (123, "command"), (None, "command"),
    ([1, 2], "command"), (["ls", None], "command"), ("echo \0", "NUL"),
])
def test_bad_commands_fail_without_raising(command: object, cause: str) -> None:
    r = execute_command(command)
    assert not r.success and r.pid is None and cause in (r.error or "")


@pytest.mark.parametrize("kwargs, cause", [
    ({"timeout": -1}, "timeout"), ({"timeout": "soon"}, "timeout"), ({"timeout": float("nan")}, "timeout"),
    ({"cwd": "/nope/not/here"}, "working directory does not exist: /nope/not/here"),
    ({"cwd": 3.5}, "cwd"), ({"env": ["A=1"]}, "env"), ({"env": {"A": 1}}, "env"),
    ({"extra_env": {"": "x"}}, "extra_env"), ({"on_output": "print"}, "on_output"),
    ({"encoding": "no-such-codec"}, "encoding"), ({"input_data": 12}, "input_data"),
    ({"buffer_size": -5}, "buffer_size"),
])
def test_bad_arguments_name_the_cause(kwargs: dict[str, object], cause: str) -> None:
    r = execute_command("true", **kwargs)  # type: ignore[arg-type]
    assert not r.success and r.pid is None and cause in (r.error or "")


def test_command_not_found() -> None:
    r = execute_command(["pm-no-such-command-xyz", "a"])
    assert not r.success and r.error == "command not found: pm-no-such-command-xyz"
    shell = execute_command("pm-no-such-command-xyz")
    assert shell.return_code == 127 and "not found" in (shell.error or "")


def test_permission_denied(tmp_path: Path) -> None:
    script = tmp_path / "x"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    if os.geteuid() == 0 and os.access(script, os.X_OK):
        pytest.skip("root may execute anything")
    r = execute_command([str(script)])
    assert not r.success and r.error == f"permission denied: {script}"


def test_missing_cwd_from_the_engine_is_named(tmp_path: Path) -> None:
    r = execute_command(["true"], cwd=str(tmp_path / "gone"))
    assert r.error == f"working directory does not exist: {tmp_path / 'gone'}"


def test_check_raises_typed_exceptions() -> None:
    assert execute_command("true").check().success
    with pytest.raises(CommandFailedError) as failed:
        execute_command("exit 4").check()
    assert failed.value.result is not None and failed.value.result.return_code == 4
    with pytest.raises(CommandStartError):
        execute_command(["pm-no-such-command-xyz"]).check()
    with pytest.raises(CommandTimeoutError):
        execute_command("sleep 5", timeout=0.1).check()


def test_cwd_is_used(tmp_path: Path) -> None:
    assert execute_command("pwd", cwd=str(tmp_path)).stdout.strip() == str(tmp_path)
    assert execute_command(["pwd"], cwd=tmp_path).stdout.strip() == str(tmp_path)


# -- environment and text -----------------------------------------------------------

def test_env_replaces_and_extra_env_adds() -> None:
    replaced = execute_command(["/usr/bin/env"], env={"PM_ONLY": "1"})
    assert replaced.stdout == "PM_ONLY=1\n"
    added = execute_command(["/usr/bin/env"], extra_env={"PM_EXTRA": "2"})
    assert "PM_EXTRA=2\n" in added.stdout and "PATH=" in added.stdout


def test_env_values_are_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="Core.ProcessManager")
    execute_command("true", extra_env={"PM_SECRET": "hunter2-value"})
    execute_command("true", env={"PM_SECRET": "hunter2-value", "PATH": os.environ["PATH"]},
                    mode=ExecutionMode.MONITORED, on_complete=lambda r: None)
    assert "hunter2-value" not in caplog.text


def test_invalid_bytes_are_replaced_and_encoding_is_honoured() -> None:
    r = execute_command([sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'a\\xffb\\xe9')"])
    assert r.stdout == "a\ufffdb\ufffd"
    latin = execute_command([sys.executable, "-c", "import sys; sys.stdout.buffer.write(b'caf\\xe9')"],
                            encoding="latin-1")
    assert latin.stdout == "café"


def test_blocking_call_is_recorded_until_cleanup() -> None:
    r = execute_command("echo recorded")
    assert get_process_output_info(r.pid)["size"] == len("recorded\n")
    assert r.pid not in get_active_processes()


def test_plain_shell_command_pid_is_the_program_itself() -> None:
    from Core.ProcessManager import ExecutionMode, kill_process
    import psutil as _psutil

    from Core.ProcessManager import read_from_process

    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    for _ in range(500):  # the shell execs the program in the same pid, soon after the spawn
        if _psutil.Process(r.pid).name() == "sleep":
            break
        read_from_process(r.pid, timeout=0.01)
    assert _psutil.Process(r.pid).name() == "sleep", "signals reach the program, not a waiting shell"
    kill_process(r.pid)
    compound = execute_command("cd / && pwd; echo $((2*3))")
    assert compound.stdout == "/\n6\n"
