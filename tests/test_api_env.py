"""Environment isolation (clean_env), secrets never logged, commands redacted
in logs."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import time
from typing import Any, Iterator

import pytest

from Core.ProcessManager import (
    DEFAULT_REDACTIONS,
    CommandExecutor,
    CommandPolicy,
    ExecutionMode,
    ExecutionResult,
    execute_command,
    execute_command_async,
    get_default_executor,
    redact_command,
)

ENV = shutil.which("env") or "/usr/bin/env"


def child_env(result: ExecutionResult) -> dict[str, str]:
    assert result.success, result.error
    return dict(line.split("=", 1) for line in result.stdout.splitlines())


@pytest.fixture
def parent_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A known parent environment: the four kept variables and one that must not pass."""
    values = {"PATH": "/usr/bin:/bin", "HOME": "/home/pm-test", "LANG": "C.UTF-8", "TERM": "xterm-pm",
              "PM_LEAK": "leaked"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


# -- clean_env ------------------------------------------------------------------------

def test_clean_env_gives_the_child_only_the_minimal_set(parent_env: dict[str, str]) -> None:
    minimal = {k: parent_env[k] for k in ("PATH", "HOME", "LANG", "TERM")}
    assert child_env(execute_command([ENV], clean_env=True)) == minimal
    assert child_env(execute_command([ENV], extra_env={"A": "1"}))["PM_LEAK"] == "leaked"  # default: inherit


def test_clean_env_adds_env_and_extra_env(parent_env: dict[str, str]) -> None:
    r = execute_command([ENV], clean_env=True, env={"A": "1", "PATH": "/opt/bin"}, extra_env={"B": "2"})
    assert child_env(r) == {"PATH": "/opt/bin", "HOME": "/home/pm-test", "LANG": "C.UTF-8",
                            "TERM": "xterm-pm", "A": "1", "B": "2"}


def test_clean_env_path_defaults_to_defpath_and_unset_names_stay_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PATH", "HOME", "LANG", "TERM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PM_LEAK", "leaked")
    assert child_env(execute_command([ENV], clean_env=True)) == {"PATH": os.defpath}
    # a shell command finds its programs through that PATH (the shell adds PWD itself)
    assert execute_command("printenv PATH", clean_env=True).stdout == f"{os.defpath}\n"


def test_clean_env_in_every_entry_point(parent_env: dict[str, str]) -> None:
    expected = {k: parent_env[k] for k in ("PATH", "HOME", "LANG", "TERM")} | {"X": "1"}
    executor = CommandExecutor(clean_env=True)
    try:
        assert child_env(executor.execute_command([ENV], extra_env={"X": "1"})) == expected
        assert "PM_LEAK" in child_env(executor.execute_command([ENV], clean_env=False))
        assert child_env(asyncio.run(executor.execute_command_async([ENV], extra_env={"X": "1"}))) == expected
        assert child_env(asyncio.run(execute_command_async([ENV], clean_env=True, extra_env={"X": "1"}))) == expected
        done: list[ExecutionResult] = []
        started = executor.execute_command([ENV], mode=ExecutionMode.MONITORED, extra_env={"X": "1"},
                                           on_complete=done.append)
        assert started.success
        deadline = time.monotonic() + 5
        while not done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert done and child_env(done[0]) == expected
    finally:
        executor.terminate_all(timeout=2.0)
        executor.cleanup_finished_processes()


def test_default_executor_clean_env_default(parent_env: dict[str, str]) -> None:
    executor = get_default_executor()
    executor.clean_env = True
    try:
        assert "PM_LEAK" not in child_env(execute_command([ENV]))
    finally:
        executor.clean_env = False
    assert "PM_LEAK" in child_env(execute_command([ENV]))


# -- secrets never logged -------------------------------------------------------------------

SECRET = "s3cr3t-VALUE-4f9a"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="Core.ProcessManager")
    yield caplog


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), str(record.exc_text or "")]
    return "\n".join(parts)


def test_env_values_never_reach_logs_or_errors(debug_logs: pytest.LogCaptureFixture, tmp_path: Any) -> None:
    secret_env = {"PM_SECRET": SECRET, "PATH": os.environ.get("PATH", os.defpath)}
    runs: list[tuple[Any, dict[str, Any]]] = [
        (["true"], {}),                                        # success
        ("exit 3", {}),                                        # failure
        (["sleep", "5"], {"timeout": 0.2}),                    # timeout
        (["/nonexistent/pm-program"], {}),                     # spawn error
        (["true"], {"cwd": str(tmp_path / "missing")}),        # bad cwd
        ("echo $PM_SECRET; exit 1", {"clean_env": True}),      # the child prints it: not a log
        (["true"], {"mode": ExecutionMode.MONITORED, "on_complete": lambda r: None}),
        (["true"], {"mode": ExecutionMode.BACKGROUND}),
    ]
    results = []
    for command, kwargs in runs:
        results.append(execute_command(command, env=secret_env, **kwargs))
        results.append(execute_command(command, extra_env={"PM_SECRET": SECRET}, **kwargs))
    results.append(asyncio.run(execute_command_async(["sleep", "5"], timeout=0.2, extra_env={"PM_SECRET": SECRET})))
    # an invalid variable beside the secret, and a secret given as part of a name by mistake
    results.append(execute_command(["true"], extra_env={"PM_SECRET": SECRET, "BAD": 3}))
    results.append(execute_command(["true"], extra_env={f"PM_SECRET={SECRET}": "x"}))
    results.append(execute_command(["true"], extra_env={"PM_SECRET": SECRET + "\ud800"}))
    refusing = CommandExecutor(policy=CommandPolicy(deny=["true"]))
    results.append(refusing.execute_command(["true"], extra_env={"PM_SECRET": SECRET}))
    get_default_executor().terminate_all(timeout=2.0)

    assert [r.timed_out for r in results[4:6]] == [True, True] and results[-1].error
    assert "PM_SECRET" in (results[-3].error or "") and "'BAD'" in (results[-4].error or "")
    assert any(record.levelno == logging.DEBUG for record in debug_logs.records)
    assert SECRET not in logged_text(debug_logs)
    for r in results:
        assert SECRET not in (r.error or ""), r.error
    assert SECRET in results[10].stdout  # the child itself does see it


# -- redaction of logged commands ----------------------------------------------------------

@pytest.mark.parametrize("command, secret", [
    ("mysql --password=hunter2 db", "hunter2"), (["mysql", "--password", "hunter2"], "hunter2"),
    ("echo password hunter2", "hunter2"), ("curl -d token=tok-123abc x", "tok-123abc"),
    ("GITHUB_TOKEN=ghp_abcdef123 gh pr list", "ghp_abcdef123"),
    (["curl", "-H", "Authorization: Bearer eyJhbGciOi.payload.sig"], "eyJhbGciOi.payload.sig"),
    ("aws s3 ls --key AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("git clone https://alice:pa55w0rd@example.com/r.git", "pa55w0rd"),
    (["tool", "--api-key=a b c"], "a b c"), ("tool api_key: k3y-v4lue", "k3y-v4lue"),
])
def test_default_patterns_redact_logged_commands(debug_logs: pytest.LogCaptureFixture, command: Any,
                                                  secret: str) -> None:
    r = execute_command(command, mode=ExecutionMode.BACKGROUND)
    assert r.command == (command if isinstance(command, str) else r.command)  # the caller's text, unredacted
    assert secret in r.command
    text = logged_text(debug_logs)
    assert "***" in text and secret not in text, text


def test_executor_patterns_and_every_logged_path(debug_logs: pytest.LogCaptureFixture) -> None:
    executor = CommandExecutor(redact=[r"sekrit-\w+", re.compile(r"id=(?P<secret>\d+)")],
                               policy=CommandPolicy(deny=["rm"]))
    try:
        ok = executor.execute_command("echo sekrit-one id=12345")
        missing = executor.execute_command(["/nonexistent/pm", "sekrit-two"])
        refused = executor.execute_command("rm sekrit-three --token=t0k")
    finally:
        executor.cleanup_finished_processes()
    assert ok.success and "sekrit-one id=12345" in ok.command and missing.pid is None and not refused.success
    text = logged_text(debug_logs)
    for secret in ("sekrit-one", "12345", "sekrit-two", "sekrit-three", "t0k"):
        assert secret not in text, text
    assert "id=***" in text and "refused by policy" in text
    assert [p.pattern for p in executor.redact] == [r"sekrit-\w+", r"id=(?P<secret>\d+)"]
    with pytest.raises(re.error):
        CommandExecutor(redact=["("])
    with pytest.raises(TypeError):
        CommandExecutor(redact=[3])  # type: ignore[list-item]


def test_redact_command_is_usable_on_its_own_and_fast() -> None:
    assert redact_command("login --password=x1 --user bob") == "login --password=*** --user bob"
    assert redact_command("a sekrit b", [r"sekrit"]) == "a *** b"
    assert redact_command("nothing to hide here") == "nothing to hide here"
    assert len(DEFAULT_REDACTIONS) >= 5
    start = time.monotonic()
    for text in ("a" * 200000, "token" * 40000, "x=" * 100000, "://" * 50000, "'" * 100000, "password " * 20000):
        redact_command(text)
    assert time.monotonic() - start < 5
