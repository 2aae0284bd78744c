"""An operator in the console, as issue 18 walks it: signed out, the console is its sign-in
page; a token the API server does not accept is refused with its reason; signed in with
their own token, they run the pre-flight (every check passes), download its JSON, stop Redis
and run its row again (it fails, with the remedy); upload the fixture bundle through the
page's file input (the forward in front of the console drops the first piece halfway, the
page's script resumes where the console stands), see it verified with its facts, install it
and follow its progress (the test marks the workload ready once --watching is written: no
controller runs here), read the objects applied and the Status tab, make a support bundle and
download it, its SHA-256 the one the page shows; and sign out. Writes what the test checks
further to --seen.
"""

import json
import os
import pathlib
import socket
import subprocess
import time

from selenium.webdriver.common.by import By

from console_browser import arguments, current, open_tab, settle, sign_in, sign_out, signed_in
from genesis_browser import PATIENCE, Browser, Shots, expect, run, sha256, stale


def checks(b):
    """The pre-flight rows, in order: check id → status (`data-status`)."""
    rows = b.all("#preflight-results tbody tr[data-check]")
    return {row.get_attribute("data-check"): row.get_attribute("data-status") for row in rows}


def finished(b):
    """Waits until no pre-flight run is in progress: the tab shows the results of a run that
    ended within the request, else says one runs (`#preflight-running`) and is loaded again."""
    settle(b, lambda: not b.all("#preflight-running"), "the pre-flight run", reload=True)


def cells(row):
    return [cell.text.strip() for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]


def stop_redis(port, password):
    """Stops Redis as its operator would (`redis-cli shutdown nosave`, the password from the
    environment, never the command line) and waits until its port refuses connections."""
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "shutdown", "nosave"],
        env=dict(os.environ, REDISCLI_AUTH=password),
        capture_output=True,
        timeout=PATIENCE,
    )
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        expect(time.monotonic() < deadline, f"Redis on port {port} still answers after `redis-cli shutdown`")
        time.sleep(0.1)


def preflight(b, args):
    """Every check passes; its JSON is the rows; Redis stopped, its row run again fails with a
    remedy while the others still pass."""
    expect(b.all("#preflight-none"), "a pre-flight result is shown before any run")
    b.shot("preflight-not-run")
    b.submit("form#run-preflight button[type=submit]")
    b.at("/preflight")
    current(b, "preflight")
    finished(b)
    found = checks(b)
    expect(list(found) == args.check, f"the pre-flight rows are {list(found)}, expected {args.check}")
    failing = {check: status for check, status in found.items() if status != "pass"}
    expect(not failing, f"checks that did not pass: {failing}: {b.text('#preflight-results')}")
    b.shot("preflight")
    b.phone_shot("preflight-phone")

    b.one("a#preflight-json").click()
    report = json.loads(b.wait_download("preflight.json").read_text())
    reported = {row["id"]: row["status"] for row in report["checks"]}
    expect(reported == found, f"the downloaded JSON says {reported}, the page {found}")

    stop_redis(args.redis_port, args.redis_password)
    b.submit("form.rerun button[type=submit]", within=b.one('#preflight-results tr[data-check="redis"]'))
    b.at("/preflight")
    finished(b)
    found = checks(b)
    expect(found.get("redis") == "fail", f"with Redis stopped its row says {found.get('redis')}, not fail")
    others = {check: status for check, status in found.items() if check != "redis" and status != "pass"}
    expect(not others, f"running the Redis row again changed others: {others}")
    name, status, detail, remedy = cells(b.one('#preflight-results tr[data-check="redis"]'))[:4]
    expect(status == "FAIL" and detail, f"the Redis row reads {name!r} {status!r} {detail!r}")
    expect(remedy, f"the failed Redis row names no remedy: {detail!r}")
    b.shot("preflight-redis-down")


def upload(b, args):
    """The bundle through the upload form's file input: the page's script sends it in pieces
    and, when the forward drops one, goes on from where the console stands (Chromium sends
    the piece again on a new connection and the console answers 409 with its offset, or the
    script asks HEAD after its back-off), then opens the bundle's page. What `#upload-status`
    said on the way, in order, as far as it was seen."""
    name = args.bundle.name
    open_tab(b, "bundles")
    expect(b.all("#no-bundles"), f"the Bundles tab lists bundles before any upload: {b.text('main')}")
    b.shot("bundles-empty")
    b.one("#upload-form #upload-file").send_keys(str(args.bundle))
    said = []

    def landed():
        shown = b.all("#upload-status")
        text = shown[0].text.strip() if shown else ""
        if text and (not said or said[-1] != text):
            said.append(text)
        return b.path().split("?")[0] == f"/bundles/{name}"

    b.click("#upload-form button[type=submit]")
    settle(b, landed, lambda: f"the upload of {name} (the page said {said})")
    settle(b, lambda: b.text("#bundle-state").lower() == "verified", f"{name} verified")
    expect(b.text("h1") == f"{args.bundle_name} {args.bundle_version}", f"the bundle's page is headed {b.text('h1')}")
    expect(b.text("#signer"), "the verified bundle's page names no signer")
    b.shot("bundle")
    return said


def install(b, args):
    """From the Bundles tab to the bundle's install form; the install's page follows its
    events while it runs, then shows every object applied, created and ready."""
    name = args.bundle.name
    open_tab(b, "bundles")
    row = b.one(f'#bundles tr[data-bundle="{name}"]')
    expect(row.get_attribute("data-state") == "verified", f"the Bundles tab lists {name} as {row.text}")
    b.shot("bundles")
    b.submit("th a", within=row)
    b.at(f"/bundles/{name}")
    b.submit("#install-form #install-button")
    b.at("/installs/*")
    page = b.driver.find_element(By.TAG_NAME, "html")
    state = b.one("section#install").get_attribute("data-state")
    expect(state == "running", f"the install is {state} before its workload can be ready: {b.text('#install-events')}")
    expect(b.text("#install-state").lower() == "running", f"the running install's state reads {b.text('#install-state')}")
    expect(b.all("progress#install-progress"), "the running install shows no progress bar")
    settle(b, lambda: b.all("#install-events li[data-event=phase]"), "the running install telling its progress")
    b.shot("install-running")

    # The install waits for its workload, which the test marks ready once this is written;
    # then the event stream's end reloads the page, the only thing that does with JavaScript
    # on (the page's refresh is for browsers without it).
    args.watching.write_text("the install's page is open\n")
    settle(b, lambda: stale(page), "the install's page reloaded at the end of its event stream")
    settle(b, lambda: b.text("#install-state").lower() in ("succeeded", "failed"), "the install ending")
    expect(
        b.text("#install-state").lower() == "succeeded", f"the install ended {b.text('#install-state')}: {b.text('main')}"
    )
    applied = {}
    for row in b.all("#install-objects tbody tr[data-object]"):
        applied[row.get_attribute("data-object")] = (row.get_attribute("data-outcome"), row.get_attribute("data-ready"))
    expected = {o: ("created", "true") for o in args.object}
    expect(applied == expected, f"the install applied {applied}, expected {expected}")
    b.shot("install")


def status(b, args):
    """The install's record and its objects, ready and as applied."""
    open_tab(b, "status")
    records = [r.get_attribute("data-record") for r in b.all("#install-records tbody tr[data-record]")]
    expect(records == [args.install_record], f"the Status tab lists the records {records}")
    section = b.one(f'section.record[data-record="{args.install_record}"]')
    rows = section.find_elements(By.CSS_SELECTOR, "table.objects tbody tr[data-object]")
    objects = {r.get_attribute("data-object"): r.get_attribute("data-drift") for r in rows}
    expect(objects == {o: "none" for o in args.object}, f"the record's objects and their drift: {objects}")
    workloads = [r for r in rows if r.get_attribute("data-object").startswith("Deployment ")]
    expect(all(r.get_attribute("data-ready") == "true" for r in workloads), "the Deployment is not shown ready")
    b.shot("status")


def support(b, args):
    """A support bundle of the installed namespace, downloaded; its SHA-256 and path."""
    open_tab(b, "support")
    box = b.one(f"#support-form input#namespace-{args.namespace}")
    expect(box.is_selected(), f"the installed namespace {args.namespace} is not offered checked")
    b.shot("support")
    b.submit("#support-form #make-support-bundle")
    b.at("/support/bundles/*")
    settle(b, lambda: b.all("a#support-download"), "the support bundle being made")
    digest = b.text("#support-sha256")
    expect(b.all("tr[data-rule]"), "the support bundle's page shows no redaction report")
    b.shot("support-bundle")
    b.one("a#support-download").click()
    archive = b.wait_download("genesis-support-*.tar.gz")
    expect(sha256(archive) == digest, f"the archive saved is not the one whose SHA-256 the page shows ({digest})")
    return archive, digest


def journey(args):
    b = Browser(args.console, Shots(args.screenshots), args.downloads)

    # Signed out, the console is its sign-in page: a password field the browser does not fill.
    b.get("/")
    b.at("/sign-in")
    field = b.one("#sign-in-form #token")
    expect(field.get_attribute("type") == "password", "the token field is not a password field")
    expect(field.get_attribute("autocomplete") == "off", "the token field lets the browser remember the token")
    b.shot("sign-in")

    # A token the API server does not accept is refused with its reason, not written back.
    forged = "forged-" + "0" * 40
    sign_in(b, forged)
    b.at("/sign-in")
    refusal = b.text("#sign-in-error")
    expect("The API server did not accept this token" in refusal, f"a refused sign-in says {refusal!r}")
    expect(forged not in b.driver.page_source, "the refused token is written back into the page")
    b.shot("sign-in-refused")

    signed_in(b, args)
    preflight(b, args)
    said = upload(b, args)
    install(b, args)
    status(b, args)
    archive, digest = support(b, args)

    # Signing out ends the session.
    sign_out(b)
    b.shot("signed-out")
    b.get("/status")
    b.at("/sign-in")

    seen = {"upload_said": said, "support": str(archive), "support_sha256": digest}
    args.seen.write_text(json.dumps(seen, indent=2))


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--check", required=True, action="append", help="the pre-flight's check ids, in order")
    parser.add_argument("--redis-port", required=True, type=int, help="the Redis the pre-flight checks")
    parser.add_argument("--redis-password", required=True, help="its password, to stop it with")
    parser.add_argument("--bundle", required=True, type=pathlib.Path, help="the bundle archive to upload")
    parser.add_argument("--bundle-name", required=True, help="its name, as its BOM says")
    parser.add_argument("--bundle-version", required=True, help="its version")
    parser.add_argument("--object", required=True, action="append", help="`Kind ns/name` of what it applies")
    parser.add_argument("--install-record", required=True, help="the install record it writes")
    parser.add_argument("--namespace", required=True, help="the namespace it installs into")
    parser.add_argument("--watching", required=True, type=pathlib.Path, help="written once the install is followed")
    parser.add_argument("--downloads", required=True, type=pathlib.Path, help="where the browser saves downloads")
    parser.add_argument("--seen", required=True, type=pathlib.Path, help="JSON file of what the journey saw")
    run(journey, parser)
