"""The local engine's download cache: each remote input is fetched once, kept under the SHA-256 of its bytes, and
shared by every steps worker through the engine folder. Standard library only (no Django, no HTTP package).

Layout, under ``<engine folder>/cache``::

    data/<sha256>/<file name>   the bytes, read-only; a uri_folder input is the data/<sha256> folder itself
    urls/<key>.json             the index: a URL (a blob's SAS left out) -> sha256, file name, size, ETag,
                                Last-Modified, when it was fetched and when last found unchanged
    urls/<key>.lock             held by the one worker downloading that URL, touched while it makes progress
    partial/<random>            a download in progress, hashed as it arrives, renamed into data/ once whole

A changed remote file is noticed by asking its server before each use. When the download gave an ETag or a
Last-Modified, a HEAD request compares them (and the length): any difference downloads the file again. A server
that gives neither is not asked: its file is reused for ``max_age`` seconds after it was fetched, then fetched
again. When the server cannot be reached at all, the cached copy is used, and the step's system log says so.

Concurrent uses of one URL download it once: the first takes the lock; the others poll until it is gone, then
use what was stored. The wait is bounded by the holder's progress: a lock not touched for LOCK_STALE seconds
belongs to a worker that died, and is broken.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit
from urllib.request import Request, urlopen

from backends.local import hosts
from backends.local.datarefs import SETTING_HOME, cache_key, shown

CHUNK = 256 * 1024
POLL_SECONDS = 0.2  # how often a waiting or downloading step beats and checks for a cancel
PROGRESS_SECONDS = 5.0  # a progress line at least this often, besides one every 10 %
LOCK_STALE_SECONDS = 60.0
TIMEOUT_SECONDS = 30.0  # to connect, and between any two pieces of data
USER_AGENT = "Runboard-local-engine"
T = TypeVar("T")


class DownloadError(Exception):
    """A remote input that cannot be had; the message names its URL and why."""


class Stopped(Exception):
    """The download was abandoned because ``tick`` raised (the step was canceled)."""


@dataclass(frozen=True)
class Cached:
    url: str
    path: Path  # the file
    sha256: str
    size: int
    downloaded: bool  # False when an earlier download was used


@dataclass
class Entry:
    url: str
    sha256: str
    filename: str
    size: int
    etag: str
    last_modified: str
    fetched_at: float
    checked_at: float


def _nothing(*_: object) -> None:
    return None


class DataCache:
    """The cache in ``root``, downloading at most ``limit`` bytes a file."""

    def __init__(self, root: Path, *, limit: int, max_age: float, timeout: float = TIMEOUT_SECONDS) -> None:
        self.root = Path(root)
        self.limit = limit
        self.max_age = max_age
        self.timeout = timeout

    def fetch(
        self, url: str, say: Callable[[str], None] = _nothing, tick: Callable[[], None] = _nothing
    ) -> Cached:
        """The file ``url`` gives, from the cache when it is unchanged there, else downloaded into it.

        ``say`` takes lines for the step's system log; ``tick`` is called every POLL_SECONDS meanwhile (the
        step's heartbeat: it raises to abandon the download). Raises DownloadError naming the URL and why.
        """
        key = cache_key(url)
        started = time.time()
        while True:
            entry = self.entry(key)
            if entry and entry.checked_at >= started:  # stored by the step this one waited for
                return self._use(entry, url, say, "downloaded meanwhile by another step")
            if entry and (why := self._unchanged(entry, url, say, tick)):
                return self._use(entry, url, say, why)
            lock = self._take_lock(key)
            if lock is not None:
                try:
                    entry = self.entry(key)
                    if entry and entry.checked_at >= started:
                        return self._use(entry, url, say, "downloaded meanwhile by another step")
                    return self._download(url, key, lock, say, tick)
                finally:
                    lock.unlink(missing_ok=True)
            say(f"Waiting for another step's download of {shown(url)}")
            while self._locked(key):
                time.sleep(POLL_SECONDS)
                tick()

    # --- the index -------------------------------------------------------------------------------

    def _index_path(self, key: str, suffix: str) -> Path:
        return self.root / "urls" / f"{hashlib.sha256(key.encode()).hexdigest()}{suffix}"

    def entry(self, key: str) -> Entry | None:
        """The index entry of ``key``, when its file is still whole in the cache."""
        try:
            entry = Entry(**json.loads(self._index_path(key, ".json").read_text()))
            whole = self.data_path(entry).stat().st_size == entry.size
        except (OSError, ValueError, TypeError):
            return None
        return entry if whole else None

    def data_path(self, entry: Entry) -> Path:
        return self.root / "data" / entry.sha256 / entry.filename

    def _write(self, key: str, entry: Entry) -> None:
        path = self._index_path(key, ".json")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}")
        partial.write_text(json.dumps(asdict(entry)))
        os.replace(partial, path)  # whole or not at all, for a reader in another worker

    # --- the lock --------------------------------------------------------------------------------

    def _take_lock(self, key: str) -> Path | None:
        path = self._index_path(key, ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{hosts.HOST_ID} {os.getpid()}\n")  # who holds it, for people: staleness is by age
        return path

    def _locked(self, key: str) -> bool:
        path = self._index_path(key, ".lock")
        try:
            idle = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            return False
        if idle > LOCK_STALE_SECONDS:
            path.unlink(missing_ok=True)  # its holder stopped: the next step to look downloads instead
            return False
        return True

    # --- using what is cached --------------------------------------------------------------------

    def _use(self, entry: Entry, url: str, say: Callable[[str], None], why: str) -> Cached:
        path = self.data_path(entry)
        say(f"Using the cached copy of {shown(url)} ({_size(entry.size)}, {why}): {path}")
        return Cached(url, path, entry.sha256, entry.size, downloaded=False)

    def _unchanged(self, entry: Entry, url: str, say: Callable[[str], None], tick: Callable[[], None]) -> str:
        """Why the cached copy may be used (empty when the file must be downloaded again)."""
        if not (entry.etag or entry.last_modified):
            return self._young(entry)
        try:
            headers = _while_ticking(lambda _: self._head(url), tick)
        except HTTPError as error:
            if error.code in (405, 501):  # a server that will not answer HEAD: as one without validators
                return self._young(entry)
            raise DownloadError(f"checking {shown(url)} failed: HTTP {error.code} {error.reason}") from None
        except (URLError, OSError, http.client.HTTPException) as error:
            say(f"{shown(url)} cannot be reached ({self._reason(error)}): using the copy cached before")
            return "its server could not be asked"
        changes = [
            f"{name} {old!r} is now {new!r}"
            for name, old, new in (
                ("ETag", entry.etag, headers.get("ETag", "")),
                ("Last-Modified", entry.last_modified, headers.get("Last-Modified", "")),
                ("size", str(entry.size), headers.get("Content-Length") or str(entry.size)),
            )
            if old and old != new
        ]
        if changes:
            say(f"{shown(url)} changed since it was cached ({'; '.join(changes)}): downloading it again")
            return ""
        entry.checked_at = time.time()
        self._write(cache_key(url), entry)
        return "unchanged, its server says"

    def _young(self, entry: Entry) -> str:
        age = time.time() - entry.fetched_at
        if age < self.max_age:
            return f"fetched {age:.0f} s ago, within download_max_age of {self.max_age:g} s"
        return ""

    # --- downloading -----------------------------------------------------------------------------

    def _open(self, url: str, method: str) -> http.client.HTTPResponse:
        # Only http and https reach here: datarefs.locate turns every other scheme away.
        request = Request(
            url, method=method, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
        )
        return urlopen(request, timeout=self.timeout)

    def _head(self, url: str) -> http.client.HTTPMessage:
        with self._open(url, "HEAD") as response:
            return response.headers

    def _reason(self, error: BaseException) -> str:
        if isinstance(error, URLError) and not isinstance(error, HTTPError):
            if not isinstance(error.reason, BaseException):
                return str(error.reason)
            error = error.reason
        if isinstance(error, TimeoutError):
            return f"no answer in {self.timeout:g} s"
        return str(error) or type(error).__name__

    def _download(
        self, url: str, key: str, lock: Path, say: Callable[[str], None], tick: Callable[[], None]
    ) -> Cached:
        name = shown(url)
        try:
            response = _while_ticking(lambda _: self._open(url, "GET"), tick)
        except HTTPError as error:
            raise DownloadError(f"downloading {name} failed: HTTP {error.code} {error.reason}") from None
        except (URLError, OSError, http.client.HTTPException) as error:
            raise DownloadError(f"downloading {name} failed: {self._reason(error)}") from None
        total = _length(response.headers.get("Content-Length"))
        if total is not None and total > self.limit:
            response.close()
            raise DownloadError(
                f"{name} is {_size(total)}, more than the download_limit of {_size(self.limit)} "
                f"({self.limit} bytes); raise download_limit in {SETTING_HOME} to allow it"
            )
        say(f"Downloading {name} ({_size(total) if total is not None else 'size unknown'}) into the cache")
        transfer = _Transfer(response, self.root / "partial", self.limit)
        progress = _Progress(say, total)

        def beat() -> None:
            tick()
            progress.update(transfer.received)
            os.utime(lock)  # still making progress: waiting steps keep waiting

        try:
            partial = _while_ticking(transfer.run, beat)
        except _TooBig:
            raise DownloadError(
                f"{name} is more than the download_limit of {_size(self.limit)} ({self.limit} bytes): "
                f"stopped after {_size(transfer.received)}; raise download_limit in {SETTING_HOME} to allow it"
            ) from None
        except TimeoutError:
            raise DownloadError(
                f"downloading {name} failed: no data for {self.timeout:g} s, after {_size(transfer.received)}"
            ) from None
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(f"downloading {name} failed: {self._reason(error)}") from None
        if total is not None and transfer.received < total:
            partial.unlink(missing_ok=True)
            raise DownloadError(
                f"downloading {name} failed: the connection closed after {transfer.received} of {total} bytes"
            )
        sha256 = transfer.digest.hexdigest()
        entry = Entry(
            url=shown(key),  # for a reader of the index: a SAS stays out of it
            sha256=sha256,
            filename=_filename(url),
            size=transfer.received,
            etag=response.headers.get("ETag", ""),
            last_modified=response.headers.get("Last-Modified", ""),
            fetched_at=time.time(),
            checked_at=time.time(),
        )
        path = self._store(partial, entry)
        self._write(key, entry)
        progress.done(transfer.received, sha256, path)
        return Cached(url, path, sha256, transfer.received, downloaded=True)

    def _store(self, partial: Path, entry: Entry) -> Path:
        path = self.data_path(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():  # the same bytes under the same name, from another URL
            partial.unlink()
        else:
            partial.chmod(0o444)  # a step that writes to its input must not change what the next step reads
            os.replace(partial, path)
        return path


class _TooBig(Exception):
    pass


class _Transfer:
    """Streams a response into a partial file, hashing and counting as it goes (in a thread of its own)."""

    def __init__(self, response: http.client.HTTPResponse, folder: Path, limit: int) -> None:
        self.response = response
        self.folder = folder
        self.limit = limit
        self.received = 0
        self.digest = hashlib.sha256()

    def run(self, stop: threading.Event) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / secrets.token_hex(8)
        try:
            with path.open("wb") as out:
                # read1: whatever has arrived, so progress shows as it comes, not a whole CHUNK at a time.
                while block := self.response.read1(CHUNK):
                    if stop.is_set():
                        break
                    self.received += len(block)
                    if self.received > self.limit:
                        raise _TooBig
                    self.digest.update(block)
                    out.write(block)
            if stop.is_set():  # abandoned: what arrived is of no use to anyone
                raise Stopped
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            # Closed here, not by the caller: closing waits for a read in progress, and a cancel must not.
            self.response.close()
        return path


class _Progress:
    """Lines for the system log: one every 10 % (or PROGRESS_SECONDS when the size is unknown), and one at the end."""

    def __init__(self, say: Callable[[str], None], total: int | None) -> None:
        self.say = say
        self.total = total
        self.started = self.last = time.monotonic()
        self.tenths = 0

    def update(self, received: int) -> None:
        now = time.monotonic()
        tenths = received * 10 // self.total if self.total else 0
        if tenths > self.tenths or now - self.last >= PROGRESS_SECONDS:
            self.tenths, self.last = tenths, now
            rate = _size(received / max(now - self.started, 1e-3))
            if self.total:
                self.say(
                    f"  {_size(received)} of {_size(self.total)} ({received * 100 // self.total} %), {rate}/s"
                )
            else:
                self.say(f"  {_size(received)}, {rate}/s")

    def done(self, size: int, sha256: str, path: Path) -> None:
        seconds = max(time.monotonic() - self.started, 1e-3)
        self.say(
            f"Downloaded {_size(size)} in {seconds:.1f} s ({_size(size / seconds)}/s), sha256 {sha256}: {path}"
        )


def _while_ticking(work: Callable[[threading.Event], T], tick: Callable[[], None]) -> T:
    """``work`` in a thread of its own, with ``tick()`` every POLL_SECONDS meanwhile.

    A network read blocks for up to the timeout: it must not stop a step's heartbeats, and a cancel (``tick``
    raising) must not wait for it. The abandoned thread sees ``stop`` at its next piece of data and cleans up.
    """
    stop = threading.Event()
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work(stop)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=run, name="runboard-download", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(POLL_SECONDS)
            if thread.is_alive():
                tick()
    except BaseException:
        stop.set()
        raise
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def _length(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _filename(url: str) -> str:
    """The URL's last path segment as a safe file name."""
    name = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)[-120:]
    return name if name.strip(".") else "download"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
