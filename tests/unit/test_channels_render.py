"""Merge fields in subjects and bodies."""

from seqflow.channels.render import render

CONTACT = {
    "first_name": "Ada",
    "last_name": "Lovelace",
    "company": "Analytical & Co",
    "custom": {"stack": "Python", "years": 7},
}
USER = {"name": "Alice Recruiter", "email": "alice@example.com"}


def test_contact_fields_are_substituted() -> None:
    assert render("Hi {{first_name}} {{last_name}}", CONTACT, USER) == "Hi Ada Lovelace"


def test_whitespace_inside_braces_is_allowed() -> None:
    assert render("Hi {{ first_name }}!", CONTACT, USER) == "Hi Ada!"


def test_custom_fields_resolve_from_the_custom_dict() -> None:
    assert render("{{custom.stack}} for {{ custom.years }} years", CONTACT, USER) == "Python for 7 years"


def test_user_fields_resolve_from_the_user() -> None:
    assert render("{{user.name}} <{{user.email}}>", CONTACT, USER) == "Alice Recruiter <alice@example.com>"


def test_unknown_fields_render_empty() -> None:
    assert render("[{{nickname}}|{{custom.nope}}|{{user.phone}}|{{user}}]", CONTACT, USER) == "[|||]"


def test_user_fields_render_empty_without_a_user() -> None:
    assert render("from {{user.name}}", CONTACT, None) == "from "


def test_html_mode_escapes_values_but_not_the_template() -> None:
    assert render("<b>{{company}}</b>", CONTACT, USER, html=True) == "<b>Analytical &amp; Co</b>"


def test_text_without_fields_is_unchanged() -> None:
    assert render("Hello {single} braces }}", CONTACT, USER) == "Hello {single} braces }}"
