"""python -m Core.ProcessManager run ... exits with the command's status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(args: list[str], env: dict[str, str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "Core.ProcessManager", "run", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=cwd)


def test_cli_streams_output_and_exits_with_status(api_child_env: dict[str, str]) -> None:
    ok = run_cli(["--", "echo", "hello"], api_child_env)
    assert (ok.returncode, ok.stdout) == (0, "hello\n")
    shell = run_cli(["--", "echo out; echo err >&2; exit 3"], api_child_env)
    assert (shell.returncode, shell.stdout, shell.stderr) == (3, "out\n", "err\n")


def test_cli_exit_codes(api_child_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(["--timeout", "0.3", "--", "sleep", "30"], api_child_env).returncode == 124
    assert run_cli(["--", "pm-no-such-command-xyz"], api_child_env).returncode == 127
    assert run_cli(["--", "pm-no-such-command-xyz", "arg"], api_child_env).returncode == 127
    plain = tmp_path / "plain"
    plain.write_text("x")
    if os.geteuid() != 0 or not os.access(plain, os.X_OK):
        assert run_cli(["--", str(plain), "a"], api_child_env).returncode == 126
    assert run_cli(["--", "sh", "-c", "kill -9 $$"], api_child_env).returncode == 128 + 9
    missing = run_cli(["--cwd", str(tmp_path / "nope"), "--", "pwd"], api_child_env)
    assert missing.returncode == 125 and "working directory does not exist" in missing.stderr


def test_cli_cwd(api_child_env: dict[str, str], tmp_path: Path) -> None:
    assert run_cli(["--cwd", str(tmp_path), "--", "pwd"], api_child_env).stdout == f"{tmp_path}\n"


@pytest.mark.parametrize("args", [[], ["--"]])
def test_cli_usage_errors(api_child_env: dict[str, str], args: list[str]) -> None:
    assert run_cli(args, api_child_env).returncode == 2


def test_cli_runs_from_the_source_tree(api_child_env: dict[str, str]) -> None:
    # From the repository root, the source tree's package finds the compiled engine.
    root = Path(__file__).resolve().parent.parent
    assert run_cli(["--", "true"], api_child_env, cwd=str(root)).returncode == 0
