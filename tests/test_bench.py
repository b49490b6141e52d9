"""The benchmark still runs: a small seed and one pass over its pages, each answered, so that a model change that
the seed or the pages' checks do not know about is caught here and not at the next million-run measurement."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def bench(*args: str, work_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args, "--work-dir", str(work_dir)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "BENCH_DATABASE_URL": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_bench_seeds_and_every_page_it_times_answers(tmp_path):
    seeded = bench("bench/seed.py", "--runs", "1500", "--log-size", "1M", "--reset", work_dir=tmp_path)
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert "seeded 1,502 runs" in seeded.stdout

    timed = bench("bench/run.py", "--repeat", "1", "--warmup", "0", work_dir=tmp_path)

    assert timed.returncode == 0, timed.stderr[-3000:]
    rows = [
        line
        for line in timed.stdout.splitlines()
        if line.startswith(("list", "run:", "log:", "pipeline", "overview"))
    ]
    assert len(rows) > 20
    unanswered = [row for row in rows if " 404" in row or " 500" in row or "error" in row.lower()]
    assert unanswered == []
