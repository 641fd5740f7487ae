"""What spiders hand to the archive pipeline."""

from __future__ import annotations

from dataclasses import dataclass

from archive.sources import CaptureFailure, SkippedRecord
from scraper import Capture, Record

__all__ = ["ArchiveItem", "CaptureFailure", "SkippedRecord"]


@dataclass(frozen=True, slots=True)
class ArchiveItem:
    """A capture and the record built from it, ready to archive."""

    capture: Capture
    record: Record
