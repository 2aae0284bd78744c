//! Version ordering judged by each ecosystem's own tools: `dpkg --compare-versions`,
//! python3-rpm's `labelCompare` and PyPA's `packaging` judge thousands of generated pairs
//! (a fixed xorshift stream, so a failing pair fails again); apk-tools' own test vectors
//! (`data/version-apk.data`, origin in its header); and the examples of semver.org and of
//! the Go Modules Reference.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

use genesis_inventory::PackageKind;
use genesis_scan::version::{compare, is_valid};

/// The system Python, which Debian's python3-rpm and python3-packaging install into (the
/// `python3` on PATH may be another one).
const PYTHON: &str = "/usr/bin/python3";

/// How many generated pairs each judge sees.
const PAIRS: usize = 2000;

/// Asks dpkg about one pair a line (`a op b`) whether `a op b` holds, and prints its exit
/// status (0 yes, 1 no, 2 refused) followed by `warned` when it complained about the syntax.
/// dpkg judges one pair per process; one shell runs them all.
const DPKG_JUDGE: &str = r#"err=$(mktemp) || exit 1
while read -r a op b; do
  dpkg --compare-versions "$a" "$op" "$b" 2>"$err"
  status=$?
  if [ -s "$err" ]; then echo "$status warned"; else echo "$status"; fi
done
rm -f "$err""#;

/// Prints rpm's `labelCompare` (-1, 0, 1) of two EVRs a line, each as three tab-separated
/// fields (epoch, version, release; empty for none).
const RPM_JUDGE: &str = r#"
import sys
import rpm
for line in sys.stdin:
    f = [x or None for x in line.rstrip("\n").split("\t")]
    print(rpm.labelCompare(tuple(f[:3]), tuple(f[3:])))
"#;

/// Prints, for two tab-separated versions a line, whether `packaging` accepts each (1 or 0)
/// and, when it accepts both, their comparison (-1, 0, 1), else `-`.
const PEP440_JUDGE: &str = r#"
import sys
from packaging.version import InvalidVersion, Version
def version(s):
    try:
        return Version(s)
    except InvalidVersion:
        return None
for line in sys.stdin:
    a, b = (version(s) for s in line.rstrip("\n").split("\t"))
    order = "-" if a is None or b is None else (a > b) - (a < b)
    print(int(a is not None), int(b is not None), order)
"#;

#[test]
fn dpkg_orders_generated_versions_as_dpkg_compare_versions_does() {
    // Fails naming the package when dpkg is missing, rather than once per pair.
    run("dpkg", &["--version"], "", "dpkg");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let pairs: Vec<(String, String)> = (0..PAIRS)
        .map(|_| {
            let a = deb_version(&mut rng);
            let b = if rng.chance(50) { deb_mutation(&mut rng, &a) } else { deb_version(&mut rng) };
            (a, b)
        })
        .collect();
    // One question per pair: does our answer hold? dpkg's yes to exactly one of lt, eq and
    // gt is its whole verdict.
    let ops: Vec<&str> = pairs
        .iter()
        .map(|(a, b)| match compare(PackageKind::Deb, a, b) {
            Ordering::Less => "lt",
            Ordering::Equal => "eq",
            Ordering::Greater => "gt",
        })
        .collect();
    let input: String = pairs.iter().zip(&ops).map(|((a, b), op)| format!("{a} {op} {b}\n")).collect();
    let verdicts = run("sh", &["-c", DPKG_JUDGE], &input, "dpkg");
    assert_eq!(verdicts.lines().count(), pairs.len(), "one verdict per pair");
    let mut judged = 0;
    for (((a, b), op), verdict) in pairs.iter().zip(&ops).zip(verdicts.lines()) {
        let (status, warned) = verdict.split_once(' ').map_or((verdict, false), |(status, _)| (status, true));
        let both_valid = is_valid(PackageKind::Deb, a) && is_valid(PackageKind::Deb, b);
        match status {
            "0" => {
                judged += 1;
                assert_eq!(
                    both_valid, !warned,
                    "dpkg warned: {warned} about {a:?} or {b:?}, is_valid says both: {both_valid}"
                );
            }
            "1" => panic!("dpkg says {a:?} {op} {b:?} does not hold"),
            "2" => assert!(!both_valid, "dpkg refuses {a:?} or {b:?}, is_valid accepts both"),
            _ => panic!("dpkg could not judge {a:?} {op} {b:?}: {verdict}"),
        }
    }
    assert!(judged > PAIRS * 9 / 10, "dpkg judged only {judged} of {PAIRS} pairs");
}

#[test]
fn rpm_orders_generated_versions_as_rpm_label_compare_does() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let pairs: Vec<(Evr, Evr)> = (0..PAIRS)
        .map(|_| {
            let a = Evr::random(&mut rng);
            let b = if rng.chance(50) { a.mutation(&mut rng) } else { Evr::random(&mut rng) };
            (a, b)
        })
        .collect();
    let input: String = pairs.iter().map(|(a, b)| format!("{}\t{}\n", a.fields(), b.fields())).collect();
    let verdicts = run(PYTHON, &["-c", RPM_JUDGE], &input, "python3-rpm");
    assert_eq!(verdicts.lines().count(), pairs.len(), "one verdict per pair");
    for ((a, b), verdict) in pairs.iter().zip(verdicts.lines()) {
        let (a, b) = (a.to_string(), b.to_string());
        assert_eq!(ordering(&compare(PackageKind::Rpm, &a, &b)), verdict, "{a:?} against {b:?}");
        // Every part is made of the characters rpmbuild allows.
        assert!(is_valid(PackageKind::Rpm, &a), "{a:?}");
    }
}

#[test]
fn pep440_orders_and_accepts_generated_versions_as_packaging_does() {
    let mut rng = Rng(0xd1b5_4a32_d192_ed03);
    let pairs: Vec<(String, String)> = (0..PAIRS)
        .map(|_| {
            let a = Pep440::random(&mut rng);
            let b = match rng.below(10) {
                // The same version, spelled another way.
                0..=3 => a.clone(),
                4..=6 => a.tweak(&mut rng),
                _ => Pep440::random(&mut rng),
            };
            (a.render(&mut rng), b.render(&mut rng))
        })
        .collect();
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let verdicts = run(PYTHON, &["-c", PEP440_JUDGE], &input, "python3-packaging");
    assert_eq!(verdicts.lines().count(), pairs.len(), "one verdict per pair");
    let mut equal = 0;
    for ((a, b), verdict) in pairs.iter().zip(verdicts.lines()) {
        let mut fields = verdict.split(' ');
        let (a_valid, b_valid, order) = (fields.next(), fields.next(), fields.next());
        assert_eq!(Some(if is_valid(PackageKind::Pypi, a) { "1" } else { "0" }), a_valid, "{a:?}");
        assert_eq!(Some(if is_valid(PackageKind::Pypi, b) { "1" } else { "0" }), b_valid, "{b:?}");
        if order != Some("-") {
            let ours = compare(PackageKind::Pypi, a, b);
            assert_eq!(Some(ordering(&ours)), order, "{a:?} against {b:?}");
            equal += usize::from(ours.is_eq());
        }
    }
    assert!(equal > PAIRS / 4, "only {equal} pairs were one version spelled two ways");
}

#[test]
fn apk_passes_apk_tools_own_test_vectors() {
    let mut checked = 0;
    let mut fuzzy = 0;
    for line in include_str!("data/version-apk.data").lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        match line.split_whitespace().collect::<Vec<_>>()[..] {
            [] => {}
            [_, op, _] if op.contains('~') => {
                // apk's `~` is a prefix match (`3.6.9 ~ 3.6`), not an ordering.
                fuzzy += 1;
            }
            [a, op, b] => {
                let (negated, op) = op.strip_prefix('!').map_or((false, op), |op| (true, op));
                let order = compare(PackageKind::Apk, a, b);
                let holds = op.chars().any(|c| {
                    matches!((c, order), ('<', Ordering::Less) | ('=', Ordering::Equal) | ('>', Ordering::Greater))
                });
                assert_eq!(holds, !negated, "{line}: we say {order:?}");
                assert_eq!(compare(PackageKind::Apk, b, a), order.reverse(), "{line}, swapped");
                checked += 1;
            }
            [v] => {
                let (negated, v) = v.strip_prefix('!').map_or((false, v), |v| (true, v));
                assert_eq!(is_valid(PackageKind::Apk, v), !negated, "{line}");
                checked += 1;
            }
            _ => panic!("not a vector line: {line}"),
        }
    }
    // Every line of the file but the prefix matches was checked; a lone `!` (the empty version)
    // is a validity line too.
    assert_eq!((checked, fuzzy), (769, 16));
    assert!(!is_valid(PackageKind::Apk, ""));
}

#[test]
fn semver_follows_the_precedence_examples_of_semver_org() {
    // Semantic Versioning 2.0.0, §11 (precedence) and §10 (build metadata ignored).
    let ordered = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "2.0.0",
        "2.1.0",
        "2.1.1",
    ];
    let same = [
        ("1.0.0-alpha+001", "1.0.0-alpha"),
        ("1.0.0+20130313144700", "1.0.0"),
        ("1.0.0-beta+exp.sha.5114f85", "1.0.0-beta"),
        ("1.0.0+21AF26D3----117B344092BD", "1.0.0"),
        // npm's leniency (node-semver's `clean`).
        ("v1.2.3", "1.2.3"),
        ("=1.2.3", "1.2.3"),
        (" 1.2.3 ", "1.2.3"),
    ];
    for kind in [PackageKind::Npm, PackageKind::Cargo] {
        assert_in_order(kind, &ordered);
        assert_same(kind, &same);
        // §9's pre-release examples are valid versions.
        for v in ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--"] {
            assert!(is_valid(kind, v), "{v}");
        }
        for v in ["1.0", "1.0.0-01", "1.0.0-", "1.0.0+", "01.0.0", "latest"] {
            assert!(!is_valid(kind, v), "{v}");
        }
    }
}

#[test]
fn go_orders_pseudo_versions_as_the_go_modules_reference_describes() {
    // Go Modules Reference (go.dev/ref/mod), "Pseudo-versions": v0.0.0-… sorts below every
    // tagged version; vX.Y.(Z+1)-0.… above vX.Y.Z and below vX.Y.(Z+1)'s pre-releases;
    // vX.Y.Z-pre.0.… above vX.Y.Z-pre; pseudo-versions of one base by their timestamps.
    let ordered = [
        "v0.0.0-20191109021931-daa7c04131f5",
        "v0.0.0",
        "v1.2.3-pre",
        "v1.2.3-pre.0.20191109021931-daa7c04131f5",
        "v1.2.3",
        "v1.2.4-0.20191109021931-daa7c04131f5",
        "v1.2.4-0.20200101000000-abcdefabcdef",
        "v1.2.4-rc1",
        "v1.2.4",
        "v2.0.0+incompatible",
        "v2.0.1-0.20191109021931-daa7c04131f5+incompatible",
    ];
    let same = [
        // "+incompatible" is build metadata, ignored by the ordering.
        ("v2.0.0+incompatible", "v2.0.0"),
        // OSV's Go records write versions without the `v`.
        ("1.2.3", "v1.2.3"),
        // golang.org/x/mod/semver's shorthands.
        ("v1.2", "v1.2.0"),
        ("v1", "v1.0.0"),
    ];
    assert_in_order(PackageKind::Golang, &ordered);
    assert_same(PackageKind::Golang, &same);
    for v in ordered {
        assert!(is_valid(PackageKind::Golang, v), "{v}");
    }
    for v in ["v1.2.3.4", "v1.2.3-01", "v01.2.3", "v1.2-pre", "V1.2.3", "latest"] {
        assert!(!is_valid(PackageKind::Golang, v), "{v}");
    }
}

#[test]
fn any_string_is_ordered_without_panic_and_consistently_both_ways() {
    const ALPHABET: &[&str] = &[
        "0", "1", "9", "00", ".", "-", "+", "~", "^", ":", "_", "!", "a", "Z", "v", "r", "rc", "post", "é", "🦀", "\0",
        " ", "\t", "\u{301}",
    ];
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let mut garbage = || (0..rng.below(12)).map(|_| rng.pick(ALPHABET)).collect::<String>();
    let mut strings: Vec<String> = (0..400).map(|_| garbage()).collect();
    strings.push("9".repeat(10_000));
    for kind in PackageKind::ALL {
        for pair in strings.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let order = compare(kind, a, b);
            assert_eq!(compare(kind, b, a), order.reverse(), "{kind:?}: {a:?} against {b:?}");
            assert_eq!(compare(kind, a, a), Ordering::Equal, "{kind:?}: {a:?}");
            let _ = is_valid(kind, a);
        }
    }
}

/// Asserts that each version of `ordered` sorts below the next, both ways round.
fn assert_in_order(kind: PackageKind, ordered: &[&str]) {
    for pair in ordered.windows(2) {
        assert_eq!(compare(kind, pair[0], pair[1]), Ordering::Less, "{kind:?}: {} < {}", pair[0], pair[1]);
        assert_eq!(compare(kind, pair[1], pair[0]), Ordering::Greater, "{kind:?}: {} > {}", pair[1], pair[0]);
    }
}

/// Asserts that each pair compares equal.
fn assert_same(kind: PackageKind, same: &[(&str, &str)]) {
    for (a, b) in same {
        assert_eq!(compare(kind, a, b), Ordering::Equal, "{kind:?}: {a} = {b}");
    }
}

/// An ordering as the Python judges print it.
fn ordering(order: &Ordering) -> &'static str {
    match order {
        Ordering::Less => "-1",
        Ordering::Equal => "0",
        Ordering::Greater => "1",
    }
}

/// Runs `program` with `input` on its stdin and returns its stdout; fails naming the Debian
/// package that provides what is missing.
fn run(program: &str, args: &[&str], input: &str, package: &str) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): install the Debian package {package}"));
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let output = std::thread::scope(|scope| {
        // Feed stdin while stdout is drained, so that neither pipe fills up; a failed write
        // shows in the exit status.
        scope.spawn(move || stdin.write_all(input.as_bytes()));
        child.wait_with_output().expect("waiting for the judge")
    });
    assert!(
        output.status.success(),
        "{program} failed ({}); it needs the Debian package {package}:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the judge prints UTF-8")
}

/// xorshift64: small, deterministic and good enough to spread test cases.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n` (which is not 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// A number as versions write it: small, so that pairs often tie, and sometimes with a
/// leading zero.
fn number(rng: &mut Rng) -> String {
    let n = rng.below(12);
    if rng.chance(15) { format!("0{n}") } else { n.to_string() }
}

/// A number, then up to four pieces each followed by a number more often than not.
fn pieces(rng: &mut Rng, choices: &[&str]) -> String {
    let mut s = number(rng);
    for _ in 0..rng.below(5) {
        s.push_str(rng.pick(choices));
        if rng.chance(60) {
            s.push_str(&number(rng));
        }
    }
    s
}

/// `v` with one character inserted, removed or replaced from `alphabet`, or one of `tails`
/// appended.
fn mutation(rng: &mut Rng, v: &str, alphabet: &[&str], tails: &[&str]) -> String {
    let mut v = v.to_owned();
    // Generated versions are ASCII: every index is a character boundary.
    let i = rng.below(v.len() + 1);
    let c = rng.pick(alphabet);
    match rng.below(4) {
        0 => v.insert_str(i, c),
        1 if i < v.len() => {
            v.remove(i);
        }
        2 => v.push_str(rng.pick(tails)),
        _ if i < v.len() => v.replace_range(i..=i, c),
        _ => v.push_str(c),
    }
    v
}

/// Pieces of Debian versions, meeting dpkg's special cases: `~` before everything, letters
/// before other characters, `+` and `.` after letters.
const DEB_PIECES: &[&str] = &[".", ".", "~", "+", "a", "b", "z", "A", "~rc", "~~", ".0", "+b", "~deb12u"];

/// A Debian version: sometimes an epoch, an upstream version (with a hyphen inside only
/// when a revision follows), a revision more often than not.
fn deb_version(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(25) {
        v.push_str(&format!("{}:", rng.below(3)));
    }
    v.push_str(&pieces(rng, DEB_PIECES));
    if rng.chance(60) {
        if rng.chance(20) {
            v.push('-');
            v.push_str(&number(rng));
        }
        v.push('-');
        v.push_str(&pieces(rng, DEB_PIECES));
    }
    v
}

/// A Debian version changed a little, sometimes into one dpkg warns about (`_`, a leading
/// letter) or refuses (a colon after a non-number, an empty revision).
fn deb_mutation(rng: &mut Rng, v: &str) -> String {
    const ALPHABET: &[&str] = &["0", "1", "5", "9", ".", "~", "+", "-", ":", "a", "b", "z", "A", "Z", "_"];
    const TAILS: &[&str] = &["~1", "+b1", ".0", "0", "-1", "~", "a"];
    let mut v = mutation(rng, v, ALPHABET, TAILS);
    // A leading `-` would read as an option of dpkg's command line.
    if v.is_empty() || v.starts_with('-') {
        v.insert(0, '1');
    }
    v
}

/// An RPM epoch, version and release, kept apart for rpm's `labelCompare`.
#[derive(Clone)]
struct Evr {
    epoch: Option<&'static str>,
    version: String,
    release: Option<String>,
}

/// Pieces of RPM versions, meeting rpmvercmp's special cases: `~` and `^`, separators that
/// only separate, letters against numbers.
const RPM_PIECES: &[&str] = &[".", ".", "_", "+", "~", "^", "a", "b", "z", "A", "~rc", "^git", ".el9", "_2", "rc", ""];

/// Characters rpmbuild allows in a version or release.
const RPM_ALPHABET: &[&str] = &["0", "1", "5", "9", ".", "_", "+", "~", "^", "a", "b", "z", "A"];

impl Evr {
    fn random(rng: &mut Rng) -> Self {
        let epoch = [None, None, None, Some("0"), Some("1"), Some("2"), Some("00")][rng.below(7)];
        let release = rng.chance(80).then(|| rpm_part(rng));
        Evr { epoch, version: rpm_part(rng), release }
    }

    /// One of the three parts changed a little.
    fn mutation(&self, rng: &mut Rng) -> Self {
        let mut evr = self.clone();
        match rng.below(3) {
            0 => evr.epoch = [None, Some("0"), Some("1"), Some("01")][rng.below(4)],
            1 => evr.version = rpm_mutation(rng, &evr.version),
            _ => evr.release = Some(evr.release.as_deref().map_or_else(|| "1".to_owned(), |r| rpm_mutation(rng, r))),
        }
        evr
    }

    /// The tab-separated fields `RPM_JUDGE` reads.
    fn fields(&self) -> String {
        format!("{}\t{}\t{}", self.epoch.unwrap_or_default(), self.version, self.release.as_deref().unwrap_or_default())
    }
}

impl std::fmt::Display for Evr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(epoch) = self.epoch {
            write!(f, "{epoch}:")?;
        }
        f.write_str(&self.version)?;
        if let Some(release) = &self.release {
            write!(f, "-{release}")?;
        }
        Ok(())
    }
}

/// An RPM version or release, now and then starting with something other than a number.
fn rpm_part(rng: &mut Rng) -> String {
    let start = if rng.chance(10) { rng.pick(&["a", "~1", "^1", ".1"]) } else { "" };
    format!("{start}{}", pieces(rng, RPM_PIECES))
}

/// An RPM version or release changed a little, never empty.
fn rpm_mutation(rng: &mut Rng, v: &str) -> String {
    let v = mutation(rng, v, RPM_ALPHABET, &["~1", "^1", ".0", "0", "a", "."]);
    if v.is_empty() { "0".to_owned() } else { v }
}

/// The parts of a PEP 440 version, spelled out only by [`Pep440::render`], so that one
/// version can be written several ways.
#[derive(Clone)]
struct Pep440 {
    epoch: Option<usize>,
    release: Vec<usize>,
    /// A phase (an index into `PHASES`) and maybe its number.
    pre: Option<(usize, Option<usize>)>,
    post: Option<Option<usize>>,
    dev: Option<Option<usize>>,
    local: Option<Vec<&'static str>>,
}

/// The spellings of each pre-release phase.
const PHASES: [&[&str]; 3] = [&["a", "alpha", "A", "Alpha"], &["b", "beta", "B"], &["rc", "c", "pre", "preview", "RC"]];

impl Pep440 {
    fn random(rng: &mut Rng) -> Self {
        let optional_number = |rng: &mut Rng| [None, Some(0), Some(1), Some(2), Some(10)][rng.below(5)];
        Pep440 {
            epoch: rng.chance(30).then(|| rng.below(3)),
            release: (0..1 + rng.below(4)).map(|_| rng.below(4)).collect(),
            pre: rng.chance(35).then(|| (rng.below(3), optional_number(rng))),
            post: rng.chance(30).then(|| optional_number(rng)),
            dev: rng.chance(30).then(|| optional_number(rng)),
            local: rng.chance(20).then(|| {
                (0..1 + rng.below(3)).map(|_| rng.pick(&["ubuntu", "1", "abc", "01", "x2", "10", "Z"])).collect()
            }),
        }
    }

    /// The same version with one part drawn again.
    fn tweak(&self, rng: &mut Rng) -> Self {
        let fresh = Pep440::random(rng);
        let mut v = self.clone();
        match rng.below(6) {
            0 => v.epoch = fresh.epoch,
            1 => v.release = fresh.release,
            2 => v.pre = fresh.pre,
            3 => v.post = fresh.post,
            4 => v.dev = fresh.dev,
            _ => v.local = fresh.local,
        }
        v
    }

    /// The version in one of its many spellings: case, separators, `alpha` for `a`, `-1`
    /// for `.post1`, leading zeros, blanks around it; now and then broken by a stray piece.
    fn render(&self, rng: &mut Rng) -> String {
        const SEPARATORS: &[&str] = &["", ".", "-", "_"];
        let number = |rng: &mut Rng, n: usize| if rng.chance(20) { format!("0{n}") } else { n.to_string() };
        let mut s = rng.pick(&["", "", "", "v", "V"]).to_owned();
        if let Some(epoch) = self.epoch {
            s += &format!("{}!", number(rng, epoch));
        }
        let release: Vec<String> = self.release.iter().map(|&n| number(rng, n)).collect();
        s += &release.join(".");
        let suffix = |s: &mut String, rng: &mut Rng, names: &[&str], n: Option<usize>| {
            *s += rng.pick(SEPARATORS);
            *s += rng.pick(names);
            if let Some(n) = n {
                *s += rng.pick(SEPARATORS);
                *s += &number(rng, n);
            }
        };
        if let Some((phase, n)) = self.pre {
            suffix(&mut s, rng, PHASES[phase], n);
        }
        match self.post {
            Some(Some(n)) if rng.chance(30) => s += &format!("-{}", number(rng, n)),
            Some(n) => suffix(&mut s, rng, &["post", "rev", "r", "POST"], n),
            None => {}
        }
        if let Some(n) = self.dev {
            suffix(&mut s, rng, &["dev", "DEV"], n);
        }
        if let Some(local) = &self.local {
            s += "+";
            for (i, segment) in local.iter().enumerate() {
                if i > 0 {
                    s += rng.pick(&[".", "-", "_"]);
                }
                s.push_str(segment);
            }
        }
        if rng.chance(8) {
            let i = rng.below(s.len() + 1);
            s.insert_str(i, rng.pick(&["-", ".", "x", "+", "..", "_", "foo", " "]));
        }
        if rng.chance(5) {
            s = format!(" {s} ");
        }
        s
    }
}
