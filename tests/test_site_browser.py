"""The built book in a real browser: headless Chromium over a local HTTP server.

Opens the intro page and a chapter page, takes a screenshot of each, and fails on JavaScript
errors, an empty main article, a figure that does not load, or a screenshot that is blank. Also runs
a search, which is done in JavaScript from the site's own search index.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium; skipped with the reason when they are absent. ``make test`` includes it.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_book_html import ensure_book_built

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not CHROMIUM or not CHROMEDRIVER:
    pytest.skip(
        "headless Chromium is not installed (Debian: apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the 'test' extra")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PAGE_TIMEOUT_S = 30
CHAPTER = "notebooks/chapter01_crashcourse/autograd.html"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature is the base class's
        pass


@pytest.fixture(scope="module")
def site_url():
    html_dir = ensure_book_built()
    handler = functools.partial(QuietHandler, directory=str(html_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def is_external_network_error(entry: dict, site: str) -> bool:
    """A resource outside our site failed to load.

    The site links a few things from the internet (MathJax from a CDN, Binder and Colab buttons);
    the tests run offline, so those requests fail. Only such network errors for non-local URLs are
    tolerated; any error from the site's own files or from running JavaScript still fails.
    """
    if entry.get("source") != "network":
        return False
    url = entry.get("message", "").split(" ", 1)[0]
    return bool(urlsplit(url).scheme) and not url.startswith(site)


def open_page(driver, site: str, path: str) -> list[dict]:
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(f"{site}/{path}")
    WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    errors = [
        entry
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not is_external_network_error(entry, site)
    ]
    return errors


def main_text(driver) -> str:
    articles = driver.find_elements(By.CSS_SELECTOR, "article.bd-article")
    assert articles, "no <article class='bd-article'>: the page layout did not render"
    return articles[0].text.strip()


def screenshot_is_not_blank(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        colors = img.convert("RGB").resize((320, 250)).getcolors(maxcolors=1 << 16)
    return len(colors) if colors is not None else 1 << 16


@pytest.mark.parametrize(
    ("path", "heading"),
    [("index.html", "The Straight Dope, JAX edition"), (CHAPTER, "Automatic differentiation")],
)
def test_page_renders_without_javascript_errors(browser, site_url, tmp_path, path, heading):
    errors = open_page(browser, site_url, path)
    assert not errors, f"{path}: JavaScript errors: {errors}"
    text = main_text(browser)
    assert heading in text and len(text) > 500, f"{path}: main content is missing or empty"
    # Every image in the article actually loaded (naturalWidth is 0 for a broken image).
    broken = browser.execute_script(
        "return [...document.querySelectorAll('article.bd-article img')]"
        ".filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"
    )
    assert not broken, f"{path}: images that did not load: {broken}"
    shot = tmp_path / (Path(path).stem + ".png")
    assert browser.save_screenshot(str(shot))
    assert screenshot_is_not_blank(shot) > 20, f"{path}: the screenshot {shot} is (nearly) blank"


def test_chapter_page_shows_figures_and_the_sidebar(browser, site_url, tmp_path):
    open_page(browser, site_url, CHAPTER)
    images = browser.find_elements(By.CSS_SELECTOR, "article.bd-article img")
    assert images and all(img.size["width"] > 100 for img in images)
    browser.execute_script("arguments[0].scrollIntoView()", images[0])
    shot = tmp_path / "first-figure.png"
    assert images[0].screenshot(str(shot))
    assert screenshot_is_not_blank(shot) > 20, f"the first figure of {CHAPTER} looks blank: {shot}"
    nav = browser.find_element(By.CSS_SELECTOR, "nav.bd-docs-nav").text
    assert "Arrays with jax.numpy" in nav and "Supervised learning" in nav


def test_search_finds_a_chapter(browser, site_url):
    errors = open_page(browser, site_url, "search.html?q=broadcasting")
    assert not errors, f"search page: JavaScript errors: {errors}"
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
    )
    results = browser.find_element(By.ID, "search-results").text
    assert "Arrays with" in results, (
        f"searching 'broadcasting' did not find the arrays chapter: {results}"
    )
