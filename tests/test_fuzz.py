"""Fuzzing (hypothesis): the stripper, the HTML path, the WARC reader and the seed and schedule parsers.

Whatever they are fed, they give a result or their own documented error: never a crash,
never another exception. `FUZZ_EXAMPLES=5000 pytest tests/test_fuzz.py` runs a long campaign.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.crawl.seeds import SeedError, read_seed_file
from archive.schedule import ScheduleError, load_schedule
from archive.warc.reader import WARC_READ_ERRORS, scan_records
from archive.warc.sources import CaptureFailure as SourceFailure
from archive.warc.sources import SourceError, SourceRef, find_sources, load_capture
from scraper import Capture, CaptureError, build_record, strip_boilerplate

T = TypeVar("T")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

# Lines that look like pages: words, menus, share counts, dates, bylines, and noise.
_LINE = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["Home", "News", "Share", "Advertisement", "By Ada Writer", "May 6, 2025", "12 comments", ""]),
    st.lists(st.sampled_from(["the", "ferry", "council", "Monday", "said", "harbour", "."]), max_size=40).map(" ".join),
)
_TEXT = st.lists(_LINE, max_size=60).map("\n".join)
_TAGS = st.sampled_from(["div", "p", "article", "nav", "script", "style", "span", "a", "h1", "table", "li", "!--"])


@st.composite
def _html(draw: st.DrawFn) -> bytes:
    """Return tag soup: nested, unclosed, mis-closed tags around page-like lines, in some encoding."""
    parts = ["<html><head><title>", draw(_LINE), "</title></head><body>"]
    for _ in range(draw(st.integers(0, 40))):
        tag = draw(_TAGS)
        parts.append(draw(st.sampled_from([f"<{tag}>", f"</{tag}>", f"<{tag} class='x'>", draw(_LINE)])))
    raw = "".join(parts).encode(draw(st.sampled_from(["utf-8", "latin-1", "utf-16"])), errors="replace")
    return draw(st.sampled_from([raw, raw + draw(st.binary(max_size=64)), raw[: len(raw) // 2]]))


@FUZZ
@given(_TEXT)
def test_the_stripper_gives_lines_of_its_input(text: str) -> None:
    found = strip_boilerplate(text)
    assert all(isinstance(p, str) and p for p in found.paragraphs)
    assert found.input_words >= 0


@FUZZ
@given(st.one_of(_html(), st.binary(max_size=4096)), st.sampled_from(["text/html", "text/plain"]))
def test_any_bytes_become_a_record_or_a_capture_error(payload: bytes, media_type: str) -> None:
    capture = Capture(payload, "file", "/fuzz/page", media_type, url="https://fuzz.example/page")
    try:
        record = build_record(capture)
    except CaptureError as exc:
        assert str(exc)  # a reason, never an empty message
        return
    assert record.word_count >= 0 and record.text == record.text.strip()
    assert len(record.id) == 32


def _warc_file(*, gzip: bool) -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=gzip)
    for n in range(3):
        body = f"<html><body><p>Story {n}: the ferry returns to its timetable.</p></body></html>".encode()
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                f"https://fuzz.example/{n}", "response", payload=io.BytesIO(body), length=len(body), http_headers=http
            )
        )
    return out.getvalue()


_WARC = _warc_file(gzip=True)
_PLAIN_WARC = _warc_file(gzip=False)


@st.composite
def _damaged_warc(draw: st.DrawFn) -> bytes:
    """Return a WARC file (gzipped or plain) cut, with bytes flipped, inserted or removed."""
    data = bytearray(draw(st.sampled_from([_WARC, _PLAIN_WARC])))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        if how == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif how == "delete":
            del data[at : at + draw(st.integers(1, 32))]
        else:
            del data[at:]
    return bytes(data)


@FUZZ
@given(_damaged_warc())
def test_a_damaged_warc_gives_records_and_failures_never_a_crash(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.warc.gz"
        path.write_bytes(data)
        try:
            with open(path, "rb") as handle:
                for _ in scan_records(handle, check_digests=True):
                    pass
        except WARC_READ_ERRORS:
            pass
        for found in find_sources([str(path)]):
            if isinstance(found, SourceFailure):
                assert str(path) in found.source and found.reason
                continue
            if not isinstance(found, SourceRef):
                continue  # a skipped record
            try:
                capture = load_capture(found, max_bytes=1 << 20)
            except SourceError as exc:
                assert str(exc)
                continue
            assert isinstance(capture.payload, bytes)


def _parsed(name: str, text: str, parse: Callable[[Path], list[T]], error: type[ValueError]) -> list[T] | None:
    """Return what `parse` makes of a file holding `text`; None when it refused it with `error`, naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            return parse(path)
        except error as exc:
            assert str(path) in str(exc)
            return None


@FUZZ
@given(st.one_of(st.text(max_size=400), st.lists(_LINE, max_size=12).map("\n".join)))
@example("//[")  # found by a 6,000-example run: urlsplit's ValueError escaped as itself
@example("https://[::1 depth=2")
def test_seed_files_give_seeds_or_a_seed_error(text: str) -> None:
    seeds = _parsed("seeds.txt", text, read_seed_file, SeedError)
    assert seeds is None or all(s.url.startswith(("http://", "https://")) for s in seeds)


_TOML_PIECES = st.sampled_from(
    [
        "[jobs.a]\n",
        "[defaults]\n",
        'seeds = ["https://news.example/"]\n',
        'every = "15m"\n',
        'cron = "*/5 * * * *"\n',
        'every = "-3x"\n',
        'cron = "61 * * * *"\n',
        'args = ["--depth", "0"]\n',
        "args = 3\n",
        'seeds = "https://x.example"\n',
        "[jobs]\n",
        "seeds = []\n",
    ]
)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.lists(_TOML_PIECES, max_size=10).map("".join)))
def test_schedule_files_give_jobs_or_a_schedule_error(text: str) -> None:
    jobs = _parsed("schedule.toml", text, load_schedule, ScheduleError)
    assert jobs is None or (jobs and all(job.name for job in jobs))
