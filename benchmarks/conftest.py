"""Session set-up for the benchmarks (self-contained: nothing from tests/).

The benchmarks are not part of the default test run (pyproject's testpaths
is ["tests"]); run them with the command in benchmarks/README.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from Core.ProcessManager._bench import cpu_model  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes more than a few seconds (deselect with -m 'not slow')")


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"cpu: {cpu_model()}, {os.cpu_count()} logical cpus"]
    try:
        import Core.ProcessManager as pm

        lines.append(f"Core.ProcessManager from {Path(pm.__file__).parent}")
    except Exception as e:  # not built yet: the engine benchmarks skip
        lines.append(f"Core.ProcessManager not importable: {e!r}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    if harness.REPORT:
        terminalreporter.section("ours against the C floor and the peers (medians, same run)")
        for block in harness.REPORT:
            terminalreporter.write_line(block)


@pytest.fixture(scope="session")
def cfloor(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The C floor, compiled for this session with cc -O2 -std=c11 -Wall
    -Wextra into a temporary directory and loaded with ctypes."""
    try:
        import floorlib
    except ImportError as e:
        pytest.skip(f"Core.ProcessManager is not installed ({e}): its _bench module builds the floor")
    cc = floorlib.find_compiler()
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH: the C floor cannot be built, "
                    "so nothing can be compared against it")
    lib, cli = floorlib.build(tmp_path_factory.mktemp("cfloor"), cc)
    return floorlib.Floor(lib, cli)


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    """Core.ProcessManager._engine, or a skip saying why it is missing."""
    try:
        from Core.ProcessManager import _engine
    except ImportError as e:
        pytest.skip(f"the engine is not built/installed ({e}); "
                    "pip install '.[test]' into the venv that runs the benchmarks")
    return _engine


@pytest.fixture(scope="session")
def pm():  # type: ignore[no-untyped-def]
    """The documented API (Core.ProcessManager), or a skip saying why."""
    try:
        import Core.ProcessManager as pm
        pm.execute_command  # noqa: B018
    except (ImportError, AttributeError) as e:
        pytest.skip(f"the documented API is not importable yet ({e!r})")
    return pm

