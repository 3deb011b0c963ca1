"""pty=True through execute_command: terminals, REPLs, bash -i, ^D, window size."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from Core.ProcessManager import (ExecutionMode, execute_command, expect, get_process_status, kill_process,
                                 read_from_process, resize_process, wait_for_process, write_to_process)

PY = sys.executable
TTY_CODE = ("import sys, os; print(sys.stdin.isatty(), sys.stdout.isatty(), sys.stderr.isatty(), "
            "tuple(os.get_terminal_size()))")


def test_blocking_child_sees_a_terminal_of_the_asked_size() -> None:
    r = execute_command([PY, "-c", TTY_CODE], pty=True, rows=30, cols=100, timeout=20)
    assert r.success and r.finished, r
    assert r.stdout == "True True True (100, 30)\r\n" and r.stderr == ""


@pytest.mark.parametrize("mode", [ExecutionMode.BACKGROUND, ExecutionMode.INTERACTIVE, ExecutionMode.MONITORED])
def test_every_mode_accepts_pty(mode: ExecutionMode) -> None:
    seen: list[Any] = []
    kwargs: dict[str, Any] = {"on_complete": seen.append} if mode is ExecutionMode.MONITORED else {}
    r = execute_command([PY, "-c", TTY_CODE], mode=mode, pty=True, rows=10, cols=40, **kwargs)
    assert r.success and not r.finished and r.pid
    if mode is ExecutionMode.INTERACTIVE:  # nothing types ^D for it: it runs until its input ends
        assert expect(r.pid, r"\(40, 10\)", timeout=20).success
    done = wait_for_process(r.pid, timeout=20)
    assert done["finished"] and done["return_code"] == 0
    assert done["stdout"] == "True True True (40, 10)\r\n"


def test_executor_method_accepts_pty(api_executor: Any) -> None:
    r = api_executor.execute_command([PY, "-c", TTY_CODE], pty=True, timeout=20)
    assert r.success and r.stdout.startswith("True True True")


def test_stderr_is_merged_into_the_terminal() -> None:
    r = execute_command("echo out; echo err >&2", pty=True, timeout=20)
    assert r.stdout == "out\r\nerr\r\n" and r.stderr == ""


def test_python_repl_round_trip_and_resize() -> None:
    r = execute_command([PY, "-i", "-q"], mode=ExecutionMode.INTERACTIVE, pty=True)
    assert expect(r.pid, ">>> ", timeout=20).success
    write_to_process(r.pid, "1+1\n")
    got = expect(r.pid, r"(\d+)\r\n>>> ", timeout=20)
    assert got.success and got.groups == ("2",) and got.before == "1+1\r\n"  # the terminal echoes
    assert resize_process(r.pid, 50, 120)["success"]
    write_to_process(r.pid, "import os; tuple(os.get_terminal_size())\n")
    assert expect(r.pid, r"\(120, 50\)", timeout=20).success
    write_to_process(r.pid, "exit()\n")
    assert wait_for_process(r.pid, timeout=20)["return_code"] == 0


def test_interactive_bash_with_job_control() -> None:
    r = execute_command(["bash", "--norc", "--noprofile", "-i"], mode=ExecutionMode.INTERACTIVE, pty=True,
                        env={"PS1": "PM$ ", "TERM": "dumb", "PATH": "/usr/bin:/bin"})
    assert expect(r.pid, r"PM\$ ", timeout=20).success
    write_to_process(r.pid, "echo $((6*7)); set -o | grep -w monitor\n")
    assert expect(r.pid, "42\r\n", timeout=20).success
    assert expect(r.pid, r"monitor\s+on", timeout=20).success
    write_to_process(r.pid, "exit\n")
    done = wait_for_process(r.pid, timeout=20)
    assert done["return_code"] == 0 and "no job control" not in done["stdout"]


def test_line_buffered_only_on_a_terminal_and_eof_is_ctrl_d() -> None:
    # No -u: Python line-buffers its stdout on a terminal only.
    code = "import sys\nfor line in sys.stdin: print(line.strip().upper())"
    r = execute_command([PY, "-c", code], mode=ExecutionMode.INTERACTIVE, pty=True)
    write_to_process(r.pid, "first\n")
    assert expect(r.pid, "FIRST\r\n", timeout=20).success
    assert get_process_status(r.pid)["status"] == "running"  # type: ignore[index]
    out = write_to_process(r.pid, "second\n", close_stdin=True)  # types ^D after the line
    assert out["success"]
    assert expect(r.pid, "SECOND\r\n", timeout=20).success
    assert wait_for_process(r.pid, timeout=20)["return_code"] == 0


def test_closing_after_a_partial_line_types_eof_twice() -> None:
    r = execute_command([PY, "-c", "import sys; print(repr(sys.stdin.read()))"], mode=ExecutionMode.INTERACTIVE,
                        pty=True)
    write_to_process(r.pid, "abc", close_stdin=True)
    done = wait_for_process(r.pid, timeout=20)
    assert done["return_code"] == 0 and "'abc'" in done["stdout"]


def test_blocking_pty_input_data_then_eof() -> None:
    r = execute_command([PY, "-c", "import sys; print(sys.stdin.read().upper())"], pty=True,
                        input_data="hello\n", timeout=20)
    assert r.success and "HELLO" in r.stdout
    # No input at all: the input ends at once, as with /dev/null (never hangs).
    cat = execute_command(["cat"], pty=True, timeout=20)
    assert cat.success and not cat.timed_out


def test_read_from_a_pty_process() -> None:
    r = execute_command("printf 'a\\nb\\n'; sleep 30", mode=ExecutionMode.BACKGROUND, pty=True)
    assert expect(r.pid, "b", timeout=20).success
    assert read_from_process(r.pid)["stdout"] == "a\r\nb\r\n"
    kill_process(r.pid, force=True)


def test_pty_arguments_and_resize_errors() -> None:
    bad = execute_command(["true"], pty=True, rows=0)
    assert not bad.success and "rows" in (bad.error or "")
    r = execute_command(["sleep", "30"], mode=ExecutionMode.BACKGROUND)
    no_tty = resize_process(r.pid, 10, 10)
    assert not no_tty["success"] and "no pseudo-terminal" in no_tty["error"]
    t = execute_command(["sleep", "30"], mode=ExecutionMode.BACKGROUND, pty=True)
    assert not resize_process(t.pid, 0, 10)["success"]
    assert resize_process(t.pid, 10, 10)["success"]
    kill_process(r.pid, force=True)
    kill_process(t.pid, force=True)
