"""Notice channels: learning which processes changed without a thread each."""

from __future__ import annotations

import asyncio
import gc
import os
import select
import threading
import time

import pytest

from Core.ProcessManager import _engine as E
from engine_helpers import Spawner, spawn  # noqa: F401


def readable(fd: int, timeout: float) -> bool:
    return bool(select.select([fd], [], [], timeout)[0])


def test_default_channel_reports_output_and_exit(spawn: Spawner) -> None:
    E.wait_notices(0)  # forget what earlier tests left
    p = spawn(["sh", "-c", "echo hi; sleep 0.2"], notify=True, tag=4242)
    seen: set[int] = set()
    while not p.exited:
        seen.update(E.wait_notices(5))
    assert 4242 in seen


def test_channel_fd_is_readable_while_tags_are_queued(spawn: Spawner) -> None:
    ch = E.NoticeChannel()
    p = spawn(["sleep", "0.2"], notify=ch, tag=7)
    assert ch.wait(5) == [7]  # the subscription's own first notice
    assert not readable(ch.fd, 0)
    assert readable(ch.fd, 10)  # the exit
    assert p.wait(5)
    assert 7 in ch.take()
    assert not readable(ch.fd, 0) and ch.take() == []


def test_subscribing_late_is_notified_at_once(spawn: Spawner) -> None:
    p = spawn(["true"])
    assert p.wait(10)
    ch = E.NoticeChannel()
    p.subscribe(ch, tag=99)
    assert readable(ch.fd, 0) and ch.take() == [99]
    p.unsubscribe(ch)


def test_four_subscriptions_at_most_and_unsubscribe(spawn: Spawner) -> None:
    chans = [E.NoticeChannel() for _ in range(5)]
    p = spawn(["sh", "-c", "read x; echo $x"], stdin=E.PIPE)
    for i, ch in enumerate(chans[:4]):
        p.subscribe(ch, i)
    with pytest.raises(RuntimeError, match="four channels"):
        p.subscribe(chans[4], 4)
    p.unsubscribe(chans[0])
    p.subscribe(chans[4], 4)  # the freed slot is usable again
    for ch in chans:
        ch.take()
    p.write(b"x\n")
    assert p.wait(10)
    assert 1 in chans[1].wait(5) and 4 in chans[4].wait(5)
    assert chans[0].take() == []


def test_channels_and_processes_outlive_each_other(spawn: Spawner) -> None:
    ch = E.NoticeChannel()
    pid = spawn(["sh", "-c", "echo x"], notify=ch, tag=5).pid
    spawn.started.clear()  # drop our only reference while it runs
    gc.collect()
    seen: set[int] = set()
    for _ in range(20):
        seen.update(ch.wait(1))
        if E.stats()["active"] == 0:
            break
    assert 5 in seen and pid > 0
    ch2 = E.NoticeChannel()
    p = spawn(["sleep", "0.1"], notify=ch2)
    del ch2  # the process keeps its channel alive
    gc.collect()
    assert p.wait(10)


def test_fork_child_gets_its_own_channel_descriptor(spawn: Spawner) -> None:
    ch = E.NoticeChannel()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            p = E.spawn([b"true"], notify=ch, tag=1)
            p.wait(10)
            code = 0 if 1 in ch.wait(5) else 1
        except BaseException:
            code = 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ch.take() == []  # nothing of the child's leaked into ours


def test_asyncio_awaits_many_exits_on_one_descriptor(spawn: Spawner) -> None:
    async def main() -> list[int | None]:
        loop = asyncio.get_running_loop()
        ch = E.NoticeChannel()
        procs = {i: spawn(["sh", "-c", f"sleep 0.0{i % 10}; exit {i % 5}"], notify=ch, tag=i) for i in range(100)}
        done: dict[int, asyncio.Future[int | None]] = {i: loop.create_future() for i in procs}

        def on_notice() -> None:
            for tag in ch.take():
                p = procs[tag]
                if p.exited and not done[tag].done():
                    done[tag].set_result(p.returncode)

        loop.add_reader(ch.fd, on_notice)
        try:
            return list(await asyncio.wait_for(asyncio.gather(*done.values()), 30))
        finally:
            loop.remove_reader(ch.fd)

    threads = threading.active_count()
    codes = asyncio.run(main())
    assert codes == [i % 5 for i in range(100)]
    assert threading.active_count() == threads


def test_a_subscription_without_output_hears_only_of_ends(spawn: Spawner) -> None:
    ch = E.NoticeChannel()
    p = spawn(["cat"], stdin=E.PIPE)
    p.subscribe(ch, 5, output=False)
    assert ch.wait(5) == [5]  # notified once at subscription
    for i in range(20):  # output, drained by a waiter or the reactor: no notice
        p.write(b"x\n")
        assert p.wait_output(2 * i + 1, None, 5)
        time.sleep(0.005)  # past the waiter's lease: the reactor drains some
    assert ch.wait(0.2) == []
    p.close_stdin()  # end of file and exit: notified
    assert ch.wait(5) == [5]
    assert p.wait(5)
    p.unsubscribe(ch)
