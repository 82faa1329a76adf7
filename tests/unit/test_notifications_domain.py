"""Rules of the notifications service without I/O: templates, iCalendar, the
SSRF guard, webhook signatures, keys and backoff, unsubscribe tokens, which
SMTP answers are final."""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from icalendar import Calendar
from standardwebhooks.webhooks import Webhook

from services.notifications import domain, mail, smtp
from services.notifications.config import load_settings

EVENT = {
    "title": "Skills forecasting",
    "starts_on": "2027-03-10",
    "ends_on": "2027-03-11",
    "timezone": "Europe/Tallinn",
    "venue": {"city": "Tallinn", "country": "EE", "online": False},
}


@pytest.mark.parametrize("template", sorted(domain.TEMPLATES))
@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_every_template_renders_in_every_language(template, language):
    rendered = mail.render(
        template,
        language,
        {
            "name": "Ana",
            "event": EVENT,
            "rsvp_url": "https://mlp.example/v1/rsvp/t",
            "deadline": "2027-02-20T15:00:00+00:00",
            "document": {"title": "Host country paper", "kind": "host_country_paper"},
            "changed": ["starts_on"],
            "kind": "comments paper",
            "due_on": "2027-03-01",
        },
        unsubscribe_url="https://mlp.example/u",
    )
    assert rendered.language == language
    assert rendered.subject and "\n" not in rendered.subject
    assert "Ana" in rendered.text and "<p>" in rendered.html
    assert "https://mlp.example/u" in rendered.text


def test_unknown_languages_fall_back_to_english_and_html_is_escaped():
    rendered = mail.render("invitation", "et", {"name": "<b>Ana</b>", "event": EVENT})
    assert rendered.language == "en"
    assert rendered.subject.startswith("Please reply")
    assert "<b>Ana</b>" not in rendered.html and "&lt;b&gt;Ana&lt;/b&gt;" in rendered.html
    assert mail.render("accepted", "fr-BE", {"event": EVENT}).language == "fr"


def test_subjects_say_what_is_expected():
    deadline = "2027-02-20T15:00:00+00:00"
    subject = mail.render("invitation", "en", {"event": EVENT, "deadline": deadline}).subject
    assert subject.startswith("Please reply by 20 February 2027:")
    assert "no action needed" in mail.render("accepted", "en", {"event": EVENT}).subject
    assert (
        "remove it from your calendar" in mail.render("cancelled", "en", {"event": EVENT}).subject
    )


# The case: the secretariat set 23:59 in Tallinn, stored as 21:59 UTC.
TALLINN_DEADLINE = "2027-02-20T21:59:00+00:00"
LOCALISED = {
    "en": ("23:59 (Eastern European Standard Time, GMT+02:00)", "10–11 March 2027", "Estonia"),
    "fr": ("23:59 (heure normale d’Europe de l’Est, UTC+02:00)", "10–11 mars 2027", "Estonie"),
    "de": ("23:59 (Osteuropäische Normalzeit, GMT+02:00)", "10.–11. März 2027", "Estland"),
}


@pytest.mark.parametrize("language", ["en", "fr", "de"])
@pytest.mark.parametrize("template", ["invitation", "invitation_reminder"])
def test_the_deadline_reads_in_the_events_zone_and_the_readers_language(template, language):
    moment, days, country = LOCALISED[language]
    context = {"name": "Ana", "event": EVENT, "deadline": TALLINN_DEADLINE}
    rendered = mail.render(template, language, context)
    assert moment in rendered.text and moment in rendered.html.replace("&#39;", "'")
    assert f"Tallinn, {country}" in rendered.text and days in rendered.text
    assert "21:59" not in rendered.text and "UTC+00:00" not in rendered.text
    assert "2027-02-20" not in rendered.subject and "20" in rendered.subject


@pytest.mark.parametrize("language", ["en", "fr", "de"])
def test_every_mail_names_the_country_and_writes_dates_out(language):
    _, days, country = LOCALISED[language]
    for template in sorted(domain.TEMPLATES):
        context = {"name": "Ana", "event": EVENT, "due_on": "2027-03-01", "changed": ["venue"]}
        text = mail.render(template, language, context).text
        assert "EE" not in text.replace("EEST", ""), template
        assert "Europe/Tallinn" not in text and "2027-03-1" not in text, template
        if "Tallinn" in text:
            assert f"Tallinn, {country}" in text, template
    tomorrow = mail.render("starts_tomorrow", language, {"event": EVENT}).text
    assert {"en": "Wednesday, 10 March 2027", "fr": "mercredi 10 mars 2027"}.get(
        language, "Mittwoch, 10. März 2027"
    ) in tomorrow
    changed = mail.render("changed", language, {"event": EVENT, "changed": ["timezone"]}).text
    assert days in changed
    assert {"en": "Eastern European Time", "fr": "heure d’Europe de l’Est"}.get(
        language, "Osteuropäische Zeit"
    ) in changed
    reminder = mail.render("document_reminder", language, {"event": EVENT, "due_on": "2027-03-01"})
    assert {"en": "1 March 2027", "fr": "1 mars 2027", "de": "1. März 2027"}[language] in (
        reminder.subject
    )


def test_the_calendar_location_names_the_country_in_the_readers_language():
    raw = mail.calendar(
        method="REQUEST",
        uid="e1.i1@mlp-ops",
        sequence=1,
        event=EVENT,
        attendee_email="ana@example.ee",
        attendee_name="Ana",
        organizer="no-reply@mlp.example",
        language="fr",
    )
    [vevent] = Calendar.from_ical(raw).walk("VEVENT")
    assert str(vevent["LOCATION"]) == "Tallinn, Estonie"


@pytest.mark.parametrize("method,sequence", [("REQUEST", 0), ("REQUEST", 4), ("CANCEL", 5)])
def test_icalendar_parses_with_uid_sequence_and_method(method, sequence):
    raw = mail.calendar(
        method=method,
        uid="e1.i1@mlp-ops",
        sequence=sequence,
        event=EVENT,
        attendee_email="ana@example.ee",
        attendee_name="Ana",
        organizer="no-reply@mlp.example",
    )
    cal = Calendar.from_ical(raw)
    assert str(cal["METHOD"]) == method
    [vevent] = cal.walk("VEVENT")
    assert str(vevent["UID"]) == "e1.i1@mlp-ops"
    assert int(vevent["SEQUENCE"]) == sequence
    assert vevent.decoded("DTSTART").isoformat() == "2027-03-10"
    assert vevent.decoded("DTEND").isoformat() == "2027-03-12"  # exclusive end of all-day
    assert str(vevent["STATUS"]) == ("CANCELLED" if method == "CANCEL" else "CONFIRMED")


def test_the_message_carries_the_derived_message_id_template_and_unsubscribe_headers():
    key = domain.idempotency_key("ce-1", "Ana@Example.EE", "papers_available")
    assert key == domain.idempotency_key("ce-1", "ana@example.ee", "papers_available")
    assert key != domain.idempotency_key("ce-2", "ana@example.ee", "papers_available")
    rendered = mail.render("papers_available", "en", {"event": EVENT})
    raw = mail.build_message(
        rendered=rendered,
        sender="MLP <n@x>",
        recipient="ana@example.ee",
        recipient_name="Ana",
        message_id=domain.message_id(key),
        unsubscribe_url="https://mlp.example/" + "u" * 150,
    )
    text = raw.decode()
    assert f"Message-ID: {domain.message_id(key)}\r\n" in text
    assert "X-MLP-Template: papers_available\r\n" in text
    assert "List-Unsubscribe: <https://mlp.example/" + "u" * 150 + ">\r\n" in text
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in text


def _resolver(*addresses: str):
    def resolve(host, port, **_):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    return resolve


@pytest.mark.parametrize(
    "url,addresses",
    [
        ("http://169.254.169.254/latest/meta-data", ("169.254.169.254",)),
        ("http://10.0.0.1/hook", ("10.0.0.1",)),
        ("http://partner.example/hook", ("192.168.1.5",)),
        ("http://partner.example/hook", ("93.184.216.34", "172.16.0.9")),
        ("http://localhost.partner.example/hook", ("127.0.0.1",)),  # outside development
        ("http://[::1]/hook", ("::1",)),
        ("http://multi.example/hook", ("224.0.0.1",)),
        ("http://zero.example/hook", ("0.0.0.0",)),
        ("http://mapped.example/hook", ("::ffff:169.254.169.254",)),
    ],
)
def test_ssrf_guard_refuses_non_public_addresses(url, addresses):
    with pytest.raises(domain.UnsafeTarget):
        domain.check_target(url, allow_loopback=False, resolve=_resolver(*addresses))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://partner.example/x", "gopher://x", "http://", "hook"]
)
def test_ssrf_guard_refuses_other_schemes(url):
    with pytest.raises(domain.UnsafeTarget):
        domain.check_target(url, allow_loopback=True, resolve=_resolver("93.184.216.34"))


def test_ssrf_guard_allows_public_and_loopback_only_when_allowed():
    target = domain.check_target(
        "https://partner.example/h", allow_loopback=False, resolve=_resolver("93.184.216.34")
    )
    assert target.addresses == ("93.184.216.34",)
    domain.check_target("http://127.0.0.1:9/h", allow_loopback=True, resolve=_resolver("127.0.0.1"))
    with pytest.raises(domain.UnsafeTarget):  # metadata stays refused even then
        domain.check_target(
            "http://169.254.169.254/", allow_loopback=True, resolve=_resolver("169.254.169.254")
        )
    with pytest.raises(domain.UnsafeTarget):
        domain.check_target(
            "http://user:pw@partner.example/",
            allow_loopback=False,
            resolve=_resolver("93.184.216.34"),
        )


@pytest.mark.parametrize(
    "url,addresses",
    [
        ("http://[2002:7f00:1::]/x", ("2002:7f00:1::",)),  # 6to4 of 127.0.0.1
        ("http://sixtofour.example/x", ("2002:5db8:d822::",)),  # 6to4, even of a public one
        ("http://site-local.example/x", ("fec0::1",)),
        ("http://nat64.example/x", ("64:ff9b::7f00:1",)),
    ],
)
def test_ssrf_guard_refuses_ipv6_ranges_that_lead_elsewhere(url, addresses):
    with pytest.raises(domain.UnsafeTarget):
        domain.check_target(url, allow_loopback=False, resolve=_resolver(*addresses))


def test_ssrf_guard_allows_only_the_listed_ports_except_to_loopback_in_development():
    public = _resolver("93.184.216.34")
    for url in ("http://93.184.216.34:27017/x", "https://partner.example:22/x"):
        with pytest.raises(domain.UnsafeTarget, match="Port"):
            domain.check_target(url, allow_loopback=True, resolve=public)
    for port in (80, 443, 8080, 8443):
        domain.check_target(
            f"http://partner.example:{port}/x", allow_loopback=False, resolve=public
        )
    target = domain.check_target(
        "http://partner.example:9000/x?a=1",
        allow_loopback=False,
        ports=frozenset({9000}),
        resolve=public,
    )
    assert (target.port, target.netloc, target.path) == (9000, "partner.example:9000", "/x?a=1")
    # Local receivers listen on ephemeral ports: loopback, where allowed, on any port.
    loopback = _resolver("127.0.0.1")
    domain.check_target("http://127.0.0.1:54321/h", allow_loopback=True, resolve=loopback)
    with pytest.raises(domain.UnsafeTarget):
        domain.check_target("http://127.0.0.1:54321/h", allow_loopback=False, resolve=loopback)


def test_a_refusal_does_not_tell_what_the_name_resolved_to():
    for address in ("10.20.30.40", "127.0.0.1", "fd00::7"):
        with pytest.raises(domain.UnsafeTarget) as caught:
            domain.check_target(
                "http://inside.partner.example/x", allow_loopback=False, resolve=_resolver(address)
            )
        assert address not in str(caught.value)
        assert "inside.partner.example" in str(caught.value)


def test_signature_is_the_standard_webhooks_algorithm():
    secret = domain.new_webhook_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    ts = int(datetime.now(UTC).timestamp())
    body = '{"type":"event.published","timestamp":"t","data":{"a":1}}'
    signature = domain.sign(secret, "msg_1", ts, body)
    expected = hmac.new(base64.b64decode(secret[6:]), f"msg_1.{ts}.{body}".encode(), hashlib.sha256)
    assert signature == "v1," + base64.b64encode(expected.digest()).decode()
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts), "webhook-signature": signature}
    assert Webhook(secret).verify(body, headers)["data"] == {"a": 1}


def test_webhook_backoff_grows_then_dead_letters_at_the_horizon():
    start = datetime(2027, 1, 1, tzinfo=UTC)
    first = domain.next_webhook_attempt(1, start, start, 86400)
    second = domain.next_webhook_attempt(2, start, start, 86400)
    assert first - start == timedelta(seconds=2) and second - start == timedelta(seconds=10)
    assert domain.next_webhook_attempt(3, start, start + timedelta(hours=24), 86400) is None
    assert domain.next_mail_attempt(1, start) - start == timedelta(seconds=5)
    assert domain.next_mail_attempt(50, start) - start == timedelta(seconds=600)  # never gives up


def test_unsubscribe_tokens_are_signed():
    token = domain.unsubscribe_token(["secret"], "Ana@Example.EE")
    assert domain.read_unsubscribe_token(["secret"], token) == domain.email_hash("ana@example.ee")
    assert domain.read_unsubscribe_token(["other"], token) is None
    assert domain.read_unsubscribe_token(["secret"], token[:-2] + "xx") is None


def test_unsubscribe_keys_rotate_the_first_signs_and_every_one_verifies():
    old = domain.unsubscribe_token(["old"], "ana@example.ee")
    new = domain.unsubscribe_token(["new", "old"], "ana@example.ee")
    assert new != old  # signed with the new key
    assert domain.read_unsubscribe_token(["new"], new) == domain.email_hash("ana@example.ee")
    assert domain.read_unsubscribe_token(["new", "old"], old) == domain.email_hash("ana@example.ee")
    assert domain.read_unsubscribe_token(["new"], old) is None  # once the old key is dropped


def test_tomorrow_is_counted_where_the_event_takes_place():
    late_evening_utc = datetime(2027, 3, 8, 23, 30, tzinfo=UTC)  # already 9 March in Tallinn
    assert domain.tomorrow_in("Europe/Tallinn", late_evening_utc) == "2027-03-10"
    assert domain.tomorrow_in("UTC", late_evening_utc) == "2027-03-09"


def test_the_sender_is_the_bare_address_of_mail_from():
    assert domain.bare_address("MLP Ops <no-reply@mlp-ops.local>") == "no-reply@mlp-ops.local"
    assert domain.bare_address("no-reply@mlp-ops.local") == "no-reply@mlp-ops.local"
    assert domain.bare_address('"Ops, EU" <ops@mlp.example>') == "ops@mlp.example"


@pytest.mark.parametrize("value", ["a@x.eu, b@x.eu", "nobody", "MLP <a@x.eu>\nBcc: b@x.eu"])
def test_mail_from_must_be_one_mailbox_or_the_process_does_not_start(value):
    with pytest.raises(SystemExit, match="MLP_MAIL_FROM"):
        load_settings({"MLP_MAIL_FROM": value})


def _to_header(name: str, address: str = "ana@example.ee") -> list[tuple[str, str]]:
    raw = mail.build_message(
        rendered=mail.render("cancelled", "en", {"event": EVENT}),
        sender="MLP Ops <no-reply@mlp-ops.local>",
        recipient=address,
        recipient_name=name,
        message_id="<k@mlp-ops.local>",
    )
    message = message_from_bytes(raw, policy=default_policy)
    return [(a.display_name, a.addr_spec) for a in message["To"].addresses]


@pytest.mark.parametrize(
    "name,shown",
    [
        ("Smith, John <boss@evil.example>", "Smith, John <boss@evil.example>"),
        ('Ana "the boss" Lee', 'Ana "the boss" Lee'),
        ("Ana\u2028Bcc: spy@evil.example", "Ana Bcc: spy@evil.example"),
        ("Ana\r\nBcc: spy@evil.example", "Ana Bcc: spy@evil.example"),
        ("Ana\x85Lee\x0c", "Ana Lee"),
        ("Zoë O'Brien", "Zoë O'Brien"),
    ],
)
def test_a_name_never_adds_a_recipient_or_a_header(name, shown):
    assert _to_header(name) == [(shown, "ana@example.ee")]


@pytest.mark.parametrize(
    "address",
    ["not an address", "jürgen@example.de", "ana@bücher.de", "a@", "@x.eu", "a@b.eu\r\nBcc: c@d"],
)
def test_an_address_no_header_can_hold_is_unbuildable(address):
    with pytest.raises(mail.Unbuildable):
        _to_header("Ana", address)


def test_only_5xx_smtp_answers_fail_a_mail_for_good():
    refused = smtplib.SMTPRecipientsRefused({"a@x.ee": (550, b"no such user")})
    greylisted = smtplib.SMTPRecipientsRefused({"a@x.ee": (450, b"try later")})
    assert smtp.permanent(refused) and smtp.permanent(smtplib.SMTPDataError(554, b"refused"))
    assert not smtp.permanent(greylisted)
    assert not smtp.permanent(smtplib.SMTPServerDisconnected("gone"))
    assert not smtp.permanent(ConnectionRefusedError())
