"""The built book in a real browser: headless Chromium, offline, over a local HTTP server.

Chromium runs with every address other than the local server unreachable (a dead proxy and a
host resolver that knows no names), so these tests show what an offline reader sees. Each page is
given time to settle (its load event, MathJax's typesetting, and a quiet spell with no new requests
or log entries) before anything is read. Then:

- JavaScript errors fail, and so do resources that did not load, each reported as what it is: a
  local file missing (with the server's own record of every 404, which catches requests that the
  browser makes on its own, such as /favicon.ico), or a request that left the site;
- every page of the table of contents fits a 390 px phone screen and a 1366 px laptop screen
  without scrolling sideways (``scrollWidth``, with the elements that stick out named);
- every page with formulas has them typeset by the site's own MathJax, with no MathJax error and no
  stray ``$`` or unrendered ``\\(``, ``\\[`` left in the text;
- figures load and are not blank, the sidebar and the launch button show, and search works.

Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them) and
selenium; skipped with the reason when they are absent. ``make test`` includes it.
"""

from __future__ import annotations

import functools
import http.server
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from test_book_html import ensure_book_built, toc_files

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

PAGE_TIMEOUT_S = 60
# A page has settled when nothing new was requested or logged for this long.
QUIET_S = 0.75
CHAPTER = "notebooks/chapter01_crashcourse/autograd.html"
PHONE, LAPTOP = 390, 1366


class Site:
    """A local HTTP server for the built site that remembers every request it answered."""

    def __init__(self, html_dir: Path):
        self.requests: list[tuple[str, int]] = []
        lock = threading.Lock()
        site = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_request(self, code="-", size="-"):
                with lock:
                    site.requests.append((urlsplit(self.path).path, int(code)))

            def log_message(self, format, *args):  # noqa: A002 - the base class's signature
                pass

        handler = functools.partial(Handler, directory=str(html_dir))
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def missing_since(self, start: int) -> list[str]:
        return sorted({path for path, code in self.requests[start:] if code == 404})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def site():
    server = Site(ensure_book_built())
    try:
        yield server
    finally:
        server.close()


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
        # Offline: the local server is reachable (loopback bypasses the proxy), nothing else is.
        "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--window-size={LAPTOP},1000",
        f"--user-data-dir={profile}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    driver.set_script_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def set_width(driver, width: int) -> None:
    """Emulate a screen this many CSS pixels wide (a phone below 600 px)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


class Visit:
    """What happened while one page loaded: console entries, requests, the server's 404s."""

    def __init__(self, log: list[dict], requested: list[str], missing: list[str], site: str):
        self.log, self.requested, self.missing_on_server = log, requested, missing
        self.site = site

    @property
    def javascript_errors(self) -> list[str]:
        # Console errors from scripts (uncaught exceptions, console.error); failed loads are
        # logged with source "network" and are reported below, as what they are.
        return [e["message"] for e in self.log
                if e["level"] == "SEVERE" and e.get("source") != "network"]

    @property
    def failed_loads(self) -> list[str]:
        return [e["message"] for e in self.log
                if e["level"] == "SEVERE" and e.get("source") == "network"]

    @property
    def left_the_site(self) -> list[str]:
        return [u for u in self.requested
                if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                and not u.startswith(self.site)]

    def problems(self) -> str:
        parts = []
        for title, items in [
            ("JavaScript errors", self.javascript_errors),
            ("local files the server did not have (404)", self.missing_on_server),
            ("resources that failed to load", self.failed_loads),
            ("requests that left the site (the book must work offline)", self.left_the_site),
        ]:
            if items:
                parts.append(f"{title}: {items}")
        return "; ".join(parts)


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        if '"Network.requestWillBeSent"' in entry["message"]:
            message = json.loads(entry["message"])["message"]
            urls.append(message["params"]["request"]["url"])
    return urls


def open_page(driver, site: Site, path: str) -> Visit:
    """Load a page, wait until it has settled, and return what happened meanwhile."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get_log("performance")
    start = len(site.requests)
    driver.get(f"{site.url}/{path}")
    WebDriverWait(driver, PAGE_TIMEOUT_S).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    # MathJax typesets after the load event; its startup promise resolves when it is done.
    error = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        const mj = window.MathJax;
        if (!mj || !mj.startup || !mj.startup.promise) { done(null); return; }
        mj.startup.promise.then(() => done(null), (e) => done(String(e)));"""
    )
    assert error is None, f"{path}: MathJax failed to start: {error}"
    log, requested = [], []
    seen, quiet_since = -1, time.monotonic()
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        log += driver.get_log("browser")
        requested += requested_urls(driver)
        count = len(log) + len(requested) + len(site.requests)
        if count != seen:
            seen, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_S:
            break
        time.sleep(0.1)
    return Visit(log, requested, site.missing_since(start), site.url)


def main_text(driver) -> str:
    articles = driver.find_elements(By.CSS_SELECTOR, "article.bd-article")
    assert articles, "no <article class='bd-article'>: the page layout did not render"
    return articles[0].text.strip()


def screenshot_colors(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as img:
        colors = img.convert("RGB").resize((320, 250)).getcolors(maxcolors=1 << 16)
    return len(colors) if colors is not None else 1 << 16


# Elements that stick out of the viewport and are not inside a box that scrolls on its own.
OVERFLOWING = """
const width = document.documentElement.clientWidth, found = [];
for (const el of document.querySelectorAll('body *')) {
  const box = el.getBoundingClientRect();
  if (box.width === 0 || box.right <= width + 1) continue;
  let clipped = false;
  for (let p = el.parentElement; p && !clipped; p = p.parentElement) {
    const o = getComputedStyle(p).overflowX;
    clipped = (o === 'auto' || o === 'scroll' || o === 'hidden')
              && p.getBoundingClientRect().right <= width + 1;
  }
  if (!clipped) found.push(`${el.tagName.toLowerCase()}.${el.className}`
                           + ` (right edge ${Math.round(box.right)} px):`
                           + ` ${(el.textContent || '').trim().slice(0, 60)}`);
}
return found.slice(0, 5);
"""

# Text a reader sees outside code and typeset maths, and MathJax's own error nodes.
MATH_REPORT = """
const article = document.querySelector('article.bd-article');
const skip = 'pre, code, mjx-container, script, style, .math, .cell_output';
const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
const stray = [];
for (let n = walker.nextNode(); n; n = walker.nextNode()) {
  if (n.parentElement.closest(skip)) continue;
  const t = n.textContent;
  if (/[$]|\\\\[(\\[]/.test(t)) stray.push(t.trim().slice(0, 80));
}
const unrendered = [...article.querySelectorAll('.math')]
  .filter(el => !el.querySelector('mjx-container')).map(el => el.textContent.slice(0, 60));
return {
  typeset: article.querySelectorAll('mjx-container').length,
  errors: [...article.querySelectorAll('mjx-merror, [data-mjx-error]')]
          .map(el => el.getAttribute('data-mjx-error') || el.textContent).slice(0, 5),
  stray: stray.slice(0, 5),
  unrendered: unrendered.slice(0, 5),
};
"""


def toc_pages() -> list[str]:
    return [f"{doc}.html" for doc in toc_files()]


@pytest.mark.parametrize(
    ("path", "heading"),
    [("index.html", "The Straight Dope, JAX edition"), (CHAPTER, "Automatic differentiation")],
)
def test_page_renders_without_javascript_errors(browser, site, tmp_path, path, heading):
    set_width(browser, LAPTOP)
    visit = open_page(browser, site, path)
    assert not visit.problems(), f"{path}: {visit.problems()}"
    # index.html is the landing page; it sends the reader on to the introduction.
    assert browser.title and "The Straight Dope" in browser.title, browser.title
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
    assert screenshot_colors(shot) > 20, f"{path}: the screenshot {shot} is (nearly) blank"


def test_the_landing_page_is_titled_and_leads_to_the_introduction(browser, site):
    set_width(browser, LAPTOP)
    visit = open_page(browser, site, "index.html")
    assert not visit.problems(), visit.problems()
    assert browser.current_url.endswith("/book/intro.html"), browser.current_url
    assert ("/index.html", 200) in site.requests
    # The icon is there for browsers that ask for /favicon.ico without reading the page.
    with urlopen(f"{site.url}/favicon.ico", timeout=30) as response:
        assert response.status == 200 and response.read(4) == b"\x00\x00\x01\x00"  # ICO


def survey_pages() -> list[str]:
    return toc_pages() + ["genindex.html", "search.html", "py-modindex.html"]


def width_report(driver, width: int) -> tuple[int, list[str]] | None:
    """None when the page fits a screen this wide, else (scrollWidth, what sticks out)."""
    set_width(driver, width)
    # Let the new width take effect: two animation frames are a layout and a paint.
    driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "requestAnimationFrame(() => requestAnimationFrame(() => done()));"
    )
    scroll, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    if inner != width:  # content wider than the page lets a phone's layout viewport grow
        return (max(scroll, inner), driver.execute_script(OVERFLOWING))
    return None if scroll <= inner else (scroll, driver.execute_script(OVERFLOWING))


@pytest.fixture(scope="module")
def survey(browser, site) -> dict[str, dict]:
    """Every page of the site loaded once (at phone width), then measured at both widths."""
    found = {}
    for path in survey_pages():
        set_width(browser, PHONE)
        visit = open_page(browser, site, path)
        found[path] = {
            "problems": visit.problems(),
            PHONE: width_report(browser, PHONE),
            LAPTOP: width_report(browser, LAPTOP),
            "math": browser.execute_script(MATH_REPORT) if "math" in path_kinds(path) else None,
        }
    return found


def path_kinds(path: str) -> set[str]:
    html = (ensure_book_built() / urlsplit(path).path).read_text(encoding="utf-8")
    return {"math"} if 'class="math' in html else set()


def test_every_page_loads_without_errors_offline(survey):
    broken = {path: r["problems"] for path, r in survey.items() if r["problems"]}
    assert not broken, f"pages with JavaScript errors or resources that did not load: {broken}"


@pytest.mark.parametrize("width", [PHONE, LAPTOP])
def test_no_page_scrolls_sideways(survey, width):
    too_wide = {path: r[width] for path, r in survey.items() if r[width]}
    assert not too_wide, f"pages wider than a {width} px screen (scrollWidth, culprits): {too_wide}"


def test_maths_renders_offline_on_every_page(survey):
    with_math = {path: r["math"] for path, r in survey.items() if r["math"] is not None}
    assert len(with_math) >= 8, f"only {len(with_math)} pages with maths: {list(with_math)}"
    failures = {}
    for path, report in with_math.items():
        problems = {k: v for k, v in report.items() if k != "typeset" and v}
        if report["typeset"] == 0:
            problems["typeset"] = "no formula was typeset"
        if problems:
            failures[path] = problems
    assert not failures, f"maths that did not render: {failures}"


def test_the_maths_check_sees_a_stray_dollar(browser, site):
    # The check above must be able to fail: inject what MyST leaves of a misread $$ and rerun it.
    set_width(browser, LAPTOP)
    open_page(browser, site, CHAPTER)
    browser.execute_script(
        "const p = document.createElement('p');"
        "p.textContent = 'computes one score, $ Stacking a batch \\\\(x\\\\)';"
        "document.querySelector('article.bd-article').appendChild(p);"
    )
    report = browser.execute_script(MATH_REPORT)
    assert report["stray"] and "computes one score" in report["stray"][0], report
    assert report["typeset"] > 0 and not report["errors"], report


def test_chapter_page_shows_figures_the_sidebar_and_the_launch_button(browser, site, tmp_path):
    set_width(browser, LAPTOP)
    open_page(browser, site, CHAPTER)
    images = browser.find_elements(By.CSS_SELECTOR, "article.bd-article img")
    assert images and all(img.size["width"] > 100 for img in images)
    browser.execute_script("arguments[0].scrollIntoView()", images[0])
    shot = tmp_path / "first-figure.png"
    assert images[0].screenshot(str(shot))
    assert screenshot_colors(shot) > 20, f"the first figure of {CHAPTER} looks blank: {shot}"
    nav = browser.find_element(By.CSS_SELECTOR, "nav.bd-docs-nav").text
    assert "Arrays with jax.numpy" in nav and "Supervised learning" in nav
    # The rocket icon that the introduction tells readers to click: drawn, with a real width.
    # (Font Awesome's script replaces the <i> of the HTML by an inline <svg>.)
    rocket = browser.find_element(By.CSS_SELECTOR, ".dropdown-launch-buttons .fa-rocket")
    assert rocket.is_displayed() and rocket.size["width"] > 5, rocket.size


def test_search_finds_a_chapter(browser, site):
    set_width(browser, LAPTOP)
    visit = open_page(browser, site, "search.html?q=broadcasting")
    assert not visit.problems(), f"search page: {visit.problems()}"
    WebDriverWait(browser, PAGE_TIMEOUT_S).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#search-results ul.search li")
    )
    results = browser.find_element(By.ID, "search-results").text
    assert "Arrays with" in results, (
        f"searching 'broadcasting' did not find the arrays chapter: {results}"
    )
