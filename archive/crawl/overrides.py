"""Settings given on the command line (`-s NAME=VALUE`): each of our own read as its type and checked first.

A value that cannot work (not a number, not JSON, a prefix with a "/"), an ARCHIVE_/REPLAY_ name
settings.py does not declare (a typo, with a suggestion), or a setting the CLI sets from an option
of its own is one UsageError naming it, before the run starts; Scrapy's own keys pass through.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.project import get_project_settings

from archive.crawl.netguard import allowed_network
from archive.errors import UsageError

__all__ = ["read_settings"]

_OURS = ("ARCHIVE_", "REPLAY_", "RETRY_")  # those settings.py declares are read as their type and checked
_DECLARED = ("ARCHIVE_", "REPLAY_")  # settings.py declares every one of these: another name is a typo
# Where a run lives and what it continues: the CLI acts on these before the run's settings exist.
_BY_OPTION = {
    "ARCHIVE_DATA_DIR": "--data",
    "ARCHIVE_DB_URL": "--db",
    "ARCHIVE_FRONTIER_URL": "--frontier",
    "ARCHIVE_FRONTIER_NAME": "--frontier-name",
    "ARCHIVE_FRONTIER_DELAY": "--delay",
    "ARCHIVE_FRONTIER_DEFAULT_DELAY": "--delay",
    "ARCHIVE_RESUME_CRAWL": "--resume",
}


def read_settings(given: Mapping[str, Any], defaults: Any = None) -> dict[str, Any]:
    """Return settings given as NAME=VALUE with each of our own read as the type of its default in settings.py.

    UsageError names the first that cannot work: a value that is not of its type (or not one its
    setting takes), an ARCHIVE_/REPLAY_ name settings.py does not declare, or a setting the CLI sets
    from an option of its own. Values that are not text (a caller's own) are kept as they are;
    None is not given.
    """
    if defaults is None:
        os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "settings")
        defaults = get_project_settings()
    ours = {k for k in defaults if k.startswith(_OURS) and defaults.getpriority(k) == SETTINGS_PRIORITIES["project"]}
    found = {}
    for key, value in given.items():
        if value is None:
            continue
        if key in _BY_OPTION:
            raise UsageError(f"-s {key}: set it with {_BY_OPTION[key]}")
        if key.startswith(_DECLARED) and key not in ours:
            close = difflib.get_close_matches(key, sorted(ours), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UsageError(f"-s {key}: no such setting{hint}")
        found[key] = _read(key, value, defaults[key]) if key in ours and isinstance(value, str) else value
    return found


def _read(key: str, text: str, default: Any) -> Any:
    reader = _READERS.get(key) or _BY_TYPE.get(type(default), str)
    try:
        return reader(text)
    except ValueError as exc:
        raise UsageError(f"-s {key}={text}: {exc}") from None


def _whole_number(text: str) -> int:
    if not text.strip().isdecimal():
        raise ValueError("not a whole number (0 or more)")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ValueError("not a number of seconds (0 or more)")
    return value


def _flag(text: str) -> bool:
    value = {"1": True, "true": True, "0": False, "false": False}.get(text.strip().lower())
    if value is None:
        raise ValueError("not true or false (1 or 0)")
    return value


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise ValueError('not a JSON object ({"NAME": "VALUE", ...})')
    return value


def _items(text: str) -> list[str]:
    """Return a list given as a JSON array of strings, or as items separated by commas (as Scrapy's getlist)."""
    if not text.lstrip().startswith("["):
        return [item.strip() for item in text.split(",") if item.strip()]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError('not a list (A,B or ["A", "B"])')
    return value


def _networks(text: str) -> list[str]:
    found = _items(text)
    for cidr in found:
        allowed_network(cidr)
    return found


def _name_part(text: str) -> str:
    if not text or "/" in text or "\x00" in text:
        raise ValueError("not a part of a file name: it names files in DATA/warc (no '/')")
    return text


def _one_of(*choices: str) -> Callable[[str], str]:
    def choice(text: str) -> str:
        if text not in choices:
            raise ValueError(f"not one of {', '.join(choices)}")
        return text

    return choice


def _at_most(high: int) -> Callable[[str], int]:
    def number(text: str) -> int:
        value = _whole_number(text)
        if value > high:
            raise ValueError(f"out of range: 0 to {high:,}")
        return value

    return number


# How a value is read: by the type of the setting's default, unless the setting names its own way.
_BY_TYPE: dict[type, Callable[[str], Any]] = {
    bool: _flag,
    int: _whole_number,
    float: _seconds,
    dict: _json_object,
    list: _items,
}
_READERS: dict[str, Callable[[str], Any]] = {
    "ARCHIVE_RUN_HEARTBEAT": _seconds,  # a whole number in settings.py, but seconds
    "ARCHIVE_JOBS": _at_most(1024),  # as --jobs
    "ARCHIVE_SITE_EVIDENCE": _one_of("off", "text", "all"),
    "ARCHIVE_WARC_PREFIX": _name_part,
    "ARCHIVE_WORKER_ID": _name_part,
    "ARCHIVE_ALLOW_NETWORKS": _networks,
}
