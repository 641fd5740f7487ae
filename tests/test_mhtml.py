"""Pages a browser saved as MHTML ("Webpage, Single File"): archived as saved, their page extracted.

The files are written here as Chrome writes them: a multipart/related message whose first part
is the page's HTML (quoted-printable, named by Content-Location), then its images (base64).
"""

from __future__ import annotations

import base64
import json
import quopri
from datetime import UTC, datetime
from pathlib import Path

import pytest

from archive.warc.sources import CaptureFailure, SourceRef, find_sources, load_capture
from scraper import CaptureError, build_record
from scraper.notext import no_text_record
from tests.conftest import Cli, warc_files, warcio_check

PAGE_URL = "https://coast.example/news/harbour-fog?utm_source=app"
SENTENCE = "Thick fog over the harbour delayed the morning ferries by up to two hours, said the operator’s Müller."
HTML = (
    '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Harbour fog delays ferries</title></head><body>'
    "<nav>Home | News | Sport</nav><article><h1>Harbour fog delays ferries</h1>"
    + "".join(f"<p>{SENTENCE} ({n} of 5.)</p>" for n in range(1, 6))
    + '</article><footer>© 2026 Coast Daily</footer><img src="https://coast.example/logo.png"></body></html>'
).encode()
BOUNDARY = "----MultipartBoundary--Xy12----"


def _part(headers: dict[str, str], body: str) -> str:
    return f"--{BOUNDARY}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + f"\r\n{body}\r\n"


PAGE_PART = _part(
    {
        "Content-Type": "text/html",
        "Content-ID": "<frame-1@mhtml.blink>",
        "Content-Transfer-Encoding": "quoted-printable",
        "Content-Location": PAGE_URL,
    },
    quopri.encodestring(HTML).decode("ascii").replace("\n", "\r\n"),
)
IMAGE_PART = _part(
    {
        "Content-Type": "image/png",
        "Content-Transfer-Encoding": "base64",
        "Content-Location": "https://coast.example/logo.png",
    },
    base64.encodebytes(b"\x89PNG\r\n\x1a\n" + bytes(300)).decode("ascii").replace("\n", "\r\n"),
)


def _mhtml(*parts: str, start: str | None = None, closed: bool = True) -> bytes:
    head = (
        "From: <Saved by Blink>\r\n"
        f"Snapshot-Content-Location: {PAGE_URL}\r\n"
        "Subject: Harbour fog delays ferries\r\n"
        "Date: Tue, 3 Nov 2026 08:15:00 -0000\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/related;\r\n\ttype="text/html";\r\n'
        + (f'\tstart="{start}";\r\n' if start else "")
        + f'\tboundary="{BOUNDARY}"\r\n\r\n\r\n'
    )
    return (head + "".join(parts) + (f"--{BOUNDARY}--\r\n" if closed else "")).encode("ascii")


def _capture(path: Path, data: bytes) -> object:
    path.write_bytes(data)
    [found] = list(find_sources([str(path)]))
    return load_capture(found) if isinstance(found, SourceRef) else found


def test_the_page_inside_is_read_with_the_address_and_time_the_browser_saved(tmp_path: Path) -> None:
    data = _mhtml(PAGE_PART, IMAGE_PART)
    capture = _capture(tmp_path / "harbour.mhtml", data)
    assert capture.payload == data  # archived as saved
    assert capture.content == HTML  # the page part, quoted-printable undone
    assert capture.media_type == "multipart/related"
    assert capture.saved_from == PAGE_URL
    assert capture.captured_at == datetime(2026, 11, 3, 8, 15, tzinfo=UTC)
    record = build_record(capture)
    assert record.source_url == "urn:file:harbour.mhtml"  # where it was read from
    assert record.canonical_url == "https://coast.example/news/harbour-fog"  # where the page was
    assert record.site == "coast.example" and record.title == "Harbour fog delays ferries"
    assert SENTENCE in record.text and "Home | News" not in record.text
    assert record.provenance.media_type == "text/html"


def test_a_saved_page_with_no_text_is_still_named_by_the_address_it_was_saved_from(tmp_path: Path) -> None:
    """A page nothing can be extracted from is archived raw all the same (no_text_record): under its web address."""
    empty_page = PAGE_PART.replace(
        quopri.encodestring(HTML).decode("ascii").replace("\n", "\r\n"), "<html><body></body></html>"
    )
    capture = _capture(tmp_path / "blank.mhtml", _mhtml(empty_page))
    with pytest.raises(CaptureError):
        build_record(capture)
    record = no_text_record(capture, "no main text found in the HTML")
    assert (record.source_url, record.canonical_url) == (
        "urn:file:blank.mhtml",
        "https://coast.example/news/harbour-fog",
    )


# A frame's document: a second HTML part, after the page's own.
FRAME_HTML = b"<html><body><p>An embedded poll: which ferry do you take?</p></body></html>"
FRAME_PART = _part({"Content-Type": "text/html", "Content-ID": "<frame-2@mhtml.blink>"}, FRAME_HTML.decode())


@pytest.mark.parametrize(("start", "page"), [(None, HTML), ("<frame-2@mhtml.blink>", FRAME_HTML)])
def test_the_page_part_is_the_one_the_message_names_else_the_first_html_part(
    tmp_path: Path, start: str | None, page: bytes
) -> None:
    capture = _capture(tmp_path / "images-first.mht", _mhtml(IMAGE_PART, PAGE_PART, FRAME_PART, start=start))
    assert capture.content.strip() == page


def test_a_single_html_part_is_a_page_and_a_bad_date_or_cid_address_falls_back(tmp_path: Path) -> None:
    """Not every writer follows Chrome: one HTML part, no date UTC can hold, the page part addressed by cid:."""
    single = (
        f"Snapshot-Content-Location: {PAGE_URL}\r\nDate: Fri, 31 Dec 9999 23:00:00 -1000\r\n"
        "Content-Location: cid:page@example\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    ).encode() + HTML
    path = tmp_path / "single.mhtml"
    capture = _capture(path, single)
    assert capture.content == HTML
    assert capture.saved_from == PAGE_URL  # the snapshot's address: cid: names no page
    assert capture.captured_at == datetime.fromtimestamp(path.stat().st_mtime, UTC)  # the file's own time


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b"From: someone\r\nContent-Type: text/plain\r\n\r\nhello",
            "MHTML with neither a multipart body nor an HTML one (a text/plain message)",
        ),
        (
            b"Content-Type: multipart/related\r\n\r\n<html><body>x</body></html>",
            "MHTML whose multipart/related body names no boundary between its parts",
        ),
        (
            _mhtml(PAGE_PART.replace("quoted-printable", "base64").replace("<!DOCTYPE", "!!!!@@@@<!DOCTYPE")),
            "MHTML whose page part is not valid base64",
        ),
        (_mhtml(IMAGE_PART), "MHTML with no HTML part (not a saved web page)"),
        (_mhtml(PAGE_PART)[:900], "MHTML cut short: the file ends inside the page's part"),
    ],
    ids=["not-multipart", "no-boundary", "bad-base64", "no-page", "cut-in-the-page"],
)
def test_a_file_that_holds_no_whole_page_is_refused_saying_why(tmp_path: Path, data: bytes, reason: str) -> None:
    path = tmp_path / "bad.mhtml"
    path.write_bytes(data)
    [ref] = list(find_sources([str(path)]))
    with pytest.raises(Exception, match="^" + reason.replace("(", r"\(").replace(")", r"\)") + "$"):
        load_capture(ref)


def test_a_file_cut_in_an_image_still_gives_its_whole_page(tmp_path: Path) -> None:
    data = _mhtml(PAGE_PART, IMAGE_PART, closed=False)
    cut = data[: data.rindex(b"AAAA")]  # inside the image's base64
    assert _capture(tmp_path / "cut-image.mhtml", cut).content == HTML


@pytest.mark.slow  # two replays
def test_replayed_mhtml_is_archived_byte_for_byte_and_replays_again_from_the_warc(cli: Cli, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "harbour.mhtml").write_bytes(_mhtml(PAGE_PART, IMAGE_PART))
    (inbox / "empty.mhtml").write_bytes(b"")
    (inbox / "cut.mhtml").write_bytes(_mhtml(PAGE_PART)[:900])
    result = cli("replay", str(inbox))
    assert result.code == 1 and "1 captures read, 1 records written, 0 unchanged, 2 failed" in result.out, result.out
    failures = sorted(line.strip() for line in result.err.splitlines() if line.strip().startswith("failed:"))
    assert failures == [
        f"failed: {inbox / 'cut.mhtml'}: MHTML cut short: the file ends inside the page's part",
        f"failed: {inbox / 'empty.mhtml'}: empty capture (no bytes)",
    ]
    [record] = [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
    assert record["canonical_url"] == "https://coast.example/news/harbour-fog"
    assert record["provenance"]["captured_at"] == "2026-11-03T08:15:00Z"
    assert cli("show", record["id"], "--raw", check=True).stdout_bytes == (inbox / "harbour.mhtml").read_bytes()
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout + check.stderr
    # The archive's own WARC file, replayed: the same record (its raw record is the MHTML file).
    again = Cli(cwd=tmp_path, data=tmp_path / "again", db=f"sqlite:///{tmp_path / 'again.sqlite'}")
    again("replay", str(cli.data / "warc"), check=True)
    [copy] = [json.loads(line) for line in again("export", "--format", "jsonl", check=True).out.splitlines()]
    assert (copy["id"], copy["text"], copy["canonical_url"]) == (record["id"], record["text"], record["canonical_url"])


def test_a_folder_of_mhtml_files_is_walked(tmp_path: Path) -> None:
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "harbour.MHTML").write_bytes(_mhtml(PAGE_PART))
    found = list(find_sources([str(tmp_path / "saved")]))
    assert not [f for f in found if isinstance(f, CaptureFailure)]
    assert [(f.kind, f.path.name) for f in found if isinstance(f, SourceRef)] == [("mhtml", "harbour.MHTML")]
