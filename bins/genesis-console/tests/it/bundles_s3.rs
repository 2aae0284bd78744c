//! The landing bucket (issue 18 item 4) on loopback: moto's S3 server holds the fixture bundle
//! with its sidecars and a tampered bundle under `landing/`, as the diode leaves them; the
//! console, started with `--landing-bucket` and the S3 flags, names the endpoint on its egress
//! line, lists both beside its (empty) bundles directory, verifies the good one with the
//! sidecars read from the bucket, refuses the tampered one with the verifier's reason, verifies
//! an object again once it is replaced, and installs the good one from the bucket: nothing is
//! written into the bundles directory. moto accepts any credentials; the requests are still
//! signed with the ones the console is given.

use std::path::Path;
use std::process::Command;

use genesis_testkit::Distribution;
use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::services::MotoS3;
use genesis_testkit::text;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;

use crate::install::{
    ARCHIVE, DEMO_OBJECTS, client, demo_deployment_appears, ended, fixture, installer_role, mark_demo_deployment_ready,
    text_of, trust_the_fixture_key, verdict,
};
use crate::{Browserless, Console, user_token};

/// The landing folder in moto's bucket.
const FOLDER: &str = "landing";

/// Stores `file` as the object `name` of the landing folder, with curl: what the diode does.
/// Signed (SigV4, any credentials for moto), since moto refuses an anonymous overwrite.
fn put(s3: &MotoS3, file: &Path, name: &str) {
    let url = format!("{}/{}/{FOLDER}/{name}", s3.endpoint(), MotoS3::BUCKET);
    let out = Command::new("curl")
        .args(["-sSf", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", "genesis:moto"])
        .args(["-T", file.to_str().unwrap(), &url])
        .output()
        .expect("curl must be installed");
    assert!(out.status.success(), "curl -T {url}: {}", text(&out.stderr));
}

/// The `<tr …>` tag of `file`'s row of `table#bundles`.
fn row_tag(page: &str, file: &str) -> String {
    let start = page.find(&format!("<tr data-bundle=\"{file}\"")).unwrap_or_else(|| panic!("no row of {file}: {page}"));
    page[start..].split_once('>').unwrap().0.to_owned()
}

#[test]
fn bundles_in_the_landing_bucket_are_listed_verified_refused_and_installed_where_they_lie() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    let s3 = MotoS3::start();
    let good = fixture("good");
    for suffix in ["", ".sha256", ".sig", ".cosign.bundle"] {
        let name = format!("{ARCHIVE}{suffix}");
        put(&s3, &good.with_file_name(&name), &name);
    }
    let tampered = "tampered-0.1.0.tar.zst";
    put(&s3, &fixture("blob-byte-changed"), tampered);
    // No bundle: a sidecar without its archive, an archive in a sub-folder.
    put(&s3, &good, "lonely.tar.zst.sig");
    put(&s3, &good, "sub/inner.tar.zst");

    trust_the_fixture_key(&api);
    installer_role(&api, "test-landing-installer", &DEMO_OBJECTS);
    let token = user_token(&api, "landing-installer", "test-landing-installer");
    let landing = format!("s3://{}/{FOLDER}", MotoS3::BUCKET);
    let endpoint = s3.endpoint();
    let registry_host = registry.host();
    let console = Console::start_with_env(
        &api,
        &[
            "--registry",
            &registry_host,
            "--registry-plain-http",
            "--landing-bucket",
            &landing,
            "--s3-endpoint",
            &endpoint,
            "--s3-allow-http",
        ],
        &[("AWS_ACCESS_KEY_ID", "genesis"), ("AWS_SECRET_ACCESS_KEY", "moto-accepts-any")],
    );

    // The egress line names the bucket's endpoint before anything is contacted.
    let stderr = console.stderr();
    let egress = stderr.lines().find(|line| line.contains("network: this run contacts only")).unwrap_or_default();
    assert!(egress.contains(&format!("{endpoint} (the landing bucket {landing})")), "{stderr}");

    // Both bundles of the bucket are listed, marked as the bucket's; nothing else of it is.
    let browser = Browserless::sign_in(&console, &token);
    assert_eq!(verdict(&browser, ARCHIVE), "verified", "{}", console.stderr());
    assert_eq!(verdict(&browser, tampered), "refused");
    let listed = browser.get("/bundles").text().unwrap();
    for file in [ARCHIVE, tampered] {
        let tag = row_tag(&listed, file);
        assert!(tag.contains("data-source=\"landing\""), "{tag}");
        assert!(listed.contains(&format!("href=\"/bundles/landing/{file}\"")), "{listed}");
    }
    assert!(listed.contains(&landing), "the tab names the bucket: {listed}");
    assert!(!listed.contains("lonely.tar.zst") && !listed.contains("inner.tar.zst"), "{listed}");
    assert!(!listed.contains("id=\"landing-notice\""), "{listed}");

    // The good one's page: from the bucket, its sidecars read there too.
    let page = browser.get(&format!("/bundles/landing/{ARCHIVE}"));
    assert_eq!(page.status(), 200, "{}", page.head);
    let page = page.text().unwrap();
    assert!(text_of(&page, "bundle-source").contains(&landing), "{page}");
    assert!(page.contains(&format!("SHA-256 sidecar checked ({ARCHIVE}.sha256)")), "{page}");
    assert!(page.contains(&format!("detached signature checked ({ARCHIVE}.sig)")), "{page}");
    assert!(page.contains(&format!("action=\"/bundles/landing/{ARCHIVE}/install\"")), "{page}");
    assert_eq!(browser.get(&format!("/bundles/{ARCHIVE}")).status(), 404, "not in the directory");

    // The tampered one: the verifier's reason, and no install.
    let page = browser.get(&format!("/bundles/landing/{tampered}")).text().unwrap();
    assert!(text_of(&page, "refusal").contains("does not match the BOM"), "{page}");
    assert!(!page.contains("id=\"install-form\""), "{page}");

    // Replaced by the good archive (same size, another ETag), it is verified again.
    put(&s3, &good, tampered);
    assert_eq!(verdict(&browser, tampered), "verified", "{}", console.stderr());

    // Installed from the bucket.
    let location = format!("/bundles/landing/{ARCHIVE}");
    let started = browser.post_form(&format!("{location}/install"), &[]);
    assert_eq!(started.status(), 303, "{}\n{}", started.head, started.text().unwrap());
    let install = started.location().unwrap().to_owned();
    assert!(install.starts_with("/installs/"), "{install}");
    let (admin, runtime) = client(&api);
    let deployments: Api<Deployment> = Api::namespaced(admin, "demo");
    let deployment = demo_deployment_appears(&runtime, &deployments, &console);
    runtime.block_on(mark_demo_deployment_ready(&deployments, deployment.metadata.generation.unwrap()));
    let page = ended(&browser, &install);
    assert_eq!(text_of(&page, "install-state"), "succeeded", "{page}\n{}", console.stderr());
    assert!(page.contains(&format!("href=\"{location}\"")), "the install names the bucket's bundle: {page}");
    let deployment = runtime.block_on(deployments.get("app")).unwrap();
    let image = deployment.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert!(image.starts_with(&format!("{registry_host}/demo/app@sha256:")), "{image}");

    // Read where it lies: nothing went into the bundles directory.
    let written: Vec<_> = std::fs::read_dir(console.dir.path().join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name != ".uploads")
        .collect();
    assert!(written.is_empty(), "{written:?}");
}
