"""A person bound to genesis-console-viewer, after the operator's journey: sees the
pre-flight results but is offered no way to run them (the page names the right it would
take), sees the bundle and its install form, but the install is refused on a page naming the
right `create installs`, sees the Status tab, and is refused the Support tab, whose every use
makes an archive (`create supportbundles`). Each refusal keeps them signed in.
"""

from console_browser import arguments, open_tab, refused, sign_out, signed_in
from genesis_browser import Browser, Shots, expect, run


def journey(args):
    b = Browser(args.console, Shots(args.screenshots), None)

    def right(verb, resource):
        """A console action's right, as the pages name it."""
        return f"{verb} {resource}.console.genesis.dev in {args.console_namespace}"

    signed_in(b, args)
    expect(b.all("#preflight-results tbody tr[data-check]"), "the viewer does not see the last pre-flight's results")
    expect(not b.all("form#run-preflight, form.rerun"), "the viewer is offered to run pre-flight checks")
    notice = b.text("#preflight-view-only")
    expect(right("create", "preflights") in notice, f"the viewer is not told which right running takes: {notice}")
    b.shot("viewer-preflight")

    open_tab(b, "bundles")
    b.submit("th a", within=b.one(f'#bundles tr[data-bundle="{args.bundle}"]'))
    b.at(f"/bundles/{args.bundle}")
    b.submit("#install-form #install-button")
    refused(b, right("create", "installs"))
    b.shot("viewer-install-refused")

    open_tab(b, "status")
    expect(b.all("#install-records tbody tr[data-record]"), "the viewer does not see the install records")
    b.shot("viewer-status")

    b.submit("nav#tabs a#tab-support")
    b.at("/support")
    refused(b, right("create", "supportbundles"))
    b.shot("viewer-support-refused")

    sign_out(b)


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--bundle", required=True, help="a verified bundle of the Bundles tab (its file name)")
    parser.add_argument("--console-namespace", required=True, help="the console's namespace, where its rights are")
    run(journey, parser)
