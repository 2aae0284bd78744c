"""The vendor on a portal started without a vendor key (`serve` without --publish-key): the
releases page offers no upload form and says how to turn publishing on.
"""

from portal_browser import Browser, Shots, arguments, expect, run, sign_in, sign_out


def journey(args):
    admin = Browser(args.portal, Shots(args.screenshots), None)
    sign_in(admin, "admin", "token", args.token)
    admin.at("/admin")
    admin.submit("a#nav-releases")
    admin.at("/admin/releases")
    expect(not admin.all("#publish-form"), "a portal without a vendor key offers the upload form")
    off = admin.text("#publish-off")
    expect("--publish-key" in off, f"the releases page does not say how to turn publishing on: {off}")
    admin.shot("publishing-off")
    sign_out(admin, "admin")


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--token", required=True, help="an admin token (gat_…)")
    run(journey, parser)
