"""Messages shown to users carry no server paths (dashboard/public.py)."""

from __future__ import annotations

import pytest

from dashboard.public import public_message


@pytest.mark.parametrize(
    "given, shown",
    [
        (
            "/srv/runboard/examples/train/pipeline.yml:12: jobs.a.inputs.x: path 'data.csv' does not exist "
            "(/srv/runboard/examples/train/data.csv)",
            "pipeline.yml:12: jobs.a.inputs.x: path 'data.csv' does not exist (data.csv)",
        ),
        (
            "The step could not start: [Errno 2] No such file: '/var/lib/runboard/x/y.txt'",
            "The step could not start: [Errno 2] No such file: 'y.txt'",
        ),
        ("code folder /home/ana/proj/src/ not found", "code folder src not found"),
    ],
)
def test_an_absolute_path_becomes_its_last_part(given: str, shown: str) -> None:
    assert public_message(given) == shown


@pytest.mark.parametrize(
    "text",
    [
        "downloading https://example.com/data/iris.csv failed: HTTP 404",
        "wasbs://data@acct.blob.core.windows.net/raw/2026/x.csv",
        "azureml://datastores/workspaceblobstore/paths/weather/readings",
        "use ./src/train.py or src/train.py",
        "a ratio of 3/4 and /tmp",
    ],
)
def test_urls_relative_paths_and_single_parts_are_left_as_they_are(text: str) -> None:
    assert public_message(text) == text
