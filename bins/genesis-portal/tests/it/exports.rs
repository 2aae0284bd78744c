//! Export builds are bounded: one per organisation and release at a time, a per-organisation
//! limit answered 429, no scratch space left behind, packs deleted after their retention
//! time; and a release whose names a pack could not carry is never published.

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

#[test]
fn requests_for_a_release_being_built_share_its_export() {
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
    // Once it is built, a request builds anew.
    let (code, _, next) = request_export(&url, &key, "genesis");
    assert_eq!(code, 202);
    assert_ne!(next["exportId"], id.as_str());
    held.release();
    assert_eq!(wait_for_export(&portal, &key, next["exportId"].as_str().unwrap())["status"], "ready");
    assert_eq!(portal.metric("export_bootstrap_completed_total"), 2.0, "four requests, two builds");
}

#[test]
fn an_organisation_at_its_export_limit_is_answered_429_with_retry_after() {
    let (mut portal, acme, files) = portal_with_release();
    // The same bundle as a second product, which acme and beta may export.
    let other = portal
        .command()
        .args(["publish", "0.1.0", "--product", "other", "--key"])
        .arg(fixtures().join("keys/test.pub"))
        .arg(files.path().join("demo-0.1.0.tar.zst"))
        .output()
        .unwrap();
    assert!(other.status.success(), "{}", text(&other.stderr));
    portal.admin_ok(&["entitle", "--org", "acme", "--versions", "0.1.*", "--product", "other"]);
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

#[test]
fn builds_leave_no_scratch_space_and_a_start_clears_what_a_stopped_portal_left() {
    let (mut portal, key, _files) = portal_with_release();
    let scratch = portal.dir.path().join("data/scratch");
    // What a portal killed mid-build leaves behind.
    std::fs::create_dir_all(scratch.join(".tmpKILLED/in/.unpacked/demo-0.1.0.tar.zst/oci")).unwrap();
    std::fs::write(scratch.join(".tmpKILLED/in/demo-0.1.0.tar.zst"), b"partial").unwrap();
    portal.serve();
    assert_eq!(entries(&scratch), Vec::<String>::new(), "left from before the start");

    let url = portal.url();
    let (_, _, built) = request_export(&url, &key, "genesis");
    assert_eq!(wait_for_export(&portal, &key, built["exportId"].as_str().unwrap())["status"], "ready");
    assert_eq!(entries(&scratch), Vec::<String>::new(), "after a build");

    // A build that fails (the stored bundle no longer verifies) leaves nothing either.
    let stored = portal.dir.path().join("data/artifacts/releases/genesis/0.1.0/demo-0.1.0.tar.zst");
    std::fs::copy(fixtures().join("bundles/blob-byte-changed/demo-0.1.0.tar.zst"), stored).unwrap();
    let (_, _, failing) = request_export(&url, &key, "genesis");
    let failed = wait_for_export(&portal, &key, failing["exportId"].as_str().unwrap());
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(entries(&scratch), Vec::<String>::new(), "after a failed build");
}

#[test]
fn a_finished_export_is_deleted_after_its_retention_time() {
    let (mut portal, key, _files) = portal_with_release();
    portal.serve_with(&["--export-ttl-secs", "5"]);
    let (_, _, started) = request_export(&portal.url(), &key, "genesis");
    let id = started["exportId"].as_str().unwrap().to_owned();
    let ready = wait_for_export(&portal, &key, &id);
    assert_eq!(ready["status"], "ready");
    assert!(ready["expires"].as_str().is_some_and(|t| t.ends_with('Z')), "{ready}");
    let pack = portal.dir.path().join(format!("data/artifacts/exports/acme/{id}/bootstrap-pack-v1.tar.gz"));
    assert!(pack.exists());

    let deadline = Instant::now() + Duration::from_secs(60);
    while pack.exists() {
        assert!(Instant::now() < deadline, "{} outlived its retention time", pack.display());
        std::thread::sleep(Duration::from_millis(100));
    }
    for path in [format!("/v1/exports/airgap/bootstrap/{id}"), format!("/v1/exports/airgap/bootstrap/{id}/download")] {
        let (headers, body) = portal.curl(Some(&key), "GET", &path, &[]);
        assert_eq!(status(&headers), 410, "{path}: {headers}");
        let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(error["error"], "gone");
        assert!(error["message"].as_str().unwrap().contains("expired"), "{error}");
    }
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
