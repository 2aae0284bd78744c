//! Opt-in advice (issue 18 item 7) on the run's real kube-apiserver. No language model can run
//! here, so a stand-in on loopback plays the chat-completions endpoint
//! (`genesis_testkit::http::StandIn`: a `std::net::TcpListener` served by a thread): it
//! records every request it receives and answers each, after a pause (a model takes a
//! moment), with a chat completion whose text plants `<script>`, a right-to-left override and
//! a zero-width space.
//!
//! Without the advice Secret in the console's namespace (one of its name in another namespace
//! points at the stand-in), the console names no advice endpoint, offers no Explain form and
//! no Advice tab, answers 404 on the advice routes, and the stand-in receives nothing, even
//! after a pre-flight run with failed rows. With the Secret (Azure OpenAI's form, the endpoint
//! the stand-in's `http://127.0.0.1:PORT/`), a second egress line names it; Explain on a
//! failed row whose detail holds a planted e-mail address and a password in a URL first shows
//! what would be sent, redacted, and sends nothing; Send sends exactly that (the deployment's
//! path, the key as `api-key`, none of the planted values) and shows the answer as escaped
//! text labelled advice only, without the characters that cannot be seen; the same preview
//! sent again is refused as already sent, and sends nothing. The chat previews and sends the
//! same way, what cannot be seen taken out before redaction (an address split by a zero-width
//! space is found), and the same question sent twice is refused the second time. A viewer
//! without `create advice` is refused, and the stand-in hears nothing of it. Two Sends of one
//! preview at once (a double click) send one question.

use genesis_testkit::http::{StandIn, respond};
use genesis_testkit::kube::KubeApiserver;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::{Browserless, Console, Reply, apply, block_on, config_map, install_console_rbac, namespace, user_token};

/// An e-mail address planted in a failed row's detail.
const EMAIL: &str = "jane.doe@example.com";
/// A password planted in a URL in the same detail.
const PASSWORD: &str = "S3cretPw";
/// The key the Secret gives: sent to the endpoint, shown nowhere.
const KEY: &str = "aoai-test-key-0123456789abcdef";
/// The stand-in's answer: markup a page must show as text, and a right-to-left override and a
/// zero-width space no page may show.
const ANSWER: &str = "Correct disk.bundle <script>alert(1)</script> and run\u{202E} the check\u{200B} again.";
/// The answer as a page shows it.
const ANSWER_ESCAPED: &str = "Correct disk.bundle &lt;script&gt;alert(1)&lt;/script&gt; and run the check again.";
/// How long the stand-in takes to answer: two Sends at once overlap.
const ANSWER_DELAY: std::time::Duration = std::time::Duration::from_millis(300);
/// Where the Azure form sends a question.
const AZURE_TARGET: &str = "/openai/deployments/gpt-4.1/chat/completions?api-version=2025-02-01-preview";

/// The stand-in endpoint: every request recorded and answered, after [`ANSWER_DELAY`], with a
/// chat completion of [`ANSWER`].
fn stand_in() -> StandIn {
    let completion = json!({
        "id": "chatcmpl-standin", "object": "chat.completion", "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
    })
    .to_string();
    StandIn::start(move |_, conn| {
        std::thread::sleep(ANSWER_DELAY);
        respond(conn, "200 OK", &[("Content-Type", "application/json")], completion.as_bytes())
    })
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A pre-flight configuration with two failing rows: `disk`, whose bundle path plants
/// [`EMAIL`] and [`PASSWORD`] in its detail, and `redis` at a closed port.
fn preflight_config() -> Value {
    let spec = format!(
        "disk: {{ path: \"/tmp\", bundle: \"/nonexistent/{EMAIL}/postgres://app:{PASSWORD}@db.example.com/x.tar.zst\" }}\n\
         redis: {{ url: \"redis://127.0.0.1:{}\" }}\n",
        closed_port()
    );
    config_map("genesis-preflight", "preflight.yaml", &spec)
}

/// Secret `namespace/genesis-holmes-creds` in Azure OpenAI's form (seed 000), its endpoint the
/// stand-in's, created as an admin would with `kubectl create secret generic`.
fn create_advice_secret(api: &KubeApiserver, namespace: &str, stand_in: &StandIn) {
    let fields = [
        ("AZURE_OPENAI_ENDPOINT", format!("{}/", stand_in.url())),
        ("AZURE_OPENAI_KEY", KEY.to_owned()),
        ("AZURE_OPENAI_DEPLOYMENT", "gpt-4.1".to_owned()),
        ("AZURE_OPENAI_API_VERSION", "2025-02-01-preview".to_owned()),
    ];
    block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let secrets: Api<Secret> = Api::namespaced(cluster.client().clone(), namespace);
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("genesis-holmes-creds".to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectMeta::default()
            },
            string_data: Some(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
            ..Secret::default()
        };
        secrets.create(&PostParams::default(), &secret).await.unwrap();
    });
}

/// A form's POST by `client` (its CSRF token added): the status and the page.
fn post(client: &Browserless, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let reply = client.post_form(path, fields);
    (reply.status().as_u16(), reply.text().unwrap())
}

/// A GET by `client`: the status and the page.
fn get(client: &Browserless, path: &str) -> (u16, String) {
    let reply = client.get(path);
    (reply.status().as_u16(), reply.text().unwrap())
}

/// Runs every check as `client`, then the Pre-flight tab, on which both rows failed.
fn run_preflight(client: &Browserless) -> String {
    let (status, page) = post(client, "/preflight/run", &[]);
    assert_eq!(status, 303, "{page}");
    let (status, page) = get(client, "/preflight");
    assert_eq!(status, 200, "{page}");
    for id in ["disk", "redis"] {
        assert!(page.contains(&format!(r#"data-check="{id}" data-status="fail""#)), "{id}: {page}");
    }
    assert!(page.contains(EMAIL) && page.contains(PASSWORD), "the row shows its own detail: {page}");
    page
}

/// The value of a page's hidden field `name`, as the browser sends it back (HTML entities
/// decoded).
fn hidden(page: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page.find(&marker).unwrap_or_else(|| panic!("no hidden field {name}: {page}")) + marker.len();
    let value = &page[start..start + page[start..].find('"').unwrap()];
    value.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&")
}

/// The session cookie (`name=value`) a sign-in's answer sets.
fn session_cookie(signed_in: &Reply) -> String {
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok()?.split(';').next())
        .find(|pair| pair.split('=').next().is_some_and(|name| name.trim_start_matches("__Host-") == "genesis-console"))
        .unwrap_or_else(|| panic!("no session cookie: {}", signed_in.head))
        .to_owned()
}

/// Two form POSTs of `fields` to `path` of `console` at once, each its own curl sending the
/// session `cookie`: their statuses.
fn post_twice_at_once(console: &Console, cookie: &str, path: &str, fields: &[(&str, &str)]) -> Vec<u16> {
    let mut args = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H"].map(str::to_owned).to_vec();
    args.push(format!("Cookie: {cookie}"));
    for (name, value) in fields {
        args.extend(["--data-urlencode".to_owned(), format!("{name}={value}")]);
    }
    args.push(format!("{}{path}", console.url));
    let start = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        let posts: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    let out = std::process::Command::new("curl").args(&args).output().unwrap();
                    assert!(out.status.success(), "curl POST {path}: {}", String::from_utf8_lossy(&out.stderr));
                    String::from_utf8(out.stdout).unwrap().parse::<u16>().unwrap()
                })
            })
            .collect();
        posts.into_iter().map(|post| post.join().unwrap()).collect()
    })
}

/// The lines of the console's stderr that announce what it contacts.
fn egress_lines(console: &Console) -> Vec<String> {
    console.stderr().lines().filter(|line| line.starts_with("genesis-console: network: ")).map(str::to_owned).collect()
}

#[test]
fn without_the_secret_nothing_about_advice_is_offered_or_contacted() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let stand_in = stand_in();
    // A Secret of that name in another namespace is not the console's.
    apply(&api, vec![namespace("elsewhere"), preflight_config()]);
    create_advice_secret(&api, "elsewhere", &stand_in);
    let console = Console::start(&api, &[]);

    let lines = egress_lines(&console);
    assert_eq!(lines.len(), 1, "one egress line: {}", console.stderr());
    assert!(
        lines[0].contains(
            "the endpoint Secret genesis/genesis-holmes-creds names for opt-in advice, if it exists at start"
        ),
        "{lines:?}"
    );
    let endpoint = format!("127.0.0.1:{}", stand_in.port);
    assert!(!console.stderr().contains(&endpoint), "{}", console.stderr());
    assert!(console.stderr().contains("no advice Secret: opt-in advice is off"), "{}", console.stderr());

    let operator = Browserless::sign_in(&console, &user_token(&api, "operator", "genesis-console-operator"));
    let page = run_preflight(&operator);
    assert!(!page.contains(r#"class="explain""#) && !page.contains("/advice"), "{page}");
    assert!(!page.contains(r#"id="tab-advice""#), "{page}");
    for (path, fields) in [("/advice/explain", vec![("check", "disk")]), ("/advice/chat", vec![("question", "why?")])] {
        let (status, page) = post(&operator, path, &fields);
        assert_eq!(status, 404, "{path}: {page}");
        assert!(page.contains("Advice is not configured in this console."), "{path}: {page}");
    }
    let (status, page) = get(&operator, "/advice");
    assert_eq!(status, 404, "{page}");

    assert!(stand_in.seen().is_empty(), "the stand-in was contacted: {:?}", stand_in.seen());
}

#[test]
fn with_the_secret_what_is_sent_is_shown_first_redacted_and_the_answer_is_advice_only() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let stand_in = stand_in();
    apply(&api, vec![preflight_config()]);
    create_advice_secret(&api, "genesis", &stand_in);
    let console = Console::start(&api, &[]);

    // The egress lines: the Secret as a source, then, read, the endpoint it names; nothing
    // contacted it at start.
    let lines = egress_lines(&console);
    let shown = format!("{}/openai/deployments/gpt-4.1/chat/completions", stand_in.url());
    assert_eq!(lines.len(), 2, "{}", console.stderr());
    assert!(lines[0].contains("the endpoint Secret genesis/genesis-holmes-creds names"), "{lines:?}");
    assert_eq!(
        lines[1],
        format!(
            "genesis-console: network: opt-in advice: this run also contacts {shown} (Secret \
             genesis/genesis-holmes-creds), only when a signed-in person sends a question"
        )
    );
    assert!(lines[1].contains(&format!("http://127.0.0.1:{}/", stand_in.port)), "{lines:?}");
    assert!(stand_in.seen().is_empty(), "{:?}", stand_in.seen());

    // The operator: an Explain form on each failed row, and the Advice tab.
    let operator_token = user_token(&api, "operator", "genesis-console-operator");
    let operator = Browserless::sign_in(&console, &operator_token);
    let page = run_preflight(&operator);
    let explain = r#"<form class="explain" method="post" action="/advice/explain">"#;
    assert_eq!(page.matches(explain).count(), 2, "{page}");
    assert!(page.contains(r#"<a id="tab-advice" href="/advice">Advice</a>"#), "{page}");

    // Explain: the preview, redacted, and nothing sent yet.
    let (status, preview) = post(&operator, "/advice/explain", &[("check", "disk")]);
    assert_eq!(status, 200, "{preview}");
    assert!(preview.contains(r#"<section id="advice-preview""#), "{preview}");
    assert!(preview.contains(r#"id="advice-send""#) && preview.contains(r#"action="/advice/explain/send""#));
    assert!(!preview.contains(EMAIL) && !preview.contains(PASSWORD), "the preview is redacted: {preview}");
    assert!(preview.contains("[REDACTED:email]") && preview.contains("[REDACTED:connection-password]"), "{preview}");
    assert!(preview.contains(&shown) && !preview.contains(KEY), "{preview}");
    assert!(stand_in.seen().is_empty(), "a preview sends nothing: {:?}", stand_in.seen());

    // Send with another preview's digest: refused, nothing sent.
    let stale = "0".repeat(64);
    let (status, page) = post(&operator, "/advice/explain/send", &[("check", "disk"), ("preview", stale.as_str())]);
    assert_eq!(status, 409, "{page}");
    assert!(stand_in.seen().is_empty(), "{:?}", stand_in.seen());

    // Send: the answer, as text, labelled advice only.
    let digest = hidden(&preview, "preview");
    let (status, answer) = post(&operator, "/advice/explain/send", &[("check", "disk"), ("preview", digest.as_str())]);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(r#"<section id="advice-answer""#), "{answer}");
    assert!(answer.contains("Advice only: nothing was changed; the deterministic checks remain the gate."), "{answer}");
    assert!(answer.contains(ANSWER_ESCAPED) && !answer.contains("<script>alert"), "escaped: {answer}");
    assert!(!answer.contains('\u{202E}') && !answer.contains('\u{200B}'), "what cannot be seen is not shown: {answer}");

    // What the stand-in received: the deployment's path, the key as api-key, the messages
    // previewed, none of the planted values.
    let seen = stand_in.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let request = &seen[0];
    assert_eq!((request.method.as_str(), request.target.as_str()), ("POST", AZURE_TARGET));
    assert_eq!(request.header("api-key"), Some(KEY));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = String::from_utf8(request.body.clone()).unwrap();
    assert!(!body.contains(EMAIL) && !body.contains(PASSWORD) && !body.contains("jane.doe"), "{body}");
    let sent: Value = serde_json::from_str(&body).unwrap();
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(
        (messages.len(), messages[0]["role"].as_str(), messages[1]["role"].as_str()),
        (2, Some("system"), Some("user"))
    );
    let question = messages[1]["content"].as_str().unwrap();
    assert!(question.contains("[REDACTED:email]") && question.contains("Result: FAIL"), "{question}");
    assert!(question.contains("=== BEGIN ROW DATA") && question.contains("=== END ROW DATA ==="), "fenced: {question}");

    // The same preview sent again (a reload, a replayed form): sent once already, so refused,
    // and nothing more is sent.
    let (status, page) = post(&operator, "/advice/explain/send", &[("check", "disk"), ("preview", digest.as_str())]);
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("already sent"), "{page}");
    assert_eq!(stand_in.seen().len(), 1, "{:?}", stand_in.seen());

    // The chat goes on from the explanation: preview, then send, redacted the same way.
    let (status, page) = get(&operator, "/advice");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(r#"<form id="advice-chat" method="post" action="/advice/chat">"#), "{page}");
    assert!(page.contains(r#"<textarea id="question" name="question""#), "{page}");
    // An address split by a zero-width space, and a right-to-left override: taken out before
    // redaction, so the address is found.
    let asked = format!(
        "Why can {EMAIL} not reach redis://:hunter2@cache:6379 from the console? Mail jane.doe\u{200B}@example.com\
         \u{202E} if not."
    );
    let (status, preview) = post(&operator, "/advice/chat", &[("question", asked.as_str())]);
    assert_eq!(status, 200, "{preview}");
    assert!(preview.contains(r#"<section id="advice-preview""#) && preview.contains(r#"action="/advice/chat/send""#));
    assert!(!preview.contains(EMAIL) && !preview.contains("hunter2") && !preview.contains("jane.doe"), "{preview}");
    assert!(!preview.contains('\u{200B}') && !preview.contains('\u{202E}'), "{preview}");
    assert!(preview.contains(r#"id="advice-not-found""#), "what the rules cannot find is said: {preview}");
    assert_eq!(stand_in.seen().len(), 1, "a preview sends nothing");
    let fields = [("question", hidden(&preview, "question")), ("preview", hidden(&preview, "preview"))];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, answer) = post(&operator, "/advice/chat/send", &fields);
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(r#"<section id="advice-answer""#) && answer.contains(ANSWER_ESCAPED), "{answer}");
    let seen = stand_in.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let body = String::from_utf8(seen[1].body.clone()).unwrap();
    assert!(!body.contains(EMAIL) && !body.contains("hunter2") && !body.contains(PASSWORD), "{body}");
    assert!(!body.contains("jane.doe") && !body.contains('\u{200B}') && !body.contains('\u{202E}'), "{body}");
    let sent: Value = serde_json::from_str(&body).unwrap();
    let roles: Vec<&str> = sent["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"], "{body}");
    // Sent again (a reload): the conversation moved on, so it is refused and nothing is sent.
    let (status, page) = post(&operator, "/advice/chat/send", &fields);
    assert_eq!(status, 409, "{page}");
    assert_eq!(stand_in.seen().len(), 2);

    // A viewer may see the tab's results but not ask: no Explain form, and 403 naming the
    // right.
    let viewer = Browserless::sign_in(&console, &user_token(&api, "viewer", "genesis-console-viewer"));
    let (status, page) = get(&viewer, "/preflight");
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains(explain), "{page}");
    for (status, page) in [post(&viewer, "/advice/explain", &[("check", "disk")]), get(&viewer, "/advice")] {
        assert_eq!(status, 403, "{page}");
        assert!(page.contains(r#"id="forbidden""#), "{page}");
        assert!(page.contains("create advice.console.genesis.dev in genesis"), "{page}");
    }
    assert_eq!(stand_in.seen().len(), 2, "the viewer's refusals send nothing");

    // Two Sends of one preview at once (a double click, a replay racing the original), in a
    // second session of the operator's: one question is sent; the other is refused, as
    // already sent or while the first is on its way.
    let racer = Browserless::new(&console);
    let signed_in = racer.try_sign_in(&operator_token);
    assert_eq!(signed_in.status(), 303, "{}", signed_in.head);
    let cookie = session_cookie(&signed_in);
    let (status, preview) = post(&racer, "/advice/explain", &[("check", "disk")]);
    assert_eq!(status, 200, "{preview}");
    let (nonce, csrf) = (hidden(&preview, "preview"), racer.csrf());
    let fields = [("check", "disk"), ("preview", nonce.as_str()), ("csrf", csrf.as_str())];
    let mut statuses = post_twice_at_once(&console, &cookie, "/advice/explain/send", &fields);
    statuses.sort_unstable();
    assert!(statuses[0] == 200 && [409, 429].contains(&statuses[1]), "{statuses:?}");
    assert_eq!(stand_in.seen().len(), 3, "one of the two was sent: {:?}", stand_in.seen());

    // The key is in no log line.
    assert!(!console.stderr().contains(KEY), "{}", console.stderr());
}
