"""Bit rot in closed WARC files: inject byte flips, cut-outs and garbage, run repair, count the intact records kept.

Run it as a test (tests/test_bitrot.py runs a few dozen faults) or alone for many:

    python -m tests.bitrot --faults 500 --seed 1 [--pages 30] [--db postgresql+psycopg://postgres@127.0.0.1:5432/test]

One replay builds an archive (one closed .warc.gz file and its catalog); a plain .warc copy is
made from it by inflating each gzip member (the member's bytes are the record's), with the
catalog's offsets moved to match. Each trial copies one of the two, injects 1-3 faults at
random places of the WARC file (a byte flipped; a span cut out; random bytes, a fake
`WARC/1.1` header or a gzip magic inserted), runs `repair`, and checks every intact record
(one whose bytes no fault touched): present whole at the offset it moved to, its digests
passing, and, when every record of its capture is intact, the capture still in the catalog
with each pointer at it. Then `verify` must be clean (what repair set aside is known, not a
problem), a second repair must find nothing new, and the quarantine must hold each damaged
stretch's bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from archive.catalog.facade import Catalog
from archive.integrity.damage import quarantine_dir, scan_file
from archive.integrity.repair import repair
from archive.integrity.verify import verify
from tests.faults import replay_inputs

__all__ = ["Archive", "BitrotReport", "Harness", "build_archive", "describe", "plain_copy"]

KINDS = ("flip", "cut", "garbage", "fake-warc", "fake-gzip")


@dataclass
class BitrotReport:
    """What a run injected and found; `failures` empty means every check held."""

    faults: int = 0
    trials: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    intact_before: int = 0
    intact_after: int = 0
    lost: int = 0
    captures_kept: int = 0
    captures_damaged: int = 0
    quarantined_bytes: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.faults} faults in {self.trials} trials, {self.seconds:.0f} s: intact records "
            f"{self.intact_before} before, {self.intact_after} after, {self.lost} lost; "
            f"{self.quarantined_bytes} bytes quarantined; {len(self.failures)} failed checks"
        )


@dataclass(frozen=True)
class Rec:
    """A record of the undamaged file: where it is, its bytes, and the capture that names it (if one does)."""

    offset: int
    end: int
    record_id: str
    capture: str | None


@dataclass
class Archive:
    """A built archive to copy: its data folder, SQLite catalog file, the WARC file faults go into, and records.

    The data folder may hold other WARC files (a recrawl's): faults never touch them, so the
    catalog's pointers into them (`elsewhere`) must come through every trial unchanged.
    """

    data: Path
    catalog: Path
    warc: Path
    records: list[Rec]
    rows: dict[str, dict[str, str]]  # capture id -> role -> record id, of the captures in `warc`
    elsewhere: dict[str, dict[str, tuple[str, int, str]]] = field(default_factory=dict)  # as _catalog_rows


def build_archive(work: Path, pages: int) -> Archive:
    """Replay `pages` dev-set pages and the shared text captures into `work` (one closed .warc.gz file)."""
    data, catalog = work / "gz" / "data", work / "gz" / "catalog.sqlite"
    with replay_inputs(work, pages) as inputs:
        command = [sys.executable, "-m", "archive.cli", "replay", str(inputs), "--data", str(data)]
        subprocess.run([*command, "--db", f"sqlite:///{catalog}"], check=True, capture_output=True, timeout=600)
    [warc] = sorted((data / "warc").glob("*.warc.gz"))
    return describe(data, catalog, warc)


def plain_copy(archive: Archive, work: Path) -> Archive:
    """Return an uncompressed copy of `archive`: each gzip member inflated, the catalog's offsets moved to match."""
    data, catalog = work / "plain" / "data", work / "plain" / "catalog.sqlite"
    shutil.copytree(archive.data, data)
    shutil.copy(archive.catalog, catalog)
    old = data / "warc" / archive.warc.name
    new = old.with_name(old.name.removesuffix(".gz"))
    packed = old.read_bytes()
    moved: dict[int, tuple[int, int]] = {}  # gzip offset -> (plain offset, plain length)
    out = bytearray()
    for rec in archive.records:
        record = zlib.decompress(packed[rec.offset : rec.end], 31)
        moved[rec.offset] = (len(out), len(record))
        out += record
    new.write_bytes(bytes(out))
    old.unlink()
    engine = create_engine(f"sqlite:///{catalog}")
    with engine.begin() as connection:
        for before, (offset, length) in moved.items():
            connection.execute(
                text(
                    'UPDATE warc_records SET file = :file, "offset" = :offset, length = :length'
                    ' WHERE file = :packed AND "offset" = :old'
                ),
                {"file": new.name, "offset": offset, "length": length, "packed": old.name, "old": before},
            )
    engine.dispose()
    return describe(data, catalog, new)


def describe(data: Path, catalog: Path, warc: Path) -> Archive:
    """Return an archive built already (a data folder, its SQLite catalog) to inject faults into its file `warc`."""
    rows: dict[str, dict[str, str]] = {}
    owner: dict[str, str] = {}
    elsewhere: dict[str, dict[str, tuple[str, int, str]]] = {}
    engine = create_engine(f"sqlite:///{catalog}")
    with engine.connect() as connection:
        for capture, role, file, offset, record_id in connection.execute(
            text('SELECT capture_id, role, file, "offset", record_id FROM warc_records')
        ):
            if file != warc.name:
                elsewhere.setdefault(capture, {})[role] = (file, offset, record_id)
                continue
            rows.setdefault(capture, {})[role] = record_id
            owner[record_id] = capture
    engine.dispose()
    if set(rows) & set(elsewhere):
        raise RuntimeError("a capture has records in two files: the harness checks one file's captures")
    scan = scan_file(warc)
    if scan.regions:
        raise RuntimeError(f"the undamaged archive is damaged already: {scan.regions}")
    records = [Rec(r.offset, r.end, r.record_id, owner.get(r.record_id)) for r in scan.records]
    return Archive(data, catalog, warc, records, rows, elsewhere)


@dataclass
class Fault:
    kind: str
    at: int  # offset in the undamaged file
    removed: int = 0  # bytes cut out from `at`
    inserted: bytes = b""  # bytes inserted before `at`
    flip: int = 0  # the xor mask of a flipped byte


@dataclass
class Harness:
    """Injects faults into copies of built archives and checks what repair keeps."""

    work: Path
    archives: list[Archive]
    seed: int
    db_url: str | None = None  # PostgreSQL server: each trial's catalog is copied into a schema of its own
    report: BitrotReport = field(default_factory=BitrotReport)

    def run(self, faults: int) -> BitrotReport:
        rng = random.Random(self.seed)
        started = time.monotonic()
        while self.report.faults < faults:
            archive = self.archives[self.report.trials % len(self.archives)]
            self.report.trials += 1
            self._trial(rng, archive, f"trial {self.report.trials} ({archive.warc.suffix})")
        self.report.seconds = time.monotonic() - started
        return self.report

    def _trial(self, rng: random.Random, archive: Archive, name: str) -> None:
        trial = self.work / "trial"
        shutil.rmtree(trial, ignore_errors=True)
        data = trial / "data"
        shutil.copytree(archive.data, data)
        db = self._catalog_copy(archive, trial)
        warc = data / "warc" / archive.warc.name
        original = warc.read_bytes()
        faults = _faults(rng, original, rng.randint(1, 3), archive.warc.name.endswith(".gz"))
        warc.write_bytes(_apply(original, faults))
        self.report.faults += len(faults)
        for fault in faults:
            self.report.by_kind[fault.kind] = self.report.by_kind.get(fault.kind, 0) + 1
        where = f"{name}: " + ", ".join(f"{f.kind}@{f.at}" for f in faults)
        catalog = Catalog(db)
        try:
            done = repair(data, catalog)
            self._check(archive, faults, data, warc, catalog, where)
            self.report.quarantined_bytes += done.quarantined_bytes
            again = repair(data, catalog)
            if again.unmendable or again.quarantined or again.forgotten:
                self.report.failures.append(f"{where}: a second repair found more: {again.unmendable}")
            checked = verify(data, catalog)
            if checked.problems:
                self.report.failures.extend(f"{where}: verify after repair: {p}" for p in checked.problems)
            self._check_quarantine(data, warc, done.quarantined_bytes, where)
        finally:
            catalog.close()
            self._drop(db)

    def _check(
        self, archive: Archive, faults: list[Fault], data: Path, warc: Path, catalog: Catalog, where: str
    ) -> None:
        touched = {r.record_id for r in archive.records if any(_touches(f, r) for f in faults)}
        intact = [r for r in archive.records if r.record_id not in touched]
        self.report.intact_before += len(intact)
        found = {r.record_id: r for r in scan_file(warc).records}  # read whole, digests passing
        moved = _shift(faults)
        kept = 0
        for rec in intact:
            now = found.get(rec.record_id)
            if now is None or now.offset != moved(rec.offset) or now.end - now.offset != rec.end - rec.offset:
                self.report.failures.append(f"{where}: intact record {rec.record_id} at {rec.offset} is lost")
            else:
                kept += 1
        self.report.intact_after += kept
        self.report.lost += len(intact) - kept
        rows = _catalog_rows(catalog)
        there = {(warc.name, r.offset): r.record_id for r in found.values()}
        for capture in sorted(set(archive.elsewhere) - set(rows)):
            self.report.failures.append(f"{where}: capture {capture} in an undamaged file is gone from the catalog")
        for capture, pointers in rows.items():
            if capture in archive.elsewhere:
                if pointers != archive.elsewhere[capture]:
                    self.report.failures.append(f"{where}: capture {capture} in an undamaged file has moved")
                continue
            for role, (file, offset, record_id) in pointers.items():
                if there.get((file, offset)) != record_id:
                    self.report.failures.append(
                        f"{where}: capture {capture} {role} points at {file}@{offset}: not there"
                    )
        offsets = {r.record_id: r.offset for r in archive.records}
        for capture, roles in archive.rows.items():
            if any(record_id in touched for record_id in roles.values()):
                self.report.captures_damaged += 1
                continue
            expected = {role: (warc.name, moved(offsets[r]), r) for role, r in roles.items()}
            if rows.get(capture) != expected:
                self.report.failures.append(
                    f"{where}: intact capture {capture} is not catalogued where its records are"
                )
            else:
                self.report.captures_kept += 1

    def _check_quarantine(self, data: Path, warc: Path, quarantined: int, where: str) -> None:
        folder = quarantine_dir(data)
        held = sum(p.stat().st_size for p in folder.glob("*.bin")) if folder.exists() else 0
        if held != quarantined:
            self.report.failures.append(f"{where}: quarantine holds {held} bytes, repair said {quarantined}")

    def _catalog_copy(self, archive: Archive, trial: Path) -> str:
        target = trial / "catalog.sqlite"
        shutil.copy(archive.catalog, target)
        if self.db_url is None:
            return f"sqlite:///{target}"
        return _into_postgres(target, self.db_url)

    def _drop(self, db: str) -> None:
        if self.db_url is None or "search_path" not in db:
            return
        schema = db.rsplit("%3D", 1)[-1]
        engine = create_engine(self.db_url)
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def _catalog_rows(catalog: Catalog) -> dict[str, dict[str, tuple[str, int, str]]]:
    found: dict[str, dict[str, tuple[str, int, str]]] = {}
    with catalog.engine.connect() as connection:
        for capture, role, file, offset, record_id in connection.execute(
            text('SELECT capture_id, role, file, "offset", record_id FROM warc_records')
        ):
            found.setdefault(capture, {})[role] = (file, offset, record_id)
    return found


def _into_postgres(sqlite_file: Path, server: str) -> str:
    """Copy a SQLite catalog into a fresh schema on the PostgreSQL server (made by the migrations); return its URL."""
    schema = f"bitrot_{time.monotonic_ns()}"
    engine = create_engine(server)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = f"{server}?options=-csearch_path%3D{schema}"
    source, target = Catalog(f"sqlite:///{sqlite_file}"), Catalog(url)
    try:
        target.migrate()
        records = list(source.iter_records())
        target.ensure_crawls(r.provenance.crawl_id for r in records if r.provenance.crawl_id)
        target.add_records(records)
    finally:
        source.close()
        target.close()
    return url


def _faults(rng: random.Random, data: bytes, count: int, gz: bool) -> list[Fault]:
    """Return `count` faults at places far enough apart that no two touch the same bytes."""
    faults: list[Fault] = []
    for _ in range(count * 4):
        if len(faults) == count:
            break
        fault = _fault(rng, data, gz)
        if all(fault.at + fault.removed + 1 < f.at or f.at + f.removed + 1 < fault.at for f in faults):
            faults.append(fault)
    return sorted(faults, key=lambda f: f.at)


def _fault(rng: random.Random, data: bytes, gz: bool) -> Fault:
    kind = rng.choice(KINDS)
    at = rng.randrange(len(data))
    if kind == "flip":
        return Fault(kind, at, removed=1, inserted=bytes([data[at] ^ rng.randint(1, 255)]), flip=1)
    if kind == "cut":
        return Fault(kind, at, removed=min(rng.choice((1, 16, 300, 5000)), len(data) - at))
    if kind == "garbage":
        return Fault(kind, at, inserted=rng.randbytes(rng.randint(1, 400)))
    if kind == "fake-warc":
        head = (
            b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 40\r\n\r\n" if rng.random() < 0.5 else b"WARC/1.1\r\n"
        )
        return Fault(kind, at, inserted=b"\r\n" + head + rng.randbytes(rng.randint(0, 60)))
    member = zlib.compressobj(6, zlib.DEFLATED, 31)
    fake = member.compress(rng.randbytes(rng.randint(0, 40)))
    fake = b"\x1f\x8b\x08" + rng.randbytes(rng.randint(0, 30)) if rng.random() < 0.5 else fake + member.flush()
    return Fault(kind, at, inserted=fake)


def _apply(data: bytes, faults: list[Fault]) -> bytes:
    out = bytearray(data)
    for fault in sorted(faults, key=lambda f: f.at, reverse=True):  # from the end: earlier offsets hold still
        out[fault.at : fault.at + fault.removed] = fault.inserted
    return bytes(out)


def _touches(fault: Fault, rec: Rec) -> bool:
    """Return whether a fault changed any byte of a record (an insertion at its first byte does not)."""
    if fault.removed:
        return fault.at < rec.end and rec.offset < fault.at + fault.removed
    return rec.offset < fault.at < rec.end


def _shift(faults: list[Fault]) -> Callable[[int], int]:
    def moved(offset: int) -> int:
        return offset + sum(len(f.inserted) - f.removed for f in faults if f.at + f.removed <= offset)

    return moved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--db", help="PostgreSQL server URL (default: SQLite files)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bitrot-") as tmp:
        work = Path(tmp)
        packed = build_archive(work, args.pages)
        harness = Harness(work, [packed, plain_copy(packed, work)], args.seed, args.db)
        report = harness.run(args.faults)
    print(json.dumps({**report.__dict__, "summary": report.summary()}, indent=2))
    return 0 if not report.failures else 1


if __name__ == "__main__":
    sys.exit(main())
