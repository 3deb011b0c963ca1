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
the benchmark suite too.  The C sources are embedded below so that an
installed package can build the floor; benchmarks/cfloor/*.c are the
originals (benchmarks/embed_floor.py refreshes the copy, and the suite
checks that the two are the same).
"""

from __future__ import annotations

import argparse
import asyncio
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
from typing import Any, Callable, Optional, Sequence

# -- the C floor ---------------------------------------------------------------

CFLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra"]
LIB_SOURCES = ["floor_common.c", "floor_bg.c", "floor_roundtrip.c", "floor_drain.c"]
CLI_SOURCE = "floor_cli.c"


class FloorBuildError(RuntimeError):
    pass


def find_compiler() -> Optional[str]:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def build_floor(outdir: Path, sources: Optional[dict[str, str]] = None,
                cc: Optional[str] = None) -> tuple[Path, Path]:
    """Write ``sources`` ({file name: text}; the embedded copy by default)
    into outdir and compile libfloor.so and floor_cli there.  Returns both
    paths.  FloorBuildError with the compiler's words on an error or a
    warning (-Wall -Wextra must stay quiet)."""
    cc = cc or find_compiler()
    if cc is None:
        raise FloorBuildError("no C compiler (cc, gcc or clang) on PATH")
    outdir.mkdir(parents=True, exist_ok=True)
    for name, text in (sources if sources is not None else FLOOR_SOURCES).items():
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

    # message round trip with cat, in batches of 20 messages
    step("message round trip")
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


# -- embedded copy of benchmarks/cfloor (generated by benchmarks/embed_floor.py) --
# BEGIN FLOOR SOURCES
FLOOR_SOURCES: dict[str, str] = {
    'floor.h': r'''/* The C floor: what a careful C program must do to get the same result as
 * the engine, with nothing on top.  The benchmarks load these functions with
 * ctypes and time each call from Python, in the same loop as the engine and
 * its Python peers (see floor_common.c for why).
 *
 * Every function returns 0 or a positive errno; results come back through
 * out-parameters.  Nothing here calls exit() or prints: a failure is the
 * caller's to report. */
#ifndef PM_FLOOR_H
#define PM_FLOOR_H

#include <stddef.h>
#include <sys/types.h>

/* One child as a C event loop would hold it: its pid, a pidfd for its exit,
 * and the parent's ends of its pipes (-1 when absent or closed). */
typedef struct floor_child {
    int pid;
    int pidfd;
    int in;   /* write end of the child's stdin, or -1 (/dev/null) */
    int out;  /* read end of the child's stdout */
    int err;  /* read end of the child's stderr */
    int status; /* exit status, or minus the signal; valid once reaped */
    long long out_bytes; /* bytes read from stdout by floor_finish */
    long long err_bytes; /* bytes read from stderr by floor_finish */
} floor_child;

/* Opens the cached /dev/null (stdin of every child that has no stdin pipe)
 * and the epoll instance used by floor_bg_start.  Idempotent. */
int floor_init(void);

/* pipe2(O_CLOEXEC) for stdout and stderr (and stdin when want_stdin),
 * posix_spawn with the engine's file actions and attributes, pidfd_open.
 * On error nothing is left open and no child is left running. */
int floor_spawn(char *const argv[], int want_stdin, floor_child *c);

/* poll() the pipes and the pidfd until both pipes are at EOF and the child
 * has exited, reading all output; waitid(P_PIDFD) reaps it; closes all. */
int floor_finish(floor_child *c);

/* Blocking run: floor_spawn + floor_finish.  The "spawn /bin/true with
 * pipes + wait" floor. */
int floor_run(char *const argv[], int *status, long long *out_bytes);

/* Background start: floor_spawn, read ends made non-blocking and the two
 * pipes and the pidfd registered with an epoll instance, as an event loop
 * that will drain and reap the child later must do.  floor_bg_reap
 * (optionally signalling it first, through the pidfd) deregisters, drains,
 * reaps and closes. */
int floor_bg_start(char *const argv[], floor_child *c);
int floor_bg_reap(floor_child *c, int sig);

/* Message round trip with a line-echoing child (cat): write the whole
 * message to its stdin, then read its stdout until a newline has arrived.
 * *got is the number of bytes read into buf.  floor_roundtrip_n: n of them
 * in a row (*got: the last reply's length). */
int floor_roundtrip(floor_child *c, const char *msg, size_t len,
                    char *buf, size_t cap, size_t *got);
int floor_roundtrip_n(floor_child *c, const char *msg, size_t len,
                      char *buf, size_t cap, size_t *got, long n);

/* Close the child's stdin, then floor_finish. */
int floor_close(floor_child *c);

/* Drain: floor_spawn argv, read its stdout to EOF as fast as C can
 * (blocking read() into one reused buffer of buf_size bytes), then
 * floor_finish (stderr, empty here, is drained there).  pipe_size > 0 sets
 * F_SETPIPE_SZ on the stdout pipe first. */
int floor_drain(char *const argv[], int pipe_size, size_t buf_size,
                long long *nbytes, int *status);

#endif
''',
    'floor_bg.c': r'''/* The C floor for a background start: start the child and return, leaving
 * it to an event loop that drains its pipes and learns of its exit later.
 * Beyond floor_spawn that takes what any such loop needs and the engine
 * does too: the read ends made non-blocking and the two pipes and the pidfd
 * registered with an epoll instance.  The reaping is not part of the timed
 * start (floor_bg_reap, called outside the timing). */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

extern int floor_epoll_fd;

static int watch(int fd)
{
    struct epoll_event ev;
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        return errno;
    if (epoll_ctl(floor_epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return errno;
    return 0;
}

static void unwatch(int fd)
{
    if (fd >= 0)
        (void)epoll_ctl(floor_epoll_fd, EPOLL_CTL_DEL, fd, NULL);
}

int floor_bg_start(char *const argv[], floor_child *c)
{
    int rc;
    if (floor_epoll_fd < 0) {
        floor_epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        if (floor_epoll_fd < 0)
            return errno;
    }
    if ((rc = floor_spawn(argv, 0, c)) != 0)
        return rc;
    if ((rc = watch(c->out)) != 0 || (rc = watch(c->err)) != 0 || (rc = watch(c->pidfd)) != 0) {
        (void)floor_bg_reap(c, SIGKILL);
        return rc;
    }
    return 0;
}

int floor_bg_reap(floor_child *c, int sig)
{
    unwatch(c->out);
    unwatch(c->err);
    unwatch(c->pidfd);
    if (sig > 0 && c->pidfd >= 0 &&
        syscall(SYS_pidfd_send_signal, c->pidfd, sig, NULL, 0) < 0 && errno != ESRCH)
        return errno;
    return floor_finish(c);
}
''',
    'floor_cli.c': r'''/* Stand-alone driver for the floor functions, to check that the floor timed
 * through ctypes from the benchmark's Python process is no slower than the
 * same code timed by a small C process (see floor_common.c).
 *
 *   floor_cli run N prog [args...]     N blocking runs; per-run times
 *   floor_cli bg N prog [args...]      N background starts (each reaped
 *                                      with SIGKILL after its timing)
 *   floor_cli drain prog [args...]     one drain of prog's stdout
 *
 * Prints one JSON object: {"what":..., "n":..., "median_ns":...,
 * "min_ns":..., "total_ns":..., "bytes":...}.  Exit status 0, or 1 with a
 * message on stderr. */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0) {
        perror("clock_gettime");
        exit(1);
    }
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static int usage(void)
{
    fprintf(stderr, "usage: floor_cli run|bg N prog [args...] | floor_cli drain prog [args...]\n");
    return 1;
}

int main(int argc, char **argv)
{
    long long *t, total = 0, bytes = 0;
    long n;
    int rc;

    if (argc < 3)
        return usage();
    if ((rc = floor_init()) != 0) {
        fprintf(stderr, "floor_init: %s\n", strerror(rc));
        return 1;
    }
    if (strcmp(argv[1], "drain") == 0) {
        int status;
        long long t0 = now_ns();
        rc = floor_drain(argv + 2, 0, 1 << 20, &bytes, &status);
        total = now_ns() - t0;
        if (rc != 0) {
            fprintf(stderr, "floor_drain: %s\n", strerror(rc));
            return 1;
        }
        printf("{\"what\": \"drain\", \"n\": 1, \"median_ns\": %lld, \"min_ns\": %lld, "
               "\"total_ns\": %lld, \"bytes\": %lld, \"status\": %d}\n",
               total, total, total, bytes, status);
        return 0;
    }
    if (argc < 4)
        return usage();
    n = strtol(argv[2], NULL, 10);
    if (n <= 0)
        return usage();
    t = malloc((size_t)n * sizeof *t);
    if (t == NULL) {
        perror("malloc");
        return 1;
    }
    for (long i = 0; i < n; i++) {
        long long t0 = now_ns();
        if (strcmp(argv[1], "run") == 0) {
            int status;
            long long out;
            rc = floor_run(argv + 3, &status, &out);
            t[i] = now_ns() - t0;
            bytes += out;
        } else if (strcmp(argv[1], "bg") == 0) {
            floor_child c;
            rc = floor_bg_start(argv + 3, &c);
            t[i] = now_ns() - t0;
            if (rc == 0)
                rc = floor_bg_reap(&c, SIGKILL);
        } else {
            free(t);
            return usage();
        }
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", argv[1], strerror(rc));
            free(t);
            return 1;
        }
        total += t[i];
    }
    qsort(t, (size_t)n, sizeof *t, cmp_ll);
    printf("{\"what\": \"%s\", \"n\": %ld, \"median_ns\": %lld, \"min_ns\": %lld, "
           "\"total_ns\": %lld, \"bytes\": %lld}\n",
           argv[1], n, n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2, t[0], total, bytes);
    free(t);
    return 0;
}
''',
    'floor_common.c': r'''/* The C floor for "spawn a program with pipes and wait for it".
 *
 * Why a shared library timed from Python, not a stand-alone program that
 * times itself:
 *  - Same parent.  The cost of a spawn depends on the parent: its open
 *    descriptors (closefrom), its signal handlers (SETSIGDEF walks them), its
 *    threads, its memory map.  Loaded into the benchmark's own Python
 *    process, the floor spawns from exactly the parent the engine and
 *    subprocess spawn from.  A separate C process would be a smaller, quieter
 *    parent and flatter the floor for reasons that have nothing to do with
 *    the engine.
 *  - Same moments.  This machine is shared and noisy.  Timed from Python in
 *    the same loop (for each round: floor, subprocess, engine), every
 *    contender meets the same noise, and the ratio of medians is stable where
 *    two separate runs minutes apart are not.
 *  - Same clock and the same fixed costs: one time.perf_counter_ns() pair
 *    around each call.  The floor pays a ctypes call (about a microsecond,
 *    with the GIL released) that a pure C loop would not; against a spawn
 *    of several hundred microseconds that is well under 1% and it is the
 *    same order as the engine's own entry cost, so it is left in.
 *  floor_cli.c builds the same code into a stand-alone program, to check
 *  that the in-process floor is not slower than a C process doing the same.
 *
 * What one spawn does here is what the engine does (src/, DESIGN.md):
 *  - stdin from one /dev/null descriptor opened once and cached;
 *  - stdout and stderr: pipe2(O_CLOEXEC), the child's ends dup2'd to 1, 2;
 *  - posix_spawn file actions: adddup2 for 0, 1, 2, then closefrom(3)
 *    (posix_spawn_file_actions_addclosefrom_np, glibc >= 2.34);
 *  - attributes: POSIX_SPAWN_SETPGROUP (own group, pgroup 0),
 *    POSIX_SPAWN_SETSIGMASK (empty mask), POSIX_SPAWN_SETSIGDEF (all
 *    signals back to default);
 *  - pidfd_open for the exit;
 *  - poll on both pipes and the pidfd until EOF on both and exit, reading
 *    all output, then waitid(P_PIDFD) to reap.
 */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <features.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define FLOOR_HAVE_ADDCLOSEFROM 1
#endif

extern char **environ;

static int devnull_fd = -1;
int floor_epoll_fd = -1; /* shared with floor_bg.c */

int floor_init(void)
{
    if (devnull_fd < 0) {
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd < 0)
            return errno;
        devnull_fd = fd;
    }
    return 0;
}

int floor_devnull(void);
int floor_devnull(void)
{
    return devnull_fd;
}

static void close_if(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

int floor_spawn(char *const argv[], int want_stdin, floor_child *c)
{
    int in_p[2] = {-1, -1}, out_p[2] = {-1, -1}, err_p[2] = {-1, -1};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t mask, def;
    pid_t pid;
    int rc;

    c->pid = -1;
    c->pidfd = c->in = c->out = c->err = -1;
    c->status = 0;
    c->out_bytes = c->err_bytes = 0;
    if (devnull_fd < 0 && (rc = floor_init()) != 0)
        return rc;

    if (want_stdin && pipe2(in_p, O_CLOEXEC) < 0)
        return errno;
    if (pipe2(out_p, O_CLOEXEC) < 0) {
        rc = errno;
        goto close_pipes;
    }
    if (pipe2(err_p, O_CLOEXEC) < 0) {
        rc = errno;
        goto close_pipes;
    }

    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        goto close_pipes;
    if ((rc = posix_spawnattr_init(&attr)) != 0)
        goto destroy_fa;
    /* dup2 clears O_CLOEXEC on the target, so the child keeps 0-2 and
     * nothing else: closefrom(3) drops whatever the parent had open. */
    if ((rc = posix_spawn_file_actions_adddup2(&fa, want_stdin ? in_p[0] : devnull_fd, 0)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, out_p[1], 1)) != 0 ||
        (rc = posix_spawn_file_actions_adddup2(&fa, err_p[1], 2)) != 0)
        goto destroy_all;
#ifdef FLOOR_HAVE_ADDCLOSEFROM
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
        goto destroy_all;
#endif
    if (sigemptyset(&mask) < 0 || sigfillset(&def) < 0) {
        rc = errno;
        goto destroy_all;
    }
    if ((rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF)) != 0 ||
        (rc = posix_spawnattr_setpgroup(&attr, 0)) != 0 ||
        (rc = posix_spawnattr_setsigmask(&attr, &mask)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(&attr, &def)) != 0)
        goto destroy_all;

    /* glibc's posix_spawn reports exec failures (ENOENT, EACCES, ...) as
     * its return value: it uses CLONE_VFORK and the child writes the errno
     * before _exit(127). */
    rc = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);

destroy_all:
    (void)posix_spawnattr_destroy(&attr);
destroy_fa:
    (void)posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        goto close_pipes;

    /* The child's ends are its own now. */
    close_if(&in_p[0]);
    close_if(&out_p[1]);
    close_if(&err_p[1]);

    c->pid = (int)pid;
    c->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (c->pidfd < 0) {
        siginfo_t si;
        rc = errno;
        (void)kill(pid, SIGKILL);
        while (waitid(P_PID, (id_t)pid, &si, WEXITED) < 0 && errno == EINTR)
            ;
        goto close_pipes;
    }
    (void)fcntl(c->pidfd, F_SETFD, FD_CLOEXEC); /* pidfd_open sets it already */
    c->in = in_p[1];
    c->out = out_p[0];
    c->err = err_p[0];
    return 0;

close_pipes:
    close_if(&in_p[0]);
    close_if(&in_p[1]);
    close_if(&out_p[0]);
    close_if(&out_p[1]);
    close_if(&err_p[0]);
    close_if(&err_p[1]);
    c->pid = -1;
    return rc;
}

/* Reads what is there; 1 at EOF (the descriptor is closed), 0 otherwise, or
 * minus errno. */
static int drain_some(int *fd, long long *count)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(*fd, buf, sizeof buf);
        if (n > 0) {
            *count += n;
            /* A short read means the pipe is empty for now: back to poll
             * rather than pay a read that would block (or EAGAIN). */
            if ((size_t)n < sizeof buf)
                return 0;
            continue;
        }
        if (n == 0) {
            close_if(fd);
            return 1;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        return -errno;
    }
}

static int reap(floor_child *c)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED) < 0) {
        if (errno != EINTR)
            return errno;
    }
    c->status = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    close_if(&c->pidfd);
    return 0;
}

int floor_finish(floor_child *c)
{
    int exited = 0;
    int rc = 0;
    /* A child reading its stdin would never see EOF otherwise. */
    close_if(&c->in);
    while (c->out >= 0 || c->err >= 0 || !exited) {
        struct pollfd pfd[3];
        pfd[0].fd = c->out;
        pfd[1].fd = c->err;
        pfd[2].fd = exited ? -1 : c->pidfd; /* poll ignores negative fds */
        for (int i = 0; i < 3; i++) {
            pfd[i].events = POLLIN;
            pfd[i].revents = 0;
        }
        if (poll(pfd, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            rc = errno;
            break;
        }
        if (pfd[0].revents) {
            int r = drain_some(&c->out, &c->out_bytes);
            if (r < 0) {
                rc = -r;
                break;
            }
        }
        if (pfd[1].revents) {
            int r = drain_some(&c->err, &c->err_bytes);
            if (r < 0) {
                rc = -r;
                break;
            }
        }
        if (pfd[2].revents) {
            if ((rc = reap(c)) != 0)
                break;
            exited = 1;
        }
    }
    if (rc != 0 && c->pidfd >= 0) {
        /* Never leave a child behind: end it and reap it. */
        (void)kill(c->pid, SIGKILL);
        (void)reap(c);
    }
    close_if(&c->in);
    close_if(&c->out);
    close_if(&c->err);
    close_if(&c->pidfd);
    return rc;
}

int floor_run(char *const argv[], int *status, long long *out_bytes)
{
    floor_child c;
    int rc = floor_spawn(argv, 0, &c);
    if (rc != 0)
        return rc;
    rc = floor_finish(&c);
    *status = c.status;
    *out_bytes = c.out_bytes;
    return rc;
}
''',
    'floor_drain.c': r'''/* The C floor for pipe throughput: read a child's stdout to EOF as fast as
 * C can when the bytes must land in our memory (no splice to /dev/null:
 * the engine must hand the bytes to a reader).  One blocking read() after
 * another into one reused buffer, so the floor pays only the kernel's copy.
 * With pipe_size > 0 the pipe is enlarged first
 * (F_SETPIPE_SZ), to show what a bigger pipe would buy. */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int floor_drain(char *const argv[], int pipe_size, size_t buf_size, long long *nbytes, int *status)
{
    floor_child c;
    char *buf;
    int rc;

    *nbytes = 0;
    *status = 0;
    if (buf_size == 0)
        return EINVAL;
    buf = malloc(buf_size);
    if (buf == NULL)
        return ENOMEM;
    if ((rc = floor_spawn(argv, 0, &c)) != 0) {
        free(buf);
        return rc;
    }
    /* The child's stderr was a pipe for floor_spawn's sake; this floor only
     * counts stdout, and floor_finish drains the (empty) stderr pipe. */
    if (pipe_size > 0 && fcntl(c.out, F_SETPIPE_SZ, pipe_size) < 0)
        rc = errno;
    while (rc == 0) {
        ssize_t n = read(c.out, buf, buf_size);
        if (n > 0) {
            *nbytes += n;
            continue;
        }
        if (n == 0)
            break;
        if (errno != EINTR)
            rc = errno;
    }
    free(buf);
    {
        int frc = floor_finish(&c);
        if (rc == 0)
            rc = frc;
    }
    *status = c.status;
    return rc;
}
''',
    'floor_roundtrip.c': r'''/* The C floor for one message round trip with a child that echoes lines
 * (cat): write the message to its stdin pipe, then read its stdout until a
 * newline has come back.  The child is started once with
 * floor_spawn(argv, 1, &c) (stdin, stdout and stderr pipes, blocking
 * descriptors) and ended with floor_close.
 *
 * Plain blocking write() and read(): the least a C program can do.  (A
 * poll() before each read, which a caller that must not block forever
 * needs, measured 0.4 us more on a 4.5 us round trip here.)
 * floor_roundtrip_n runs n round
 * trips in one call so that the ctypes call (about a microsecond) is paid
 * once per batch, not per message: the floor then holds no Python cost at
 * all. */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int floor_roundtrip(floor_child *c, const char *msg, size_t len, char *buf, size_t cap,
                    size_t *got)
{
    size_t done = 0;
    *got = 0;
    while (done < len) {
        ssize_t n = write(c->in, msg + done, len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        done += (size_t)n;
    }
    for (;;) {
        ssize_t n;
        if (*got == cap)
            return ENOBUFS;
        n = read(c->out, buf + *got, cap - *got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (n == 0)
            return EPIPE; /* the child closed its stdout before answering */
        if (memchr(buf + *got, '\n', (size_t)n) != NULL) {
            *got += (size_t)n;
            return 0;
        }
        *got += (size_t)n;
    }
}

int floor_roundtrip_n(floor_child *c, const char *msg, size_t len, char *buf, size_t cap,
                      size_t *got, long n)
{
    for (long i = 0; i < n; i++) {
        int rc = floor_roundtrip(c, msg, len, buf, cap, got);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int floor_close(floor_child *c)
{
    if (c->in >= 0) {
        if (close(c->in) < 0 && errno != EINTR) {
            c->in = -1;
            (void)floor_finish(c);
            return errno;
        }
        c->in = -1;
    }
    return floor_finish(c);
}
''',
}
# END FLOOR SOURCES


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
