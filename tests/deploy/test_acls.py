"""The Kafka ACL model (shared/acls.py, derived for the deployed services by
deploy/acls.py into deploy/kafka-acls.json): least privilege, read off the
topic catalogue and the handlers, without a broker."""

from __future__ import annotations

import pytest

from deploy import acls as deployed
from deploy import catalog
from shared import acls
from shared.topics import EVERY_SERVICE, TOPIC_BY_NAME, TOPICS


def test_the_checked_in_model_is_what_the_catalogue_and_the_handlers_give():
    assert deployed.MODEL_FILE.read_text() == deployed.model().to_json(), "run: make manifests"
    assert acls.AclModel.from_json(deployed.MODEL_FILE.read_text()) == acls.AclModel(
        users=dict(deployed.model().users), grants=deployed.model().grants
    )


@pytest.mark.parametrize("service", catalog.names())
def test_a_service_writes_what_it_produces_and_reads_what_it_consumes(service):
    grants = deployed.model().of(acls.service_principal(service))
    writes = {g.name for g in grants if g.operation == "WRITE"}
    reads = {g.name for g in grants if g.resource == "TOPIC" and g.operation == "READ"}
    assert writes == {t.name for t in TOPICS if t.produced_by(service)}
    assert f"dlq.{service}" in writes
    assert reads == set(deployed.consumed_topics(service))
    assert {(g.name, g.operation) for g in grants if g.resource == "GROUP"} == {(service, "READ")}
    described = {g.name for g in grants if g.operation == "DESCRIBE"}
    assert described == writes | reads
    assert {g.pattern for g in grants} == {"LITERAL"}


def test_surveys_writes_survey_topics_reads_events_and_invitations_and_partners_see_counts():
    grants = deployed.model().of("svc-surveys")
    writes = {g.name for g in grants if g.operation == "WRITE"}
    reads = {g.name for g in grants if g.resource == "TOPIC" and g.operation == "READ"}
    public = {"survey.opened", "survey.closed", "survey.results_published"}
    answers = {"internal.person.erasure_completed"}  # every service answers an erasure
    assert writes == public | answers | {"internal.survey.link_issued", "dlq.surveys"}
    assert reads - {"internal.person.erasure_requested"} == {
        *(f"event.{e}" for e in ("created", "updated", "published", "cancelled", "completed")),
        *(
            f"invitation.{i}"
            for i in ("sent", "accepted", "declined", "waitlisted", "revoked", "expired")
        ),
    }  # no other internal topic: it knows no address and no name
    mailer = deployed.model().of("svc-notifications")
    assert ("internal.survey.link_issued", "READ") in {(g.name, g.operation) for g in mailer}
    partner = {g.name for g in acls.partner_grants("acme") if g.resource == "TOPIC"}
    assert {name for name in partner if name.startswith("survey.")} == public
    assert "internal.survey.link_issued" not in partner and "dlq.surveys" not in partner


def test_nobody_but_the_admin_creates_alters_or_touches_the_cluster():
    grants = [*deployed.model().grants, *acls.partner_grants("acme")]
    assert {g.operation for g in grants} <= {"READ", "WRITE", "DESCRIBE"}
    assert {g.resource for g in grants} <= {"TOPIC", "GROUP"}
    assert "admin" not in {g.principal for g in grants}


def test_a_partner_reads_partner_topics_only_and_writes_nothing():
    grants = acls.partner_grants("acme")
    topics = {g.name for g in grants if g.resource == "TOPIC"}
    assert topics == {t.name for t in TOPICS if t.partner_visible}
    assert not any(name.startswith(("internal.", "dlq.")) for name in topics)
    assert "internal.invitation.issued" not in topics and "invitation.accepted" in topics
    assert {g.operation for g in grants} == {"READ", "DESCRIBE"}
    [group] = [g for g in grants if g.resource == "GROUP"]
    assert (group.name, group.pattern, group.principal) == (
        "partner-acme.",
        "PREFIXED",
        "partner-acme",
    )


def test_only_the_producer_of_a_topic_may_write_it():
    writers: dict[str, set[str]] = {}
    for g in deployed.model().grants:
        if g.operation == "WRITE":
            writers.setdefault(g.name, set()).add(g.principal)
    every = {acls.service_principal(service) for service in catalog.names()}
    assert writers == {
        name: every
        if TOPIC_BY_NAME[name].producer == EVERY_SERVICE
        else {acls.service_principal(TOPIC_BY_NAME[name].producer)}
        for name in writers
    }


def test_every_service_answers_erasures_and_only_the_ledger_reads_the_answers():
    """The ledger waits for every service of the catalogue: each consumes the
    request and may write its answer; only the invitations service reads them."""
    for service in catalog.names():
        assert "internal.person.erasure_requested" in deployed.consumed_topics(service)
    readers = {
        g.principal
        for g in deployed.model().grants
        if g.name == "internal.person.erasure_completed" and g.operation == "READ"
    }
    assert readers == {"svc-invitations"}


def test_principal_names_and_topics_are_checked():
    with pytest.raises(ValueError, match="partner name"):
        acls.partner_principal("Acme.Corp")
    with pytest.raises(ValueError, match="not in the topic catalogue"):
        acls.service_grants("events", ["invitation.acceptd"])
