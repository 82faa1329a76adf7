from datetime import UTC, datetime

import pytest

from shared.config import Env, common_settings
from shared.context import TraceContext, child_traceparent
from shared.envelope import MalformedRecord, decode, encode
from shared.errors import PreconditionFailed, PreconditionRequired
from shared.http import check_if_match, client_key, parse_sort
from shared.problems import Problem
from shared.topics import TOPIC_NAMES, require_topic


def _record(**overrides):
    args = {
        "ce_id": "id-1",
        "topic": "event.created",
        "source": "/mlp/events",
        "subject": "evt-1",
        "key": "evt-1",
        "time": datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
        "data": {"event_id": "evt-1", "title": "Peer review"},
        "trace": TraceContext("corr-1", "cause-1", child_traceparent(None)),
    }
    args.update(overrides)
    return encode(**args)


def test_binary_mode_headers_and_key():
    record = _record()
    headers = dict(record.headers)
    assert record.key == b"evt-1"
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_type"] == b"event.created"
    assert headers["ce_source"] == b"/mlp/events"
    assert headers["ce_subject"] == b"evt-1"
    assert headers["ce_time"] == b"2026-11-23T12:00:00Z"
    assert headers["content-type"] == b"application/json"
    assert headers["ce_correlationid"] == b"corr-1"
    assert headers["ce_causationid"] == b"cause-1"
    assert headers["traceparent"] == headers["ce_traceparent"]
    assert "ce_partitionkey" not in headers


def test_decode_round_trip_and_trace_continues():
    record = _record()
    envelope = decode(record.key, record.value, record.headers)
    assert envelope.id == "id-1"
    assert envelope.data["title"] == "Peer review"
    trace = envelope.trace()
    assert trace.correlation_id == "corr-1"
    assert trace.causation_id == "id-1"
    assert trace.traceparent.split("-")[1] == envelope.traceparent.split("-")[1]


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        (b'{"a": 1}', []),
        (b"{not json", None),
        (b"[1, 2]", None),
    ],
)
def test_malformed_records_are_refused(value, headers):
    good = _record()
    with pytest.raises(MalformedRecord):
        decode(good.key, value, good.headers if headers is None else headers)


def test_topic_catalogue_refuses_typos():
    assert "event.created" in TOPIC_NAMES
    assert require_topic("event.created") == "event.created"
    with pytest.raises(ValueError, match="catalogue"):
        require_topic("event.create")


def test_parse_sort_adds_a_tiebreaker_and_refuses_unknown_fields():
    assert parse_sort("-starts_on", {"starts_on": "starts_on"}, "starts_on") == [
        ("starts_on", -1),
        ("_id", -1),
    ]
    with pytest.raises(Problem) as caught:
        parse_sort("password", {"starts_on": "starts_on"}, "starts_on")
    assert caught.value.status == 422


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # the same /64
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),  # the next /64 is another client
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:203.0.113.9", "203.0.113.9"),  # an IPv4 client on a dual-stack socket
        ("not-an-address", "not-an-address"),
        (None, "unknown"),
    ],
)
def test_rate_limits_count_ipv4_addresses_and_ipv6_64_prefixes(address, key):
    assert client_key(address) == key


def test_trusted_proxies_is_a_hop_count():
    assert common_settings(Env({}), "events", 8001)["trusted_proxies"] == 0
    assert (
        common_settings(Env({"MLP_TRUSTED_PROXIES": "2"}), "events", 8001)["trusted_proxies"] == 2
    )
    for bad in ("-1", "yes"):
        with pytest.raises(SystemExit, match="MLP_TRUSTED_PROXIES"):
            common_settings(Env({"MLP_TRUSTED_PROXIES": bad}), "events", 8001)


def test_if_match_when_required_must_name_a_version():
    check_if_match(3, None)  # not required: the last writer wins
    check_if_match(3, "*")
    check_if_match(3, '"3"', required=True)
    check_if_match(3, 'W/"3", "4"', required=True)
    for missing in (None, "", "*", " * "):
        with pytest.raises(PreconditionRequired):
            check_if_match(3, missing, required=True)
    with pytest.raises(PreconditionFailed):  # '*' does not stand in for the version seen
        check_if_match(3, '*, "2"', required=True)
    with pytest.raises(PreconditionFailed):
        check_if_match(3, '"2"')
