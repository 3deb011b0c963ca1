"""get_process_status reads running managed processes from /proc itself:
the same fields, types and values as psutil gives for the same process."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from Core.ProcessManager import ExecutionMode, execute_command, get_process_status, kill_process, \
    read_from_process, wait_for_process, write_to_process


def _started(command: Any, mode: ExecutionMode = ExecutionMode.BACKGROUND) -> int:
    r = execute_command(command, mode=mode)
    assert r.success and r.pid is not None, r
    return r.pid


def test_managed_status_matches_psutil() -> None:
    pid = _started([sys.executable, "-c", "import sys, time\nprint('up', flush=True)\ntime.sleep(30)"])
    try:
        text = ""
        for _ in range(100):  # started: its cmdline and threads are settled
            text += read_from_process(pid, timeout=0.1)["stdout"]
            if "up\n" in text:
                break
        assert text == "up\n"
        st = get_process_status(pid)
        ps = psutil.Process(pid)
        with ps.oneshot():
            expected = {"name": ps.name(), "cmdline": ps.cmdline(), "ppid": ps.ppid(),
                        "num_threads": ps.num_threads(), "os_status": ps.status()}
            memory = ps.memory_info()
            created = ps.create_time()
        assert st is not None and st["managed"] and st["status"] == "running"
        assert {k: st[k] for k in expected} == expected
        assert type(st["memory_info"]) is type(memory) and st["memory_info"]._fields == memory._fields
        assert st["memory_info"].rss > 0 and st["memory_info"].vms > 0
        assert abs(st["create_time"] - created) < 0.05
        assert isinstance(st["cpu_percent"], float) and st["cpu_percent"] >= 0.0
        again = get_process_status(pid)  # since the previous call now
        assert again is not None and again["cpu_percent"] >= 0.0 and again["cmdline"] == expected["cmdline"]
    finally:
        kill_process(pid, force=True)


def test_cmdline_follows_an_exec() -> None:
    # The shell execs sleep once it reads a line: the cmdline read on the
    # first look is not kept past the exec.
    pid = _started("read line; exec sleep 30", ExecutionMode.INTERACTIVE)
    try:
        first = get_process_status(pid)
        assert first is not None and first["name"] == "sh"
        assert write_to_process(pid, "go\n")["success"]
        for _ in range(500):
            st = get_process_status(pid)
            if st is not None and st["name"] == "sleep":
                break
            read_from_process(pid, timeout=0.01)
        assert st is not None and st["name"] == "sleep" and st["cmdline"] == ["sleep", "30"]
    finally:
        kill_process(pid, force=True)


def test_finished_managed_process_is_not_read_from_proc() -> None:
    pid = _started(["/bin/true"])
    wait_for_process(pid, timeout=10)
    st = get_process_status(pid)
    assert st is not None and st["status"] == "exited" and st["return_code"] == 0


def test_read_small_files_reads_the_first_4_kib_of_each(tmp_path: Path) -> None:
    from Core.ProcessManager import _engine
    files = {"empty": b"", "small": b"12 (x) S 1\n", "big": bytes(range(256)) * 20}
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(os.fsencode(tmp_path / name))
    assert _engine.read_small_files(tuple(paths)) == (b"", files["small"], files["big"][:4096])
    missing = os.fsencode(tmp_path / "missing")
    with pytest.raises(FileNotFoundError) as info:
        _engine.read_small_files((paths[1], missing))
    assert info.value.filename == os.fsdecode(missing)
    with pytest.raises(ValueError):
        _engine.read_small_files(tuple(paths) * 2)
    with pytest.raises(TypeError):
        _engine.read_small_files(("/proc/self/stat",))  # type: ignore[arg-type]
