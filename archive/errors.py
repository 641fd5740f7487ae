"""The one error tree: what the archive reports to its user, each with the exit status the CLI gives it.

Raise these where things go wrong, with a one-line message that names the input and the reason;
`archive.cli.main` alone turns them into `error: MESSAGE` on stderr and the exit status.
Per-capture problems in a batch (a malformed file, a capture that fails extraction) are not
raised this far: they are counted, reported on one line each, and the batch goes on.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["ArchiveError", "NotFound", "OutputFailed", "UsageError"]


class ArchiveError(Exception):
    """Something the archive cannot do as asked; its message is one line: the input, then the reason."""

    exit_status: ClassVar[int] = 2


class UsageError(ArchiveError):
    """A command was given options or values that cannot work (a usage mistake, not a fault)."""


class NotFound(ArchiveError):
    """What was asked for is not in the archive (a record, a run, a WARC file)."""

    exit_status = 1


class OutputFailed(ArchiveError):
    """Writing an output file failed part way (a full disk, an I/O error); no partial file was left behind."""

    exit_status = 1
