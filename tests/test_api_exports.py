"""Every documented name is importable; the package layout contracts hold."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import Core.ProcessManager as pm

PACKAGE = Path(pm.__file__).parent
SEED_NAMES = [
    "execute_command", "ExecutionMode", "ExecutionResult", "CommandExecutor",
    "read_from_process", "get_process_output_info", "write_to_process", "send_signal_to_process",
    "interrupt_process", "terminate_process", "kill_process", "kill_process_tree",
    "kill_processes_by_name", "get_active_processes", "get_process_status",
    "communicate_with_process", "terminate_managed_process", "cleanup_finished_processes",
]


@pytest.mark.parametrize("name", SEED_NAMES + ["execute_command_async", "wait_for_process"])
def test_every_documented_name_is_importable(name: str) -> None:
    assert hasattr(pm, name)
    assert name in pm.__all__


def test_existing_callers_import_line() -> None:
    from Core.ProcessManager.execute_command import (  # noqa: F401
        CommandExecutor, ExecutionMode, ExecutionResult, execute_command, execute_command_async)


def test_seed_structure_modules() -> None:
    from Core.ProcessManager import (  # noqa: F401
        execute_command, process_killer, process_manager_tools, process_reader, process_writer)
    assert callable(process_reader.read_from_process)
    assert callable(process_writer.write_to_process)
    assert callable(process_killer.kill_processes_by_name)
    assert callable(process_manager_tools.communicate_with_process)


def test_execution_mode_values() -> None:
    assert [m.value for m in pm.ExecutionMode] == ["blocking", "background", "interactive", "monitored"]
    assert pm.ExecutionMode("background") is pm.ExecutionMode.BACKGROUND
    assert pm.ExecutionMode.BLOCKING == "blocking"


def test_execution_result_is_a_dataclass_with_the_fields() -> None:
    names = {f.name for f in dataclasses.fields(pm.ExecutionResult)}
    assert {"success", "command", "pid", "return_code", "stdout", "stderr", "execution_time", "mode",
            "error", "timed_out", "signal"} <= names
    result = pm.ExecutionResult(success=True, command="x")
    assert getattr(result, "timed_out") is False and getattr(result, "signal") is None


# _bench.py times subprocess as a peer (python -m Core.ProcessManager bench);
# it is the one module allowed to import it and to print.
BENCH = "_bench.py"


def test_no_subprocess_in_the_package() -> None:
    for source in PACKAGE.glob("*.py"):
        if source.name == BENCH:
            continue
        text = source.read_text()
        assert "import subprocess" not in text and "from subprocess" not in text, source


def test_no_print_in_the_package_except_cli() -> None:
    for source in PACKAGE.glob("*.py"):
        if source.name == BENCH:
            continue
        assert "print(" not in source.read_text(), source


def test_core_is_a_namespace_package() -> None:
    assert not (PACKAGE.parent / "__init__.py").exists()
    body = (PACKAGE / "__init__.py").read_text()
    after_docstring = body.split('"""', 2)[2]
    code = [line for line in after_docstring.splitlines() if line.strip() and not line.startswith("#")]
    assert code[0] == '__path__ = __import__("pkgutil").extend_path(__path__, __name__)'


def test_py_typed_marker() -> None:
    assert (PACKAGE / "py.typed").exists()


@pytest.mark.slow
def test_mypy_strict_is_clean() -> None:
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent)) or shutil.which("mypy")
    if mypy is None:
        pytest.skip("mypy not installed")
    root = PACKAGE.parent.parent
    done = subprocess.run([mypy, "--strict", "Core/"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
