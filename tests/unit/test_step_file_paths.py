"""A step's files in the local engine (backends/local/files.py): one folder level, folders first, bounded; byte
ranges; and no way out of the area: not by .., an absolute path, an empty part, nor a symbolic link."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from backends.base import NotFound
from backends.local import executor, files
from backends.local.files import Area
from backends.local.models import LocalStep


@pytest.fixture
def root(tmp_path: Path) -> Path:
    area = tmp_path / "outputs"
    for name, content in {
        "b.txt": "bee\n",
        "a.txt": "a" * 100,
        "Zed/inner.txt": "inner\n",
        "data/rows.csv": "x,y\n",
        "data/deeper/more.txt": "more\n",
    }.items():
        path = area / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    (tmp_path / "secret.txt").write_text("not yours\n")
    return area


def paths(listing) -> list[str]:
    return [e.path for e in listing.entries]


def test_a_folder_lists_one_level_folders_first_then_files_by_name(root):
    listing = Area(root).list("", limit=100)

    assert paths(listing) == ["Zed", "data", "a.txt", "b.txt"]
    assert [e.is_dir for e in listing.entries] == [True, True, False, False]
    assert listing.entries[2].size == 100 and listing.entries[0].size is None
    assert listing.entries[2].modified is not None and listing.entries[2].modified.tzinfo is not None
    assert not listing.truncated


def test_a_subfolders_entries_are_named_from_the_areas_root(root):
    assert paths(Area(root).list("data", limit=100)) == ["data/deeper", "data/rows.csv"]


def test_a_listing_stops_at_its_limit_and_says_so(root):
    listing = Area(root).list("", limit=3)

    assert paths(listing) == ["Zed", "data", "a.txt"] and listing.truncated


def test_a_huge_folder_is_looked_at_only_up_to_a_bound(root, monkeypatch):
    monkeypatch.setattr(files, "SCAN_ENTRIES", 2)

    listing = Area(root).list("", limit=100)

    assert len(listing.entries) == 2 and listing.truncated


def test_a_file_path_lists_that_file_alone(root):
    listing = Area(root).list("data/rows.csv", limit=100)

    assert paths(listing) == ["data/rows.csv"] and not listing.entries[0].is_dir


def test_a_missing_root_is_an_empty_folder_and_a_missing_path_is_not_found(tmp_path):
    assert Area(tmp_path / "not-written").list("", limit=10).entries == ()
    with pytest.raises(NotFound):
        Area(tmp_path / "not-written").list("x", limit=10)


def test_reads_are_byte_ranges_bounded_by_the_limit_and_the_file(root, monkeypatch):
    area = Area(root)

    middle = area.read("a.txt", 10, 5)
    past = area.read("a.txt", 500, 5)
    monkeypatch.setattr(files, "MAX_READ", 8)
    capped = area.read("a.txt", 0, 1 << 30)

    assert (middle.data, middle.offset, middle.size) == (b"aaaaa", 10, 100)
    assert (past.data, past.offset) == (b"", 100)
    assert len(capped.data) == 8


def test_a_folder_cannot_be_read_as_a_file(root):
    with pytest.raises(NotFound):
        Area(root).read("data", 0, 10)


@pytest.mark.parametrize(
    "path",
    [
        "..",
        "../secret.txt",
        "data/../../secret.txt",
        "data/../a.txt",
        "/etc/passwd",
        "./a.txt",
        "data//rows.csv",
        "data/",
        "a.txt\x00",
        "x" * 5000,
    ],
)
def test_a_path_with_dots_an_absolute_path_or_an_empty_part_is_refused(root, path):
    with pytest.raises(NotFound):
        Area(root).list(path, limit=10)
    with pytest.raises(NotFound):
        Area(root).read(path, 0, 10)


def test_a_link_leading_out_is_neither_listed_nor_followed(root):
    os.symlink(root.parent / "secret.txt", root / "out.txt")
    os.symlink(root.parent, root / "up")
    os.symlink("/etc", root / "etc")
    area = Area(root)

    assert "out.txt" not in paths(area.list("", limit=100)) and "up" not in paths(area.list("", limit=100))
    for path in ("out.txt", "up/secret.txt", "etc/hostname", "up"):
        with pytest.raises(NotFound):
            area.read(path, 0, 10)
        with pytest.raises(NotFound):
            area.list(path, limit=10)


def test_a_link_inside_the_area_is_listed_and_followed(root):
    os.symlink("data", root / "same-data")
    os.symlink("b.txt", root / "bee.txt")
    area = Area(root)

    listing = area.list("", limit=100)

    assert "same-data" in paths(listing) and "bee.txt" in paths(listing)
    assert area.read("bee.txt", 0, 10).data == b"bee\n"
    assert paths(area.list("same-data", limit=10)) == ["same-data/deeper", "same-data/rows.csv"]


def test_a_root_that_is_itself_a_link_still_keeps_reads_inside_it(root, tmp_path):
    os.symlink(root, tmp_path / "linked")

    area = Area(tmp_path / "linked")

    assert area.read("b.txt", 0, 10).data == b"bee\n"
    with pytest.raises(NotFound):
        area.read("../secret.txt", 0, 10)


def test_a_fifo_is_not_listed_and_reading_one_does_not_wait(root):
    os.mkfifo(root / "pipe")
    area = Area(root)
    outcome: list[str] = []

    def read() -> None:
        try:
            area.read("pipe", 0, 10)
        except NotFound:
            outcome.append("not found")

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=5)

    assert "pipe" not in paths(area.list("", limit=100))
    assert outcome == ["not found"]


def test_a_name_that_is_not_utf8_is_left_out(root):
    with open(os.path.join(os.fsencode(root), b"bad-\xff.txt"), "w") as fh:
        fh.write("x")

    assert paths(Area(root).list("", limit=100)) == ["Zed", "data", "a.txt", "b.txt"]


def test_a_uri_file_output_is_a_folder_of_that_one_file(root):
    area = Area(root / "a.txt")

    assert paths(area.list("", limit=10)) == ["a.txt"]
    assert paths(area.list("a.txt", limit=10)) == ["a.txt"]
    assert area.read("a.txt", 0, 3).data == b"aaa"
    for path in ("b.txt", "a.txt/x", "..", "../b.txt"):
        with pytest.raises(NotFound):
            area.read(path, 0, 3)


# --- which root an area is ------------------------------------------------------------------


def test_an_area_is_an_output_of_the_step_or_its_snapshot(settings, tmp_path):
    settings.LOCAL_ENGINE_DIR = tmp_path
    digest = "ab" * 32
    step = LocalStep(node_id="train", outputs={"model": "/srv/engine/model"}, snapshot=digest)

    assert files.area_root(step, "outputs/model") == Path("/srv/engine/model")
    assert files.area_root(step, "snapshot") == executor.snapshot_path(digest)


@pytest.mark.parametrize("area", ["outputs/other", "outputs/", "outputs", "snapshots", "", "logs/stdout"])
def test_an_unknown_area_or_output_is_not_found(area):
    step = LocalStep(node_id="train", outputs={"model": "/srv/engine/model"}, snapshot="ab" * 32)

    with pytest.raises(NotFound):
        files.area_root(step, area)


def test_a_step_without_code_has_no_snapshot():
    with pytest.raises(NotFound, match="has no code snapshot"):
        files.area_root(LocalStep(node_id="train", snapshot=""), "snapshot")
