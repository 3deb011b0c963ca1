"""expect(): patterns, outcomes, the expect cursor."""

from __future__ import annotations

import os
import re
import sys

from Core.ProcessManager import (ExecutionMode, ExpectResult, execute_command, expect, read_from_process,
                                 write_to_process)

PY = sys.executable


def test_earliest_match_wins_and_the_cursor_moves_past_it() -> None:
    r = execute_command("printf 'alpha 1\\nbeta 2\\ngamma 3\\n'")
    got = expect(r.pid, [r"beta (\d)", re.compile(r"alpha (\d)")])
    assert got.success and got.outcome == "match" and got.index == 1
    assert got.match == "alpha 1" and got.groups == ("1",) and got.before == ""
    assert got.re_match is not None and got.re_match.group(1) == "1"
    nxt = expect(r.pid, "gamma")
    assert nxt.index == 0 and nxt.before == "\nbeta 2\n"
    assert "re_match" not in nxt.as_dict() and nxt.as_dict()["outcome"] == "match"


def test_eof_is_an_outcome_with_the_rest_as_before() -> None:
    r = execute_command("printf 'one\\ntwo\\n'")
    got = expect(r.pid, "never there", timeout=20)
    assert not got.success and got.outcome == "eof" and got.eof and got.index is None
    assert got.before == "one\ntwo\n"
    again = expect(r.pid, "x", timeout=20)
    assert again.outcome == "eof" and again.before == ""


def test_timeout_is_an_outcome_and_consumes_nothing() -> None:
    r = execute_command("cat", mode=ExecutionMode.INTERACTIVE)
    write_to_process(r.pid, "hello ")
    missed = expect(r.pid, "zzz", timeout=0.2)
    assert missed.outcome == "timeout" and missed.timed_out and not missed.success
    write_to_process(r.pid, "zzz\n")
    got = expect(r.pid, "zzz", timeout=20)
    assert got.success and got.before == "hello "


def test_expect_cursor_is_independent_of_reads() -> None:
    r = execute_command("printf 'a=1\\nb=2\\n'")
    assert expect(r.pid, r"b=(\d)").groups == ("2",)
    assert read_from_process(r.pid)["stdout"] == "a=1\nb=2\n"  # the read cursor did not move


def test_stderr_stream_and_multibyte_split() -> None:
    code = ("import sys, time\nsys.stderr.write('err: '); sys.stderr.flush()\n"
            "sys.stdout.buffer.write(b'caf\\xc3'); sys.stdout.flush(); time.sleep(0.2)\n"
            "sys.stdout.buffer.write(b'\\xa9!\\n')")
    r = execute_command([PY, "-c", code], mode=ExecutionMode.BACKGROUND)
    assert expect(r.pid, "café!", timeout=20).before == ""
    assert expect(r.pid, "err: ", timeout=20, stream="stderr").success


def test_errors_are_results_not_exceptions() -> None:
    r = execute_command("true")
    for bad in ([], "(", 42, [b"x"]):
        got = expect(r.pid, bad)  # type: ignore[arg-type]
        assert isinstance(got, ExpectResult) and got.outcome == "error" and got.error
    assert expect(r.pid, "x", stream="both").outcome == "error"  # type: ignore[arg-type]
    assert expect(r.pid, "x", timeout=-1).outcome == "error"
    mine = expect(os.getpid(), "x")
    assert mine.outcome == "error" and "not started by this ProcessManager" in (mine.error or "")
