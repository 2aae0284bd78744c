"""The vendor in the portal, with a customer in a second browser: signs in with an admin
token, creates an organisation and a key (shown once), finds the key by its prefix, entitles
the organisation, publishes a release by upload (a tampered bundle first, refused with the
verifier's reason), watches the customer sign in with the new key, revokes it (after a
confirmation page), and the customer's next page load is the sign-in page with the reason.
Then the exports and the audit log. Writes the key it created to --record, for the test to
look for in the log.
"""

import json
import pathlib

from selenium.common.exceptions import TimeoutException, UnexpectedAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from portal_browser import PATIENCE, Browser, Failed, Shots, arguments, expect, run, sign_in, sign_out


def first_cells(b, table):
    return [row[0] for row in b.rows(table)]


def overview_to(b, section):
    """Follows the overview's link to `section` (orgs, releases, exports, audit)."""
    b.get("/admin")
    b.submit(f"a#nav-{section}")
    b.at(f"/admin/{section}")


def publish(b, product, version, files):
    """Uploads `files` as `product` `version` with the publish form; the refusal shown, or None
    once the release's page is shown."""
    b.get("/admin/releases")
    form = b.one("#publish-form")
    first = form.find_elements(By.CSS_SELECTOR, "input")[0]
    expect(first.get_attribute("name") == "csrf", "the publish form's first field is not csrf")
    b.fill("#publish-form input[name=product]", product)
    b.fill("#publish-form input[name=version]", version)
    b.one("#publish-form input#files[type=file]").send_keys("\n".join(str(f) for f in files))
    b.click("#publish-form #publish")
    published = f"/admin/releases/{product}/{version}"
    try:
        WebDriverWait(b.driver, PATIENCE).until(lambda _: b.all("#publish-error") or b.path() == published)
    except TimeoutException:
        raise Failed(f"publishing {product} {version} led nowhere: {b.path()} {b.body()[:600]}")
    except UnexpectedAlertPresentException as alert:
        raise Failed(f"publishing {product} {version}, the page alerted: {alert.alert_text}")
    errors = b.all("#publish-error")
    return errors[0].text.strip() if errors else None


def journey(args):
    shots = Shots(args.screenshots)
    admin = Browser(args.portal, shots, None)
    org, product, version = args.org, args.product, args.version

    admin.get("/admin")
    admin.at("/admin/sign-in")
    token_field = admin.one("#sign-in-form #token")
    expect(token_field.get_attribute("type") == "password", "the token field is not a password field")
    admin.shot("admin-sign-in")
    sign_in(admin, "admin", "token", "gat_" + "0" * 64)
    admin.at("/admin/sign-in")
    expect(admin.text("#sign-in-error"), "a refused admin sign-in shows no reason")
    admin.shot("admin-sign-in-refused")
    sign_in(admin, "admin", "token", args.token)
    admin.at("/admin")
    expect(args.token not in admin.driver.page_source, "the page shows the admin token")
    for nav in ("orgs", "releases", "exports", "audit"):
        admin.one(f"a#nav-{nav}")
    admin.shot("admin")

    # An organisation and a key, shown once.
    overview_to(admin, "orgs")
    for known in args.orgs:
        expect(known in first_cells(admin, "#orgs"), f"the organisations table lacks {known}")
    admin.shot("orgs")
    admin.fill("#org-form input[name=name]", org)
    admin.submit("#org-form #create-org")
    admin.at(f"/admin/orgs/{org}")
    admin.shot("org-created")
    for scope in ("releases:read", "export:read", "export:write"):
        box = admin.one(f'#key-form input[name=scope][value="{scope}"]')
        if box.is_selected() != (scope == "releases:read"):
            box.click()
    expires = admin.one("#key-form input[name=expires_in_days]").get_attribute("value")
    expect(expires == "365", f"a new key expires in {expires} days by default, expected 365")
    admin.submit("#key-form #create-key")
    key = admin.text("code#new-key")
    expect(key.startswith(f"sk_{org}_"), f"the new key {key!r} is not one of {org}'s")
    admin.shot("key-created")
    admin.get(f"/admin/orgs/{org}")
    expect(key not in admin.driver.page_source, "the key is shown again")
    rows = admin.all("#keys tr[data-key-id]")
    expect(len(rows) == 1, f"{org} has {len(rows)} keys listed, expected 1")
    key_id = rows[0].get_attribute("data-key-id")
    prefix = key[: len(f"sk_{org}_") + 6]
    expect(prefix in rows[0].text, f"the key's row does not show its prefix {prefix}: {rows[0].text}")

    # Keys by prefix: the new one, and none for a prefix no key has.
    for typed, found in ((prefix, [key_id]), (f"sk_{org}_-", [])):
        admin.enter("#key-filter input[name=prefix]", typed)
        admin.at(f"/admin/orgs/{org}?prefix=*")
        listed = [r.get_attribute("data-key-id") for r in admin.all("#keys tr[data-key-id]")]
        expect(listed == found, f"keys with prefix {typed}: {listed}, expected {found}")
    admin.shot("keys-by-prefix")

    admin.get(f"/admin/orgs/{org}")
    admin.fill("#entitle-form input[name=product]", product)
    admin.fill("#entitle-form input[name=versions]", args.versions)
    admin.submit("#entitle-form #entitle")
    admin.at(f"/admin/orgs/{org}")
    entitlements = admin.text("#entitlements")
    expect(product in entitlements and args.versions in entitlements, f"entitlements: {entitlements}")
    admin.shot("org-entitled")

    # Publishing by upload: the tampered bundle is refused with the verifier's reason and
    # leaves no release; the good one is published.
    overview_to(admin, "releases")
    releases = admin.text("#releases")
    expect("Verified" in releases, f"the releases published with the CLI show no verification: {releases}")
    admin.shot("releases")
    refused = publish(admin, product, version, sorted(args.tampered_dir.iterdir()))
    expect(refused is not None, "a tampered bundle was published")
    for reason in ("does not verify with the vendor key", "does not match the BOM"):
        expect(reason in refused, f"the refusal does not say `{reason}`: {refused}")
    admin.shot("publish-refused")
    admin.get("/admin/releases")
    expect(product not in first_cells(admin, "#releases"), f"the refused upload left a {product} release")
    refused = publish(admin, product, version, sorted(args.release_dir.iterdir()))
    expect(refused is None, f"the good release was refused: {refused}")
    page = admin.body()
    for name in (p.name for p in args.release_dir.iterdir()):
        expect(name in page, f"the published release's page does not list {name}")
    admin.shot("release-published")
    admin.get("/admin/releases")
    expect(product in first_cells(admin, "#releases"), f"the releases table lacks {product}")
    admin.shot("releases-published")

    # The customer signs in with the new key, in a browser of their own.
    customer = Browser(args.portal, shots, None)
    sign_in(customer, "portal", "key", key)
    customer.at("/portal")
    listed = [
        (li.get_attribute("data-product"), li.get_attribute("data-version"))
        for li in customer.all("#releases li.release")
    ]
    expect(listed == [(product, version)], f"{org} sees {listed}, expected only {product} {version}")
    expect(not customer.all("a#nav-exports"), "a key without export:read is offered the exports page")
    customer.submit(f'#releases li.release[data-product="{product}"][data-version="{version}"] a')
    customer.at(f"/portal/releases/{product}/{version}")
    commands = customer.one("pre#commands").get_property("textContent")
    expect(f"genesis pull {version} --product {product}" in commands, f"the commands lack --product:\n{commands}")
    customer.shot("customer-release")

    # The vendor revokes the key, once sure: the customer's next page load signs them out,
    # with the reason.
    admin.get(f"/admin/orgs/{org}")
    row = admin.one(f'#keys tr[data-key-id="{key_id}"]')
    admin.submit("a.revoke", within=row)
    admin.at(f"/admin/keys/{key_id}/revoke")
    question = admin.body()
    expect(key_id in question and org in question, f"the confirmation does not name {key_id} of {org}: {question}")
    admin.shot("revoke-confirm")
    page = f"/portal/releases/{product}/{version}"
    expect(customer.status(page) == 200, "the key was revoked before the vendor confirmed")
    admin.submit("#revoke-form #confirm-revoke")
    admin.at(f"/admin/orgs/{org}")
    row = admin.one(f'#keys tr[data-key-id="{key_id}"]')
    expect("revoked" in row.text.lower(), f"the revoked key's row says {row.text}")
    admin.shot("key-revoked")
    customer.get(page)
    customer.at("/portal/sign-in")
    ended = customer.text("p#session-ended")
    expect("revoked" in ended, f"the sign-in page says {ended!r}, not that the key was revoked")
    customer.shot("customer-signed-out")

    # Exports in flight and done, and who did what.
    overview_to(admin, "exports")
    for export in args.exports:
        expect(export in admin.text("#exports"), f"the exports table lacks {export}")
    admin.shot("admin-exports")
    overview_to(admin, "audit")
    audit = admin.text("#audit")
    for entry in (
        f"admin:{args.admin}",
        "org.create",
        "key.create",
        "entitle",
        "release.publish",
        "key.revoke",
        "sign-in",
        "download",
    ):
        expect(entry in audit, f"the audit log lacks `{entry}`")
    downloads = first_cells(admin, "#downloads-per-org")
    for downloader in args.downloaders:
        expect(downloader in downloads, f"downloads per organisation lack {downloader}: {downloads}")
    admin.shot("audit")

    sign_out(admin, "admin")
    admin.get("/admin")
    admin.at("/admin/sign-in")
    args.record.write_text(json.dumps({"key": key}))


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--token", required=True, help="an admin token (gat_…)")
    parser.add_argument("--admin", required=True, help="the token's admin name, as the audit log shows it")
    parser.add_argument("--orgs", required=True, type=lambda s: s.split(","), help="ORG,… already there")
    parser.add_argument("--org", required=True, help="the organisation to create")
    parser.add_argument("--product", required=True, help="the product to entitle it to and publish")
    parser.add_argument("--versions", required=True, help="the version range to entitle it to")
    parser.add_argument("--version", required=True, help="the version to publish (the bundles' own)")
    parser.add_argument("--release-dir", required=True, type=pathlib.Path, help="the release's files")
    parser.add_argument("--tampered-dir", required=True, type=pathlib.Path, help="the same, one bundle tampered")
    parser.add_argument("--exports", default="", type=lambda s: [e for e in s.split(",") if e], help="ID,… listed")
    parser.add_argument("--downloaders", default="", type=lambda s: [o for o in s.split(",") if o], help="ORG,…")
    parser.add_argument("--record", required=True, type=pathlib.Path, help="JSON file the new key goes to")
    run(journey, parser)
