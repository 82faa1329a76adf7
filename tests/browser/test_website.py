"""The catalogue's website in a real browser: Debian's headless Chromium, driven by
Selenium through chromedriver, against the real app served on a loopback port
(real Mongo-wire server). A visitor loads the home page, searches with the
keyboard, follows a result to an event page and on to a practice page, switches
to French and reaches a country page; no page logs a console error, and axe-core
finds no WCAG level A (nor AA) violation on any page template."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from deploy.local.ports import free_port
from devkit import browser
from tests.fixtures.catalogue import sample_programme

pytestmark = pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))


@pytest.fixture
def site(catalogue_app, catalogue_client, deliver_to_catalogue) -> Iterator[tuple[str, dict]]:
    """The catalogue app with the sample programme, served where Chromium can reach it."""
    programme = sample_programme(catalogue_client, catalogue_app, deliver_to_catalogue)
    port = free_port()
    server = make_server("127.0.0.1", port, catalogue_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", programme
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def chromium() -> Iterator:
    with browser.chromium() as driver:
        yield driver


def arrived(driver, part: str) -> None:
    """Wait until the navigation just started has loaded a URL containing ``part``."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15).until(
        lambda d: (
            part in d.current_url and d.execute_script("return document.readyState") == "complete"
        )
    )


def checked(driver, template: str) -> None:
    """The page in hand logged no console error and has no level A (nor AA) violation."""
    assert browser.console_errors(driver) == [], template
    assert browser.axe_violations(driver, browser.LEVEL_A + browser.LEVEL_AA) == [], template


def test_a_visitor_searches_follows_results_and_switches_to_french(site, chromium):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, programme = site
    driver = chromium
    driver.get(f"{base}/")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Mutual learning catalogue"
    assert driver.find_elements(By.TAG_NAME, "script") == []  # works without JavaScript
    # the keyboard reaches the skip link first, and it leads to the content
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert driver.switch_to.active_element.get_attribute("class") == "skip"
    checked(driver, "home")

    box = driver.find_element(By.ID, "q")
    box.send_keys("segmented", Keys.ENTER)
    arrived(driver, "/search?")
    assert "3 results" in driver.find_element(By.CSS_SELECTOR, "[role=status]").text
    checked(driver, "search")

    driver.find_element(By.LINK_TEXT, "Lithuania's PES client-service model").click()
    arrived(driver, f"/events/{programme['review']}")
    assert "What followed" in driver.page_source
    checked(driver, "event")

    driver.find_element(By.LINK_TEXT, "Lithuanian PES client-service model").click()
    arrived(driver, f"/practices/{programme['practice']}")
    timeline = driver.find_element(By.CSS_SELECTOR, "ol.timeline").text
    assert "2017" in timeline and "Lithuania: adopted" in timeline
    checked(driver, "practice")

    driver.find_element(By.LINK_TEXT, "Français").click()
    arrived(driver, "lang=fr")
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    assert "Lituanie : adoptée" in driver.find_element(By.CSS_SELECTOR, "ol.timeline").text or (
        "Lituanie: adoptée" in driver.find_element(By.CSS_SELECTOR, "ol.timeline").text
    )
    checked(driver, "practice (fr)")

    driver.find_element(By.CSS_SELECTOR, "p.meta a[href^='/countries/LT']").click()
    arrived(driver, "/countries/LT")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Lituanie"
    assert "Événements accueillis" in driver.page_source  # the cookie keeps French
    checked(driver, "country")

    driver.get(f"{base}/search?lang=de&year=abc")  # a bad search: the 400 page
    assert "Die Suche konnte nicht ausgeführt werden" in driver.page_source
    browser.console_errors(driver)  # the 400 itself is logged; the page must still be sound
    assert browser.axe_violations(driver) == []
    driver.get(f"{base}/events/no-such-event")  # the 404 template
    browser.console_errors(driver)
    assert browser.axe_violations(driver) == []


def test_the_checks_catch_a_broken_page(chromium):
    """The harness is no rubber stamp: an unlabelled field and an image without
    text are level A violations, and a script's error reaches the console."""
    page = (
        "<!doctype html><html><head><title>broken</title></head><body><main>"
        "<input type='text'><img src='data:,'><script>console.error('boom')</script>"
        "</main></body></html>"
    )
    chromium.get("data:text/html;charset=utf-8," + page)
    assert any("boom" in message for message in browser.console_errors(chromium))
    rules = {v["id"] for v in browser.axe_violations(chromium)}
    assert {"label", "image-alt", "html-has-lang"} <= rules
