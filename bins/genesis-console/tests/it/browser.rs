//! The console in a real browser: Debian's Chromium, headless, driven by PyPI's Selenium
//! through the journeys in `tests/browser/` (their shared driver is genesis-testkit's),
//! against a console on the run's kube-apiserver, with PostgreSQL and Redis from Debian named
//! by Services and a Distribution registry as the cluster-local one. The browser reaches the
//! console through a forward that drops the first upload piece halfway, as a `kubectl
//! port-forward` over a flaky link does.
//!
//! An operator signs in with a token, runs the pre-flight (every row passes; Redis stopped,
//! its row fails with the remedy), uploads the fixture bundle (the page resumes it where the
//! console stands), installs it and follows its progress, reads the Status tab and downloads
//! a support bundle whose SHA-256 the page shows; a viewer sees the tabs and is refused
//! running, installing and support bundles, each refusal naming the right. Every page is
//! saved under `target/screenshots/console/`, one at a phone's width.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::services::{Postgres, Redis};
use genesis_testkit::{Distribution, browser, free_port, text};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::Api;
use serde_json::Value;

use crate::{
    Console, apply, bind, block_on, config_map, install_console_rbac, namespace, repo, service, user_name, user_token,
};

/// The fixture bundle, and what installing it applies and records.
const BUNDLE: &str = "demo-0.1.0.tar.zst";
const OBJECTS: [&str; 3] = ["Namespace demo", "Deployment demo/app", "Service demo/app"];

#[test]
fn in_a_browser_an_operator_checks_uploads_installs_and_collects_and_a_viewer_is_refused() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let postgres = Postgres::start();
    let redis = Redis::start();
    let registry = Distribution::start();
    apply(&api, dependencies(&postgres, &redis));
    let console = Console::start(&api, &["--registry", &registry.host(), "--registry-plain-http"]);
    let forward = FlakyForward::start(console.url.rsplit(':').next().unwrap().parse().unwrap());
    // The operator installs too: the installer's roles besides, the cluster-wide one for the
    // bundle's Namespace.
    bind(&api, "operator", "genesis-console-installer");
    bind(&api, "operator", "genesis-console-installer-cluster");
    let operator = user_token(&api, "operator", "genesis-console-operator");
    let viewer = user_token(&api, "viewer", "genesis-console-viewer");
    let work = tempfile::tempdir().unwrap();
    let watching = work.path().join("watching");
    let controller = play_the_controller(&api, &watching);
    let shots = browser::screenshots("console");
    let bundle = repo().join("fixtures/bundles/good").join(BUNDLE);
    let (seen, downloads) = (work.path().join("seen.json"), work.path().join("downloads"));
    let redis_port = redis.port.to_string();
    let operator_name = user_name("operator");

    let mut options = vec![
        ("--token", operator.as_str()),
        ("--user", operator_name.as_str()),
        ("--check", "postgres"),
        ("--check", "redis"),
        ("--redis-port", redis_port.as_str()),
        ("--redis-password", Redis::PASSWORD),
        ("--bundle", arg(&bundle)),
        ("--bundle-name", "demo"),
        ("--bundle-version", "0.1.0"),
        ("--install-record", "demo"),
        ("--namespace", "demo"),
        ("--watching", arg(&watching)),
        ("--downloads", arg(&downloads)),
        ("--seen", arg(&seen)),
    ];
    options.extend(OBJECTS.map(|object| ("--object", object)));
    let mut saved = journey("console_journey.py", &forward.url, &shots, &options);
    controller.join().unwrap();
    let viewer_name = user_name("viewer");
    saved.extend(journey(
        "viewer_journey.py",
        &forward.url,
        &shots,
        &[("--token", &viewer), ("--user", &viewer_name), ("--bundle", BUNDLE), ("--console-namespace", "genesis")],
    ));
    browser::check_shots(&shots, saved, 19);

    // The upload came in pieces, the first cut halfway (the forward cuts the first it
    // carries) and the rest sent after it, and the bundle arrived whole.
    let seen: Value = serde_json::from_slice(&std::fs::read(&seen).unwrap()).unwrap();
    let pieces = forward.pieces.load(Ordering::SeqCst);
    assert!(pieces >= 2, "{pieces} upload piece(s) carried; the page said {}", seen["upload_said"]);
    let uploaded = std::fs::read(console.dir.path().join("bundles").join(BUNDLE)).unwrap();
    assert!(uploaded == std::fs::read(&bundle).unwrap(), "the bundle uploaded is not the fixture, byte for byte");

    // What the install applied runs the cluster-local registry's copy of the image.
    let image = block_on(async {
        let deployment = demo_deployments(&api.kubeconfig()).await.get("app").await.unwrap();
        deployment.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap()
    });
    assert!(image.starts_with(&format!("{}/demo/app@sha256:", registry.host())), "{image}");

    // The support bundle the browser saved is the one the page named, as `sha256sum` reads it.
    let archive = seen["support"].as_str().unwrap();
    let sum = Command::new("sha256sum").arg(archive).output().unwrap();
    let sum = text(&sum.stdout);
    assert_eq!(sum.split_whitespace().next(), seen["support_sha256"].as_str(), "{sum}");

    let log = console.stderr();
    for token in [&operator, &viewer] {
        assert!(!log.contains(token.as_str()), "the console's log holds a sign-in token");
    }
}

/// Runs the journey `tests/browser/SCRIPT` against the console at `url` with `options`,
/// saving screenshots into `shots`; the screenshots it saved.
fn journey(script: &str, url: &str, shots: &Path, options: &[(&str, &str)]) -> Vec<PathBuf> {
    let mut args = vec!["--console", url, "--screenshots", arg(shots)];
    args.extend(options.iter().flat_map(|&(option, value)| [option, value]));
    browser::journey(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script), &args)
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// What the console needs of the cluster: PostgreSQL and Redis as `ExternalName` Services in
/// namespace `data` for `localhost`, with ports named as the pre-flight configuration
/// (ConfigMap `genesis-preflight`) names them; and the vendor key bundles are verified with
/// (ConfigMap `genesis-trust`).
fn dependencies(postgres: &Postgres, redis: &Redis) -> Vec<Value> {
    let preflight = format!(
        "postgres: {{ url: \"postgres://postgres@db/postgres\", service: \"data/postgres:sql\" }}\n\
         redis: {{ url: \"redis://:{}@cache\", service: \"data/redis:resp\" }}\n",
        Redis::PASSWORD
    );
    let vendor_key = std::fs::read_to_string(repo().join("fixtures/keys/test.pub")).unwrap();
    vec![
        namespace("data"),
        service("postgres", "sql", postgres.port),
        service("redis", "resp", redis.port),
        config_map("genesis-preflight", "preflight.yaml", &preflight),
        config_map("genesis-trust", "vendor.pub", &vendor_key),
    ]
}

/// The Deployments of namespace `demo`, as the admin.
async fn demo_deployments(kubeconfig: &Path) -> Api<Deployment> {
    let cluster = genesis_kube::Cluster::connect(Some(kubeconfig)).await.unwrap();
    Api::namespaced(cluster.client().clone(), "demo")
}

/// Plays the Deployment controller, which does not run here, once the journey has written
/// `watching` (it follows the install, which waits for its workload): marks Deployment
/// `demo/app` ready through its status subresource once the install has applied it, as a
/// controller does once its pods are. So the install's page is seen running, whatever the
/// machine's speed. Gives up after five minutes: the journey has failed, and says why.
fn play_the_controller(api: &KubeApiserver, watching: &Path) -> JoinHandle<()> {
    let (kubeconfig, watching) = (api.kubeconfig(), watching.to_owned());
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(300);
        block_on(async {
            let deployments = demo_deployments(&kubeconfig).await;
            let deployment = loop {
                if watching.exists()
                    && let Some(deployment) = deployments.get_opt("app").await.unwrap()
                {
                    break deployment;
                }
                if Instant::now() > deadline {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            crate::install::mark_demo_deployment_ready(&deployments, deployment.metadata.generation.unwrap()).await;
        });
    })
}

/// A loopback forward to the console, as `kubectl port-forward` is to the console's Service,
/// over a flaky link: it drops the first upload piece it carries (`PATCH /uploads/…`) halfway
/// through its body, closing both connections; everything else it carries as is. The browser
/// reaches the console only through it. Its threads end with the test's process.
struct FlakyForward {
    /// `http://127.0.0.1:PORT`.
    url: String,
    /// The upload pieces carried, the one cut included.
    pieces: Arc<AtomicUsize>,
}

impl FlakyForward {
    fn start(console: u16) -> FlakyForward {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let pieces = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&pieces);
        std::thread::spawn(move || {
            for browser in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", console)) else {
                    continue;
                };
                let (Ok(browser_back), Ok(server_back)) = (browser.try_clone(), server.try_clone()) else {
                    continue;
                };
                std::thread::spawn(move || {
                    let (mut from, mut to) = (server_back, browser_back);
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Both);
                });
                let counted = Arc::clone(&counted);
                std::thread::spawn(move || {
                    let _ = carry_requests(browser, server, &counted);
                });
            }
        });
        FlakyForward { url: format!("http://127.0.0.1:{port}"), pieces }
    }
}

/// Carries the browser's requests on one connection to the console, one by one: the head,
/// then as many body bytes as its `Content-Length` says (a body of another framing is carried
/// as it comes, to the end). The first upload piece of all gets half its body, then both
/// connections are closed.
fn carry_requests(browser: TcpStream, mut server: TcpStream, pieces: &AtomicUsize) -> std::io::Result<()> {
    let mut from = BufReader::new(browser.try_clone()?);
    loop {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            if from.read_until(b'\n', &mut head)? == 0 {
                // The browser closed the connection.
                return server.shutdown(Shutdown::Write);
            }
        }
        server.write_all(&head)?;
        let head = text(&head).to_ascii_lowercase();
        if head.contains("\r\ntransfer-encoding:") {
            std::io::copy(&mut from, &mut server)?;
            return Ok(());
        }
        let length = match head.lines().find_map(|line| line.strip_prefix("content-length:")) {
            Some(value) => value.trim().parse::<u64>().map_err(std::io::Error::other)?,
            None => 0,
        };
        if head.starts_with("patch /uploads/") && pieces.fetch_add(1, Ordering::SeqCst) == 0 {
            std::io::copy(&mut (&mut from).take(length / 2), &mut server)?;
            let _ = browser.shutdown(Shutdown::Both);
            return server.shutdown(Shutdown::Both);
        }
        std::io::copy(&mut (&mut from).take(length), &mut server)?;
    }
}
