"""Files on disk as replay finds them: walks and globs that never loop, reads that never block or overrun.

Everything here answers with the path found or with a `Refusal` saying why not, in words
for the one line the user reads; nothing raises for a path that is merely bad.
"""

from __future__ import annotations

import errno
import fnmatch
import glob
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from urllib.parse import quote

__all__ = [
    "NAME_SAFE",
    "Refusal",
    "escaped_name",
    "expand",
    "open_regular",
    "os_reason",
    "read_bounded",
    "regular_file",
    "walk",
]

# What stays as it is in a percent-encoded name (RFC 3986 pchar and "/"): everything else is %XX of its bytes.
NAME_SAFE = "/:@!$&'()*+,;=-._~"
_SPECIAL = (
    (stat.S_ISFIFO, "FIFO"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISSOCK, "socket"),
)


@dataclass(frozen=True, slots=True)
class Refusal:
    """A path found that will not be read, and why."""

    path: Path
    reason: str


def escaped_name(name: str) -> str:
    """Return `name` as text any catalog or header takes: itself, or percent-encoded if it has undecodable bytes.

    A file name is bytes; Python gives the bytes UTF-8 does not decode as lone surrogates
    (os.fsdecode), which UTF-8 output refuses. Such a name is written as the percent-encoding
    of its raw bytes, `%` included, as its `urn:file:` URI is: unquote_to_bytes gives it back.
    """
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return quote(os.fsencode(name), safe=NAME_SAFE)
    return name


def expand(given: str) -> Iterator[Path | Refusal]:
    """Yield what `given` names: itself if it is there (or at least a link), else what it matches as a glob.

    Globs follow `glob.glob(recursive=True)`, sorted, except that `**` never enters a symbolic
    link to a directory: it reports it instead (a link to an ancestor would recur for ever).
    """
    try:
        os.lstat(given)
    except FileNotFoundError:
        pass
    except OSError:
        yield Path(given)  # there, but unreachable: reading it says why
        return
    else:
        yield Path(given)
        return
    if not glob.has_magic(given):
        return
    pure = PurePath(given)
    start = pure.anchor or ""
    parts = pure.parts[1:] if pure.anchor else pure.parts
    matches: dict[str, None] = {}
    refusals: list[Refusal] = []
    for found in _glob(start, tuple(parts)):
        if isinstance(found, Refusal):
            refusals.append(found)
        else:
            matches.setdefault(found)
    yield from sorted(Path(m) for m in matches)
    yield from refusals


def _glob(directory: str, parts: tuple[str, ...]) -> Iterator[str | Refusal]:
    if not parts:
        yield directory
        return
    part, rest = parts[0], parts[1:]
    if part == "**":
        yield from _glob_recursive(directory, rest, set())
    elif not glob.has_magic(part):
        path = os.path.join(directory, part)
        if os.path.lexists(path) and (not rest or os.path.isdir(path)):
            yield from _glob(path, rest)
    else:
        refused: list[Refusal] = []
        for entry in _entries(directory, refused):
            shown = part.startswith(".") or not entry.name.startswith(".")  # glob's rule for hidden names
            if shown and fnmatch.fnmatchcase(entry.name, part) and (not rest or _is_dir(entry)):
                yield from _glob(entry.path, rest)
        yield from refused


def _glob_recursive(directory: str, rest: tuple[str, ...], seen: set[tuple[int, int]]) -> Iterator[str | Refusal]:
    """Match `rest` in `directory` and every directory below it, never through a directory symlink."""
    if rest:
        yield from _glob(directory, rest)
    elif directory:
        yield directory
    refused: list[Refusal] = []
    for entry in _entries(directory, refused):
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            problem = _link_problem(entry.path)
            if problem:
                refused.append(Refusal(Path(entry.path), problem))
            elif not rest:
                yield entry.path  # a link to a file is matched as a file
            continue
        if entry.is_dir(follow_symlinks=False):
            key = _key(entry.stat(follow_symlinks=False))
            if key not in seen:  # a bind mount can loop without a link
                seen.add(key)
                yield from _glob_recursive(entry.path, rest, seen)
        elif not rest:
            yield entry.path
    yield from refused


def _entries(directory: str, refused: list[Refusal]) -> list[os.DirEntry[str]]:
    """Return a directory's entries by name; an unreadable one is noted in `refused`."""
    try:
        with os.scandir(directory or ".") as found:
            return sorted(found, key=lambda entry: entry.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        refused.append(Refusal(Path(directory or "."), os_reason(exc, "directory")))
        return []


def walk(root: Path, wanted: Callable[[str], bool]) -> Iterator[Path | Refusal]:
    """Yield the files under `root` whose names are `wanted`, sorted, then what could not be walked.

    Hidden files and folders are left out. Symbolic links to files are read; links to
    directories are not followed (a link to an ancestor loops, one elsewhere leaves the tree)
    and each is reported, as is every folder that cannot be read.
    """
    files: list[Path] = []
    refused: list[Refusal] = []
    pending = [root]
    while pending:
        directory = pending.pop()
        for entry in _entries(str(directory), refused):
            path = Path(entry.path)
            if entry.name.startswith("."):
                continue
            if entry.is_symlink():
                problem = _link_problem(entry.path)
                if problem:
                    refused.append(Refusal(path, problem))
                elif wanted(entry.name):
                    files.append(path)
            elif entry.is_dir(follow_symlinks=False):
                pending.append(path)
            elif wanted(entry.name):
                files.append(path)
    yield from sorted(files)
    yield from sorted(refused, key=lambda refusal: refusal.path)


def _link_problem(link: str) -> str | None:
    """Return why a symbolic link in a walk is not followed: a loop, or a link to a directory; None for a file."""
    try:
        target = os.stat(link)
    except OSError as exc:
        return "symlink loop" if exc.errno == errno.ELOOP else None  # broken: reading it says so
    if not stat.S_ISDIR(target.st_mode):
        return None
    try:
        folder = Path(link).parent.resolve()
        ancestors = {_key(os.stat(p)) for p in [folder, *folder.parents]}
    except OSError:
        ancestors = set()
    if _key(target) in ancestors:
        return "symlink loop: links to a folder it is in, not followed"
    return "symbolic link to a directory, not followed (give its target to replay it)"


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _key(found: os.stat_result) -> tuple[int, int]:
    return found.st_dev, found.st_ino


def regular_file(path: Path) -> os.stat_result | str:
    """Return the file's status if it is a regular file one may read, else why not (nothing is opened)."""
    try:
        found = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT and os.path.islink(path):
            return "broken symbolic link (its target does not exist)"
        return os_reason(exc)
    return _not_regular(found.st_mode) or found


def _not_regular(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    kind = next((name for test, name in _SPECIAL if test(mode)), "special file")
    return f"not a regular file ({kind})"


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Return an open descriptor and status of the regular file at `path`; OSError with the reason otherwise.

    Opened without blocking (a FIFO put in place after the walk would wait for a writer) and
    checked again once open, so what is read is what was checked.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    found = os.fstat(fd)
    problem = _not_regular(found.st_mode)
    if problem:
        os.close(fd)
        raise OSError(errno.EINVAL, problem)
    return fd, found


def read_bounded(path: Path, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """Return a regular file's bytes and status; OSError when it cannot be read, ValueError when over `max_bytes`.

    The limit holds on the bytes read (at most max_bytes + 1), not on the size the file
    reports: a file may grow while read.
    """
    fd, found = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        if found.st_size > max_bytes:
            raise ValueError(f"too large: {found.st_size} bytes, over the {max_bytes}-byte limit")
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"too large: over the {max_bytes}-byte limit (the file grew while read)")
    return data, found


def os_reason(exc: OSError, what: str = "") -> str:
    """Return why the system refused a path (a `what`: "directory"), as a failure line says it.

    "unreadable: permission denied", "unreadable directory: permission denied", "symlink loop".
    """
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    text = exc.strerror or str(exc)
    text = text[:1].lower() + text[1:]
    if exc.errno in (errno.EACCES, errno.EPERM) or what:
        return f"unreadable {what}: {text}" if what else f"unreadable: {text}"
    return text
