"""A step's log: ANSI and carriage returns, UTF-8, windows by byte range, the line index, search, line links,
the live tail and the download.

The first half reads logs through a backend over bytes in memory that records every read, so each test can also
say how much was read; the second half goes through the pages, against runs of the local engine.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from django.urls import reverse

from backends.base import Backend, LogChunk, RunStatus
from backends.local import executor
from backends.local.engine import submit_spec
from backends.local.models import LocalStep
from backends.local.spec import load_pipeline
from runs import lineindex, log_downloads
from runs.lineindex import LineIndex, StepLog
from runs.logsearch import find_next, find_previous, search_log
from runs.logtext import LineLinks, Sgr, highlighter, render_lines, render_text
from runs.sync import sync_run
from tests.integration.helpers import PIPELINES

HTMX = {"HTTP_HX_REQUEST": "true"}


class BytesBackend(Backend):
    """A backend whose one log is ``data``; it records the (offset, limit) of every read."""

    def __init__(self, data: bytes = b"", *, more: bool = False) -> None:
        super().__init__("memory")
        self.data = data
        self.more = more
        self.reads: list[tuple[int, int]] = []

    def read_log(self, run_id: str, step_id: str, name: str, offset: int, limit: int) -> LogChunk:
        self.reads.append((offset, limit))
        offset = min(offset, len(self.data))
        piece = self.data[offset : offset + limit]
        return LogChunk(piece, offset, offset + len(piece), len(self.data), self.more)

    @property
    def bytes_read(self) -> int:
        return sum(min(limit, max(0, len(self.data) - offset)) for offset, limit in self.reads)


def step_log(data: bytes, *, more: bool = False) -> tuple[StepLog, BytesBackend]:
    backend = BytesBackend(data, more=more)
    return StepLog(backend, "run1", "step1", "stdout"), backend


@pytest.fixture(autouse=True)
def index_dir(tmp_path, settings):
    settings.LOG_INDEX_DIR = tmp_path / "log-index"
    return settings.LOG_INDEX_DIR


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 64 bytes and scans of 256, so that a few kilobytes span many of each."""
    monkeypatch.setattr(lineindex, "BLOCK", 64)
    monkeypatch.setattr(lineindex, "SCAN", 256)
    monkeypatch.setattr(lineindex, "FINGERPRINT", 16)


def html_of(text: str, **kwargs) -> str:
    return render_text(text, Sgr(), **kwargs)[0]


# --- ANSI, carriage returns, control characters, UTF-8 ----------------------------------------


def test_sgr_colours_and_bold_become_classes_and_reset_ends_them():
    assert html_of("\x1b[1;31mfailed\x1b[0m ok") == '<span class="ansi-bold ansi-red">failed</span> ok'
    assert html_of("\x1b[92;104mx\x1b[39my\x1b[49mz") == (
        '<span class="ansi-bright-green ansi-bg-bright-blue">x</span><span class="ansi-bg-bright-blue">y</span>z'
    )
    assert (
        html_of("\x1b[1mb\x1b[22mn\x1b[4mu\x1b[24m")
        == '<span class="ansi-bold">b</span>n<span class="ansi-underline">u</span>'
    )
    assert html_of("\x1b[mplain") == "plain"  # ESC[m is a reset


def test_256_colours_and_truecolor_map_to_the_nearest_of_the_16():
    assert html_of("\x1b[38;5;2mx") == '<span class="ansi-green">x</span>'  # the first 16 are themselves
    assert html_of("\x1b[38;5;196mx") == '<span class="ansi-bright-red">x</span>'  # cube red
    assert html_of("\x1b[48;5;232mx") == '<span class="ansi-bg-black">x</span>'  # darkest grey
    assert html_of("\x1b[38;2;10;10;240mx") == '<span class="ansi-blue">x</span>'
    assert html_of("\x1b[38:2:250:250:250mx") == '<span class="ansi-bright-white">x</span>'  # colon form
    assert html_of("\x1b[38;5mx") == "x"  # incomplete: dropped


def test_other_escape_sequences_are_dropped():
    assert html_of("\x1b[2K\x1b[1G\x1b]0;a title\x07done\x1b(B") == "done"
    assert html_of("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\") == "link"


def test_text_after_the_last_carriage_return_is_what_shows():
    assert html_of("10%\r50%\r100%") == "100%"
    assert html_of("done\r") == "done"  # a trailing \r (as in \r\n) changes nothing
    # The colour set before a carriage return stays.
    assert html_of("\x1b[32m 10%\r 20%") == '<span class="ansi-green"> 20%</span>'


def test_a_log_with_crlf_and_progress_lines_renders_one_line_each():
    log, _ = step_log(b"first\r\nprogress 1%\rprogress 2%\rprogress 100%\nlast\r\n")
    lines, end = log.lines(0, len(log.backend.data), 1)
    html = render_lines(lines, LineLinks("/at/{start}/"))
    texts = [unescape(re.sub(r"<[^>]+>", "", div)) for div in re.findall(r"<div.*?</div>", html)]
    assert texts == ["first", "progress 100%", "last"]
    assert end == len(log.backend.data)


def test_control_characters_show_as_symbols_and_invalid_utf8_as_replacement_characters():
    assert html_of("a\x00b\x07c\x7f") == "a\u2400b\u2407c\u2421"
    assert html_of("tab\tstays") == "tab\tstays"
    lines, _ = step_log(b"\xff\xfe bad \xc3\x28 ok\n")[0].lines(0, 12, 1)
    assert "\ufffd\ufffd bad \ufffd( ok" in render_lines(lines, LineLinks("/at/{start}/"))


def test_a_character_cut_by_the_writer_waits_for_the_rest_in_a_line_still_being_written():
    log, _ = step_log("café".encode()[:-1], more=True)
    lines, _ = log.lines(0, 4, 1)
    assert not lines[0].complete
    assert ">caf</div>" in render_lines(lines, LineLinks("/at/{start}/"), final=False)
    finished = render_lines(lines, LineLinks("/at/{start}/"))  # the end of a finished log: nothing more comes
    assert ">caf\ufffd</div>" in finished


def test_text_is_escaped_inside_and_outside_colours():
    assert html_of("<script>alert('x')</script> & \x1b[31m<b>") == (
        '&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; <span class="ansi-red">&lt;b&gt;</span>'
    )


def test_the_colour_carries_from_line_to_line_until_reset():
    log, _ = step_log(b"\x1b[33mwarn\nstill\n\x1b[0mplain\n")
    lines, _ = log.lines(0, 99, 1)
    html = render_lines(lines, LineLinks("/at/{start}/"))
    assert html.count('class="ansi-yellow"') == 2 and ">plain</div>" in html


def test_matches_are_marked_across_colour_changes_and_escaped():
    pattern = highlighter("error<", case_sensitive=False)
    assert html_of("an ERR\x1b[31mor< here", highlight=pattern) == (
        'an <mark class="log-match">ERR</mark><span class="ansi-red"><mark class="log-match">or&lt;</mark> here</span>'
    )


def test_a_very_long_line_is_cut_with_a_link_to_its_own_view():
    data = b"short\n" + b"x" * 12_000 + b"\nafter\n"
    lines, _ = step_log(data)[0].lines(0, len(data), 1)
    html = render_lines(lines, LineLinks("/logs/stdout/at/{start}/"))
    line2 = re.search(r'<div id="L2">.*?</div>', html).group()
    assert line2.count("x") == 10_000
    assert '<a class="log-cut" href="/logs/stdout/at/6/">… line cut (11.7 KB): show it whole</a>' in line2


def test_a_line_longer_than_a_read_keeps_its_head_or_its_last_carriage_return_segment(monkeypatch):
    monkeypatch.setattr(lineindex, "LINE_HEAD", 50)
    progress = b"".join(b"\rstep %05d" % i for i in range(200)) + b"\n"
    data = b"a\n" + b"y" * 500 + b"\n" + progress + b"end\n"
    log, backend = step_log(data)
    lines, end = log.lines(0, len(data), 1, read=64)
    assert [line.number for line in lines] == [1, 2, 3, 4] and end == len(data)
    assert lines[1].clipped and lines[1].data == b"y" * 50 and lines[1].length == 500
    assert lines[2].clipped and lines[2].data == b"step 00199"
    assert max(limit for _, limit in backend.reads) <= max(64, 8 << 20)


# --- windows: whole lines, by byte range ------------------------------------------------------


def numbered_log(count: int, width: int = 0) -> bytes:
    return b"".join(b"line %06d %s\n" % (i, b"=" * (i % 7 * width)) for i in range(1, count + 1))


def test_earlier_windows_meet_exactly_with_no_byte_lost_or_repeated():
    data = numbered_log(3000, width=9) + b"no newline at the end"
    log, _ = step_log(data)
    pieces = []
    end = len(data)
    start = log.start_before(end, 4096)
    while True:
        lines, stop = log.lines(start, end, None)
        assert stop == end
        pieces.append(b"".join(data[line.start : line.end] for line in lines))
        if start == 0:
            break
        end, start = start, log.start_before(start, 4096)
    assert b"".join(reversed(pieces)) == data
    assert len(pieces) > 10


def test_later_windows_meet_exactly_and_the_last_line_without_newline_is_kept():
    data = numbered_log(2000) + b"tail"
    log, _ = step_log(data)
    pos, seen = 0, b""
    while pos < len(data):
        lines, pos_after = log.lines(pos, len(data), None, budget=1000)
        assert lines and lines[0].start == pos
        seen += b"".join(data[line.start : line.end] for line in lines)
        pos = pos_after
    assert seen == data


def test_a_window_before_a_line_longer_than_the_window_holds_that_whole_line():
    data = b"one\n" + b"z" * 10_000 + b"\nthree\n"
    log, _ = step_log(data)
    end = 4 + 10_001
    start = log.start_before(end, 1000)
    assert start == 4
    lines, _ = log.lines(start, end, None, read=1000)
    assert len(lines) == 1 and lines[0].clipped and lines[0].end == end


def test_reads_are_bounded_whatever_the_size_of_the_log():
    data = numbered_log(200_000)  # 2.4 MB
    log, backend = step_log(data)
    start = log.start_before(len(data), 256 * 1024)
    log.lines(start, len(data), None)
    assert backend.bytes_read < 600 * 1024


# --- the line index ---------------------------------------------------------------------------


def test_the_index_gives_each_offset_its_line_and_each_line_its_offset(small_blocks):
    data = numbered_log(400, width=3)
    log, _ = step_log(data)
    index = LineIndex(log)
    assert index.update(len(data))
    starts = [0, *(m.end() for m in re.finditer(b"\n", data))][:-1]
    for number, start in enumerate(starts, 1):
        assert index.offset_of(number, len(data)) == start
        assert index.line_of(start) == number
        assert index.line_of(start + 3) == number  # inside the line
    assert index.offset_of(401, len(data)) is None
    assert index.line_count(len(data), data[-1:]) == 400


def test_the_index_is_kept_on_disk_and_read_back_without_counting_again(small_blocks, index_dir):
    data = numbered_log(300)
    log, backend = step_log(data)
    LineIndex(log).update(len(data))
    assert list(index_dir.rglob("*.idx")) == [index_dir / "memory" / "run1" / "step1" / "stdout.idx"]

    backend.reads.clear()
    again = LineIndex(log)
    assert again.update(len(data))
    assert backend.bytes_read <= lineindex.FINGERPRINT  # only the check that the log is the one indexed
    assert again.line_of(len(data) - 5) == 300


def test_a_growing_log_is_indexed_only_for_its_new_bytes(small_blocks):
    data = numbered_log(100)
    log, backend = step_log(data, more=True)
    index = LineIndex(log)
    index.update(len(data))
    indexed = index.indexed

    backend.data += numbered_log(250)[len(data) :]
    backend.reads.clear()
    index = LineIndex(log)
    index.update(len(backend.data))
    assert min(offset for offset, _ in backend.reads) >= indexed - lineindex.FINGERPRINT
    assert index.line_of(len(backend.data) - 1) == 250
    assert index.offset_of(200, len(backend.data)) == backend.data.index(b"line 000200")


def test_a_log_replaced_under_its_index_is_counted_again(small_blocks):
    log, backend = step_log(numbered_log(100))
    LineIndex(log).update(len(backend.data))
    backend.data = b"\n" * len(backend.data)  # same size, other lines
    index = LineIndex(log)
    index.update(len(backend.data))
    assert index.line_of(len(backend.data) - 1) == len(backend.data)


def test_index_files_are_named_safely_whatever_the_ids(index_dir):
    path = lineindex.index_path(("azure/prod", "..", "a b", "std/out"))
    assert path.parent.parent.parent.parent == index_dir
    assert ".." not in path.parts and path.name == "std%2Fout.idx"


# --- search -----------------------------------------------------------------------------------


def reference_matches(data: bytes, needle: bytes) -> list[int]:
    found, i = [], data.find(needle)
    while i != -1:
        found.append(i)
        i = data.find(needle, i + len(needle))
    return found


@pytest.mark.parametrize("piece", [7, 16, 33, 1 << 20])
def test_search_finds_matches_across_the_pieces_it_reads(piece):
    data = b"".join(b"row %d: the needle is %s\n" % (i, b"here" if i % 3 else b"gone") for i in range(200))
    log, backend = step_log(data)
    result = search_log(log, "needle is here", case_sensitive=True, piece=piece)
    expected = reference_matches(data, b"needle is here")
    assert result.count == len(expected) == 133
    assert [m.offset for m in result.matches] == expected
    assert [m.line for m in result.matches] == [data.count(b"\n", 0, o) + 1 for o in expected]
    assert max(limit for _, limit in backend.reads) <= max(piece, 0) + len("needle is here") - 1


def test_search_takes_line_numbers_from_the_index_even_for_a_log_grown_since(small_blocks):
    data = b"".join(b"%d %s\n" % (i, b"hit" if i % 37 == 0 else b"miss") for i in range(3000))
    log, backend = step_log(data[:20_000], more=True)
    index = LineIndex(log)
    index.update(len(backend.data))
    backend.data = data  # grew by far more than the index has counted
    expected = [data.count(b"\n", 0, o) + 1 for o in reference_matches(data, b"hit")]
    for piece in (256, 512):
        result = search_log(log, "hit", case_sensitive=True, piece=piece, index=index)
        assert [m.line for m in result.matches] == expected


def test_search_counts_past_the_listed_matches_and_says_so():
    data = b"error\n" * 5000
    result = search_log(step_log(data)[0], "error", case_sensitive=True, limit=10, piece=100)
    assert result.count == 5000 and len(result.matches) == 10 and result.capped
    assert [m.line for m in result.matches] == list(range(1, 11))


def test_search_ignores_case_unless_asked_to_match_it():
    data = "Error\nERROR\nerror\nÉté\nété\n".encode()
    log, _ = step_log(data)
    assert search_log(log, "error", case_sensitive=False).count == 3
    assert search_log(log, "Error", case_sensitive=True).count == 1
    assert [m.line for m in search_log(log, "été", case_sensitive=False, piece=5).matches] == [4, 5]
    assert search_log(log, "été", case_sensitive=True).count == 1


@pytest.mark.parametrize("piece", [3, 4, 5, 64])
def test_a_query_that_overlaps_itself_counts_matches_that_do_not_overlap(piece):
    data = b"aaaaaaa\nxaax\naaa\n"
    result = search_log(step_log(data)[0], "aa", case_sensitive=True, piece=piece)
    assert [m.offset for m in result.matches] == reference_matches(data, b"aa") == [0, 2, 4, 9, 13]


def test_a_match_shows_its_line_around_it_without_escape_sequences():
    data = b"first\n\x1b[31mERROR\x1b[0m: disk full <sda>\n"
    (match,) = search_log(step_log(data)[0], "disk", case_sensitive=True).matches
    assert (match.line, match.before, match.text, match.after) == (2, "ERROR: ", "disk", " full <sda>")


def test_next_and_previous_match_from_an_offset():
    data = b"a needle\nhay\nhay\nneedle b\nhay\n"
    log, _ = step_log(data)
    first, second = reference_matches(data, b"needle")
    assert find_next(log, "needle", case_sensitive=True, start=0, piece=4) == first
    assert find_next(log, "needle", case_sensitive=True, start=first + 1, piece=4) == second
    assert find_next(log, "needle", case_sensitive=True, start=second + 1, piece=4) == -1
    assert find_previous(log, "NEEDLE", case_sensitive=False, before=second, piece=4) == first
    assert find_previous(log, "needle", case_sensitive=True, before=first, piece=4) == -1


# --- the pages --------------------------------------------------------------------------------


@pytest.fixture
def engine_step(engine_dir):
    """A mirrored run of the local engine whose step ``write`` is running; write its stdout with ``.write``."""
    run = submit_spec(load_pipeline(PIPELINES / "two_steps.yml"))
    step = run.steps.get(node_id="write")
    LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.RUNNING)
    path = executor.log_path(step, "stdout")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    mirrored = sync_run("local", run.pk)

    class EngineStep:
        url = reverse("runs:step_log", args=[mirrored.pk, "write", "stdout"])
        run = mirrored

        @staticmethod
        def write(data: bytes, *, append: bool = False) -> None:
            with path.open("ab" if append else "wb") as fh:
                fh.write(data)

        @staticmethod
        def finish() -> None:
            LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.COMPLETED)
            sync_run("local", run.pk)

    EngineStep.path = path
    return EngineStep


def line_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<div id="L(\d+)"', html)]


@pytest.mark.django_db
def test_a_log_page_shows_the_tail_numbered_and_escaped(viewer_client, engine_step):
    engine_step.write(numbered_log(40_000) + b"<script>alert('x')</script>\n")
    page = viewer_client.get(engine_step.url).content.decode()

    ids = line_ids(page)
    assert ids[-1] == 40_001 and ids == list(range(ids[0], 40_002)) and ids[0] > 1
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert '<a href="?line=40001#L40001" data-n="40001"></a>' in page
    assert "40,001 lines" in page and 'class="log-earlier"' in page
    assert f"offset={engine_step.path.stat().st_size}" in page  # the live tail reads on from the end


@pytest.mark.django_db
def test_the_live_tail_appends_whole_lines_and_redoes_the_line_being_written(viewer_client, engine_step):
    engine_step.write(b"one\ntwo\n")
    page = viewer_client.get(engine_step.url).content.decode()
    assert "?offset=8&amp;line=3" in page

    engine_step.write(b"three\n" + "caf\u00e9".encode()[:-1], append=True)  # a character cut by the writer
    tail = viewer_client.get(engine_step.url, {"offset": 8, "line": 3}, **HTMX).content.decode()
    assert line_ids(tail) == [3, 4] and ">three</div>" in tail and ">caf</div>" in tail
    assert '<div id="log-tail"' in tail and "offset=14&amp;line=4" in tail  # line 4 is read again

    engine_step.write("\u00e9!\n".encode()[1:], append=True)
    tail = viewer_client.get(engine_step.url, {"offset": 14, "line": 4}, **HTMX).content.decode()
    assert ">café!</div>" in tail and "offset=21&amp;line=5" in tail


@pytest.mark.django_db
def test_the_live_tail_stops_when_the_step_has_ended(viewer_client, engine_step):
    engine_step.write(b"one\nlast words")
    engine_step.finish()
    response = viewer_client.get(engine_step.url, {"offset": 4, "line": 2}, **HTMX)
    assert response.status_code == 286 and "hx-get" not in response.content.decode()
    assert ">last words</div>" in response.content.decode()


@pytest.mark.django_db
def test_the_live_tail_brings_the_header_along_until_it_says_how_the_step_ended(viewer_client, engine_step):
    engine_step.write(b"one\n")
    running = viewer_client.get(engine_step.url, {"offset": 0, "line": 1}, **HTMX).content.decode()
    assert '<h1 id="step-title" hx-swap-oob="true">' in running and ">Running</span>" in running
    assert '<span class="sub log-facts" id="log-facts" hx-swap-oob="true">4 bytes · 1 line</span>' in running
    assert "Live: new output appears" in running

    engine_step.write(b"two\n", append=True)
    engine_step.finish()
    ended = viewer_client.get(engine_step.url, {"offset": 4, "line": 2}, **HTMX)

    html = ended.content.decode()
    assert ended.status_code == 286  # no more polls
    assert ">Completed</span>" in html and "8 bytes · 2 lines" in html
    assert "The step ended Completed" in html and "Live:" not in html


@pytest.mark.django_db
def test_a_log_the_backend_calls_complete_is_followed_until_the_mirror_has_the_steps_end(
    viewer_client, engine_step
):
    engine_step.write(b"done\n")
    LocalStep.objects.filter(node_id="write").update(status=RunStatus.COMPLETED)  # not yet synced

    page = viewer_client.get(engine_step.url).content.decode()
    tail = viewer_client.get(engine_step.url, {"offset": 5, "line": 2}, **HTMX)

    assert 'id="log-tail"' in page and ">Running</span>" in page
    assert tail.status_code == 200 and 'id="log-tail"' in tail.content.decode()
    engine_step.finish()
    assert viewer_client.get(engine_step.url, {"offset": 5, "line": 2}, **HTMX).status_code == 286


@pytest.mark.django_db
def test_earlier_fragments_walk_back_to_the_start_without_losing_or_repeating_a_line(
    viewer_client, engine_step
):
    engine_step.write(numbered_log(90_000))  # about 1 MB: five windows
    page = viewer_client.get(engine_step.url).content.decode()
    seen = line_ids(page)
    before = re.search(r'class="log-earlier" href="[^"]*\?before=(\d+)"', page)
    fragments = 0
    while before:
        fragment = viewer_client.get(engine_step.url, {"before": before.group(1)}, **HTMX).content.decode()
        chunk = re.search(r'data-start="(\d+)" data-end="(\d+)"', fragment)
        assert chunk.group(2) == before.group(1)  # the window ends where the one after it starts
        seen = line_ids(fragment) + seen
        before = re.search(r'class="log-earlier" href="[^"]*\?before=(\d+)"', fragment)
        fragments += 1
    assert fragments >= 4 and seen == list(range(1, 90_001))


@pytest.mark.django_db
def test_earlier_and_later_work_as_plain_links_too(viewer_client, engine_step):
    engine_step.write(numbered_log(60_000))
    page = viewer_client.get(engine_step.url).content.decode()
    before = re.search(r"\?before=(\d+)", page).group(1)
    earlier = viewer_client.get(engine_step.url, {"before": before}).content.decode()
    assert line_ids(earlier)[-1] == line_ids(page)[0] - 1 and 'class="log-later"' in earlier
    after = re.search(r"\?after=(\d+)", earlier).group(1)
    assert (
        line_ids(viewer_client.get(engine_step.url, {"after": after}).content.decode())[0]
        == line_ids(page)[0]
    )


@pytest.mark.django_db
def test_a_line_link_opens_the_log_at_that_line(viewer_client, engine_step):
    data = numbered_log(100_000)
    engine_step.write(data)
    page = viewer_client.get(engine_step.url, {"line": 1234}).content.decode()
    assert (
        '<div id="L1234" class="log-current"><a href="?line=1234#L1234" data-n="1234"></a>line 001234' in page
    )
    assert line_ids(page)[0] < 1234 < line_ids(page)[-1]

    offset = data.index(b"line 077777") + 4
    at = viewer_client.get(engine_step.url, {"at": offset}).content.decode()
    assert '<div id="L77777" class="log-current">' in at

    beyond = viewer_client.get(engine_step.url, {"line": 100_001}).content.decode()
    assert "The log has no line 100,001" in beyond and line_ids(beyond)[-1] == 100_000


@pytest.mark.django_db
def test_line_numbers_follow_a_growing_log(viewer_client, engine_step, settings):
    engine_step.write(numbered_log(200_000))  # 2.4 MB: two whole blocks counted
    viewer_client.get(engine_step.url)
    engine_step.write(numbered_log(300_000)[engine_step.path.stat().st_size :], append=True)
    page = viewer_client.get(engine_step.url).content.decode()
    assert line_ids(page)[-1] == 300_000
    assert (
        '<div id="L250000" class="log-current">'
        in viewer_client.get(engine_step.url, {"line": 250_000}).content.decode()
    )


@pytest.mark.django_db
def test_a_search_counts_lists_and_links_each_match_to_its_line(viewer_client, engine_step):
    engine_step.write(
        numbered_log(50_000)
        .replace(b"line 012345", b"line 012345 FOUND it")
        .replace(b"line 040000", b"found again line 040000")
    )
    page = viewer_client.get(engine_step.url, {"q": "found"}).content.decode()
    assert "<strong>2 matches</strong> for “found”" in page
    assert '<a href="/runs/' in page and '?line=12345&amp;q=found#L12345">line 12345</a>' in page
    assert 'class="log-match">found</mark> again' in page

    exact = viewer_client.get(engine_step.url, {"q": "found", "case": "1"}).content.decode()
    assert "<strong>1 match</strong>" in exact and "(case matched)" in exact

    jumped = viewer_client.get(engine_step.url, {"q": "found", "line": 12345}).content.decode()
    assert (
        '<div id="L12345" class="log-current">' in jumped and '<mark class="log-match">FOUND</mark>' in jumped
    )
    next_url = unescape(re.search(r'class="log-next-match" href="([^"]+)"', jumped).group(1))
    redirect = viewer_client.get(next_url)
    assert redirect.status_code == 302 and redirect["Location"].endswith("line=40000&q=found#L40000")
    prev_url = unescape(re.search(r'class="log-prev-match" href="([^"]+)"', jumped).group(1))
    none_before = viewer_client.get(prev_url, follow=True)
    assert "No match for “found” before this line." in none_before.content.decode()


@pytest.mark.django_db
def test_a_long_line_is_cut_in_the_log_and_shown_whole_on_its_own(viewer_client, engine_step):
    engine_step.write(b"before\n" + b"<x>" * 5000 + b"!\nafter\n")
    engine_step.finish()
    page = viewer_client.get(engine_step.url).content.decode()
    link = re.search(r'class="log-cut" href="([^"]+)"', page).group(1)
    assert link.endswith("/logs/stdout/at/7/") and page.count("&lt;x&gt;") == 3333

    whole = viewer_client.get(link).content.decode()
    assert whole.count("&lt;x&gt;") == 5000 and "Line 2 · 14.6 KB from byte 7" in whole
    raw = viewer_client.get(link, {"raw": "1"})
    assert b"".join(raw.streaming_content) == b"<x>" * 5000 + b"!"


@pytest.mark.django_db
def test_the_download_streams_the_whole_log_a_piece_at_a_time(viewer_client, engine_step, monkeypatch):
    monkeypatch.setattr(log_downloads, "DOWNLOAD_PIECE", 1000)
    data = numbered_log(10_000) + b"\xff binary \x00 end"
    engine_step.write(data)
    response = viewer_client.get(
        reverse("runs:step_log_download", args=[engine_step.run.pk, "write", "stdout"])
    )
    assert response.streaming and response["Content-Length"] == str(len(data))
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="{engine_step.run.external_id}-write-stdout.log"'
    )
    pieces = list(response.streaming_content)
    assert len(pieces) == len(data) // 1000 + 1 and max(map(len, pieces)) == 1000
    assert b"".join(pieces) == data


def test_stream_log_is_a_generator_reading_piece_by_piece():
    log, backend = step_log(b"x" * 10_000)
    stream = log_downloads.stream_log(log, 0, 10_000, piece=4096)
    assert backend.reads == []  # nothing read before the response is sent
    assert [len(p) for p in stream] == [4096, 4096, 1808]


@pytest.mark.django_db
def test_stdout_stderr_and_the_system_log_are_tabs(viewer_client, engine_step):
    step = LocalStep.objects.get(run_id=engine_step.run.external_id, node_id="write")
    executor.syslog(step, "started: pid 4242")
    page = viewer_client.get(
        reverse("runs:step_log", args=[engine_step.run.pk, "write", "system"])
    ).content.decode()
    tabs = re.search(r'<nav class="tabs">(.*?)</nav>', page, re.S).group(1)
    assert re.findall(r">(\w+) <span", tabs) == ["stdout", "stderr", "system"]
    assert 'aria-current="page">system <span' in tabs and "started: pid 4242</div>" in page


@pytest.mark.django_db
def test_each_log_tab_says_how_big_its_log_is(viewer_client, engine_step):
    engine_step.write(b"x" * 2150)
    step = LocalStep.objects.get(run_id=engine_step.run.external_id, node_id="write")
    executor.log_path(step, "stderr").write_bytes(b"Traceback: boom\n")

    page = viewer_client.get(engine_step.url).content.decode()

    tabs = re.search(r'<nav class="tabs">(.*?)</nav>', page, re.S).group(1)
    shown = [re.sub(r"<[^>]+>", "", tab) for tab in re.findall(r"<a [^>]*>(.*?)</a>", tabs)]
    assert shown[:2] == ["stdout · 2.1 KB", "stderr · 16 bytes"]


@pytest.mark.django_db
def test_bad_numbers_are_refused(viewer_client, engine_step):
    for params in ({"offset": "-1"}, {"line": "x"}, {"line": "0"}, {"before": "1e3"}):
        assert viewer_client.get(engine_step.url, params).status_code == 400


@pytest.mark.django_db
def test_an_unknown_log_or_step_is_a_404(viewer_client, engine_step):
    pk = engine_step.run.pk
    assert viewer_client.get(reverse("runs:step_log", args=[pk, "write", "secrets"])).status_code == 404
    assert viewer_client.get(reverse("runs:step_log", args=[pk, "nope", "stdout"])).status_code == 404
    assert (
        viewer_client.get(reverse("runs:step_log_download", args=[pk, "write", "secrets"])).status_code == 404
    )


@pytest.mark.django_db
def test_the_log_pages_need_the_read_permission(stranger_client, engine_step):
    assert stranger_client.get(engine_step.url).status_code == 403
    download = reverse("runs:step_log_download", args=[engine_step.run.pk, "write", "stdout"])
    assert stranger_client.get(download).status_code == 403


@pytest.mark.django_db
def test_an_empty_log_says_why_it_is_empty(viewer_client, engine_step):
    read_url = engine_step.url.replace("/steps/write/", "/steps/read/")
    waiting = viewer_client.get(read_url).content.decode()
    assert "The step has not started yet (NotStarted): its stdout appears here when it does." in waiting

    LocalStep.objects.filter(node_id="read").update(
        status=RunStatus.CANCELED, error="Not run: upstream step 'write' Failed."
    )
    sync_run("local", LocalStep.objects.get(node_id="read").run_id)
    never = viewer_client.get(read_url).content.decode()
    assert "The step never ran: upstream step &#x27;write&#x27; Failed." in never

    running = viewer_client.get(engine_step.url).content.decode()
    assert "Nothing written to stdout yet" in running


def fail(engine_step, stderr: bytes) -> None:
    step = LocalStep.objects.get(run_id=engine_step.run.external_id, node_id="write")
    executor.log_path(step, "stderr").write_bytes(stderr)
    LocalStep.objects.filter(pk=step.pk).update(status=RunStatus.FAILED)
    sync_run("local", engine_step.run.external_id)


@pytest.mark.django_db
def test_a_failed_steps_logs_open_on_its_stderr_when_it_wrote_there(viewer_client, engine_step):
    engine_step.write(b"working\n")
    fail(engine_step, b"Traceback (most recent call last):\nValueError: bad shard\n")

    response = viewer_client.get(reverse("runs:step_logs", args=[engine_step.run.pk, "write"]))

    assert response.status_code == 302
    assert response["Location"] == reverse("runs:step_log", args=[engine_step.run.pk, "write", "stderr"])


@pytest.mark.django_db
def test_a_failed_steps_logs_open_on_its_stdout_when_its_stderr_is_empty(viewer_client, engine_step):
    engine_step.write(b"ERROR: bad shard\n")
    fail(engine_step, b"")

    response = viewer_client.get(reverse("runs:step_logs", args=[engine_step.run.pk, "write"]))

    assert response["Location"] == reverse("runs:step_log", args=[engine_step.run.pk, "write", "stdout"])


@pytest.mark.django_db
def test_a_steps_logs_open_on_its_first_log_unless_it_failed(viewer_client, engine_step):
    step = LocalStep.objects.get(run_id=engine_step.run.external_id, node_id="write")
    executor.log_path(step, "stderr").write_bytes(b"a warning\n")
    engine_step.finish()

    response = viewer_client.get(reverse("runs:step_logs", args=[engine_step.run.pk, "write"]))

    assert response["Location"] == reverse("runs:step_log", args=[engine_step.run.pk, "write", "stdout"])
    assert viewer_client.get(reverse("runs:step_logs", args=[engine_step.run.pk, "ghost"])).status_code == 404
