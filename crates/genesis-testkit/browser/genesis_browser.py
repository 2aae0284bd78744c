"""What every browser journey shares, the portal's and the console's: a headless Chromium
that reaches nothing but the server under test, the checks every page passes (no request to
another origin, nothing blocked by the Content-Security-Policy, table headers that say what
they head), screenshots of every page at a laptop's and a phone's width, downloads, and the
failure report.

A journey is a script beside its tests (bins/*/tests/browser/*.py) run by
genesis_testkit::browser::journey with target/test-venv/bin/python (selenium from `cargo
xtask test-deps`) against Debian's chromium and chromium-driver; that function puts this
folder on PYTHONPATH. Each journey exits 0 when every expectation held, else 1 with the one
that failed on stderr, after a screenshot of each open browser (NN-failure.png).
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys
import time
import traceback
import urllib.error
import urllib.request
from urllib.parse import urlparse

# Selenium Manager would download a browser or a driver it thinks is missing: the paths
# below are given, and this makes it refuse to try.
os.environ["SE_OFFLINE"] = "true"

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

# Debian's chromium, started without its /usr/bin launcher: the launcher sources
# /etc/chromium.d, which turns on extension updates from the web and Google API keys.
CHROMIUM = "/usr/lib/chromium/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
LAPTOP = (1280, 900)
PHONE = (390, 844)
# How long a page, a download or a server's long work (an export, an install) may take.
PATIENCE = 60

# The browser reaches the server under test on loopback and nothing else: every host name
# resolves to nothing (Chromium's own update, sign-in and time checks, which these flags do
# not all stop, go nowhere), and `Browser.check_requests` fails a page that asked anything
# of another origin.
FLAGS = [
    "--headless=new",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-dev-shm-usage",  # small /dev/shm in containers
    "--disable-gpu",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--no-proxy-server",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-service-autorun",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-breakpad",
    "--metrics-recording-only",  # metrics are recorded, never uploaded
    "--no-pings",
    "--password-store=basic",
    # One --disable-features: Chromium reads only the last.
    "--disable-features=NetworkTimeServiceQuerying,Translate,OptimizationHints,MediaRouter,"
    "DialMediaRouteProvider,AutofillServerCommunication,CertificateTransparencyComponentUpdater",
]


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to report, not to follow."""

    def redirect_request(self, *args):
        return None


class Failed(Exception):
    """An expectation the server under test did not meet."""


def expect(condition, message):
    """Fails the journey with `message` unless `condition` holds."""
    if not condition:
        raise Failed(message)


def arguments(description, server, example):
    """The arguments every journey takes: `--SERVER`, the URL of the server under test
    (`example` shows one), and `--screenshots`; the journey adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(f"--{server}", required=True, help=f"the {server}'s URL, e.g. {example}")
    parser.add_argument("--screenshots", required=True, type=pathlib.Path, help="where NN-PAGE.png go")
    return parser


# The browsers a journey opened: `run` closes them, and shoots each when the journey fails.
OPEN = []


class Browser:
    """One headless Chromium with its own profile (cookies) on the server at `site`,
    downloading into `downloads`, running the pages' JavaScript unless `javascript` is false
    (WebDriver's own scripts, which the journeys use to measure pages, run either way)."""

    def __init__(self, site, shots, downloads=None, javascript=True):
        self.site = site.rstrip("/")
        self.shots = shots
        self.downloads = downloads
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in FLAGS:
            options.add_argument(flag)
        prefs = {
            "safebrowsing.enabled": False,
            "credentials_enable_service": False,
            # Several downloads from one page are allowed without asking.
            "profile.default_content_setting_values.automatic_downloads": 1,
        }
        if not javascript:
            prefs["profile.managed_default_content_settings.javascript"] = 2
        if downloads is not None:
            downloads.mkdir(parents=True, exist_ok=True)
            prefs.update(
                {
                    "download.default_directory": str(downloads),
                    "download.prompt_for_download": False,
                    "download.directory_upgrade": True,
                }
            )
        options.add_experimental_option("prefs", prefs)
        # The browser's console log, where Chromium reports what the pages'
        # Content-Security-Policy blocked, and the pages' requests.
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        if downloads is not None:
            self.driver.execute_cdp_cmd(
                "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
            )
        OPEN.append(self)
        self.viewport(*LAPTOP)

    def viewport(self, width, height, mobile=False):
        """Shows pages in a viewport of exactly this size (a window's size would include
        the browser's frame), as a phone does when `mobile`."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        self.size = (width, height, mobile)

    def close(self):
        self.driver.quit()

    def url(self, path):
        return self.site + path

    def get(self, path):
        self.driver.get(self.url(path))

    def path(self):
        """The path (and query) of the page shown."""
        current = self.driver.current_url
        expect(current.startswith(self.site), f"the browser left {self.site} for {current}")
        return current[len(self.site) :] or "/"

    def at(self, path):
        """Waits until the browser shows `path` (a prefix when it ends with `*`)."""

        def arrived(_):
            here = self.path()
            return here.startswith(path[:-1]) if path.endswith("*") else here.split("?")[0] == path

        try:
            WebDriverWait(self.driver, PATIENCE).until(arrived)
        except TimeoutException:
            raise Failed(f"expected to be at {path}, but the browser shows {self.path()}: {self.body()[:600]}")

    def one(self, css):
        """The one element `css` selects on this page."""
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        expect(found, f"{self.path()} has no `{css}`: {self.body()[:600]}")
        expect(len(found) == 1, f"{self.path()} has {len(found)} `{css}`, expected one")
        return found[0]

    def all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self, css):
        return self.one(css).text.strip()

    def rows(self, table):
        """The body rows of `table`, each as its cells' texts, row headers (`th`) included."""
        cells = (row.find_elements(By.CSS_SELECTOR, "th, td") for row in self.all(f"{table} tbody tr"))
        return [[cell.text.strip() for cell in row] for row in cells if row]

    def header(self):
        """The text of the page's header (who is signed in)."""
        return self.driver.find_element(By.TAG_NAME, "header").text

    def body(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def fill(self, css, value):
        field = self.one(css)
        field.clear()
        field.send_keys(value)

    def click(self, css):
        self.one(css).click()

    def submit(self, css, within=None):
        """Clicks `css` (a submit button or a link, inside the element `within` when given)
        and waits for the page it leads to."""
        target = within.find_element(By.CSS_SELECTOR, css) if within else self.one(css)
        self.leads_to_new_page(target.click, f"clicking `{css}`")

    def enter(self, css, value):
        """Types `value` and Enter into the field `css`, submitting its form; waits for the
        page it leads to."""
        self.fill(css, value)
        self.leads_to_new_page(lambda: self.one(css).send_keys(Keys.ENTER), f"Enter in `{css}`")

    def leads_to_new_page(self, action, what):
        """Does `action` and waits until a new page has replaced this one, even at the same URL."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        action()
        try:
            WebDriverWait(self.driver, PATIENCE).until(lambda _: stale(old))
        except TimeoutException:
            raise Failed(f"{what} on {self.path()} led to no new page")

    def status(self, path):
        """The HTTP status the server answers a GET of `path` with this browser's cookies
        (its session), redirects not followed. Asked outside the page, as another client
        would, so that no page's script is needed for it."""
        cookie = "; ".join(f"{c['name']}={c['value']}" for c in self.driver.get_cookies())
        request = urllib.request.Request(self.url(path), headers={"Cookie": cookie})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects())
        try:
            with opener.open(request, timeout=PATIENCE) as response:
                return response.status
        except urllib.error.HTTPError as e:
            return e.code

    def shot(self, page):
        """Saves the page, whole, as the next NN-PAGE.png, and checks it (its table headers)
        and what the pages asked for since the last shot."""
        self.save(page)
        unscoped = [th.text.strip() for th in self.all("th:not([scope])")]
        expect(not unscoped, f"on {self.path()} these table headers do not say what they head (scope): {unscoped}")
        self.check_requests()

    def check_requests(self):
        """Fails if a page asked anything of an origin other than the server's, or if its
        Content-Security-Policy blocked anything (an inline style or script the page relies
        on, something from elsewhere)."""
        blocked = [e["message"] for e in self.driver.get_log("browser") if "Content Security Policy" in e["message"]]
        expect(not blocked, f"on {self.path()} the Content-Security-Policy blocked: {blocked}")
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                url = message["params"]["request"]["url"]
                expect(url.startswith(self.site + "/") or url.startswith("data:"), f"a page asked for {url}")

    def save(self, page):
        """Saves the page, whole: the viewport made as tall as the page for the shot."""
        width, height, mobile = self.size
        tall = self.driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
        )
        self.viewport(width, max(int(tall), height), mobile)
        try:
            self.shots.save(self.driver, page)
        finally:
            self.viewport(width, height, mobile)

    def phone_shot(self, page):
        """Saves the page as a 390x844 phone shows it, then returns to the laptop's size. The
        page must fit the phone's width: nothing to scroll sideways, every download link
        within reach."""
        self.viewport(*PHONE, mobile=True)
        try:
            width, scrolled, beyond = self.driver.execute_script(
                "const width = window.innerWidth;"
                "const beyond = [...document.querySelectorAll('a.download')]"
                "  .filter(a => a.getBoundingClientRect().right > width)"
                "  .map(a => a.getAttribute('href'));"
                "return [width, document.documentElement.scrollWidth, beyond];"
            )
            # A page wider than a phone makes Chromium widen the phone's viewport to fit it.
            expect(width == PHONE[0], f"{self.path()} is too wide for a phone: the viewport grew to {width} pixels")
            expect(scrolled <= width, f"{self.path()} is {scrolled} pixels wide on a {width}-pixel phone")
            expect(not beyond, f"on a {width}-pixel phone these download links end beyond the screen: {beyond}")
            self.shot(page)
        finally:
            self.viewport(*LAPTOP)

    def wait_downloads(self, names):
        """Waits until each of `names` is saved whole in the download directory; their paths."""
        deadline = time.monotonic() + PATIENCE
        while True:
            present = {p.name for p in self.downloads.iterdir()}
            partial = [n for n in present if n.endswith(".crdownload")]
            missing = [n for n in names if n not in present]
            if not missing and not partial:
                return [self.downloads / n for n in names]
            if time.monotonic() > deadline:
                raise Failed(f"downloads missing {missing}, unfinished {partial}; saved: {sorted(present)}")
            time.sleep(0.1)

    def wait_download(self, pattern):
        """Waits until exactly one file matching `pattern` (a glob: a download whose name the
        server chooses, e.g. `genesis-support-*.tar.gz`) is saved whole in the download
        directory; its path."""
        deadline = time.monotonic() + PATIENCE
        while True:
            saved = sorted(self.downloads.glob(pattern))
            partial = [p.name for p in self.downloads.iterdir() if p.name.endswith(".crdownload")]
            if len(saved) == 1 and not partial:
                return saved[0]
            expect(len(saved) <= 1, f"several downloads match {pattern}: {[p.name for p in saved]}")
            if time.monotonic() > deadline:
                present = sorted(p.name for p in self.downloads.iterdir())
                raise Failed(f"no download matching {pattern} saved whole; the folder holds {present}")
            time.sleep(0.1)

    def grant_clipboard(self):
        """Lets the server's pages write and this script read the clipboard (headless
        Chromium asks no one, so the permission is granted for the server's origin)."""
        self.driver.execute_cdp_cmd(
            "Browser.grantPermissions",
            {"origin": self.site, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
        )

    def clipboard(self):
        return self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "navigator.clipboard.readText().then(done, e => done('clipboard refused: ' + e));"
        )


class Shots:
    """Numbered screenshots in one directory, numbered on from those already there so that
    the journeys of one test read in the order they ran."""

    def __init__(self, directory):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def save(self, driver, page):
        number = len(list(self.dir.glob("*.png"))) + 1
        path = self.dir / f"{number:02}-{page}.png"
        expect(driver.save_screenshot(str(path)), f"saving the screenshot {path}")
        print(f"screenshot: {path}", flush=True)


def path_of(link):
    """The path of a link's target."""
    return urlparse(link.get_attribute("href")).path


def stale(element):
    """Whether `element` no longer belongs to the page shown (or, chromedriver's answer in the
    middle of a navigation, cannot be asked)."""
    try:
        element.is_enabled()
        return False
    except WebDriverException:
        return True


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def run(journey, parser):
    """Runs `journey(args)`; on a failed expectation or a browser error, a screenshot of each
    open browser (NN-failure.png), the reason on stderr and exit 1. Closes every browser."""
    try:
        journey(parser.parse_args())
        for b in OPEN:
            b.check_requests()
    except (Failed, WebDriverException) as e:
        for b in OPEN:
            try:
                print(f"failed at {b.driver.current_url}", file=sys.stderr)
                b.save("failure")
            except (Failed, WebDriverException):
                pass
        if isinstance(e, Failed):
            print(f"FAILED: {e}", file=sys.stderr)
        else:
            traceback.print_exc()
        sys.exit(1)
    finally:
        for b in OPEN:
            try:
                b.close()
            except WebDriverException:
                pass
