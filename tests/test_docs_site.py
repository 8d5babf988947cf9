"""The documentation site as a reader sees it: built with ``mkdocs build --strict``, served on
localhost and opened in headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by selenium). The home page, a model page (resnet50) and the diagram gallery must
render, every image on them must load (``naturalWidth > 0``, after scrolling so the lazy ones
load), the search box must find "densenet121" and the console must show no error.
Screenshots go to the test's output folder and are copied to ``/tmp/docs-shots``.

Skipped, saying why, where mkdocs, selenium or Chromium is missing (the README's first command
installs them all)."""

import functools
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from .conftest import ROOT

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SHOTS = pathlib.Path("/tmp/docs-shots")


def _require(module):
    try:
        __import__(module)
    except ImportError:
        pytest.skip(f"{module} is not installed: pip install -e \".[docs]\"")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built strictly into a temporary folder (not the checkout's site/)."""
    _require("mkdocs")
    _require("material")
    out = tmp_path_factory.mktemp("site")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert done.returncode == 0, done.stderr[-4000:]
    print(f"mkdocs build --strict: {time.perf_counter() - start:.1f} s")
    return out


def test_every_image_is_lazy_and_no_svg_is_shipped_twice(site):
    html = [p.read_text(encoding="utf-8") for p in site.rglob("*.html")]
    assert len(html) > 96 + 18  # a page per model and per family, and the guides
    imgs = [tag for text in html for tag in text.split("<img")[1:]]
    assert imgs and all('loading="lazy"' in tag.split(">", 1)[0] for tag in imgs)
    # the site ships the repository's diagrams once (the pages link the same files); beyond
    # them only the notebooks' own small figures
    def svg_bytes(folder):
        return sum(p.stat().st_size for p in folder.rglob("*.svg"))

    diagrams = svg_bytes(ROOT / "docs" / "architectures")
    assert svg_bytes(site / "architectures") == diagrams
    notebooks = svg_bytes(site / "notebooks")
    assert notebooks < 256 * 1024
    assert svg_bytes(site) - svg_bytes(site / "assets") == diagrams + notebooks
    assert (site / "models" / "resnet50" / "index.html").exists()
    assert (site / "families" / "resnet_cifar" / "index.html").exists()


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require("selenium")
    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip("Debian's Chromium is missing: apt-get install -y chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _open(driver, url):
    driver.get(url)
    _wait(driver, lambda: driver.execute_script("return document.readyState") == "complete",
          f"{url} did not finish loading")
    driver.get_log("browser")  # start each page with an empty console


def _wait(driver, condition, message, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(message)


def _load_every_image(driver):
    """Scrolls each image into view (lazy images load only there; the gallery's thumbnails sit
    in a table that scrolls sideways) and waits for it; returns the sources of the images
    that failed (naturalWidth 0)."""
    count = driver.execute_script("return document.images.length")
    for i in range(count):
        # scrolled to again on every check: images above it that finish loading change the
        # layout and can push it back out of view, where a lazy image never starts
        _wait(driver, lambda i=i: driver.execute_script(
                  f"const im = document.images[{i}];"
                  "im.scrollIntoView({block: 'center', inline: 'center'}); return im.complete"),
              f"image {i} still loading after 60 s", timeout=60.0)
    driver.execute_script("window.scrollTo(0, 0); document.querySelectorAll("
                          "'.md-typeset__scrollwrap').forEach(e => e.scrollLeft = 0)")
    return driver.execute_script(
        "return Array.from(document.images).filter(i => i.naturalWidth === 0)"
        ".map(i => i.currentSrc || i.src)")


def _errors(driver):
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def _shot(driver, tmp_path, name, full=False):
    """A screenshot of the window, or with ``full`` of the page (up to 8,000 pixels)."""
    path = tmp_path / f"{name}.png"
    if full:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(height, 8000))
    driver.save_screenshot(str(path))
    if full:
        driver.set_window_size(1280, 1000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / path.name)
    return path


@pytest.mark.parametrize("page, heading, min_images", [
    ("", "kerascnn", 0),
    ("models/resnet50/", "resnet50", 1),
    ("architectures/", "Architecture gallery", 96),
])
def test_page_renders_with_every_image(browser, server, tmp_path, page, heading, min_images):
    _open(browser, f"{server}/{page}")
    h1 = browser.execute_script("return document.querySelector('article h1').textContent")
    assert heading in h1
    failed = _load_every_image(browser)
    count = browser.execute_script("return document.images.length")
    assert count >= min_images
    assert failed == [], f"images that did not load on /{page}: {failed}"
    assert _errors(browser) == []
    name = page.strip("/").replace("/", "_") or "home"
    assert _shot(browser, tmp_path, name, full=True).stat().st_size > 10_000


def test_search_finds_densenet121(browser, server, tmp_path):
    from selenium.webdriver.common.by import By

    _open(browser, f"{server}/")
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    browser.execute_script("arguments[0].focus()", box)
    box.send_keys("densenet121")

    def found():
        links = browser.execute_script(
            "return Array.from(document.querySelectorAll('.md-search-result__item a'))"
            ".map(a => a.href)")
        return any(urllib.parse.urlsplit(link).path == "/models/densenet121/" for link in links)

    _wait(browser, found, "the search did not list the densenet121 page")
    _shot(browser, tmp_path, "search_densenet121")
    assert _errors(browser) == []
