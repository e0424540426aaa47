"""Several processes writing at once keep one valid chain."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from typing import Any

import pytest

from crypto_trader.audit import audit_log
from crypto_trader.installation import Installation
from tests.audit.conftest import Opener
from tests.conftest import fixed_passphrase
from tests.support.cli import CliRunner, child_env

WORKERS = 4
SETS_PER_WORKER = 5
# Each child imports everything, then waits on stdin so that all start writing at once.
WORKER_SCRIPT = """
import sys
from crypto_trader.cli.main import main
worker, count = int(sys.argv[1]), int(sys.argv[2])
sys.stdin.read()
for i in range(count):
    value = str(100 + 10 * worker + i)
    code = main(["config", "set", "security.key_max_age_days", value])
    if code:
        sys.exit(code)
"""


def values_written() -> set[int]:
    return {100 + 10 * w + i for w in range(WORKERS) for i in range(SETS_PER_WORKER)}


@pytest.mark.slow
def test_concurrent_processes_keep_one_valid_chain(
    cli: CliRunner, open_home: Opener
) -> None:
    assert cli("config", "set", "security.key_max_age_days", "10").code == 0
    children = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER_SCRIPT, str(worker), str(SETS_PER_WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=child_env(),
            text=True,
        )
        for worker in range(WORKERS)
    ]
    results = [child.communicate(input="", timeout=90) for child in children]

    installation: Installation = open_home()
    report = installation.verify_audit()
    records = installation.audit.records()
    changes = [r for r in records if r.event_type == "CONFIGURATION_CHANGED"]

    assert [c.returncode for c in children] == [0] * WORKERS, results
    assert len(records) == 2 + WORKERS * SETS_PER_WORKER
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert (report.ok, report.unanchored) == (True, 0), report
    assert {c.details["new"] for c in changes[1:]} == values_written()
    # The last record committed is the change that is in effect.
    assert (
        installation.settings.get("security.key_max_age_days")
        == changes[-1].details["new"]
    )
    assert cli("audit", "verify").code == 0
    assert all(json.loads(line) for line in cli("audit", "export").out.splitlines())


def test_a_later_writer_waits_for_the_earlier_head_confirmation(
    chain: Installation, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Writer A is paused between its COMMIT and its confirming head write. If
    # writer B could commit and confirm meanwhile, A's late confirmation would
    # roll the head back below B's record.
    real_write_head = audit_log.write_head
    paused, release = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def write_head(path: Any, head: Any, key: Any) -> None:
        confirming = head.pending_seq is None
        if threading.current_thread().name == "A" and confirming:
            paused.set()
            release.wait(timeout=30)
        real_write_head(path, head, key)

    def run(value: str) -> None:
        # SQLite connections stay in the thread that opened them.
        writer = Installation.open(chain.home, fixed_passphrase, user_id=value)
        try:
            writer.custody.unlock()
            writer.settings.set("security.key_max_age_days", value)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
        finally:
            writer.close()

    monkeypatch.setattr(audit_log, "write_head", write_head)
    first = threading.Thread(target=run, args=("41",), name="A")
    second = threading.Thread(target=run, args=("42",), name="B")
    first.start()
    assert paused.wait(timeout=30)
    second.start()
    second.join(timeout=0.5)
    blocked = second.is_alive()
    release.set()
    first.join(timeout=30)
    second.join(timeout=30)

    report = chain.verify_audit()
    assert failures == []
    assert blocked
    assert (report.ok, report.anchored_seq, report.unanchored) == (True, 8, 0)


def test_a_setting_change_records_the_value_it_really_replaced(
    chain: Installation, open_home: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = open_home()
    other.custody.unlock()
    recording = chain.audit.recording

    def another_process_commits_first(*args: Any, **kwargs: Any) -> Any:
        other.settings.set("security.key_max_age_days", "55")
        return recording(*args, **kwargs)

    monkeypatch.setattr(chain.audit, "recording", another_process_commits_first)
    chain.settings.set("security.key_max_age_days", "66")

    *_, before, last = chain.audit.records()
    assert (before.details["new"], last.details["new"]) == (55, 66)
    assert last.details["old"] == before.details["new"]
