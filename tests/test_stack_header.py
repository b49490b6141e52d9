"""Every page's header says when a part of the stack `manage.py serve` supervises is down or came back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dashboard.supervision import ProcessState, write_status

pytestmark = pytest.mark.django_db


def test_the_header_says_a_part_is_restarting(viewer_client, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    assert "stack-notice" not in viewer_client.get("/runs/").content.decode()

    when = datetime.now(UTC).isoformat()
    write_status(
        [ProcessState("steps", state="restarting", last_exit="killed by SIGKILL", last_exit_at=when)]
    )
    page = viewer_client.get("/runs/").content.decode()
    assert "steps stopped (killed by SIGKILL): restarting" in page

    write_status([ProcessState("steps", restarts=1, last_exit="killed by SIGKILL", last_exit_at=when)])
    assert (
        "steps restarted after it stopped (killed by SIGKILL)" in viewer_client.get("/runs/").content.decode()
    )


@pytest.mark.parametrize(
    ("path", "current"),
    [
        ("/runs/", "Runs"),
        ("/schedules/", "Schedules"),
        ("/pipelines/", "Pipelines"),
        ("/actions/", "Actions"),
    ],
)
def test_the_header_marks_one_section_as_the_current_one(viewer_client, path, current):
    import re

    nav = viewer_client.get(path).content.decode().split("<nav>")[1].split("</nav>")[0]
    assert re.findall(r'aria-current="page">([^<]+)</a>', nav) == [current]
