"""Signed tracking tokens and URLs for opens, clicks and unsubscribes (SPEC §6: cannot be forged)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html as htmllib
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from seqflow.channels.errors import InvalidToken

__all__ = [
    "PIXEL_GIF",
    "URL_PATTERN",
    "InvalidToken",
    "click_url",
    "open_pixel_url",
    "rewrite_links",
    "sign",
    "strip_trailing_punctuation",
    "unsubscribe_url",
    "verify",
]

# The smallest transparent 1x1 GIF89a.
PIXEL_GIF: bytes = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

KIND_OPEN = "o"
KIND_CLICK = "c"
KIND_UNSUBSCRIBE = "u"

_HREF = re.compile(r"""(?P<pre>\bhref\s*=\s*)(?P<q>["'])(?P<url>https?://[^"']+)(?P=q)""", re.IGNORECASE)
URL_PATTERN = re.compile(r"https?://[^\s<>\"']+")
_TRAILING_PUNCT = ".,;:!?)]}'\""
_ANCHOR = re.compile(r"<a\s", re.IGNORECASE)


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_COMPACT_SORTED = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # what json.dumps builds on each call


def _b64encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("token is not base64url") from exc


def _mac(secret: bytes, body: str) -> bytes:
    mac = keyed_sha256(secret).copy()
    mac.update(body.encode("ascii"))
    return mac.digest()


@lru_cache(maxsize=16)
def keyed_sha256(secret: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 with `secret` already keyed: `.copy()` it, then `update` (the key is set up once)."""
    return hmac.new(secret, digestmod=hashlib.sha256)


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    """`base64url(json).base64url(hmac_sha256(secret, first part))`, url-safe and unpadded."""
    raw = _COMPACT_SORTED.encode(payload).encode("utf-8")
    body = _b64encode(raw)
    return f"{body}.{_b64encode(_mac(secret, body))}"


def verify(secret: bytes, token: str, kind: str | None = None) -> dict[str, Any]:
    """The payload of a token signed with `secret`; raises InvalidToken otherwise.

    With `kind`, the payload's `k` must match too, so an open token cannot act as an unsubscribe.
    """
    body, sep, mac = token.partition(".")
    if not sep or not body or not body.isascii():
        raise InvalidToken("token is malformed")
    if not hmac.compare_digest(_b64decode(mac), _mac(secret, body)):
        raise InvalidToken("token signature does not match")
    payload = _load_payload(_b64decode(body))
    if kind is not None and payload.get("k") != kind:
        raise InvalidToken(f"token is not of kind {kind!r}")
    return payload


def _load_payload(raw: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise InvalidToken("token payload is not JSON") from exc
    if not isinstance(payload, dict):
        raise InvalidToken("token payload is not an object")
    return payload


def _url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def open_pixel_url(base_url: str, secret: bytes, message_id: str) -> str:
    """`{base}/t/o/{token}.gif`: fetching it records an open of `message_id`."""
    token = sign(secret, {"k": KIND_OPEN, "m": message_id})
    return _url(base_url, f"/t/o/{token}.gif")


def click_url(base_url: str, secret: bytes, message_id: str, target_url: str) -> str:
    """`{base}/t/c/{token}`: records a click of `message_id`, then redirects to `target_url`."""
    token = sign(secret, {"k": KIND_CLICK, "m": message_id, "u": target_url})
    return _url(base_url, f"/t/c/{token}")


def unsubscribe_url(base_url: str, secret: bytes, message_id: str, address: str) -> str:
    """`{base}/t/u/{token}`: puts `address` on the suppression list."""
    token = sign(secret, {"k": KIND_UNSUBSCRIBE, "m": message_id, "a": address})
    return _url(base_url, f"/t/u/{token}")


def rewrite_links(html_or_text: str, make_click_url: Callable[[str], str], *, html: bool | None = None) -> str:
    """Wrap every http(s) link with `make_click_url`.

    HTML (detected by an `<a ` tag unless `html` says) gets its `href` values rewritten, leaving the
    visible text alone; plain text gets its bare URLs rewritten, minus trailing punctuation.
    """
    is_html = bool(_ANCHOR.search(html_or_text)) if html is None else html
    if is_html:
        return _HREF.sub(lambda m: _rewrite_href(m, make_click_url), html_or_text)
    return URL_PATTERN.sub(lambda m: _rewrite_bare(m.group(0), make_click_url), html_or_text)


def _rewrite_href(match: re.Match[str], make_click_url: Callable[[str], str]) -> str:
    target = htmllib.unescape(match.group("url"))
    quote_char = match.group("q")
    return f"{match.group('pre')}{quote_char}{htmllib.escape(make_click_url(target))}{quote_char}"


def strip_trailing_punctuation(url: str) -> str:
    """`https://x.com/a).` -> `https://x.com/a`: prose punctuation is not part of a bare URL."""
    return url.rstrip(_TRAILING_PUNCT)


def _rewrite_bare(url: str, make_click_url: Callable[[str], str]) -> str:
    stripped = strip_trailing_punctuation(url)
    return make_click_url(stripped) + url[len(stripped) :]
