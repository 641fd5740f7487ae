"""URL normalization: one spelling per page, tracking parameters removed."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["is_robots_txt", "lower_case_host", "normalize_url", "redacted", "site_of", "without_password"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
_TRACKING = re.compile(
    r"^(utm_[a-z_]+|fbclid|gclid|gclsrc|dclid|gbraid|wbraid|msclkid|yclid|twclid|igshid"
    r"|mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi|mkt_tok|oly_enc_id|oly_anon_id|vero_id|spm"
    r"|ref_src|ref_url|cmpid|s_cid|wt\.mc_id)$",
    re.IGNORECASE,
)
_SAFE_PATH = "/:@!$&'()*+,;=-._~%"


def is_robots_txt(url: str) -> bool:
    """Return whether `url` is a site's robots.txt (the rules a crawler reads, not a page)."""
    return urlsplit(url).path == "/robots.txt"


def normalize_url(url: str) -> str:
    """Return `url` with lower-case scheme and host, no default port, fragment or tracking."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    host = (parts.hostname or "").rstrip(".")
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii") if host else host
    netloc = _netloc(parts.username, parts.password, host.lower(), parts.port, scheme)
    path = quote(unquote(parts.path), safe=_SAFE_PATH) or "/"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)]
    return urlunsplit((scheme, netloc, path, urlencode(query, quote_via=quote, safe="/:@!$'()*,;~"), ""))


def lower_case_host(url: str) -> str:
    """Return `url` with its scheme and host in lower case (both are case-insensitive), the rest as given."""
    parts = urlsplit(url)
    host = parts.hostname
    if host is None:
        return urlunsplit(parts._replace(scheme=parts.scheme.lower()))
    userinfo, at, hostport = parts.netloc.rpartition("@")
    start = hostport.lower().find(host)  # hostname is the lower-cased host as written (brackets aside)
    netloc = userinfo + at + hostport[:start] + host + hostport[start + len(host) :]
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=netloc))


def redacted(url: str) -> str:
    """Return a URL (a database's, a Redis server's) with its password, if any, shown as `***`.

    A URL urllib cannot split (a bracket left open: `postgresql://u:pw@[::1/db`) has its whole
    user part hidden, since where its password ends is not known.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        scheme, sep, rest = url.partition("://")
        _user, at, host = rest.rpartition("@")
        return f"{scheme}{sep}***@{host}" if at else url
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def without_password(text: str, url: str) -> str:
    """Return `text` (a reason a fetch of `url` failed) with the URL's password, where it shows, as `***`."""
    try:
        password = urlsplit(url).password
    except ValueError:  # a URL urllib cannot split: redacted() hides its whole user part
        return text.replace(url, redacted(url))
    return text.replace(f":{password}@", ":***@") if password else text


def site_of(url: str) -> str | None:
    """Return the site a URL belongs to: its host without a leading `www.`, or None."""
    host = urlsplit(url).hostname
    if not host:
        return None
    return host[4:] if host.startswith("www.") else host


def _netloc(user: str | None, password: str | None, host: str, port: int | None, scheme: str) -> str:
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if user:
        creds = user if password is None else f"{user}:{password}"
        host = f"{creds}@{host}"
    return host
