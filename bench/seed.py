"""Seed the mirror at scale for the benchmark: pipelines, runs, tags, steps and edges, a 1,000-step run, a 1 GB log.

    .venv/bin/python bench/seed.py --runs 1000000 --steps-per-run 10 \
        --database-url postgres://postgres@127.0.0.1:5432/runboard_bench

Rows go in through COPY on PostgreSQL and executemany in big transactions on SQLite, with the tables' secondary
indexes dropped during the load and built again after it (faster than keeping them up to date row by row), then
ANALYZE. A database that already holds runs is left alone: drop and recreate it (PostgreSQL) or pass --reset
(SQLite) to seed again.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import random
import shutil
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BIG_RUN_EXTERNAL_ID,
    DEFAULT_WORK_DIR,
    LOG_NODE_ID,
    LOG_RUN_ID,
    RARE_WORD,
    REPO,
    configure,
    database_size,
    describe_database,
    human_bytes,
    sqlite_path,
)
from bench.seed_overview import seed_overview_rows

CHUNK_RUNS = 10_000  # runs generated, written and committed together
BACKEND = "local"
RUN_COLUMNS = [
    "id",
    "backend",
    "external_id",
    "pipeline_id",
    "pipeline_name",
    "display_name",
    "experiment_name",
    "description",
    "status",
    "tags",
    "parameters",
    "submitted_by",
    "compute",
    "continue_on_step_failure",
    "error",
    "created_at",
    "started_at",
    "finished_at",
    "duration_seconds",
    "backend_updated_at",
    "synced_at",
]
TAG_COLUMNS = ["id", "run_id", "key", "value", "created_at"]
STEP_COLUMNS = [
    "id",
    "run_id",
    "external_id",
    "node_id",
    "display_name",
    "status",
    "job_type",
    "command",
    "environment",
    "compute",
    "inputs",
    "outputs",
    "exit_code",
    "error",
    "is_reused",
    "reused_run_id",
    "reused_step_id",
    "log_names",
    "position",
    "queued_at",
    "started_at",
    "finished_at",
]
EDGE_COLUMNS = ["id", "run_id", "source_node", "source_output", "target_node", "target_input"]
LOG_NAMES_JSON = json.dumps(["stdout", "stderr", "system"])

# --- what the data looks like -------------------------------------------------------------------------

ADJECTIVES = (
    "amber brave calm eager gentle keen lucid merry nimble quiet rapid silver sunny tidy vivid witty".split()
)
NOUNS = "apple beacon cloud harbor lamp lantern maple otter pepper plum river rocket sail tiger violet wave".split()
TEAMS = "vision nlp recsys forecasting search ads fraud speech platform research growth ranking".split()
FIRST = (
    "ana ben chen dara eli fatima gus hana ivan jo kofi lena mia nils omar priya quinn raj sara tom".split()
)
LAST = "adams brown costa diaz evans fischer garcia hughes ito jensen khan lopez".split()
PIPELINE_STEMS = [
    ("train", "vision", "resnet50"),
    ("train", "vision", "vit-base"),
    ("train", "nlp", "bert-ner"),
    ("train", "nlp", "t5-summarize"),
    ("finetune", "nlp", "llama-lora"),
    ("train", "recsys", "two-tower"),
    ("train", "recsys", "dlrm"),
    ("forecast", "forecasting", "demand-daily"),
    ("forecast", "forecasting", "inventory"),
    ("train", "fraud", "xgboost-txn"),
    ("score", "fraud", "batch-txn"),
    ("ingest", "platform", "clickstream"),
    ("ingest", "platform", "orders"),
    ("ingest", "platform", "images"),
    ("etl", "search", "query-logs"),
    ("index", "search", "embeddings"),
    ("train", "search", "ranker-lambdamart"),
    ("train", "ads", "ctr-model"),
    ("eval", "ads", "auction-sim"),
    ("train", "speech", "whisper-small"),
    ("eval", "speech", "wer-suite"),
    ("hpo", "research", "sweep-optimizers"),
    ("train", "research", "diffusion-toy"),
    ("report", "growth", "weekly-kpis"),
    ("train", "ranking", "feed-ranker"),
]
# (node_id, weight of the run's time it takes), then (source, output, target, input) edges.
TEMPLATES: list[tuple[list[tuple[str, float]], list[tuple[str, str, str, str]]]] = [
    (
        [
            ("prep", 1),
            ("validate", 0.5),
            ("featurize", 2),
            ("split", 0.5),
            ("train", 10),
            ("baseline", 2),
            ("evaluate", 1.5),
            ("register", 0.3),
            ("report", 0.5),
            ("notify", 0.1),
        ],
        [
            ("prep", "out", "validate", "data"),
            ("validate", "out", "featurize", "data"),
            ("featurize", "features", "split", "data"),
            ("split", "train", "train", "train_data"),
            ("split", "test", "baseline", "data"),
            ("split", "test", "evaluate", "test_data"),
            ("train", "model", "evaluate", "model"),
            ("baseline", "model", "evaluate", "baseline"),
            ("train", "model", "register", "model"),
            ("evaluate", "metrics", "register", "metrics"),
            ("evaluate", "metrics", "report", "metrics"),
            ("report", "report", "notify", "report"),
        ],
    ),
    (
        [("ingest", 1), ("split", 0.3)]
        + [(f"shard_{i}", 3) for i in range(6)]
        + [("merge", 1), ("publish", 0.2)],
        [("ingest", "out", "split", "data")]
        + [("split", f"part_{i}", f"shard_{i}", "data") for i in range(6)]
        + [(f"shard_{i}", "out", "merge", f"part_{i}") for i in range(6)]
        + [("merge", "out", "publish", "data")],
    ),
    (
        [
            ("extract_a", 1),
            ("extract_b", 1),
            ("join", 1),
            ("clean", 1),
            ("dedupe", 1),
            ("enrich", 2),
            ("aggregate", 2),
            ("quality_check", 0.5),
            ("export", 1),
            ("notify", 0.1),
        ],
        [
            ("extract_a", "out", "join", "left"),
            ("extract_b", "out", "join", "right"),
            ("join", "out", "clean", "data"),
            ("clean", "out", "dedupe", "data"),
            ("dedupe", "out", "enrich", "data"),
            ("enrich", "out", "aggregate", "data"),
            ("aggregate", "out", "quality_check", "data"),
            ("aggregate", "out", "export", "data"),
            ("quality_check", "report", "export", "checks"),
            ("export", "out", "notify", "summary"),
        ],
    ),
]
COMMANDS = {
    "train": "python train.py --data ${{inputs.train_data}} --epochs ${{inputs.epochs}} --out ${{outputs.model}}",
    "evaluate": "python evaluate.py --model ${{inputs.model}} --test ${{inputs.test_data}}",
}


def chain_template(steps: int) -> tuple[list[tuple[str, float]], list[tuple[str, str, str, str]]]:
    nodes = [(f"step_{i:03d}", 1.0) for i in range(steps)]
    edges = [(nodes[i][0], "out", nodes[i + 1][0], "data") for i in range(steps - 1)]
    return nodes, edges


def run_external_id(i: int) -> str:
    # Azure ML v2 job names look like "keen_lamp_8x2kq4w7mz": an odd multiplier mod 2**40 keeps them unique.
    h = (i * 0x9E3779B1 + 0x5BD1E995) % (1 << 40)
    return f"{ADJECTIVES[h % 16]}_{NOUNS[(h >> 4) % 16]}_{h:010x}"


class Pipelines:
    """~50 pipelines, used with a skew: a few run all the time (nightly, hourly), most now and then."""

    def __init__(self, count: int, rng: random.Random) -> None:
        self.rows = []
        for i in range(count):
            verb, team, what = PIPELINE_STEMS[i % len(PIPELINE_STEMS)]
            name = (
                f"{verb}-{what}"
                if i < len(PIPELINE_STEMS)
                else f"{verb}-{what}-v{i // len(PIPELINE_STEMS) + 1}"
            )
            template = (
                TEMPLATES[0]
                if verb in ("train", "finetune", "hpo")
                else TEMPLATES[1 if verb in ("ingest", "index", "score") else 2]
            )
            experiments = [name] + [
                f"{name}-{s}"
                for s in rng.sample(
                    ["nightly", "dev", "ablation", "hpo", "prod", "backfill"], k=rng.randint(1, 5)
                )
            ]
            self.rows.append({"name": name, "team": team, "template": template, "experiments": experiments})
        self.weights = [1 / (k + 1) ** 0.8 for k in range(count)]
        rng.shuffle(self.weights)
        self.cumulative = []
        total = 0.0
        for w in self.weights:
            total += w
            self.cumulative.append(total)


# --- generating rows ----------------------------------------------------------------------------------


class Generator:
    """Rows for runs ``start..stop``, as tuples ready for the database (times and JSON already as text)."""

    def __init__(
        self, args, pipelines: Pipelines, pipeline_ids: list[int], vendor: str, now: datetime
    ) -> None:
        self.args = args
        self.pipelines = pipelines
        self.pipeline_ids = pipeline_ids
        self.now = now
        self.start_time = now - timedelta(days=365)
        self.span = (now - self.start_time).total_seconds() - 600  # the newest bulk run is 10 minutes old
        self.pg = vendor == "postgresql"
        self.submitters = [f"{f}.{ln}@contoso.com" for f in FIRST for ln in LAST]  # 240 people
        self.submitter_weights = []
        total = 0.0
        for k in range(len(self.submitters)):
            total += 1 / (k + 1)
            self.submitter_weights.append(total)
        steps = args.steps_per_run
        self.templates = [t if len(t[0]) == steps else chain_template(steps) for t in TEMPLATES]
        self.step_id = 0
        self.tag_id = 0
        self.edge_id = 0

    def ts(self, seconds: float) -> str:
        dt = self.start_time + timedelta(seconds=seconds)
        # Django's own text for a datetime: naive UTC on SQLite, with the offset on PostgreSQL.
        return dt.isoformat(" ") if self.pg else dt.replace(tzinfo=None).isoformat(" ")

    def chunk(self, start: int, stop: int, rng: random.Random):
        runs, tags, steps, edges = [], [], [], []
        n_total = self.args.runs
        pipelines = self.pipelines.rows
        cumulative = self.pipelines.cumulative
        last_weight = cumulative[-1]
        subs, sub_cum = self.submitters, self.submitter_weights
        sub_total = sub_cum[-1]
        import bisect

        for i in range(start, stop):
            run_id = i + 1
            ext = run_external_id(i)
            p = bisect.bisect(cumulative, rng.random() * last_weight)
            pipe = pipelines[p]
            nodes, template_edges = (
                self.templates[0]
                if pipe["template"] is TEMPLATES[0]
                else (self.templates[1] if pipe["template"] is TEMPLATES[1] else self.templates[2])
            )
            created = self.span * i / n_total + rng.random() * 20
            r = rng.random()
            # 85% Completed, 8% Failed, 4% Canceled, 3% Running or Queued, spread over the whole year.
            status = (
                "Completed"
                if r < 0.85
                else "Failed"
                if r < 0.93
                else "Canceled"
                if r < 0.97
                else "Running"
                if r < 0.99
                else "Queued"
            )
            scheduled = rng.random() < 0.4
            submitter = (
                "scheduler@runboard" if scheduled else subs[bisect.bisect(sub_cum, rng.random() * sub_total)]
            )
            queue = rng.lognormvariate(3.0, 1.2)  # seconds queued, median 20 s
            duration = min(rng.lognormvariate(7.0, 1.3), 3 * 86400)  # median ~18 min, up to days
            started = finished = dur = None
            n_steps = len(nodes)
            if status == "Completed":
                started, dur = created + queue, duration
            elif status == "Failed":
                started, dur = created + queue, duration * rng.uniform(0.05, 0.9)
            elif status == "Canceled":
                if rng.random() < 0.7:
                    started, dur = created + queue, duration * rng.uniform(0.02, 0.8)
            elif status == "Running":
                started = created + queue
            if dur is not None:
                finished = started + dur
            updated = finished if finished is not None else (started if started is not None else created)
            if status in ("Running", "Queued"):
                synced = self.span + 590 - rng.random() * 60  # live runs were synced within the last minute
            else:
                synced = updated + rng.uniform(0.5, 3)
            team = pipe["team"]
            tag_items = [("team", team)]
            # priority=high on exactly 20% of runs: i*7 mod 5 is a bijection, so every fifth run.
            if (i * 7) % 5 == 0:
                tag_items.append(("priority", "high"))
            elif rng.random() < 0.6:
                tag_items.append(("priority", "normal"))
            if rng.random() < 0.5:
                tag_items.append(("env", "prod" if scheduled else "dev"))
            if rng.random() < 0.1:
                tag_items.append(("git_sha", f"{(i * 2654435761) % (1 << 28):07x}"))
            tags_json = json.dumps(dict(tag_items))
            experiment = pipe["experiments"][0] if scheduled else rng.choice(pipe["experiments"])
            style = rng.random()
            if style < 0.45:
                display = f"{pipe['name']} #{i % 10000}"
            elif style < 0.75:
                display = ext
            elif style < 0.80:
                display = (
                    f"{pipe['name']} sweep trial {rng.randint(1, 64)}"  # "sweep" is in ~5%: the text search
                )
            else:
                display = f"{pipe['name']} {rng.choice(['lr=3e-4', 'bs=256', 'baseline', 'ablation', 'retry', 'debug', 'fp16', 'warm-start'])}"
            error = ""
            created_s = self.ts(created)
            started_s = None if started is None else self.ts(started)
            finished_s = None if finished is None else self.ts(finished)
            # which step stops the run, and what its steps are doing
            stop_at = n_steps
            if status == "Failed":
                stop_at = rng.randrange(n_steps)
                error = f"Step '{nodes[stop_at][0]}' failed: exit code 1"
            elif status in ("Canceled", "Running"):
                stop_at = rng.randrange(n_steps) if started is not None else 0
            elif status == "Queued":
                stop_at = 0
            runs.append(
                (
                    run_id,
                    BACKEND,
                    ext,
                    self.pipeline_ids[p],
                    pipe["name"],
                    display,
                    experiment,
                    "",
                    status,
                    tags_json,
                    f'{{"epochs": {10 + i % 90}, "learning_rate": 0.001, "seed": {i % 7}}}',
                    submitter,
                    "gpu-cluster" if pipe["template"] is TEMPLATES[0] else "cpu-cluster",
                    False,
                    error,
                    created_s,
                    started_s,
                    finished_s,
                    dur,
                    self.ts(updated),
                    self.ts(synced),
                )
            )
            for key, value in tag_items:
                self.tag_id += 1
                tags.append((self.tag_id, run_id, key, value, created_s))
            # steps, laid along the run's time in their topological order
            total_weight = sum(w for _, w in nodes)
            span = dur if dur is not None else (self.span + 600 - started if started is not None else 0)
            t = started if started is not None else created
            reused = status == "Completed" and rng.random() < 0.15
            for pos, (node, weight) in enumerate(nodes):
                self.step_id += 1
                s_status, s_queued, s_start, s_end, exit_code, s_error = (
                    "NotStarted",
                    None,
                    None,
                    None,
                    None,
                    "",
                )
                is_reused = False
                if pos < stop_at and started is not None:
                    s_len = span * weight / total_weight
                    s_queued, s_start, s_end = self.ts(t), self.ts(t + 1.5), self.ts(t + s_len)
                    t += s_len
                    s_status, exit_code = "Completed", 0
                    is_reused = reused and pos < 2
                elif pos == stop_at:
                    if status == "Failed":
                        s_queued, s_start, s_end = self.ts(t), self.ts(t + 1.5), finished_s
                        s_status, exit_code, s_error = "Failed", 1, "exit code 1"
                    elif status == "Canceled":
                        s_status, s_end, s_error = "Canceled", finished_s, "Canceled."
                        if started is not None:
                            s_queued, s_start = self.ts(t), self.ts(t + 1.5)
                    elif status == "Running":
                        s_status, s_queued, s_start = "Running", self.ts(t), self.ts(t + 1.5)
                    elif status == "Queued":
                        s_status, s_queued = "Queued", created_s
                elif status in ("Failed", "Canceled"):
                    s_status, s_end = "Canceled", finished_s
                    s_error = "Not run: another step failed and continue_on_step_failure is off."
                    if status == "Canceled":
                        s_error = "Canceled."
                steps.append(
                    (
                        self.step_id,
                        run_id,
                        f"{(self.step_id * 0x9E3779B97F4A7C15) % (1 << 64):016x}",
                        node,
                        node,
                        s_status,
                        "command",
                        COMMANDS.get(node, f"python -m jobs.{node} --config conf/{pipe['name']}.yaml"),
                        "azureml:AzureML-pytorch-2.2-cuda12@latest"
                        if node == "train"
                        else "azureml:python-3.11:4",
                        "gpu-cluster" if node == "train" else "cpu-cluster",
                        f'{{"data": "runs/{ext}/in"}}',
                        f'{{"out": "runs/{ext}/{node}/out"}}',
                        exit_code,
                        s_error,
                        is_reused,
                        run_external_id(i - 1) if is_reused else "",
                        f"{(self.step_id - n_steps) * 0x9E3779B97F4A7C15 % (1 << 64):016x}"
                        if is_reused
                        else "",
                        LOG_NAMES_JSON,
                        pos,
                        s_queued,
                        s_start,
                        s_end,
                    )
                )
            for src, out, dst, inp in template_edges:
                self.edge_id += 1
                edges.append((self.edge_id, run_id, src, out, dst, inp))
        return runs, tags, steps, edges


# --- writing rows -------------------------------------------------------------------------------------


class Table:
    """One table's column list: ours, then any column the models gained since with its default value."""

    def __init__(self, model, columns: list[str], pg: bool, now: datetime) -> None:
        from django.db import models

        self.name = model._meta.db_table
        fields = {f.column: f for f in model._meta.concrete_fields}
        missing = [c for c in columns if c not in fields]
        if missing:
            raise SystemExit(f"{model.__name__} has no column {missing}: bench/seed.py needs updating")
        extra_cols, extra_vals = [], []
        for column, field in fields.items():
            if column in columns:
                continue
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                value = now
            elif field.has_default():
                value = field.get_default()
            elif field.null:
                value = None
            elif field.blank and isinstance(field, models.CharField | models.TextField):
                value = ""  # what Django writes for a blank text field given no value
            else:
                raise SystemExit(
                    f"{model.__name__}.{field.name} has no default: bench/seed.py needs updating"
                )
            if isinstance(field, models.JSONField) and value is not None:
                value = json.dumps(value)
            elif isinstance(value, datetime):
                value = (
                    value.isoformat(" ") if pg else value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
                )
            extra_cols.append(column)
            extra_vals.append(value)
        self.columns = columns + extra_cols
        self.extra = tuple(extra_vals)
        if extra_cols:
            print(f"  {self.name}: filling {', '.join(extra_cols)} with their defaults")


class IndexedWriter:
    """Makes again, after the load, the secondary indexes a writer dropped before it."""

    saved_indexes: list[tuple[str, str]]

    def create_indexes(self) -> None:
        for name, sql in self.saved_indexes:
            t = time.monotonic()
            self.db.execute(sql)
            print(f"  index {name}: {time.monotonic() - t:.0f} s", flush=True)
        self.saved_indexes = []


class SQLiteWriter(IndexedWriter):
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-1000000")  # 1 GB of page cache while loading
        self.db.execute("PRAGMA temp_store=MEMORY")
        self.saved_indexes: list[tuple[str, str]] = []

    def drop_indexes(self, tables: list[str]) -> None:
        for table in tables:
            rows = self.db.execute(
                "SELECT name, sql FROM sqlite_master WHERE type='index' AND tbl_name=? AND sql IS NOT NULL",
                (table,),
            ).fetchall()
            for name, sql in rows:
                self.db.execute(f'DROP INDEX "{name}"')
                self.saved_indexes.append((name, sql))

    def write(self, table: Table, rows: list[tuple]) -> None:
        cols = ", ".join(f'"{c}"' for c in table.columns)
        marks = ", ".join("?" * len(table.columns))
        extra = table.extra
        data = rows if not extra else (r + extra for r in rows)
        self.db.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({marks})', data)

    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def analyze(self) -> None:
        self.db.execute("ANALYZE")

    def close(self) -> None:
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()


class PostgresWriter(IndexedWriter):
    def __init__(self) -> None:
        import psycopg
        from django.conf import settings

        conf = settings.DATABASES["default"]
        self.db = psycopg.connect(
            dbname=conf["NAME"],
            user=conf.get("USER") or None,
            password=conf.get("PASSWORD") or None,
            host=conf.get("HOST") or None,
            port=conf.get("PORT") or None,
            autocommit=True,
        )
        self.db.execute("SET synchronous_commit = off")
        self.db.execute("SET maintenance_work_mem = '512MB'")
        self.db.execute("SET TIME ZONE 'UTC'")
        try:
            # Skips the foreign-key triggers while loading rows that are consistent by construction.
            self.db.execute("SET session_replication_role = replica")
        except psycopg.Error:
            print("  (not a superuser: foreign keys are checked row by row, which is slower)")
        self.saved_indexes: list[tuple[str, str]] = []
        self.in_tx = False

    def drop_indexes(self, tables: list[str]) -> None:
        for table in tables:
            rows = self.db.execute(
                """SELECT i.indexname, i.indexdef FROM pg_indexes i
                   WHERE i.tablename = %s AND i.indexname NOT IN (
                     SELECT c.conname FROM pg_constraint c WHERE c.conrelid = %s::regclass)""",
                (table, table),
            ).fetchall()
            for name, sql in rows:
                self.db.execute(f'DROP INDEX "{name}"')
                self.saved_indexes.append((name, sql))

    def write(self, table: Table, rows: list[tuple]) -> None:
        cols = ", ".join(f'"{c}"' for c in table.columns)
        extra = table.extra
        with self.db.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row + extra if extra else row)

    def begin(self) -> None:
        self.db.execute("BEGIN")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def analyze(self) -> None:
        self.db.execute("ANALYZE")

    def close(self) -> None:
        self.db.close()


# --- the special runs ---------------------------------------------------------------------------------


def big_dag(prefix: str = "") -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """1,000 steps: ingest → validate → split → 4 feature families, each a fan-out of 200 shards folded into
    20 aggregates and a merge, then a model-selection fan-out of 100 candidates, a report and a release chain."""
    nodes: list[str] = ["ingest", "validate", "split"]
    edges = [("ingest", "out", "validate", "data"), ("validate", "out", "split", "data")]
    families = ["text", "image", "tabular", "graph"]
    for fam in families:
        prep = f"prep_{fam}"
        nodes.append(prep)
        edges.append(("split", fam, prep, "data"))
        for a in range(20):
            agg = f"agg_{fam}_{a:02d}"
            for s in range(10):
                shard = f"shard_{fam}_{a * 10 + s:03d}"
                nodes.append(shard)
                edges.append((prep, "out", shard, "data"))
                edges.append((shard, "features", agg, f"part_{s}"))
            nodes.append(agg)
        merge = f"merge_{fam}"
        nodes.append(merge)
        edges += [(f"agg_{fam}_{a:02d}", "out", merge, f"part_{a:02d}") for a in range(20)]
    nodes.append("merge_all")
    edges += [(f"merge_{fam}", "out", "merge_all", fam) for fam in families]
    for c in range(100):
        nodes.append(f"candidate_{c:03d}")
        edges.append(("merge_all", "out", f"candidate_{c:03d}", "features"))
        edges.append((f"candidate_{c:03d}", "metrics", "select_model", f"candidate_{c:03d}"))
    nodes.append("select_model")
    chain = ["register", "package", "deploy_staging", "smoke_test", "deploy_prod", "notify", "cleanup"]
    previous = "select_model"
    for node in chain:
        nodes.append(node)
        edges.append((previous, "out", node, "data"))
        previous = node
    assert len(nodes) == 1000, len(nodes)
    return nodes, edges


def seed_big_run(now: datetime) -> int:
    """A Running run of 1,000 steps: most done, two failed shards (continue_on_step_failure), some running."""
    from runs.models import Pipeline, PipelineRun, RunTag, StepEdge, StepRun

    nodes, edges = big_dag()
    pipeline, _ = Pipeline.objects.get_or_create(
        backend=BACKEND, external_id="train-multimodal-big", defaults={"name": "train-multimodal-big"}
    )
    created = now - timedelta(hours=3)
    started = created + timedelta(seconds=40)
    tags = {"team": "research", "priority": "high", "env": "prod"}
    run = PipelineRun.objects.create(
        backend=BACKEND,
        external_id=BIG_RUN_EXTERNAL_ID,
        pipeline=pipeline,
        pipeline_name=pipeline.name,
        display_name="train-multimodal-big 1,000 steps",
        experiment_name="train-multimodal-big",
        status="Running",
        tags=tags,
        parameters={"shards": 800, "candidates": 100},
        submitted_by="sara.khan@contoso.com",
        compute="cpu-cluster",
        continue_on_step_failure=True,
        created_at=created,
        started_at=started,
        backend_updated_at=now,
    )
    RunTag.objects.bulk_create(RunTag(run=run, key=k, value=v, created_at=created) for k, v in tags.items())
    rows = []
    t = started
    for pos, node in enumerate(nodes):
        status, s_start, s_end, exit_code, error = "NotStarted", None, None, None, ""
        if node.startswith("candidate_"):
            c = int(node[-3:])
            status = "Completed" if c < 60 else "Running" if c < 64 else "Queued" if c < 70 else "NotStarted"
        elif node in (
            "select_model",
            "register",
            "package",
            "deploy_staging",
            "smoke_test",
            "deploy_prod",
            "notify",
            "cleanup",
        ):
            status = "NotStarted"
        else:
            status = "Completed"
        if node in ("shard_image_117", "shard_graph_042"):
            status, exit_code, error = "Failed", 1, "exit code 1: CUDA out of memory"
        if status in ("Completed", "Failed", "Running"):
            s_start = t
            t += timedelta(seconds=7)
            s_end = None if status == "Running" else s_start + timedelta(seconds=30 + pos % 90)
            exit_code = exit_code if status != "Completed" else 0
        rows.append(
            StepRun(
                run=run,
                external_id=f"{run.pk:08d}{pos:08x}",
                node_id=node,
                display_name=node,
                status=status,
                command=f"python -m jobs.{node.rstrip('_0123456789')} --part {pos}",
                environment="azureml:python-3.11:4",
                compute="cpu-cluster",
                inputs={"data": f"runs/{BIG_RUN_EXTERNAL_ID}/in"},
                outputs={"out": f"runs/{BIG_RUN_EXTERNAL_ID}/{node}/out"},
                exit_code=exit_code,
                error=error,
                log_names=["stdout", "stderr", "system"],
                position=pos,
                queued_at=s_start - timedelta(seconds=2)
                if s_start
                else (now if status == "Queued" else None),
                started_at=s_start,
                finished_at=s_end,
            )
        )
    StepRun.objects.bulk_create(rows, batch_size=500)
    StepEdge.objects.bulk_create(
        [
            StepEdge(run=run, source_node=a, source_output=o, target_node=b, target_input=i)
            for a, o, b, i in edges
        ],
        batch_size=500,
    )
    return run.pk


def write_big_log(path: Path, size: int, rng: random.Random) -> int:
    """A training job's stdout: timestamps, ANSI colours, tqdm progress redrawn with carriage returns, JSON
    metric dumps, a few very long lines, a few invalid UTF-8 bytes, and RARE_WORD a few hundred times."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rare_every = size // 300
    next_rare = rare_every // 2
    rare_count = 0
    written = 0
    step = 0
    epoch = 0
    t0 = datetime(2025, 6, 1, 8, 0, 0, tzinfo=UTC).timestamp()
    green, yellow, red, blue, dim, reset = (
        "\x1b[32m",
        "\x1b[33m",
        "\x1b[31m",
        "\x1b[34m",
        "\x1b[2m",
        "\x1b[0m",
    )
    with path.open("wb") as fh:
        while written < size:
            lines: list[str] = []
            block = 0
            while block < 1 << 20:
                step += 1
                stamp = (
                    time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + step * 0.05)) + f".{step % 1000:03d}Z"
                )
                r = rng.random()
                if r < 0.55:
                    line = (
                        f"{stamp} {green}INFO{reset}  trainer: epoch {epoch} step {step} "
                        f"loss={2.5 / math.log(step + 2):.4f} lr={3e-4 * (1 - (step % 100000) / 100000):.2e} "
                        f"grad_norm={rng.uniform(0.1, 4):.3f} throughput={rng.uniform(800, 1200):.1f} samples/s"
                    )
                elif r < 0.80:
                    line = f"{dim}{stamp}{reset} dataloader worker {step % 8} fetched batch {step} in {rng.uniform(1, 40):.1f} ms"
                elif r < 0.86:
                    line = f"{stamp} {yellow}WARNING{reset} slow batch {step}: {rng.uniform(100, 900):.0f} ms waiting for I/O"
                elif r < 0.90:
                    # tqdm redraws its bar with carriage returns; the terminal shows only the last one
                    total = 1000
                    parts = []
                    for k in range(1, 11):
                        done = k * 100
                        bar = "█" * k + " " * (10 - k)
                        parts.append(
                            f"Epoch {epoch}: {done * 100 // total:3d}%|{bar}| {done}/{total} [{k:02d}:00<{10 - k:02d}:00, 9.9it/s]"
                        )
                    line = "\r".join(parts)
                    epoch += 1
                elif r < 0.93:
                    metrics = {
                        f"eval/{m}": round(rng.random(), 5)
                        for m in ("acc", "f1", "precision", "recall", "auc")
                    }
                    metrics |= {
                        f"layer_{k}/grad_mean": round(rng.gauss(0, 1e-3), 8)
                        for k in range(rng.randint(10, 120))
                    }
                    line = f"{stamp} {blue}METRICS{reset} " + json.dumps(metrics)
                elif r < 0.99995:
                    line = (
                        f"{stamp} checkpoint: saved shard {step % 64} of 64 to /mnt/outputs/ckpt/step_{step}"
                    )
                else:
                    line = f"{stamp} config: " + json.dumps(
                        {f"param_{k}": "x" * 40 for k in range(2500)}
                    )  # ~120 KB
                if written + block >= next_rare:
                    lines.append(
                        f"{stamp} {red}WARNING{reset} gradient {RARE_WORD} detected at step {step}; "
                        f"skipping update and reducing loss scale to {2 ** (16 - rare_count % 8)}"
                    )
                    block += len(lines[-1]) + 1
                    next_rare += rare_every
                    rare_count += 1
                lines.append(line)
                block += len(line) + 1
            data = ("\n".join(lines) + "\n").encode()
            if rng.random() < 0.01:
                data += b"binary payload: \xff\xfe\x00\x01\x80 not UTF-8\n"
            data = data[: size - written] if written + len(data) > size else data
            fh.write(data)
            written += len(data)
    return rare_count


def seed_log_run(work_dir: Path, log_size: int, now: datetime) -> int:
    """A real local-engine run (tests/integration/pipelines/two_steps.yml) with a 1 GB stdout, mirrored.

    submit_spec() queues the first step on commit (executor.advance → Celery), which needs Redis; here
    executor.advance is patched out for the submit and the steps are marked Completed directly, as the engine
    would have left them. The run id is fixed, so SQLite and PostgreSQL seeds share one 1 GB file.
    """
    from backends.local import executor
    from backends.local.engine import submit_spec
    from backends.local.models import LocalRun, LocalStep
    from backends.local.spec import load_pipeline
    from runs.sync import sync_run

    with (
        mock.patch("backends.local.submission._new_run_id", return_value=LOG_RUN_ID),
        mock.patch("backends.local.executor.advance"),
    ):
        submit_spec(load_pipeline(REPO / "tests/integration/pipelines/two_steps.yml"), submitted_by="bench")
    started = now - timedelta(hours=2)
    finished = started + timedelta(minutes=95)
    for step in LocalStep.objects.filter(run_id=LOG_RUN_ID):
        LocalStep.objects.filter(pk=step.pk).update(
            status="Completed",
            exit_code=0,
            queued_at=started,
            started_at=started + timedelta(seconds=1),
            finished_at=finished,
        )
        logs = executor.log_path(step, "stdout").parent
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "stderr.txt").write_text("warning: using a deterministic seed\n")
        (logs / "system.txt").write_text(
            f"{started:%Y-%m-%dT%H:%M:%SZ} Queued\n{started:%Y-%m-%dT%H:%M:%SZ} Started on bench\n"
            f"{finished:%Y-%m-%dT%H:%M:%SZ} Exit code 0\n{finished:%Y-%m-%dT%H:%M:%SZ} Completed\n"
        )
        if step.node_id != LOG_NODE_ID:
            executor.log_path(step, "stdout").write_text("hello from write\n")
    LocalRun.objects.filter(pk=LOG_RUN_ID).update(
        status="Completed", created_at=started, started_at=started, finished_at=finished, updated_at=now
    )
    stdout = executor.log_path(LocalStep.objects.get(run_id=LOG_RUN_ID, node_id=LOG_NODE_ID), "stdout")
    # Seeds of both databases may run at once: one writes the file, the other waits and keeps it.
    with (work_dir / "log.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stdout.exists() and stdout.stat().st_size == log_size:
            print(f"  {stdout} is already {human_bytes(log_size)}: kept")
        else:
            t = time.monotonic()
            partial = stdout.with_suffix(".partial")
            count = write_big_log(partial, log_size, random.Random(7))
            partial.replace(stdout)
            print(
                f"  wrote {stdout}: {human_bytes(log_size)}, {RARE_WORD!r} {count} times, {time.monotonic() - t:.0f} s"
            )
    return sync_run(BACKEND, LOG_RUN_ID).pk


# --- main ---------------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("B")
    return int(float(text[:-1]) * units[text[-1]]) if text and text[-1] in units else int(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--steps-per-run", type=int, default=10)
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--database-url", help="default: $BENCH_DATABASE_URL, else SQLite in the work dir")
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="default: %(default)s")
    parser.add_argument("--log-size", type=parse_size, default=parse_size("1G"), help="default: 1G")
    parser.add_argument("--reset", action="store_true", help="SQLite only: delete the database file first")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.steps_per_run < 1:
        parser.error("--runs and --steps-per-run must be at least 1")

    url = args.database_url or os.environ.get("BENCH_DATABASE_URL")
    path = sqlite_path(url) if url else args.work_dir.resolve() / "bench.sqlite3"
    if args.reset:
        if path is None:
            parser.error(
                "--reset is for SQLite; drop and recreate a PostgreSQL database with dropdb/createdb"
            )
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
    url = configure(url, args.work_dir)
    begin = time.monotonic()

    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection

    from runs.models import Pipeline, PipelineRun, RunTag, StepEdge, StepRun

    print(f"database: {describe_database()}")
    free = shutil.disk_usage(args.work_dir)
    print(f"free space in {args.work_dir}: {human_bytes(free.free)}")
    t = time.monotonic()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrate: {time.monotonic() - t:.1f} s")
    if PipelineRun.objects.exists():
        n = PipelineRun.objects.order_by("-pk").values_list("pk", flat=True).first()
        print(
            f"already seeded (runs up to id {n}); to seed again: "
            + ("--reset" if connection.vendor == "sqlite" else "dropdb and createdb the database")
        )
        # Seeded before the overview's rows were part of the seed: add them.
        if made := seed_overview_rows(datetime.now(UTC).replace(microsecond=0), random.Random(args.seed)):
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
            print(f"added the overview's rows: {made}")
        return

    # Rough need: ~0.45 KB per step row with its indexes, ~1 KB per run, ~0.2 KB per edge; plus the log.
    need = args.runs * (1000 + args.steps_per_run * 650) + args.log_size
    if need > free.free * 0.9:
        sys.exit(
            f"this seed needs about {human_bytes(need)} and {human_bytes(free.free)} is free: use fewer steps"
        )

    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(args.seed)
    pipelines = Pipelines(args.pipelines, rng)
    Pipeline.objects.bulk_create(
        Pipeline(
            backend=BACKEND,
            external_id=p["name"],
            name=p["name"],
            display_name=p["name"].replace("-", " ").capitalize(),
            experiment_name=p["experiments"][0],
            tags={"team": p["team"]},
            source=f"pipelines/{p['name']}/pipeline.yml",
            created_at=now - timedelta(days=400),
            updated_at=now - timedelta(days=30),
        )
        for p in pipelines.rows
    )
    pipeline_ids = [
        dict(Pipeline.objects.filter(backend=BACKEND).values_list("external_id", "pk"))[p["name"]]
        for p in pipelines.rows
    ]
    pg = connection.vendor == "postgresql"
    tables = {
        "runs": Table(PipelineRun, RUN_COLUMNS, pg, now),
        "tags": Table(RunTag, TAG_COLUMNS, pg, now),
        "steps": Table(StepRun, STEP_COLUMNS, pg, now),
        "edges": Table(StepEdge, EDGE_COLUMNS, pg, now),
    }
    connection.close()
    writer = PostgresWriter() if pg else SQLiteWriter(Path(connection.settings_dict["NAME"]))
    writer.drop_indexes([t.name for t in tables.values()])
    generator = Generator(args, pipelines, pipeline_ids, connection.vendor, now)
    load_start = time.monotonic()
    gen_seconds = 0.0
    counts = {k: 0 for k in tables}
    for start in range(0, args.runs, CHUNK_RUNS):
        stop = min(start + CHUNK_RUNS, args.runs)
        g = time.monotonic()
        rows = dict(zip(tables, generator.chunk(start, stop, rng), strict=True))
        gen_seconds += time.monotonic() - g
        writer.begin()
        for key, table in tables.items():
            writer.write(table, rows[key])
            counts[key] += len(rows[key])
        writer.commit()
        if stop % (CHUNK_RUNS * 10) == 0 or stop == args.runs:
            elapsed = time.monotonic() - load_start
            eta = elapsed / stop * (args.runs - stop)
            print(
                f"  {stop:>9,} runs, {counts['steps']:>11,} steps  {elapsed:6.0f} s  (eta {eta:.0f} s)",
                flush=True,
            )
    load_seconds = time.monotonic() - load_start
    print(f"rows loaded in {load_seconds:.0f} s ({gen_seconds:.0f} s of it making them in Python)")
    t = time.monotonic()
    writer.create_indexes()
    index_seconds = time.monotonic() - t
    print(f"indexes built in {index_seconds:.0f} s")
    writer.close()

    if pg:
        with connection.cursor() as cur:
            for sql in connection.ops.sequence_reset_sql(
                no_style(), [PipelineRun, RunTag, StepRun, StepEdge]
            ):
                cur.execute(sql)
    t = time.monotonic()
    big_pk = seed_big_run(now)
    print(f"1,000-step run: id {big_pk} ({time.monotonic() - t:.1f} s)")
    t = time.monotonic()
    log_pk = seed_log_run(args.work_dir.resolve(), args.log_size, now)
    print(f"1 GB log run: id {log_pk} ({time.monotonic() - t:.0f} s)")

    t = time.monotonic()
    made = seed_overview_rows(now, rng)
    print(f"schedules, fires and actions: {made} ({time.monotonic() - t:.1f} s)")

    t = time.monotonic()
    # On PostgreSQL also VACUUM: it sets the visibility map that autovacuum would have set on a database that
    # grew over a year, without which an index-only scan still reads every row from the table.
    statement = "VACUUM ANALYZE" if pg else "ANALYZE"
    with connection.cursor() as cur:
        cur.execute(statement)
    print(f"{statement}: {time.monotonic() - t:.0f} s")
    total = time.monotonic() - begin
    print(
        f"seeded {PipelineRun.objects.count():,} runs, {StepRun.objects.count():,} steps, "
        f"{StepEdge.objects.count():,} edges, {RunTag.objects.count():,} tag rows, "
        f"{Pipeline.objects.count()} pipelines in {total / 60:.1f} min; database {human_bytes(database_size())}"
    )


if __name__ == "__main__":
    main()
