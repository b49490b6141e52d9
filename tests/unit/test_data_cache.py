"""The download cache of remote inputs (backends/local/datacache.py), against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from backends.local.datacache import DataCache, DownloadError
from tests.dataserver import DataServer

CONTENT = b"sepal_length,species\n5.1,setosa\n7.0,versicolor\n6.3,virginica\n"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "flowers.csv").write_bytes(CONTENT)
    (folder / "big.bin").write_bytes(os.urandom(200_000))
    return folder


@pytest.fixture
def server(files: Path):
    with DataServer(files) as server:
        yield server


def cache(tmp_path: Path, **options) -> DataCache:
    options = {"limit": 10_000_000, "max_age": 3600, "timeout": 5, **options}
    return DataCache(tmp_path / "cache", **options)


def refusal(cache_: DataCache, url: str) -> str:
    with pytest.raises(DownloadError) as caught:
        cache_.fetch(url)
    return str(caught.value)


def test_a_url_is_downloaded_once_into_a_folder_named_by_its_sha256_and_then_reused(tmp_path, server):
    first = cache(tmp_path).fetch(server.url("flowers.csv"))
    second = cache(tmp_path).fetch(server.url("flowers.csv"))

    digest = hashlib.sha256(CONTENT).hexdigest()
    assert first.path == tmp_path / "cache" / "data" / digest / "flowers.csv"
    assert first.path.read_bytes() == CONTENT and first.sha256 == digest and first.size == len(CONTENT)
    assert (first.downloaded, second.downloaded) == (True, False)
    assert second.path == first.path
    assert server.count("GET", "flowers.csv") == 1
    assert list((tmp_path / "cache" / "partial").iterdir()) == []


def test_a_file_whose_last_modified_changed_is_downloaded_again(tmp_path, server, files):
    first = cache(tmp_path).fetch(server.url("flowers.csv"))
    (files / "flowers.csv").write_bytes(CONTENT + b"5.9,virginica\n")
    os.utime(files / "flowers.csv", (time.time() + 120, time.time() + 120))
    lines: list[str] = []

    second = cache(tmp_path).fetch(server.url("flowers.csv"), say=lines.append)

    assert second.downloaded and second.sha256 != first.sha256
    assert second.path.read_bytes().endswith(b"5.9,virginica\n")
    assert first.path.read_bytes() == CONTENT  # an earlier run's input stays as it was
    assert server.count("HEAD", "flowers.csv") == 1 and server.count("GET", "flowers.csv") == 2
    assert any("changed since it was cached (Last-Modified" in line for line in lines)


def test_an_etag_notices_a_change_that_kept_the_same_modification_time(tmp_path, files):
    with DataServer(files, etags=True) as server:
        first = cache(tmp_path).fetch(server.url("flowers.csv"))
        stamp = os.stat(files / "flowers.csv").st_mtime
        (files / "flowers.csv").write_bytes(CONTENT.replace(b"5.1", b"5.2"))
        os.utime(files / "flowers.csv", (stamp, stamp))

        second = cache(tmp_path).fetch(server.url("flowers.csv"))

    assert second.downloaded and second.sha256 != first.sha256


def test_an_unchanged_file_is_checked_with_a_head_request_not_downloaded(tmp_path, server):
    cache(tmp_path).fetch(server.url("flowers.csv"))
    lines: list[str] = []

    again = cache(tmp_path).fetch(server.url("flowers.csv"), say=lines.append)

    assert not again.downloaded
    assert server.count("HEAD", "flowers.csv") == 1 and server.count("GET", "flowers.csv") == 1
    assert lines == [
        f"Using the cached copy of {server.url('flowers.csv')} ({len(CONTENT)} B, unchanged, its server says): "
        f"{again.path}"
    ]


def test_without_etag_or_last_modified_a_copy_is_reused_for_max_age_seconds(tmp_path, files):
    with DataServer(files, last_modified=False) as server:
        cache(tmp_path, max_age=3600).fetch(server.url("flowers.csv"))
        reused = cache(tmp_path, max_age=3600).fetch(server.url("flowers.csv"))
        expired = cache(tmp_path, max_age=0).fetch(server.url("flowers.csv"))

    assert not reused.downloaded and expired.downloaded
    assert server.count("HEAD", "flowers.csv") == 0  # nothing to compare: the server is not asked
    assert server.count("GET", "flowers.csv") == 2


def test_the_cached_copy_is_used_when_the_server_cannot_be_reached(tmp_path, server):
    cache(tmp_path).fetch(server.url("flowers.csv"))
    server.stop()
    lines: list[str] = []

    again = cache(tmp_path, timeout=1).fetch(server.url("flowers.csv"), say=lines.append)

    assert not again.downloaded and again.path.read_bytes() == CONTENT
    assert "cannot be reached" in lines[0] and "using the copy cached before" in lines[0]


def test_a_missing_file_is_refused_naming_the_url_and_the_status(tmp_path, server):
    url = server.url("nowhere.csv")

    assert refusal(cache(tmp_path), url) == f"downloading {url} failed: HTTP 404 File not found"


def test_a_file_that_disappeared_after_it_was_cached_is_refused_naming_the_status(tmp_path, server, files):
    cache(tmp_path).fetch(server.url("flowers.csv"))
    (files / "flowers.csv").unlink()

    message = refusal(cache(tmp_path), server.url("flowers.csv"))

    assert message == f"checking {server.url('flowers.csv')} failed: HTTP 404 File not found"


def test_a_server_that_cannot_be_reached_is_refused_naming_the_url(tmp_path, server):
    url = server.url("flowers.csv")
    server.stop()

    message = refusal(cache(tmp_path, timeout=1), url)

    assert message.startswith(f"downloading {url} failed: ") and "refused" in message.lower()


def test_a_file_whose_content_length_is_over_the_limit_is_refused_before_any_byte(tmp_path, server):
    url = server.url("huge/5000000")

    message = refusal(cache(tmp_path, limit=1_000_000), url)

    assert message == (
        f"{url} is 4.8 MiB, more than the download_limit of 976.6 KiB (1000000 bytes); raise download_limit "
        "in the local engine's entry in the backends file (RUNBOARD_BACKENDS) to allow it"
    )
    assert not (tmp_path / "cache" / "data").exists()


def test_a_file_without_a_content_length_is_stopped_once_it_passes_the_limit(tmp_path, server):
    url = server.url("unsized/3000000")

    message = refusal(cache(tmp_path, limit=1_000_000), url)

    assert message.startswith(
        f"{url} is more than the download_limit of 976.6 KiB (1000000 bytes): stopped after"
    )
    assert list((tmp_path / "cache" / "partial").iterdir()) == []


def test_a_file_without_a_content_length_under_the_limit_is_read_to_its_end(tmp_path, server):
    fetched = cache(tmp_path).fetch(server.url("unsized/70000"))

    assert fetched.size == 70000 and fetched.path.read_bytes() == b"x" * 70000
    assert fetched.path.name == "70000"


def test_a_server_that_stops_sending_fails_after_the_timeout_naming_the_url(tmp_path, server):
    url = server.url("stall/flowers.csv")
    started = time.monotonic()

    message = refusal(cache(tmp_path, timeout=0.5), url)

    assert message == f"downloading {url} failed: no data for 0.5 s, after 0 B"
    assert time.monotonic() - started < 3


def test_progress_lines_give_bytes_percent_and_rate_then_the_digest_and_place(tmp_path, server):
    lines: list[str] = []

    fetched = cache(tmp_path).fetch(server.url("slow/big.bin"), say=lines.append)

    url = server.url("slow/big.bin")
    assert lines[0] == f"Downloading {url} (195.3 KiB) into the cache"
    progress = lines[1:-1]
    assert len(progress) >= 3
    assert all(" of 195.3 KiB (" in line and " %), " in line and line.endswith("/s") for line in progress)
    assert lines[-1].startswith("Downloaded 195.3 KiB in ")
    assert lines[-1].endswith(f"sha256 {fetched.sha256}: {fetched.path}")


def test_two_steps_fetching_one_url_at_once_download_it_once(tmp_path, server):
    results, said = [], []

    def fetch() -> None:
        lines: list[str] = []
        results.append(cache(tmp_path).fetch(server.url("slow/big.bin"), say=lines.append))
        said.append(lines)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert server.count("GET", "slow/big.bin") == 1
    assert sorted(r.downloaded for r in results) == [False, True]
    assert results[0].path == results[1].path
    waited = next(lines for lines in said if not lines[0].startswith("Downloading"))
    assert waited[0].startswith("Waiting for another step's download of ")
    assert "downloaded meanwhile by another step" in waited[-1]


def test_a_lock_left_by_a_worker_that_died_is_broken(tmp_path, server):
    from backends.local.datarefs import cache_key

    url = server.url("flowers.csv")
    lock = tmp_path / "cache" / "urls" / f"{hashlib.sha256(cache_key(url).encode()).hexdigest()}.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("gone-host 4242\n")
    os.utime(lock, (time.time() - 600, time.time() - 600))

    fetched = cache(tmp_path).fetch(url)

    assert fetched.downloaded and not lock.exists()


def test_a_tick_that_raises_abandons_the_download_at_once_and_leaves_nothing_behind(tmp_path, server):
    def canceled() -> None:
        raise KeyboardInterrupt("canceled")

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        cache(tmp_path, timeout=1).fetch(server.url("stall/flowers.csv"), tick=canceled)

    assert time.monotonic() - started < 0.9  # before the read timed out
    deadline = time.monotonic() + 5
    while list((tmp_path / "cache" / "partial").iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((tmp_path / "cache" / "partial").iterdir()) == []
    assert list((tmp_path / "cache" / "urls").glob("*.lock")) == []


def test_a_sas_signature_stays_out_of_the_index_and_the_log(tmp_path, server):
    lines: list[str] = []

    cache(tmp_path).fetch(server.url("flowers.csv?sv=2024-01-01&sig=s3cr3t"), say=lines.append)

    index = next((tmp_path / "cache" / "urls").glob("*.json")).read_text()
    assert "s3cr3t" not in index and "sig=REDACTED" in index
    assert lines and not any("s3cr3t" in line for line in lines)


def test_cached_files_are_read_only_so_a_step_cannot_change_the_next_ones_input(tmp_path, server):
    fetched = cache(tmp_path).fetch(server.url("flowers.csv"))

    assert fetched.path.stat().st_mode & 0o222 == 0
