"""A customer whose browser runs no JavaScript: signs in, opens a release, downloads a file,
requests an export pack (a plain form POST) and follows its page, which reloads itself (a
meta refresh, no script) until the pack is built, then signs out. Reading and downloading
need no script; only the copy button does, and it stays hidden.
"""

import pathlib

from portal_browser import (
    Browser,
    Shots,
    arguments,
    download_link,
    expect,
    run,
    sha256,
    sign_in,
    sign_out,
    wait_export,
)


def journey(args):
    b = Browser(args.portal, Shots(args.screenshots), args.downloads, javascript=False)
    org = args.key.split("_")[1]
    product, _, version = args.release.partition("/")

    sign_in(b, "portal", "key", args.key)
    b.at("/portal")
    expect(org in b.header(), f"the header does not name the organisation {org}: {b.header()}")
    b.shot("no-script-releases")

    b.submit(f'#releases li.release[data-product="{product}"][data-version="{version}"] a')
    b.at(f"/portal/releases/{product}/{version}")
    shown = [c for c in b.all("button.copy") if c.is_displayed()]
    expect(not shown, "a copy button shows though no script runs to copy (is JavaScript off?)")
    expect(f"genesis pull {version}" in b.one("pre#commands").text, "the commands are not on the page")
    b.shot("no-script-release")

    # One download, as a person clicks it.
    name = args.file
    download_link(b.one(f'#artifacts tr[data-artifact="{name}"]')).click()
    (saved,) = b.wait_downloads([name])
    expect(sha256(saved) == sha256(args.release_dir / name), f"{name} saved by the browser is not the published file")

    # An export pack: the form posts, the status page reloads itself until the pack is built.
    b.submit("#export-form #request-export")
    b.at("/portal/exports/*")
    status = wait_export(b, "no-script-export-pending")
    expect(status == "ready", f"the export ended {status}: {b.body()[:600]}")
    b.one("a#export-download")
    b.shot("no-script-export")

    sign_out(b, "portal")


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--key", required=True, help="the organisation's license key (sk_ORG_…)")
    parser.add_argument("--release", required=True, help="PRODUCT/VERSION to open")
    parser.add_argument("--release-dir", required=True, type=pathlib.Path, help="that release's files")
    parser.add_argument("--file", required=True, help="the file of the release to download")
    parser.add_argument("--downloads", required=True, type=pathlib.Path, help="where the browser saves downloads")
    run(journey, parser)
