"""Signed tracking tokens and link rewriting (SPEC §6: opens and clicks cannot be forged)."""

import pytest

from seqflow.channels.tracking import (
    PIXEL_GIF,
    InvalidToken,
    click_url,
    open_pixel_url,
    rewrite_links,
    sign,
    unsubscribe_url,
    verify,
)

SECRET = b"test-secret"
BASE = "https://t.example.com/"


def _token(url: str, prefix: str, suffix: str = "") -> str:
    assert url.startswith(prefix) and url.endswith(suffix)
    return url[len(prefix) : len(url) - len(suffix)]


def test_a_signed_token_round_trips_its_payload() -> None:
    payload = {"k": "c", "m": "<abc@seqflow.local>", "u": "https://x.io/a?b=1&c=ü"}
    assert verify(SECRET, sign(SECRET, payload)) == payload


def test_tokens_are_url_safe_without_padding() -> None:
    token = sign(SECRET, {"m": "<x@y>", "u": "https://x.io/?a=b"})
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert token.count(".") == 1


def test_a_tampered_payload_is_rejected() -> None:
    mac = sign(SECRET, {"k": "u", "a": "alice@example.com"}).split(".")[1]
    forged = sign(SECRET, {"k": "u", "a": "bob@example.com"}).split(".")[0]
    with pytest.raises(InvalidToken):
        verify(SECRET, f"{forged}.{mac}")


def test_a_flipped_signature_character_is_rejected() -> None:
    token = sign(SECRET, {"k": "o", "m": "<x@y>"})
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    with pytest.raises(InvalidToken):
        verify(SECRET, flipped)


def test_a_token_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        verify(SECRET, sign(b"attacker", {"k": "o", "m": "<x@y>"}))


@pytest.mark.parametrize("garbage", ["", "no-dot", ".", "abc.", ".abc", "!!!.???", "ü.ü"])
def test_malformed_tokens_are_rejected(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        verify(SECRET, garbage)


def test_a_token_of_the_wrong_kind_is_rejected() -> None:
    open_token = _token(open_pixel_url(BASE, SECRET, "<m@x>"), "https://t.example.com/t/o/", ".gif")
    with pytest.raises(InvalidToken):
        verify(SECRET, open_token, kind="u")


def test_open_pixel_url_carries_a_verifiable_message_id() -> None:
    token = _token(open_pixel_url(BASE, SECRET, "<m@x>"), "https://t.example.com/t/o/", ".gif")
    assert verify(SECRET, token, kind="o")["m"] == "<m@x>"


def test_click_url_carries_message_id_and_target() -> None:
    token = _token(click_url(BASE, SECRET, "<m@x>", "https://jobs.io/1"), "https://t.example.com/t/c/")
    assert verify(SECRET, token, kind="c") == {"k": "c", "m": "<m@x>", "u": "https://jobs.io/1"}


def test_unsubscribe_url_carries_the_address() -> None:
    url = unsubscribe_url(BASE, SECRET, "<m@x>", "a@b.io")
    assert verify(SECRET, _token(url, "https://t.example.com/t/u/"), kind="u")["a"] == "a@b.io"


def test_pixel_is_a_gif() -> None:
    assert PIXEL_GIF.startswith(b"GIF89a") and len(PIXEL_GIF) < 64


def test_plain_text_links_are_wrapped_and_trailing_punctuation_kept_outside() -> None:
    text = "See https://jobs.io/1. Or (http://x.io/a?b=c), not ftp://no.io"
    out = rewrite_links(text, lambda u: f"[{u}]")
    assert out == "See [https://jobs.io/1]. Or ([http://x.io/a?b=c]), not ftp://no.io"


def test_html_hrefs_are_wrapped_but_visible_text_is_not() -> None:
    html = "<a href=\"https://jobs.io/?a=1&amp;b=2\">https://jobs.io</a> <a href='http://x.io'>x</a>"
    out = rewrite_links(html, lambda u: f"T({u})")
    assert out == "<a href=\"T(https://jobs.io/?a=1&amp;b=2)\">https://jobs.io</a> <a href='T(http://x.io)'>x</a>"


def test_non_http_hrefs_are_left_alone() -> None:
    html = '<a href="mailto:a@b.io">mail</a><a href="#top">top</a>'
    assert rewrite_links(html, lambda u: "X") == html
