"""What the portal's browser journeys share beyond genesis_browser (the journeys' common
driver, crates/genesis-testkit/browser/genesis_browser.py): the `--portal` argument, signing
in and out of the portal's two areas, its download links and its export pages.

The journeys (customer_journey.py, no_script_journey.py, isolation.py, vendor_journey.py,
publishing_off.py) are run by bins/genesis-portal/tests/it/web.rs through
genesis_testkit::browser::journey, which puts genesis_browser on PYTHONPATH. Each exits 0
when every expectation held, else 1 with the one that failed on stderr.
"""

import time

from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import genesis_browser
from genesis_browser import PATIENCE, Failed, Shots, expect, path_of, run, sha256, stale

# What the journeys import from here, shared or the portal's own.
__all__ = [
    "PATIENCE",
    "Browser",
    "Failed",
    "Shots",
    "arguments",
    "download_link",
    "expect",
    "path_of",
    "run",
    "sha256",
    "sign_in",
    "sign_out",
    "wait_export",
]


def arguments(description):
    """The arguments every portal journey takes (`--portal`, `--screenshots`); the journey
    adds its own."""
    return genesis_browser.arguments(description, "portal", "http://127.0.0.1:8480")


class Browser(genesis_browser.Browser):
    """A browser on the portal at `portal` (see genesis_browser.Browser)."""

    @property
    def portal(self):
        """The portal's URL, as the journeys compare the commands it shows with."""
        return self.site


def download_link(row):
    """The download link of a row of `#artifacts` that a person can click at this size (the
    first, when it shows more than one: they must lead to the same file)."""
    shown = [a for a in row.find_elements(By.CSS_SELECTOR, "a.download") if a.is_displayed()]
    name = row.get_attribute("data-artifact")
    expect(shown, f"the row of {name} shows no download link")
    targets = {a.get_attribute("href") for a in shown}
    expect(len(targets) == 1, f"the download links of {name} lead to several places: {sorted(targets)}")
    return shown[0]


def wait_export(b, pending_shot=None):
    """Waits on an export's page while it says pending, the page reloading itself (nothing
    here reloads it: no script is needed for it either); the status it ends on. The first time
    it is seen pending, the page must say that it refreshes itself every 5 seconds and offer
    `a#refresh`, and is saved as `pending_shot` when given (a small pack may be ready before
    its page is first shown)."""
    deadline = time.monotonic() + PATIENCE
    seen_pending = False
    while time.monotonic() < deadline:
        try:
            page = b.driver.find_element(By.TAG_NAME, "html")
            found = b.all("#export-status")
            status = found[0].text.strip() if found else None
        except WebDriverException:
            status = None  # the page was being replaced
        if status is None:
            time.sleep(0.1)
            continue
        if status != "pending":
            return status
        if not seen_pending:
            seen_pending = True
            refresh = [m.get_attribute("content") for m in b.all('meta[http-equiv="refresh"]')]
            expect(refresh == ["5"], f"the pending export's page refreshes {refresh}, expected every 5 seconds")
            expect(path_of(b.one("a#refresh")) == b.path(), "the pending export's `Refresh now` links elsewhere")
            if pending_shot:
                b.shot(pending_shot)
        try:
            WebDriverWait(b.driver, max(deadline - time.monotonic(), 0.1)).until(lambda _: stale(page))
        except TimeoutException:
            raise Failed(f"the pending export's page {b.path()} did not reload itself")
    raise Failed(f"the export at {b.path()} was still pending after {PATIENCE} s")


def sign_in(browser, area, field, secret):
    """Signs in on /portal/sign-in or /admin/sign-in with a key or token."""
    sign_in_page = f"/{area}/sign-in"
    browser.get(sign_in_page)
    browser.at(sign_in_page)
    browser.one(f"label[for={field}]")
    browser.fill(f"#sign-in-form #{field}", secret)
    browser.submit("#sign-in")


def sign_out(browser, area):
    """Signs out with the header's sign-out form; waits for the sign-in page."""
    form = browser.one(f'form[action="/{area}/sign-out"]')
    browser.submit("button, input[type=submit]", within=form)
    browser.at(f"/{area}/sign-in")
