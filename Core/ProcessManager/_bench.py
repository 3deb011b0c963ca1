"""``python -m Core.ProcessManager bench``: the quick benchmark table.

Prints, in well under 30 seconds, each measure of the README's table:
ours, the C floor (a C program doing the same posix_spawn + pipes + wait,
compiled here with the system's C compiler and loaded with ctypes), the
usual Python way (subprocess, psutil, asyncio), and the ratios.  Every
contender of a row is timed in the same loop, round after round, so that
noise on a shared machine hits all of them alike; the figures are medians.
The full suite, with more rounds, 1 GiB and 1,000 processes, is
``benchmarks/`` in the source tree (benchmarks/README.md).

This module also holds the C floor's build and its ctypes binding, used by
the benchmark suite too.  The C sources are package data (_cfloor/), so an
installed package builds the same floor as the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import ctypes
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

# -- the C floor ---------------------------------------------------------------

CFLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra"]
CFLOOR_DIR = Path(__file__).resolve().parent / "_cfloor"
LIB_SOURCES = ["floor_common.c", "floor_bg.c", "floor_roundtrip.c", "floor_drain.c"]
CLI_SOURCE = "floor_cli.c"


class FloorBuildError(RuntimeError):
    pass


def find_compiler() -> Optional[str]:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def floor_sources(srcdir: Path = CFLOOR_DIR) -> dict[str, str]:
    """{file name: text} of the C floor's sources."""
    return {p.name: p.read_text() for p in sorted(srcdir.iterdir()) if p.suffix in (".c", ".h")}


def build_floor(outdir: Path, sources: Optional[dict[str, str]] = None,
                cc: Optional[str] = None) -> tuple[Path, Path]:
    """Write ``sources`` ({file name: text}; _cfloor/ by default) into
    outdir and compile libfloor.so and floor_cli there.  Returns both
    paths.  FloorBuildError with the compiler's words on an error or a
    warning (-Wall -Wextra must stay quiet)."""
    cc = cc or find_compiler()
    if cc is None:
        raise FloorBuildError("no C compiler (cc, gcc or clang) on PATH")
    outdir.mkdir(parents=True, exist_ok=True)
    for name, text in (sources if sources is not None else floor_sources()).items():
        (outdir / name).write_text(text)
    srcs = [str(outdir / s) for s in LIB_SOURCES]
    lib, cli = outdir / "libfloor.so", outdir / "floor_cli"
    for cmd in ([cc, *CFLAGS, "-fPIC", "-shared", "-o", str(lib), *srcs],
                [cc, *CFLAGS, "-o", str(cli), str(outdir / CLI_SOURCE), *srcs]):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or proc.stderr.strip():
            raise FloorBuildError(f"{' '.join(cmd)}:\n{proc.stderr}")
    return lib, cli


class Child(ctypes.Structure):
    """floor_child of floor.h."""
    _fields_ = [
        ("pid", ctypes.c_int),
        ("pidfd", ctypes.c_int),
        ("in_", ctypes.c_int),
        ("out", ctypes.c_int),
        ("err", ctypes.c_int),
        ("status", ctypes.c_int),
        ("out_bytes", ctypes.c_longlong),
        ("err_bytes", ctypes.c_longlong),
    ]


def _check(rc: int, what: str) -> None:
    if rc != 0:
        raise OSError(rc, f"C floor {what}: {os.strerror(rc)}")


class Argv:
    """A NULL-terminated char *argv[] built once, outside any timing: a C
    program has its argv ready, converting Python objects is our cost."""

    def __init__(self, argv: Sequence[str | bytes]):
        items = [a.encode() if isinstance(a, str) else a for a in argv]
        self._keep = [ctypes.c_char_p(a) for a in items]
        self.array = (ctypes.c_char_p * (len(items) + 1))(*self._keep, None)


class Floor:
    """libfloor.so's functions (ctypes.CDLL: the GIL is released around each
    call).  Each factory binds the ctypes plumbing beforehand, so that a
    timed call costs one foreign call."""

    def __init__(self, lib_path: Path, cli_path: Optional[Path] = None):
        self.lib_path, self.cli_path = lib_path, cli_path
        lib = ctypes.CDLL(str(lib_path))
        argv_t, child_p = ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(Child)
        sz, ll, i = ctypes.c_size_t, ctypes.c_longlong, ctypes.c_int
        sigs = {
            "floor_init": [],
            "floor_run": [argv_t, ctypes.POINTER(i), ctypes.POINTER(ll)],
            "floor_spawn": [argv_t, i, child_p],
            "floor_finish": [child_p],
            "floor_bg_start": [argv_t, child_p],
            "floor_bg_reap": [child_p, i],
            "floor_roundtrip": [child_p, ctypes.c_char_p, sz, ctypes.c_char_p, sz, ctypes.POINTER(sz)],
            "floor_roundtrip_n": [child_p, ctypes.c_char_p, sz, ctypes.c_char_p, sz, ctypes.POINTER(sz),
                                  ctypes.c_long],
            "floor_close": [child_p],
            "floor_drain": [argv_t, i, sz, ctypes.POINTER(ll), ctypes.POINTER(i)],
        }
        for name, args in sigs.items():
            f = getattr(lib, name)
            f.argtypes, f.restype = args, ctypes.c_int
        self.lib = lib
        _check(lib.floor_init(), "init")
        self._status, self._bytes = ctypes.c_int(), ctypes.c_longlong()

    def runner(self, argv: Sequence[str | bytes]) -> Callable[[], int]:
        """One blocking run of argv per call (spawn with pipes, drain, reap);
        returns the exit status.  self._bytes holds the stdout byte count."""
        a = Argv(argv)
        fn, st = self.lib.floor_run, self._status
        arr, pst, pnb = a.array, ctypes.byref(st), ctypes.byref(self._bytes)

        def run() -> int:
            rc = fn(arr, pst, pnb)
            if rc:
                _check(rc, "run")
            return st.value

        run.argv = a  # type: ignore[attr-defined]  # keeps the buffers alive
        return run

    def spawner(self, argv: Sequence[str | bytes]) -> Callable[[], Child]:
        """Start argv (stdin /dev/null, stdout/stderr pipes) per call; give
        each Child to finish() to drain, reap and close."""
        a = Argv(argv)
        fn, arr = self.lib.floor_spawn, a.array

        def spawn() -> Child:
            c = Child()
            rc = fn(arr, 0, ctypes.byref(c))
            if rc:
                _check(rc, "spawn")
            return c

        spawn.argv = a  # type: ignore[attr-defined]
        return spawn

    def finish(self, c: Child) -> int:
        _check(self.lib.floor_finish(ctypes.byref(c)), "finish")
        return int(c.status)

    def bg_starter(self, argv: Sequence[str | bytes]) -> Callable[[], Child]:
        """A background start per call (spawn + epoll registration); give
        each Child to bg_reap later."""
        a = Argv(argv)
        fn, arr = self.lib.floor_bg_start, a.array

        def start() -> Child:
            c = Child()
            rc = fn(arr, ctypes.byref(c))
            if rc:
                _check(rc, "bg_start")
            return c

        start.argv = a  # type: ignore[attr-defined]
        return start

    def bg_reap(self, c: Child, sig: int = signal.SIGKILL) -> int:
        _check(self.lib.floor_bg_reap(ctypes.byref(c), int(sig)), "bg_reap")
        return int(c.status)

    def open_echo(self, argv: Sequence[str | bytes] = ("/bin/cat",)) -> "Echo":
        return Echo(self, argv)

    def drain(self, argv: Sequence[str | bytes], pipe_size: int = 0, buf_size: int = 1 << 20) -> int:
        """Read argv's stdout to EOF as fast as C can; returns the byte count."""
        a = Argv(argv)
        nb, st = ctypes.c_longlong(), ctypes.c_int()
        _check(self.lib.floor_drain(a.array, pipe_size, buf_size, ctypes.byref(nb), ctypes.byref(st)),
               "drain")
        if st.value != 0:
            raise RuntimeError(f"C floor drain: {list(argv)!r} exited with {st.value}")
        return nb.value


class Echo:
    """A line-echoing child held by the floor (stdin, stdout, stderr pipes)."""

    def __init__(self, floor: Floor, argv: Sequence[str | bytes]):
        self._lib = floor.lib
        self._argv = Argv(argv)
        self.child = Child()
        _check(self._lib.floor_spawn(self._argv.array, 1, ctypes.byref(self.child)), "spawn")
        self._buf = ctypes.create_string_buffer(1 << 16)
        self._got = ctypes.c_size_t()

    @property
    def pid(self) -> int:
        return int(self.child.pid)

    def roundtrip_fn(self, msg: bytes, count: int = 1) -> Callable[[], bytes]:
        """count round trips of msg (ending in a newline) per call, in one
        foreign call; returns the last reply."""
        fn = self._lib.floor_roundtrip_n
        pc, buf, cap, got = ctypes.byref(self.child), self._buf, len(self._buf), self._got
        pgot, n = ctypes.byref(got), len(msg)

        def roundtrip() -> bytes:
            rc = fn(pc, msg, n, buf, cap, pgot, count)
            if rc:
                _check(rc, "roundtrip")
            return buf.raw[: got.value]

        return roundtrip

    def close(self) -> int:
        if self.child.pid > 0:
            _check(self._lib.floor_close(ctypes.byref(self.child)), "close")
            self.child.pid = -1
        return int(self.child.status)


# -- timing ---------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model", "Hardware")) and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown cpu"


def interleaved(contenders: dict[str, Callable[[], Any]], rounds: int, warmup: int = 3,
                per_call: int = 1) -> dict[str, float]:
    """Median seconds per operation of each contender, all timed in one
    loop whose order rotates every round."""
    names = list(contenders)
    samples: dict[str, list[int]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            t0 = time.perf_counter_ns()
            contenders[n]()
            t1 = time.perf_counter_ns()
            if r >= warmup:
                samples[n].append(t1 - t0)
    return {n: statistics.median(s) / 1e9 / per_call for n, s in samples.items()}


def fmt(seconds: Optional[float]) -> str:
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} us"


class Row:
    def __init__(self, measure: str, ours: float, floor: Optional[float], peer_name: str,
                 peer: Optional[float], note: str = ""):
        self.measure, self.ours, self.floor = measure, ours, floor
        self.peer_name, self.peer, self.note = peer_name, peer, note

    def cells(self) -> list[str]:
        return [
            self.measure, fmt(self.ours), fmt(self.floor), f"{fmt(self.peer)} ({self.peer_name})",
            f"{self.ours / self.floor:.2f}" if self.floor else "-",
            f"{self.ours / self.peer:.2f}" if self.peer else "-",
        ]


def print_table(rows: list[Row], out: Any) -> None:
    head = ["measure", "ours", "C floor", "Python peer", "ours/floor", "ours/peer"]
    table = [head] + [r.cells() for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for j, row in enumerate(table):
        out.write("  ".join(c.ljust(w) if i < 1 else c.rjust(w) if i != 3 else c.ljust(w)
                            for i, (c, w) in enumerate(zip(row, widths))).rstrip() + "\n")
        if j == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")
    for r in rows:
        if r.note:
            out.write(f"  {r.measure}: {r.note}\n")


@contextlib.contextmanager
def one_cpu() -> Iterator[int]:
    """Run the calling thread, and the children it starts meanwhile (they
    inherit its affinity), on the CPU it is on; restore its affinity after.

    For exchanges of a few microseconds with a child: whether the kernel
    wakes the child on the caller's CPU or on another one decides the
    figure (on a 2-vCPU VM a wake-up across CPUs costs ~35 us, the whole
    round trip ~5 us otherwise), and it decides it per child, for a whole
    run.  On one CPU every contender pays the same."""
    before = os.sched_getaffinity(0)
    with open("/proc/thread-self/stat") as f:  # field 39: the CPU it last ran on
        cpu = int(f.read().rsplit(")", 1)[1].split()[36])
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, before)


# -- the measures -------------------------------------------------------------------

def run_bench(floor: Optional[Floor], scale: float, out: Any) -> list[Row]:
    from . import (ExecutionMode, cleanup_finished_processes, communicate_with_process,
                   execute_command, execute_command_async, get_process_output_info,
                   get_process_status, kill_process)

    import psutil

    BLOCKING, BACKGROUND = ExecutionMode.BLOCKING, ExecutionMode.BACKGROUND
    rows: list[Row] = []
    def n(k: float) -> int:
        return max(5, int(k * scale))
    head = shutil.which("head") or "/usr/bin/head"
    seq = shutil.which("seq") or "/usr/bin/seq"

    def step(label: str) -> None:
        out.write(f"  measuring {label} ...\n")
        out.flush()

    # blocking, argv and shell
    for label, command, floor_argv, sub in (
        ("blocking /bin/true (argv)", ["/bin/true"], ["/bin/true"],
         lambda: subprocess.run(["/bin/true"], capture_output=True)),
        ("blocking 'true' (shell)", "true", ["/bin/sh", "-c", "true"],
         lambda: subprocess.run("true", shell=True, capture_output=True)),
    ):
        step(label)
        c: dict[str, Callable[[], Any]] = {"ours": functools.partial(execute_command, command, mode=BLOCKING),
                                            "subprocess.run": sub}
        if floor:
            c["floor"] = floor.runner(floor_argv)
        m = interleaved(c, n(300))
        cleanup_finished_processes()
        rows.append(Row(label, m["ours"], m.get("floor"), "subprocess.run", m["subprocess.run"]))

    # background start (each child killed and reaped outside the timing)
    step("background start")
    bg_sleep = ["/bin/sleep", "60"]
    samples: dict[str, list[int]] = {"ours": [], "floor": [], "Popen": []}
    starters: dict[str, Callable[[], Any]] = {
        "ours": lambda: execute_command(bg_sleep, mode=BACKGROUND),
        "Popen": lambda: subprocess.Popen(bg_sleep, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE),
    }
    if floor:
        starters["floor"] = floor.bg_starter(bg_sleep)
    enders: dict[str, Callable[[Any], Any]] = {
        "ours": lambda r: kill_process(r.pid, force=True),
        "Popen": lambda p: (p.kill(), p.communicate()),
        "floor": lambda ch: floor.bg_reap(ch) if floor else None,
    }
    names = list(starters)
    for r in range(3 + n(200)):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter_ns()
            obj = starters[name]()
            t1 = time.perf_counter_ns()
            enders[name](obj)
            if r >= 3:
                samples[name].append(t1 - t0)
    cleanup_finished_processes()
    med = {k: statistics.median(v) / 1e9 if v else None for k, v in samples.items()}
    rows.append(Row("background start (sleep)", med["ours"] or 0.0, med["floor"], "Popen", med["Popen"]))

    # message round trip with cat, in batches of 20 messages, on one CPU (see one_cpu)
    step("message round trip")
    with one_cpu():
        batch = 20
        r0 = execute_command(["/bin/cat"], mode=ExecutionMode.INTERACTIVE)
        popen = subprocess.Popen(["/bin/cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        echo = floor.open_echo() if floor else None
        try:
            fin, fout = popen.stdin.fileno(), popen.stdout.fileno()  # type: ignore[union-attr]

            def pipes() -> None:
                for _ in range(batch):
                    os.write(fin, b"ping\n")
                    d = os.read(fout, 65536)
                    while not d.endswith(b"\n"):
                        d += os.read(fout, 65536)

            pid0 = r0.pid
            assert pid0 is not None

            def ours_rt() -> None:
                for _ in range(batch):
                    communicate_with_process(pid0, "ping\n")

            def ours_until() -> None:
                for _ in range(batch):
                    communicate_with_process(pid0, "ping\n", until="\n")

            c = {"ours": ours_rt, "ours until": ours_until, "os.read": pipes}
            if echo:
                c["floor"] = echo.roundtrip_fn(b"ping\n", batch)
            m = interleaved(c, n(10), warmup=1, per_call=batch)
        finally:
            if echo:
                echo.close()
            popen.stdin.close()  # type: ignore[union-attr]
            popen.wait()
            if r0.pid is not None:
                kill_process(r0.pid, force=True)
            cleanup_finished_processes()
    rows.append(Row("round trip with cat", m["ours"], m.get("floor"), "os.write/os.read", m["os.read"]))
    rows.append(Row("  same, until='\\n'", m["ours until"], m.get("floor"), "os.write/os.read",
                    m["os.read"]))

    # status of 100 managed processes
    step("status of 100 processes")
    started = [execute_command(bg_sleep, mode=BACKGROUND) for _ in range(100)]
    try:
        pids = [s.pid for s in started if s.success and s.pid is not None]
        procs = [psutil.Process(p) for p in pids]

        def ps() -> None:
            for p in procs:
                with p.oneshot():
                    p.name(), p.status(), p.cpu_percent(None), p.memory_info(), p.create_time()
                    p.cmdline(), p.num_threads(), p.ppid()

        m = interleaved({"ours": lambda: [get_process_status(p) for p in pids], "psutil": ps}, n(20))
    finally:
        for s in started:
            if s.success and s.pid is not None:
                kill_process(s.pid, force=True)
        cleanup_finished_processes()
    rows.append(Row("status of 100 processes", m["ours"], None, "psutil oneshot", m["psutil"]))

    # throughput
    nbytes = int(128 * (1 << 20) * max(scale, 0.25))
    argv = [head, "-c", str(nbytes), "/dev/zero"]
    step(f"throughput ({nbytes >> 20} MiB)")

    def ring() -> None:
        r = execute_command(argv, mode=BACKGROUND)
        assert r.pid is not None
        while True:
            i = get_process_output_info(r.pid)
            if i["eof"] and not i["running"]:
                break
            time.sleep(0.001)

    def drop() -> None:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE)
        while os.read(p.stdout.fileno(), 1 << 20):  # type: ignore[union-attr]
            pass
        p.communicate()

    c = {"ours": ring, "Popen": drop}
    if floor:
        c["floor"] = lambda: floor.drain(argv)
    m = interleaved(c, 3, warmup=1)
    rows.append(Row(f"throughput {nbytes >> 20} MiB, ring", m["ours"], m.get("floor"), "Popen+os.read",
                    m["Popen"], f"ours {nbytes / m['ours'] / 1e6:,.0f} MB/s"
                    + (f", C floor {nbytes / m['floor'] / 1e6:,.0f} MB/s" if "floor" in m else "")))
    c = {"ours": lambda: execute_command(argv, mode=BLOCKING),
         "subprocess.run": lambda: subprocess.run(argv, capture_output=True)}
    if floor:
        c["floor"] = lambda: floor.drain(argv)
    m = interleaved(c, 3, warmup=1)
    cleanup_finished_processes()
    rows.append(Row(f"throughput {nbytes >> 20} MiB, full", m["ours"], m.get("floor"), "subprocess.run",
                    m["subprocess.run"], f"ours {nbytes / m['ours'] / 1e6:,.0f} MB/s"))

    # scale
    nprocs = max(50, int(200 * scale))
    step(f"{nprocs} processes at once")
    seq_argv = [seq, "100"]

    def ours_many() -> None:
        async def main() -> list[Any]:
            return await asyncio.gather(*(execute_command_async(seq_argv, mode=BLOCKING) for _ in range(nprocs)))
        asyncio.run(main())
        cleanup_finished_processes()

    def aio() -> None:
        async def one() -> bytes:
            p = await asyncio.create_subprocess_exec(*seq_argv, stdout=asyncio.subprocess.PIPE,
                                                     stderr=asyncio.subprocess.PIPE)
            return (await p.communicate())[0]

        async def main() -> list[Any]:
            return await asyncio.gather(*(one() for _ in range(nprocs)))
        asyncio.run(main())

    c = {"ours": ours_many, "asyncio": aio}
    if floor:
        spawn = floor.spawner(seq_argv)

        def floor_many() -> None:
            for ch in [spawn() for _ in range(nprocs)]:
                floor.finish(ch)
        c["floor"] = floor_many
    m = interleaved(c, 3, warmup=1)
    rows.append(Row(f"{nprocs} processes x 100 lines", m["ours"], m.get("floor"), "asyncio", m["asyncio"]))
    return rows


def main(argv: list[str]) -> int:
    """Print the benchmark table; 0, or 1 when something could not run."""
    ap = argparse.ArgumentParser(prog="python -m Core.ProcessManager bench",
                                 description="Quick benchmark: ours against a C floor and the Python peers.")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="multiply rounds and sizes (default 1: about 15-25 s)")
    args = ap.parse_args(argv)
    out = sys.stdout
    t0 = time.monotonic()
    out.write(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), Linux {platform.release()}, "
              f"Python {platform.python_version()}\n")
    floor: Optional[Floor] = None
    with tempfile.TemporaryDirectory(prefix="pm-bench-") as tmp:
        try:
            lib, cli = build_floor(Path(tmp))
            floor = Floor(lib, cli)
        except FloorBuildError as e:
            out.write(f"C floor not built ({str(e).splitlines()[0]}): its column is empty\n")
        rows = run_bench(floor, args.scale, out)
    out.write("\nMedians, every row's contenders interleaved in one loop; ratios < 1 mean ours is faster.\n\n")
    print_table(rows, out)
    out.write(f"\n({time.monotonic() - t0:.1f} s; the full suite: benchmarks/README.md)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
