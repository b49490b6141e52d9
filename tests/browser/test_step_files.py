"""In Chromium: from a run's page to a step's output, a CSV and a JSON file previewed, an image drawn under the
content security policy, a file downloaded; and the code snapshot. Screenshots of the listing and the previews
go to test-artifacts/."""

from __future__ import annotations

import json
import math
import struct
import zlib

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS, log_in
from tests.browser.test_csp import PolicyWatch
from tests.stepfiles import run_with_files

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

METRICS = {"rmse": 3.52, "r2": 0.914, "folds": [{"fold": i, "rmse": round(3 + i / 10, 2)} for i in range(3)]}
CSV = "size_m2,rooms,age_years,price_k\n" + "".join(
    f"{40 + (i * 37) % 160},{1 + i % 6},{(i * 13) % 60},{150 + (i * 53) % 400}.{i % 10}\n" for i in range(120)
)


def png(width: int, height: int, pixel) -> bytes:
    """A truecolour PNG, pixel(x, y) -> (r, g, b)."""
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def loss_curve(x: int, y: int) -> tuple[int, int, int]:
    curve = 170 - 150 * math.exp(-x / 60)  # falling from the top left, in an image's coordinates
    return (47, 91, 211) if abs(y - curve) < 2 else (255, 255, 255)


@pytest.fixture
def run(monkeypatch, tmp_path, engine_dir):
    return run_with_files(
        monkeypatch,
        tmp_path,
        artifacts={
            "houses.csv": CSV,
            "metrics.json": json.dumps(METRICS),
            "report.md": "# Houses at a glance\n\n120 rows, 4 columns.\n",
            "plots/loss.png": png(400, 200, loss_curve),
            "model/weights.bin": bytes(range(256)) * 64,
        },
        code={"train.py": "import json\nprint(json.dumps({'epochs': 20}))\n", "lib/util.py": "X = 1\n"},
    )


def test_follow_an_output_from_the_run_preview_csv_json_and_an_image_and_download_a_file(
    page, live_server, viewer, run
):
    watch = PolicyWatch(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    ARTIFACTS.mkdir(exist_ok=True)
    log_in(page, live_server, "viewer", "viewer-pass-123")

    page.goto(f"{live_server.url}{run.get_absolute_url()}")
    page.locator("#details-write summary").click()
    page.locator("#step-write").screenshot(path=str(ARTIFACTS / "step-files-run-outline.png"))
    page.locator("#details-write").get_by_role("link", name="artifacts", exact=True).click()

    expect(page.locator("h1")).to_contain_text("Output artifacts")
    expect(page.locator("table.files tbody tr")).to_have_count(5)
    expect(page.locator("table.files tbody tr").first).to_contain_text("model/")
    # No inline style (the policy forbids it); checked before a screenshot, which adds some of its own.
    assert page.evaluate("[...document.querySelectorAll('style, [style]')].map(e => e.outerHTML)") == []
    page.screenshot(path=str(ARTIFACTS / "step-files-listing.png"), full_page=True)

    page.get_by_role("link", name="houses.csv", exact=True).click()
    expect(page.locator("table.file-table thead th")).to_have_text(
        ["size_m2", "rooms", "age_years", "price_k"]
    )
    expect(page.locator("table.file-table tbody tr")).to_have_count(50)
    expect(page.locator("main")).to_contain_text("The first 50 rows below the header are shown")
    page.screenshot(path=str(ARTIFACTS / "step-files-csv.png"), full_page=True)

    page.go_back()
    page.get_by_role("link", name="metrics.json", exact=True).click()
    expect(page.locator("pre.file-json")).to_contain_text('"rmse": 3.52,\n  "r2": 0.914')
    page.screenshot(path=str(ARTIFACTS / "step-files-json.png"), full_page=True)
    with page.expect_download() as info:
        page.locator(".files-bar").get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "metrics.json"
    assert json.loads(open(download.path(), "rb").read()) == METRICS

    page.locator(".crumbs").get_by_role("link", name="output artifacts").click()
    page.get_by_role("link", name="plots/", exact=True).click()
    page.get_by_role("link", name="loss.png", exact=True).click()
    image = page.locator(".file-image img")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('.file-image img').complete")
    assert image.evaluate("img => img.naturalWidth") == 400
    assert page.evaluate("[...document.querySelectorAll('style, [style]')].map(e => e.outerHTML)") == []
    page.screenshot(path=str(ARTIFACTS / "step-files-image.png"), full_page=True)

    assert watch.violations() == [] and errors == []


def test_open_the_code_snapshot_from_the_steps_page(page, live_server, viewer, run):
    digest = run.steps.get(node_id="write").snapshot
    log_in(page, live_server, "viewer", "viewer-pass-123")

    page.goto(f"{live_server.url}{run.steps.get(node_id='write').get_absolute_url()}")
    page.get_by_role("link", name=digest[:12]).click()

    expect(page.locator("h1")).to_contain_text("Code snapshot")
    expect(page.locator("table.files tbody tr")).to_have_count(2)
    page.get_by_role("link", name="train.py", exact=True).click()
    expect(page.locator("pre.file-text")).to_contain_text("print(json.dumps({'epochs': 20}))")
    page.screenshot(path=str(ARTIFACTS / "step-files-snapshot.png"), full_page=True)
