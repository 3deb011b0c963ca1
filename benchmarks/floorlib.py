"""The C floor for the benchmark suite: the sources are the package's
Core/ProcessManager/_cfloor/ (so ``python -m Core.ProcessManager bench``
builds the very same floor), built and bound by Core.ProcessManager._bench.
_cfloor/floor_common.c says why the floor is a shared library timed from
Python in the same loop as ours."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from Core.ProcessManager._bench import (  # noqa: F401  (re-exported)
    CFLOOR_DIR, Argv, Child, Echo, Floor, FloorBuildError, build_floor, find_compiler, floor_sources)


def build(outdir: Path, cc: Optional[str] = None, srcdir: Path = CFLOOR_DIR) -> tuple[Path, Path]:
    """Compile libfloor.so and floor_cli from srcdir into outdir."""
    return build_floor(outdir, floor_sources(srcdir), cc)
