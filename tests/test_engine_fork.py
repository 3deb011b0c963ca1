"""fork() while the reactor runs: the child starts with an empty engine."""

from __future__ import annotations

import os
import time

from Core.ProcessManager import _engine as E
from engine_helpers import Spawner, spawn  # noqa: F401


def test_fork_child_gets_a_fresh_engine_and_releases_the_parents_pipes(spawn: Spawner) -> None:
    cat = spawn(["cat"], stdin=E.PIPE)  # the parent's child, stdin held open
    busy = spawn(["sh", "-c", "while :; do echo tick; sleep 0.01; done"])
    assert busy.wait_output(0, 0, 10)
    pid = os.fork()
    if pid == 0:  # the fork child: report through the exit status only
        ok = 0
        try:
            if not (cat.forked_away and cat.wait(1) and cat.returncode is None):
                ok |= 1
            if cat.send_signal(15) is not False:
                ok |= 2
            p = E.spawn([b"echo", b"from the fork child"])
            if not (p.wait(10) and p.wait_eof(10) and p.read(E.OUT)[0] == b"from the fork child\n"):
                ok |= 4
            time.sleep(1.0)  # outlive the parent's check below
        except BaseException:
            ok |= 8
        os._exit(ok)
    try:
        # The fork child closed its copy of cat's stdin: closing ours is EOF.
        cat.close_stdin()
        assert cat.wait(5) and cat.returncode == 0
        p = E.spawn([b"echo", b"parent still works"])
        assert p.wait(10) and p.wait_eof(10) and p.read(E.OUT)[0] == b"parent still works\n"
    finally:
        _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
