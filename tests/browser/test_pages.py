"""The pages people open from a mail in a real browser: Debian's headless
Chromium (Selenium through chromedriver) against the invitations and
notifications apps served on loopback ports (real Mongo-wire server): the RSVP
page, open registration's confirmation and cancellation pages, the unsubscribe
page, the participant survey and the page of a link that cannot be used. Each is read in English,
French and German: the event's dates, the deadline in the event's time zone
(named, with its offset) and the countries by name. axe-core finds no WCAG
level A (nor AA) violation, nothing logs a console error, the keyboard reaches
the skip link first and sees where it is, and a phone-sized window needs no
sideways scrolling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from babel.dates import format_date

from services.notifications import domain as notifications_domain
from tests.fixtures.browser import checked, click, navigate, speak
from tests.fixtures.invitations import (
    SEC,
    cancel_links,
    confirm_links,
    invitee,
    issued_links,
    registrant,
    token_of,
)
from tests.fixtures.surveys import completed_event, links
from tests.fixtures.surveys import token_of as survey_token

# The Tallinn event: a deadline the secretariat set at 23:59 local time.
TALLINN = {
    "starts_on": "2030-03-10",
    "ends_on": "2030-03-11",
    "registration_deadline": "2030-02-20T21:59:00+00:00",
    "timezone": "Europe/Tallinn",
}
SEEN = {
    "en": {
        "title": "Your invitation",
        "dates": "10–11 March 2030",
        "deadline": "Wednesday, 20 February 2030 at 23:59 (Eastern European Standard Time, "
        "GMT+02:00)",
        "venue": "Tallinn, Estonia",
        "host": "Estonia",
        "guests": "Latvia, Finland and Portugal",
        "accept": "Accept",
        "thanks": "Thank you, your answer is recorded",
        "status": "accepted",
        "unsubscribe": "Reminders and paper notices",
        "confirm_title": "Confirm your registration",
        "confirm": "Confirm my registration",
        "confirmed": "Thank you, your registration is confirmed",
        "cancel": "Cancel my registration",
        "cancelled": "Your registration is cancelled",
        "since": "You opted out on {date}.",
    },
    "fr": {
        "title": "Votre invitation",
        "dates": "10–11 mars 2030",
        "deadline": "mercredi 20 février 2030 à 23:59 (heure normale d’Europe de l’Est, UTC+02:00)",
        "venue": "Tallinn, Estonie",
        "host": "Estonie",
        "guests": "Lettonie, Finlande et Portugal",
        "accept": "Accepter",
        "thanks": "Merci, votre réponse est enregistrée",
        "status": "acceptée",
        "unsubscribe": "Rappels et avis de documents",
        "confirm_title": "Confirmez votre inscription",
        "confirm": "Confirmer mon inscription",
        "confirmed": "Merci, votre inscription est confirmée",
        "cancel": "Annuler mon inscription",
        "cancelled": "Votre inscription est annulée",
        "since": "Vous vous êtes désinscrit(e) le {date}.",
    },
    "de": {
        "title": "Ihre Einladung",
        "dates": "10.–11. März 2030",
        "deadline": "Mittwoch, 20. Februar 2030 um 23:59 (Osteuropäische Normalzeit, GMT+02:00)",
        "venue": "Tallinn, Estland",
        "host": "Estland",
        "guests": "Lettland, Finnland und Portugal",
        "accept": "Zusagen",
        "thanks": "Vielen Dank, Ihre Antwort ist gespeichert",
        "status": "zugesagt",
        "unsubscribe": "Erinnerungen und Dokumenthinweise",
        "confirm_title": "Bestätigen Sie Ihre Anmeldung",
        "confirm": "Anmeldung bestätigen",
        "confirmed": "Vielen Dank, Ihre Anmeldung ist bestätigt",
        "cancel": "Anmeldung stornieren",
        "cancelled": "Ihre Anmeldung ist storniert",
        "since": "Sie haben sich am {date} abgemeldet.",
    },
}


def text_of(driver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id).text


def keyboard_and_phone(driver, page: str) -> None:
    """The first Tab reaches the skip link, with a visible focus ring; on a
    phone-sized window nothing is wider than the screen."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert driver.find_elements(By.TAG_NAME, "script") == [], page  # no JavaScript needed
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("class") == "skip", page
    assert focused.value_of_css_property("outline-style") == "solid", page
    size = driver.get_window_size()
    driver.set_window_size(375, 812)
    try:
        fits = driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        )
        assert fits, f"{page} scrolls sideways on a phone"
    finally:
        driver.set_window_size(size["width"], size["height"])


@pytest.fixture
def rsvp_links(serve, invitations_app, invitations_client, invitations_published_event):
    """language -> the RSVP link of an invitee of the Tallinn event speaking it."""
    event = invitations_published_event(**TALLINN)
    people = [invitee(n, language=language) for n, language in enumerate(SEEN)]
    created = invitations_client.post(
        f"/v1/events/{event['event_id']}/invitations", json={"invitees": people}, headers=SEC
    )
    assert created.status_code == 201, created.json
    base = serve(invitations_app)
    db = invitations_app.extensions["mlp"].db
    return {
        db.invitations.find_one({"_id": iid})["language"]: f"{base}/v1/rsvp/{token_of(url)}"
        for iid, url in issued_links(invitations_app, event["event_id"]).items()
    }


@pytest.mark.parametrize("language", sorted(SEEN))
def test_the_rsvp_page_in_the_invitees_language(chromium, rsvp_links, language):
    from selenium.webdriver.common.by import By

    seen, driver = SEEN[language], chromium
    driver.get(rsvp_links[language])
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    assert driver.find_element(By.TAG_NAME, "h1").text == seen["title"]
    for field in ("dates", "deadline", "venue", "host", "guests"):
        assert text_of(driver, field) == seen[field], field
    deadline = driver.find_element(By.CSS_SELECTOR, "#deadline time")
    assert deadline.get_attribute("datetime").startswith("2030-02-20T21:59:00")
    checked(driver, f"rsvp ({language})")
    keyboard_and_phone(driver, f"rsvp ({language})")

    accept = driver.find_element(By.XPATH, f"//button[normalize-space()='{seen['accept']}']")
    navigate(driver, lambda: click(accept), "/v1/rsvp/")
    assert seen["thanks"] in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    assert text_of(driver, "status") == seen["status"]
    checked(driver, f"rsvp answered ({language})")


def test_the_reader_switches_the_rsvp_page_to_another_language(chromium, rsvp_links):
    from selenium.webdriver.common.by import By

    driver = chromium
    driver.get(rsvp_links["en"])
    navigate(driver, driver.find_element(By.LINK_TEXT, "Français").click, "lang=fr")
    assert text_of(driver, "deadline") == SEEN["fr"]["deadline"]
    assert driver.find_element(By.CSS_SELECTOR, "a[aria-current]").text == "Français"
    checked(driver, "rsvp switched to French")


def test_a_link_that_cannot_be_used_says_so_in_the_browsers_language(
    chromium, serve, invitations_app
):
    from selenium.webdriver.common.by import By

    base = serve(invitations_app)
    speak(chromium, "de")
    chromium.get(f"{base}/v1/rsvp/not-a-token")
    assert chromium.find_element(By.TAG_NAME, "h1").text == (
        "Dieser Link kann nicht verwendet werden"
    )
    assert "nicht bekannt" in chromium.find_element(By.CSS_SELECTOR, "[role=alert]").text
    browser_errors = chromium.get_log("browser")  # the 404 itself is logged
    assert all("404" in entry["message"] for entry in browser_errors), browser_errors
    from devkit import browser

    assert browser.axe_violations(chromium, browser.LEVEL_A + browser.LEVEL_AA) == []


@pytest.mark.parametrize("language", sorted(SEEN))
def test_the_registration_pages_in_the_registrants_language(
    chromium, serve, invitations_app, invitations_client, invitations_published_event, language
):
    """Open registration's double opt-in: the confirmation link's page, then the
    cancellation link's (from the confirmation mail)."""
    from selenium.webdriver.common.by import By

    seen, driver = SEEN[language], chromium
    event = invitations_published_event(**TALLINN, registration="open", visibility="public")
    body = registrant(1, language=language, email=f"reader.{language}@ngo.example.org")
    registered = invitations_client.post(f"/v1/events/{event['event_id']}/registrations", json=body)
    assert registered.status_code == 202, registered.json
    base = serve(invitations_app)
    token = confirm_links(invitations_app, event["event_id"])[body["email"]]
    driver.get(f"{base}/v1/registrations/confirm/{token}")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    assert driver.find_element(By.TAG_NAME, "h1").text == seen["confirm_title"]
    for field in ("dates", "deadline", "venue", "host"):
        assert text_of(driver, field) == seen[field], field
    checked(driver, f"registration confirmation ({language})")
    keyboard_and_phone(driver, f"registration confirmation ({language})")

    navigate(
        driver,
        driver.find_element(By.XPATH, f"//button[normalize-space()='{seen['confirm']}']").click,
        "/v1/registrations/confirm/",
    )
    assert seen["confirmed"] in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    checked(driver, f"registration confirmed ({language})")

    cancel = cancel_links(invitations_app, event["event_id"])[body["email"]]
    driver.get(f"{base}/v1/registrations/cancel/{cancel}")
    assert text_of(driver, "deadline") == seen["deadline"]
    checked(driver, f"registration cancellation ({language})")
    navigate(
        driver,
        driver.find_element(By.XPATH, f"//button[normalize-space()='{seen['cancel']}']").click,
        "/v1/registrations/cancel/",
    )
    assert seen["cancelled"] in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    checked(driver, f"registration cancelled ({language})")


@pytest.mark.parametrize("language", sorted(SEEN))
def test_the_unsubscribe_page_in_the_browsers_language(
    chromium, serve, notifications_app, language
):
    from selenium.webdriver.common.by import By

    seen, driver = SEEN[language], chromium
    keys = notifications_app.extensions["mlp"].settings.unsubscribe_keys
    token = notifications_domain.unsubscribe_token(keys, f"reader-{language}@example.eu")
    base = serve(notifications_app)
    speak(driver, language)
    driver.get(f"{base}/v1/preferences/unsubscribe/{token}")  # no ?lang: Accept-Language
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    assert driver.find_element(By.TAG_NAME, "h1").text == seen["unsubscribe"]
    checked(driver, f"unsubscribe ({language})")
    keyboard_and_phone(driver, f"unsubscribe ({language})")

    navigate(
        driver,
        lambda: click(driver.find_element(By.CSS_SELECTOR, "form button[type=submit]")),
        "/v1/preferences/unsubscribe/",
    )
    locale = {"en": "en_GB", "fr": "fr_FR", "de": "de_DE"}[language]
    today = format_date(datetime.now(UTC).date(), "long", locale=locale)
    assert text_of(driver, "since") == seen["since"].format(date=today)
    assert driver.find_elements(By.TAG_NAME, "form") == []
    checked(driver, f"unsubscribed ({language})")


SURVEY = {
    "en": ("Your feedback", "Your answers could not be sent", "Thank you"),
    "fr": ("Votre avis", "Vos réponses n'ont pas pu être envoyées", "Merci"),
    "de": ("Ihre Rückmeldung", "Ihre Antworten konnten nicht gesendet werden", "Vielen Dank"),
}


@pytest.mark.parametrize("language", sorted(SURVEY))
def test_the_survey_page_on_the_shared_layout(
    chromium, serve, surveys_app, deliver_to_surveys, language
):
    """The participant's survey: the form on the shared layout, an answer left
    out is named in an error summary that links to the question and keeps what
    was typed, then the thanks."""
    from selenium.webdriver.common.by import By

    title, refused, thanks = SURVEY[language]
    event_id, [invitation_id] = completed_event(deliver_to_surveys, ["EE"], **TALLINN)
    token = survey_token(links(surveys_app, event_id)[invitation_id])
    driver = chromium
    driver.get(f"{serve(surveys_app)}/v1/survey-responses/{token}?lang={language}")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    assert driver.find_element(By.TAG_NAME, "h1").text.startswith(title)
    assert driver.find_element(By.CLASS_NAME, "masthead")  # the shared layout
    checked(driver, f"survey ({language})")
    keyboard_and_phone(driver, f"survey ({language})")

    for question in ("knowledge", "understanding", "needs_matched", "overall"):
        driver.find_element(By.ID, f"q-{question}-4").click()
    driver.find_element(By.ID, "q-next_steps").send_keys("Pilot it")
    driver.execute_script("document.querySelector('form').noValidate = true")
    navigate(
        driver,
        lambda: click(driver.find_element(By.CSS_SELECTOR, "form button[type=submit]")),
        "/v1/survey-responses/",
    )
    summary = driver.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert refused in summary.text
    assert summary.find_element(By.CSS_SELECTOR, "a[href='#q-use_learning']")
    assert driver.find_element(By.ID, "q-next_steps").get_attribute("value") == "Pilot it"
    logged = driver.get_log("browser")  # the 422 itself is logged, nothing else
    assert all("422" in entry["message"] for entry in logged), logged
    from devkit import browser

    assert browser.axe_violations(driver, browser.LEVEL_A + browser.LEVEL_AA) == []

    driver.find_element(By.ID, "q-use_learning-partly").click()
    submit = driver.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    navigate(driver, submit.click, "/v1/survey-responses/")
    assert thanks in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    checked(driver, f"survey answered ({language})")


def test_the_checks_catch_a_page_without_the_layout(chromium):
    """No rubber stamp: a page without the layout's language, labels and
    landmarks fails the same checks."""
    from devkit import browser

    page = (
        "<!doctype html><html><head><title>bare</title></head><body>"
        "<form><input name=response></form></body></html>"
    )
    chromium.get("data:text/html;charset=utf-8," + page)
    rules = {v["id"] for v in browser.axe_violations(chromium, browser.LEVEL_A)}
    assert {"label", "html-has-lang"} <= rules
