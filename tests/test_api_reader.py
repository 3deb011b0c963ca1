"""read_from_process and get_process_output_info."""

from __future__ import annotations

import os
import sys
import time

from Core.ProcessManager import (ExecutionMode, execute_command, get_process_output_info, read_from_process,
                                 wait_for_process, write_to_process)


def test_read_returns_what_is_new_since_the_previous_read() -> None:
    r = execute_command("cat", mode=ExecutionMode.INTERACTIVE)
    write_to_process(r.pid, "one\n")
    first = read_from_process(r.pid, timeout=10)
    assert first["success"] and first["stdout"] == "one\n" and first["lines"] == 1
    assert read_from_process(r.pid, timeout=0)["stdout"] == "", "nothing new"
    write_to_process(r.pid, "two\n")
    assert read_from_process(r.pid, timeout=10)["stdout"] == "two\n"
    again = read_from_process(r.pid, offset=0)
    assert again["stdout"] == "one\ntwo\n" and again["stdout_offset"] == 8


def test_read_waits_up_to_timeout_for_new_output() -> None:
    r = execute_command("sleep 0.3; echo late", mode=ExecutionMode.BACKGROUND)
    got = read_from_process(r.pid, timeout=10)
    assert got["stdout"] == "late\n"


def test_read_max_lines_leaves_the_rest() -> None:
    r = execute_command("printf 'a\\nb\\nc\\n'")
    part = read_from_process(r.pid, max_lines=2)
    assert part["stdout"] == "a\nb\n" and part["has_more"]
    assert read_from_process(r.pid)["stdout"] == "c\n"


def test_read_reports_dropped_bytes() -> None:
    r = execute_command([sys.executable, "-c", "print('x' * 99999)"], mode=ExecutionMode.BACKGROUND,
                        buffer_size=4096)
    wait_for_process(r.pid, timeout=10)
    got = read_from_process(r.pid, timeout=5)
    assert got["dropped"] == 100000 - len(got["stdout"].encode()) and got["dropped"] > 0
    info = get_process_output_info(r.pid)
    assert info["size"] == 100000 and info["stdout_dropped"] == got["dropped"]


def test_read_stderr_and_multibyte_split() -> None:
    code = "import sys, time\nsys.stderr.buffer.write(b'\\xc3'); sys.stderr.flush(); time.sleep(0.3)\n" \
           "sys.stderr.buffer.write(b'\\xa9\\n')"
    r = execute_command([sys.executable, "-c", code], mode=ExecutionMode.BACKGROUND)
    deadline = time.monotonic() + 10
    while get_process_output_info(r.pid)["stderr_size"] < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert read_from_process(r.pid)["stderr"] == "", "half a character is not returned"
    # Nor does it count as something new: a read with a timeout waits for the rest.
    assert read_from_process(r.pid, timeout=10)["stderr"] == "é\n"
    wait_for_process(r.pid, timeout=10)


def test_output_info_fields() -> None:
    r = execute_command("echo 12345; echo ab >&2")
    info = get_process_output_info(r.pid)
    assert info["success"]
    assert (info["size"], info["lines"], info["stdout_size"], info["stderr_size"]) == (9, 2, 6, 3)
    assert (info["stdout_lines"], info["stderr_lines"], info["dropped"]) == (1, 1, 0)
    assert info["state"] == "exited" and info["unread"] == 9


def test_unmanaged_pid_says_it_cannot_read() -> None:
    got = read_from_process(os.getpid())
    assert not got["success"] and "not started by this ProcessManager" in got["error"]
    assert "cannot read" in got["error"]
    info = get_process_output_info(os.getpid())
    assert not info["success"]


def test_bad_read_arguments() -> None:
    r = execute_command("true")
    for kwargs in ({"timeout": -1}, {"max_lines": 0}, {"offset": -3}, {"offset": "x"}):
        got = read_from_process(r.pid, **kwargs)  # type: ignore[arg-type]
        assert not got["success"] and got["error"]
    assert not read_from_process("12")["success"]  # type: ignore[arg-type]
    assert not read_from_process(-1)["success"]
