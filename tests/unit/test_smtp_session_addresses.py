"""The SMTP session's address quoting agrees with aiosmtplib's for every address (the plain-address shortcut too)."""

from aiosmtplib.email import quote_address
from hypothesis import given, settings
from hypothesis import strategies as st

from seqflow.channels.smtp_session import quoted

PLAIN = st.from_regex(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,12}@[A-Za-z0-9.-]{1,12}", fullmatch=True)


@given(PLAIN | st.text(max_size=30) | st.emails())
@settings(max_examples=500, deadline=None)
def test_an_address_is_quoted_as_aiosmtplib_quotes_it(address: str) -> None:
    try:
        want: str | type[ValueError] = quote_address(address)
    except ValueError:
        want = ValueError
    try:
        got: str | type[ValueError] = quoted(address)
    except ValueError:
        got = ValueError
    assert got == want
