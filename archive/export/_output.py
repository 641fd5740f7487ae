"""Output files of the exports: a regular file appears whole or not at all; anything else is written into."""

from __future__ import annotations

import io
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from archive.errors import OutputFailed, UsageError

__all__ = ["output_file"]


@contextmanager
def output_file(out: Path, *, text: bool = False, make_parent: bool = False) -> Iterator[IO[Any]]:
    """Yield a handle that writes `out` (text: UTF-8, lines as written), put in place when the block ends.

    A regular file, or a new one, is written beside its place (`.NAME.*.part`), synced, and
    renamed over it: readers see the old file or the new one whole, never a part. Through a
    symbolic link, the file it points at is replaced and the link kept. A device, FIFO or
    socket (`/dev/stdout`, a named pipe) is written into directly, as it cannot be replaced.
    UsageError when `out` cannot be opened: its folder is missing (made when `make_parent`),
    it is a directory, no permission. OutputFailed when writing fails; the temporary file goes.
    """
    target = _target(out, make_parent)
    if target is None:
        with _opening(out):
            descriptor = _descriptor(out)  # this process's own (`/dev/stdout`): written as it is, not opened anew
            sink = _Sink(out if descriptor is None else os.dup(descriptor), out)
        with _wrapped(sink, text) as handle:
            yield handle
        return
    with _opening(out):
        fd, part = _created(target)
    try:
        with _wrapped(_Sink(fd, out), text) as handle:
            yield handle
            handle.flush()
            _synced(fd, out)
        _put_in_place(part, target, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


def _target(out: Path, make_parent: bool) -> Path | None:
    """Return the regular file that `out` names (through a link, the file it points at); None for a special file."""
    try:
        found = out.stat()
    except FileNotFoundError:
        found = None
    except OSError as exc:  # a file where a folder should be, a link loop, a folder not to be searched
        raise _cannot(out, exc) from None
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise UsageError(f"cannot write {out}: Is a directory")
    if found is not None and (not stat.S_ISREG(found.st_mode) or _an_open_file(out)):
        return None
    target = Path(os.path.realpath(out))
    if make_parent:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot(out, exc) from None
    elif not target.parent.is_dir():
        raise UsageError(f"cannot write {out}: No such file or directory")
    return target


def _an_open_file(out: Path) -> bool:
    """Return whether `out` names a file through a process's open descriptors (`/dev/stdout`, `/proc/self/fd/1`).

    Such a name leads to whatever standard output was redirected to (`>> log.txt`): that file is
    written into, as the shell opened it, not replaced.
    """
    return str(out.absolute()).startswith(("/dev/", "/proc/"))


_STANDARD = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}


def _descriptor(out: Path) -> int | None:
    """Return the descriptor of this process that `out` names (/dev/stdout, /dev/fd/N, /proc/self/fd/N), if one.

    Opened anew, it would be truncated (a `>> log.txt` lost what it held) and written from its
    start, under what the process then prints to it.
    """
    name = str(out.absolute())
    if name in _STANDARD:
        return _STANDARD[name]
    for prefix in ("/dev/fd/", "/proc/self/fd/", f"/proc/{os.getpid()}/fd/"):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return int(name[len(prefix) :])
    return None


def _created(target: Path) -> tuple[int, Path]:
    """Open a new temporary file beside `target`, its mode as the umask makes a new file's; return it and its path."""
    while True:
        part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            return os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), part
        except FileExistsError:
            continue


@contextmanager
def _opening(out: Path) -> Iterator[None]:
    """Turn an OSError opening `out` (no permission, a read-only file system) into UsageError naming it."""
    try:
        yield
    except OSError as exc:
        raise _cannot(out, exc) from None


def _wrapped(sink: _Sink, text: bool) -> IO[Any]:
    buffered = io.BufferedWriter(sink)
    return io.TextIOWrapper(buffered, encoding="utf-8", newline="") if text else buffered


def _synced(fd: int, out: Path) -> None:
    try:
        os.fsync(fd)  # the rename must not reach the disk before the bytes it puts in place
    except OSError as exc:
        raise _failed(out, exc) from None


def _put_in_place(part: Path, target: Path, out: Path) -> None:
    """Give the finished temporary file the mode of the file it replaces, if any; then rename it over that file."""
    try:
        if target.exists():
            os.chmod(part, stat.S_IMODE(target.stat().st_mode))
        os.replace(part, target)
    except OSError as exc:
        raise _failed(out, exc) from None


class _Sink(io.FileIO):
    """A file opened for writing whose write failures (a full disk, an I/O error) are OutputFailed naming `out`."""

    def __init__(self, file: int | Path, out: Path) -> None:
        super().__init__(file, "w")
        self.out = out

    def write(self, data: Any) -> int:
        try:
            written: int = super().write(data)
        except BrokenPipeError:  # a reader that went away (`--out >(head)`): as for standard output, not an error
            raise
        except OSError as exc:
            raise _failed(self.out, exc) from None
        return written


def _cannot(out: Path, exc: OSError) -> UsageError:
    return UsageError(f"cannot write {out}: {exc.strerror or exc}")


def _failed(out: Path, exc: OSError) -> OutputFailed:
    return OutputFailed(f"cannot write {out}: {exc.strerror or exc}")
