"""Output views for agents: ANSI removal, head and tail, named cursors."""

from __future__ import annotations

import os
import shutil
import stat
import sys
from pathlib import Path

import pytest

from Core.ProcessManager import ExecutionMode, execute_command, read_from_process, write_to_process
from Core.ProcessManager._views import ansi_hold_back, head_tail, strip_ansi

PY = sys.executable


@pytest.mark.parametrize("raw, clean", [
    ("\x1b[01;34mdir\x1b[0m\n", "dir\n"),                   # SGR colours
    ("a\x1b[Kb\x1b[m", "ab"),                               # erase line, bare SGR (grep)
    ("\x1b[?2004hPM$ \x1b[?2004l\r", "PM$ \r"),             # private modes (bash), \r kept
    ("\x1b]0;title\x07text", "text"),                       # OSC ended by BEL
    ("\x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink ended by ST
    ("\x1bP1$r0m\x1b\\ok", "ok"),                           # DCS
    ("\x1b(Bplain\x1b=\x1b>\x1b7\x1bM", "plain"),           # charset, keypad, save cursor, reverse index
    ("\x9b31mred", "red"),                                  # 8-bit CSI
    ("no escapes [31m here", "no escapes [31m here"),
])
def test_strip_ansi_sequences(raw: str, clean: str) -> None:
    assert strip_ansi(raw) == clean


def test_hold_back_keeps_a_cut_sequence_for_later() -> None:
    assert ansi_hold_back(b"abc\x1b[01;3") == 3
    assert ansi_hold_back(b"abc\x1b") == 3
    assert ansi_hold_back(b"abc\x1b]0;title") == 3
    assert ansi_hold_back(b"ab\x1b]0;title\x1b") == 2  # an OSC whose ST is cut in two
    assert ansi_hold_back(b"abc\x1b[0m") == 7
    assert ansi_hold_back(b"abc") == 3


def test_strip_real_ls_and_grep_colour_output(tmp_path: Path) -> None:
    if shutil.which("ls") is None or shutil.which("grep") is None:
        pytest.skip("no ls or grep")
    (tmp_path / "subdir").mkdir()
    tool = tmp_path / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    os.symlink(tool, tmp_path / "link")
    (tmp_path / "plain.txt").write_text("x")
    colour = execute_command(["ls", "-1", "--color=always"], cwd=str(tmp_path))
    plain = execute_command(["ls", "-1", "--color=never"], cwd=str(tmp_path))
    assert "\x1b[" in colour.stdout
    assert read_from_process(colour.pid, strip_ansi=True)["stdout"] == plain.stdout
    grep = execute_command("printf 'foo bar baz\\nnone\\n' | grep --color=always 'bar'")
    assert "\x1b[" in grep.stdout
    assert read_from_process(grep.pid, strip_ansi=True)["stdout"] == "foo bar baz\n"


def test_sequence_split_across_reads_is_removed_whole() -> None:
    code = ("import sys, time\nw = sys.stdout.buffer\nw.write(b'x\\x1b[3'); w.flush(); time.sleep(0.3)\n"
            "w.write(b'1mred\\x1b[0m\\n'); w.flush()")
    r = execute_command([PY, "-c", code], mode=ExecutionMode.BACKGROUND)
    first = read_from_process(r.pid, timeout=20, strip_ansi=True)
    assert first["stdout"] == "x"
    rest = ""
    while not rest.endswith("\n"):
        rest += read_from_process(r.pid, timeout=20, strip_ansi=True)["stdout"]
    assert rest == "red\n"


def test_max_bytes_keeps_head_and_tail_with_a_marker() -> None:
    r = execute_command(["seq", "1", "100000"])
    total = len(r.stdout.encode())
    got = read_from_process(r.pid, max_bytes=200)
    text = got["stdout"]
    head, marker, rest = text.partition("[... ")
    count, _, tail = rest.partition(" bytes omitted ...]\n")
    assert marker and head.startswith("1\n2\n3\n") and head.endswith("\n")  # cut at a line end
    assert tail.endswith("\n99999\n100000\n") and not tail.startswith("\n")
    assert got["omitted"] == int(count)
    assert int(count) + len(head.encode()) + len(tail.encode()) == total
    assert len(head.encode()) <= 100 and len(tail.encode()) <= 100
    assert read_from_process(r.pid)["stdout"] == "", "the cursor moved past everything"
    short = execute_command("echo short")
    assert read_from_process(short.pid, max_bytes=200)["stdout"] == "short\n"


def test_head_tail_never_cuts_a_character() -> None:
    text = "é" * 1000  # 2 bytes each
    view, omitted = head_tail(text, 101)
    head, _, tail = view.partition("\n[... ")
    tail = tail.split("omitted ...]\n", 1)[1]
    assert set(head) == {"é"} and set(tail) == {"é"}
    assert len(head.encode()) + len(tail.encode()) + omitted == 2000
    assert head_tail("abc", 3) == ("abc", 0)


def test_named_cursors_do_not_steal_output() -> None:
    r = execute_command("cat", mode=ExecutionMode.INTERACTIVE)
    write_to_process(r.pid, "one\n")
    assert read_from_process(r.pid, timeout=20, cursor="agent-a")["stdout"] == "one\n"
    write_to_process(r.pid, "two\n")
    assert read_from_process(r.pid, timeout=20, cursor="agent-b")["stdout"].startswith("one\n")
    b_rest = read_from_process(r.pid, timeout=0.0, cursor="agent-b")["stdout"]
    a = read_from_process(r.pid, timeout=20, cursor="agent-a")["stdout"]
    assert a == "two\n"
    default = read_from_process(r.pid, timeout=20)["stdout"]
    while default.count("\n") < 2:
        default += read_from_process(r.pid, timeout=20)["stdout"]
    assert default == "one\ntwo\n", "named cursors leave the default one alone"
    assert b_rest in ("", "two\n")


def test_bad_view_arguments() -> None:
    r = execute_command("true")
    for kwargs in ({"max_bytes": 0}, {"max_bytes": "10"}, {"cursor": ""}, {"cursor": 3}):
        got = read_from_process(r.pid, **kwargs)  # type: ignore[arg-type]
        assert not got["success"] and got["error"]
