"""What the console's browser journeys share beyond genesis_browser (the journeys' common
driver, crates/genesis-testkit/browser/genesis_browser.py): the `--console` argument, signing
in with a Kubernetes bearer token and out, the tabs, refusals, and waiting on a page that
changes by itself (live progress, a page that refreshes itself).

The journeys (console_journey.py, viewer_journey.py) are run by
bins/genesis-console/tests/it/browser.rs through genesis_testkit::browser::journey, which puts
genesis_browser on PYTHONPATH. Each exits 0 when every expectation held, else 1 with the one
that failed on stderr.
"""

import time

from selenium.common.exceptions import WebDriverException

import genesis_browser
from genesis_browser import PATIENCE, Failed, expect

# The tabs, in the order the navigation shows them.
TABS = ("preflight", "bundles", "status", "support")


def arguments(description):
    """The arguments every console journey takes (`--console`, `--screenshots`, and the
    signed-in user's `--token` and `--user`); the journey adds its own."""
    parser = genesis_browser.arguments(description, "console", "http://127.0.0.1:8443")
    parser.add_argument("--token", required=True, help="a bearer token the API server accepts for the user")
    parser.add_argument("--user", required=True, help="the user name the API server gives that token")
    return parser


def sign_in(b, token):
    """Signs in on /sign-in with `token` in the password field `#token`."""
    b.get("/sign-in")
    b.at("/sign-in")
    b.one("label[for=token]")
    b.fill("#sign-in-form #token", token)
    b.submit("#sign-in-form #sign-in")


def signed_in(b, args):
    """Signs in with the journey's token; checks the first tab is shown, to the user the API
    server names, with every tab offered and the token nowhere in the page."""
    sign_in(b, args.token)
    b.at("/preflight")
    expect(b.text("#user") == args.user, f"the header names {b.text('#user')!r}, not the user {args.user!r}")
    expect(args.token not in b.driver.page_source, "the page shows the token")
    tabs = [a.get_attribute("id") for a in b.all("nav#tabs a")]
    expect(tabs == [f"tab-{tab}" for tab in TABS], f"the tabs are {tabs}")
    current(b, "preflight")


def current(b, tab):
    """The navigation marks `tab`, and it alone, as the page shown."""
    marked = [a.get_attribute("id") for a in b.all("nav#tabs a[aria-current=page]")]
    expect(marked == [f"tab-{tab}"], f"on {b.path()} the navigation marks {marked} as current, not tab-{tab}")


def open_tab(b, tab):
    """Follows the navigation's link to `tab`."""
    b.submit(f"nav#tabs a#tab-{tab}")
    b.at(f"/{tab}")
    current(b, tab)


def sign_out(b):
    """Signs out with the header's form `#sign-out`; waits for the sign-in page."""
    b.submit("button, input[type=submit]", within=b.one("form#sign-out"))
    b.at("/sign-in")


def refused(b, right):
    """The page shown is the refusal of `right` (`verb resource.group in namespace`): an
    error page whose `#forbidden` names the right and the ClusterRole that grants it, with the
    signed-in header kept."""
    said = b.text("#error #forbidden")
    expect(right in said, f"the refusal does not name the right `{right}`: {said}")
    expect("genesis-console-operator" in said, f"the refusal does not say which role grants it: {said}")
    expect(b.all("#user") and b.all("nav#tabs"), "the refusal's page lost the signed-in header")


def settle(b, done, what, reload=False):
    """Waits until `done()` holds on the page shown, which changes by itself (a script
    following progress, a page refreshing itself) or, with `reload`, is loaded again every
    second; a page being replaced meanwhile is waited out. Fails naming `what` (a text, or a
    function that gives it then)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            if done():
                return
        except (Failed, WebDriverException):
            pass  # the page was being replaced, or is not there yet
        if time.monotonic() > deadline:
            what = what() if callable(what) else what
            raise Failed(f"{what}: still not so after {PATIENCE} s on {b.path()}: {b.body()[:800]}")
        time.sleep(1 if reload else 0.2)
        if reload:
            b.driver.refresh()
