"""The C floor for the benchmark suite: built from benchmarks/cfloor/*.c
(the originals) with the builder and ctypes binding of
Core.ProcessManager._bench, which also carries an embedded copy of these
sources for ``python -m Core.ProcessManager bench``.  cfloor/floor_common.c
says why the floor is a shared library timed from Python in the same loop
as ours."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from Core.ProcessManager._bench import (  # noqa: F401  (re-exported)
    Argv, Child, Echo, Floor, FloorBuildError, find_compiler, build_floor)

CFLOOR_DIR = Path(__file__).resolve().parent / "cfloor"


def sources(srcdir: Path = CFLOOR_DIR) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(srcdir.iterdir()) if p.suffix in (".c", ".h")}


def build(outdir: Path, cc: Optional[str] = None, srcdir: Path = CFLOOR_DIR) -> tuple[Path, Path]:
    """Compile libfloor.so and floor_cli from srcdir into outdir."""
    return build_floor(outdir, sources(srcdir), cc)
