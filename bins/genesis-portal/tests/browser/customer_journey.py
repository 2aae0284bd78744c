"""A customer in the portal: signs in with the license key, sees exactly the entitled
releases newest first, opens one, copies its commands, downloads its bundle and sidecars,
reads the SBOM and provenance, downloads the license file, requests an export pack, watches
its page until the pack is built and downloads it, signs out. Writes the paths it saw (the
release, a file, the export, another release only this organisation is entitled to, …) to
--record, for isolation.py to try with another organisation's key.
"""

import json
import pathlib
import time

from selenium.webdriver.common.by import By

from portal_browser import (
    Browser,
    Shots,
    arguments,
    download_link,
    expect,
    path_of,
    run,
    sha256,
    sign_in,
    sign_out,
    wait_export,
)


def release_arg(text):
    """`PRODUCT/VERSION` as a pair."""
    product, _, version = text.partition("/")
    if not product or not version:
        raise ValueError(f"{text!r} is not PRODUCT/VERSION")
    return (product, version)


def listed_releases(b):
    """The releases the start page lists, as (product, version), in its order."""
    return [
        (li.get_attribute("data-product"), li.get_attribute("data-version")) for li in b.all("#releases li.release")
    ]


def release_link(product, version):
    """The start page's link to a release, as a selector."""
    return f'#releases li.release[data-product="{product}"][data-version="{version}"] a'


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
    refusal = b.text("#sign-in-error")
    expect("unknown license key" in refusal, f"a refused sign-in says {refusal!r}, not that the key is unknown")
    expect(unknown not in b.driver.page_source, "the refused key is written back into the page")
    b.shot("sign-in-refused")

    sign_in(b, "portal", "key", args.key)
    b.at("/portal")
    expect(args.key not in b.driver.page_source, "the page shows the license key")
    expect(org in b.header(), f"the header does not name the organisation {org}: {b.header()}")
    listed = listed_releases(b)
    expect(listed == args.releases, f"releases listed {listed}, expected exactly {args.releases}, newest first")
    b.one("a#nav-exports")
    b.shot("releases")
    # The guide and an error page keep the signed-in header.
    missing = "/portal/releases/genesis/99.0.0"
    for path in ("/portal/guide", missing):
        b.get(path)
        expect(org in b.header(), f"{path} signed in does not name the organisation {org}: {b.header()}")
    expect(b.status(missing) == 404, f"{missing} answers {b.status(missing)}, expected 404")
    b.shot("not-found")

    # A release only this organisation is entitled to, for isolation.py.
    other = next(r for r in args.releases if r != args.release)
    b.get("/portal")
    b.submit(release_link(*other))
    b.at("/portal/releases/*")
    other_release = b.path()
    other_file = path_of(download_link(b.all("#artifacts tr[data-artifact]")[0]))

    # The release page: every file with its SHA-256, the signer, the commands.
    product, version = args.release
    b.get("/portal")
    b.submit(release_link(product, version))
    b.at(f"/portal/releases/{product}/{version}")
    release = b.path()
    expected = {p.name: sha256(p) for p in sorted(args.release_dir.iterdir())}
    rows = {tr.get_attribute("data-artifact"): tr for tr in b.all("#artifacts tr[data-artifact]")}
    expect(sorted(rows) == sorted(expected), f"artifacts listed {sorted(rows)}, expected {sorted(expected)}")
    for name, row in rows.items():
        shown = [c.text.strip() for c in row.find_elements(By.TAG_NAME, "code")]
        expect(expected[name] in shown, f"{name}: its SHA-256 {expected[name]} is not shown in full: {row.text}")
    signer = b.text("#signer")
    expect(signer == args.signer, f"the release page names the signer {signer!r}, expected {args.signer!r}")
    commands = b.one("pre#commands").get_property("textContent")
    bundles = [n for n in expected if n.endswith(".tar.zst")]
    wanted = [f"genesis login --portal {b.portal}", f"genesis pull {version}"]
    for bundle in bundles:
        wanted += [f"genesis verify ./{bundle} --key vendor.pub", f"sha256sum -c {bundle}.sha256"]
    for command in wanted:
        expect(command in commands, f"the commands lack `{command}`:\n{commands}")
    b.shot("release")
    b.phone_shot("release-phone")

    # The copy button puts exactly the commands on the clipboard, and says so itself.
    b.grant_clipboard()
    copy = b.one('button.copy[data-copy="commands"]')
    expect(copy.is_displayed(), "the page's script shows no copy button")
    copy.click()
    deadline = time.monotonic() + 5
    while "Copied" not in copy.text and time.monotonic() < deadline:
        time.sleep(0.1)
    expect("Copied" in copy.text, f"the copy button says {copy.text!r} once clicked, not Copied")
    copied = b.clipboard()
    expect(copied.strip() == commands.strip(), f"the clipboard holds {copied!r}, not the commands {commands!r}")
    expect(f"genesis pull {version}" in copied and b.portal in copied, f"the clipboard holds {copied!r}")

    # Downloads, as a person clicks them: the bundle and each sidecar.
    links = {name: download_link(row) for name, row in rows.items()}
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
    components = [row[0] for row in b.rows("#components")]
    expect(components == args.component, f"the SBOM page lists {components}, expected {args.component}")
    b.shot("sbom")
    b.get(provenance)
    b.at(provenance)
    builder = b.text("#builder")
    expect(builder == args.builder, f"the provenance page names the builder {builder!r}, expected {args.builder!r}")
    expect(b.text("#build-type"), "the provenance page names no build type")
    materials = [row[0] for row in b.rows("#materials")]
    expect(materials == args.material, f"the provenance page lists the materials {materials}, not {args.material}")
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
    status = wait_export(b, "export-pending")
    expect(status == "ready", f"export {export_id} ended {status}: {b.body()[:600]}")
    b.shot("export")
    download = b.one("a#export-download")
    expect(path_of(download) == f"{export}/download", f"the export links to {path_of(download)}")
    download.click()
    (pack,) = b.wait_downloads([f"genesis-airgap-{export_id}.tar.gz"])
    expect(sha256(pack) in b.body(), "the export page does not show the pack's SHA-256")
    b.submit("a#nav-exports")
    b.at("/portal/exports")
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
        "other_release": other_release,
        "other_file": other_file,
    }
    args.record.write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--key", required=True, help="the organisation's license key (sk_ORG_…)")
    parser.add_argument(
        "--releases",
        required=True,
        type=lambda s: [release_arg(r) for r in s.split(",")],
        help="PRODUCT/VERSION,… the key sees, newest first",
    )
    parser.add_argument("--release", required=True, type=release_arg, help="PRODUCT/VERSION to open and export")
    parser.add_argument("--release-dir", required=True, type=pathlib.Path, help="that release's files")
    parser.add_argument("--signer", required=True, help="the fingerprint its bundles verified with (SHA256:…)")
    parser.add_argument("--component", required=True, action="append", help="its bundle's SBOM components, in order")
    parser.add_argument("--builder", required=True, help="its bundle's provenance builder id")
    parser.add_argument("--material", required=True, action="append", help="its provenance materials, in order")
    parser.add_argument("--downloads", required=True, type=pathlib.Path, help="where the browser saves downloads")
    parser.add_argument("--record", required=True, type=pathlib.Path, help="JSON file of the paths seen")
    run(journey, parser)
