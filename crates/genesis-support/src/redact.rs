//! Redaction by rule: each rule a name and a regular expression; every match replaced by
//! `[REDACTED:<rule>]` and counted, never kept. The built-in rules find secrets and PHI by
//! their shape (an e-mail address, a US SSN, a PEM private key, a password in a connection
//! string, a token in a URL, a vendor's token such as `ghp_…`) or by the key they are given
//! under (`DB_PASSWORD=…`, `"apiKey": …`, an `env` entry named `AWS_SECRET_ACCESS_KEY`,
//! `--db-password …`); what has neither (a patient's name in free text, a password written
//! in a sentence, a host name) they cannot find, which the support bundle's README says.
//!
//! Rules run one after the other, in a fixed order, each over what the previous ones left:
//! a value that two rules would match counts once, for the earlier rule (a JWT sent as
//! `Bearer …` is a `bearer-token`; the password of `postgres://app:PW@db.example.com` is a
//! `connection-password`, and what is left is no e-mail address). The replacement never
//! matches a later rule. A rule whose pattern has a group named `secret` (or several, named
//! `secret_…`, one per form a value takes) replaces the group that took part in the match
//! alone, keeping the words around it (`password=[REDACTED:credential]`). A pattern with a
//! group named `keyname` matches only where that key names a secret ([`names_a_secret`]) and
//! the value holds no earlier replacement (it was counted already).
//!
//! JSON is redacted string by string, keys included, and by its keys: under a key that names
//! a secret the whole value goes ([`Redactor::redact_json`]). A string that is JSON text (an
//! annotation holding an object) is parsed and redacted as JSON, not as text.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use regex::Regex;
use serde::ser::SerializeStruct as _;
use serde_json::{Map, Value};

use crate::{Result, SupportError};

/// The group of a pattern that alone is replaced, when the pattern has one; groups named
/// `secret_…` are alternatives to it (the first that took part in a match is replaced).
const SECRET_GROUP: &str = "secret";

/// The prefix of the alternative secret groups.
const SECRET_GROUP_PREFIX: &str = "secret_";

/// The group of a pattern that holds the key a value was found under.
const KEY_GROUP: &str = "keyname";

/// The rule that values found by their key count under.
const CREDENTIAL_RULE: &str = "credential";

/// The optional rule for IP addresses.
const IP_RULE: &str = "ip-address";

/// How every replacement begins.
const PLACEHOLDER_START: &str = "[REDACTED:";

/// The built-in rules' names, in the order they run.
const BUILTIN_NAMES: [&str; 13] = [
    "private-key",
    "bearer-token",
    "jwt",
    "aws-access-key",
    "azure-storage-key",
    "gcp-api-key",
    "connection-password",
    "url-credential",
    "vendor-token",
    CREDENTIAL_RULE,
    "email",
    "us-ssn",
    "phone",
];

/// A private key block, whole: PEM (RSA, EC, OpenSSH, PKCS#8, also encrypted; PGP) and SSH2
/// (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`). One whose end is missing (a truncated
/// paste) is redacted as far as what follows looks like a key's body (base64, PEM headers,
/// `\n` as JSON text escapes it), not to the end of the text.
const PRIVATE_KEY: &str = concat!(
    r"-{4,5} ?BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)? ?-{4,5}",
    r"(?:(?s:.*?)-{4,5} ?END[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)? ?-{4,5}|(?:[A-Za-z0-9+/=\s:,\-]|\\[nr])*)",
);

/// A PuTTY private key file, from its first line to its MAC (or to the end of the text).
const PUTTY_KEY: &str = r"PuTTY-User-Key-File-[0-9]+:(?s:.*?)(?:Private-MAC:[ \t]*[0-9A-Fa-f]+|\z)";

/// A PEM private key as base64 (a kubeconfig's `client-key-data`, a chart's value): the
/// base64 of `-----BEGIN ` (`LS0tLS1CRUdJTi`) followed, in the same run of base64, by the
/// base64 of `PRIVATE KEY` at any of its three alignments; the whole run goes. Base64 of a
/// certificate alone is left: it holds no secret.
const PRIVATE_KEY_BASE64: &str =
    r"LS0tLS1CRUdJTi[A-Za-z0-9+/]*?(?:UFJJVkFURSBLRV|BSSVZBVEUgS0VZ|QUklWQVRFIEtFW)[A-Za-z0-9+/]*={0,2}";

/// `Authorization: <scheme> <credentials>` (a header, a JSON field, a `key=value`): the
/// scheme and credentials go; without a known scheme, a value of 16 characters or more.
const AUTHORIZATION: &str = concat!(
    r#"(?i)\bauthorization["']?[ \t]*[:=][ \t]*["']?"#,
    r#"(?P<secret>(?:bearer|basic|digest|negotiate|token)[ \t]+[^\s"',;]+|[^\s"',;\[]{16,})"#,
);

/// `Bearer <token>`, any case, the token of 8 characters or more (the word alone, as in
/// prose or `token_type: Bearer`, is no token).
const BEARER: &str = r"(?i)\bbearer[ \t]+(?P<secret>[A-Za-z0-9._~+/-]{8,}=*)";

/// A JSON Web Token: three base64url parts, the header's JSON starting `{"` (`eyJ`); the
/// signature may be empty (`alg: none`). Also after `_` (`TOKEN_eyJ…`).
const JWT: &str = r"(?:\b|_)(?P<secret>eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*)";

/// An AWS access key id: `AKIA` (long-term) or `ASIA` (temporary) and 16 more.
const AWS_KEY_ID: &str = r"(?:\b|_)(?P<secret>(?:AKIA|ASIA)[A-Z0-9]{16})\b";

/// The secret access key that goes with it, when it is named.
const AWS_SECRET: &str = r#"(?i)aws_secret_access_key["']?[ \t]*[:=][ \t]*["']?(?P<secret>[A-Za-z0-9/+=]{40})"#;

/// The key of an Azure connection string (Storage `AccountKey=`, Service Bus and Event Hubs
/// `SharedAccessKey=`).
const AZURE_KEY: &str = r#"(?i)\b(?:AccountKey|SharedAccessKey)=(?P<secret>[^;\s"']+)"#;

/// The signature of an Azure shared access signature (`…&sig=…` in a SAS URL or token).
const AZURE_SAS: &str = r#"(?i)\bsig=(?P<secret>[^&\s"';]+)"#;

/// A Google Cloud API key.
const GCP_API_KEY: &str = r"AIza[0-9A-Za-z_-]{35}";

/// The password of a URL's user information: `scheme://user:PASSWORD@host`. The password
/// runs to the last `@` before the host, so a user or a password holding `@`, `:`, `/`, `#`
/// or a quote goes whole (`redis://default:p@ss:w0rd@redis:6379`); a port followed by a path
/// (`https://host:8443/x?to=a@b.example`) is no password.
const URL_PASSWORD: &str = concat!(
    r#"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#"'\[\]]*:"#,
    r#"(?P<secret>[0-9]+|(?:[^\s"0-9/?#]|[0-9]+[^\s"0-9/?#])[^\s"]*)@[A-Za-z0-9\[][A-Za-z0-9.:\]-]*"#,
);

/// The user information of a Redis URL without `:` (`redis://PASSWORD@cache`): Redis clients
/// take it for the password (Lettuce's `redis://password@host`; the pre-flight checks read it
/// so too). It runs to the last `@` before the host, as [`URL_PASSWORD`] does.
const REDIS_URL_PASSWORD: &str = r#"(?i)\brediss?://(?P<secret>[^\s:/?#"'\\\[\]<>]+)@[A-Za-z0-9\[]"#;

/// The user information of an HTTP(S), WebSocket or FTP URL without `:`, 16 characters or
/// more: a token, as Git hosts take one (`https://TOKEN@git.example.com/org/repo.git`). A
/// shorter one is taken for a user name (`http://jdoe@host/`), and so is any in other schemes
/// (`postgres://genesis@db`, `ssh://git@host`), where a password follows a `:`.
const URL_TOKEN: &str = r#"(?i)\b(?:https?|wss?|ftps?)://(?P<secret>[^\s:/?#@"'\\\[\]<>]{16,})@[A-Za-z0-9\[]"#;

/// A GitHub token, with no key name needed: `ghp_` (personal), `gho_` (OAuth), `ghu_`
/// (user-to-server), `ghs_` (server-to-server) or `ghr_` (refresh) and 36 letters and digits;
/// a fine-grained personal token, `github_pat_` and 22 or more.
const GITHUB_TOKEN: &str = r"(?:\b|_)(?P<secret>gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,})\b";

/// A GitLab access token: `glpat-` and 20 or more (a newer token's dotted suffix with it).
const GITLAB_TOKEN: &str = r"(?:\b|_)(?P<secret>glpat-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*)";

/// A Slack token: bot, user, app, refresh and configuration tokens (`xoxb-`, `xoxp-`,
/// `xoxa-`, `xoxr-`, `xoxs-`, `xoxe-`, `xoxe.xoxp-`, `xapp-`) and 10 or more.
const SLACK_TOKEN: &str = r"(?:\b|_)(?P<secret>(?:xox[baprs]|xoxe(?:\.xox[bp])?|xapp)-[A-Za-z0-9-]{10,})";

/// The fewest characters of an OpenAI-style key after `sk-`.
const OPENAI_KEY_MIN: usize = 20;

/// An OpenAI-style secret key (`sk-…`, `sk-proj-…`, `sk-ant-api03-…`): at least
/// [`OPENAI_KEY_MIN`] letters, digits, `-` and `_` after `sk-`, an uppercase letter among
/// them. Such keys are random base62 or base64url, so have one; a Kubernetes name
/// (`sk-inference-gateway-7d9f8c6b5`), lowercase by rule, is no key. The regex crate has no
/// look-ahead, so the pattern lists where the first uppercase letter is.
fn openai_key_pattern() -> String {
    let (lower, any) = ("[a-z0-9_-]", "[A-Za-z0-9_-]");
    // The first uppercase letter among the first OPENAI_KEY_MIN characters, at `k`…
    let before = |k: usize| if k == 0 { String::new() } else { format!("{lower}{{{k}}}") };
    let mut forms: Vec<String> =
        (0..OPENAI_KEY_MIN).map(|k| format!("{}[A-Z]{any}{{{},}}", before(k), OPENAI_KEY_MIN - 1 - k)).collect();
    // … or after them.
    forms.push(format!("{lower}{{{OPENAI_KEY_MIN}}}{any}*[A-Z]{any}*"));
    format!(r"(?:\b|_)(?P<secret>sk-(?:{}))", forms.join("|"))
}

/// A key that may name a secret (the `keyname` group: [`names_a_secret`] decides).
const KEY: &str = r"(?P<keyname>[A-Za-z0-9_.-]*(?:pass|pwd|secret|token|key|credential|auth|sas|sig)[A-Za-z0-9_.-]*)";

/// A double-quoted value to its closing quote (JSON escapes within), unless it is a `${VAR}`,
/// `$(VAR)` or `{{ … }}` placeholder.
const DQ: &str = r#""(?P<secret_dq>(?:[^"\\${\r\n]|\$[^{("\r\n]|\{[^{"\r\n]|\\.)(?:[^"\\\r\n]|\\.)*)""#;

/// A single-quoted value to its closing quote, unless it is a placeholder.
const SQ: &str = r"'(?P<secret_sq>(?:[^'${\r\n]|\$[^{('\r\n]|\{[^{'\r\n])[^'\r\n]*)'";

/// A double-quoted value in JSON text that is itself inside JSON text (`\"…\"`).
const ESC: &str = r#"\\"(?P<secret_esc>(?:[^"\\${\r\n]|\$[^{("\\\r\n]|\{[^{"\\\r\n]|\\[^"])(?:[^"\\\r\n]|\\[^"])*)\\""#;

/// A YAML block scalar (`password: |` and indented lines), best effort: every following line
/// that begins with a space or a tab goes.
const BLOCK: &str =
    r"[|>][-+0-9]*[ \t]*\r?\n(?P<secret_block>[ \t]+\S[^\r\n]*(?:\r?\n(?:[ \t]*\r?\n)*[ \t]+\S[^\r\n]*)*)";

/// A bare value after `=`: to a space, a quote, `;` or `&` (a connection string's or a
/// query's next pair), unless it is a placeholder.
const BARE_EQ: &str = r#"(?P<secret>(?:[^\s"'\\${;]|\$[^{(\s]|\{[^{\s])[^\s"\\;&]*)"#;

/// A bare value after `:`: to the end of the line (or a quote), unless it is a placeholder.
const BARE_COLON: &str = r#"(?P<secret>(?:[^\s"'\\${:]|\$[^{(\s]|\{[^{\s])[^\r\n"\\]*)"#;

/// The same right after `:` (no space, no quote before it), where a digit begins a port
/// (`auth-service:8080`), not a secret.
const BARE_COLON_TIGHT: &str = r#"(?P<secret>(?:[^\s"'\\${:0-9]|\$[^{(\s]|\{[^{\s])[^\r\n"\\]*)"#;

/// A bare command-line argument: to a space, a quote, `,` or `]`, not beginning with `-`
/// (the next option).
const BARE_ARG: &str = r#"(?P<secret>(?:[^\s"'\\${\-]|\$[^{(\s]|\{[^{\s])[^\s"'\\,\]]*)"#;

/// An e-mail address: a local part (Unicode letters too), `@` (or `%40`, URL-encoded), a
/// domain with a dot and a top-level name of letters.
const EMAIL: &str = r"\b[\w.%+-]+(?:@|%40)[^\W_](?:[\w-]*[^\W_])?(?:\.[^\W_](?:[\w-]*[^\W_])?)*\.[^\W\d_]{2,}\b";

/// A US social security number, `NNN-NN-NNNN`, or with spaces, dots or en dashes (the same
/// between all three parts).
const US_SSN: &str = r"\b[0-9]{3}(?:-[0-9]{2}-|\.[0-9]{2}\.| [0-9]{2} |–[0-9]{2}–)[0-9]{4}\b";

/// Nine digits given as a social security number (`ssn=078051120`).
const US_SSN_NAMED: &str = r#"(?i)(?:\b|_)(?:ssn|social[ _-]?security(?:[ _-]?(?:number|no))?)["']?[ \t]*[:=#]?[ \t]*["']?(?P<secret>[0-9]{9})\b"#;

/// A telephone number after a word that says it is one (`tel:`, `phone=`, `fax`, `mobile`,
/// `cell`): digits with or without separators.
const PHONE_NAMED: &str = concat!(
    r"(?i)(?:\b|_)(?:tel|(?:tele)?phone|fax|mobile|cell)(?:[ \t]*(?:no\.?|number|#))?[ \t]*[:=.]?[ \t]*",
    r"(?P<secret>\+?\(?[0-9][0-9 ().-]{5,}[0-9])",
);

/// A telephone number: NANP with separators (`(555) 123-4567`, `555-123-4567`,
/// `555.123.4567`, `+1 555 123 4567`, `1-800-555-0199`; the area code begins with 2 to 9),
/// international numbers with a `+` and separators (`+44 20 7946 0958`), or E.164
/// (`+15551234567`). Ten digits without separators are not taken for one unless a word says
/// so ([`PHONE_NAMED`]): they are as likely a resource version or a size.
const PHONE: &str = concat!(
    r"(?:\+1[ .-]?)?\([2-9][0-9]{2}\)[ .-]?[0-9]{3}[ .-][0-9]{4}\b",
    r"|(?:\+1[ .-]?|\b1[ .-])?\b[2-9][0-9]{2}[ .-][0-9]{3}[ .-][0-9]{4}\b",
    r"|\+[1-9][0-9]{0,2}[ .-]\(?[0-9]{1,4}\)?(?:[ .-][0-9]{2,8}){1,4}\b",
    r"|\+[1-9][0-9]{7,14}\b",
);

/// The built-in rules' patterns in the order they run (a name may have several).
fn builtin_patterns() -> Vec<(&'static str, String)> {
    let value_eq = ["(?:", DQ, "|", SQ, "|", ESC, "|", BARE_EQ, ")"].concat();
    let value_colon = ["(?:", DQ, "|", SQ, "|", ESC, "|", BLOCK, "|", BARE_COLON, ")"].concat();
    let value_tight = ["(?:", DQ, "|", SQ, "|", ESC, "|", BARE_COLON_TIGHT, ")"].concat();
    let value_arg = ["(?:", DQ, "|", SQ, "|", BARE_ARG, ")"].concat();
    let credential = [
        // A container's environment as JSON text: `{"name":"DB_PASSWORD","value":"…"}`.
        [r#"(?i)"name"[ \t]*:[ \t]*"(?P<keyname>[^"\\]*)"[ \t]*,[ \t]*"value"[ \t]*:[ \t]*"#, DQ].concat(),
        // … and as YAML text: `name: DB_PASSWORD` and, on the next line (or after `,`), `value: …`.
        [
            r#"(?i)\bname:[ \t]*["']?(?P<keyname>[A-Za-z0-9_.-]+)["']?[ \t]*(?:,[ \t]*|\r?\n[ \t]*)value:[ \t]*"#,
            "(?:",
            DQ,
            "|",
            SQ,
            "|",
            BLOCK,
            "|",
            BARE_COLON,
            ")",
        ]
        .concat(),
        // `KEY=value` (environment, properties, ODBC and ADO.NET connection strings, queries).
        ["(?i)", KEY, r#"\\?["']?[ \t]*=[ \t]*"#, value_eq.as_str()].concat(),
        // `KEY: value` (YAML, JSON text, headers such as `X-Api-Key:`): a quote before `:` or
        // a space after it.
        ["(?i)", KEY, r#"(?:\\?["']:[ \t]*|:[ \t]+)"#, value_colon.as_str()].concat(),
        // `KEY:value`, where the key begins a word (not after `/`, `@` or `=`: an image's
        // repository, a URL's host) and the value no port.
        [r"(?i)(?:^|[^/@=A-Za-z0-9_.-])", KEY, ":", value_tight.as_str()].concat(),
        // A command line's option and its value: `--db-password x`, `--token=x`, and as a
        // list (`"--db-password", "x"`; YAML `- --db-password` then `- x`).
        [
            r#"(?i)(?:^|[\s"'\[,=(])--?"#,
            KEY,
            r#"(?:=|[ \t]+|"[ \t]*,[ \t]*|'[ \t]*,[ \t]*|[ \t]*\r?\n[ \t]*-[ \t]+)"#,
            value_arg.as_str(),
        ]
        .concat(),
        // Redis's configuration: `requirepass x`, `masterauth x`.
        [r"(?im)^[ \t]*(?P<keyname>requirepass|masterauth)[ \t]+", value_arg.as_str()].concat(),
        // `redis-cli … -a PASSWORD`, `mysql … -pPASSWORD` and `curl … -u USER:PASSWORD` on
        // one line.
        [r"(?i)\bredis-cli\b[^\r\n]*?[ \t]-a[ \t]+", value_arg.as_str()].concat(),
        [
            r"(?i:\bmysql[a-z]*|\bmariadb[a-z-]*)\b[^\r\n]*?[ \t]-p(?:",
            DQ,
            "|",
            SQ,
            r#"|(?P<secret>[^\s"'\-][^\s"']*))"#,
        ]
        .concat(),
        r#"(?i)\bcurl\b[^\r\n]*?[ \t](?:-u|--user)[ \t]+["']?[^\s:"']*:(?P<secret>[^\s"']+)"#.to_owned(),
    ];
    let mut patterns: Vec<(&'static str, String)> = vec![
        ("private-key", PRIVATE_KEY.into()),
        ("private-key", PUTTY_KEY.into()),
        ("private-key", PRIVATE_KEY_BASE64.into()),
        ("bearer-token", AUTHORIZATION.into()),
        ("bearer-token", BEARER.into()),
        ("jwt", JWT.into()),
        ("aws-access-key", AWS_KEY_ID.into()),
        ("aws-access-key", AWS_SECRET.into()),
        ("azure-storage-key", AZURE_KEY.into()),
        ("azure-storage-key", AZURE_SAS.into()),
        ("gcp-api-key", GCP_API_KEY.into()),
        ("connection-password", URL_PASSWORD.into()),
        ("url-credential", REDIS_URL_PASSWORD.into()),
        ("url-credential", URL_TOKEN.into()),
        ("vendor-token", openai_key_pattern()),
        ("vendor-token", GITHUB_TOKEN.into()),
        ("vendor-token", GITLAB_TOKEN.into()),
        ("vendor-token", SLACK_TOKEN.into()),
    ];
    patterns.extend(credential.into_iter().map(|pattern| (CREDENTIAL_RULE, pattern)));
    patterns.extend([
        ("email", EMAIL.to_owned()),
        ("us-ssn", US_SSN.to_owned()),
        ("us-ssn", US_SSN_NAMED.to_owned()),
        ("phone", PHONE_NAMED.to_owned()),
        ("phone", PHONE.to_owned()),
    ]);
    patterns
}

/// An IPv6 address (full, compressed around `::`, with an IPv4 tail, IPv4-mapped) or an IPv4
/// address in dotted decimal. MAC addresses and times (`12:34:56`) have no `::` and not eight
/// groups, so are left alone.
fn ip_pattern() -> String {
    let h = "[0-9A-Fa-f]{1,4}";
    let octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    let v4 = format!(r"(?:{octet}\.){{3}}{octet}");
    [
        format!(r"\b(?:{h}:){{6}}{v4}\b"),
        format!(r"::ffff(?::0{{1,4}})?:{v4}\b"),
        format!(r"\b(?:{h}:){{7}}{h}\b"),
        format!(r"\b{h}(?::{h}){{0,5}}::{h}(?::{h}){{0,5}}\b"),
        format!(r"::{h}(?::{h}){{0,6}}\b"),
        format!(r"\b{v4}\b"),
    ]
    .join("|")
}

/// The words of a key that name a secret by themselves (a trailing `s` allowed: `tokens`,
/// `credentials`).
const SECRET_WORDS: &[&str] = &[
    "pass",
    "passwd",
    "password",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "auth",
    "sas",
    "sig",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
    "requirepass",
    "masterauth",
];

/// Words that name a secret when a word ends with them too (`dbpassword`, `clientsecret`,
/// `authtoken`); a trailing `s` allowed.
const SECRET_ENDINGS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
];

/// Words that, followed by `key` or `keys`, name a secret (`api_key`, `AccountKey`,
/// `tls.key`).
const KEY_KINDS: &[&str] = &[
    "api",
    "access",
    "secret",
    "private",
    "signing",
    "encryption",
    "master",
    "account",
    "client",
    "shared",
    "ssh",
    "tls",
    "primary",
    "secondary",
];

/// A key's last word that makes it name something about a secret, not the secret:
/// `secretName`, `DB_PASSWORD_FILE`, `tokenPath`, `secretKeyRef`, `AWS_ACCESS_KEY_ID`,
/// `PASSWORD_MIN_LENGTH`, `token_type`, `--password-stdin`, `AccountKeyRotation`.
const NOT_THE_SECRET: &[&str] = &[
    "name",
    "names",
    "ref",
    "refs",
    "file",
    "files",
    "path",
    "paths",
    "dir",
    "directory",
    "type",
    "types",
    "kind",
    "id",
    "ids",
    "enabled",
    "enable",
    "disabled",
    "required",
    "length",
    "ttl",
    "expiry",
    "expires",
    "expiration",
    "timeout",
    "seconds",
    "url",
    "uri",
    "endpoint",
    "endpoints",
    "host",
    "port",
    "user",
    "username",
    "mode",
    "method",
    "version",
    "stdin",
    "namespace",
    "header",
    "format",
    "policy",
    "provider",
    "issuer",
    "audience",
    "age",
    "count",
    "size",
    "interval",
    "period",
    "rotation",
    "algorithm",
    "field",
    "fields",
    "service",
    "server",
    "address",
    "addr",
    "hostname",
    "domain",
];

/// The words of a key, lowercase: split at every character that is no letter or digit and
/// where a lowercase letter or a digit is followed by an uppercase one (`adminPassword`,
/// `AWS_SECRET_ACCESS_KEY`, `X-Api-Key`, `accessKeyID` → access, key, id).
fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut after_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            after_lower = false;
            continue;
        }
        if c.is_uppercase() && after_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        after_lower = c.is_lowercase() || c.is_numeric();
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// Whether a key (a JSON object's key, an environment variable's name, an option) names a
/// secret, any case, its words split at `_`, `-`, `.` and the like and at camelCase: one of
/// its words is a secret word (`pass`, `passwd`, `password`, `pwd`, `passphrase`, `secret`,
/// `token`, `credential(s)`, `auth`, `sas`, `sig`, `apikey`, `accesskey`, …, or ends in one of
/// the longer ones: `dbpassword`), or two words are `api key`, `access key`, `private key`,
/// `secret key`, `account key`, …; unless its last word says it names something about a
/// secret (`…_NAME`, `…_FILE`, `…Ref`, `…_ID`, `…_URL`, …).
fn names_a_secret(key: &str) -> bool {
    let words = words(key);
    let Some(last) = words.last() else { return false };
    if NOT_THE_SECRET.iter().any(|word| *word == last) {
        return false;
    }
    words.iter().enumerate().any(|(i, word)| {
        let singular = word.strip_suffix('s').unwrap_or(word);
        let key_follows = words.get(i + 1).is_some_and(|next| next == "key" || next == "keys");
        SECRET_WORDS.iter().any(|w| *w == word || *w == singular)
            || SECRET_ENDINGS.iter().any(|end| word.ends_with(end) || singular.ends_with(end))
            || (key_follows && KEY_KINDS.iter().any(|kind| *kind == word))
    })
}

/// `[REDACTED:<rule>]`.
fn placeholder(rule: &str) -> String {
    format!("{PLACEHOLDER_START}{rule}]")
}

/// Whether `text` is one replacement and nothing else (but spaces around it).
fn is_one_placeholder(text: &str) -> bool {
    text.trim().strip_prefix(PLACEHOLDER_START).and_then(|rest| rest.strip_suffix(']')).is_some_and(is_rule_name)
}

/// Whether `text` is `true`, `false` or `null` (any case): a switch, whatever its key says.
fn is_no_secret(text: &str) -> bool {
    ["true", "false", "null"].iter().any(|word| text.trim().eq_ignore_ascii_case(word))
}

/// Whether `text` is a placeholder for a value given elsewhere: `${VAR}`, `$(VAR)` (the
/// kubelet's expansion), `{{ … }}` (a template).
fn is_placeholder(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("${") && t.ends_with('}'))
        || (t.starts_with("$(") && t.ends_with(')'))
        || (t.starts_with("{{") && t.ends_with("}}"))
}

/// Whether `text` is a URL (`scheme://…`) or a connection string (`;`-separated `key=value`
/// pairs): under a key that names a secret, such a value keeps what the rules do not take.
fn is_connection_string(text: &str) -> bool {
    let t = text.trim();
    let url = t.split_once("://").is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-' | ':'))
    });
    url || (t.contains(';') && t.contains('='))
}

/// Whether a group of a pattern is one whose match is replaced.
fn is_secret_group(name: &str) -> bool {
    name == SECRET_GROUP || name.starts_with(SECRET_GROUP_PREFIX)
}

/// One rule: a name for the report and what it matches.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name, in the report and in `[REDACTED:<name>]`.
    pub name: String,
    /// What it matches; when the pattern has a group named `secret` (or groups named
    /// `secret_…`), only the one that took part in a match is replaced; when it has a group
    /// named `keyname`, a match counts only where that key names a secret and the value holds
    /// no earlier replacement.
    pub pattern: Regex,
}

impl Rule {
    /// `text` with every match replaced, and how many there were; `None` when there were
    /// none. Empty matches are no matches: they would mark every position.
    fn apply(&self, text: &str) -> (Option<String>, u64) {
        // Most strings match no rule: the quick test spares them the search for groups.
        if !self.pattern.is_match(text) {
            return (None, 0);
        }
        let replacement = placeholder(&self.name);
        let names: Vec<Option<&str>> = self.pattern.capture_names().collect();
        let targets: Vec<usize> = (0..names.len()).filter(|&i| names[i].is_some_and(is_secret_group)).collect();
        let key = names.iter().position(|name| *name == Some(KEY_GROUP));
        let (mut out, mut last, mut count) = (String::new(), 0, 0);
        for captures in self.pattern.captures_iter(text) {
            let target =
                if targets.is_empty() { captures.get(0) } else { targets.iter().find_map(|&i| captures.get(i)) };
            let Some(target) = target.filter(|m| !m.is_empty()) else { continue };
            if let Some(key) = key {
                let named = captures.get(key).is_some_and(|k| names_a_secret(k.as_str()));
                if !named || target.as_str().contains(PLACEHOLDER_START) || is_no_secret(target.as_str()) {
                    continue;
                }
            }
            out.push_str(&text[last..target.start()]);
            out.push_str(&replacement);
            last = target.end();
            count += 1;
        }
        if count == 0 {
            return (None, 0);
        }
        out.push_str(&text[last..]);
        (Some(out), count)
    }
}

/// The rules a support bundle is redacted with, in the order they run: the built-in ones,
/// then those of rules files.
#[derive(Debug, Clone)]
pub struct Redactor {
    rules: Vec<Rule>,
}

/// A rules file: `rules: [{name: NAME, pattern: REGEX}]`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    rules: Vec<RuleEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleEntry {
    name: String,
    pattern: String,
}

impl Redactor {
    /// The built-in rules (named exactly), in this order: `private-key` (whole PEM
    /// `-----BEGIN … PRIVATE KEY-----` blocks, SSH2 and PuTTY keys, and PEM private keys as
    /// base64), `bearer-token` (`Bearer <token>`, `Authorization: …`), `jwt` (three base64url
    /// parts, header starting `eyJ`), `aws-access-key` (AKIA/ASIA + 16, and a named
    /// `aws_secret_access_key`), `azure-storage-key` (`AccountKey=…` and `SharedAccessKey=…`
    /// in connection strings, a SAS's `sig=`), `gcp-api-key` (`AIza` + 35),
    /// `connection-password` (`scheme://user:PASSWORD@host` → the password only),
    /// `url-credential` (a URL's user information without `:`: any in a Redis URL,
    /// `redis://PASSWORD@cache`; 16 characters or more in an HTTP(S), WebSocket or FTP URL,
    /// `https://TOKEN@git.example.com`), `vendor-token` (with no key name: OpenAI-style `sk-`
    /// and 20 or more with an uppercase letter, GitHub `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` + 36
    /// and `github_pat_`, GitLab `glpat-` + 20, Slack `xoxb-`/`xoxp-`/`xoxa-`/`xoxr-`/`xoxs-`/
    /// `xoxe-`/`xapp-`), `credential` (a value given under a key that names a secret:
    /// `KEY=value`, `KEY: value`, an `env` entry's value, an option's value such as `--db-password x`,
    /// Redis's `requirepass`, `redis-cli -a`, `mysql -p`), `email`, `us-ssn` (NNN-NN-NNNN
    /// with `-`, `.`, space or en dash, and nine digits named as one), `phone` (NANP and
    /// E.164-ish with separators, and digits after `tel`, `phone`, `fax`, `mobile`, `cell`),
    /// plus `ip-address` (IPv4 and IPv6) only when `with_ip` is true.
    pub fn builtin(with_ip: bool) -> Redactor {
        let rule = |name: &str, pattern: &str| Rule {
            name: name.to_owned(),
            pattern: Regex::new(pattern).expect("a built-in rule compiles (tested)"),
        };
        let mut rules: Vec<Rule> = builtin_patterns().iter().map(|(name, pattern)| rule(name, pattern)).collect();
        if with_ip {
            rules.push(rule(IP_RULE, &ip_pattern()));
        }
        Redactor { rules }
    }

    /// Adds rules from a YAML file: `rules: [{name: NAME, pattern: REGEX}]`; a bad regex or
    /// a name given twice is an error naming the file and the rule. A name is a plain word
    /// (letters, digits, `.`, `_`, `-`; at most 64) that no built-in rule has, `ip-address`
    /// included; a pattern may not match the empty string. These rules run after the
    /// built-in ones, in the file's order; a group named `secret` (or `secret_…`) in a
    /// pattern is all that is replaced of its matches, and a group named `keyname` limits
    /// them to keys that name a secret, as the built-in `credential` rule does.
    pub fn with_rules_file(mut self, path: &Path) -> Result<Redactor> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SupportError::RulesRead { path: path.to_owned(), source })?;
        let file: RulesFile = serde_yaml_ng::from_str(&text)
            .map_err(|e| SupportError::RulesSyntax { path: path.to_owned(), reason: e.to_string() })?;
        for entry in file.rules {
            let refuse =
                |reason: String| SupportError::Rule { path: path.to_owned(), rule: entry.name.clone(), reason };
            if !is_rule_name(&entry.name) {
                return Err(refuse(
                    "a rule's name is 1 to 64 letters, digits, `.`, `_` or `-`, beginning with a letter or digit"
                        .into(),
                ));
            }
            if BUILTIN_NAMES.contains(&entry.name.as_str()) || entry.name == IP_RULE {
                return Err(refuse("a built-in rule has this name: choose another".into()));
            }
            if self.rules.iter().any(|r| r.name == entry.name) {
                return Err(refuse("the name is given twice".into()));
            }
            let pattern = Regex::new(&entry.pattern).map_err(|e| refuse(format!("invalid regular expression: {e}")))?;
            if pattern.is_match("") {
                return Err(refuse("the pattern matches the empty string, so it would match everywhere".into()));
            }
            self.rules.push(Rule { name: entry.name, pattern });
        }
        Ok(self)
    }

    /// The names of the rules, once each, in the order they run.
    pub fn rule_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for rule in &self.rules {
            if !names.contains(&rule.name.as_str()) {
                names.push(&rule.name);
            }
        }
        names
    }

    /// Whether IP addresses are redacted.
    pub fn redacts_ip_addresses(&self) -> bool {
        self.rules.iter().any(|r| r.name == IP_RULE)
    }

    /// `text` with every match replaced by `[REDACTED:<rule>]`, counting into `report`
    /// (every rule gets an entry, 0 when it matched nothing).
    pub fn redact(&self, text: &str, report: &mut RedactionReport) -> String {
        let mut current: Option<String> = None;
        for rule in &self.rules {
            let (replaced, count) = rule.apply(current.as_deref().unwrap_or(text));
            report.add(&rule.name, count);
            if replaced.is_some() {
                current = replaced;
            }
        }
        current.unwrap_or_else(|| text.to_owned())
    }

    /// A JSON value with every string in it, object keys included, redacted as
    /// [`Redactor::redact`] does, and by key:
    /// - under a key that names a secret (by its words: `DB_PASSWORD`, `apiKey`,
    ///   `client_secret`, `tls.key`; not `secretName`), and as the `value` of an object whose
    ///   `name` or `key` is such a key (a container's `env` entry), a string or a number is
    ///   replaced whole, counted as a `credential`, each item of an array too; unless the
    ///   rules find it whole (a PEM key: a `private-key`), or it is a URL or a connection
    ///   string in which they find something (its password), which keeps the rest. An empty
    ///   string, `true`, `false`, `null` (as JSON or as text) and a placeholder (`${VAR}`,
    ///   `$(VAR)`, `{{ … }}`)
    ///   stay; an object is redacted key by key;
    /// - in a `command` or `args` list, the item after an option that names a secret
    ///   (`--db-password`, `--token`) or after `-p` or `-a`, and the value of
    ///   `--option=value`, the same way (and `-pPASSWORD` when the command is MySQL's);
    /// - a string that is JSON text of an object or an array (an annotation holding an
    ///   object) is parsed, tidied as an object found in the cluster is (no
    ///   `managedFields`, `binaryData` as its size, no Secret data, no
    ///   `last-applied-configuration`), redacted as JSON, and written back compact with its
    ///   keys sorted.
    ///
    /// Two keys that redact alike stay two entries: the second is suffixed `#2`, and so on.
    pub fn redact_json(&self, value: Value, report: &mut RedactionReport) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact_string(&s, report)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.redact_json(v, report)).collect()),
            Value::Object(map) => self.redact_object(map, report),
            other => other,
        }
    }

    /// A string of a JSON value: JSON text of an object or an array is redacted as JSON,
    /// other text as text.
    fn redact_string(&self, text: &str, report: &mut RedactionReport) -> String {
        match embedded_json(text) {
            Some(mut value) => {
                crate::tidy::tidy_all(&mut value);
                let mut value = self.redact_json(value, report);
                value.sort_all_objects();
                serde_json::to_string(&value).expect("a JSON value is JSON")
            }
            None => self.redact(text, report),
        }
    }

    /// An object, key by key.
    fn redact_object(&self, map: Map<String, Value>, report: &mut RedactionReport) -> Value {
        // `{"name": "DB_PASSWORD", "value": "…"}`: the value is the secret the name names.
        let named_secret =
            ["name", "key"].iter().any(|k| map.get(*k).and_then(Value::as_str).is_some_and(names_a_secret));
        // `mysql -pPASSWORD` as a command and its arguments.
        let mysql = ["command", "args"].iter().any(|k| {
            map.get(*k).and_then(Value::as_array).is_some_and(|items| {
                items.iter().filter_map(Value::as_str).any(|s| s.contains("mysql") || s.contains("mariadb"))
            })
        });
        let mut out = Map::new();
        let mut suffixes = HashMap::new();
        for (key, value) in map {
            let value = match value {
                value if names_a_secret(&key) || (named_secret && key == "value") => self.redact_secret(value, report),
                Value::Array(items) if key == "command" || key == "args" => {
                    Value::Array(self.redact_args(items, mysql, report))
                }
                value => self.redact_json(value, report),
            };
            let key = unique_key(self.redact(&key, report), |k| out.contains_key(k), &mut suffixes);
            out.insert(key, value);
        }
        Value::Object(out)
    }

    /// A value under a key that names a secret ([`Redactor::redact_json`] says what goes).
    fn redact_secret(&self, value: Value, report: &mut RedactionReport) -> Value {
        match value {
            Value::String(s) => Value::String(self.redact_secret_text(&s, report)),
            Value::Number(_) => {
                report.add(CREDENTIAL_RULE, 1);
                Value::String(placeholder(CREDENTIAL_RULE))
            }
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.redact_secret(v, report)).collect()),
            Value::Object(map) => self.redact_object(map, report),
            other => other,
        }
    }

    /// A string known to be a secret: whole, unless the rules find it whole or it is a URL or
    /// a connection string they find something in; an empty string, `true`, `false`, `null`
    /// or a placeholder stays.
    fn redact_secret_text(&self, text: &str, report: &mut RedactionReport) -> String {
        if text.trim().is_empty() || is_placeholder(text) || is_no_secret(text) {
            return text.to_owned();
        }
        let mut found = RedactionReport::default();
        let redacted = self.redact(text, &mut found);
        if is_one_placeholder(&redacted) || (redacted != text && is_connection_string(text)) {
            report.merge(&found);
            return redacted;
        }
        report.add(CREDENTIAL_RULE, 1);
        placeholder(CREDENTIAL_RULE)
    }

    /// A command's arguments: the value of an option that names a secret goes, as under a key
    /// that names one; the rest is redacted as any string.
    fn redact_args(&self, items: Vec<Value>, mysql: bool, report: &mut RedactionReport) -> Vec<Value> {
        let mut out = Vec::with_capacity(items.len());
        let mut value_next = false;
        for item in items {
            let Value::String(arg) = item else {
                value_next = false;
                out.push(self.redact_json(item, report));
                continue;
            };
            if std::mem::take(&mut value_next) {
                out.push(Value::String(self.redact_secret_text(&arg, report)));
                continue;
            }
            if arg.starts_with('-') && arg.len() > 1 {
                match arg.split_once('=') {
                    Some((name, value)) if names_a_secret(name) => {
                        let value = self.redact_secret_text(value, report);
                        out.push(Value::String(format!("{}={value}", self.redact(name, report))));
                        continue;
                    }
                    None if arg == "-p" || arg == "-a" || names_a_secret(&arg) => {
                        value_next = true;
                        out.push(Value::String(self.redact(&arg, report)));
                        continue;
                    }
                    _ => {}
                }
            }
            if mysql && arg.len() > 2 && arg.starts_with("-p") {
                report.add(CREDENTIAL_RULE, 1);
                out.push(Value::String(format!("-p{}", placeholder(CREDENTIAL_RULE))));
                continue;
            }
            out.push(Value::String(self.redact_string(&arg, report)));
        }
        out
    }
}

/// The JSON value `text` holds when it is JSON text of an object or an array (spaces around
/// it allowed).
fn embedded_json(text: &str) -> Option<Value> {
    let t = text.trim();
    let object = t.starts_with('{') && t.ends_with('}');
    let array = t.starts_with('[') && t.ends_with(']');
    if !object && !array {
        return None;
    }
    serde_json::from_str::<Value>(t).ok().filter(|v| v.is_object() || v.is_array())
}

/// `key`, or when it is `taken` already, `key#N` with the first N from 2 on that is not;
/// counting on from the last N given for `key` (in `suffixes`), so that n keys that redact
/// alike cost about 2n look-ups, not n².
fn unique_key(key: String, taken: impl Fn(&str) -> bool, suffixes: &mut HashMap<String, u64>) -> String {
    if !taken(&key) {
        return key;
    }
    let n = suffixes.entry(key.clone()).or_insert(1);
    loop {
        *n += 1;
        let candidate = format!("{key}#{n}");
        if !taken(&candidate) {
            return candidate;
        }
    }
}

/// 1 to 64 ASCII letters, digits, `.`, `_` or `-`, the first a letter or digit.
fn is_rule_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    (1..=64).contains(&name.len())
        && name.chars().all(word)
        && name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// How many values each rule replaced, never the values; serialised as
/// `{"schema": "genesis.support.redaction.v1", "rules": {"email": 3, …}, "total": N}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedactionReport {
    rules: BTreeMap<String, u64>,
}

impl RedactionReport {
    /// The `schema` of the serialised report.
    pub const SCHEMA: &'static str = "genesis.support.redaction.v1";

    /// Counts by rule name, every rule that ran listed (0 when it matched nothing).
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.rules
    }

    /// How many values `rule` replaced.
    pub fn count(&self, rule: &str) -> u64 {
        self.rules.get(rule).copied().unwrap_or(0)
    }

    /// How many values were replaced in all.
    pub fn total(&self) -> u64 {
        self.rules.values().sum()
    }

    /// Adds the counts of `other`.
    pub fn merge(&mut self, other: &RedactionReport) {
        for (rule, count) in &other.rules {
            self.add(rule, *count);
        }
    }

    fn add(&mut self, rule: &str, count: u64) {
        *self.rules.entry(rule.to_owned()).or_insert(0) += count;
    }
}

impl serde::Serialize for RedactionReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RedactionReport", 3)?;
        s.serialize_field("schema", Self::SCHEMA)?;
        s.serialize_field("rules", &self.rules)?;
        s.serialize_field("total", &self.total())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `text` redacted, and the report.
    fn redacted(with_ip: bool, text: &str) -> (String, RedactionReport) {
        let mut report = RedactionReport::default();
        (Redactor::builtin(with_ip).redact(text, &mut report), report)
    }

    /// Each input becomes its expected output, counted as the values of `rule` that output
    /// shows replaced, and no other rule counts anything (IP addresses included).
    fn check(rule: &str, cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            let (out, report) = redacted(true, input);
            assert_eq!(out, *expected, "{rule}: {input:?}");
            let replaced = expected.matches(&format!("[REDACTED:{rule}]")).count() as u64;
            assert!(replaced > 0, "{rule}: {input:?}: the expected output redacts nothing");
            assert_eq!(report.count(rule), replaced, "{rule}: {input:?}: {report:?}");
            assert_eq!(report.total(), replaced, "{rule}: {input:?}: another rule matched: {report:?}");
        }
    }

    /// Each input is left as it is by every rule, IP addresses included.
    fn untouched(inputs: &[&str]) {
        for input in inputs {
            let (out, report) = redacted(true, input);
            assert_eq!(&out, input, "{report:?}");
            assert_eq!(report.total(), 0, "{input:?}");
        }
    }

    /// `value` redacted as JSON by the built-in rules, and the report.
    fn redacted_json(value: Value) -> (Value, RedactionReport) {
        let mut report = RedactionReport::default();
        (Redactor::builtin(false).redact_json(value, &mut report), report)
    }

    /// The report's counts, rules that found nothing left out.
    fn found(report: &RedactionReport) -> BTreeMap<&str, u64> {
        report.counts().iter().filter(|(_, n)| **n > 0).map(|(rule, n)| (rule.as_str(), *n)).collect()
    }

    #[test]
    fn every_built_in_pattern_compiles_and_the_rules_are_named_as_documented() {
        assert_eq!(
            Redactor::builtin(false).rule_names(),
            [
                "private-key",
                "bearer-token",
                "jwt",
                "aws-access-key",
                "azure-storage-key",
                "gcp-api-key",
                "connection-password",
                "url-credential",
                "vendor-token",
                "credential",
                "email",
                "us-ssn",
                "phone"
            ]
        );
        assert_eq!(Redactor::builtin(false).rule_names(), BUILTIN_NAMES);
        let with_ip = Redactor::builtin(true);
        assert_eq!(with_ip.rule_names().last(), Some(&"ip-address"));
        assert!(with_ip.redacts_ip_addresses() && !Redactor::builtin(false).redacts_ip_addresses());
        for rule in &with_ip.rules {
            assert!(!rule.pattern.is_match(""), "{} matches the empty string", rule.name);
        }
    }

    #[test]
    fn private_keys_go_whole_whatever_their_kind() {
        check(
            "private-key",
            &[
                (
                    "tls.key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\nnext",
                    "tls.key: [REDACTED:private-key]\nnext",
                ),
                (
                    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
                    "[REDACTED:private-key]",
                ),
                (
                    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n",
                    "[REDACTED:private-key]\n",
                ),
                (
                    "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIFHDBOBgkq\n-----END ENCRYPTED PRIVATE KEY-----",
                    "[REDACTED:private-key]",
                ),
                (
                    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----",
                    "[REDACTED:private-key]",
                ),
                (
                    "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: \"k\"\nP2/56wAAAi4=\n---- END SSH2 ENCRYPTED PRIVATE KEY ----",
                    "[REDACTED:private-key]",
                ),
                (
                    "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nPrivate-Lines: 1\nAAAAgQ==\nPrivate-MAC: 0a1b2c\nnext",
                    "[REDACTED:private-key]\nnext",
                ),
                // As JSON text has it (an annotation holding an object): `\n` escaped.
                (
                    r#"{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n"}"#,
                    r#"{"key":"[REDACTED:private-key]\n"}"#,
                ),
                // Cut short: what follows goes as far as it looks like a key's body.
                ("key: -----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB", "key: [REDACTED:private-key]"),
                (
                    "found -----BEGIN PRIVATE KEY----- in the log. The rest stays",
                    "found [REDACTED:private-key]. The rest stays",
                ),
                (
                    "a -----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY----- b -----BEGIN PRIVATE KEY-----\nBB\n-----END PRIVATE KEY----- c",
                    "a [REDACTED:private-key] b [REDACTED:private-key] c",
                ),
                // As base64 (a kubeconfig's client-key-data), at each of the three alignments
                // of `PRIVATE KEY` after `-----BEGIN `.
                (
                    "client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVNDCi0tLS0tRU5EIFBSSVZBVEUgS0VZLS0tLS0K\n",
                    "client-key-data: [REDACTED:private-key]\n",
                ),
                (
                    r#"{"tls.key":"LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlFcEFJQkFBS0NBUUVBCi0tLS0tRU5EIFJTQSBQUklWQVRFIEtFWS0tLS0tCg=="}"#,
                    r#"{"tls.key":"[REDACTED:private-key]"}"#,
                ),
                (
                    "id_rsa=LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0KYjNCbGJuTnphQzFyWlhrdGRqRT0KLS0tLS1FTkQgT1BFTlNTSCBQUklWQVRFIEtFWS0tLS0tCg==",
                    "id_rsa=[REDACTED:private-key]",
                ),
            ],
        );
        untouched(&[
            "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----",
            "the private key is mounted from the Secret tls-demo",
            // A certificate as base64 holds no secret.
            "ca.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K",
        ]);
    }

    #[test]
    fn bearer_tokens_and_authorization_values_go() {
        check(
            "bearer-token",
            &[
                ("Authorization: Bearer abc.def-123_456", "Authorization: [REDACTED:bearer-token]"),
                (
                    r#"{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}"#,
                    r#"{"Authorization": "[REDACTED:bearer-token]"}"#,
                ),
                ("authorization=s3cr3t-api-key-0123456789", "authorization=[REDACTED:bearer-token]"),
                // A JWT sent as a bearer token counts once, as a bearer token.
                (
                    "curl -H 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl' https://api",
                    "curl -H 'Bearer [REDACTED:bearer-token]' https://api",
                ),
                ("Bearer sk-live-0123456789abcdef", "Bearer [REDACTED:bearer-token]"),
                // Any case.
                ("sent bearer sk-live-0123456789abcdef", "sent bearer [REDACTED:bearer-token]"),
                ("BEARER 0123456789abcdef", "BEARER [REDACTED:bearer-token]"),
            ],
        );
        untouched(&[
            "the bearer of this token",
            "token_type: Bearer",
            "Bearer token",
            "authorization: denied",
            "apiVersion: rbac.authorization.k8s.io/v1",
            "authorization.k8s.io/decision: allow",
        ]);
    }

    #[test]
    fn json_web_tokens_go() {
        check(
            "jwt",
            &[
                (
                    "token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
                    "token=[REDACTED:jwt]",
                ),
                ("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. end", "unsigned [REDACTED:jwt] end"),
                // After `_`, where `\b` sees no boundary.
                ("SESSION_eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "SESSION_[REDACTED:jwt]"),
            ],
        );
        untouched(&["eyJhbGciOiJIUzI1NiJ9", "eyJ.a.b", "keyJson.value.x", "version 1.2.3"]);
    }

    #[test]
    fn cloud_access_keys_go() {
        check(
            "aws-access-key",
            &[
                ("AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]"),
                ("key ASIAY34FZKBOKMUTVV7A.", "key [REDACTED:aws-access-key]."),
                ("BACKUP_AKIAIOSFODNN7EXAMPLE", "BACKUP_[REDACTED:aws-access-key]"),
                (
                    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                    "aws_secret_access_key = [REDACTED:aws-access-key]",
                ),
            ],
        );
        check(
            "azure-storage-key",
            &[
                (
                    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;EndpointSuffix=core.windows.net",
                    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=[REDACTED:azure-storage-key];EndpointSuffix=core.windows.net",
                ),
                (
                    "Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc123=",
                    "Endpoint=sb://demo.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=[REDACTED:azure-storage-key]",
                ),
                // A shared access signature: its signature.
                (
                    "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=Zm9vYmFy%2Bc2lnbmF0dXJl%3D",
                    "https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sp=r&sig=[REDACTED:azure-storage-key]",
                ),
                (
                    "SharedAccessSignature=sv=2022&sig=abc%3D",
                    "SharedAccessSignature=sv=2022&sig=[REDACTED:azure-storage-key]",
                ),
            ],
        );
        check(
            "gcp-api-key",
            &[("maps key AIzaSyA1234567890abcdefghijklmnopqrstuv end", "maps key [REDACTED:gcp-api-key] end")],
        );
        untouched(&[
            "AKIA1234",
            "akiaiosfodnn7example",
            "XAKIAIOSFODNN7EXAMPLE",
            "AKIAIOSFODNN7EXAMPLEX",
            "AccountName=acct;EndpointSuffix=core.windows.net",
            "AccountKeyRotation=30d",
            "AIzaShort",
            "signal=9",
        ]);
    }

    #[test]
    fn passwords_in_urls_go_and_nothing_else_of_them() {
        check(
            "connection-password",
            &[
                (
                    "DATABASE_URL=postgres://app:s3cr3t@db.example.com:5432/app?sslmode=verify-full",
                    "DATABASE_URL=postgres://app:[REDACTED:connection-password]@db.example.com:5432/app?sslmode=verify-full",
                ),
                ("redis://:hunter2@cache:6379/0", "redis://:[REDACTED:connection-password]@cache:6379/0"),
                ("jdbc:mysql://root:p4ss:w0rd@mysql/db", "jdbc:mysql://root:[REDACTED:connection-password]@mysql/db"),
                // A password holding `@`, `:`, `/`, `#` or a quote goes whole, to the last `@`
                // before the host; a user holding `@` (Azure's `user@server`) stays.
                ("redis://default:p@ss:w0rd@redis:6379", "redis://default:[REDACTED:connection-password]@redis:6379"),
                ("mysql://root:pa'ss@db/app", "mysql://root:[REDACTED:connection-password]@db/app"),
                ("postgres://app:ab/cd@db:5432/app", "postgres://app:[REDACTED:connection-password]@db:5432/app"),
                ("amqp://guest:pa#ss@rabbit/", "amqp://guest:[REDACTED:connection-password]@rabbit/"),
                (
                    "postgresql://admin@myserver:S3cr3t@myserver.postgres.database.azure.com:5432/db",
                    "postgresql://admin@myserver:[REDACTED:connection-password]@myserver.postgres.database.azure.com:5432/db",
                ),
                ("pin 12345: redis://u:123456@cache", "pin 12345: redis://u:[REDACTED:connection-password]@cache"),
            ],
        );
        untouched(&[
            "https://registry.example.com:5000/v2/",
            "http://user@host/path",
            "ssh://git@host:22/repo",
            "https://host:8443/x?ref=main",
        ]);
    }

    #[test]
    fn a_url_s_user_information_without_a_password_goes_when_it_is_a_secret() {
        check(
            "url-credential",
            &[
                // In a Redis URL, the user information alone is the password, whatever its length.
                ("redis://hunter2@cache:6379/0", "redis://[REDACTED:url-credential]@cache:6379/0"),
                (
                    "REDIS_URL=rediss://S3cret@redis.internal:6380",
                    "REDIS_URL=rediss://[REDACTED:url-credential]@redis.internal:6380",
                ),
                // To the last `@` before the host.
                ("redis://p@ss@cache", "redis://[REDACTED:url-credential]@cache"),
                // A token as Git hosts take one, in HTTPS and WebSocket URLs.
                (
                    "git clone https://0123456789abcdef0123456789abcdef01234567@git.example.com/org/repo.git",
                    "git clone https://[REDACTED:url-credential]@git.example.com/org/repo.git",
                ),
                ("wss://AbCdEfGhIjKlMnOpQr@push.example/feed", "wss://[REDACTED:url-credential]@push.example/feed"),
                // A vendor's token there counts once, as what it is in.
                (
                    "https://ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789@github.com/org/repo",
                    "https://[REDACTED:url-credential]@github.com/org/repo",
                ),
            ],
        );
        untouched(&[
            "https://host/path",
            "https://registry.example.com/v2/",
            // A short user information is a user name; so is any in a database's or SSH's URL.
            "http://user@host/path",
            "https://x-access-token@host/org/repo",
            "postgres://genesis_portal_readwrite@db:5432/portal",
            "ssh://deploy-automation-user@host:22/repo",
            "redis://@cache:6379",
            "redis://cache:6379/0",
            "https://host/path?to=x@y",
        ]);
        // An scp-style Git address has no scheme: its user is no credential. The e-mail rule
        // takes `git@github.com`, as it takes any address.
        let (out, report) = redacted(false, "git@github.com:org/repo");
        assert_eq!(out, "[REDACTED:email]:org/repo");
        assert_eq!(found(&report), BTreeMap::from([("email", 1)]));
    }

    #[test]
    fn vendor_tokens_go_without_a_key_naming_them() {
        check(
            "vendor-token",
            &[
                // OpenAI-style keys.
                ("key sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z in the log", "key [REDACTED:vendor-token] in the log"),
                ("OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t_uV-1", "OPENAI_API_KEY=[REDACTED:vendor-token]"),
                ("sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8t.", "[REDACTED:vendor-token]."),
                // The uppercase letter late: after the first 20 characters.
                ("sk-abcdefghij0123456789klmnoP", "[REDACTED:vendor-token]"),
                // GitHub.
                ("token ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 end", "token [REDACTED:vendor-token] end"),
                ("gho_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "[REDACTED:vendor-token]"),
                ("GITHUB_TOKEN=ghs_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789", "GITHUB_TOKEN=[REDACTED:vendor-token]"),
                ("github_pat_11ABCDEFG0aBcDeFgHiJkLmN_oPqRsTuVwXyZ0123456789", "[REDACTED:vendor-token]"),
                // GitLab, with and without a dotted suffix.
                ("glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn", "[REDACTED:vendor-token]"),
                ("use glpat-Ab1Cd2Ef3Gh4Ij5Kl6Mn7.01.0w1xyzabc. Then", "use [REDACTED:vendor-token]. Then"),
                // Slack.
                ("hook xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "hook [REDACTED:vendor-token]"),
                ("xoxp-AbCdEfGhIjKl", "[REDACTED:vendor-token]"),
                ("xapp-1-A0ABCDEFGHI-abcdef0123", "[REDACTED:vendor-token]"),
            ],
        );
        untouched(&[
            // A Kubernetes name is lowercase: no key.
            "sk-learn-inference-gateway-abcdef",
            "deployment sk-inference-gateway-model-server ready",
            // Too short, or inside a word.
            "sk-Ab3dEf6hIj9kLm2nOp",
            "task-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
            "the sk- prefix",
            "ghp_tooShort",
            "ghx_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789X",
            "glpat-short",
            "xoxq-AbCdEfGhIjKlMn",
            "xoxb-short",
        ]);
    }

    #[test]
    fn values_under_keys_that_name_a_secret_go_whole() {
        check(
            "credential",
            &[
                // Pairs: connection strings, environment, properties, YAML, JSON text.
                (
                    "Server=db;Database=app;User Id=sa;Password=Hunter2!;",
                    "Server=db;Database=app;User Id=sa;Password=[REDACTED:credential];",
                ),
                ("Driver={ODBC};Host=db;Pwd=abc123", "Driver={ODBC};Host=db;Pwd=[REDACTED:credential]"),
                ("POSTGRES_PASSWORD=hunter2", "POSTGRES_PASSWORD=[REDACTED:credential]"),
                ("MYSQL_PWD=hunter2", "MYSQL_PWD=[REDACTED:credential]"),
                (
                    "RABBITMQ_DEFAULT_PASS=guest2\nREDIS_PASS=r3dis\nJWT_SECRET=s3cr3t-value\n",
                    "RABBITMQ_DEFAULT_PASS=[REDACTED:credential]\nREDIS_PASS=[REDACTED:credential]\nJWT_SECRET=[REDACTED:credential]\n",
                ),
                ("AZURE_CLIENT_SECRET=abc~123", "AZURE_CLIENT_SECRET=[REDACTED:credential]"),
                ("OPENAI_API_KEY=sk-proj-abc123", "OPENAI_API_KEY=[REDACTED:credential]"),
                ("AWS_SECRET_ACCESS_KEY=short-but-secret", "AWS_SECRET_ACCESS_KEY=[REDACTED:credential]"),
                ("spring.datasource.password = hunter2", "spring.datasource.password = [REDACTED:credential]"),
                (
                    "client_secret: abc123\ntoken: t0ken-value\n",
                    "client_secret: [REDACTED:credential]\ntoken: [REDACTED:credential]\n",
                ),
                ("X-Api-Key: 0123abcd", "X-Api-Key: [REDACTED:credential]"),
                ("login password:hunter2", "login password:[REDACTED:credential]"),
                ("db:\n  password: hunter2\n", "db:\n  password: [REDACTED:credential]\n"),
                (r#"{"password":"hunter2"}"#, r#"{"password":"[REDACTED:credential]"}"#),
                (r#"{\"password\":\"abc def\"}"#, r#"{\"password\":\"[REDACTED:credential]\"}"#),
                // A value quoted goes to its closing quote; a bare one to the end of the
                // pair, `,`, `@`, `&` and braces included; a YAML block scalar whole.
                (r#"password: "correct horse battery""#, r#"password: "[REDACTED:credential]""#),
                ("password: 'hunter 2'", "password: '[REDACTED:credential]'"),
                (r#"PASSWORD="a b;c" next"#, r#"PASSWORD="[REDACTED:credential]" next"#),
                ("password=p@ss,word", "password=[REDACTED:credential]"),
                ("password=&abc123", "password=[REDACTED:credential]"),
                ("password: {hunter2}", "password: [REDACTED:credential]"),
                ("password=Xk9!jane@example.com#7", "password=[REDACTED:credential]"),
                (
                    "db:\n  password: |\n    hunter2\n    more\nnext: 1\n",
                    "db:\n  password: |\n[REDACTED:credential]\nnext: 1\n",
                ),
                // A container's environment as JSON text and as YAML.
                (
                    r#"{"env":[{"name":"DB_PASSWORD","value":"hunter2"},{"name":"MODE","value":"fast"}]}"#,
                    r#"{"env":[{"name":"DB_PASSWORD","value":"[REDACTED:credential]"},{"name":"MODE","value":"fast"}]}"#,
                ),
                (
                    r#"{"name":"AWS_SECRET_ACCESS_KEY","value":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
                    r#"{"name":"AWS_SECRET_ACCESS_KEY","value":"[REDACTED:credential]"}"#,
                ),
                (
                    "env:\n  - name: ADMIN_PWD\n    value: 'hunter2'\n  - name: MODE\n    value: fast\n",
                    "env:\n  - name: ADMIN_PWD\n    value: '[REDACTED:credential]'\n  - name: MODE\n    value: fast\n",
                ),
                ("- {name: REDIS_PASS, value: r3dis}", "- {name: REDIS_PASS, value: [REDACTED:credential]"),
                // Command lines: an option's value, as text, as a list, as YAML.
                (r#"args: ["--db-password", "argpw1"]"#, r#"args: ["--db-password", "[REDACTED:credential]"]"#),
                (
                    "redis-server --requirepass s3cret --port 6379",
                    "redis-server --requirepass [REDACTED:credential] --port 6379",
                ),
                ("app --token=abc123 --verbose", "app --token=[REDACTED:credential] --verbose"),
                ("args:\n- --client-secret\n- s3cret\n", "args:\n- --client-secret\n- [REDACTED:credential]\n"),
                (
                    "requirepass foobared\nmasterauth m4ster\n",
                    "requirepass [REDACTED:credential]\nmasterauth [REDACTED:credential]\n",
                ),
                ("redis-cli -h redis -a s3cret ping", "redis-cli -h redis -a [REDACTED:credential] ping"),
                ("mysqldump -h db -uroot -predispw app", "mysqldump -h db -uroot -p[REDACTED:credential] app"),
                (r#"mysql -uroot -p"pa ss" db"#, r#"mysql -uroot -p"[REDACTED:credential]" db"#),
                ("curl -u admin:hunter2 https://x", "curl -u admin:[REDACTED:credential] https://x"),
            ],
        );
        untouched(&[
            "passwordless: true",
            "password_file=/run/secrets/db",
            "password:",
            "password: ''",
            "docker login --password-stdin",
            "db_password: {{ .Values.db.password }}",
            "password: ${DB_PASSWORD}",
            r#"password: "${DB_PASSWORD}""#,
            "DB_PASSWORD=$(DB_PASSWORD)",
            r#"{"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"db","key":"password"}}}"#,
            "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}\n",
            "secretName: db-credentials",
            "SECRET_NAME=db",
            "tokenPath: /var/run/secrets/token",
            "PASSWORD_MIN_LENGTH=12",
            "passthrough=true",
            "monkey: banana",
            "keys: 3",
            "mkdir -p /data",
            r#"MountVolume.SetUp failed for volume "db-secret" : secret "db-secret" not found"#,
            // A host and its port, an image and its tag.
            "auth-service:8080",
            // A switch is no secret.
            "ENABLE_AUTH=true",
            "vault.hashicorp.com/agent-inject-token: 'true'",
            "AUTH_HOST=http://auth-service:8080/api",
            "docker.io/bitnami/sealed-secrets-controller:v0.24.0",
        ]);
    }

    #[test]
    fn keys_name_a_secret_by_their_words() {
        for key in [
            "password",
            "DB_PASSWORD",
            "adminPassword",
            "dbpassword",
            "AWS_SECRET_ACCESS_KEY",
            "RABBITMQ_DEFAULT_PASS",
            "MYSQL_PWD",
            "JWT_SECRET",
            "AZURE_CLIENT_SECRET",
            "clientSecret",
            "OPENAI_API_KEY",
            "X-Api-Key",
            "apiKey",
            "APIKey",
            "SECRET_KEY",
            "privateKey",
            "ssh-private-key",
            "tls.key",
            "AccountKey",
            "token",
            "GITHUB_TOKEN",
            "authToken",
            "tokens",
            "credentials",
            "auth",
            "passphrase",
            "--db-password",
            "requirepass",
            "sig",
        ] {
            assert!(names_a_secret(key), "{key} names a secret");
        }
        for key in [
            "",
            "name",
            "key",
            "keys",
            "monkey",
            "secretName",
            "SECRET_NAME",
            "secretKeyRef",
            "DB_PASSWORD_FILE",
            "tokenPath",
            "token_type",
            "AWS_ACCESS_KEY_ID",
            "accessKeyID",
            "PASSWORD_MIN_LENGTH",
            "--password-stdin",
            "passwordless",
            "passthrough",
            "bypass",
            "TOKENIZERS_PARALLELISM",
            "authorization",
            "author",
            "signal",
            "primaryKeyField",
        ] {
            assert!(!names_a_secret(key), "{key} names no secret");
        }
        assert_eq!(words("accessKeyID"), ["access", "key", "id"]);
        assert_eq!(words("AWS_SECRET_ACCESS_KEY"), ["aws", "secret", "access", "key"]);
        assert_eq!(words("db2Password.x-y"), ["db2", "password", "x", "y"]);
    }

    #[test]
    fn e_mail_addresses_go() {
        check(
            "email",
            &[
                ("contact jane.doe+test@example.co.uk today", "contact [REDACTED:email] today"),
                (
                    r#"{"owner":"ops@customer.example","cc":"x_y@sub.example.org"}"#,
                    r#"{"owner":"[REDACTED:email]","cc":"[REDACTED:email]"}"#,
                ),
                // Unicode letters, and `@` URL-encoded.
                ("Dr. müller@klinik.de", "Dr. [REDACTED:email]"),
                ("to=jane%40example.com", "to=[REDACTED:email]"),
                // A port before a path is no password: the address in the query is found.
                ("https://host:8443/x?to=jane@example.com", "https://host:8443/x?to=[REDACTED:email]"),
            ],
        );
        untouched(&[
            "nginx@sha256:0123456789abcdef",
            "registry.local/app@sha256:0123abcd",
            "user@localhost",
            "@example.com",
            "system:serviceaccount:genesis:console",
        ]);
    }

    #[test]
    fn social_security_numbers_go() {
        check(
            "us-ssn",
            &[
                ("SSN 123-45-6789.", "SSN [REDACTED:us-ssn]."),
                ("ssn=078-05-1120", "ssn=[REDACTED:us-ssn]"),
                ("078 05 1120", "[REDACTED:us-ssn]"),
                ("078.05.1120", "[REDACTED:us-ssn]"),
                ("078–05–1120", "[REDACTED:us-ssn]"),
                ("ssn=078051120", "ssn=[REDACTED:us-ssn]"),
                ("patient_ssn: 078051120", "patient_ssn: [REDACTED:us-ssn]"),
                ("Social Security Number: 078051120", "Social Security Number: [REDACTED:us-ssn]"),
            ],
        );
        untouched(&[
            "2024-01-15",
            "1234-56-7890",
            "123-45-67890",
            "12-345-6789",
            "v1-23-4567",
            "078-05 1120",
            "ssn=0780511201",
            "id 078051120",
        ]);
    }

    #[test]
    fn telephone_numbers_go() {
        check(
            "phone",
            &[
                ("call (555) 123-4567 now", "call [REDACTED:phone] now"),
                ("555-123-4567", "[REDACTED:phone]"),
                ("555.123.4567", "[REDACTED:phone]"),
                ("tel: +1 555 123 4567", "tel: [REDACTED:phone]"),
                ("+1 (555) 123-4567", "[REDACTED:phone]"),
                ("1-800-555-0199", "[REDACTED:phone]"),
                ("+44 20 7946 0958", "[REDACTED:phone]"),
                ("+49 30 1234567", "[REDACTED:phone]"),
                ("+33 1 23 45 67 89", "[REDACTED:phone]"),
                ("sms +15551234567.", "sms [REDACTED:phone]."),
                // Digits without separators, when a word says they are a number.
                ("phone=5558675309", "phone=[REDACTED:phone]"),
                ("tel:+15551234567", "tel:[REDACTED:phone]"),
                ("mobile 5558675309", "mobile [REDACTED:phone]"),
                ("Fax no. 030 1234567", "Fax no. [REDACTED:phone]"),
            ],
        );
        untouched(&[
            "2024-01-15T10:20:30Z",
            "resourceVersion: 5551234567",
            "v1.33.0",
            "123e4567-e89b-12d3-a456-426614174000",
            "port 8080",
            "+05:30",
            "sha256:5551234567",
            "memory: 536870912",
            "100 200 3000",
            "cell 1 of 3",
        ]);
    }

    #[test]
    fn ip_addresses_go_only_when_asked() {
        let text = "node 10.0.0.1 and fe80::1ff:fe23:4567:890a";
        let (out, report) = redacted(false, text);
        assert_eq!(out, text);
        assert!(!report.counts().contains_key("ip-address"), "{report:?}");
        check(
            "ip-address",
            &[
                ("node 10.0.0.1 and fe80::1ff:fe23:4567:890a", "node [REDACTED:ip-address] and [REDACTED:ip-address]"),
                ("192.168.1.254", "[REDACTED:ip-address]"),
                ("2001:db8::1", "[REDACTED:ip-address]"),
                ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[REDACTED:ip-address]"),
                ("listen [::1]:8080", "listen [[REDACTED:ip-address]]:8080"),
                ("::ffff:192.168.1.10", "[REDACTED:ip-address]"),
                ("64:ff9b:0:0:0:0:192.0.2.33", "[REDACTED:ip-address]"),
            ],
        );
        untouched(&[
            "1.33.0",
            "v1.2.3.4",
            "00:1a:2b:3c:4d:5e",
            "12:34:56",
            "999.1.1.1",
            "std::io::Error",
            "sha256:abcd",
        ]);
    }

    #[test]
    fn the_report_counts_by_rule_and_never_holds_a_value() {
        let text = "a@example.com b@example.com 555-123-4567 AKIAIOSFODNN7EXAMPLE";
        let (out, mut report) = redacted(false, text);
        assert_eq!(out, "[REDACTED:email] [REDACTED:email] [REDACTED:phone] [REDACTED:aws-access-key]");
        assert_eq!((report.count("email"), report.count("phone"), report.count("jwt"), report.total()), (2, 1, 0, 4));
        // Every rule that ran is listed, those that found nothing with 0.
        assert_eq!(report.counts().len(), BUILTIN_NAMES.len());
        let again = report.clone();
        report.merge(&again);
        assert_eq!(report.total(), 8);
        let json = serde_json::to_value(&again).unwrap();
        assert_eq!(json["schema"], "genesis.support.redaction.v1");
        assert_eq!(json["total"], 4);
        assert_eq!(json["rules"]["email"], 2);
        assert_eq!(json["rules"]["us-ssn"], 0);
        let said = json.to_string();
        for value in ["a@example.com", "555-123-4567", "AKIAIOSFODNN7EXAMPLE"] {
            assert!(!said.contains(value), "{said}");
        }
        assert_eq!(serde_json::to_value(RedactionReport::default()).unwrap()["total"], 0);
    }

    #[test]
    fn json_is_redacted_string_by_string_keys_included() {
        let (out, report) = redacted_json(json!({
            "data": {
                "DB_PASSWORD": "hunter2",
                "adminPassword": "postgres://app:s3cr3t@db:5432/app",
                "contact": "jane@example.com",
                "jane@example.com": "a key that is an address",
                "joe@example.com": "another",
                "replicas": 3,
            },
            "env": [{"name": "API_PASSWORD", "value": "x1"}, {"name": "MODE", "value": "fast"}],
            "note": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        }));
        assert_eq!(
            out,
            json!({
                "data": {
                    "DB_PASSWORD": "[REDACTED:credential]",
                    "adminPassword": "postgres://app:[REDACTED:connection-password]@db:5432/app",
                    "contact": "[REDACTED:email]",
                    "[REDACTED:email]": "a key that is an address",
                    "[REDACTED:email]#2": "another",
                    "replicas": 3,
                },
                "env": [{"name": "API_PASSWORD", "value": "[REDACTED:credential]"}, {"name": "MODE", "value": "fast"}],
                "note": "[REDACTED:private-key]",
            })
        );
        assert_eq!(
            found(&report),
            BTreeMap::from([("connection-password", 1), ("credential", 2), ("email", 3), ("private-key", 1)])
        );
    }

    #[test]
    fn under_a_key_that_names_a_secret_the_whole_value_goes() {
        let (out, report) = redacted_json(json!({
            "OPENAI_API_KEY": "sk-proj-abc",
            // A rule finding part of it no longer leaves the rest (`Xk9!` and `#7`).
            "client_secret": "Xk9!jane@example.com#7",
            "pin_token": 123456,
            "tokens": ["t1", "t2"],
            "auth": {"username": "svc", "password": "pw", "enabled": true},
            "secretName": "db-credentials",
            "password": null,
            "passphrase": "",
            "DB_PASSWORD": "${DB_PASSWORD}",
            // Found whole by a rule: counted by that rule.
            "tls.key": "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n",
            // A connection string or a URL keeps what the rules do not take…
            "DATABASE_SECRET": "Server=db;User Id=sa;Password=Hunter2!;",
            "redis_auth": "redis://:p4ss@redis:6379",
            // … unless they take nothing.
            "vault_token": "https://vault.example/v1/x",
        }));
        assert_eq!(
            out,
            json!({
                "OPENAI_API_KEY": "[REDACTED:credential]",
                "client_secret": "[REDACTED:credential]",
                "pin_token": "[REDACTED:credential]",
                "tokens": ["[REDACTED:credential]", "[REDACTED:credential]"],
                "auth": {"username": "svc", "password": "[REDACTED:credential]", "enabled": true},
                "secretName": "db-credentials",
                "password": null,
                "passphrase": "",
                "DB_PASSWORD": "${DB_PASSWORD}",
                "tls.key": "[REDACTED:private-key]\n",
                "DATABASE_SECRET": "Server=db;User Id=sa;Password=[REDACTED:credential];",
                "redis_auth": "redis://:[REDACTED:connection-password]@redis:6379",
                "vault_token": "[REDACTED:credential]",
            })
        );
        assert_eq!(found(&report), BTreeMap::from([("connection-password", 1), ("credential", 8), ("private-key", 1)]));
    }

    #[test]
    fn an_environment_and_a_command_line_lose_their_secrets() {
        let (out, report) = redacted_json(json!({"containers": [{
            "name": "db",
            "command": ["mysqld"],
            "args": [
                "--db-password", "argpw1", "--token=t0k", "-p", "8080", "-predispw",
                "--password-file=/run/pw", "--verbose", "--api-key", "$(API_KEY)", "-a",
            ],
            "env": [
                {"name": "AWS_SECRET_ACCESS_KEY", "value": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
                {"name": "RABBITMQ_DEFAULT_PASS", "value": "guest2"},
                {"name": "AWS_ACCESS_KEY_ID", "value": "AKIAIOSFODNN7EXAMPLE"},
                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                {"name": "MODE", "value": "fast"},
            ],
        }]}));
        assert_eq!(
            out,
            json!({"containers": [{
                "name": "db",
                "command": ["mysqld"],
                "args": [
                    "--db-password", "[REDACTED:credential]", "--token=[REDACTED:credential]", "-p",
                    "[REDACTED:credential]", "-p[REDACTED:credential]", "--password-file=/run/pw", "--verbose",
                    "--api-key", "$(API_KEY)", "-a",
                ],
                "env": [
                    {"name": "AWS_SECRET_ACCESS_KEY", "value": "[REDACTED:credential]"},
                    {"name": "RABBITMQ_DEFAULT_PASS", "value": "[REDACTED:credential]"},
                    {"name": "AWS_ACCESS_KEY_ID", "value": "[REDACTED:aws-access-key]"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
                    {"name": "MODE", "value": "fast"},
                ],
            }]})
        );
        assert_eq!(found(&report), BTreeMap::from([("aws-access-key", 1), ("credential", 6)]));
        // Without MySQL in the command, `-p…` is any argument.
        let (out, _) = redacted_json(json!({"command": ["app"], "args": ["-pretty"]}));
        assert_eq!(out, json!({"command": ["app"], "args": ["-pretty"]}));
    }

    #[test]
    fn json_text_inside_a_string_is_redacted_as_json() {
        let applied = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cfg", "managedFields": [{"manager": "kubectl"}]},
            "data": {"DB_PASSWORD": "p w \"quoted\"", "contact": "jane@example.com"},
            "binaryData": {"blob": "AAAA"},
        });
        let secret = json!({"kind": "Secret", "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "t0k"}});
        let (out, report) = redacted_json(json!({
            "annotations": {
                "example.com/applied": applied.to_string(),
                "example.com/manifest": serde_json::to_string_pretty(&secret).unwrap(),
                "example.com/list": " [1, 2] ",
                "example.com/text": "{not json, mail jane@example.com}",
            },
        }));
        let annotations = &out["annotations"];
        assert_eq!(
            annotations["example.com/applied"],
            concat!(
                r#"{"apiVersion":"v1","binaryData":{"blob":"(not collected: 4 characters of base64)"},"#,
                r#""data":{"DB_PASSWORD":"[REDACTED:credential]","contact":"[REDACTED:email]"},"#,
                r#""kind":"ConfigMap","metadata":{"name":"cfg"}}"#,
            )
        );
        assert_eq!(
            annotations["example.com/manifest"],
            r#"{"data":"(not collected: a Secret's data)","kind":"Secret","stringData":"(not collected: a Secret's data)"}"#
        );
        assert_eq!(annotations["example.com/list"], "[1,2]");
        assert_eq!(annotations["example.com/text"], "{not json, mail [REDACTED:email]}");
        assert_eq!(found(&report), BTreeMap::from([("credential", 1), ("email", 2)]));
    }

    #[test]
    fn keys_that_redact_alike_are_numbered_and_cost_one_look_up_each() {
        // n keys that all redact to the same text: the old loop from #2 up made n²/2 look-ups.
        let mut taken: std::collections::BTreeSet<String> = ["k".to_owned(), "k#3".to_owned()].into();
        let mut suffixes = HashMap::new();
        let looked_up = std::cell::Cell::new(0_u64);
        let n = 2_000;
        for _ in 0..n {
            let key = unique_key(
                "k".to_owned(),
                |k| {
                    looked_up.set(looked_up.get() + 1);
                    taken.contains(k)
                },
                &mut suffixes,
            );
            assert!(taken.insert(key));
        }
        assert_eq!(taken.len(), n + 2);
        assert!(taken.contains("k#2") && taken.contains("k#4") && taken.contains(&format!("k#{}", n + 2)));
        assert!(looked_up.get() <= 2 * n as u64 + 2, "{} look-ups for {n} keys", looked_up.get());

        let (out, report) = redacted_json(json!({
            "a@example.com": 1, "b@example.com": 2, "c@example.com": 3, "[REDACTED:email]#2": 4,
        }));
        assert_eq!(
            out,
            json!({"[REDACTED:email]#2": 4, "[REDACTED:email]": 1, "[REDACTED:email]#3": 2, "[REDACTED:email]#4": 3})
        );
        assert_eq!(report.count("email"), 3);
    }

    fn rules_file(yaml: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yaml");
        std::fs::write(&path, yaml).unwrap();
        (dir, path)
    }

    #[test]
    fn a_rules_file_adds_rules_that_run_after_the_built_in_ones() {
        let (_dir, path) = rules_file(
            "rules:\n  - name: mrn\n    pattern: 'MRN-\\d{6}'\n  - name: patient-id\n    pattern: 'patient-id: (?P<secret>[0-9]+)'\n",
        );
        let redactor = Redactor::builtin(false).with_rules_file(&path).unwrap();
        assert_eq!(redactor.rule_names()[BUILTIN_NAMES.len()..], ["mrn", "patient-id"]);
        let mut report = RedactionReport::default();
        let out = redactor.redact("MRN-123456 and MRN-654321, patient-id: 42, MRN-12345", &mut report);
        assert_eq!(out, "[REDACTED:mrn] and [REDACTED:mrn], patient-id: [REDACTED:patient-id], MRN-12345");
        assert_eq!((report.count("mrn"), report.count("patient-id"), report.total()), (2, 1, 3));

        let (_dir, empty) = rules_file("rules: []\n");
        assert_eq!(Redactor::builtin(false).with_rules_file(&empty).unwrap().rule_names().len(), BUILTIN_NAMES.len());
    }

    #[test]
    fn a_bad_rules_file_is_refused_naming_the_file_and_the_rule() {
        for (yaml, rule, reason) in [
            ("rules:\n  - name: mrn\n    pattern: 'MRN-(\\d{6}'\n", "mrn", "invalid regular expression"),
            ("rules:\n  - {name: mrn, pattern: 'MRN-1'}\n  - {name: mrn, pattern: 'MRN-2'}\n", "mrn", "given twice"),
            ("rules:\n  - {name: email, pattern: 'x@y'}\n", "email", "built-in rule"),
            ("rules:\n  - {name: credential, pattern: 'x@y'}\n", "credential", "built-in rule"),
            ("rules:\n  - {name: ip-address, pattern: '10\\.0'}\n", "ip-address", "built-in rule"),
            ("rules:\n  - {name: anything, pattern: 'x*'}\n", "anything", "empty string"),
            ("rules:\n  - {name: 'my rule', pattern: 'x'}\n", "my rule", "a rule's name"),
            ("rules:\n  - {name: '', pattern: 'x'}\n", "", "a rule's name"),
        ] {
            let (_dir, path) = rules_file(yaml);
            let e = Redactor::builtin(false).with_rules_file(&path).unwrap_err();
            let said = e.to_string();
            assert!(matches!(&e, SupportError::Rule { rule: r, .. } if r == rule), "{yaml}: {said}");
            assert!(said.starts_with(&format!("redaction rules {}: rule {rule:?}: ", path.display())), "{said}");
            assert!(said.contains(reason), "{said}");
        }
        for yaml in ["rules: 3\n", "rules:\n  - {name: a}\n", "rules:\n  - {name: a, pattern: b, extra: c}\n", "[1, 2"]
        {
            let (_dir, path) = rules_file(yaml);
            let said = Redactor::builtin(false).with_rules_file(&path).unwrap_err().to_string();
            assert!(said.starts_with(&format!("redaction rules {}: not a rules file", path.display())), "{said}");
        }
        let missing = std::path::Path::new("/nonexistent/rules.yaml");
        let e = Redactor::builtin(false).with_rules_file(missing).unwrap_err();
        assert!(matches!(e, SupportError::RulesRead { .. }), "{e}");
        assert_eq!(e.to_string(), "redaction rules /nonexistent/rules.yaml: cannot read it");
    }

    #[test]
    fn an_empty_match_is_no_match() {
        let rule = Rule { name: "b".into(), pattern: Regex::new(r"\b").unwrap() };
        assert_eq!(rule.apply("two words"), (None, 0));
    }
}
