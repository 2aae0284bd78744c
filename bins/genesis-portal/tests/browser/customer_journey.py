"""A customer in the portal: signs in with the license key, sees exactly the entitled
releases, opens one, copies its commands, downloads its bundle and sidecars, reads the SBOM
and provenance, downloads the license file, requests an export pack and downloads it, signs
out. Writes the paths it saw (the release, a file, the export, …) to --record, for
isolation.py to try with another organisation's key.
"""

import json
import pathlib
import time
from urllib.parse import urlparse

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By

from portal_browser import PATIENCE, Browser, Shots, arguments, expect, run, sha256, sign_in, sign_out


def path_of(link):
    """The path of a link's target."""
    return urlparse(link.get_attribute("href")).path


def journey(args):
    b = Browser(args.portal, Shots(args.screenshots), args.downloads)
    org = args.key.split("_")[1]

    # Signed out, the portal is its sign-in page; the guide needs no sign-in.
    b.get("/")
    b.at("/portal/sign-in")
    key_field = b.one("#sign-in-form #key")
    expect(key_field.get_attribute("type") == "password", "the key field is not a password field")
    expect(key_field.get_attribute("autocomplete") == "off", "the key field lets the browser remember the key")
    b.shot("sign-in")
    b.get("/portal/guide")
    b.at("/portal/guide")
    guide = b.body()
    for command in ("genesis login", "genesis pull", "genesis verify", "sha256sum -c"):
        expect(command in guide, f"the air-gap workflow page does not mention `{command}`")
    b.shot("guide")

    # A key the portal never issued is refused, with the reason, on the form again.
    unknown = f"sk_{org}_" + "0" * 48
    sign_in(b, "portal", "key", unknown)
    b.at("/portal/sign-in")
    expect(b.text("#sign-in-error"), "a refused sign-in shows no reason")
    expect(unknown not in b.driver.page_source, "the refused key is written back into the page")
    b.shot("sign-in-refused")

    sign_in(b, "portal", "key", args.key)
    b.at("/portal")
    expect(args.key not in b.driver.page_source, "the page shows the license key")
    expect(org in b.header(), f"the header does not name the organisation {org}: {b.header()}")
    versions = [li.get_attribute("data-version") for li in b.all("#releases li.release")]
    expect(versions == args.releases, f"releases listed {versions}, expected {args.releases}")
    b.shot("releases")

    # The release page: every file with its SHA-256, the signer, the commands.
    version = args.releases[0]
    b.submit(f'#releases li.release[data-version="{version}"] a')
    b.at("/portal/releases/*")
    release = b.path()
    expected = {p.name: sha256(p) for p in sorted(args.release_dir.iterdir())}
    rows = {tr.get_attribute("data-artifact"): tr for tr in b.all("#artifacts tr[data-artifact]")}
    expect(sorted(rows) == sorted(expected), f"artifacts listed {sorted(rows)}, expected {sorted(expected)}")
    for name, row in rows.items():
        shown = [c.text.strip() for c in row.find_elements(By.TAG_NAME, "code")]
        expect(expected[name] in shown, f"{name}: its SHA-256 {expected[name]} is not shown in full: {row.text}")
    expect(b.text("#signer"), "the release page names no signer")
    commands = b.one("pre#commands").get_property("textContent")
    bundles = [n for n in expected if n.endswith(".tar.zst")]
    wanted = [f"genesis login --portal {b.portal}", f"genesis pull {version}"]
    for bundle in bundles:
        wanted += [f"genesis verify ./{bundle} --key vendor.pub", f"sha256sum -c {bundle}.sha256"]
    for command in wanted:
        expect(command in commands, f"the commands lack `{command}`:\n{commands}")
    b.shot("release")
    b.phone_shot("release-phone")

    # The copy button puts exactly the commands on the clipboard.
    b.grant_clipboard()
    b.click('button.copy[data-copy="commands"]')
    deadline = time.monotonic() + 5
    while "Copied" not in b.body() and time.monotonic() < deadline:
        time.sleep(0.1)
    expect("Copied" in b.body(), "the page does not say the commands were copied")
    copied = b.clipboard()
    expect(copied.strip() == commands.strip(), f"the clipboard holds {copied!r}, not the commands {commands!r}")
    expect(f"genesis pull {version}" in copied and b.portal in copied, f"the clipboard holds {copied!r}")

    # Downloads, as a person clicks them: the bundle and each sidecar.
    links = {name: row.find_element(By.CSS_SELECTOR, "a.download") for name, row in rows.items()}
    for name, link in links.items():
        expect(link.get_attribute("download") is not None, f"the link to {name} is not a download link")
        link.click()
    for saved in b.wait_downloads(sorted(links)):
        expect(sha256(saved) == expected[saved.name], f"{saved.name} saved by the browser is not the published file")
    file = path_of(links[bundles[0]])

    # The bundle's SBOM and provenance, as pages.
    sbom = path_of(b.all("a.sbom")[0])
    provenance = path_of(b.all("a.provenance")[0])
    b.get(sbom)
    b.at(sbom)
    expect(b.rows("#components"), f"the SBOM page lists no component: {b.body()[:600]}")
    b.shot("sbom")
    b.get(provenance)
    b.at(provenance)
    expect(b.text("#builder"), "the provenance page names no builder")
    expect(b.text("#build-type"), "the provenance page names no build type")
    b.one("#materials")
    b.shot("provenance")

    # The offline license file.
    b.get("/portal")
    b.one("a#license-download").click()
    (license,) = b.wait_downloads([f"license-{org}.json"])
    expect(json.loads(license.read_text()), "the license file is empty")

    # An export pack: requested, built, downloaded, listed.
    b.get(release)
    b.submit("#export-form #request-export")
    b.at("/portal/exports/*")
    export = b.path()
    export_id = export.rsplit("/", 1)[1]
    status = wait_export(b)
    expect(status == "ready", f"export {export_id} ended {status}: {b.body()[:600]}")
    b.shot("export")
    download = b.one("a#export-download")
    expect(path_of(download) == f"{export}/download", f"the export links to {path_of(download)}")
    download.click()
    (pack,) = b.wait_downloads([f"genesis-airgap-{export_id}.tar.gz"])
    expect(sha256(pack) in b.body(), "the export page does not show the pack's SHA-256")
    b.get("/portal/exports")
    expect(export_id in b.text("#exports"), f"the exports page does not list {export_id}")
    b.shot("exports")

    # Signing out ends the session.
    b.get("/portal")
    sign_out(b, "portal")
    b.shot("signed-out")
    b.get("/portal")
    b.at("/portal/sign-in")

    record = {
        "release": release,
        "file": file,
        "sbom": sbom,
        "provenance": provenance,
        "export": export,
        "export_download": f"{export}/download",
    }
    args.record.write_text(json.dumps(record, indent=2))


def wait_export(b):
    """Waits while the export page says pending (it refreshes itself); the status it ends on."""
    deadline = time.monotonic() + PATIENCE
    while True:
        try:
            status = b.text("#export-status")
        except (StaleElementReferenceException, WebDriverException):
            status = "pending"  # the page was reloading
        if status != "pending" or time.monotonic() > deadline:
            return status
        time.sleep(0.5)
        b.driver.refresh()


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--key", required=True, help="the organisation's license key (sk_ORG_…)")
    parser.add_argument(
        "--releases", required=True, type=lambda s: s.split(","), help="VER,… the key sees, newest first"
    )
    parser.add_argument("--release-dir", required=True, type=pathlib.Path, help="the first release's files")
    parser.add_argument("--downloads", required=True, type=pathlib.Path, help="where the browser saves downloads")
    parser.add_argument("--record", required=True, type=pathlib.Path, help="JSON file of the paths seen")
    run(journey, parser)
