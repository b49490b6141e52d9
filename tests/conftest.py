"""Shared fixtures: a real Redis, a real Celery worker process, users.

Redis: the one REDIS_URL names (CI's standalone server, a database of its own), else an embedded server.
The worker is a real `celery worker` subprocess reading the same test database as the tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from django.conf import settings
from kombu import pools as kombu_pools

from backends.base import RunStatus
from dashboard.celery import app as celery_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    url = os.environ.get("REDIS_URL")
    server = None
    if not url:
        from dashboard.redis_server import EmbeddedRedis

        server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False)
        url = server.start()
    redis.Redis.from_url(url).flushdb()
    old = settings.REDIS_URL, celery_app.conf.broker_url
    settings.REDIS_URL = url
    celery_app.conf.broker_url = _broker(url)
    _reset_broker_pool()
    yield url
    settings.REDIS_URL, celery_app.conf.broker_url = old
    _reset_broker_pool()
    if server:
        server.stop()


def _reset_broker_pool() -> None:
    # Connections made before the URL changed point at the old broker.
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None
    kombu_pools.reset()  # kombu keeps producer pools per broker URL, process-wide


def _broker(url: str) -> str:
    return "redis+socket://" + url.removeprefix("unix://") if url.startswith("unix://") else url


@pytest.fixture(scope="session")
def engine_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("local-engine")
    settings.LOCAL_ENGINE_DIR = path
    return path


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory) -> Path:
    """uv's download cache for the tests' environment builds: PyPI is asked once a session for each package."""
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture
def own_engine_dir(tmp_path, settings, monkeypatch, uv_cache) -> Path:
    """An engine folder of the test's own, so that the environments it builds are its own; downloads are shared."""
    settings.LOCAL_ENGINE_DIR = tmp_path / "engine"
    monkeypatch.setenv("UV_CACHE_DIR", str(uv_cache))
    return settings.LOCAL_ENGINE_DIR


def _database_url() -> str:
    from django.db import connection

    conf = connection.settings_dict
    if conf["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{conf['NAME']}"
    auth = conf["USER"] or ""
    if conf.get("PASSWORD"):
        auth += f":{conf['PASSWORD']}"
    host = f"{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}"
    return f"postgres://{auth}@{host}/{conf['NAME']}"


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path, name: str) -> None:
        self.process = process
        self.log = log
        self.name = name

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, redis_url, engine_dir, tmp_path_factory):
    """A real worker for both queues, on the test database. Session-wide: starting one costs seconds."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    name = f"test-{os.getpid()}@{socket.gethostname()}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "REDIS_URL": redis_url,
        "DATABASE_URL": _database_url(),
        "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir),
        "PYTHONUNBUFFERED": "1",
    }
    process = start_celery(
        "worker",
        "-Q",
        "runboard,steps",
        "-c",
        "6",
        "-n",
        name,
        "--without-gossip",
        "--without-mingle",
        "-l",
        "info",
        env=env,
        log=log,
    )
    worker = Worker(process, log, name)
    deadline = time.monotonic() + 60
    while "ready." not in worker.output():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the Celery worker did not start:\n{worker.output()[-4000:]}")
        time.sleep(0.2)
    _running_workers.append(worker)
    yield worker
    _running_workers.remove(worker)
    stop_process(process)


_running_workers: list[Worker] = []


@pytest.fixture(autouse=True)
def _workers_idle_before_flush(request):
    """A transactional test's data is flushed after it, while the session's worker lives on. Whatever the test
    left the worker doing (a step still running, a sync a beat sent, an action waiting to retry) would write to
    the database during the flush (a deadlock on PostgreSQL) or into the next test. So, before the flush (this
    fixture is torn down before pytest-django's), the worker is brought to rest: nothing queued, nothing running.
    """
    if "_django_db_marker" not in request.fixturenames:  # run without pytest-django
        yield
        return
    request.getfixturevalue("_django_db_marker")  # set up before this fixture, so torn down after it
    yield
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or {
        "transactional_db",
        "live_server",
    } & set(request.fixturenames)
    if transactional:
        for worker in _running_workers:
            bring_to_rest(worker)


def bring_to_rest(worker: Worker, timeout: float = 60) -> None:
    """Drop queued tasks, cancel live local runs, revoke retries, and wait until the worker runs nothing."""
    from backends.local.executor import cancel_run
    from backends.local.models import LocalRun

    inspect = celery_app.control.inspect(destination=[worker.name], timeout=2, limit=1)
    deadline = time.monotonic() + timeout
    quiet_rounds = 0
    while quiet_rounds < 2:  # twice in a row: a task that was finishing may have queued another
        with celery_app.connection_for_write() as connection:
            for queue in ("runboard", "steps"):
                connection.default_channel.queue_purge(queue)
        for run_id in LocalRun.objects.exclude(status__in=RunStatus.TERMINAL).values_list("pk", flat=True):
            cancel_run(run_id)
        active, reserved, scheduled = inspect.active(), inspect.reserved(), inspect.scheduled()
        if active is None or reserved is None or scheduled is None:
            busy = ["(no answer from the worker)"]
        else:
            busy = [t["name"] for tasks in (*active.values(), *reserved.values()) for t in tasks]
            waiting = [t["request"]["id"] for tasks in scheduled.values() for t in tasks]
            if waiting:
                celery_app.control.revoke(waiting, destination=[worker.name])  # dropped when their time comes
        quiet_rounds = 0 if busy else quiet_rounds + 1
        if busy and (time.monotonic() > deadline or worker.process.poll() is not None):
            raise RuntimeError(f"the test worker did not come to rest in {timeout} s: still running {busy}")
        time.sleep(0.05 if not busy else 0.2)


@pytest.fixture
def private_stack(django_db_setup, engine_dir, tmp_path):
    """A Redis, a worker for both queues and beat of this test's own, started with ``env``: for a test whose
    processes must see a configuration the session's worker does not (another backends file). The worker is
    brought to rest and stopped, then Redis, before the test's data is flushed."""
    from dashboard.redis_server import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "private-redis", persist=False)
    url = server.start()
    old = settings.REDIS_URL, celery_app.conf.broker_url
    settings.REDIS_URL, celery_app.conf.broker_url = url, _broker(url)
    _reset_broker_pool()
    processes: list[subprocess.Popen] = []
    workers: list[Worker] = []

    def start(env: dict[str, str]) -> str:
        env = {
            **env,
            "REDIS_URL": url,
            "DATABASE_URL": _database_url(),
            "RUNBOARD_LOCAL_ENGINE_DIR": str(engine_dir),
            "RUNBOARD_SCHEDULE_TICK": env.get("RUNBOARD_SCHEDULE_TICK", "1"),
        }
        name = f"private-{os.getpid()}-{len(workers)}@{socket.gethostname()}"
        log = tmp_path / f"{name.split('@')[0]}.log"
        process = start_celery(
            "worker", "-Q", "runboard,steps", "-c", "4", "-n", name, "--without-gossip", "--without-mingle",
            "-l", "info", env=env, log=log,
        )  # fmt: skip
        worker = Worker(process, log, name)
        deadline = time.monotonic() + 60
        while "ready." not in worker.output():
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"the private worker did not start:\n{worker.output()[-4000:]}")
            time.sleep(0.2)
        workers.append(worker)
        beat = start_celery("beat", "-s", str(tmp_path / "private-beat"), "-l", "warning", env=env)
        processes.append(beat)
        return url

    yield start
    for process in processes:
        stop_process(process)
    for worker in workers:
        bring_to_rest(worker)
        stop_process(worker.process)
    settings.REDIS_URL, celery_app.conf.broker_url = old
    _reset_broker_pool()
    server.stop()


@pytest.fixture
def celery_beat(celery_worker, redis_url, tmp_path):
    """Celery beat, so the mirror follows the backend by itself as it does in production."""
    process = start_celery(
        "beat", "-s", str(tmp_path / "beat-schedule"), "-l", "warning", env={"REDIS_URL": redis_url}
    )
    yield process
    stop_process(process)


def start_celery(*args: str, env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """`celery -A dashboard ARGS` in a process group of its own, output to ``log`` (or nowhere)."""
    output = log.open("wb") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dashboard", *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if log:
            output.close()


def stop_process(process: subprocess.Popen) -> None:
    os.killpg(process.pid, 15)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.com", "admin-pass-123")


def make_user(django_user_model, name: str, *groups: str):
    from django.apps import apps
    from django.contrib.auth.models import Group

    from dashboard.roles import ensure_roles

    if groups and not Group.objects.filter(name__in=groups).exists():
        # A transactional test's flush empties every table, the groups a migration made included.
        ensure_roles(apps)
    user = django_user_model.objects.create_user(name, f"{name}@example.com", f"{name}-pass-123")
    user.groups.add(*Group.objects.filter(name__in=groups))
    return user


@pytest.fixture
def viewer(django_user_model):
    return make_user(django_user_model, "viewer", "viewer")


@pytest.fixture
def operator(django_user_model):
    return make_user(django_user_model, "operator", "operator")


@pytest.fixture
def manager(django_user_model):
    return make_user(django_user_model, "manager", "schedule-manager")


@pytest.fixture
def stranger(django_user_model):
    """Logged in, in no group: may read nothing."""
    return make_user(django_user_model, "stranger")


def logged_in_client(user):
    """A test client of its own, logged in as ``user``: a test may hold several, one per role."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer):
    """Logged in as a viewer: reads every page, may publish, changes nothing else."""
    return logged_in_client(viewer)


@pytest.fixture
def operator_client(operator):
    """Logged in as an operator: reads, cancels, resubmits, submits published pipelines, manages their tokens."""
    return logged_in_client(operator)


@pytest.fixture
def manager_client(manager):
    """Logged in as a schedule manager: reads, switches schedules and published pipelines on and off."""
    return logged_in_client(manager)


@pytest.fixture
def stranger_client(stranger):
    """Logged in, in no group: every page but the login answers 403."""
    return logged_in_client(stranger)


@pytest.fixture
def superuser_client(admin_user):
    """Logged in as a superuser, who passes every permission check: only for tests about superusers."""
    return logged_in_client(admin_user)


@pytest.fixture
def configure_backends(tmp_path, settings):
    """Point RUNBOARD_BACKENDS at a file with the given backends, for one test."""
    from ruamel.yaml import YAML

    from backends import registry

    def configure(backends: dict) -> None:
        path = tmp_path / "backends.yml"
        with path.open("w") as fh:
            YAML().dump(backends, fh)
        settings.RUNBOARD_BACKENDS_FILE = str(path)
        registry.reload()

    yield configure
    registry.reload()


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    # Real hashing costs ~0.3 s a user by design; tests make hundreds of users.
    if settings.configured:  # not when the unit tests run without Django (-p no:django)
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def workspace():
    """An Azure ML workspace to replay: the demo's entries (backends/azureml/demo.py), for a test to add to."""
    from backends.azureml import demo

    return demo.workspace()


@pytest.fixture
def replay(workspace, tmp_path, configure_backends):
    """Configure the local engine and a replayed workspace called azure-test; returns the Azure backend."""
    from backends.registry import get_backend
    from tests.azureml.conftest import AZURE, azure_options

    def start(composer=None, **options):
        path = (composer or workspace).dump(tmp_path / "workspace.json")
        configure_backends({"local": {"engine": "local"}, AZURE: azure_options(path, **options)})
        return get_backend(AZURE)

    return start
