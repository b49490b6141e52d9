"""Hostile values for every path converter and query parameter of every page, and every field of every form, as
every role: no answer is a 500, none takes a second.

A fixed corpus of values known to have broken parsers (Unicode digits, numbers beyond 64 bits, NUL, folders of
zones, dates at the ends of time, nesting, paths out of a folder) plus random draws from it, seeded, so a failure
names a case that reproduces. Bounded in count and time. ``RUNBOARD_FUZZ_CASES`` raises the random count.
"""

from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from backends.base import (
    PipelineInput,
    RunStatus,
)
from backends.local.environment_models import LocalEnvironment
from dashboard.models import Action
from runs.filters import RunFilterForm
from runs.forms import PublishForm, ReasonForm, SubmitPipelineForm, SubmitPublishedForm, TokenForm
from runs.models import PublishedPipeline
from runs.tokens import token_create
from tests import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
# What one request may cost. CPU time of the serving thread and the number of queries measure the work a request
# does, whatever else the machine is doing; wall time alone would fail on a loaded machine. The wall-time bound
# only catches a request that waits on something it should not.
CPU_SECONDS = 1.0
QUERIES = 60
WALL_SECONDS = 10.0
RANDOM_CASES = int(os.environ.get("RUNBOARD_FUZZ_CASES", "150"))

HOSTILE = [
    "", " ", "0", "-1", "1.5", "²", "\u0661\u0662", "0x10", "1e999", "NaN", "inf", "9" * 19, "9" * 40, str(2**63),
    str(2**64), "\x00", "a\x00b", "%00", "<script>alert(1)</script>", "'\"", "../../etc/passwd", "/etc/passwd",
    "a" * 5000, "America", "Europe", "9999-12-31", "9999-12-31 23:59", "0001-01-01", "2026-13-45",
    "2026-05-01T25:61", "created_9999999999999999999_1", "duration_1e999_1", "duration_null_99999999999999999999",
    "Failed", "all", "failed", "prev", "next", "https://elsewhere.example/", "//elsewhere.example", "javascript:x",
    "\u202e", "😀" * 100, "[" * 1000, "key=" + "v" * 2000,
]  # fmt: skip
PARAMS = {
    "list": ["q", "status", "backend", "pipeline", "experiment", "tag", "submitted_by", "created_after", "created_before", "sort", "cursor"],
    "changes": ["ids", "since", "after_id", "shown", "more", "list", "q", "status", "backend", "sort"],
    "detail": ["expand", "view", "seen", "layout"],
    "graph_status": ["expand", "view", "seen"],
    "step_log": ["offset", "before", "after", "at", "from", "line", "q", "case", "find"],
    "step_log_line": ["raw", "q", "case"],
    "step_output": ["download", "raw"],
    "step_output_path": ["download", "raw"],
    "step_snapshot": ["download", "raw"],
    "step_snapshot_path": ["download", "raw"],
    "pipeline_list": ["backend"],
    "pipeline_detail": ["q", "status", "cursor", "sort", "created_after", "created_before"],
    "published_list": ["backend"],
    "schedules:list": ["status", "pipeline", "backend", "q", "missed_within", "firing_within"],
    "calendar": ["backend"],
    "action_list": ["kind", "status", "user", "target", "backend", "cursor"],
}  # fmt: skip
FORMS = {
    "bulk_cancel": ["ids", "scope", "confirm", "query", "next", "reason"],
    "cancel": ["reason", "next"],
    "resubmit": ["reason", "mode"],
    "publish": ["name", "description", "version", "continue_on_step_failure", "reason"],
    "published_set_enabled": ["enabled", "reason"],
    "published_submit": ["experiment", "reason", "param_epochs"],
    "pipeline_submit": [
        "experiment",
        "tags",
        "reason",
        "input_epochs",
        "input_rate",
        "input_mode",
        "input_verbose",
        "input_data",
    ],
    "token_create": ["name"],
    "token_revoke": ["reason"],
    "bulk": ["ids", "enabled", "confirm", "reason"],
    "set_enabled": ["enabled", "reason", "next"],
    "backend_check": ["reason"],
    "environment_remove": ["reason"],
}
ROLES = {"viewer": ("viewer",), "operator": ("operator",), "manager": ("schedule-manager",), "stranger": ()}


@pytest.fixture
def world(django_user_model, tmp_path, settings, monkeypatch, engine_dir):
    """One of everything a page shows: runs with steps and a log, a pipeline, a published pipeline with a token,
    a schedule and its fire, an action, a local step's files. Mirrored through sync's own functions."""
    from tests.conftest import make_user
    from tests.stepfiles import run_with_files

    settings.LOG_INDEX_DIR = tmp_path / "log-index"
    run = factories.run(
        external_id="r1", status=RunStatus.RUNNING, steps=["a", "b", "c"], edges=[("a", "o", "b", "i")]
    )
    published = factories.published(
        external_id="p1", name="greeter", parameters={"epochs": {"type": "integer"}}
    )
    schedule = factories.schedule(external_id="sch1", name="nightly")
    # A pipeline whose page offers the submit form: one input of each kind the form draws.
    pipeline = factories.pipeline(
        external_id="typed",
        inputs=(
            PipelineInput("epochs", "integer", default=3, required=True, min=1, max=100),
            PipelineInput("rate", "number", default=0.5, required=True, min=0),
            PipelineInput("mode", "string", default="fast", required=True, enum=("fast", "careful")),
            PipelineInput("verbose", "boolean", optional=True),
            PipelineInput("data", "uri_folder", required=True),
        ),
    )
    users = {role: make_user(django_user_model, f"fuzz-{role}", *groups) for role, groups in ROLES.items()}
    users["superuser"] = django_user_model.objects.create_superuser("fuzz-admin", "a@example.com", "x")
    token = token_create(
        published=PublishedPipeline.objects.get(pk=published.pk), user=users["operator"], name="t"
    )[0]
    action = Action.objects.create(kind="cancel_run", backend="local", target_type="run", target_id="r1")
    # An environment row as a build leaves one; its folder and log are missing, which the pages must bear too.
    environment = LocalEnvironment.objects.create(
        key="0123456789abcdef", kind="pip", status="ready", name="<b>env</b>", definition="tabulate\n"
    )
    files = run_with_files(
        monkeypatch,
        tmp_path,
        artifacts={"houses.csv": "name,rooms\nhouse 1,3\n", "plots/loss.png": b"\x89PNG\r\n\x1a\n"},
        code={"train.py": "print(1)\n"},
    )
    return {
        "pk": run.pk,
        "files": files.pk,
        "published": published.pk,
        "schedule": schedule.pk,
        "pipeline": pipeline.pk,
        "token": token.pk,
        "action": action.pk,
        "environment": environment.pk,
        "users": users,
    }


def patterns(resolvers=None, prefix="", namespace=""):
    for p in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            if "admin" in str(p.pattern):
                continue
            ns = p.namespace or namespace
            yield from patterns(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), f"{namespace}:{p.name}" if namespace else p.name, p


def fill(route: str, world: dict, values: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match[2]
        if name in values:
            return values[name]
        defaults = {
            "pk": world["pk"],
            "token_pk": world["token"],
            "node_id": "a",
            "name": "stdout",
            "offset": 0,
        }
        if "published" in route and name == "pk":
            return str(world["published"])
        if route.startswith("pipelines/") and name == "pk":
            return str(world["pipeline"])
        if route.startswith("schedules/") and name == "pk":
            return str(world["schedule"])
        if route.startswith("actions/") and name == "pk":
            return str(world["action"])
        if route.startswith("backends/"):
            return "local"
        if route.startswith("environments/"):
            return world["environment"]
        if "/outputs/" in route or "/snapshot/" in route:  # a local step with files: the pages read them
            return {"pk": str(world["files"]), "node_id": "write", "name": "artifacts", "path": "houses.csv"}[
                name
            ]
        return str(defaults[name])

    return "/" + re.sub(r"<(\w+):(\w+)>", value, route)


def cases(world: dict, rng: random.Random):
    """(method, path, data) for every route: its converters and its parameters, hostile values first in turn."""
    for route, name, _ in patterns():
        if name in ("login", "logout", "home"):
            continue
        short = name.split(":")[-1]
        post = short in FORMS or name in ("api:published_runs",)
        converters = re.findall(r"<(\w+):(\w+)>", route)
        for _, conv in converters:
            for value in HOSTILE[:12] + rng.sample(HOSTILE, 4):
                yield ("POST" if post else "GET"), fill(route, world, {conv: value.replace("/", "%2F")}), {}
        keys = FORMS.get(short) if post else PARAMS.get(name, PARAMS.get(short, []))
        for key in keys or []:
            for value in rng.sample(HOSTILE, 6):
                yield ("POST" if post else "GET"), fill(route, world, {}), {key: value}
        for _ in range(RANDOM_CASES // 30):
            if keys:
                data = {k: rng.choice(HOSTILE) for k in rng.sample(keys, min(len(keys), 3))}
                yield ("POST" if post else "GET"), fill(route, world, {}), data


@pytest.mark.parametrize("role", [*ROLES, "superuser"])
def test_no_hostile_value_makes_a_500_or_a_slow_answer(world, role, capsys):
    rng = random.Random(f"runboard-{role}")
    client = Client(raise_request_exception=False)
    client.force_login(world["users"][role])
    client.cookies["tz"] = rng.choice(["America", "Pacific/Kiritimati", "../x", "UTC"])
    sent, slowest, most_queries, failures = 0, (0.0, ""), 0, []
    deadline = time.monotonic() + 120
    for method, path, data in cases(world, rng):
        if time.monotonic() > deadline:
            break
        started, cpu = time.monotonic(), time.thread_time()
        with CaptureQueriesContext(connection) as queries:
            if method == "GET":
                response = client.get(path, data)
            else:
                response = client.post(path, data)
        took, cpu = time.monotonic() - started, time.thread_time() - cpu
        sent += 1
        slowest = max(slowest, (cpu, f"{method} {path[:80]} {str(data)[:120]}"))
        most_queries = max(most_queries, len(queries))
        if response.status_code >= 500 or cpu > CPU_SECONDS or len(queries) > QUERIES or took > WALL_SECONDS:
            failures.append(
                f"{response.status_code} in {took:.2f} s ({cpu:.2f} s CPU, {len(queries)} queries): "
                f"{method} {path[:120]} {str(data)[:200]}"
            )
    with capsys.disabled():
        print(
            f"\nfuzz as {role}: {sent} requests, {len(failures)} failures, most CPU {slowest[0] * 1000:.0f} ms "
            f"({slowest[1]}), most queries {most_queries}"
        )
    assert sent > 500
    assert failures == []


def test_every_parameter_the_pages_read_is_in_the_fuzz():
    """A parameter a view reads by name, or a field of a form it reads, must be fuzzed too."""
    source = "\n".join(
        p.read_text() for d in ("runs", "schedules", "dashboard") for p in (ROOT / d).rglob("*.py")
    )
    read = set(re.findall(r'GET\.(?:get|getlist)\("(\w+)"', source))
    read |= set(RunFilterForm.base_fields) | {"expand", "view"}
    posted = set(re.findall(r'POST\.(?:get|getlist)\("(\w+)"', source))
    for form in (ReasonForm, PublishForm, TokenForm, SubmitPublishedForm, SubmitPipelineForm):
        posted |= set(form.base_fields)
    fuzzed_get = {p for params in PARAMS.values() for p in params}
    fuzzed_post = {p for fields in FORMS.values() for p in fields}

    assert read - fuzzed_get == set()
    assert posted - fuzzed_post == set()
    assert reverse("runs:list")  # the routes resolve as the fuzz names them
