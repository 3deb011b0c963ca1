"""Build the C floor (benchmarks/cfloor/*.c) and call it through ctypes.

The floor is a shared library loaded into the benchmark's own process, so
that each call can be timed in the same loop as the engine and its Python
peers; cfloor/floor_common.c says why that is the fairest comparison.
ctypes.CDLL releases the GIL around every call.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Optional, Sequence

CFLOOR_DIR = Path(__file__).resolve().parent / "cfloor"
CFLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra"]
LIB_SOURCES = ["floor_common.c", "floor_bg.c", "floor_roundtrip.c", "floor_drain.c"]


class FloorBuildError(RuntimeError):
    pass


def find_compiler() -> Optional[str]:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def build(outdir: Path, cc: Optional[str] = None, srcdir: Path = CFLOOR_DIR) -> tuple[Path, Path]:
    """Compile libfloor.so and floor_cli into outdir; returns both paths.
    Raises FloorBuildError with the compiler's output on failure (warnings
    are shown but do not fail the build)."""
    cc = cc or find_compiler()
    if cc is None:
        raise FloorBuildError("no C compiler (cc, gcc or clang) on PATH")
    outdir.mkdir(parents=True, exist_ok=True)
    srcs = [str(srcdir / s) for s in LIB_SOURCES]
    lib = outdir / "libfloor.so"
    cli = outdir / "floor_cli"
    for cmd in (
        [cc, *CFLAGS, "-fPIC", "-shared", "-o", str(lib), *srcs],
        [cc, *CFLAGS, "-o", str(cli), str(srcdir / "floor_cli.c"), *srcs],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise FloorBuildError(f"{' '.join(cmd)} failed:\n{proc.stderr}")
        if proc.stderr.strip():
            # -Wall -Wextra must stay quiet: a warning is a bug in the floor.
            raise FloorBuildError(f"{' '.join(cmd)} warned:\n{proc.stderr}")
    return lib, cli


class Child(ctypes.Structure):
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
    """A NULL-terminated char *argv[] built once, outside any timing (a C
    program has its argv ready; converting Python objects is our cost, not
    the floor's)."""

    def __init__(self, argv: Sequence[str | bytes]):
        items = [a.encode() if isinstance(a, str) else a for a in argv]
        self._keep = [ctypes.c_char_p(a) for a in items]
        self.array = (ctypes.c_char_p * (len(items) + 1))(*self._keep, None)


class Floor:
    """The floor functions of libfloor.so, one Python method each."""

    def __init__(self, lib_path: Path, cli_path: Optional[Path] = None):
        self.lib_path = lib_path
        self.cli_path = cli_path
        lib = ctypes.CDLL(str(lib_path), use_errno=False)
        argv_t = ctypes.POINTER(ctypes.c_char_p)
        child_p = ctypes.POINTER(Child)
        lib.floor_init.argtypes = []
        lib.floor_run.argtypes = [argv_t, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_longlong)]
        lib.floor_spawn.argtypes = [argv_t, ctypes.c_int, child_p]
        lib.floor_finish.argtypes = [child_p]
        lib.floor_bg_start.argtypes = [argv_t, child_p]
        lib.floor_bg_reap.argtypes = [child_p, ctypes.c_int]
        lib.floor_roundtrip.argtypes = [child_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
        lib.floor_roundtrip_n.argtypes = lib.floor_roundtrip.argtypes + [ctypes.c_long]
        lib.floor_close.argtypes = [child_p]
        lib.floor_drain.argtypes = [argv_t, ctypes.c_int, ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_longlong), ctypes.POINTER(ctypes.c_int)]
        for name in ("floor_init", "floor_run", "floor_spawn", "floor_finish", "floor_bg_start",
                     "floor_bg_reap", "floor_roundtrip", "floor_roundtrip_n", "floor_close", "floor_drain"):
            getattr(lib, name).restype = ctypes.c_int
        self.lib = lib
        _check(lib.floor_init(), "init")
        self._status = ctypes.c_int()
        self._bytes = ctypes.c_longlong()

    # -- blocking run -----------------------------------------------------
    def runner(self, argv: Sequence[str | bytes]):
        """A zero-argument callable doing one blocking run of argv; all the
        ctypes plumbing is bound beforehand so a call costs one foreign call.
        Returns the child's exit status."""
        a = Argv(argv)
        fn = self.lib.floor_run
        st, nb = self._status, self._bytes
        arr, pst, pnb = a.array, ctypes.byref(st), ctypes.byref(nb)

        def run() -> int:
            rc = fn(arr, pst, pnb)
            if rc:
                _check(rc, "run")
            return st.value

        run.argv = a  # type: ignore[attr-defined]  # keep the buffers alive
        return run

    # -- spawn now, finish later (the scale floor) -------------------------
    def spawner(self, argv: Sequence[str | bytes]):
        """A callable starting argv (stdin /dev/null, stdout and stderr
        pipes); give each Child to finish() to drain, reap and close."""
        a = Argv(argv)
        fn = self.lib.floor_spawn
        arr = a.array

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
        return c.status

    # -- background start -------------------------------------------------
    def bg_starter(self, argv: Sequence[str | bytes]):
        """A callable starting argv in the background; returns a Child to be
        given to bg_reap later."""
        a = Argv(argv)
        fn = self.lib.floor_bg_start
        arr = a.array

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
        return c.status

    # -- message round trip -------------------------------------------------
    def open_echo(self, argv: Sequence[str | bytes] = ("/bin/cat",)) -> "Echo":
        return Echo(self, argv)

    # -- throughput ---------------------------------------------------------
    def drain(self, argv: Sequence[str | bytes], pipe_size: int = 0, buf_size: int = 1 << 20) -> int:
        a = Argv(argv)
        nb, st = ctypes.c_longlong(), ctypes.c_int()
        _check(self.lib.floor_drain(a.array, pipe_size, buf_size, ctypes.byref(nb), ctypes.byref(st)),
               "drain")
        if st.value != 0:
            raise RuntimeError(f"C floor drain: {argv!r} exited with {st.value}")
        return nb.value


class Echo:
    """A line-echoing child held by the floor (stdin, stdout and stderr pipes)."""

    def __init__(self, floor: Floor, argv: Sequence[str | bytes]):
        self._lib = floor.lib
        self._argv = Argv(argv)
        self.child = Child()
        _check(self._lib.floor_spawn(self._argv.array, 1, ctypes.byref(self.child)), "spawn")
        self._buf = ctypes.create_string_buffer(1 << 16)
        self._got = ctypes.c_size_t()

    @property
    def pid(self) -> int:
        return self.child.pid

    def roundtrip_fn(self, msg: bytes, count: int = 1):
        """A callable doing count round trips of msg (which ends in a
        newline) in one foreign call; returns the last reply."""
        fn = self._lib.floor_roundtrip_n
        pc, buf, cap, got = ctypes.byref(self.child), self._buf, len(self._buf), self._got
        pgot = ctypes.byref(got)
        n = len(msg)

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
        return self.child.status
