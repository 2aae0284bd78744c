//! Export builds are bounded: one per organisation and release at a time, and none while its
//! pack is kept, a per-organisation and a portal-wide limit answered 429, no scratch space
//! left behind, packs deleted after their retention time (one that cannot be deleted holds up
//! no other), no export pending forever after a portal was killed mid-build and none failed
//! while its portal runs; and a release whose names a pack could not carry is never
//! published.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use genesis_testkit::text;

use crate::{Backend, Portal, fixtures, header, release_files, status, wait_for_export};

/// `POST /v1/exports/airgap/bootstrap` for `product` 0.1.0 on the portal at `url`, with a
/// connection of its own: (status, headers, JSON body).
fn request_export(url: &str, key: &str, product: &str) -> (u16, String, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-s", "-i", "-X", "POST", "-H", &format!("Authorization: Bearer {key}")])
        .args(["-H", "Content-Type: application/json", "-d"])
        .arg(format!(r#"{{"product":"{product}","version":"0.1.0"}}"#))
        .arg(format!("{url}/v1/exports/airgap/bootstrap"))
        .output()
        .unwrap();
    let response = text(&out.stdout);
    let (headers, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no HTTP answer: {response}"));
    (status(headers), headers.to_owned(), serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")))
}

/// A release whose export builds stop until the test lets them go on: its provenance file in
/// the store is replaced by a FIFO, which a build opens and cannot open until a writer does.
struct Held {
    fifo: PathBuf,
}

impl Held {
    fn new(portal: &Portal, product: &str) -> Held {
        let fifo = portal.dir.path().join(format!("data/artifacts/releases/{product}/0.1.0/notes.intoto.json"));
        std::fs::remove_file(&fifo).unwrap();
        assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        Held { fifo }
    }

    /// Lets the one build waiting on the FIFO go on (it reads it as empty).
    fn release(&self) {
        let fifo = self.fifo.clone();
        let (opened, open) = std::sync::mpsc::channel();
        std::thread::spawn(move || opened.send(OpenOptions::new().write(true).open(fifo).is_ok()));
        assert_eq!(open.recv_timeout(Duration::from_secs(60)), Ok(true), "no build opened {}", self.fifo.display());
    }
}

/// A portal with the demo release 0.1.0 (and `notes.intoto.json`, which packs carry) of
/// product `genesis`, and `acme` entitled to it with an export key; the key.
fn portal_with_release() -> (Portal, String, tempfile::TempDir) {
    let portal = Portal::new(Backend::default());
    let key = portal.org_with_key("acme", &["releases:read", "export:read", "export:write"]);
    let notes = portal.dir.path().join("notes.intoto.json");
    std::fs::write(&notes, b"{}\n").unwrap();
    let files = portal.publish_demo("acme", &[&notes]);
    (portal, key, files)
}

/// The same release (the bundle in `files` and `notes.intoto.json`) published again as
/// `product` 0.1.0, and `org` entitled to it.
fn publish_product(portal: &Portal, files: &Path, product: &str, org: &str) {
    let published = portal
        .command()
        .args(["publish", "0.1.0", "--product", product, "--key"])
        .arg(fixtures().join("keys/test.pub"))
        .arg(files.join("demo-0.1.0.tar.zst"))
        .arg(portal.dir.path().join("notes.intoto.json"))
        .output()
        .unwrap();
    assert!(published.status.success(), "{}", text(&published.stderr));
    portal.admin_ok(&["entitle", "--org", org, "--versions", "0.1.*", "--product", product]);
}

/// A new organisation `org` with an export key, entitled to the demo release; the key.
fn another_org(portal: &Portal, org: &str) -> String {
    let key = portal.org_with_key(org, &["export:read", "export:write"]);
    portal.admin_ok(&["entitle", "--org", org, "--versions", "0.1.*"]);
    key
}

/// Where the pack of `org`'s export `id` is stored.
fn stored_pack(portal: &Portal, org: &str, id: &str) -> PathBuf {
    portal.dir.path().join(format!("data/artifacts/exports/{org}/{id}/bootstrap-pack-v1.tar.gz"))
}

/// `GET` an export's status: (HTTP status, JSON body).
fn export_status(portal: &Portal, key: &str, id: &str) -> (u16, serde_json::Value) {
    let (headers, body) = portal.curl(Some(key), "GET", &format!("/v1/exports/airgap/bootstrap/{id}"), &[]);
    (status(&headers), serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", text(&body))))
}

/// Waits until `done` holds, polling every 100 ms for at most a minute.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "still not the case after a minute: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn requests_for_a_release_being_built_or_ready_share_its_export() {
    let (mut portal, key, _files) = portal_with_release();
    let held = Held::new(&portal, "genesis");
    portal.serve();
    let url = portal.url();
    let (first, second) = std::thread::scope(|s| {
        let first = s.spawn(|| request_export(&url, &key, "genesis"));
        let second = s.spawn(|| request_export(&url, &key, "genesis"));
        (first.join().unwrap(), second.join().unwrap())
    });
    assert_eq!((first.0, second.0), (202, 202), "{}{}", first.1, second.1);
    let id = first.2["exportId"].as_str().unwrap().to_owned();
    assert_eq!(second.2["exportId"], id.as_str(), "two requests at once started two builds");
    let (code, headers, again) = request_export(&url, &key, "genesis");
    assert_eq!(code, 202);
    assert_eq!(again["exportId"], id.as_str(), "a request while it builds started another build");
    assert_eq!(again["status"], "pending");
    assert_eq!(header(&headers, "location"), Some(format!("/v1/exports/airgap/bootstrap/{id}").as_str()));
    assert_eq!(
        (header(&headers, "x-ratelimit-limit"), header(&headers, "x-ratelimit-remaining")),
        (Some("2"), Some("1"))
    );

    held.release();
    assert_eq!(wait_for_export(&portal, &key, &id)["status"], "ready");
    // Once it is built, and while its pack is kept, a request is answered with it: packs are
    // deterministic, a new build would make the same bytes (and fill the disk with copies).
    let (code, headers, ready) = request_export(&url, &key, "genesis");
    assert_eq!(code, 200, "{headers}{ready}");
    assert_eq!(ready["exportId"], id.as_str(), "a request for a ready release started another build");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["downloadUri"], format!("/v1/exports/airgap/bootstrap/{id}/download").as_str());
    assert_eq!(header(&headers, "x-ratelimit-remaining"), Some("2"));
    assert_eq!(portal.metric("export_bootstrap_completed_total"), 1.0, "four requests, one build");
}

#[test]
fn an_organisation_at_its_export_limit_is_answered_429_with_retry_after() {
    let (mut portal, acme, files) = portal_with_release();
    // The same release as a second product, which acme and beta may export.
    publish_product(&portal, files.path(), "other", "acme");
    let beta = portal.org_with_key("beta", &["export:read", "export:write"]);
    portal.admin_ok(&["entitle", "--org", "beta", "--versions", "0.1.*", "--product", "other"]);
    let held = Held::new(&portal, "genesis");
    portal.serve_with(&["--max-exports-per-org", "1"]);
    let url = portal.url();

    let (code, headers, building) = request_export(&url, &acme, "genesis");
    assert_eq!(code, 202, "{building}");
    assert_eq!(header(&headers, "x-ratelimit-remaining"), Some("0"));
    let (code, headers, refused) = request_export(&url, &acme, "other");
    assert_eq!(code, 429, "{headers}{refused}");
    assert_eq!(header(&headers, "retry-after"), Some("30"));
    assert_eq!(
        (header(&headers, "x-ratelimit-limit"), header(&headers, "x-ratelimit-remaining")),
        (Some("1"), Some("0"))
    );
    assert_eq!(refused["error"], "too_many_exports");
    assert!(refused["message"].as_str().unwrap().contains("its limit"), "{refused}");

    // The limit is per organisation: beta builds meanwhile.
    let (code, _, theirs) = request_export(&url, &beta, "other");
    assert_eq!(code, 202, "{theirs}");
    assert_eq!(wait_for_export(&portal, &beta, theirs["exportId"].as_str().unwrap())["status"], "ready");

    held.release();
    assert_eq!(wait_for_export(&portal, &acme, building["exportId"].as_str().unwrap())["status"], "ready");
    let (code, _, later) = request_export(&url, &acme, "other");
    assert_eq!(code, 202, "the slot is free again: {later}");
    assert_eq!(wait_for_export(&portal, &acme, later["exportId"].as_str().unwrap())["status"], "ready");
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

/// The serving portal's scratch directory: with its lock file, all there is in `scratch`.
fn own_scratch(scratch: &Path) -> PathBuf {
    let mut found = entries(scratch);
    found.sort();
    match found.as_slice() {
        [dir, lock] if dir.starts_with("portal-") && *lock == format!("{dir}.lock") => scratch.join(dir),
        other => panic!("more than the serving portal's scratch space: {other:?}"),
    }
}

#[test]
fn builds_leave_no_scratch_space_and_a_start_clears_what_a_stopped_portal_left() {
    let (mut portal, key, _files) = portal_with_release();
    let scratch = portal.dir.path().join("data/scratch");
    // What a portal killed mid-build leaves behind.
    std::fs::create_dir_all(scratch.join(".tmpKILLED/in/.unpacked/demo-0.1.0.tar.zst/oci")).unwrap();
    std::fs::write(scratch.join(".tmpKILLED/in/demo-0.1.0.tar.zst"), b"partial").unwrap();
    portal.serve();
    let own = own_scratch(&scratch);
    assert_eq!(entries(&own), Vec::<String>::new(), "left from before the start");

    let url = portal.url();
    let (_, _, built) = request_export(&url, &key, "genesis");
    assert_eq!(wait_for_export(&portal, &key, built["exportId"].as_str().unwrap())["status"], "ready");
    assert_eq!((own_scratch(&scratch), entries(&own)), (own.clone(), Vec::new()), "after a build");

    // A build that fails (the stored bundle no longer verifies) leaves nothing either. It is
    // another organisation's: acme's requests are answered with its ready pack.
    let beta = another_org(&portal, "beta");
    let stored = portal.dir.path().join("data/artifacts/releases/genesis/0.1.0/demo-0.1.0.tar.zst");
    std::fs::copy(fixtures().join("bundles/blob-byte-changed/demo-0.1.0.tar.zst"), stored).unwrap();
    let (_, _, failing) = request_export(&url, &beta, "genesis");
    let failed = wait_for_export(&portal, &beta, failing["exportId"].as_str().unwrap());
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!((own_scratch(&scratch), entries(&own)), (own.clone(), Vec::new()), "after a failed build");
}

#[test]
fn a_finished_export_is_deleted_after_its_retention_time() {
    let (mut portal, key, _files) = portal_with_release();
    portal.serve_with(&["--export-ttl-secs", "5"]);
    let (_, _, started) = request_export(&portal.url(), &key, "genesis");
    let id = started["exportId"].as_str().unwrap().to_owned();
    let pack = stored_pack(&portal, "acme", &id);
    // Pending, then ready for the retention time, then gone: a slow poll (a loaded machine)
    // may see it gone at once, never anything else.
    eventually("the export answers 410", || {
        let (code, body) = export_status(&portal, &key, &id);
        match (code, body["status"].as_str()) {
            (410, _) => true,
            (200, Some("pending")) => false,
            (200, Some("ready")) => {
                assert!(body["expires"].as_str().is_some_and(|t| t.ends_with('Z')), "{body}");
                false
            }
            _ => panic!("{code}: {body}"),
        }
    });
    // The pack, and the export's directory that held it.
    let stored = pack.parent().unwrap();
    eventually(&format!("{} is deleted", stored.display()), || !stored.exists());
    for path in [format!("/v1/exports/airgap/bootstrap/{id}"), format!("/v1/exports/airgap/bootstrap/{id}/download")] {
        let (headers, body) = portal.curl(Some(&key), "GET", &path, &[]);
        assert_eq!(status(&headers), 410, "{path}: {headers}");
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"], "gone");
        assert!(error["message"].as_str().unwrap().contains("expired"), "{error}");
    }
    // An expired pack is not handed out again: a request builds anew.
    let (code, _, again) = request_export(&portal.url(), &key, "genesis");
    assert_eq!(code, 202, "{again}");
    assert_ne!(again["exportId"], id.as_str());
}

#[test]
fn an_export_whose_pack_cannot_be_deleted_holds_up_no_other_expiry() {
    let (mut portal, key, files) = portal_with_release();
    publish_product(&portal, files.path(), "other", "acme");
    let held = [Held::new(&portal, "genesis"), Held::new(&portal, "other")];
    portal.serve_with(&["--export-ttl-secs", "1"]);
    let ids = ["genesis", "other"].map(|product| {
        let (code, _, started) = request_export(&portal.url(), &key, product);
        assert_eq!(code, 202, "{started}");
        started["exportId"].as_str().unwrap().to_owned()
    });
    // The sweep goes through the exports due in id order. The first one's pack is made
    // undeletable (a directory with a file stands where it goes, so its build fails to store
    // it) and its build ends first: whenever the other one is due, it is due too, before it.
    let (stuck, other) = if ids[0] < ids[1] { (0, 1) } else { (1, 0) };
    let in_the_way = stored_pack(&portal, "acme", &ids[stuck]);
    std::fs::create_dir_all(&in_the_way).unwrap();
    std::fs::write(in_the_way.join("in-the-way"), b"").unwrap();
    held[stuck].release();
    eventually(&format!("{} fails", ids[stuck]), || {
        let (code, body) = export_status(&portal, &key, &ids[stuck]);
        code == 410 || body["status"] == "failed"
    });
    held[other].release();
    eventually("the other build ends", || portal.metric("export_bootstrap_completed_total") == 1.0);
    assert_eq!(portal.metric("export_bootstrap_failed_total"), 1.0);

    let pack = stored_pack(&portal, "acme", &ids[other]);
    eventually(&format!("{} is deleted past {}, which cannot be", pack.display(), ids[stuck]), || !pack.exists());
    assert_eq!(export_status(&portal, &key, &ids[other]).0, 410);
    assert!(in_the_way.join("in-the-way").exists());
    let log = portal.log();
    assert!(
        log.lines().any(|l| l.contains("expiring an export failed") && l.contains(ids[stuck].as_str())),
        "the undeletable pack is not logged: {log}"
    );
}

#[test]
fn an_export_left_pending_by_a_killed_portal_is_failed_when_it_starts_again() {
    let (mut portal, key, _files) = portal_with_release();
    let _held = Held::new(&portal, "genesis");
    portal.serve();
    let (code, _, started) = request_export(&portal.url(), &key, "genesis");
    assert_eq!(code, 202, "{started}");
    let id = started["exportId"].as_str().unwrap().to_owned();
    assert_eq!(export_status(&portal, &key, &id).1["status"], "pending");

    portal.kill();
    portal.serve();
    let (code, after) = export_status(&portal, &key, &id);
    assert_eq!(code, 200, "{after}");
    assert_eq!(after["status"], "failed", "{after}");
    assert!(after["error"].as_str().unwrap().contains("the portal stopped during the build"), "{after}");
    assert!(after["expires"].as_str().is_some_and(|t| t.ends_with('Z')), "it expires as any finished export: {after}");
}

#[test]
fn a_portal_starting_on_the_same_database_leaves_another_portal_s_build_running() {
    let (mut portal, key, _files) = portal_with_release();
    let held = Held::new(&portal, "genesis");
    portal.serve();
    let (code, _, started) = request_export(&portal.url(), &key, "genesis");
    assert_eq!(code, 202, "{started}");
    let id = started["exportId"].as_str().unwrap().to_owned();

    // A second portal, with a data directory of its own, on the first one's database: what
    // portals sharing PostgreSQL are.
    let database = format!("sqlite://{}?mode=rwc", portal.dir.path().join("data/portal.db").display());
    let mut other = Portal::new(Backend { database_url: Some(database), ..Backend::default() });
    other.serve();
    let (code, after) = export_status(&portal, &key, &id);
    assert_eq!((code, after["status"].as_str()), (200, Some("pending")), "{after}");

    held.release();
    assert_eq!(wait_for_export(&portal, &key, &id)["status"], "ready");
}

#[test]
fn the_portal_at_its_export_limit_answers_every_organisation_429_with_retry_after() {
    let (mut portal, acme, _files) = portal_with_release();
    let beta = another_org(&portal, "beta");
    let held = Held::new(&portal, "genesis");
    portal.serve_with(&["--max-exports", "1"]);
    let url = portal.url();

    let (code, _, building) = request_export(&url, &acme, "genesis");
    assert_eq!(code, 202, "{building}");
    let (code, headers, refused) = request_export(&url, &beta, "genesis");
    assert_eq!(code, 429, "beta is within its own limit, the portal is not: {headers}{refused}");
    assert_eq!(header(&headers, "retry-after"), Some("30"));
    assert_eq!(
        (header(&headers, "x-ratelimit-limit"), header(&headers, "x-ratelimit-remaining")),
        (Some("2"), Some("0"))
    );
    assert_eq!(refused["error"], "too_many_exports");
    assert!(refused["message"].as_str().unwrap().contains("its limit across organisations"), "{refused}");

    held.release();
    assert_eq!(wait_for_export(&portal, &acme, building["exportId"].as_str().unwrap())["status"], "ready");
    let (code, _, theirs) = request_export(&url, &beta, "genesis");
    assert_eq!(code, 202, "the portal's slot is free again: {theirs}");
    held.release();
    assert_eq!(wait_for_export(&portal, &beta, theirs["exportId"].as_str().unwrap())["status"], "ready");
}

#[test]
fn an_artifact_name_an_export_pack_cannot_carry_is_refused_at_publication() {
    let portal = Portal::new(Backend::default());
    let files = tempfile::tempdir().unwrap();
    let bundle = release_files(files.path());
    // Packs carry provenance as `signatures/NAME`: a tar header holds at most 100 bytes of NAME.
    let name = format!("{}.intoto.json", "p".repeat(120));
    let provenance = files.path().join(&name);
    std::fs::write(&provenance, b"{}\n").unwrap();
    let refused = portal.publish("0.1.0", &[&bundle, &provenance], "test.pub");
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(&format!("`{name}`: refused, an air-gap export pack could not carry this name")),
        "{stderr}"
    );
    assert!(stderr.contains("does not fit a tar header"), "{stderr}");
    let published = portal.publish("0.1.0", &[&bundle], "test.pub");
    assert!(published.status.success(), "nothing was published before: {}", text(&published.stderr));
}

#[test]
fn export_pack_never_writes_its_sidecar_through_a_symlink_planted_in_a_shared_output_folder() {
    let (mut portal, key, _files) = portal_with_release();
    portal.serve();
    let client = crate::Client::new();
    assert!(client.login(&portal.url(), &key).status.success());
    // Someone with write access to the shared folder aimed the sidecar's name at a file of
    // the operator's, elsewhere.
    let packs = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let victim = home.path().join(".bashrc");
    std::fs::write(&victim, b"the operator's own file\n").unwrap();
    let sidecar = packs.path().join("bootstrap-pack-v1.tar.gz.sha256");
    std::os::unix::fs::symlink(&victim, &sidecar).unwrap();
    let export = client.run(&["export-pack", "0.1.0", "-o", packs.path().to_str().unwrap()]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert_eq!(std::fs::read(&victim).unwrap(), b"the operator's own file\n", "written through the symlink");
    assert!(std::fs::symlink_metadata(&sidecar).unwrap().is_file(), "the sidecar is a file of its own");
    let line = std::fs::read_to_string(&sidecar).unwrap();
    assert!(line.ends_with("  bootstrap-pack-v1.tar.gz\n"), "{line}");
}
