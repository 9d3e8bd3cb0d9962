"""Which callback URLs a webhook source may name: only those under one of its allowed
prefixes (``grader sources add NAME --callback-allow URL-PREFIX``). Nothing else is ever
requested, so a payload cannot make the service call an internal address (SSRF)."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalise(url: str) -> str | None:
    """The URL with a lower-case scheme and host, or None if it is not a plain http(s) URL
    (user info, a missing host, control characters and the like are refused)."""
    if not isinstance(url, str) or len(url) > 2000 or not url.isprintable() or " " in url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower() + (f":{port}" if port is not None else "")
    rest = url.split("://", 1)[1][len(parts.netloc):]
    return f"{parts.scheme.lower()}://{host}{rest or '/'}"


def allowed(url: str, prefixes: list[str]) -> bool:
    """True if ``url`` starts with one of ``prefixes`` (both normalised). A prefix that ends
    without a slash matches only at a path boundary: ``https://lms.example/hooks`` allows
    ``.../hooks`` and ``.../hooks/x`` but not ``.../hooksmith``, nor ``https://lms.example.evil``."""
    target = normalise(url)
    if target is None:
        return False
    for prefix in prefixes:
        base = normalise(prefix)
        if base is None:
            continue
        boundaries = ("",) if base.endswith(("/", "?", "=")) else ("/", "?")
        if target == base or any(target.startswith(base + b) for b in boundaries):
            return True
    return False
