"""PostgreSQL text-search configurations by document language (ISO 639-1 codes)."""

from __future__ import annotations

__all__ = ["CONFIGS", "config_case"]

# Snowball configurations PostgreSQL ships; other languages (and none) use 'simple'.
CONFIGS = {
    "da": "danish",
    "de": "german",
    "en": "english",
    "es": "spanish",
    "fi": "finnish",
    "fr": "french",
    "hu": "hungarian",
    "it": "italian",
    "nl": "dutch",
    "no": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sv": "swedish",
    "tr": "turkish",
}


def config_case(column: str = "language") -> str:
    """Return SQL choosing the configuration for a row's language: a CASE over constants (immutable)."""
    arms = " ".join(f"WHEN '{code}' THEN '{name}'::regconfig" for code, name in sorted(CONFIGS.items()))
    return f"(CASE {column} {arms} ELSE 'simple'::regconfig END)"
