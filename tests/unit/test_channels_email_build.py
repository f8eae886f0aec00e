"""Building tracked emails (pure: no server)."""

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, parseaddr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqflow.channels.email import (
    OutgoingEmail,
    Tracking,
    _html_part,
    _text_part,
    build_email,
    date_header,
    text_to_html,
)
from seqflow.channels.message_id import message_id_for
from seqflow.channels.tracking import sign, unsubscribe_url

TRACKING = Tracking(base_url="https://t.example.com", secret=b"s3cret")
NOW = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)


def _build(**overrides: str) -> OutgoingEmail:
    fields = {
        "sender": "Alice <alice@example.com>",
        "to": "ada@example.org",
        "subject": "Hello Ada",
        "text": "Hi Ada,\nsee https://jobs.io/42.\n",
        "idempotency_key": "seq1:c1:intro:0",
    }
    return build_email(**{**fields, **overrides}, tracking=TRACKING, now=NOW)


def _part(msg: OutgoingEmail | EmailMessage, subtype: str) -> str:
    parsed = msg.parsed() if isinstance(msg, OutgoingEmail) else msg
    part = parsed.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")  # the wire form has CRLF lines


def test_headers_carry_alias_recipient_subject_and_derived_message_id() -> None:
    msg = _build().parsed()
    assert (msg["From"], msg["To"], msg["Subject"]) == (
        "Alice <alice@example.com>",
        "ada@example.org",
        "Hello Ada",
    )
    assert msg["Message-ID"] == message_id_for("seq1:c1:intro:0", key=TRACKING.secret)


def test_list_unsubscribe_header_points_at_the_unsubscribe_endpoint() -> None:
    assert _build().parsed()["List-Unsubscribe"].startswith("<https://t.example.com/t/u/")


def test_the_list_unsubscribe_url_is_sent_as_written_not_encoded() -> None:
    msg = _build()
    line = next(x for x in msg.data.split(b"\r\n") if x.startswith(b"List-Unsubscribe:"))
    assert line == f"List-Unsubscribe: {msg.parsed()['List-Unsubscribe']}".encode()
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


# --- the bytes written by hand read back exactly like the message the `email` package builds -------------

CASES = {
    "ascii": {},
    "non-ascii names, subject and body": {
        "sender": "Zoë Æsir <zoe@example.com>",
        "to": "Ådå Łovelace <ada@example.org>",
        "subject": "Grüße aus Köln — 日本語のテキスト",
        "text": "Hallo Ådå,\nsiehe https://jobs.io/42 ✓\n",
    },
    "a display name needing quotes": {"sender": '"Doe, John" <john@example.com>', "to": "Ada (work) <ada@example.org>"},
    "long lines": {
        "subject": "word " * 300,
        "sender": f"{'Long Name ' * 120}<alice@example.com>",
        "text": "x" * 1500 + "\n" + "ü" * 700 + "\n",
    },
    "lines starting with a dot or From": {"text": ".\n.hidden\nFrom here on\n..\n"},
    "tabs, spaces and lone carriage returns": {"subject": "a\tb  c ", "text": "one\rtwo\r\nthree  \n\tfour"},
}


def _reference(fields: dict[str, str]) -> EmailMessage:
    """The message as the `email` package builds it (what build_email returned before it wrote bytes)."""
    message_id = message_id_for(fields["idempotency_key"], key=TRACKING.secret)
    unsubscribe = unsubscribe_url(TRACKING.base_url, TRACKING.secret, message_id, fields["to"])
    msg = EmailMessage(policy=policy.default.clone(max_line_length=998))
    for name, value in (("From", fields["sender"]), ("To", fields["to"]), ("Subject", fields["subject"]),
                        ("Message-ID", message_id), ("Date", format_datetime(NOW)),
                        ("List-Unsubscribe", f"<{unsubscribe}>"),
                        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")):  # fmt: skip
        msg[name] = value
    msg.set_content(_text_part(fields["text"], unsubscribe))
    msg.add_alternative(_html_part(text_to_html(fields["text"]), TRACKING, message_id, unsubscribe), subtype="html")
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def _fields(**overrides: str) -> dict[str, str]:
    base = {"sender": "Alice <alice@example.com>", "to": "ada@example.org", "subject": "Hello Ada",
            "text": "Hi Ada,\nsee https://jobs.io/42.\n", "idempotency_key": "seq1:c1:intro:0"}  # fmt: skip
    return {**base, **overrides}


def _assert_same_message(got: EmailMessage, want: EmailMessage) -> None:
    for name in ("From", "To", "Subject", "Message-ID", "Date", "List-Unsubscribe", "List-Unsubscribe-Post",
                 "MIME-Version"):  # fmt: skip
        assert got.get_all(name) == want.get_all(name), name
    assert got.get_content_type() == want.get_content_type() == "multipart/alternative"
    got_parts, want_parts = list(got.iter_parts()), list(want.iter_parts())
    assert [p.get_content_type() for p in got_parts] == [p.get_content_type() for p in want_parts]
    assert [p.get_content_type() for p in got_parts] == ["text/plain", "text/html"]
    for g, w in zip(got_parts, want_parts, strict=True):
        assert g.get_content_charset() == w.get_content_charset() == "utf-8"
        assert _lf(g.get_content()) == _lf(w.get_content())
    assert not got.defects and all(not p.defects for p in got_parts)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


def _assert_wire_form(data: bytes) -> None:
    lines = data.split(b"\r\n")
    assert lines[-1] == b"" and all(b"\r" not in x and b"\n" not in x for x in lines)  # CRLF lines only
    assert max(len(x) for x in lines) <= 998
    head = data.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() or b"=?" in head


@pytest.mark.parametrize("case", CASES)
def test_the_built_bytes_parse_to_the_same_headers_and_parts_as_the_email_package_message(case: str) -> None:
    fields = _fields(**CASES[case])
    built = build_email(**fields, tracking=TRACKING, now=NOW)
    _assert_wire_form(built.data)
    _assert_same_message(built.parsed(), _reference(fields))
    assert built.message_id == message_id_for(fields["idempotency_key"], key=TRACKING.secret)
    assert built.parsed()["Message-ID"] == built.message_id


def test_non_ascii_header_text_is_sent_as_encoded_words_and_bodies_as_quoted_printable() -> None:
    built = build_email(**_fields(**CASES["non-ascii names, subject and body"]), tracking=TRACKING, now=NOW)
    head, _, body = built.data.partition(b"\r\n\r\n")
    assert head.isascii() and b"Subject: =?utf-8?b?" in head and b"From: =?utf-8?b?" in head
    assert body.isascii() and b"Content-Transfer-Encoding: quoted-printable" in body


def test_text_that_looks_like_an_encoded_word_reads_back_literally() -> None:
    # (the `email` package wrote it as it is, so it read back as "Hi literally")
    built = build_email(**_fields(subject="=?utf-8?b?SGk=?= literally"), tracking=TRACKING, now=NOW)
    assert built.parsed()["Subject"] == "=?utf-8?b?SGk=?= literally"


def test_the_envelope_carries_the_bare_addresses() -> None:
    built = build_email(**_fields(sender='"Doe, John" <john@example.com>', to="Ada <ada@example.org>"),
                        tracking=TRACKING, now=NOW)  # fmt: skip
    assert (built.sender, built.recipient, built.utf8) == ("john@example.com", "ada@example.org", False)


@pytest.mark.parametrize("field", ["sender", "to", "subject"])
@pytest.mark.parametrize("value", ["x@example.org\r\nBcc: eve@example.org", "Hi\nBcc: eve@example.org", "Hi\r"])
def test_a_line_break_in_a_header_value_can_never_add_a_header(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        build_email(**_fields(**{field: value}), tracking=TRACKING, now=NOW)


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=200),
    name=st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40),
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
)
def test_any_subject_name_and_body_read_back_as_written(subject: str, name: str, text: str) -> None:
    sender = formataddr((name.strip(), "alice@example.com"))
    built = build_email(**_fields(subject=subject, sender=sender, text=text), tracking=TRACKING, now=NOW)
    _assert_wire_form(built.data)
    parsed = built.parsed()
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == parseaddr(sender)[0]
    assert _part(built, "plain") == _lf(_text_part(text, parsed["List-Unsubscribe"][1:-1]).replace("\r", "\n"))


@pytest.mark.parametrize(
    "now",
    [datetime(2025, 3, 4, 9, 30, 59, 999999, tzinfo=UTC), datetime(2025, 3, 4, 9, 31, tzinfo=UTC),
     datetime(2025, 3, 4, 11, 30, 59, tzinfo=timezone(timedelta(hours=2))),
     datetime(2025, 3, 4, 9, 30, 59)],  # noqa: DTZ001 - a naive one too (format_datetime writes -0000)
)  # fmt: skip
def test_the_date_header_is_format_datetime_of_the_instant_in_its_zone(now: datetime) -> None:
    for same_second in (now, now.replace(microsecond=0), now.replace(microsecond=1)):  # one cache entry, three hits
        assert date_header(same_second) == format_datetime(same_second)
        assert _build_at(same_second).parsed()["Date"] == format_datetime(same_second)


def _build_at(now: datetime) -> OutgoingEmail:
    return build_email(sender="a@example.com", to="b@example.org", subject="s", text="t", idempotency_key="k",
                       tracking=TRACKING, now=now)  # fmt: skip


def test_tracking_tokens_and_message_ids_are_the_plain_hmac_sha256_of_their_text() -> None:
    import hashlib
    import hmac

    token = sign(b"s3cret", {"a": "ädå@example.org", "m": "<x@y>", "k": "u"})
    body, _, mac = token.partition(".")
    want = base64.urlsafe_b64encode(hmac.new(b"s3cret", body.encode(), hashlib.sha256).digest()).rstrip(b"=")
    assert mac.encode() == want
    payload = {"m": "<x@y>", "k": "u", "a": "ädå@example.org"}
    assert base64.urlsafe_b64decode(body + "==") == json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    digest = hmac.new(b"s3cret", b"seqflow message-id\x00seq1:c1:intro:0", hashlib.sha256).hexdigest()
    assert message_id_for("seq1:c1:intro:0", key=b"s3cret") == f"<{digest[:32]}@seqflow.local>"
