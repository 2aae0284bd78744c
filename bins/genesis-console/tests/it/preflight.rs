//! The Pre-flight tab on the run's real kube-apiserver, against PostgreSQL and Redis from
//! Debian named by Services (`ExternalName` Services pointing at `localhost`, their ports
//! named as the configuration asks: a Service's port spec may name any port). Every row
//! passes; Redis killed, its row fails with the remedy and the others pass; a row run again
//! alone runs that check only; a Service pointed elsewhere is followed at once after a
//! failure (the cached endpoint dropped); an environment override wins over the Service; the
//! JSON download is the rows; the console's log names the endpoints before a run. A Service or
//! port that is not there is a `degraded` row (`/healthz` says only `degraded`) while the
//! console serves on; the configuration form refuses what does not parse, naming why, and
//! leaves the ConfigMap as it was; someone who may update the ConfigMap but not create one
//! cannot create it; a viewer sees the results and may neither run the checks nor change the
//! configuration; a run asked for while one is under way is refused, not queued.

use std::time::{Duration, Instant};

use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::services::{Postgres, Redis};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use serde_json::{Value, json};

use crate::apply as apply_as_admin;
use crate::status::{cluster_role, get, sign_in_rule};
use crate::{Browserless, Console, config_map, install_console_rbac, namespace, service, user_token};

/// ConfigMap `genesis/genesis-preflight` holding `spec`, as an admin would create it.
fn preflight_config(spec: &str) -> Value {
    config_map("genesis-preflight", "preflight.yaml", spec)
}

/// What ConfigMap `genesis/genesis-preflight` holds under `preflight.yaml`, as the API
/// server says; None when there is no such ConfigMap.
fn stored_config(api: &KubeApiserver) -> Option<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), "genesis");
        let map = maps.get_opt("genesis-preflight").await.unwrap()?;
        map.data.and_then(|mut data| data.remove("preflight.yaml"))
    })
}

/// A form's POST by `client` (its CSRF token added): the status and the page.
fn post(client: &Browserless, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = client.post_form(path, fields);
    let status = response.status().as_u16();
    (status, response.text().unwrap())
}

/// Runs every check, or the one of `id`, as `client`, which must be let: back to the tab.
fn run(client: &Browserless, id: Option<&str>) {
    let path = id.map_or_else(|| "/preflight/run".to_owned(), |id| format!("/preflight/checks/{id}/run"));
    let (status, page) = post(client, &path, &[]);
    assert_eq!(status, 303, "{path}: {page}");
}

/// The tab as `client` sees it, which must answer 200.
fn tab(client: &Browserless) -> String {
    let (status, page) = get(client, "/preflight");
    assert_eq!(status, 200, "{page}");
    page
}

/// The row of check `id` on the tab: its opening tag and cells, up to the next row.
fn row<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page.find(&format!(r#"<tr data-check="{id}""#)).unwrap_or_else(|| panic!("no row {id}: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// The status of check `id` on the tab (`data-status`).
fn status_of<'a>(page: &'a str, id: &str) -> &'a str {
    let row = row(page, id);
    let start = row.find(r#"data-status=""#).unwrap_or_else(|| panic!("no status: {row}")) + r#"data-status=""#.len();
    &row[start..start + row[start..].find('"').unwrap()]
}

/// Every row's id and status, in order.
fn statuses(page: &str) -> Vec<(String, String)> {
    page.match_indices(r#"<tr data-check=""#)
        .map(|(at, tag)| {
            let id = &page[at + tag.len()..];
            let id = &id[..id.find('"').unwrap()];
            (id.to_owned(), status_of(page, id).to_owned())
        })
        .collect()
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn checks_pass_fail_run_again_alone_and_follow_the_service_or_its_override() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let mut postgres = Postgres::start();
    let mut redis = Redis::start();
    let spec = format!(
        "postgres: {{ url: \"postgres://postgres@db/postgres\", service: \"data/postgres:sql\" }}\n\
         redis: {{ url: \"redis://:{}@cache\", service: \"data/redis:resp\" }}\n\
         dns: [ localhost ]\n",
        Redis::PASSWORD
    );
    apply_as_admin(
        &api,
        vec![
            namespace("data"),
            service("postgres", "sql", postgres.port),
            service("redis", "resp", redis.port),
            preflight_config(&spec),
        ],
    );
    let console = Console::start(&api, &[]);
    let operator = Browserless::sign_in(&console, &user_token(&api, "operator", "cluster-admin"));

    let page = tab(&operator);
    assert!(page.contains(r#"id="preflight-none""#) && page.contains(r#"id="run-preflight""#), "{page}");
    run(&operator, None);
    let page = tab(&operator);
    let all_pass = [("postgres", "pass"), ("redis", "pass"), ("dns:localhost", "pass")];
    let expected: Vec<(String, String)> = all_pass.iter().map(|(id, s)| ((*id).to_owned(), (*s).to_owned())).collect();
    assert_eq!(statuses(&page), expected, "{page}");
    let postgres_row = row(&page, "postgres");
    assert!(postgres_row.contains(&format!("localhost:{}", postgres.port)), "{postgres_row}");
    assert!(postgres_row.contains("(Service data/postgres:sql)"), "{postgres_row}");
    assert!(!row(&page, "redis").contains(Redis::PASSWORD), "{page}");
    // Before the run, the console's log named what it would contact, passwords left out.
    let log = console.stderr();
    let announced = log.lines().find(|l| l.contains("network: this pre-flight run contacts only")).unwrap_or_default();
    for named in
        ["the endpoint of Service data/postgres:sql", "the endpoint of Service data/redis:resp", "dns:localhost"]
    {
        assert!(announced.contains(named), "{named} not announced: {log}");
    }
    assert!(!log.contains(Redis::PASSWORD), "{log}");

    // The download is the rows, as `genesis preflight --output json` reports them.
    let download = operator.get("/preflight/results.json");
    assert_eq!(download.status().as_u16(), 200);
    let disposition = download.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment") && disposition.contains("preflight.json"), "{disposition}");
    let report: Value = serde_json::from_str(&download.text().unwrap()).unwrap();
    let downloaded: Vec<(String, String)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap().to_owned(), c["status"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(downloaded, expected, "{report}");
    assert!(report["checks"][0]["name"].as_str().unwrap().starts_with("postgres "), "{report}");

    // Redis gone: its row fails with the remedy; the others still pass.
    redis.kill();
    run(&operator, None);
    let page = tab(&operator);
    assert_eq!(status_of(&page, "redis"), "fail", "{page}");
    let redis_row = row(&page, "redis");
    assert!(redis_row.contains("cannot connect"), "{redis_row}");
    assert!(redis_row.contains("start Redis, or correct redis.url"), "{redis_row}");
    assert_eq!((status_of(&page, "postgres"), status_of(&page, "dns:localhost")), ("pass", "pass"), "{page}");

    // PostgreSQL stopped too: running the Redis row again runs that check only, so the
    // PostgreSQL row still says what its last run found; running it again tells.
    postgres.stop();
    run(&operator, Some("redis"));
    let page = tab(&operator);
    assert_eq!((status_of(&page, "redis"), status_of(&page, "postgres")), ("fail", "pass"), "{page}");
    assert!(row(&page, "redis").contains("run again"), "{page}");
    assert!(!row(&page, "postgres").contains("run again"), "{page}");
    run(&operator, Some("postgres"));
    let page = tab(&operator);
    assert_eq!(status_of(&page, "postgres"), "fail", "{page}");
    assert!(row(&page, "postgres").contains("start PostgreSQL"), "{page}");

    // Redis back on another port, and its Service says so: the failures dropped what was
    // cached, so the next run asks the API server again at once, well within the 30 s TTL.
    postgres.resume();
    let moved = Redis::start();
    apply_as_admin(&api, vec![service("redis", "resp", moved.port)]);
    run(&operator, None);
    let page = tab(&operator);
    assert_eq!(statuses(&page), expected, "{page}");
    assert!(row(&page, "redis").contains(&format!("localhost:{}", moved.port)), "{page}");

    // An override in the console's environment wins over the Service.
    let closed = closed_port();
    let endpoint = format!("127.0.0.1:{closed}");
    let overridden = Console::start_with_env(&api, &[], &[("GENESIS_ENDPOINT_DATA_REDIS_RESP", endpoint.as_str())]);
    let other = Browserless::sign_in(&overridden, &user_token(&api, "other", "cluster-admin"));
    run(&other, None);
    let page = tab(&other);
    assert_eq!(status_of(&page, "redis"), "fail", "{page}");
    assert!(row(&page, "redis").contains(&format!("redis://@{endpoint} (Service data/redis:resp)")), "{page}");
    assert_eq!(status_of(&page, "postgres"), "pass", "{page}");
}

#[test]
fn what_cannot_be_resolved_is_degraded_and_the_configuration_form_refuses_what_does_not_parse() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    // Someone who may run the checks and update the configuration's ConfigMap, but neither
    // create ConfigMaps nor get Services.
    let editor_role = cluster_role(
        "preflight-editor",
        json!([
            sign_in_rule(),
            {"apiGroups": ["console.genesis.dev"], "resources": ["preflights"], "verbs": ["get", "create"]},
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["genesis-preflight"],
             "verbs": ["get", "update"]},
        ]),
    );
    apply_as_admin(&api, vec![namespace("data"), service("postgres", "sql", 5432), editor_role]);
    let console = Console::start(&api, &[]);
    let operator_token = user_token(&api, "operator", "cluster-admin");
    let operator = Browserless::sign_in(&console, &operator_token);
    let editor = Browserless::sign_in(&console, &user_token(&api, "editor", "preflight-editor"));

    // No configuration yet: the tab says how to make one, and offers no run.
    let page = tab(&operator);
    assert!(page.contains(r#"id="preflight-no-config""#) && !page.contains(r#"id="run-preflight""#), "{page}");
    assert!(page.contains(r#"<form id="preflight-config" method="post" action="/preflight/config">"#), "{page}");

    // What does not parse is refused with why, and nothing is saved.
    let (status, page) = post(&operator, "/preflight/config", &[("spec", "postgres: [ unclosed")]);
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="config-error""#) && page.contains("not a preflight file"), "{page}");
    assert!(page.contains("postgres: [ unclosed</textarea>"), "the text as sent stays in the form: {page}");
    assert_eq!(stored_config(&api), None);

    // `update` of a ConfigMap that is not there is no right to create it: the console does
    // not lend its own.
    let (status, page) = post(&editor, "/preflight/config", &[("spec", "dns: [ localhost ]\n")]);
    assert_eq!(status, 403, "{page}");
    assert!(page.contains(r#"id="forbidden""#) && page.contains("create configmaps in genesis"), "{page}");
    assert_eq!(stored_config(&api), None);

    // A Service without the port named, a Service that is not there, and a name that
    // resolves; sent as a browser sends a textarea, lines ended by CR LF.
    let spec = "postgres: { url: \"postgres://postgres@db/postgres\", service: \"data/postgres:postgresql\" }\n\
                redis: { url: \"redis://cache\", service: \"data/nosuch:resp\" }\n\
                dns: [ localhost ]\n";
    let (status, page) = post(&operator, "/preflight/config", &[("spec", spec.replace('\n', "\r\n").as_str())]);
    assert_eq!(status, 303, "{page}");
    assert_eq!(stored_config(&api).as_deref(), Some(spec));
    let (status, page) =
        post(&operator, "/preflight/config", &[("spec", "redis: { url: \"redis://cache\", service: \"nosuch\" }")]);
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("is not a Service reference"), "{page}");
    assert_eq!(stored_config(&api).as_deref(), Some(spec), "the ConfigMap is as it was");

    // Once it is there, the editor may update it; but not run checks that look up Services
    // they may not get, since the console would look them up with its own rights.
    let (status, page) = post(&editor, "/preflight/config", &[("spec", spec)]);
    assert_eq!(status, 303, "{page}");
    let (status, page) = post(&editor, "/preflight/run", &[]);
    assert_eq!(status, 403, "{page}");
    assert!(page.contains(r#"id="forbidden""#) && page.contains("get services postgres in data"), "{page}");
    assert!(tab(&editor).contains(r#"id="preflight-none""#), "nothing ran");

    run(&operator, None);
    let page = tab(&operator);
    assert_eq!(status_of(&page, "postgres"), "degraded", "{page}");
    assert!(row(&page, "postgres").contains("no port named postgresql: the ports it has are sql (5432)"), "{page}");
    assert_eq!(status_of(&page, "redis"), "degraded", "{page}");
    assert!(row(&page, "redis").contains("no such Service in namespace data"), "{page}");
    assert_eq!(status_of(&page, "dns:localhost"), "pass", "{page}");

    // The console says it is degraded, and serves on; which dependency and why only the
    // signed-in tab says (above): `/healthz` answers anyone who reaches the port.
    let (status, health) = get(&operator, "/healthz");
    assert_eq!((status, health.as_str()), (200, "degraded\n"));
    tab(&operator);

    // A viewer sees the results and may neither run the checks nor change the configuration.
    let viewer = Browserless::sign_in(&console, &user_token(&api, "viewer", "genesis-console-viewer"));
    let page = tab(&viewer);
    assert_eq!(status_of(&page, "redis"), "degraded", "{page}");
    assert!(!page.contains(r#"id="run-preflight""#) && !page.contains(r#"class="rerun""#), "{page}");
    for path in ["/preflight/run", "/preflight/checks/redis/run"] {
        let (status, page) = post(&viewer, path, &[]);
        assert_eq!(status, 403, "{path}: {page}");
        assert!(page.contains(r#"id="forbidden""#), "{path}: {page}");
        assert!(page.contains("create preflights.console.genesis.dev in genesis"), "{path}: {page}");
    }
    let (status, page) = post(&viewer, "/preflight/config", &[("spec", "dns: [ localhost ]\n")]);
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("update configmaps genesis-preflight in genesis"), "{page}");
    assert_eq!(stored_config(&api).as_deref(), Some(spec));

    // The configuration fixed, the next run finds nothing degraded.
    let (status, page) = post(&operator, "/preflight/config", &[("spec", "dns: [ localhost ]\n")]);
    assert_eq!(status, 303, "{page}");
    run(&operator, None);
    assert_eq!(statuses(&tab(&operator)), [("dns:localhost".to_owned(), "pass".to_owned())]);
    assert_eq!(get(&operator, "/healthz"), (200, "ok\n".to_owned()));

    // A run asked for while one is under way is refused at once, not queued behind it. Both
    // checks wait out their 5 s on a port that takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let slow = format!(
        "postgres: {{ url: \"postgres://postgres@127.0.0.1:{port}/postgres\" }}\n\
         redis: {{ url: \"redis://127.0.0.1:{port}\" }}\n"
    );
    let (status, page) = post(&operator, "/preflight/config", &[("spec", slow.as_str())]);
    assert_eq!(status, 303, "{page}");
    // Another session of the operator's: one curl cookie jar serves one request at a time.
    let other = Browserless::sign_in(&console, &operator_token);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| post(&operator, "/preflight/run", &[]));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !tab(&other).contains(r#"id="preflight-running""#) {
            assert!(Instant::now() < deadline, "the first run never showed as under way");
            std::thread::sleep(Duration::from_millis(100));
        }
        for path in ["/preflight/run", "/preflight/checks/redis/run"] {
            let asked = Instant::now();
            let (status, page) = post(&other, path, &[]);
            assert_eq!(status, 409, "{path}: {page}");
            assert!(page.contains("already under way"), "{path}: {page}");
            assert!(asked.elapsed() < Duration::from_secs(3), "{path}: answered at once, not after the run");
        }
        let (status, page) = first.join().unwrap();
        assert_eq!(status, 303, "{page}");
    });
    let page = tab(&operator);
    assert!(!page.contains(r#"id="preflight-running""#), "nothing was queued after it: {page}");
    let expected = [("postgres".to_owned(), "fail".to_owned()), ("redis".to_owned(), "fail".to_owned())];
    assert_eq!(statuses(&page), expected, "{page}");
    assert!(row(&page, "redis").contains("no answer within 5 s"), "{page}");
    drop(silent);
}
