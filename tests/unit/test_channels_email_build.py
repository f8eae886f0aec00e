"""Building tracked emails (pure: no server)."""

from datetime import UTC, datetime
from email.message import EmailMessage

from seqflow.channels.email import Tracking, build_email, text_to_html
from seqflow.channels.message_id import message_id_for

TRACKING = Tracking(base_url="https://t.example.com", secret=b"s3cret")
NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def _build(**overrides: str) -> EmailMessage:
    fields = {
        "sender": "Alice <alice@example.com>",
        "to": "ada@example.org",
        "subject": "Hello Ada",
        "text": "Hi Ada,\nsee https://jobs.io/42.\n",
        "idempotency_key": "seq1:c1:intro:0",
    }
    return build_email(**{**fields, **overrides}, tracking=TRACKING, now=NOW)


def _part(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_headers_carry_alias_recipient_subject_and_derived_message_id() -> None:
    msg = _build()
    assert (msg["From"], msg["To"], msg["Subject"]) == (
        "Alice <alice@example.com>",
        "ada@example.org",
        "Hello Ada",
    )
    assert msg["Message-ID"] == message_id_for("seq1:c1:intro:0", key=TRACKING.secret)


def test_list_unsubscribe_header_points_at_the_unsubscribe_endpoint() -> None:
    assert _build()["List-Unsubscribe"].startswith("<https://t.example.com/t/u/")


def test_the_list_unsubscribe_url_is_sent_as_written_not_encoded() -> None:
    msg = _build()
    line = next(x for x in msg.as_bytes().split(b"\n") if x.startswith(b"List-Unsubscribe:"))
    assert line == f"List-Unsubscribe: {msg['List-Unsubscribe']}".encode()
    assert line.startswith(b"List-Unsubscribe: <https://t.example.com/t/u/") and b"=?" not in line


def test_html_part_has_pixel_tracked_link_and_unsubscribe_link() -> None:
    html = _part(_build(), "html")
    assert 'src="https://t.example.com/t/o/' in html and ".gif" in html
    assert 'href="https://t.example.com/t/c/' in html
    assert 'href="https://t.example.com/t/u/' in html
    assert 'href="https://jobs.io/42"' not in html


def test_plain_part_keeps_readable_links_and_an_unsubscribe_line() -> None:
    text = _part(_build(), "plain")
    assert "https://jobs.io/42." in text and "Unsubscribe: https://t.example.com/t/u/" in text


def test_given_html_gets_the_footer_inside_its_body() -> None:
    html = _part(_build(html='<html><body><a href="https://x.io">x</a></body></html>'), "html")
    assert html.count("<body>") == 1 and html.index("/t/o/") < html.index("</body>")


def test_text_to_html_escapes_and_links() -> None:
    assert text_to_html("a < b\nhttps://x.io/?a=1&b=2.") == (
        'a &lt; b<br>\n<a href="https://x.io/?a=1&amp;b=2">https://x.io/?a=1&amp;b=2</a>.'
    )
