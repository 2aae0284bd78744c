//! The console end to end on loopback: the `genesis-console` binary against the run's real
//! kube-apiserver (`genesis_testkit::kube`), people signed in with ServiceAccount tokens from
//! the TokenRequest API and the roles of `deploy/console/rbac.yaml`, pages driven with
//! curl (a cookie jar, no redirect followed: [`Browserless`]) or, in `browser`, a real
//! Chromium.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod advice;
mod auth;
mod browser;
mod bundles_s3;
mod deploy;
mod install;
mod preflight;
mod status;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::{free_port, text};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};

/// The repository's root, canonical (a browser's file input refuses a path with `..`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// The namespace the tests' people live in, as ServiceAccounts.
pub const USERS_NAMESPACE: &str = "genesis-users";

/// `genesis-console serve` with `args`, no `KUBECONFIG` from the environment: for a test of a
/// start that must fail (it returns), or one that starts the binary itself.
pub fn console_command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesis-console"));
    command.arg("serve").args(args).env_remove("KUBECONFIG").env("RUST_LOG", "info").stdin(Stdio::null());
    command
}

/// A console started (the built binary) against a kube-apiserver, plain HTTP on a free
/// loopback port unless the arguments say otherwise (`--listen`, `--tls-cert`), with
/// `--bundles-dir` under `dir`; ready (its `/healthz` answered) when returned; killed on
/// drop. Its stderr is kept in `dir/console.log`.
pub struct Console {
    /// `http://127.0.0.1:PORT`, or `https://…` when it serves TLS.
    pub url: String,
    /// Its bundles directory (`bundles/`) and its log (`console.log`).
    pub dir: tempfile::TempDir,
    child: Child,
}

impl Console {
    /// A console on `api`, with the admin's kubeconfig (its token in `system:masters`), and
    /// `extra` arguments appended.
    pub fn start(api: &KubeApiserver, extra: &[&str]) -> Console {
        Console::launch(&api.kubeconfig(), extra, &[])
    }

    /// [`Console::start`] with `env` added to the console's environment (an endpoint
    /// override, `GENESIS_ENDPOINT_…`).
    pub fn start_with_env(api: &KubeApiserver, extra: &[&str], env: &[(&str, &str)]) -> Console {
        Console::launch(&api.kubeconfig(), extra, env)
    }

    /// A console reaching the cluster with `kubeconfig` (another identity than the admin's:
    /// the console's own ServiceAccount), and `extra` arguments appended.
    pub fn start_with(kubeconfig: &Path, extra: &[&str]) -> Console {
        Console::launch(kubeconfig, extra, &[])
    }

    fn launch(kubeconfig: &Path, extra: &[&str], env: &[(&str, &str)]) -> Console {
        let dir = tempfile::tempdir().unwrap();
        let bundles = dir.path().join("bundles");
        std::fs::create_dir(&bundles).unwrap();
        let given = extra.iter().position(|a| *a == "--listen").map(|at| extra[at + 1].parse::<SocketAddr>().unwrap());
        let port = given.map_or_else(free_port, |address| address.port());
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["--kubeconfig", path_arg(kubeconfig), "--bundles-dir", path_arg(&bundles)];
        if given.is_none() {
            args.extend(["--listen", listen.as_str()]);
        }
        args.extend(extra);
        let log = std::fs::File::create(dir.path().join("console.log")).unwrap();
        let child = console_command(&args).envs(env.iter().copied()).stdout(Stdio::null()).stderr(log).spawn().unwrap();
        let scheme = if extra.contains(&"--tls-cert") { "https" } else { "http" };
        let mut console = Console { url: format!("{scheme}://127.0.0.1:{port}"), dir, child };
        console.wait_until_ready();
        console
    }

    /// Waits until `/healthz` answers, failing with the console's log when it exits or does
    /// not answer within 30 s.
    fn wait_until_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("genesis-console exited ({status}) before it served: {}", self.stderr());
            }
            // Not the certificate that is checked here: the tests that serve TLS check it.
            let probe = Command::new("curl")
                .args(["-sk", "-o", "/dev/null", "-w", "%{http_code}", &format!("{}/healthz", self.url)])
                .output()
                .unwrap();
            if text(&probe.stdout) == "200" {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "genesis-console never answered: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it wrote to stderr so far: the egress line, then its log.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path_arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Runs `work` to completion on a runtime of its own.
pub fn block_on<F: Future>(work: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(work)
}

/// Applies `objects` through the API server as its admin, with the loader's own apply
/// (server-side apply, namespaces and CRDs first).
pub fn apply(api: &KubeApiserver, objects: Vec<Value>) {
    block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        genesis_kube::apply(&cluster, objects, Default::default()).await.unwrap();
    });
}

/// The objects of a YAML file of one or more documents (`---` between them); documents of
/// comments alone are skipped.
/// An `ExternalName` Service `data/NAME` for `localhost`, its one TCP port named
/// `port_name`: how the tests stand in for an in-cluster PostgreSQL or Redis (the protocol is
/// spelled out, as a server-side apply needs it).
pub fn service(name: &str, port_name: &str, port: u16) -> Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "data"},
        "spec": {"type": "ExternalName", "externalName": "localhost",
                 "ports": [{"name": port_name, "port": port, "protocol": "TCP"}]},
    })
}

/// Namespace `name`.
pub fn namespace(name: &str) -> Value {
    serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

/// ConfigMap `genesis/NAME` holding `value` under `key`, as an admin would create it.
pub fn config_map(name: &str, key: &str, value: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "genesis"},
        "data": {key: value},
    })
}

pub fn manifests(file: &Path) -> Vec<Value> {
    let yaml = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    yaml.split("\n---\n")
        .filter(|doc| doc.lines().any(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#')))
        .map(|doc| serde_yaml_ng::from_str::<Value>(doc).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
        .collect()
}

/// The console's manifests (`deploy/console/NAME`).
pub fn deploy_file(name: &str) -> PathBuf {
    repo().join("deploy/console").join(name)
}

/// Applies `deploy/console/namespace.yaml`, `serviceaccount.yaml` and `rbac.yaml` with the
/// loader's apply: the roles the tests bind people to, and the console's own.
pub fn install_console_rbac(api: &KubeApiserver) {
    let objects = ["namespace.yaml", "serviceaccount.yaml", "rbac.yaml"]
        .into_iter()
        .flat_map(|name| manifests(&deploy_file(name)))
        .collect();
    apply(api, objects);
}

/// The user name the API server gives the token of [`user_token`]`(…, name, …)`.
pub fn user_name(name: &str) -> String {
    format!("system:serviceaccount:{USERS_NAMESPACE}:{name}")
}

/// A person with `role` bound ([`bind`]): a ServiceAccount `name` in [`USERS_NAMESPACE`], and
/// a token of an hour from the TokenRequest API. Returns the token.
pub fn user_token(api: &KubeApiserver, name: &str, role: &str) -> String {
    bind(api, name, role);
    service_account_token(api, USERS_NAMESPACE, name)
}

/// Binds `role` to ServiceAccount `name` of [`USERS_NAMESPACE`] (both created with the admin
/// kubeconfig when not there yet) as docs/console.md says to bind it: a ClusterRoleBinding of
/// ClusterRole `role`, and a RoleBinding of each Role of `deploy/console/rbac.yaml` named
/// `role`, in its namespace (the console actions in `genesis`, the install records in
/// `genesis-system`). Once more for a second role of the same person: an operator who
/// installs also has `genesis-console-installer`, bound cluster-wide here (docs/console.md
/// binds it in each namespace bundles install into).
pub fn bind(api: &KubeApiserver, name: &str, role: &str) {
    let binding = format!("{USERS_NAMESPACE}-{name}-{role}");
    let subjects = json!([{"kind": "ServiceAccount", "name": name, "namespace": USERS_NAMESPACE}]);
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": USERS_NAMESPACE}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": USERS_NAMESPACE}}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": binding},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": subjects,
        }),
    ];
    let roles = manifests(&deploy_file("rbac.yaml"));
    for found in roles.iter().filter(|o| o["kind"] == "Role" && o["metadata"]["name"] == role) {
        objects.push(json!({
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": binding, "namespace": found["metadata"]["namespace"]},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
            "subjects": subjects,
        }));
    }
    apply(api, objects);
}

/// Removes the RoleBinding [`bind`] made of Role `role` in `namespace` for ServiceAccount
/// `name`: its rights there are gone, its token still good.
pub fn unbind(api: &KubeApiserver, name: &str, role: &str, namespace: &str) {
    block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let bindings: Api<RoleBinding> = Api::namespaced(cluster.client().clone(), namespace);
        bindings.delete(&format!("{USERS_NAMESPACE}-{name}-{role}"), &DeleteParams::default()).await.unwrap();
    });
}

/// A token of an hour for ServiceAccount `namespace/name`, from the TokenRequest API.
pub fn service_account_token(api: &KubeApiserver, namespace: &str, name: &str) -> String {
    block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client().clone(), namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec { expiration_seconds: Some(3600), ..TokenRequestSpec::default() },
            ..TokenRequest::default()
        };
        let issued: TokenRequest =
            accounts.create_subresource("token", name, &PostParams::default(), &request).await.unwrap();
        issued.status.expect("a TokenRequest answers with a token").token
    })
}

/// Deletes ServiceAccount `name` of [`USERS_NAMESPACE`]: its tokens are no longer accepted.
pub fn delete_user(api: &KubeApiserver, name: &str) {
    block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let accounts: Api<ServiceAccount> = Api::namespaced(cluster.client().clone(), USERS_NAMESPACE);
        accounts.delete(name, &DeleteParams::default()).await.unwrap();
    });
}

/// A kubeconfig like the admin's, but for `token` (another identity), written into `dir`.
pub fn kubeconfig_for(api: &KubeApiserver, token: &str, dir: &Path) -> PathBuf {
    let admin = std::fs::read_to_string(api.kubeconfig()).unwrap();
    let line = format!("    token: {}\n", genesis_testkit::kube::TOKEN);
    assert!(admin.contains(&line), "{admin}");
    let path = dir.join("kubeconfig");
    std::fs::write(&path, admin.replace(&line, &format!("    token: {token}\n"))).unwrap();
    path
}

/// One answer, as curl received it, read the way reqwest's blocking `Response` is (`status()`,
/// `headers()`, `text()`, `bytes()`).
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    /// The status line and headers, as sent: for failure messages.
    pub head: String,
    body: Vec<u8>,
}

impl Reply {
    /// The answer whose head curl dumped as `head` (the last one, after any `100 Continue`)
    /// and whose body is `body`.
    fn new(head: &str, body: Vec<u8>) -> Reply {
        let head = head.trim_end().rsplit("\r\n\r\n").next().unwrap_or_default().to_owned();
        let mut lines = head.lines();
        let status = lines.next().and_then(|line| line.split_whitespace().nth(1)).and_then(|code| code.parse().ok());
        let status = status.unwrap_or_else(|| panic!("no status line in {head}"));
        let mut headers = HeaderMap::new();
        for (name, value) in lines.filter_map(|line| line.split_once(':')) {
            let name = HeaderName::try_from(name.trim()).unwrap_or_else(|e| panic!("{name}: {e}"));
            headers.append(name, HeaderValue::try_from(value.trim()).unwrap_or_else(|e| panic!("{value}: {e}")));
        }
        Reply { status, headers, head, body }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body as text (an error when it is not UTF-8).
    pub fn text(&self) -> Result<String, std::string::FromUtf8Error> {
        String::from_utf8(self.body.clone())
    }

    /// The body.
    pub fn bytes(&self) -> Result<Vec<u8>, std::convert::Infallible> {
        Ok(self.body.clone())
    }

    /// Where a redirect points.
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// The `Set-Cookie` values.
    pub fn cookies_set(&self) -> Vec<&str> {
        self.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect()
    }
}

/// A browser without a browser: curl with a cookie jar of its own, following no redirect.
pub struct Browserless {
    base: String,
    jar: tempfile::TempDir,
    extra: Vec<String>,
}

impl Browserless {
    /// A browser of `console` holding no cookie yet.
    pub fn new(console: &Console) -> Browserless {
        Browserless::with_args(console, &[])
    }

    /// A browser of `console` passing curl `extra` arguments on every request (`--cacert`).
    pub fn with_args(console: &Console, extra: &[&str]) -> Browserless {
        Browserless {
            base: console.url.clone(),
            jar: tempfile::tempdir().unwrap(),
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    /// A browser of `console` signed in with `token` (to `/`, as a successful sign-in).
    pub fn sign_in(console: &Console, token: &str) -> Browserless {
        let browser = Browserless::new(console);
        browser.signed_in(token);
        browser
    }

    /// Signs in with `token`, which must succeed: 303 to `/`.
    pub fn signed_in(&self, token: &str) {
        let reply = self.try_sign_in(token);
        assert_eq!(reply.status(), 303, "sign-in: {}{}", reply.head, reply.text().unwrap_or_default());
        assert_eq!(reply.location(), Some("/"), "{}", reply.head);
    }

    /// `GET /sign-in`, then the form `POST`ed with `token` and the form's token: the answer.
    pub fn try_sign_in(&self, token: &str) -> Reply {
        let form = self.get("/sign-in");
        assert_eq!(form.status(), 200, "{}", form.head);
        let csrf = csrf_of(&form.text().unwrap());
        self.post_raw("/sign-in", &[("token", token), ("csrf", csrf.as_str())], &[])
    }

    /// A request of `method` to `path` with `args` for curl.
    pub fn request(&self, method: &str, path: &str, args: &[&str]) -> Reply {
        let headers = self.jar.path().join("headers");
        let body = self.jar.path().join("body");
        let _ = std::fs::remove_file(&body);
        let jar = self.jar.path().join("cookies");
        let out = Command::new("curl")
            .args(["-s", "-X", method, "-D", path_arg(&headers), "-o", path_arg(&body)])
            .args(["-b", path_arg(&jar), "-c", path_arg(&jar)])
            .args(&self.extra)
            .args(args)
            .arg(format!("{}{path}", self.base))
            .output()
            .unwrap();
        assert!(out.status.success(), "curl {method} {path}: {}", text(&out.stderr));
        Reply::new(&std::fs::read_to_string(headers).unwrap(), std::fs::read(body).unwrap_or_default())
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> Reply {
        self.request("GET", path, &[])
    }

    /// A form `POST` of `fields` and the session's CSRF token ([`Browserless::csrf`]).
    pub fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf();
        let mut all = fields.to_vec();
        all.push(("csrf", csrf.as_str()));
        self.post_raw(path, &all, &[])
    }

    /// A form `POST` of exactly `fields`, with `headers` (`("Origin", "https://evil.example")`).
    pub fn post_raw(&self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
        let mut args = Vec::new();
        for (name, value) in fields {
            args.extend(["--data-urlencode".to_owned(), format!("{name}={value}")]);
        }
        if fields.is_empty() {
            args.extend(["--data".to_owned(), String::new()]);
        }
        for (name, value) in headers {
            args.extend(["-H".to_owned(), format!("{name}: {value}")]);
        }
        self.request("POST", path, &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The session's CSRF token, read from the hidden field of a signed-in page (its sign-out
    /// form, on any page, even a refusal).
    pub fn csrf(&self) -> String {
        let page = self.get("/preflight");
        assert_ne!(page.status(), 303, "not signed in: {}", page.head);
        csrf_of(&page.text().unwrap())
    }
}

/// The value of a page's first hidden `csrf` field.
pub fn csrf_of(page: &str) -> String {
    page.split('<')
        .filter(|tag| tag.starts_with("input") && tag.contains("name=\"csrf\""))
        .find_map(|tag| tag.split("value=\"").nth(1)?.split('"').next())
        .unwrap_or_else(|| panic!("no csrf field in {page}"))
        .to_owned()
}
