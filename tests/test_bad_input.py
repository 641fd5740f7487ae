"""Bad input: one clear line per input naming it and the reason; the batch goes on; WARC and catalog stay sound.

The first two tests read one replay of the bad batch (made once for the module, SQLite).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archive.warc.reader import read_payload
from scraper import WarcLocation
from tests.conftest import PROJECT_SEEDS, Cli, Result, warc_files, warcio_check

SEED_WARC = PROJECT_SEEDS / "warc" / "eastside-dispatch.warc.gz"
GOOD_TEXT = PROJECT_SEEDS / "text" / "ferry-strike.txt"
GOOD_HTML = PROJECT_SEEDS / "html" / "harbor-lighthouse.html"


def _offsets(path: Path) -> list[tuple[int, str]]:
    with path.open("rb") as fh:
        it = ArchiveIterator(fh)
        return [(it.get_record_offset(), r.rec_type) for r in it]


def _batch(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """Return (directory, {file name: expected reason}) holding good and bad captures."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "good.txt").write_bytes(GOOD_TEXT.read_bytes())
    (inbox / "good.html").write_bytes(GOOD_HTML.read_bytes())
    (inbox / "empty.txt").write_bytes(b"")
    (inbox / "empty.warc.gz").write_bytes(b"")
    (inbox / "blank.txt").write_bytes(b"  \n\n \t\n")
    rng = random.Random(7)
    (inbox / "junk.txt").write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    # Random bytes named as a plain WARC: warcio's error quotes their first line, bytes and all.
    (inbox / "junk.warc").write_bytes(bytes(rng.randrange(256) for _ in range(3000)))
    (inbox / "nul.html").write_bytes(b"<html>\x00\x00\x00" * 200)
    (inbox / "no-text.html").write_bytes(
        b"<html><head><title></title><script>var a = 1;</script><style>p{}</style></head>"
        b"<body><img src='a.png'><div></div></body></html>"
    )
    (inbox / "broken.html.gz").write_bytes(gzip.compress(GOOD_HTML.read_bytes())[:-40])
    (inbox / "huge.txt").write_bytes(b"word " * 300_000)
    # A WARC cut inside its second response record: the first response survives.
    offsets = _offsets(SEED_WARC)
    second_response = [o for o, kind in offsets if kind == "response"][1]
    (inbox / "cut.warc.gz").write_bytes(SEED_WARC.read_bytes()[: second_response + 200])
    # A WARC whose second response has garbage in the middle of its gzip member.
    data = bytearray(SEED_WARC.read_bytes())
    data[second_response + 60 : second_response + 120] = b"\x00" * 60
    (inbox / "corrupt.warc.gz").write_bytes(bytes(data))
    reasons = {
        "empty.txt": "empty capture (no bytes)",
        "empty.warc.gz": "empty file (no records)",
        "blank.txt": "empty capture (only whitespace)",
        "junk.txt": "undecodable: no text encoding fits these bytes",
        "nul.html": "binary content, not text",
        "no-text.html": "no main text found in the HTML",
        "broken.html.gz": "corrupt gzip data: truncated stream",
        "huge.txt": "too large: 1500000 bytes, over the 1000000-byte limit",
        "cut.warc.gz": "corrupt or truncated WARC",
        "junk.warc": "unreadable record: unknown archive format (not a WARC record header)",
        "corrupt.warc.gz": "corrupt or truncated WARC",
    }
    return inbox, reasons


def _failure_lines(err: str) -> list[str]:
    return [line.strip() for line in err.splitlines() if line.strip().startswith("failed:")]


@dataclass
class Replayed:
    cli: Cli
    result: Result
    inbox: Path
    reasons: dict[str, str]
    empty_dir: Path
    missing: Path
    pdf: Path


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """Replay the batch of good and bad captures, and three inputs that are no capture, once."""
    tmp_path = tmp_path_factory.mktemp("bad-input")
    cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    inbox, reasons = _batch(tmp_path)
    empty_dir = cli.cwd / "nothing-here"
    empty_dir.mkdir()
    (empty_dir / "notes.md").write_text("not a capture")
    missing = cli.cwd / "no-such-file.txt"
    pdf = cli.cwd / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    result = cli("replay", str(inbox), str(empty_dir), str(missing), str(pdf), "--max-capture-bytes", "1000000")
    return Replayed(cli, result, inbox, reasons, empty_dir, missing, pdf)


def test_every_bad_input_is_named_once_and_the_batch_completes(replayed: Replayed) -> None:
    result, inbox, reasons = replayed.result, replayed.inbox, replayed.reasons
    empty_dir, missing, pdf = replayed.empty_dir, replayed.missing, replayed.pdf

    assert result.code == 1
    lines = _failure_lines(result.err)
    expected = {**{str(inbox / name): reason for name, reason in reasons.items()}}
    expected[str(empty_dir)] = "directory holds no captures"
    expected[str(missing)] = "no such file or directory"
    expected[str(pdf)] = "unsupported file type '.pdf'"
    for source, reason in expected.items():
        matching = [line for line in lines if f" {source}" in line]
        assert len(matching) == 1, (source, lines)
        assert reason in matching[0], (source, matching[0])
    assert len(lines) == len(expected)
    assert all(len(line) < 300 and line.isprintable() for line in lines), lines  # no input bytes quoted
    # good.txt, good.html, and the intact first response of each damaged WARC: the same
    # bytes from the same URL in both, so the second copy is unchanged.
    assert "4 captures read, 3 records written, 1 unchanged" in result.out
    assert f"{len(expected)} failed" in result.out


def test_after_bad_input_warc_passes_check_and_catalog_points_at_real_records(replayed: Replayed) -> None:
    cli = replayed.cli  # the batch replayed (with the inputs that are no capture: they add nothing)
    check = warcio_check(warc_files(cli.data))
    assert check.returncode == 0, check.stdout
    records = [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
    # Three with text; and the three inputs with bytes that no text came from, archived raw all the same.
    no_text = {r["source_url"].rsplit("/", 1)[1]: r["provenance"]["no_text"] for r in records if r["text"] == ""}
    assert no_text == {name: replayed.reasons[name] for name in ("junk.txt", "nul.html", "no-text.html")}
    assert len(records) == 6
    for record in records:
        prov = record["provenance"]
        for role in ("raw", "conversion", "metadata"):
            location = WarcLocation(**prov[f"warc_{role}"])
            payload = read_payload(cli.data / "warc", location)  # raises if the id is not there
            assert payload or (role == "conversion" and prov["no_text"]), (record["id"], role)
        if prov["http_status"] is None:  # file captures keep their bytes as they were
            raw = read_payload(cli.data / "warc", WarcLocation(**prov["warc_raw"]))
            assert hashlib.sha256(raw).hexdigest() == record["payload_sha256"]


@pytest.mark.slow
def test_damaged_utf8_and_legacy_encodings_still_replay(cli: Cli, tmp_path: Path) -> None:
    inbox = tmp_path / "enc"
    inbox.mkdir()
    text = GOOD_TEXT.read_bytes()
    cut = text.index(b"holidaymakers")
    (inbox / "damaged.txt").write_bytes(text[:cut] + b"\xff\xfe" + text[cut:])
    german = "Die Ausgabestelle in der Lindenstraße muss schließen, sagte die Vorsitzende am Dienstag in München. " * 3
    (inbox / "legacy.txt").write_bytes(("Tafel sucht Räume\n\n" + german + "\n").encode("cp1252"))
    cli("replay", str(inbox), check=True)
    records = {Path(r["provenance"]["source_location"]).name: r for r in _export(cli)}
    assert "holidaymakers" in records["damaged.txt"]["text"]
    assert records["damaged.txt"]["provenance"]["encoding"] == "utf-8 (2 bad bytes replaced)"
    assert "Lindenstraße muss schließen" in records["legacy.txt"]["text"]


def _export(cli: Cli) -> list[dict]:
    return [json.loads(line) for line in cli("export", "--format", "jsonl", check=True).out.splitlines()]
