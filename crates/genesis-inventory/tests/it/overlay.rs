//! Layers applied in order: package databases found, whiteouts and opaque directories
//! deleting them, replacement, links, the distribution, and every compression.

use std::collections::BTreeMap;

use genesis_inventory::PackageKind;

use crate::Entry::{Dir, Executable, File, HardLink, Symlink};
use crate::{
    ALPINE_OS_RELEASE, APK_INSTALLED, APK_PURLS, BASE, DEBIAN_OS_RELEASE, DPKG_PURLS, UPPER, ZLIB_PURL, ZLIB_STATUS,
    debian_base, gzipped, inventory_of, layer, purls, zstd_compressed,
};

const UBUNTU_OS_RELEASE: &[u8] =
    b"PRETTY_NAME=\"Ubuntu 22.04.3 LTS\"\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\n";

/// Distroless's os-release (gcr.io/distroless/base-debian12).
const DISTROLESS_OS_RELEASE: &[u8] = b"PRETTY_NAME=\"Distroless\"\nNAME=\"Debian GNU/Linux\"\nID=\"debian\"\n\
VERSION_ID=\"12\"\nVERSION=\"Debian GNU/Linux 12 (bookworm)\"\nHOME_URL=\"https://github.com/GoogleContainerTools/distroless\"\n";

/// A distroless `status.d` stanza: the package's control file, which has no `Status`.
const LIBC6_STANZA: &[u8] = b"Package: libc6\nSource: glibc\nVersion: 2.36-9+deb12u7\nArchitecture: amd64\n\
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>\nInstalled-Size: 12987\nDepends: libgcc-s1\n\
Description: GNU C Library: Shared libraries\n Contains the standard libraries that are used by nearly all programs on\n the system.\n";
const LIBC6_PURL: &str = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12&upstream=glibc";

fn distro_of(layers: &[(&str, Vec<u8>)]) -> Option<String> {
    inventory_of(layers).distro.map(|distro| distro.id)
}

#[test]
fn a_debian_image_gives_every_dpkg_package_with_its_distro_licences_and_layer() {
    let found = inventory_of(&[(BASE, gzipped(&debian_base()))]);
    assert_eq!(purls(&found), DPKG_PURLS);
    let distro = found.distro.as_ref().unwrap();
    assert_eq!((distro.id.as_str(), distro.version_id.as_deref()), ("debian", Some("12")));
    let licenses: BTreeMap<&str, &[String]> =
        found.packages.iter().map(|package| (package.name.as_str(), package.licenses.as_slice())).collect();
    assert_eq!(licenses["libssl3"], ["Apache-2.0", "Artistic", "Artistic or GPL-1+", "GPL-1+"]);
    assert_eq!(licenses["tzdata"], ["public-domain"]);
    assert!(licenses["base-files"].is_empty(), "its copyright file is free text");
    assert!(licenses["bash"].is_empty(), "the image has no copyright file for it");
    for package in &found.packages {
        assert_eq!(
            (package.kind, package.found_in.as_str(), package.layer.as_str()),
            (PackageKind::Deb, "var/lib/dpkg/status", BASE)
        );
    }
    assert!(found.notes.is_empty(), "{:?}", found.notes);
}

#[test]
fn an_alpine_image_gives_its_apk_packages() {
    let base = layer(&[
        File("etc/os-release", ALPINE_OS_RELEASE),
        Dir("lib/apk/db"),
        File("lib/apk/db/installed", APK_INSTALLED),
    ]);
    let found = inventory_of(&[(BASE, zstd_compressed(&base))]);
    assert_eq!(purls(&found), APK_PURLS);
    assert_eq!(found.packages[1].licenses, ["Apache-2.0"]);
    assert_eq!(found.packages[1].source.as_deref(), Some("openssl"));
    assert!(found.notes.is_empty(), "{:?}", found.notes);
}

#[test]
fn a_distroless_status_d_gives_one_package_per_file_and_ignores_checksum_lists() {
    let tzdata = b"Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\nDescription: time zone data\n";
    let base = layer(&[
        File("etc/os-release", DISTROLESS_OS_RELEASE),
        Dir("var/lib/dpkg/status.d"),
        File("var/lib/dpkg/status.d/libc6", LIBC6_STANZA),
        // Not a stanza: read as one, it would be a malformed-file note.
        File(
            "var/lib/dpkg/status.d/libc6.md5sums",
            b"0c2bd7f1d7f44d8a4d4d4c8c0e46e1b4  lib/x86_64-linux-gnu/libc.so.6\n",
        ),
        File("var/lib/dpkg/status.d/tzdata", tzdata),
    ]);
    let found = inventory_of(&[(BASE, base)]);
    assert_eq!(purls(&found), [LIBC6_PURL, "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12"]);
    assert_eq!(found.packages[0].found_in, "var/lib/dpkg/status.d/libc6");
    assert_eq!(found.distro.unwrap().pretty_name.as_deref(), Some("Distroless"));
    assert!(found.notes.is_empty(), "{:?}", found.notes);
}

#[test]
fn a_whiteout_in_an_upper_layer_deletes_the_package_database_or_its_directory() {
    let base = layer(&[
        File("etc/os-release", ALPINE_OS_RELEASE),
        Dir("lib/apk/db"),
        File("lib/apk/db/installed", APK_INSTALLED),
    ]);
    assert_eq!(purls(&inventory_of(&[(BASE, base.clone())])), APK_PURLS);

    let upper = zstd_compressed(&layer(&[Dir("lib/apk/db"), File("lib/apk/db/.wh.installed", b"")]));
    let found = inventory_of(&[(BASE, base.clone()), (UPPER, upper)]);
    assert!(found.packages.is_empty(), "{:?}", purls(&found));
    assert_eq!(found.distro.unwrap().id, "alpine", "the whiteout deletes only its own name");

    let upper = gzipped(&layer(&[File("lib/apk/.wh.db", b"")]));
    assert!(inventory_of(&[(BASE, base.clone()), (UPPER, upper)]).packages.is_empty());

    let upper = layer(&[File("lib/apk/db/.wh.installed-old", b""), File("lib/.wh.ap", b"")]);
    assert_eq!(purls(&inventory_of(&[(BASE, base), (UPPER, upper)])), APK_PURLS, "other names delete nothing");
}

#[test]
fn an_opaque_directory_hides_what_lower_layers_put_in_it_but_not_what_its_own_layer_writes() {
    let base = layer(&[
        File("etc/os-release", DEBIAN_OS_RELEASE),
        File("var/lib/dpkg/status", crate::DPKG_STATUS),
        File("var/lib/dpkg/status.d/libc6", LIBC6_STANZA),
    ]);
    // The marker comes after the new status in the tar: order within a layer does not matter.
    let upper =
        layer(&[Dir("var/lib/dpkg"), File("var/lib/dpkg/status", ZLIB_STATUS), File("var/lib/dpkg/.wh..wh..opq", b"")]);
    let found = inventory_of(&[(BASE, base.clone()), (UPPER, upper)]);
    assert_eq!(purls(&found), [ZLIB_PURL]);
    assert_eq!(found.packages[0].layer, UPPER);

    let elsewhere = layer(&[File("var/lib/apt/.wh..wh..opq", b""), File("var/lib/dpkg/status.d/.wh..wh..opq", b"")]);
    let found = inventory_of(&[(BASE, base), (UPPER, elsewhere)]);
    assert_eq!(found.packages.len(), 5, "only status.d's own files are hidden: {:?}", purls(&found));
}

#[test]
fn a_whiteout_spares_the_file_its_own_layer_writes() {
    let base = layer(&[File("etc/os-release", DEBIAN_OS_RELEASE), File("var/lib/dpkg/status", crate::DPKG_STATUS)]);
    let upper = layer(&[File("var/lib/dpkg/status", ZLIB_STATUS), File("var/lib/dpkg/.wh.status", b"")]);
    assert_eq!(purls(&inventory_of(&[(BASE, base), (UPPER, upper)])), [ZLIB_PURL]);
}

#[test]
fn a_later_layer_replaces_a_database_and_is_recorded_as_its_layer() {
    let upper = layer(&[Dir("var/lib/dpkg"), File("var/lib/dpkg/status", ZLIB_STATUS)]);
    let found = inventory_of(&[(BASE, debian_base()), (UPPER, upper)]);
    assert_eq!(purls(&found), [ZLIB_PURL]);
    assert_eq!(found.packages[0].layer, UPPER);
}

#[test]
fn a_file_or_link_replacing_a_directory_removes_everything_under_it() {
    let base = layer(&[File("etc/os-release", DEBIAN_OS_RELEASE), File("var/lib/dpkg/status.d/libc6", LIBC6_STANZA)]);
    assert_eq!(purls(&inventory_of(&[(BASE, base.clone())])), [LIBC6_PURL]);
    for upper in [
        layer(&[File("var/lib/dpkg/status.d", b"now a file")]),
        layer(&[Symlink("var/lib/dpkg", "/opt/dpkg")]),
        layer(&[Executable("var", b"#!/bin/sh\n")]),
    ] {
        assert!(inventory_of(&[(BASE, base.clone()), (UPPER, upper)]).packages.is_empty());
    }
    let directories = layer(&[Dir("var"), Dir("var/lib/dpkg"), Dir("var/lib/dpkg/status.d")]);
    assert_eq!(purls(&inventory_of(&[(BASE, base), (UPPER, directories)])), [LIBC6_PURL], "directories merge");
}

#[test]
fn a_directory_replacing_a_file_removes_it() {
    let base = layer(&[File("etc/os-release", DEBIAN_OS_RELEASE), File("var/lib/dpkg/status", ZLIB_STATUS)]);
    let upper = layer(&[Dir("var/lib/dpkg/status")]);
    assert!(inventory_of(&[(BASE, base), (UPPER, upper)]).packages.is_empty());
}

#[test]
fn os_release_in_etc_wins_and_one_link_between_the_two_paths_is_followed() {
    let image = |entries: &[crate::Entry<'_>]| distro_of(&[(BASE, layer(entries))]);
    let debian = Some("debian".to_owned());
    let ubuntu = Some("ubuntu".to_owned());
    assert_eq!(
        image(&[File("etc/os-release", UBUNTU_OS_RELEASE), File("usr/lib/os-release", DEBIAN_OS_RELEASE)]),
        ubuntu
    );
    assert_eq!(image(&[File("usr/lib/os-release", DEBIAN_OS_RELEASE)]), debian);
    assert_eq!(
        image(&[Symlink("etc/os-release", "/usr/lib/os-release"), File("usr/lib/os-release", DEBIAN_OS_RELEASE)]),
        debian
    );
    assert_eq!(
        image(&[File("etc/os-release", UBUNTU_OS_RELEASE), Symlink("usr/lib/os-release", "../../etc/os-release")]),
        ubuntu
    );
    assert_eq!(
        image(&[Symlink("etc/os-release", "/run/host/os-release"), File("usr/lib/os-release", DEBIAN_OS_RELEASE)]),
        debian,
        "a link elsewhere falls back to usr/lib"
    );
    assert_eq!(
        image(&[
            Symlink("etc/os-release", "../usr/lib/os-release"),
            Symlink("usr/lib/os-release", "../../etc/os-release")
        ]),
        None
    );
    assert_eq!(image(&[]), None);

    let upper =
        layer(&[Symlink("etc/os-release", "../usr/lib/os-release"), File("usr/lib/os-release", UBUNTU_OS_RELEASE)]);
    assert_eq!(distro_of(&[(BASE, layer(&[File("etc/os-release", DEBIAN_OS_RELEASE)])), (UPPER, upper)]), ubuntu);
}

#[test]
fn package_databases_without_os_release_say_their_purls_name_no_release() {
    let found = inventory_of(&[(BASE, layer(&[File("var/lib/dpkg/status", ZLIB_STATUS)]))]);
    assert_eq!(purls(&found), ["pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&upstream=zlib"]);
    assert_eq!(found.notes.len(), 1);
    assert!(found.notes[0].contains("no os-release file"), "{:?}", found.notes);
}

#[test]
fn a_hard_link_keeps_the_content_of_a_kept_file_and_a_link_to_another_file_is_noted() {
    let base = layer(&[
        File("usr/lib/os-release", DEBIAN_OS_RELEASE),
        HardLink("etc/os-release", "usr/lib/os-release"),
        File("var/lib/dpkg/status", ZLIB_STATUS),
        HardLink("var/lib/dpkg/status.d/zlib1g", "var/lib/dpkg/status"),
        File("var/lib/dpkg/status-old", ZLIB_STATUS),
        HardLink("lib/apk/db/installed", "var/lib/dpkg/status-old"),
    ]);
    let upper = layer(&[File("usr/lib/.wh.os-release", b""), File("var/lib/dpkg/.wh.status", b"")]);
    let found = inventory_of(&[(BASE, base), (UPPER, upper)]);
    assert_eq!(found.distro.map(|distro| distro.id).as_deref(), Some("debian"), "the link outlives its target");
    let kept: Vec<_> =
        found.packages.iter().map(|package| (package.purl.as_str(), package.found_in.as_str())).collect();
    assert_eq!(kept, [(ZLIB_PURL, "var/lib/dpkg/status.d/zlib1g")]);
    assert_eq!(
        found.notes,
        ["layer sha256:base: lib/apk/db/installed is a hard link to var/lib/dpkg/status-old, which the inventory \
             cannot follow: not inventoried"]
    );
}

#[test]
fn every_compression_and_a_multi_member_gzip_give_the_same_inventory() {
    let plain = debian_base();
    let (front, back) = plain.split_at(plain.len() / 3);
    let multi_member = [gzipped(front), gzipped(back)].concat();
    for blob in [plain.clone(), gzipped(&plain), zstd_compressed(&plain), multi_member] {
        let found = inventory_of(&[(BASE, blob)]);
        assert_eq!(purls(&found), DPKG_PURLS);
        assert!(found.notes.is_empty(), "{:?}", found.notes);
    }
}

#[test]
fn an_rpm_berkeley_db_is_noted_as_not_inventoried_until_a_whiteout_deletes_it() {
    let base = layer(&[
        File("etc/os-release", b"ID=\"rocky\"\nVERSION_ID=\"8.9\"\n"),
        File("var/lib/rpm/Packages", b"\x00\x06\x15\x61 a Berkeley DB hash file"),
    ]);
    let found = inventory_of(&[(BASE, base.clone())]);
    assert!(found.packages.is_empty());
    assert_eq!(found.notes.len(), 1, "{:?}", found.notes);
    assert!(found.notes[0].starts_with("var/lib/rpm/Packages "), "{:?}", found.notes);

    let upper = layer(&[File("var/lib/rpm/.wh.Packages", b"")]);
    assert!(inventory_of(&[(BASE, base), (UPPER, upper)]).notes.is_empty());
}

#[test]
fn python_and_npm_metadata_anywhere_in_the_tree_are_inventoried_until_their_directory_goes() {
    let site = "usr/lib/python3/dist-packages";
    let base = layer(&[
        File(
            &format!("{site}/six-1.16.0.dist-info/METADATA"),
            b"Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense: MIT\n",
        ),
        File(
            "app/node_modules/@npmcli/fs/package.json",
            br#"{"name": "@npmcli/fs", "version": "3.1.0", "license": "ISC"}"#,
        ),
    ]);
    let found = inventory_of(&[(BASE, base.clone())]);
    assert_eq!(purls(&found), ["pkg:pypi/six@1.16.0", "pkg:npm/%40npmcli/fs@3.1.0"]);
    assert_eq!(found.packages[0].found_in, format!("{site}/six-1.16.0.dist-info/METADATA"));
    assert_eq!(found.packages[1].layer, BASE);

    let upper = layer(&[File("usr/lib/python3/.wh.dist-packages", b""), File("app/.wh..wh..opq", b"")]);
    assert!(inventory_of(&[(BASE, base), (UPPER, upper)]).packages.is_empty());
}

/// Executables go to the binary inspector, which may stop reading early: the next entry must
/// still be read whole, from the right place.
#[test]
fn executables_read_in_part_leave_the_following_entries_intact() {
    let mut not_really_elf = b"\x7fELF\x02\x01\x01".to_vec();
    not_really_elf.resize(200_000, 0x5a);
    let base = layer(&[
        Executable("usr/local/bin/tool", &not_really_elf),
        Executable("usr/local/bin/script", b"#!/bin/sh\necho hello\n"),
        Executable("usr/local/bin/tiny", b"\x7fE"),
        File("etc/os-release", DEBIAN_OS_RELEASE),
        File("var/lib/dpkg/status", crate::DPKG_STATUS),
    ]);
    let found = inventory_of(&[(BASE, gzipped(&base))]);
    assert_eq!(purls(&found), DPKG_PURLS);
}

/// A runtime writes through the image's symbolic links and the package manager reads through
/// them: a link at or above a database path leads the inventory there too, and the packages
/// are found at their real path.
#[test]
fn a_database_behind_a_linked_directory_is_read_where_the_links_lead() {
    // dpkg's directory links elsewhere: whether the layer names the file at its real path or
    // through the link, dpkg in the container reads it.
    for status in ["opt/d/status", "var/lib/dpkg/status"] {
        let base = layer(&[
            File("etc/os-release", DEBIAN_OS_RELEASE),
            Symlink("var/lib/dpkg", "/opt/d"),
            File(status, crate::DPKG_STATUS),
        ]);
        let found = inventory_of(&[(BASE, base)]);
        assert_eq!(purls(&found), DPKG_PURLS, "{status}");
        assert!(found.packages.iter().all(|package| package.found_in == "opt/d/status"), "{status}");
        assert!(found.notes.is_empty(), "{status}: {:?}", found.notes);
    }

    // A usrmerged Alpine: `lib` links to `usr/lib`, where apk's database is.
    let alpine = layer(&[
        File("etc/os-release", ALPINE_OS_RELEASE),
        Symlink("lib", "usr/lib"),
        File("usr/lib/apk/db/installed", APK_INSTALLED),
    ]);
    let found = inventory_of(&[(BASE, alpine)]);
    assert_eq!(purls(&found), APK_PURLS);
    assert!(found.packages.iter().all(|package| package.found_in == "usr/lib/apk/db/installed"));
    assert!(found.notes.is_empty(), "{:?}", found.notes);

    // The same file with no link leading to it is no database.
    let unlinked = layer(&[File("etc/os-release", DEBIAN_OS_RELEASE), File("opt/d/status", crate::DPKG_STATUS)]);
    let found = inventory_of(&[(BASE, unlinked)]);
    assert!(found.packages.is_empty() && found.notes.is_empty(), "{found:?}");
}

/// Each entry is written where the links of its moment lead: a database written through a
/// link that a later layer replaces stays where it was written, and is read when a link of
/// the final image leads there.
#[test]
fn an_entry_is_written_where_the_links_before_it_lead() {
    let base = layer(&[
        File("etc/os-release", DEBIAN_OS_RELEASE),
        Symlink("opt", "/srv"),
        File("opt/d/status", crate::DPKG_STATUS),
    ]);
    let upper = layer(&[Dir("opt"), Symlink("var/lib/dpkg", "/srv/d")]);
    let found = inventory_of(&[(BASE, base.clone()), (UPPER, upper)]);
    assert_eq!(purls(&found), DPKG_PURLS);
    assert!(found.packages.iter().all(|package| package.found_in == "srv/d/status" && package.layer == BASE));
    assert!(found.notes.is_empty(), "{:?}", found.notes);

    let elsewhere = layer(&[Dir("opt"), Symlink("var/lib/dpkg", "/opt/d")]);
    assert!(inventory_of(&[(BASE, base), (UPPER, elsewhere)]).packages.is_empty(), "nothing was written in opt/d");
}

/// containerd's overlayfs snapshotter and moby's overlay2 unpack a layer into an empty
/// directory, where a lower layer's symbolic link is not: an entry named through the link
/// lands in a new directory that hides it, while the native snapshotter follows the link.
/// Here overlayfs would leave the full status at `var/lib/dpkg/status`, the native
/// snapshotter only the decoy at `opt/d/status`. Runtimes disagree, so such an entry is a
/// note, wherever on the way the earlier layer's link is. The same entries in one layer are
/// written alike by every runtime: through the link.
#[test]
fn an_entry_written_through_an_earlier_layers_link_is_a_note_and_through_its_own_layers_is_followed() {
    let lower = [File("etc/os-release", DEBIAN_OS_RELEASE), Symlink("var/lib/dpkg", "/opt/d")];
    let upper = [File("var/lib/dpkg/status", crate::DPKG_STATUS), File("opt/d/status", ZLIB_STATUS)];
    let found = inventory_of(&[(BASE, layer(&lower)), (UPPER, layer(&upper))]);
    assert_eq!(
        found.notes,
        [format!(
            "layer {UPPER}: entry \"var/lib/dpkg/status\" is skipped: its directory is reached through the symbolic \
             link var/lib/dpkg (to /opt/d) that an earlier layer wrote: the native snapshotter writes it where the \
             link leads, containerd's overlayfs snapshotter and moby's overlay2 in a new directory that hides the link"
        )]
    );
    assert_eq!(purls(&found), [ZLIB_PURL], "what the link leads to is still read");

    let found = inventory_of(&[(BASE, layer(&[lower, upper].concat()))]);
    assert_eq!(purls(&found), [ZLIB_PURL], "the decoy replaces the status written through the link");
    assert!(found.packages.iter().all(|package| package.found_in == "opt/d/status"));
    assert!(found.notes.is_empty(), "{:?}", found.notes);

    // Through a link of its own layer that leads through an earlier layer's.
    let lower = layer(&[File("etc/os-release", DEBIAN_OS_RELEASE), Symlink("opt", "/srv")]);
    let upper = layer(&[Symlink("var/lib/dpkg", "/opt/d"), File("var/lib/dpkg/status", crate::DPKG_STATUS)]);
    let found = inventory_of(&[(BASE, lower), (UPPER, upper)]);
    assert!(found.packages.is_empty());
    assert_eq!(found.notes.len(), 1, "{:?}", found.notes);
    assert!(
        found.notes[0].contains("the symbolic link opt (to /srv) that an earlier layer wrote"),
        "{:?}",
        found.notes
    );
}

/// A hard link to a file an earlier layer wrote is made by the native snapshotter and
/// cannot be by overlayfs snapshotters: a note, whatever the link's path, since a hard link
/// to a lower symbolic link is another link, which may lead later entries or readers
/// anywhere. To a link of its own layer, it is that link again.
#[test]
fn a_hard_link_to_an_earlier_layers_file_is_a_note_and_to_its_own_layers_link_is_that_link() {
    let lower =
        [File("etc/os-release", DEBIAN_OS_RELEASE), Symlink("x", "/opt/d"), File("opt/d/status", crate::DPKG_STATUS)];
    let upper = [HardLink("var/lib/dpkg", "x")];
    let found = inventory_of(&[(BASE, layer(&lower)), (UPPER, layer(&upper))]);
    assert!(found.packages.is_empty());
    assert_eq!(
        found.notes,
        [format!(
            "layer {UPPER}: var/lib/dpkg is a hard link to x, which an earlier layer wrote: the native snapshotter \
             links that file, overlayfs snapshotters cannot, so runtimes disagree: not inventoried"
        )]
    );

    let found = inventory_of(&[(BASE, layer(&[lower.as_slice(), upper.as_slice()].concat()))]);
    assert_eq!(purls(&found), DPKG_PURLS);
    assert!(found.packages.iter().all(|package| package.found_in == "opt/d/status"));
    assert!(found.notes.is_empty(), "{:?}", found.notes);
}

/// os-release is read where a reader in the container finds it, through every link of the
/// final image (here `etc` linked to `/srv/etc`: Debian 11, not the Debian 13 of
/// `usr/lib/os-release`), and a path that does not resolve is a note, not a fallback.
#[test]
fn os_release_is_read_through_the_images_links_and_one_that_does_not_resolve_is_a_note() {
    let debian = |version: &str| format!("ID=debian\nVERSION_ID=\"{version}\"\n").into_bytes();
    let (eleven, thirteen) = (debian("11"), debian("13"));
    let linked = layer(&[
        Symlink("etc", "/srv/etc"),
        File("srv/etc/os-release", &eleven),
        File("usr/lib/os-release", &thirteen),
    ]);
    let found = inventory_of(&[(BASE, linked)]);
    assert_eq!(found.distro.and_then(|distro| distro.version_id).as_deref(), Some("11"));
    assert!(found.notes.is_empty(), "{:?}", found.notes);

    let looped = layer(&[Symlink("etc", "etc"), File("usr/lib/os-release", &thirteen)]);
    let found = inventory_of(&[(BASE, looped)]);
    assert!(found.distro.is_none());
    assert_eq!(
        found.notes,
        ["etc/os-release does not resolve through the image's symbolic links (more symbolic links on the way than \
          Linux follows (40), or a loop of them): the image's distribution is not read from it"]
    );
}
