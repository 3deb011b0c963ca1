"""Command policy: deny and allow rules by program name, in argv and in every
shell construct; max length, NUL bytes and non-string arguments; a refused
command is a failed result and nothing is started, in every mode, sync and
async, for an executor and for the module-level functions."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import given, settings, strategies as st

from Core.ProcessManager import (
    CommandExecutor,
    CommandPolicy,
    CommandStartError,
    ExecutionMode,
    PolicyDecision,
    execute_command,
    execute_command_async,
    get_default_executor,
)

DENY_GIT = CommandPolicy(deny=["git"])
REFUSED_GIT = "refused by policy: deny rule 'git' matched program 'git'"


# -- deny rules: the program wherever it appears -------------------------------------

@pytest.mark.parametrize("command", [
    ["git", "status"], ["/usr/bin/git", "push"], ["./git"], ("git",),
    ["env", "-i", "A=1", "git"], ["sudo", "-u", "root", "--", "git", "push"], ["nice", "-n", "5", "git"],
    ["nohup", "git"], ["timeout", "-s", "KILL", "5", "git"], ["xargs", "-I", "{}", "git", "{}"],
    ["sh", "-c", "git status"], ["bash", "-lc", "echo; git push"], ["env", "-S", "git status"],
    ["time", "-f", "%e", "git"], ["stdbuf", "-o", "L", "git"], ["setsid", "git"],
])
def test_deny_catches_the_program_in_argv_and_behind_wrappers(command: list[str]) -> None:
    decision = DENY_GIT.check(command)
    assert not decision and decision.rule == "deny 'git'" and decision.message == REFUSED_GIT


@pytest.mark.parametrize("script", [
    "git status", "echo a; git push", "echo a && git push", "false || git push", "ls | git apply",
    "sleep 1 & git push", "echo a\ngit push", "(git push)", "echo $(git rev-parse HEAD)",
    "echo `git log`", 'echo "$(git log)"', "echo ${X:-$(git log)}", "echo $((1 + $(git rev-list --count HEAD)))",
    "{ git push; }", "! git push", "if git diff --quiet; then echo clean; fi", "while git fetch; do :; done",
    "for x in a b; do git add $x; done", "case $x in a) git push;; *) echo no;; esac",
    "f() { git push; }; f", "g'i't push", '"git" push', "\\git push", "FOO=1 BAR=2 git push",
    "> out 2>&1 git push", "cat <<EOF\n$(git log)\nEOF", "echo `echo \\`git log\\``",
    "exec git", "command git", "env FOO=1 git", "sudo git", "xargs git", "nohup git &", "nice git",
    "timeout 5 git", "sh -c 'git push'", "bash -c \"echo; git push\"", "eval git push", "eval 'git push'",
    "trap 'git push' EXIT", "echo $(echo $(echo $(git log)))", "echo a |& git am",
])
def test_deny_catches_the_program_in_every_shell_construct(script: str) -> None:
    decision = DENY_GIT.check(script)
    assert not decision and decision.message == REFUSED_GIT, (script, decision)


@pytest.mark.parametrize("script", [
    "echo git", "echo 'git push'", "ls -la | grep git", "gitk", "git-lfs version", "# git push",
    "cat <<'EOF'\ngit push\nEOF", "cat <<EOF\ngit push\nEOF", "echo \"git $(date)\"", "X=git; echo $X",
])
def test_deny_lets_other_programs_and_mere_words_through(script: str) -> None:
    decision = DENY_GIT.check(script)
    assert decision and decision.rule is None and decision.message == "", (script, decision)


def test_rules_are_globs_or_whole_name_regexes() -> None:
    policy = CommandPolicy(deny=["python3*", re.compile(r"g.t")])
    assert policy.check(["python3.11", "-V"]).rule == "deny 'python3*'"
    assert policy.check("get x").message == "refused by policy: deny rule '/g.t/' matched program 'get'"
    assert policy.check(["gitk"]) and policy.check(["python"])  # a regex matches the whole name
    assert CommandPolicy(deny="git").deny == ("git",)          # one str is one rule
    with pytest.raises(TypeError):
        CommandPolicy(deny=[3])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        CommandPolicy(max_length=0)


def test_decision_lists_the_programs_found() -> None:
    policy = CommandPolicy(deny=["rm"])
    assert policy.check("cd /tmp && env A=1 make -j2 | tee log").programs == ("cd", "env", "make", "tee")
    assert policy.check(["sudo", "git"]).programs == ("sudo", "git")


def test_shell_false_and_shell_true_are_read_as_they_run() -> None:
    assert DENY_GIT.check("echo a; git", shell=False)  # argv: echo 'a;' git
    assert not DENY_GIT.check("git push", shell=False)
    assert not DENY_GIT.check(["echo a; git push", "arg0"], shell=True)  # the first item is the script


# -- allow-lists ------------------------------------------------------------------------

ALLOW = CommandPolicy(allow=["echo", "ls", "grep", "cd", "make", "true", "["])


@pytest.mark.parametrize("command", [
    "ls -la", "echo a | grep a", "cd /tmp && make -j2", "[ -f x ] || echo none", ["echo", "x"],
    "echo $(ls) `ls`", "X=1 make", "echo *.py", "for f in *; do echo $f; done",
])
def test_allow_list_accepts_commands_made_of_allowed_programs(command: Any) -> None:
    assert ALLOW.check(command), command


@pytest.mark.parametrize("command, program", [
    ("curl http://x", "curl"), ("ls; rm -rf x", "rm"), ("echo $(id)", "id"), ("echo `whoami`", "whoami"),
    (["python3", "-c", "print(1)"], "python3"), ("env ls", "env"), ("exit 1", "exit"),
])
def test_allow_list_refuses_unknown_programs(command: Any, program: str) -> None:
    decision = ALLOW.check(command)
    assert not decision and decision.rule == "allow"
    assert decision.message == f"refused by policy: allow rules: no rule matches program {program!r}"


@pytest.mark.parametrize("command, why", [
    ("eval echo hi", "'eval' runs text as commands"), (". ./script.sh", "'.' runs a script file"),
    ("source x", "'source' runs a script file"), ("trap 'echo' EXIT", "'trap' runs text as commands"),
    ("$CMD arg", "the command word '$CMD' is computed"), ('"$CMD"', "the command word '\"$CMD\"'"),
    ("$(echo ls) -la", "the command word '$(echo ls)'"), ("`echo ls`", "the command word '`echo ls`'"),
    ("ec* hi", "the command word 'ec*'"), ("{echo,hi}", "the command word '{echo,hi}'"),
    ("sh -c 'echo hi'", "a nested shell ('sh')"), (["bash", "-c", "echo hi"], "a nested shell ('bash')"),
    ("echo a | sh", "a nested shell ('sh')"), ("sudo -s echo", "'sudo -s' and 'sudo -i' run a shell"),
    ("env -S 'echo hi'", "'env -S' splits its own command line"),
])
def test_allow_list_refuses_what_cannot_be_known_before_it_runs(command: Any, why: str) -> None:
    policy = CommandPolicy(allow=["echo", "ls", "sh", "bash", "sudo", "env", "eval", ".", "source", "trap"])
    decision = policy.check(command)
    assert not decision and decision.rule == "static", (command, decision)
    assert decision.message.startswith("refused by policy: an allow-list needs every program known in advance: ")
    assert why in decision.message


def test_deny_wins_over_allow_and_an_empty_allow_list_refuses_everything() -> None:
    both = CommandPolicy(allow=["*"], deny=["git"])
    assert both.check("ls") and both.check("git push").rule == "deny 'git'"
    assert CommandPolicy(allow=[]).check(["true"]).rule == "allow"
    assert CommandPolicy(allow=["*"]).check("$X").rule == "static"


def test_shell_text_that_cannot_be_read_is_refused() -> None:
    for script in ("echo 'unterminated", 'echo "x', "echo $(ls", "echo `ls", "echo " + "$(" * 100 + "ls"):
        decision = DENY_GIT.check(script)
        assert not decision and decision.rule == "syntax", script
    start = time.monotonic()
    for script in ("$(" * 20000, "`" * 20001, "${" * 20000, "a" * 200000, "(" * 100000):
        DENY_GIT.check(script)
    assert time.monotonic() - start < 5


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=" \t\n;&|()<>$`'\"\\{}[]*?#=-!abgit", max_size=40), st.text(max_size=40),
                 st.lists(st.one_of(st.text(max_size=10), st.integers(), st.none(), st.binary(max_size=5)),
                          max_size=4)),
       st.sampled_from([None, True, False]))
def test_check_never_raises(command: Any, shell: Any) -> None:
    for policy in (DENY_GIT, ALLOW, CommandPolicy(max_length=10)):
        assert isinstance(policy.check(command, shell), PolicyDecision)


# -- length, NUL bytes, argument types -----------------------------------------------------

def test_max_length_counts_bytes() -> None:
    policy = CommandPolicy(max_length=10)
    assert policy.check("echo 12345") and policy.check(["echo", "12345"])  # 4 + 1 + 5
    decision = policy.check("echo 123456")
    assert decision.rule == "max_length"
    assert decision.message == "refused by policy: max_length: the command is 11 bytes, over 10"
    assert policy.check(["echo", "é" * 3]).rule == "max_length"  # 4 + 1 + 6 bytes


def test_nul_bytes_and_non_string_arguments_say_which_argument() -> None:
    policy = CommandPolicy()
    assert policy.check(["echo", "a\0b"]).message == \
        "refused by policy: no NUL bytes: command argument 1 contains a NUL byte"
    assert policy.check("echo a\0b").rule == "nul"
    assert policy.check(["echo", 3]).message == \
        "refused by policy: string arguments only: command argument 1 is int, not str"
    assert policy.check(["echo", None]).rule == "type" and policy.check(["echo", True]).rule == "type"
    assert policy.check(42).message == \
        "refused by policy: string arguments only: the command is int, not str or a list of str"
    assert policy.check([b"echo", Path("x")])  # bytes and paths are strings too


def test_the_policy_result_names_the_rule_in_execute_command(api_executor: CommandExecutor) -> None:
    api_executor.policy = CommandPolicy(deny=["git"], max_length=50)
    cases = [(["echo", "a\0"], "no NUL bytes: command argument 1"), (["echo", 1.5], "string arguments only"),
             ("echo " + "x" * 50, "max_length"), ("echo; git push", "deny rule 'git'")]
    for command, words in cases:
        r = api_executor.execute_command(command)
        assert not r.success and r.pid is None and r.return_code is None
        assert r.error is not None and r.error.startswith("refused by policy: ") and words in r.error, r.error
        with pytest.raises(CommandStartError, match="refused by policy"):
            r.check()


# -- a refusal starts nothing ------------------------------------------------------------

@pytest.fixture
def marker(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "marker"
    yield path


def refused_commands(marker: Path) -> list[Any]:
    before = marker.with_name("before")
    return [["touch", str(marker)], f"touch {marker}", f"echo hi > {before}; touch {marker}",
            f"echo $(touch {marker})", ["sh", "-c", f"touch {marker}"], ["env", "touch", str(marker)]]


@pytest.mark.parametrize("mode", list(ExecutionMode))
def test_a_refused_command_spawns_nothing_in_any_mode(api_executor: CommandExecutor, marker: Path,
                                                      mode: ExecutionMode) -> None:
    api_executor.policy = CommandPolicy(deny=["touch"])
    completed: list[object] = []
    for command in refused_commands(marker):
        r = api_executor.execute_command(command, mode=mode, on_complete=completed.append, timeout=5)
        assert not r.success and r.pid is None and r.mode is mode
        assert r.error == "refused by policy: deny rule 'touch' matched program 'touch'"
    time.sleep(0.1)  # a started process would have made its file by now
    assert not marker.exists() and not marker.with_name("before").exists()
    assert api_executor.get_processes() == {} and completed == []


def test_async_refusal_spawns_nothing(api_executor: CommandExecutor, marker: Path) -> None:
    api_executor.policy = CommandPolicy(allow=["echo"])

    async def run() -> list[Any]:
        return [await api_executor.execute_command_async(c, mode=m) for c in refused_commands(marker)
                for m in (ExecutionMode.BLOCKING, ExecutionMode.BACKGROUND)]

    results = asyncio.run(run())
    assert all(not r.success and r.pid is None and (r.error or "").startswith("refused by policy:")
               for r in results)
    assert not marker.exists() and api_executor.get_processes() == {}
    ok = asyncio.run(api_executor.execute_command_async("echo allowed"))
    assert ok.success and ok.stdout == "allowed\n"


@pytest.fixture
def default_policy() -> Iterator[CommandExecutor]:
    executor = get_default_executor()
    yield executor
    executor.policy = None


def test_default_executor_policy_applies_to_the_module_functions(default_policy: CommandExecutor,
                                                                 marker: Path) -> None:
    assert default_policy.policy is None
    default_policy.policy = CommandPolicy(deny=["touch"])
    r = execute_command(["touch", str(marker)])
    assert not r.success and r.error == "refused by policy: deny rule 'touch' matched program 'touch'"
    r = asyncio.run(execute_command_async(f"true && touch {marker}", mode=ExecutionMode.BACKGROUND))
    assert not r.success and r.pid is None
    assert not marker.exists()
    assert execute_command("echo still allowed").stdout == "still allowed\n"
    default_policy.policy = None
    assert execute_command(["touch", str(marker)]).success and marker.exists()


def test_policy_is_set_at_creation_or_later_and_checked(marker: Path) -> None:
    executor = CommandExecutor(policy=CommandPolicy(deny=["touch"]))
    try:
        assert not executor.execute_command(["touch", str(marker)]).success
        executor.policy = None
        assert executor.execute_command(["touch", str(marker)]).success and marker.exists()
        with pytest.raises(TypeError):
            executor.policy = ["touch"]  # type: ignore[assignment]
        assert repr(CommandPolicy(allow=["ls"], max_length=9)) == \
            "CommandPolicy(allow=('ls',), deny=(), max_length=9)"
    finally:
        executor.cleanup_finished_processes()


def test_cli_policy_and_clean_env(capsys: pytest.CaptureFixture[str], marker: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from Core.ProcessManager.__main__ import main

    assert main(["run", "--deny", "touch", "--", f"echo hi && touch {marker}"]) == 125
    assert "refused by policy: deny rule 'touch' matched program 'touch'" in capsys.readouterr().err
    assert main(["run", "--allow", "echo", "--", "echo hi; true"]) == 125
    assert "no rule matches program 'true'" in capsys.readouterr().err
    assert not marker.exists()
    assert main(["run", "--allow", "echo", "--", "echo", "allowed"]) == 0
    assert capsys.readouterr().out == "allowed\n"
    monkeypatch.setenv("PM_LEAK", "leaked")
    assert main(["run", "--clean-env", "--", "printenv PM_LEAK || echo unset"]) == 0
    assert capsys.readouterr().out == "unset\n"
