"""A real headless Chromium for the browser tests and the demo's screenshots:
Debian's ``chromium`` driven through its ``chromedriver`` with Selenium (nothing
is downloaded at run time: both come from the system), axe-core injected from
``tests/browser/node_modules`` (``make browser-deps`` installs it with ``npm ci``),
and the browser's console read back."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
AXE = ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
# What works on a machine without a display, a GPU or outside network.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1024",
)
# axe-core's rule tags of WCAG level A (2.0, 2.1 and 2.2).
LEVEL_A = ("wcag2a", "wcag21a", "wcag22a")
# ... and of level AA (contrast, among others): the website meets it too.
LEVEL_AA = ("wcag2aa", "wcag21aa", "wcag22aa")


def missing() -> str | None:
    """Why no browser test can run here (None when Chromium, its driver, Selenium
    and axe-core are all there)."""
    for binary in ("chromium", "chromedriver"):
        if shutil.which(binary) is None:
            return f"{binary} is not installed (make browser-deps installs Debian's package)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements.lock pins it)"
    if not AXE.exists():
        return f"{AXE.relative_to(ROOT)} is missing (make browser-deps runs npm ci)"
    return None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1024) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, its console logged; quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mlp-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def console_errors(driver: Any) -> list[str]:
    """The console's errors since the last call (warnings and infos are not errors)."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def axe_violations(driver: Any, tags: tuple[str, ...] = LEVEL_A) -> list[dict[str, Any]]:
    """axe-core's violations of ``tags`` on the page in hand: rule id, impact, where."""
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text())
    result = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const only = {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']};
        axe.run(document, only)
           .then(r => done(r.violations.map(v => ({
               id: v.id, impact: v.impact, help: v.help,
               nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))
           .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));
        """,
        list(tags),
    )
    return list(result)


def screenshot(driver: Any, url: str, path: Path) -> Path:
    """Load ``url`` and write the whole page as a PNG to ``path``."""
    driver.get(url)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(800, min(int(height) + 40, 6000)))
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    return path
