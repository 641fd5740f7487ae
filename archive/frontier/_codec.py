"""Scrapy requests as JSON for the shared frontier (bytes tagged and base64-encoded): nothing is unpickled."""

from __future__ import annotations

import base64
import json
from typing import Any

__all__ = ["RequestCodec"]


class RequestCodec:
    """Scrapy request dicts as JSON for the frontier: bytes (headers, bodies) tagged and base64-encoded.

    Used instead of scrapy-redis's default pickle: nothing read from a shared server is unpickled.
    """

    @staticmethod
    def dumps(obj: Any) -> bytes:
        return json.dumps(_tagged(obj), separators=(",", ":"), sort_keys=True).encode("utf-8")

    @staticmethod
    def loads(data: bytes | str) -> Any:
        return _untagged(json.loads(data))


def _tagged(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"$b": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _tagged(v) for k, v in value.items()}
        return {"$d": [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [_tagged(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} into the frontier")


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b"}:
            return base64.b64decode(value["$b"])
        if set(value) == {"$d"}:
            return {_untagged(k): _untagged(v) for k, v in value["$d"]}
        return {k: _untagged(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    return value
