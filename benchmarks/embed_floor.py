"""Copy benchmarks/cfloor/* into Core/ProcessManager/_bench.py (FLOOR_SOURCES),
so that an installed package can build the same C floor for
``python -m Core.ProcessManager bench``.  Run after editing a floor source:

    python benchmarks/embed_floor.py

test_cfloor.py::test_bench_module_embeds_these_sources fails while the copy
is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CFLOOR = HERE / "cfloor"
BENCH = HERE.parent / "Core" / "ProcessManager" / "_bench.py"
BEGIN, END = "# BEGIN FLOOR SOURCES\n", "# END FLOOR SOURCES\n"


def floor_sources() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(CFLOOR.iterdir()) if p.suffix in (".c", ".h")}


def render(sources: dict[str, str]) -> str:
    lines = ["FLOOR_SOURCES: dict[str, str] = {\n"]
    for name, text in sources.items():
        if "'''" in text or text.endswith("\\"):
            raise SystemExit(f"{name}: cannot be embedded as a raw triple-quoted string")
        lines.append(f"    {name!r}: r'''{text}''',\n")
    lines.append("}\n")
    return "".join(lines)


def main() -> int:
    src = BENCH.read_text()
    a, b = src.index(BEGIN) + len(BEGIN), src.index(END)
    block = render(floor_sources())
    ns: dict[str, object] = {}
    exec(block, ns)  # the copy must read back exactly
    assert ns["FLOOR_SOURCES"] == floor_sources()
    BENCH.write_text(src[:a] + block + src[b:])
    print(f"{BENCH}: {len(floor_sources())} floor sources embedded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
