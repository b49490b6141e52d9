"""A step's files in the local engine: its outputs and its code snapshot, a folder level at a time and by byte
range, never outside the area asked for.

An area is ``outputs/<name>``, the path the step's row names for that output (a reused step's row names the
outputs of the step it reused), or ``snapshot``, ``snapshots/<digest>/`` in the engine folder. A ``uri_file``
output is one file: it lists as a folder that holds that file under its own name.

Paths come from an address bar. A part that is empty, ``.`` or ``..`` is refused, and so is whatever a path
resolves to, through any symbolic link, outside the area's root; a read checks the file it opened once more, so a
link swapped in between cannot lead out. Only folders and regular files are shown: reading a FIFO a step left
behind would wait for ever.
"""

from __future__ import annotations

import heapq
import os
import re
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from backends.base import FileChunk, FileEntry, FileListing, NotFound
from backends.local import executor
from backends.local.models import LocalStep

OUTPUTS = "outputs/"
SNAPSHOT = "snapshot"
MAX_ENTRIES = 10_000  # listed of one folder, whatever the limit asked for
SCAN_ENTRIES = 100_000  # names looked at in one folder: a bigger one lists the first of these, truncated
MAX_READ = 16 * 1024 * 1024  # bytes one read returns at most
DIGEST = re.compile(r"[0-9a-f]{64}")


def list_files(step: LocalStep, area: str, path: str, limit: int) -> FileListing:
    return Area(area_root(step, area)).list(path, limit)


def read_file(step: LocalStep, area: str, path: str, offset: int, limit: int) -> FileChunk:
    return Area(area_root(step, area)).read(path, offset, limit)


def area_root(step: LocalStep, area: str) -> Path:
    """Where an area of the step's files is: a folder, or the one file of a uri_file output."""
    if area == SNAPSHOT:
        if not DIGEST.fullmatch(step.snapshot or ""):
            raise NotFound(f"step {step.node_id} has no code snapshot")
        return executor.snapshot_path(step.snapshot)
    if area.startswith(OUTPUTS):
        name = area.removeprefix(OUTPUTS)
        location = step.outputs.get(name) if name else None
        if not location:
            raise NotFound(f"step {step.node_id} has no output {name!r}")
        return Path(str(location))
    raise NotFound(f"a step's files are in outputs/<name> and snapshot; there is no {area!r}")


def split(path: str) -> list[str]:
    """The parts of a '/'-separated relative path; NotFound for one that is absolute or has an empty, . or .. part."""
    if not path:
        return []
    parts = path.split("/")
    if any(part in ("", ".", "..") or "\x00" in part for part in parts):
        raise NotFound(f"no file {path!r} here")
    return parts


def _shown(name: str) -> bool:
    # A name that is not UTF-8 can be neither shown nor asked for again through a URL.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Area:
    """The files under one root; every path is checked to stay inside it."""

    def __init__(self, root: Path) -> None:
        self.root = os.path.realpath(root)
        # A one-file area is a folder holding that file under its name.
        self.single = os.path.basename(self.root) if os.path.isfile(self.root) else None

    def _inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self.root.rstrip("/") + "/")

    def resolve(self, path: str) -> str:
        """The real path ``path`` names, inside the root, or NotFound. ``""`` is the root."""
        parts = split(path)
        if self.single is not None:
            if parts == [self.single]:
                return self.root
            raise NotFound(f"no file {path!r} here")
        real = os.path.realpath(os.path.join(self.root, *parts))
        if not self._inside(real):
            raise NotFound(f"no file {path!r} here")
        return real

    def list(self, path: str, limit: int) -> FileListing:
        limit = max(0, min(limit, MAX_ENTRIES))
        if self.single is not None and not split(path):
            entry = _stat(self.single, self.root)
            return FileListing(
                entries=(entry,) if entry and limit else (), truncated=bool(entry and not limit)
            )
        real = self.resolve(path)
        try:
            info = os.stat(real)
        except (FileNotFoundError, NotADirectoryError):
            if not path:  # an output the step has not written (yet)
                return FileListing(entries=())
            raise NotFound(f"no file {path!r} here") from None
        except OSError as exc:
            raise NotFound(f"{path or 'this folder'} cannot be read: {exc.strerror}") from None
        if stat.S_ISREG(info.st_mode):
            return FileListing(entries=(_entry(path, info),))
        if not stat.S_ISDIR(info.st_mode):
            raise NotFound(f"no file {path!r} here")
        children = _Scan(self, real)
        # The first ``limit`` by (folders first, name), without sorting or holding the whole folder.
        chosen = heapq.nsmallest(limit + 1, children, key=lambda c: (not c[2], c[0]))
        prefix = f"{path}/" if path else ""
        entries = (_stat(prefix + name, child) for name, child, _ in chosen[:limit])
        return FileListing(
            entries=tuple(e for e in entries if e is not None),
            truncated=len(chosen) > limit or not children.complete,
        )

    def read(self, path: str, offset: int, limit: int) -> FileChunk:
        real = self.resolve(path)
        try:
            # O_NONBLOCK: a FIFO swapped in cannot make open wait; O_NOFOLLOW: nor can a link swapped in lead on.
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            raise NotFound(f"no file {path!r} here") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or not self._inside(_opened(fd, real)):
                raise NotFound(f"no file {path!r} here")
            start = min(max(0, offset), info.st_size)
            data = os.pread(fd, max(0, min(limit, MAX_READ, info.st_size - start)), start)
        finally:
            os.close(fd)
        return FileChunk(data=data, offset=start, size=info.st_size)


class _Scan:
    """(name, real path, is a folder) of a folder's entries that stay inside the area, at most SCAN_ENTRIES
    looked at; ``complete`` says, once iterated, whether that was all of them."""

    def __init__(self, area: Area, folder: str) -> None:
        self.area = area
        self.folder = folder
        self.complete = True

    def __iter__(self) -> Iterator[tuple[str, str, bool]]:
        try:
            with os.scandir(self.folder) as it:
                for seen, entry in enumerate(it):
                    if seen == SCAN_ENTRIES:
                        self.complete = False
                        return
                    if not _shown(entry.name):
                        continue
                    if entry.is_symlink():
                        target = os.path.realpath(entry.path)
                        if not self.area._inside(target):
                            continue  # a link leading out of the area is not shown
                        if os.path.isdir(target):
                            yield entry.name, target, True
                        elif os.path.isfile(target):
                            yield entry.name, target, False
                    elif entry.is_dir(follow_symlinks=False):
                        yield entry.name, entry.path, True
                    elif entry.is_file(follow_symlinks=False):
                        yield entry.name, entry.path, False
        except OSError as exc:
            raise NotFound(f"this folder cannot be read: {exc.strerror}") from None


def _stat(path: str, real: str) -> FileEntry | None:
    try:
        info = os.stat(real)
    except OSError:  # gone since it was listed
        return None
    return _entry(path, info)


def _opened(fd: int, fallback: str) -> str:
    """The real path of an open file (Linux names it in /proc), so a check cannot be raced."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return fallback


def _entry(path: str, info: os.stat_result) -> FileEntry:
    is_dir = stat.S_ISDIR(info.st_mode)
    return FileEntry(
        path=path,
        size=None if is_dir else info.st_size,
        modified=datetime.fromtimestamp(info.st_mtime, UTC),
        is_dir=is_dir,
    )
