"""The operator console in a real browser (Debian's headless Chromium) against
the notifications app and an in-process worker on the session's Kafka and
Mongo-wire server: the sign-in page refuses a token without the ops role,
shows a record the worker dead-lettered (its handler poisoned), and a redrive
through the page, once the cause is fixed, delivers it: the worker handles it
now. axe-core finds no WCAG level A nor AA violation on the pages."""

from __future__ import annotations

import uuid
from dataclasses import replace

from selenium.webdriver.common.by import By

from devkit import browser
from devkit.auth import token
from devkit.kafka import Producer
from devkit.samples import event_payload
from services.notifications.handlers import subscriptions
from shared.dlq import RedriveLog, Selection, pending_dead_letters
from tests.fixtures.browser import checked, navigate
from tests.fixtures.notifications import InProcessWorker
from tests.helpers import wait_for

TOPIC = "event.published"
POISON = "the read model is not ready"


def sign_in(driver, base: str, jwt: str) -> None:
    driver.get(f"{base}/ops/login?lang=en")
    field = driver.find_element(By.ID, "f-token")
    field.send_keys(jwt)
    navigate(driver, lambda: field.submit(), "/ops")


def test_the_console_redrives_a_dead_letter_once_its_cause_is_fixed(
    chromium, serve, notifications_app, notifications_settings, kafka, monkeypatch
):
    fine = subscriptions.by_topic[TOPIC]
    tag = uuid.uuid4().hex[:8]

    def poisoned(message, ctx, session):
        raise RuntimeError(f"{POISON} ({tag})")

    monkeypatch.setitem(subscriptions.by_topic, TOPIC, replace(fine, handler=poisoned))
    worker = InProcessWorker(notifications_settings, kafka.bootstrap).start()
    ctx = notifications_app.extensions["mlp"]
    try:
        event_id = str(uuid.uuid4())
        producer = Producer(kafka.bootstrap)
        ce_id = producer.send(TOPIC, event_payload(event_id), key=event_id)
        producer.close()
        log = RedriveLog(ctx.db)
        [letter] = wait_for(
            lambda: (
                pending_dead_letters(
                    notifications_settings, "notifications", log, Selection(error=tag)
                ).records
            ),
            timeout_s=60,
        )
        assert letter.header("ce_id") == ce_id
        assert ctx.store.event(event_id) is None

        base = serve(notifications_app)
        chromium.get(f"{base}/ops?lang=en")  # to the sign-in page
        assert "Operator sign-in" in chromium.title and "/ops/login" in chromium.current_url
        checked(chromium, "sign-in")

        sign_in(chromium, base, token("secretariat"))
        assert "ops role only" in chromium.find_element(By.TAG_NAME, "main").text
        assert [e for e in browser.console_errors(chromium) if "403" in e]  # the refusal

        sign_in(chromium, base, token("ops", sub="night-operator"))
        row = chromium.find_element(By.CSS_SELECTOR, f'tr[data-record="{letter.id}"]')
        assert ce_id in row.text and POISON in row.text and TOPIC in row.text
        assert "Mail queue" in chromium.page_source
        checked(chromium, "console")

        # The cause is fixed (a deployed handler): redrive the record from the page.
        monkeypatch.setitem(subscriptions.by_topic, TOPIC, fine)
        button = row.find_element(By.CSS_SELECTOR, "button[name=one]")
        navigate(chromium, button.click, "/ops/dlq/redrive")
        result = chromium.find_element(By.ID, "result").text
        assert "Redriven: 1." in result and letter.id in result
        wait_for(lambda: ctx.store.event(event_id), timeout_s=60)
        audit = chromium.find_element(By.ID, "audit").text
        assert "night-operator" in audit and letter.id in audit
        assert not chromium.find_elements(By.CSS_SELECTOR, f'tr[data-record="{letter.id}"]')
        checked(chromium, "after the redrive")

        chromium.get(f"{base}/ops?lang=fr")
        assert "Console d'exploitation" in chromium.find_element(By.TAG_NAME, "h1").text
    finally:
        worker.close()
