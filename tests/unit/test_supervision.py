"""The supervisor's restart policy and what the header says about the stack's processes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dashboard import supervision
from dashboard.supervision import ProcessState, Restarts, describe_exit, notices, write_status


def test_back_off_doubles_with_each_quick_death_and_gives_up_on_a_crash_loop():
    restarts = Restarts(limit=5)
    assert [restarts.after_death(ran_for=2) for _ in range(5)] == [1, 2, 4, 8, 16]
    assert restarts.after_death(ran_for=2) is None  # the sixth in a row


def test_a_process_that_ran_a_while_starts_its_count_afresh():
    restarts = Restarts(limit=2)
    assert restarts.after_death(ran_for=1) == 1
    assert restarts.after_death(ran_for=1) == 2
    assert restarts.after_death(ran_for=supervision.STABLE_SECONDS) == 1  # it had been fine for a while
    assert restarts.total == 3


def test_the_back_off_is_capped():
    restarts = Restarts(limit=100)
    delays = [restarts.after_death(ran_for=0) for _ in range(12)]
    assert max(delays) == supervision.MAX_BACKOFF_SECONDS


def test_exits_are_described_in_words():
    assert describe_exit(-9) == "killed by SIGKILL"
    assert describe_exit(3) == "exit code 3"


def test_the_header_names_a_part_restarting_and_one_restarted_recently(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    now = datetime.now(UTC)
    write_status(
        [
            ProcessState(
                "worker", state="restarting", last_exit="killed by SIGKILL", last_exit_at=now.isoformat()
            ),
            ProcessState("beat", restarts=1, last_exit="exit code 1", last_exit_at=now.isoformat()),
            ProcessState(
                "web",
                restarts=1,
                last_exit="exit code 1",
                last_exit_at=(now - timedelta(hours=1)).isoformat(),
            ),
            ProcessState("steps"),
        ]
    )
    said = notices(now)
    assert [(n.text, n.down) for n in said] == [
        ("worker stopped (killed by SIGKILL): restarting", True),
        ("beat restarted after it stopped (exit code 1)", False),
    ]


def test_no_status_file_or_a_damaged_one_says_nothing(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    assert notices() == []
    (tmp_path / "serve-status.json").write_text("{not json")
    assert notices() == []
    (tmp_path / "serve-status.json").write_text(
        json.dumps({"processes": ["x", {"name": "w", "restarts": 1, "last_exit_at": "junk"}]})
    )
    assert notices() == []
