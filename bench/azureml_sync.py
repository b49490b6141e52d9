"""How much a sync pass of an Azure ML workspace costs: requests and adapter time, at 10,000 pipeline jobs.

The workspace is replayed (backends/azureml/compose.py: run-history runs shaped like the recorded ones, the
recorded pipeline job's definition): 10,000 pipeline jobs in one experiment, 50 of them active, each with three
steps. Three passes are measured, as sync makes them:

- the first: nothing mirrored yet, every job of the history read (``history_days``);
- nothing changed: new runs since the watermark (none) and the 50 active jobs again;
- 5 jobs changed: the same, where 5 active jobs have moved on (a step finished, the next one started).

Targets (issue 8): a no-change pass asks at most 2 requests plus one per active job, in under 1 s of adapter time.
It times ``Backend.list_runs`` (the adapter: the SDK's parsing, the replayed transport included), not the mirror's
writes. ``python bench/azureml_sync.py [--jobs 10000] [--active 50] [--changed 5] [--markdown]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")

import django

django.setup()

from backends.azureml import compose, demo  # noqa: E402
from backends.azureml.engine import AzureMLBackend  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
NODES = ["a", "b", "c"]


def workspace(jobs: int, active: int, changed: int) -> compose.Composer:
    w = compose.Composer()
    w.workspace_and_discovery()
    w.experiments([(demo.NIGHTLY_ID, "nightly-training", START)])
    definition = compose.recorded_schedule()["properties"]["action"]["jobDefinition"]["jobs"]
    roots = []
    for i in range(jobs):
        name = f"job_{i:05d}"
        created = START + timedelta(minutes=i)
        running = i >= jobs - active
        root = compose.run_body(
            name,
            status="Running" if running else "Completed",
            created=created,
            started=created,
            ended=None if running else created + timedelta(minutes=9),
            display_name="hello_pipeline_abc",
            experiment_id=demo.NIGHTLY_ID,
        )
        roots.append(root)
        w.job(demo.pipeline_job(name, "hello_pipeline_abc", root["status"], definition), composed="bench")
        statuses = ["Completed", "Running", "NotStarted"] if running else ["Completed"] * 3
        steps = demo.step_runs(name, NODES, statuses, created)
        w.family(demo.NIGHTLY_ID, root, steps)  # the first pass reads this
        if running:
            w.family(demo.NIGHTLY_ID, root, steps)  # the pass where nothing changed, this
        if running and i >= jobs - changed:  # and the last one: b ended, c started
            w.family(
                demo.NIGHTLY_ID,
                root,
                demo.step_runs(name, NODES, ["Completed", "Completed", "Running"], created),
            )
        for step in steps:
            w.details(step, {"user_logs/std_log.txt": "ok\n"})
        if running and i >= jobs - changed:
            w.details(demo.step_runs(name, NODES, statuses, created)[2], {"user_logs/std_log.txt": "ok\n"})
    w.listing(demo.NIGHTLY_ID, roots)
    return w


def measure(backend: AzureMLBackend, changed_since, active: frozenset[str]) -> tuple[int, float, int]:
    before = len(backend.workspace.recording.sent)
    started = time.perf_counter()
    runs = backend.list_runs(changed_since, active_ids=active)
    seconds = time.perf_counter() - started
    return len(backend.workspace.recording.sent) - before, seconds, len(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=50)
    parser.add_argument("--changed", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = workspace(args.jobs, args.active, args.changed).dump(Path(folder) / "workspace.json")
        composed = time.perf_counter() - started
        backend = AzureMLBackend(
            "azure-bench",
            subscription_id=compose.SUBSCRIPTION,
            resource_group=compose.GROUP,
            workspace_name=compose.WORKSPACE,
            recording=str(path),
            history_days=3650,
        )
        first = measure(backend, None, frozenset())
        watermark = START + timedelta(minutes=args.jobs - 1)
        active = frozenset(f"job_{i:05d}" for i in range(args.jobs - args.active, args.jobs))
        unchanged = measure(backend, watermark, active)
        changed = measure(backend, watermark, active)
    rows = [
        ("first pass (the whole history)", *first, "—"),
        ("nothing changed", *unchanged, f"≤ {2 + args.active} requests, < 1 s"),
        (f"{args.changed} jobs changed", *changed, "—"),
    ]
    print(f"{args.jobs:,} pipeline jobs, {args.active} active, 3 steps each (composed in {composed:.1f} s)\n")
    if args.markdown:
        print("| pass | requests | adapter time | runs returned | target |\n|---|---|---|---|---|")
        for name, requests, seconds, runs, target in rows:
            print(f"| {name} | {requests:,} | {seconds * 1000:,.0f} ms | {runs:,} | {target} |")
    else:
        for name, requests, seconds, runs, target in rows:
            print(
                f"{name:34} {requests:7,} requests {seconds * 1000:9,.0f} ms {runs:7,} runs   target {target}"
            )
    met = unchanged[0] <= 2 + args.active and unchanged[1] < 1.0
    print(f"\nno-change pass: {'meets' if met else 'MISSES'} the target")


if __name__ == "__main__":
    main()
