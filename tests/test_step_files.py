"""A step's files: an output's folders, a file's preview (text, JSON, CSV/TSV, images, nothing), downloads of a
file and of a folder as a zip, the code snapshot, and the links to them from the run and step pages; hostile
paths, unknown names and failing backends are clear pages, never a 500."""

from __future__ import annotations

import io
import json
import os
import zipfile
from html import unescape

import pytest
from django.urls import reverse

from backends.base import Backend, BackendUnavailable, FileChunk, FileListing, RunStatus
from runs import file_views
from runs.models import PipelineRun
from tests import factories
from tests.stepfiles import output_path, run_with_files

pytestmark = pytest.mark.django_db

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db00000000049454e44ae426082"
)
CSV = "name,rooms,price_k\n" + "".join(f"house {i},{i % 5 + 1},{100 + i}\n" for i in range(80))


@pytest.fixture
def run(monkeypatch, tmp_path, engine_dir) -> PipelineRun:
    return run_with_files(
        monkeypatch,
        tmp_path,
        artifacts={
            "report.md": "# Houses at a glance\n\n<b>80 rows</b>\n",
            "metrics.json": '{"rmse": 3.5, "r2": 0.91, "folds": [1, 2]}',
            "houses.csv": CSV,
            "plots/loss.png": PNG,
            "plots/sub/deep.txt": "deep\n",
            "model.bin": b"\x00\x01\x02weights",
        },
        code={"train.py": "print('training')\n", "lib/util.py": "X = 1\n"},
    )


def files_url(run: PipelineRun, path: str = "", output: str = "artifacts") -> str:
    return file_views.output_url(run.pk, "write", output) + path


def snapshot_url(run: PipelineRun, path: str = "") -> str:
    return reverse("runs:step_snapshot", args=[run.pk, "write"]) + path


def text(response) -> str:
    return unescape(response.content.decode())


# --- folders --------------------------------------------------------------------------------


def test_an_output_lists_its_folders_first_then_its_files_with_sizes_and_download_links(viewer_client, run):
    response = viewer_client.get(files_url(run))

    assert response.status_code == 200
    page = text(response)
    names = [n for n in ("plots/", "houses.csv", "metrics.json", "model.bin", "report.md") if n in page]
    assert names == ["plots/", "houses.csv", "metrics.json", "model.bin", "report.md"]
    assert [page.index(n) for n in names] == sorted(page.index(n) for n in names)
    assert f'href="{files_url(run, "plots/")}"' in page
    assert f'href="{files_url(run, "houses.csv")}?download=1"' in page
    assert "1.2 KB" in page  # houses.csv, by runs.logtext.human_size
    assert f'href="{files_url(run)}?download=1"' in page  # the folder as a zip
    assert "5 entries" in page


def test_times_are_shown_in_the_viewers_time_zone(viewer_client, run):
    report = output_path(run) / "report.md"
    os.utime(report, (0, 1_767_225_600))  # 2026-01-01 00:00 UTC
    viewer_client.cookies["tz"] = "Asia/Tokyo"

    assert "2026-01-01 09:00:00" in text(viewer_client.get(files_url(run)))


def test_a_subfolder_has_breadcrumbs_back_to_the_run_the_step_and_the_output(viewer_client, run):
    page = text(viewer_client.get(files_url(run, "plots/sub/")))

    assert "deep.txt" in page
    crumbs = page.split('class="crumbs">', 1)[1].split("</p>", 1)[0]
    assert f'href="{run.get_absolute_url()}"' in crumbs
    assert f'href="{run.steps.get(node_id="write").get_absolute_url()}"' in crumbs
    assert f'href="{files_url(run)}">output artifacts</a>' in crumbs
    assert f'href="{files_url(run, "plots/")}">plots</a>' in crumbs


def test_a_long_folder_lists_its_first_entries_and_says_so(viewer_client, run, monkeypatch):
    monkeypatch.setattr(file_views, "LISTING_LIMIT", 3)

    page = text(viewer_client.get(files_url(run)))

    assert "the first 3 (folders first, then files, by name)" in page
    assert "metrics.json" in page and "model.bin" not in page


def test_an_output_not_written_yet_says_so(viewer_client, monkeypatch, tmp_path, engine_dir):
    running = run_with_files(monkeypatch, tmp_path, status=RunStatus.RUNNING)
    os.rmdir(output_path(running, "out"))

    page = text(viewer_client.get(files_url(running, output="out")))

    assert "Nothing here yet: the step is Running" in page


# --- previews -------------------------------------------------------------------------------


def test_a_text_file_shows_escaped_with_a_download_link(viewer_client, run):
    page = viewer_client.get(files_url(run, "report.md")).content.decode()

    assert "&lt;b&gt;80 rows&lt;/b&gt;" in page and "<b>80 rows" not in page
    assert f'href="{files_url(run, "report.md")}?download=1"' in page


def test_a_text_file_shows_its_first_64_kb_and_says_it_was_cut(viewer_client, run):
    (output_path(run) / "big.log").write_text("é" * 40_000)  # 80,000 bytes

    page = text(viewer_client.get(files_url(run, "big.log")))

    shown = page.split('<pre class="file-text">', 1)[1].split("</pre>", 1)[0]
    assert shown == "é" * 32_768  # 64 KB: no character cut in half
    assert "The first 64.0 KB of 78.1 KB are shown" in page


def test_a_json_file_is_pretty_printed(viewer_client, run):
    page = text(viewer_client.get(files_url(run, "metrics.json")))

    assert '{\n  "rmse": 3.5,\n  "r2": 0.91,\n  "folds": [\n    1,\n    2\n  ]\n}' in page


@pytest.mark.parametrize(
    "content, note",
    [
        ('{"rmse": ', "This could not be read as JSON"),
        ("[" * 100_000, "goes on past this window"),
        ("[" * 30_000 + "]" * 30_000, "This could not be read as JSON"),  # nested deeper than the parser goes
    ],
)
def test_json_that_does_not_parse_in_the_window_shows_as_text(viewer_client, run, content, note):
    (output_path(run) / "odd.json").write_text(content)

    response = viewer_client.get(files_url(run, "odd.json"))

    assert response.status_code == 200 and note in text(response)


def test_a_csv_file_is_a_table_of_its_first_50_rows(viewer_client, run):
    page = text(viewer_client.get(files_url(run, "houses.csv")))

    table = page.split('<table class="grid file-table">', 1)[1].split("</table>", 1)[0]
    assert "<th>name</th><th>rooms</th><th>price_k</th>" in table
    assert table.count("<tr>") == 51  # the header and 50 rows
    assert "<td>house 49</td>" in table and "house 50" not in table
    assert "The first 50 rows below the header are shown" in page


def test_a_tsv_file_is_a_table_too_and_ragged_rows_are_padded(viewer_client, run):
    (output_path(run) / "scores.tsv").write_text("fold\tscore\n1\t0.9\textra\n2\n")

    table = text(viewer_client.get(files_url(run, "scores.tsv"))).split("<tbody>", 1)[1]

    assert "<tr><td>1</td><td>0.9</td><td>extra</td></tr><tr><td>2</td><td></td><td></td></tr>" in table


def test_an_image_previews_as_an_img_whose_source_serves_its_bytes(viewer_client, run):
    page = viewer_client.get(files_url(run, "plots/loss.png")).content.decode()

    src = files_url(run, "plots/loss.png") + "?raw=1"
    assert f'<img src="{src}" alt="loss.png">' in page
    image = viewer_client.get(src)
    assert image["Content-Type"] == "image/png" and image["X-Content-Type-Options"] == "nosniff"
    assert image["Content-Disposition"].startswith("inline")
    assert b"".join(image.streaming_content) == PNG


def test_an_svg_is_never_an_image_nor_served_inline(viewer_client, run):
    (output_path(run) / "chart.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>'
    )

    page = viewer_client.get(files_url(run, "chart.svg")).content.decode()
    raw = viewer_client.get(files_url(run, "chart.svg") + "?raw=1")

    assert "<img" not in page and "&lt;script&gt;x()&lt;/script&gt;" in page
    assert raw["Content-Type"] == "application/octet-stream" and raw["Content-Disposition"].startswith(
        "attachment"
    )


def test_a_binary_file_has_no_preview(viewer_client, run):
    page = text(viewer_client.get(files_url(run, "model.bin")))

    assert "There is no preview for this kind of file" in page and "weights" not in page


def test_an_empty_file_says_so(viewer_client, run):
    (output_path(run) / "empty.csv").write_text("")

    assert "This file is empty." in text(viewer_client.get(files_url(run, "empty.csv")))


# --- downloads ------------------------------------------------------------------------------


def test_a_file_downloads_in_pieces_under_its_name(viewer_client, run, monkeypatch):
    monkeypatch.setattr(file_views, "DOWNLOAD_PIECE", 1000)

    response = viewer_client.get(files_url(run, "houses.csv") + "?download=1")

    pieces = list(response.streaming_content)
    assert b"".join(pieces) == CSV.encode() and max(len(p) for p in pieces) == 1000
    assert response["Content-Length"] == str(len(CSV))
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="houses.csv"'


def test_a_folder_downloads_as_a_zip_of_its_files_and_folders(viewer_client, run, monkeypatch):
    monkeypatch.setattr(file_views, "DOWNLOAD_PIECE", 500)

    response = viewer_client.get(files_url(run, "plots/") + "?download=1")

    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{run.external_id}-write-plots.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == ["plots/loss.png", "plots/sub/", "plots/sub/deep.txt"]
    assert archive.read("plots/loss.png") == PNG and archive.testzip() is None


def test_the_whole_output_zips_under_its_name(viewer_client, run):
    response = viewer_client.get(files_url(run) + "?download=1")

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.read("artifacts/houses.csv").decode() == CSV
    assert len(archive.namelist()) == 8


def test_a_folder_past_the_zips_bounds_is_refused_saying_why(viewer_client, run, monkeypatch):
    monkeypatch.setattr(file_views, "ZIP_MAX_ENTRIES", 4)
    too_many = viewer_client.get(files_url(run) + "?download=1")
    monkeypatch.setattr(file_views, "ZIP_MAX_ENTRIES", 100)
    monkeypatch.setattr(file_views, "ZIP_MAX_DEPTH", 1)
    too_deep = viewer_client.get(files_url(run) + "?download=1")

    assert too_many.status_code == 400 and "more than 4 files and folders" in text(too_many)
    assert too_deep.status_code == 400 and "more than 1 folders deep" in text(too_deep)


# --- the code snapshot ----------------------------------------------------------------------


def test_the_code_snapshot_lists_and_shows_the_code_the_step_ran(viewer_client, run):
    digest = run.steps.get(node_id="write").snapshot

    listing = text(viewer_client.get(snapshot_url(run)))
    code = text(viewer_client.get(snapshot_url(run, "lib/util.py")))

    assert len(digest) == 64 and digest in listing
    assert listing.index("lib/") < listing.index("train.py")
    assert "X = 1" in code


def test_a_snapshot_zip_is_named_after_its_digest(viewer_client, run):
    digest = run.steps.get(node_id="write").snapshot[:12]

    response = viewer_client.get(snapshot_url(run) + "?download=1")

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert f"snapshot-{digest}/train.py" in archive.namelist()


# --- links from the run and the step --------------------------------------------------------


def test_the_run_page_links_each_output_and_the_code_snapshot(viewer_client, run):
    page = viewer_client.get(run.get_absolute_url()).content.decode()
    digest = run.steps.get(node_id="write").snapshot

    assert f'<a href="{files_url(run)}">artifacts</a>' in page
    assert f'<a href="{files_url(run, output="out")}">out</a>' in page
    assert f'<a href="{snapshot_url(run)}" title="{digest}">{digest[:12]}</a>' in page


def test_the_step_log_page_links_each_output_and_the_code_snapshot(viewer_client, run):
    step = run.steps.get(node_id="write")

    page = viewer_client.get(step.get_absolute_url()).content.decode()

    assert f'<a href="{files_url(run)}">artifacts</a>' in page
    assert f'<a href="{snapshot_url(run)}" title="{step.snapshot}">{step.snapshot[:12]}</a>' in page


# --- what is not there, and who may not look -------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "nothing.txt",
        "plots/nothing/",
        "../../../etc/passwd",
        "..%2F..%2Fetc%2Fpasswd",
        "%2E%2E/%2E%2E/secret",
        "plots/../../out/",
        "/etc/passwd",
        "plots//loss.png",
        "./report.md",
        "a" * 5000,
        "link-out/",
        "link-out/passwd",
        "link-to-file",
    ],
)
def test_a_path_that_is_not_in_the_output_is_a_404(viewer_client, run, path):
    os.symlink("/etc", output_path(run) / "link-out")
    os.symlink("/etc/hostname", output_path(run) / "link-to-file")

    response = viewer_client.get(files_url(run) + path)
    download = viewer_client.get(files_url(run) + path, {"download": "1"})

    assert response.status_code == 404 and download.status_code == 404


def test_a_link_leading_out_is_not_listed(viewer_client, run):
    os.symlink("/etc", output_path(run) / "link-out")
    os.symlink("report.md", output_path(run) / "link-in.md")

    page = text(viewer_client.get(files_url(run)))

    assert "link-out" not in page and "link-in.md" in page


def test_an_unknown_run_step_output_or_snapshot_is_a_404(viewer_client, run, monkeypatch, tmp_path):
    without_code = run_with_files(monkeypatch, tmp_path)
    for url in (
        f"/runs/{run.pk + 1000}/steps/write/outputs/artifacts/",
        f"/runs/{run.pk}/steps/nowhere/outputs/artifacts/",
        f"/runs/{run.pk}/steps/write/outputs/nothing/",
        f"/runs/{run.pk}/steps/read/snapshot/",  # not started: no outputs, and no code
        f"/runs/{run.pk}/steps/read/outputs/artifacts/",
        f"/runs/{without_code.pk}/steps/write/snapshot/",
    ):
        assert viewer_client.get(url).status_code == 404, url


def test_a_stranger_may_not_read_a_steps_files_and_a_visitor_must_log_in(stranger_client, client, run):
    assert stranger_client.get(files_url(run, "report.md")).status_code == 403
    assert client.get(files_url(run, "report.md")).status_code == 302


def test_the_files_pages_answer_only_get(viewer_client, run):
    assert viewer_client.post(files_url(run)).status_code == 405


# --- backends that do not offer files, or fail ----------------------------------------------


class Unreachable(Backend):
    def list_files(self, run_id, step_id, area, path="", limit=1000) -> FileListing:
        raise BackendUnavailable("connection refused by ml.azure.example")

    def read_file(self, run_id, step_id, area, path, offset, limit) -> FileChunk:
        raise BackendUnavailable("connection refused by ml.azure.example")


def azure_run(backend: str) -> PipelineRun:
    return factories.run(
        backend=backend,
        steps=[
            {
                "node_id": "train",
                "outputs": {"model": "azureml://datastores/x/paths/model"},
                "snapshot": "ab" * 32,
            }
        ],
    )


def test_a_backend_that_does_not_offer_files_says_so_plainly(viewer_client, configure_backends):
    configure_backends(
        {"local": {"engine": "local"}, "azure-prod": {"engine": "tests.fakes.RecordingBackend"}}
    )
    run = azure_run("azure-prod")

    page = text(viewer_client.get(file_views.output_url(run.pk, "train", "model")))
    run_page = viewer_client.get(run.get_absolute_url()).content.decode()

    assert "Backend <strong>azure-prod</strong> does not offer its files for browsing here." in page
    assert "/outputs/model/" not in run_page and "/snapshot/" not in run_page
    assert "abababababab" in run_page  # the snapshot's digest, without a link


@pytest.mark.parametrize("query", ["", "?download=1"])
def test_a_backend_that_fails_is_a_page_that_says_so(viewer_client, configure_backends, query):
    configure_backends(
        {"local": {"engine": "local"}, "azure-prod": {"engine": "tests.test_step_files.Unreachable"}}
    )
    run = azure_run("azure-prod")

    response = viewer_client.get(file_views.output_url(run.pk, "train", "model") + query)

    assert response.status_code in (200, 502)
    assert "The files could not be read: connection refused by ml.azure.example" in text(response)


def test_the_metrics_are_readable_as_json_from_the_download(viewer_client, run):
    response = viewer_client.get(files_url(run, "metrics.json") + "?download=1")

    assert json.loads(b"".join(response.streaming_content)) == {"rmse": 3.5, "r2": 0.91, "folds": [1, 2]}
