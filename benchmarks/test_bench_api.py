"""The documented API against the C floor and the usual Python ways, issue 4.

Each benchmark times ours and its peers in the same loop, round after round
(harness.interleave), and asserts only ratios against a peer of the same
run.  Limits (issue 4, item 2) are enforced; the tighter targets are reported:

    measure                     limit            target
    blocking (argv, shell)      1.10 x C floor   1.05
    background start            1.10 x C floor   1.05
    message round trip          1.6 x C floor    1.3
    status of 100 processes     0.5 x psutil     0.2

The seed's absolute promises ("< 10 ms overhead" blocking, "< 5 ms"
background, "< 1 ms" per message) are checked as the median difference
between ours and the C floor timed in the same rounds, never as a wall-clock
figure on its own.  Its "< 100 ms for 100 processes" has no floor to subtract;
it is reported, and the psutil ratio is what is enforced.
"""

from __future__ import annotations

import os
import signal
import subprocess
from typing import Any

import psutil
import pytest

import harness
from harness import Contender

floorlib = pytest.importorskip("floorlib", reason="Core.ProcessManager is not installed")

LIMITS = {  # name: (limit, target); ratios to the peer named in the test
    "blocking": (1.10, 1.05),
    "background": (1.10, 1.05),
    "roundtrip": (1.6, 1.3),
    "status": (0.5, 0.2),
}
UNTIL = "ours, until='\\n'"
SEED_OVERHEAD_S = {"blocking": 0.010, "background": 0.005, "roundtrip": 0.001}


def verdict(what: str, ratio: float) -> str:
    limit, target = LIMITS[what]
    t = "met" if ratio <= target else f"missed by {(ratio / target - 1) * 100:.1f}%"
    return f"{what}: {ratio:.3f} x; limit {limit:.2f} {'met' if ratio <= limit else 'MISSED'}, target {target:.2f} {t}"


def enforce(benchmark: Any, what: str, ratio: float, overhead: float | None = None) -> None:
    limit, target = LIMITS[what]
    benchmark.extra_info.update(limit=limit, target=target, ratio=ratio)
    harness.note(verdict(what, ratio))
    if overhead is not None:
        seed = SEED_OVERHEAD_S[what]
        harness.note(f"seed: overhead over the C floor {harness.fmt_time(overhead)} (< {harness.fmt_time(seed)})")
        assert overhead < seed, f"seed target missed: {what} overhead {overhead * 1e3:.3f} ms over the C floor"
    assert ratio <= limit, verdict(what, ratio)


# -- blocking -------------------------------------------------------------------

@pytest.mark.parametrize("form", ["argv", "shell"])
def test_blocking(benchmark, pm, cfloor: floorlib.Floor, form: str) -> None:
    """execute_command(BLOCKING) of /bin/true (argv) or "true" (a shell
    string), against the C floor running the same argv (/bin/true, or
    /bin/sh -c true) and subprocess.run(capture_output=True)."""
    execute_command, BLOCKING = pm.execute_command, pm.ExecutionMode.BLOCKING
    if form == "argv":
        command: Any = ["/bin/true"]
        floor_argv = ["/bin/true"]

        def sub() -> int:
            return subprocess.run(["/bin/true"], capture_output=True).returncode
    else:
        command = "true"
        floor_argv = ["/bin/sh", "-c", "true"]

        def sub() -> int:
            return subprocess.run("true", shell=True, capture_output=True).returncode

    def ours() -> Any:
        return execute_command(command, mode=BLOCKING)

    floor = cfloor.runner(floor_argv)
    r0 = ours()
    assert r0.success and r0.return_code == 0, r0
    assert floor() == 0 and sub() == 0

    res = harness.interleave(
        benchmark, f"blocking, {form}: execute_command({command!r}, BLOCKING)",
        Contender("ours", ours),
        [Contender("C floor", floor), Contender("subprocess.run", sub)],
        rounds=harness.rounds(1000), warmup=30)
    pm.cleanup_finished_processes()
    r = harness.record(benchmark, res, "ours", ["C floor", "subprocess.run"])
    enforce(benchmark, "blocking", r["ratio:C floor"], r["overhead:C floor"])


# -- background start ------------------------------------------------------------

def test_background_start(benchmark, pm, cfloor: floorlib.Floor) -> None:
    """execute_command(BACKGROUND) returning its pid, against the floor's
    start (spawn + pipes + pidfd + epoll registration) and subprocess.Popen
    with pipes.  Each child (/bin/sleep 60) is killed and reaped after its
    timing, outside it."""
    execute_command, BACKGROUND = pm.execute_command, pm.ExecutionMode.BACKGROUND
    kill_process, cleanup = pm.kill_process, pm.cleanup_finished_processes

    def ours() -> Any:
        return execute_command(["/bin/sleep", "60"], mode=BACKGROUND)

    def ours_done(r: Any) -> None:
        assert r.success, r
        kill_process(r.pid, force=True)
        cleanup()

    def popen() -> subprocess.Popen:
        return subprocess.Popen(["/bin/sleep", "60"], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def popen_done(p: subprocess.Popen) -> None:
        p.kill()
        p.communicate()

    res = harness.interleave(
        benchmark, "background start: execute_command(['/bin/sleep', '60'], BACKGROUND)",
        Contender("ours", ours, ours_done),
        [Contender("C floor", cfloor.bg_starter(["/bin/sleep", "60"]), cfloor.bg_reap),
         Contender("subprocess.Popen", popen, popen_done)],
        rounds=harness.rounds(500), warmup=20)
    r = harness.record(benchmark, res, "ours", ["C floor", "subprocess.Popen"])
    enforce(benchmark, "background", r["ratio:C floor"], r["overhead:C floor"])


# -- message round trip ---------------------------------------------------------

def reply_text(resp: Any) -> str:
    """communicate_with_process's reply as text, whatever its shape."""
    if isinstance(resp, dict):
        for key in ("output", "stdout", "response", "data"):
            if isinstance(resp.get(key), (str, bytes)):
                v = resp[key]
                return v.decode() if isinstance(v, bytes) else v
        raise AssertionError(f"no output in {resp!r}")
    return resp.decode() if isinstance(resp, bytes) else str(resp)


def test_message_roundtrip(benchmark, pm, cfloor: floorlib.Floor) -> None:
    """One line to a `cat` child and its echo back: communicate_with_process
    on an INTERACTIVE cat, the C floor (write + poll + read), os.write /
    os.read on a Popen's pipes, and pexpect sendline + expect (through a
    pty, as pexpect works).  Timed in batches of 20 messages to the same
    child, as a conversation goes (see harness.interleave's batch)."""
    pexpect = pytest.importorskip("pexpect")
    with harness.one_cpu() as cpu:
        harness.note(f"round trip: this thread and the children on CPU {cpu} (see harness.one_cpu)")
        roundtrip(benchmark, pm, cfloor, pexpect)


def roundtrip(benchmark, pm, cfloor: floorlib.Floor, pexpect: Any) -> None:  # type: ignore[no-untyped-def]
    communicate = pm.communicate_with_process
    msg = "ping\n"

    started = pm.execute_command(["/bin/cat"], mode=pm.ExecutionMode.INTERACTIVE)
    assert started.success, started
    pid = started.pid
    echo = cfloor.open_echo(["/bin/cat"])
    popen = subprocess.Popen(["/bin/cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    pex = pexpect.spawn("/bin/cat", echo=False, timeout=10)
    # pexpect sleeps 50 ms before every send by default (delaybeforesend),
    # which would measure the sleep; its documented knob turns it off.
    pex.delaybeforesend = None
    try:
        def ours() -> str:
            return reply_text(communicate(pid, msg))

        def ours_until() -> str:
            return reply_text(communicate(pid, msg, until="\n"))

        fin, fout = popen.stdin.fileno(), popen.stdout.fileno()  # type: ignore[union-attr]

        def pipes() -> bytes:
            os.write(fin, b"ping\n")
            data = os.read(fout, 65536)
            while not data.endswith(b"\n"):
                data += os.read(fout, 65536)
            return data

        def pexp() -> None:
            pex.sendline("ping")
            pex.expect_exact("ping\r\n")

        batch = 20
        floor = echo.roundtrip_fn(b"ping\n", count=batch)  # the batch in one C call
        assert ours() == msg and floor() == b"ping\n" and pipes() == b"ping\n"
        assert ours_until() == msg
        pexp()

        res = harness.interleave(
            benchmark, "message round trip with cat: communicate_with_process(pid, 'ping\\n')",
            Contender("ours", ours),
            [Contender("C floor", floor, batched=True), Contender("os.write/os.read on Popen", pipes),
             Contender("pexpect", pexp), Contender(UNTIL, ours_until)],
            rounds=harness.rounds(60), warmup=3, batch=batch)
        assert ours() == msg  # still in step after all the rounds
    finally:
        echo.close()
        popen.stdin.close()  # type: ignore[union-attr]
        popen.wait(10)
        pex.close(force=True)
        pm.kill_process(pid, force=True)
        pm.cleanup_finished_processes()
    r = harness.record(benchmark, res, "ours", ["C floor", "os.write/os.read on Popen", "pexpect",
                                               UNTIL])
    harness.note(f"{UNTIL} (no settle wait) / C floor: {res.ratio(UNTIL, 'C floor'):.3f} x "
                 "(reported; the default call is enforced)")
    enforce(benchmark, "roundtrip", r["ratio:C floor"], r["overhead:C floor"])


# -- status of 100 managed processes --------------------------------------------

def test_status_of_100(benchmark, pm) -> None:
    """get_process_status for each of 100 managed processes, against psutil
    gathering the same facts under oneshot() (its Process objects kept from
    round to round, as a monitor would keep them for cpu_percent)."""
    execute_command, BACKGROUND = pm.execute_command, pm.ExecutionMode.BACKGROUND
    get_process_status = pm.get_process_status
    started = [execute_command(["/bin/sleep", "60"], mode=BACKGROUND) for _ in range(100)]
    try:
        assert all(r.success for r in started)
        pids = [r.pid for r in started]
        procs = [psutil.Process(p) for p in pids]
        sample = get_process_status(pids[0])
        assert sample and sample["status"] == "running", sample
        keys = set(sample)

        def ours() -> list:
            return [get_process_status(p) for p in pids]

        def ps() -> list:
            out = []
            for p in procs:
                with p.oneshot():
                    d = {
                        "pid": p.pid,
                        "name": p.name(),
                        "status": p.status(),
                        "cpu_percent": p.cpu_percent(None),
                        "memory_info": p.memory_info(),
                        "create_time": p.create_time(),
                    }
                    if "cmdline" in keys:
                        d["cmdline"] = p.cmdline()
                    if "num_threads" in keys:
                        d["num_threads"] = p.num_threads()
                    if "ppid" in keys:
                        d["ppid"] = p.ppid()
                out.append(d)
            return out

        res = harness.interleave(
            benchmark, "status of 100 managed processes: get_process_status(pid) x 100",
            Contender("ours", ours), [Contender("psutil oneshot()", ps)],
            rounds=harness.rounds(150), warmup=5)
    finally:
        for r in started:
            if r.success:
                pm.kill_process(r.pid, force=True)
        pm.cleanup_finished_processes()
    r = harness.record(benchmark, res, "ours", ["psutil oneshot()"])
    harness.note(f"seed: {harness.fmt_time(res.median('ours'))} for 100 processes (< 100 ms promised; "
                 "reported, the psutil ratio is enforced)")
    harness.note(f"status fields: {sorted(keys)}")
    enforce(benchmark, "status", r["ratio:psutil oneshot()"])
