"""A step's files: an output's folder or its code snapshot, listed a folder at a time; a file previewed; either
downloaded.

Like a log, files are read from the backend, by bounded ranges and never whole: a listing asks for at most
LISTING_LIMIT entries, a preview reads the first PREVIEW_BYTES, a download streams pieces of DOWNLOAD_PIECE, and a
folder's zip is written into the response as its files are read, once the folder was found to hold at most
ZIP_MAX_ENTRIES files and folders, ZIP_MAX_DEPTH deep.

``?download=1`` downloads a file, or a folder as a zip; ``?raw=1`` serves an image's bytes for its preview's <img>
(any other file is a download).
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from backends.base import BackendErrorBase, FileChunk, FileEntry, FileListing, NotFound
from backends.registry import get_backend
from dashboard import roles
from dashboard.public import public_message
from runs import filepreview
from runs.logtext import human_size
from runs.models import PipelineRun, StepRun
from runs.pages import get_run

log = logging.getLogger(__name__)

LISTING_LIMIT = 1000
PREVIEW_BYTES = 64 * 1024
DOWNLOAD_PIECE = 1024 * 1024
ZIP_MAX_ENTRIES = 10_000
ZIP_MAX_DEPTH = 32
ZIP64_FROM = 1 << 30  # a file this big may pass 4 GB as it grows: its zip entry gets 64-bit sizes
SNAPSHOT = "snapshot"


def output_url(run_pk: int, node_id: str, name: str) -> str:
    """The page of a step's output. The name is the backend's: quoted here, as reverse() refuses one with a slash."""
    head, tail = reverse("runs:step_output", args=[run_pk, node_id, "OUTPUT"]).rsplit("OUTPUT", 1)
    return f"{head}{quote(name, safe='')}{tail}"


class TooBig(Exception):
    """A folder too big or too deep to zip; the message says which and what to do."""


class StepFiles:
    """The run, the step, the area (``outputs/<name>`` or ``snapshot``) and the path asked for."""

    def __init__(self, pk: int, node_id: str, path: str, output: str | None = None) -> None:
        self.run: PipelineRun = get_run(pk)
        self.step: StepRun = get_object_or_404(StepRun, run=self.run, node_id=node_id)
        if output is None:
            if not self.step.snapshot:
                raise Http404(f"Step {node_id} has no code snapshot.")
            self.area = SNAPSHOT
            self.title = "Code snapshot"
            self.label = f"code snapshot {self.step.snapshot[:12]}"
            self.zip_top = f"snapshot-{self.step.snapshot[:12]}"
            self.root_url = reverse("runs:step_snapshot", args=[pk, node_id])
        else:
            if output not in self.step.outputs:
                raise Http404(f"Step {node_id} has no output {output}.")
            self.area = f"outputs/{output}"
            self.title = f"Output {output}"
            self.label = f"output {output}"
            self.zip_top = output
            self.root_url = output_url(pk, node_id, output)
        # A folder's link ends in a slash; the backend's paths do not.
        self.path = path[:-1] if path.endswith("/") else path
        self.backend = get_backend(self.run.backend)

    def list(self, path: str, limit: int | None = None) -> FileListing:
        limit = LISTING_LIMIT if limit is None else limit
        return self.backend.list_files(self.run.external_id, self.step.external_id, self.area, path, limit)

    def read(self, path: str, offset: int, limit: int) -> FileChunk:
        return self.backend.read_file(
            self.run.external_id, self.step.external_id, self.area, path, offset, limit
        )

    def url(self, path: str, is_dir: bool) -> str:
        if not path:
            return self.root_url
        return self.root_url + quote(path, safe="/") + ("/" if is_dir else "")

    def crumbs(self) -> list[tuple[str, str]]:
        """(label, URL) from the runs list down to the folder holding what is shown, which follows as text."""
        crumbs = [
            ("Runs", reverse("runs:list")),
            (self.run.display_name or self.run.external_id, self.run.get_absolute_url()),
            (self.step.display_name or self.step.node_id, self.step.get_absolute_url()),
        ]
        parts = self.path.split("/") if self.path else []
        if parts:
            crumbs.append((self.label, self.root_url))
        for i, part in enumerate(parts[:-1]):
            crumbs.append((part, self.url("/".join(parts[: i + 1]), True)))
        return crumbs

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1] if self.path else self.title

    def context(self, **extra) -> dict:
        return {
            "run": self.run,
            "step": self.step,
            "files": self,
            "crumbs": self.crumbs(),
            "name": self.name,
            **extra,
        }


# --- the pages ------------------------------------------------------------------------------


@require_GET
@roles.require(roles.READ)
def step_output_files(request: HttpRequest, pk: int, node_id: str, name: str, path: str = "") -> HttpResponse:
    return _browse(request, StepFiles(pk, node_id, path, output=name))


@require_GET
@roles.require(roles.READ)
def step_snapshot_files(request: HttpRequest, pk: int, node_id: str, path: str = "") -> HttpResponse:
    return _browse(request, StepFiles(pk, node_id, path))


def _browse(request: HttpRequest, files: StepFiles) -> HttpResponse:
    if not files.backend.supports("list_files"):
        return render(request, "runs/step_files.html", files.context(unsupported=True))
    download = request.GET.get("download") == "1"
    raw = request.GET.get("raw") == "1"
    try:
        listing = files.list(files.path)
        entries = listing.entries
        if len(entries) == 1 and not entries[0].is_dir and entries[0].path == files.path and files.path:
            if raw and filepreview.is_image(entries[0].name):
                return _serve_image(files, entries[0])
            if download or raw:
                return _download_file(files, entries[0])
            return _preview(request, files, entries[0])
        if download:
            return _download_folder(request, files)
        return _folder(request, files, listing)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    except BackendErrorBase as exc:
        if download or raw:
            return HttpResponse(f"The files could not be read: {exc}", status=502, content_type="text/plain")
        return render(request, "runs/step_files.html", files.context(error=public_message(str(exc))))


def _folder(request: HttpRequest, files: StepFiles, listing: FileListing) -> HttpResponse:
    rows = [
        {
            "name": entry.name,
            "is_dir": entry.is_dir,
            "url": files.url(entry.path, entry.is_dir),
            "size": "—" if entry.size is None else human_size(entry.size),
            "modified": entry.modified,
        }
        for entry in listing.entries
    ]
    return render(
        request,
        "runs/step_files.html",
        files.context(
            listing=rows,
            truncated=listing.truncated,
            limit=LISTING_LIMIT,
            zip_url=files.url(files.path, True) + "?download=1",
        ),
    )


def _preview(request: HttpRequest, files: StepFiles, entry: FileEntry) -> HttpResponse:
    url = files.url(entry.path, False)
    if filepreview.is_image(entry.name):
        shown, chunk = filepreview.Preview("image"), None
    else:
        chunk = files.read(entry.path, 0, PREVIEW_BYTES)
        cut = chunk.size > len(chunk.data)
        shown = filepreview.preview(entry.name, chunk.data, cut)
    size = entry.size if chunk is None else chunk.size
    return render(
        request,
        "runs/step_files.html",
        files.context(
            entry=entry,
            preview=shown,
            size_text="" if size is None else human_size(size),
            empty=size == 0,
            cut=chunk is not None and chunk.size > len(chunk.data),
            window_text=human_size(PREVIEW_BYTES),
            download_url=f"{url}?download=1",
            raw_url=f"{url}?raw=1",
        ),
    )


# --- downloads ------------------------------------------------------------------------------


def _download_file(files: StepFiles, entry: FileEntry) -> HttpResponse:
    """The file as it is now, a piece at a time; the first piece is read here, so a failure is a clear answer."""
    first = files.read(entry.path, 0, DOWNLOAD_PIECE)
    response = StreamingHttpResponse(
        _download_pieces(files, entry.path, first), content_type="application/octet-stream"
    )
    response["Content-Length"] = str(first.size)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=entry.name)
    return response


def _serve_image(files: StepFiles, entry: FileEntry) -> HttpResponse:
    """An image's bytes for its preview: inline, typed by its extension (and the browser sniffs nothing)."""
    first = files.read(entry.path, 0, DOWNLOAD_PIECE)
    response = StreamingHttpResponse(
        _download_pieces(files, entry.path, first), content_type=filepreview.image_type(entry.name)
    )
    response["Content-Length"] = str(first.size)
    response["Content-Disposition"] = content_disposition_header(as_attachment=False, filename=entry.name)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _pieces(files: StepFiles, path: str, first: FileChunk) -> Iterator[bytes]:
    """Bytes [0, first.size) of a file, the first piece already read; a backend's error is raised."""
    chunk, offset = first, 0
    while chunk.data:
        yield chunk.data
        offset += len(chunk.data)
        if offset >= first.size:
            return
        chunk = files.read(path, offset, min(DOWNLOAD_PIECE, first.size - offset))


def _download_pieces(files: StepFiles, path: str, first: FileChunk) -> Iterator[bytes]:
    """A failure part way ends the response short of its Content-Length: the client reports it incomplete."""
    try:
        yield from _pieces(files, path, first)
    except BackendErrorBase:
        log.warning("the download of %s stopped part way", path, exc_info=True)


def _download_folder(request: HttpRequest, files: StepFiles) -> HttpResponse:
    try:
        folders, entries = _walk(files, files.path)
    except TooBig as exc:
        return render(
            request, "runs/step_files.html", files.context(error=public_message(str(exc))), status=400
        )
    top = files.zip_top if not files.path else files.name
    zone = timezone.get_current_timezone()  # the viewer's, while the request is being answered
    response = StreamingHttpResponse(
        _zip(files, files.path, top, folders, entries, zone), content_type="application/zip"
    )
    filename = f"{files.run.external_id}-{files.step.node_id}-{top}.zip"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


def _walk(files: StepFiles, root: str) -> tuple[list[FileEntry], list[FileEntry]]:
    """Every folder and file under ``root``, listed before a byte is sent; TooBig past the bounds."""
    folders: list[FileEntry] = []
    found: list[FileEntry] = []
    pending = [(root, 0)]
    while pending:
        folder, depth = pending.pop()
        listing = files.list(folder, ZIP_MAX_ENTRIES + 1)
        if listing.truncated or len(folders) + len(found) + len(listing.entries) > ZIP_MAX_ENTRIES:
            raise TooBig(
                f"This folder holds more than {ZIP_MAX_ENTRIES:,} files and folders, the most one zip takes: "
                "download its folders one at a time."
            )
        for entry in listing.entries:
            if entry.is_dir:
                if depth + 1 > ZIP_MAX_DEPTH:
                    raise TooBig(
                        f"This folder goes more than {ZIP_MAX_DEPTH} folders deep (or a link leads back into "
                        "it), deeper than one zip follows: download its folders one at a time."
                    )
                folders.append(entry)
                pending.append((entry.path, depth + 1))
            else:
                found.append(entry)
    return folders, found


class _Pipe(io.RawIOBase):
    """A write-only stream that cannot seek: zipfile writes into it, the response takes out what was written."""

    def __init__(self) -> None:
        super().__init__()
        self._pieces: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pieces.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._pieces)
        self._pieces.clear()
        return data


def _zip_time(moment: datetime | None, zone) -> tuple[int, int, int, int, int, int]:
    if moment is None:
        return (1980, 1, 1, 0, 0, 0)
    local = moment.astimezone(zone)
    return max(
        (local.year, local.month, local.day, local.hour, local.minute, local.second), (1980, 1, 1, 0, 0, 0)
    )


def _zip(
    files: StepFiles, root: str, top: str, folders: list[FileEntry], entries: list[FileEntry], zone
) -> Iterator[bytes]:
    """A zip of the folder, written as its files are read, a piece at a time."""

    def name_of(entry: FileEntry) -> str:
        relative = entry.path[len(root) + 1 :] if root else entry.path
        return f"{top}/{relative}"

    pipe = _Pipe()
    try:
        with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            for folder in folders:
                info = zipfile.ZipInfo(name_of(folder) + "/", _zip_time(folder.modified, zone))
                info.CRC = info.compress_size = info.file_size = 0
                info.external_attr = (0o40755 << 16) | 0x10  # a folder, for unzip and for Windows
                archive.mkdir(info)
            for entry in entries:
                try:
                    first = files.read(entry.path, 0, DOWNLOAD_PIECE)
                except NotFound:  # gone since the folder was listed
                    continue
                info = zipfile.ZipInfo(name_of(entry), _zip_time(entry.modified, zone))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.file_size = first.size
                with archive.open(info, "w", force_zip64=first.size >= ZIP64_FROM) as out:
                    for piece in _pieces(files, entry.path, first):
                        out.write(piece)
                        if data := pipe.take():
                            yield data
    except BackendErrorBase:
        # What closing wrote is not sent: without its central directory the client reports the zip incomplete.
        log.warning("the zip of %s stopped part way", root or top, exc_info=True)
        return
    yield pipe.take()
