"""Several processes appending at once, and a writer killed in the middle of a transaction (both backends).

Real processes, each with its own connection, as several receivers on several hosts would be.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from conftest import LogStore

from auditsvc.audit import EventDraft, open_log, verify_proof

from .conftest import draft

FORK = multiprocessing.get_context("fork")
PROCESSES = 4
BATCHES = 10
PER_BATCH = 25
SHARED = 40


def _appender(url: str, worker: int, start, results) -> None:
    start.wait()
    with open_log(url) as log:  # all four also race to create the schema
        mine: dict[str, int] = {}
        for batch in range(BATCHES):
            drafts = [
                EventDraft("push", f"w{worker}:{batch}:{i}", "infra", "refs/heads/main", None, {"w": worker, "i": i})
                for i in range(PER_BATCH)
            ]
            # every worker also replays the same shared deliveries, in a different order
            shared = [EventDraft("deploy", f"shared:{j}", body={"j": j}) for j in range(SHARED)]
            shared = shared[worker::PROCESSES] + shared
            drafts += shared[batch * 4 : batch * 4 + 8]
            for d, seq in zip(drafts, log.append(drafts)):
                assert mine.setdefault(d.natural_key, seq) == seq
            if batch % 3 == 0:
                log.checkpoint("origin")
        results.put(mine)


def test_concurrent_appends_lose_and_duplicate_nothing(log_store: LogStore) -> None:
    url = log_store.url
    start, results = FORK.Barrier(PROCESSES), FORK.Queue()
    workers = [FORK.Process(target=_appender, args=(url, w, start, results)) for w in range(PROCESSES)]
    for w in workers:
        w.start()
    seen = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0

    with open_log(url) as log:
        events = list(log.events())
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        keys = [e.natural_key for e in events]
        assert len(keys) == len(set(keys)) == PROCESSES * BATCHES * PER_BATCH + SHARED
        by_key = {e.natural_key: e.seq for e in events}
        for mine in seen:  # every process was told the seq that is really stored
            assert all(by_key[k] == seq for k, seq in mine.items())
        report = log.verify()
        assert report.ok, report
        assert report.checkpoints >= 1


def _append_and_hang(url: str, write_fd: int) -> None:
    log = open_log(url)
    insert = log._insert_events

    def insert_half_then_hang(rows):  # inside the open append transaction, holding the append lock
        insert(rows[: len(rows) // 2])
        os.write(write_fd, b"x")
        time.sleep(120)

    log._insert_events = insert_half_then_hang  # type: ignore[method-assign]
    log.append([draft(i, type="import") for i in range(50_000)])
    os._exit(3)  # not reached


def test_writer_killed_mid_transaction_leaves_no_partial_event(log_store: LogStore) -> None:
    url = log_store.url
    with open_log(url) as log:
        log.append([draft(i) for i in range(3)])
        log.checkpoint("origin")

    read_fd, write_fd = os.pipe()
    child = FORK.Process(target=_append_and_hang, args=(url, write_fd))
    child.start()
    try:
        os.close(write_fd)
        assert os.read(read_fd, 1) == b"x"  # the child is 25 000 rows into its transaction
        with open_log(url) as log:  # readers neither wait nor see uncommitted rows
            assert log.size() == 3 and log.verify().ok
    finally:
        os.close(read_fd)
        os.kill(child.pid, signal.SIGKILL)
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL

    with open_log(url) as log:
        assert log.size() == 3
        assert log.seq_of("import:0") is None
        assert log.verify().ok
        assert log.append([draft(3), draft(0, type="import")]) == [4, 5]  # the write lock was released
        log.checkpoint("origin")
        report = log.verify()
        assert report.ok and report.events == 5 and report.checkpoints == 2


def _single_appender(url: str, worker: int, count: int, start) -> None:
    start.wait()
    with open_log(url) as log:
        for i in range(count):  # a hook's pattern: one small transaction per push, a checkpoint after it
            log.append([EventDraft("push", f"single:{worker}:{i}", "infra", "refs/heads/main", None, {"w": worker, "i": i})])
            log.checkpoint(f"writer-{worker}")


def test_readers_always_see_a_prefix_with_valid_proofs_while_writers_append(log_store: LogStore) -> None:
    """While writers append and sign, every size a reader sees is gap-free, and the latest checkpoint
    it reads proves events against the public key: no snapshot ever shows a hole in the tree."""
    url = log_store.url
    with open_log(url) as log:
        public = log.public_key()  # every writer signs with this key (the same key file)
    writers, count = 4, 25
    start = FORK.Barrier(writers + 1)
    procs = [FORK.Process(target=_single_appender, args=(url, w, count, start)) for w in range(writers)]
    for p in procs:
        p.start()
    start.wait()
    checked = 0
    with open_log(url) as reader:
        while any(p.is_alive() for p in procs) or checked == 0:
            head = reader.latest_checkpoint()
            if head is not None and head.size:
                seq = 1 + checked % head.size
                assert verify_proof(reader.prove(seq, head.size), head, public)
                assert reader.root(head.size) == head.root
                checked += 1
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    with open_log(url) as log:
        assert log.size() == writers * count
        report = log.verify()
        assert report.ok and report.checkpoints >= 2, report
    assert checked > 0, 'the reader saw no checkpoint while the writers ran'
