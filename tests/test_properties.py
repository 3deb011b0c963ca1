"""Property tests over the public functions' arguments: whatever they are
given, they answer (never an uncaught exception), never hang past the
timeout, and leave no process or descriptor behind."""

from __future__ import annotations

import os
import signal
import time
from typing import Iterator

import psutil
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from Core.ProcessManager import (
    ExecutionMode,
    cleanup_finished_processes,
    communicate_with_process,
    execute_command,
    get_process_output_info,
    get_process_status,
    kill_process,
    read_from_process,
    send_signal_to_process,
    write_to_process,
)
from Core.ProcessManager import _engine as E

pytestmark = pytest.mark.stress

texts = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
words = st.one_of(texts, st.binary(max_size=20), st.integers(), st.none(), st.floats(allow_nan=True))
commands = st.one_of(
    texts,                                   # shell strings, including garbage
    st.lists(texts, max_size=4),             # argv lists, including empty ones and NULs
    st.lists(words, max_size=3),             # lists with non-strings
    st.sampled_from([["echo", "ok"], "echo ok", ["true"], ["sh", "-c", "exit 3"], ["cat"]]),
    words,
)
envs = st.one_of(st.none(), st.dictionaries(texts, st.one_of(texts, st.integers()), max_size=3), words)
cwds = st.one_of(st.none(), st.sampled_from(["/", "/tmp", "/nonexistent-pm", "/etc/passwd", ""]), words)
timeouts = st.one_of(st.none(), st.floats(min_value=-5, max_value=0.5), st.just(float("nan")),
                     st.integers(min_value=-3, max_value=1), texts)
modes = st.one_of(st.sampled_from(list(ExecutionMode)), st.sampled_from(["blocking", "nope", 3, None]))
datas = st.one_of(st.none(), texts, st.binary(max_size=50), st.integers())
signals = st.one_of(st.sampled_from(["SIGINT", "INT", "sigterm", "SIGNOPE", "", 0, 15, 999, -1,
                                     signal.SIGUSR1]), words)
pids = st.one_of(st.integers(min_value=-5, max_value=2**40), st.just(1), st.just(os.getpid()), words)


@pytest.fixture(autouse=True, scope="module")
def in_a_scratch_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Generated shell strings may write files (`> x`): never in the checkout."""
    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("properties"))
    yield
    os.chdir(old)


def children() -> set[int]:
    return {c.pid for c in psutil.Process().children(recursive=True)
            if c.status() != psutil.STATUS_ZOMBIE}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command=commands, mode=modes, env=envs, cwd=cwds, timeout=timeouts, data=datas)
def test_execute_command_always_answers(command: object, mode: object, env: object, cwd: object,
                                        timeout: object, data: object) -> None:
    before = children()
    t0 = time.monotonic()
    r = execute_command(command, mode=mode, env=env, cwd=cwd, timeout=timeout, input_data=data)
    bound = timeout if isinstance(timeout, (int, float)) and not isinstance(timeout, bool) and timeout == timeout \
        and 0 <= timeout else None
    if bound is not None:
        assert time.monotonic() - t0 < bound + 0.5 + 1.0  # + spawn and teardown on a loaded machine
    assert isinstance(r.success, bool)
    if not r.success and r.error is None and r.return_code is None:
        pytest.fail(f"a failure without a cause: {r!r}")
    if r.pid is not None:
        kill_process(r.pid, force=True)
    cleanup_finished_processes()
    assert children() <= before


@settings(max_examples=150, deadline=None)
@given(pid=pids, sig=signals, data=datas, timeout=timeouts)
def test_pid_functions_always_answer(pid: object, sig: object, data: object, timeout: object) -> None:
    if pid in (1, os.getpid(), os.getppid()):
        # Never signal what we did not start: only read-only calls for these.
        assert get_process_status(pid) is None or isinstance(get_process_status(pid), dict)  # type: ignore[arg-type]
        return
    for call in (
        lambda: read_from_process(pid, timeout=0),  # type: ignore[arg-type]
        lambda: get_process_output_info(pid),  # type: ignore[arg-type]
        lambda: write_to_process(pid, data),  # type: ignore[arg-type]
        lambda: communicate_with_process(pid, data, timeout=0.05),  # type: ignore[arg-type]
        # Signals only where no process can be hit: never a pid that could exist.
        lambda: send_signal_to_process(pid, sig) if not _could_be_a_pid(pid) else None,  # type: ignore[arg-type]
    ):
        out = call()
        assert isinstance(out, (dict, str)) or out is None


def _could_be_a_pid(pid: object) -> bool:
    """A test signals no process it did not start, not even by chance."""
    return isinstance(pid, int) and not isinstance(pid, bool) and 0 < pid <= 1 << 22


def test_nothing_left_running_after_the_properties() -> None:
    cleanup_finished_processes()
    deadline = time.monotonic() + 5
    while E.stats()["active"] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert E.stats()["active"] == 0
