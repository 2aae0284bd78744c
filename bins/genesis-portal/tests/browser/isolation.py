"""Another organisation's customer, entitled to the same release as the first one
(--shared, PRODUCT/VERSION) and to nothing else published: sees that release, its files, SBOM
and provenance (200), because the entitlement says so; everything that is the first
organisation's own is refused, whatever its path (--foreign, written by customer_journey.py):
403 or 404 for the release only the first one is entitled to, 404 for its export pack, whose
id another organisation must not learn exists, and its exports page lists none of them.
"""

import json
import pathlib

from portal_browser import Browser, Shots, arguments, expect, run, sign_in

# The paths of customer_journey.py's record this organisation is entitled to as well.
SHARED = ("release", "file", "sbom", "provenance")


def journey(args):
    b = Browser(args.portal, Shots(args.screenshots), None)
    org = args.key.split("_")[1]
    foreign = json.loads(args.foreign.read_text())
    product, _, version = args.shared.partition("/")

    sign_in(b, "portal", "key", args.key)
    b.at("/portal")
    expect(org in b.header(), f"{org}'s header does not name it: {b.header()}")
    listed = [
        (li.get_attribute("data-product"), li.get_attribute("data-version")) for li in b.all("#releases li.release")
    ]
    expect(listed == [(product, version)], f"{org} sees releases {listed}, expected only {args.shared}")
    expect(args.other_org not in b.body(), f"{org}'s page mentions {args.other_org}")
    b.shot("other-org-releases")

    for what, path in foreign.items():
        status = b.status(path)
        if what in SHARED:
            allowed = (200,)
        elif what.startswith("export"):
            allowed = (404,)
        else:
            allowed = (403, 404)
        expect(status in allowed, f"{org} asked for {args.other_org}'s {what} {path}: {status}, expected {allowed}")

    b.get(foreign["release"])
    b.at(f"/portal/releases/{product}/{version}")
    expect(b.all("#artifacts"), f"{org} does not see the release {args.shared} it is entitled to")
    b.shot("shared-release")
    for what in ("other_release", "export"):
        b.get(foreign[what])
        expect(not b.all("#artifacts") and not b.all("#export-status"), f"{org} sees {foreign[what]}")
        expect(org in b.header(), f"the refusal of {foreign[what]} does not keep {org}'s header: {b.header()}")
        b.shot(f"other-org-{what.replace('_', '-')}")

    b.get("/portal/exports")
    export_id = foreign["export"].rsplit("/", 1)[1]
    expect(export_id not in b.body(), f"{org}'s exports page lists {args.other_org}'s export {export_id}")
    expect(not b.all("#exports tbody tr"), f"{org}'s exports page lists exports: {b.text('#exports')}")
    b.shot("other-org-exports")


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--key", required=True, help="this organisation's license key (sk_ORG_…)")
    parser.add_argument("--other-org", required=True, help="the organisation whose own pages must stay hidden")
    parser.add_argument("--shared", required=True, help="PRODUCT/VERSION both organisations are entitled to")
    parser.add_argument("--foreign", required=True, type=pathlib.Path, help="customer_journey.py's --record")
    run(journey, parser)
