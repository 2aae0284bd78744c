"""Another organisation's customer: signed in with a key entitled to none of the first
organisation's releases, sees none of them, and every page and file the first one saw
(--foreign, written by customer_journey.py) is refused: 403 or 404 for a release, 404 for an
export, whose id another organisation must not learn exists.
"""

import json
import pathlib

from portal_browser import Browser, Shots, arguments, expect, run, sign_in


def journey(args):
    b = Browser(args.portal, Shots(args.screenshots), None)
    org = args.key.split("_")[1]
    foreign = json.loads(args.foreign.read_text())

    sign_in(b, "portal", "key", args.key)
    b.at("/portal")
    expect(org in b.header(), f"the header does not name the organisation {org}: {b.header()}")
    listed = [li.get_attribute("data-version") for li in b.all("#releases li.release")]
    expect(listed == [], f"{org} sees releases {listed}")
    expect(args.other_org not in b.body(), f"{org}'s page mentions {args.other_org}")
    b.shot("other-org-releases")

    for what, path in foreign.items():
        status = b.status(path)
        allowed = (404,) if what.startswith("export") else (403, 404)
        expect(status in allowed, f"{org} asked for {args.other_org}'s {what} {path}: {status}, expected {allowed}")
    for what in ("release", "export"):
        b.get(foreign[what])
        expect(not b.all("#artifacts") and not b.all("#export-status"), f"{org} sees {foreign[what]}")
        b.shot(f"other-org-{what}")

    b.get("/portal/exports")
    export_id = foreign["export"].rsplit("/", 1)[1]
    expect(export_id not in b.body(), f"{org}'s exports page lists {args.other_org}'s export {export_id}")
    b.shot("other-org-exports")


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--key", required=True, help="this organisation's license key (sk_ORG_…)")
    parser.add_argument("--other-org", required=True, help="the organisation whose pages must stay hidden")
    parser.add_argument("--foreign", required=True, type=pathlib.Path, help="customer_journey.py's --record")
    run(journey, parser)
