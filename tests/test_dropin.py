"""Core.ProcessManager installs beside a user's own Core package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import Core.ProcessManager as pm

CHECK = """
import json, Core, Core.Config, Core.ProcessManager as pm
from Core.Config.settings import VALUE
from Core.ProcessManager import ExecutionMode, execute_command
r = execute_command(["echo", "from user project"], mode=ExecutionMode.BLOCKING)
print(json.dumps({"value": VALUE, "stdout": r.stdout, "config": Core.Config.__file__,
                  "pm": pm.__file__}))
"""


def _user_project(root: Path) -> None:
    """A project with its own Core/__init__.py (with the documented line) and Core.Config."""
    (root / "Core" / "Config").mkdir(parents=True)
    (root / "Core" / "__init__.py").write_text(
        '__path__ = __import__("pkgutil").extend_path(__path__, __name__)\n')
    (root / "Core" / "Config" / "__init__.py").write_text("")
    (root / "Core" / "Config" / "settings.py").write_text("VALUE = 42\n")
    (root / "check.py").write_text(CHECK)


def test_user_core_package_and_processmanager_both_import(tmp_path: Path) -> None:
    _user_project(tmp_path)
    # The user's project first on the path, then wherever Core.ProcessManager comes from.
    pm_root = str(Path(pm.__file__).resolve().parent.parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), pm_root] + [p for p in sys.path if p])
    done = subprocess.run([sys.executable, "check.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["value"] == 42 and report["stdout"] == "from user project\n"
    assert report["config"].startswith(str(tmp_path))
    assert not report["pm"].startswith(str(tmp_path))
