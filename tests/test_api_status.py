"""get_process_status for any pid."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from Core.ProcessManager import (ExecutionMode, execute_command, get_process_status, kill_process,
                                 read_from_process, send_signal_to_process)


def _no_such_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as f:
        return int(f.read()) + 1


def test_status_of_any_pid() -> None:
    me = get_process_status(os.getpid())
    assert me is not None and me["status"] == "running" and not me["managed"]
    assert me["memory_info"].rss > 0 and isinstance(me["cpu_percent"], float)
    assert me["name"] and me["cmdline"]


def test_no_such_pid_is_none_and_bad_input_is_a_failure() -> None:
    assert get_process_status(_no_such_pid()) is None
    bad = get_process_status("x")  # type: ignore[arg-type]
    assert bad is not None and not bad["success"] and bad["error"]


def test_running_whatever_the_scheduler_says() -> None:
    r = execute_command("sleep 30", mode=ExecutionMode.BACKGROUND)
    for _ in range(100):
        st = get_process_status(r.pid)
        if st and st["os_status"] == "sleeping":
            break
        read_from_process(r.pid, timeout=0.01)
    assert st is not None and st["status"] == "running" and st["os_status"] == "sleeping"
    assert st["managed"] and st["command"] == "sleep 30" and st["mode"] == "background"
    send_signal_to_process(r.pid, "SIGSTOP")
    for _ in range(100):
        st = get_process_status(r.pid)
        if st and st["os_status"] == "stopped":
            break
        read_from_process(r.pid, timeout=0.01)
    assert st is not None and st["os_status"] == "stopped" and st["status"] == "running"
    send_signal_to_process(r.pid, "SIGCONT")
    kill_process(r.pid)
    after = get_process_status(r.pid)
    assert after is not None and after["status"] == "killed" and after["return_code"] == -signal.SIGTERM


def test_cpu_percent_is_a_real_figure() -> None:
    busy = execute_command([sys.executable, "-c", "import time\nprint('go', flush=True)\n"
                            "t = time.process_time()\nwhile time.process_time() - t < 0.4: pass\n"
                            "time.sleep(30)"], mode=ExecutionMode.BACKGROUND)
    text = ""
    while "go\n" not in text:
        text += read_from_process(busy.pid, timeout=10)["stdout"]
    read_from_process(busy.pid, timeout=1.0)  # nothing more comes: this waits while it spins
    st = get_process_status(busy.pid)
    assert st is not None and st["cpu_percent"] > 0.0
    kill_process(busy.pid)


def test_unmanaged_zombie_is_not_running() -> None:
    proc = subprocess.Popen(["true"])
    try:
        for _ in range(200):
            st = get_process_status(proc.pid)
            if st is None or st["os_status"] == "zombie":
                break
            read_from_process(os.getpid(), timeout=0)  # a harmless call, no sleep
        assert st is not None and st["status"] == "exited" and st["os_status"] == "zombie"
    finally:
        proc.wait()
