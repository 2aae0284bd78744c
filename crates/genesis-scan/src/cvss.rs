//! CVSS base scores from the vectors OSV records carry, for versions 2.0, 3.0, 3.1 and 4.0,
//! by the formulas of FIRST's specifications:
//!
//! - v3.x: "CVSS v3.1: Specification Document", section 7.1 (base equations) and Appendix A
//!   (`Roundup` on integers, so that 4.000000000000001 rounds to 4.0). v3.0's base
//!   equations are the same; its `Roundup` was specified as the plain "smallest number, to
//!   one decimal, not below the input", whose floating-point form 3.1 fixed, so 3.0 vectors
//!   use 3.1's `Roundup` too (over every v3 base vector, the results equal those of Red
//!   Hat's `cvss` library, which computes in decimals).
//! - v2.0: "CVSS v2 Complete Documentation", section 3.2.1 (base equation, rounded to one
//!   decimal).
//! - v4.0: "CVSS v4.0 Specification Document", section 8.2 (scores by macrovector, then
//!   interpolated by severity distance), with the lookup table, highest-severity vectors
//!   and depths of FIRST's reference calculator (`cvss40.js` of
//!   RedHatProductSecurity/cvss-v4-calculator, which first.org runs; commit d1eafe0,
//!   2024-11-01), computed in the same floating-point steps so the results are the
//!   calculator's (over every v4 base vector they equal those of Red Hat's `cvss` 3.6).
//!
//! Only the base score is computed: temporal, threat, environmental and supplemental
//! metrics in a vector are checked for well-formedness and left out, as a database's
//! vector describes the vulnerability, not a site.

/// The CVSS base score (0.0–10.0) of `vector`: `CVSS:3.1/…`, `CVSS:3.0/…`, `CVSS:4.0/…`,
/// or a v2 vector (`AV:N/AC:L/Au:N/…`, optionally in parentheses, as NVD writes it).
///
/// ```
/// use genesis_scan::base_score;
///
/// // CVE-2014-0160 (Heartbleed), FIRST's CVSS v3.1 examples.
/// assert_eq!(base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"), Ok(7.5));
/// assert!(base_score("CVSS:3.1/AV:N").is_err());
/// ```
pub fn base_score(vector: &str) -> Result<f32, String> {
    let vector = vector.trim();
    let score = if let Some(body) = vector.strip_prefix("CVSS:3.1/").or_else(|| vector.strip_prefix("CVSS:3.0/")) {
        v3(vector, body)?
    } else if let Some(body) = vector.strip_prefix("CVSS:4.0/") {
        v4(vector, body)?
    } else if vector.starts_with("CVSS:") {
        return Err(format!("{vector:?}: a CVSS version this scan does not score (2.0, 3.0, 3.1 and 4.0 are)"));
    } else {
        v2(vector, vector.strip_prefix('(').and_then(|v| v.strip_suffix(')')).unwrap_or(vector))?
    };
    // Scores have one decimal; f32 holds each of 0.0..=10.0 closely enough to print it back.
    Ok(score as f32)
}

/// The metrics a version defines: each key with its values.
type Defined = &'static [(&'static str, &'static [&'static str])];

/// A vector's metrics, each checked against its version's definition.
struct Metrics<'a> {
    vector: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Metrics<'a> {
    /// Reads `body` (`KEY:VALUE/KEY:VALUE…`), refusing an unknown key or value and a
    /// repeated key; `required` must all be present.
    fn parse(vector: &'a str, body: &'a str, defined: Defined, required: &[&str]) -> Result<Metrics<'a>, String> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for part in body.split('/') {
            let (key, value) = part.split_once(':').ok_or_else(|| format!("{vector:?}: {part:?} is not a metric"))?;
            let values = defined
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, values)| *values)
                .ok_or_else(|| format!("{vector:?}: unknown metric {key:?}"))?;
            if !values.contains(&value) {
                return Err(format!("{vector:?}: {key}:{value} is not a value of {key}"));
            }
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(format!("{vector:?}: metric {key} appears twice"));
            }
            pairs.push((key, value));
        }
        let metrics = Metrics { vector, pairs };
        for key in required {
            metrics.get(key)?;
        }
        Ok(metrics)
    }

    /// The value of `key`.
    fn get(&self, key: &str) -> Result<&'a str, String> {
        self.pairs
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("{:?}: base metric {key} is missing", self.vector))
    }
}

/// CVSS v3.0 and v3.1 base metrics, then the temporal and environmental ones (accepted,
/// not scored).
const V3: Defined = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", &["H", "L", "N"]),
    ("I", &["H", "L", "N"]),
    ("A", &["H", "L", "N"]),
    ("E", &["X", "U", "P", "F", "H"]),
    ("RL", &["X", "O", "T", "W", "U"]),
    ("RC", &["X", "U", "R", "C"]),
    ("CR", &["X", "L", "M", "H"]),
    ("IR", &["X", "L", "M", "H"]),
    ("AR", &["X", "L", "M", "H"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "R"]),
    ("MS", &["X", "U", "C"]),
    ("MC", &["X", "N", "L", "H"]),
    ("MI", &["X", "N", "L", "H"]),
    ("MA", &["X", "N", "L", "H"]),
];

/// CVSS v3.x base score (specification 3.1, section 7.1).
fn v3(vector: &str, body: &str) -> Result<f64, String> {
    let m = Metrics::parse(vector, body, V3, &["AV", "AC", "PR", "UI", "S", "C", "I", "A"])?;
    let changed = m.get("S")? == "C";
    let attack_vector = match m.get("AV")? {
        "N" => 0.85,
        "A" => 0.62,
        "L" => 0.55,
        _ => 0.2,
    };
    let complexity = if m.get("AC")? == "L" { 0.77 } else { 0.44 };
    let privileges = match (m.get("PR")?, changed) {
        ("N", _) => 0.85,
        ("L", false) => 0.62,
        ("L", true) => 0.68,
        (_, false) => 0.27,
        (_, true) => 0.5,
    };
    let interaction = if m.get("UI")? == "N" { 0.85 } else { 0.62 };
    let cia = |key: &str| -> Result<f64, String> {
        Ok(match m.get(key)? {
            "H" => 0.56,
            "L" => 0.22,
            _ => 0.0,
        })
    };
    let iss = 1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?);
    let impact = if changed { 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15) } else { 6.42 * iss };
    let exploitability = 8.22 * attack_vector * complexity * privileges * interaction;
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let total = if changed { 1.08 * (impact + exploitability) } else { impact + exploitability };
    Ok(roundup(total.min(10.0)))
}

/// `Roundup` of CVSS v3.1 Appendix A: the smallest one-decimal number not below `x`,
/// computed on integers so that floating-point noise does not add a tenth.
fn roundup(x: f64) -> f64 {
    let int_input = (x * 100_000.0).round() as i64;
    if int_input % 10_000 == 0 { int_input as f64 / 100_000.0 } else { ((int_input / 10_000) as f64 + 1.0) / 10.0 }
}

/// CVSS v2.0 base metrics, then the temporal and environmental ones (accepted, not scored).
const V2: Defined = &[
    ("AV", &["L", "A", "N"]),
    ("AC", &["H", "M", "L"]),
    ("Au", &["M", "S", "N"]),
    ("C", &["N", "P", "C"]),
    ("I", &["N", "P", "C"]),
    ("A", &["N", "P", "C"]),
    ("E", &["U", "POC", "F", "H", "ND"]),
    ("RL", &["OF", "TF", "W", "U", "ND"]),
    ("RC", &["UC", "UR", "C", "ND"]),
    ("CDP", &["N", "L", "LM", "MH", "H", "ND"]),
    ("TD", &["N", "L", "M", "H", "ND"]),
    ("CR", &["L", "M", "H", "ND"]),
    ("IR", &["L", "M", "H", "ND"]),
    ("AR", &["L", "M", "H", "ND"]),
];

/// CVSS v2.0 base score (complete documentation, section 3.2.1).
fn v2(vector: &str, body: &str) -> Result<f64, String> {
    let m = Metrics::parse(vector, body, V2, &["AV", "AC", "Au", "C", "I", "A"])?;
    let access_vector = match m.get("AV")? {
        "L" => 0.395,
        "A" => 0.646,
        _ => 1.0,
    };
    let complexity = match m.get("AC")? {
        "H" => 0.35,
        "M" => 0.61,
        _ => 0.71,
    };
    let authentication = match m.get("Au")? {
        "M" => 0.45,
        "S" => 0.56,
        _ => 0.704,
    };
    let cia = |key: &str| -> Result<f64, String> {
        Ok(match m.get(key)? {
            "N" => 0.0,
            "P" => 0.275,
            _ => 0.660,
        })
    };
    let impact = 10.41 * (1.0 - (1.0 - cia("C")?) * (1.0 - cia("I")?) * (1.0 - cia("A")?));
    if impact <= 0.0 {
        return Ok(0.0);
    }
    let exploitability = 20.0 * access_vector * complexity * authentication;
    Ok(((0.6 * impact + 0.4 * exploitability - 1.5) * 1.176 * 10.0).round() / 10.0)
}

/// CVSS v4.0 metrics: base, threat, environmental, supplemental (all but the base ones
/// accepted, not scored).
const V4: Defined = &[
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
    ("E", &["X", "A", "P", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MAT", &["X", "N", "P"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "P", "A"]),
    ("MVC", &["X", "H", "L", "N"]),
    ("MVI", &["X", "H", "L", "N"]),
    ("MVA", &["X", "H", "L", "N"]),
    ("MSC", &["X", "H", "L", "N"]),
    ("MSI", &["X", "S", "H", "L", "N"]),
    ("MSA", &["X", "S", "H", "L", "N"]),
    ("S", &["X", "N", "P"]),
    ("AU", &["X", "N", "Y"]),
    ("R", &["X", "A", "U", "I"]),
    ("V", &["X", "D", "C"]),
    ("RE", &["X", "L", "M", "H"]),
    ("U", &["X", "Clear", "Green", "Amber", "Red"]),
];

/// The v4.0 base metrics, in the order of [`V4`].
const V4_BASE: [&str; 11] = ["AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"];

/// The severity level of a v4.0 metric's value, as the calculator's `METRIC_LEVELS` writes
/// it (0.0 is the most severe value; the literals matter, the arithmetic is the calculator's).
fn level(metric: &str, value: &str) -> f64 {
    match (metric, value) {
        ("AV", "A") | ("PR", "L") | ("UI", "P") | ("AC", "H") | ("AT", "P") => 0.1,
        ("AV", "L") | ("PR", "H") | ("UI", "A") => 0.2,
        ("AV", "P") => 0.3,
        ("VC" | "VI" | "VA", "L") | ("CR" | "IR" | "AR", "M") | ("SC" | "SI" | "SA", "H") => 0.1,
        ("VC" | "VI" | "VA", "N") | ("CR" | "IR" | "AR", "L") | ("SC" | "SI" | "SA", "L") => 0.2,
        ("SC" | "SI" | "SA", "N") => 0.3,
        // AV:N, PR:N, UI:N, AC:L, AT:N, VC/VI/VA/CR/IR/AR:H, SI/SA:S
        _ => 0.0,
    }
}

/// The highest-severity vectors of each EQ1 level, as (AV, PR, UI) (`MAX_COMPOSED`).
const EQ1_MAX: [&[[&str; 3]]; 3] =
    [&[["N", "N", "N"]], &[["A", "N", "N"], ["N", "L", "N"], ["N", "N", "P"]], &[["P", "N", "N"], ["A", "L", "P"]]];

/// The highest-severity vectors of each EQ2 level, as (AC, AT).
const EQ2_MAX: [&[[&str; 2]]; 2] = [&[["L", "N"]], &[["H", "N"], ["L", "P"]]];

/// The highest-severity vectors of each EQ4 level, as (SC, SI, SA).
const EQ4_MAX: [&[[&str; 3]]; 3] = [&[["H", "S", "S"]], &[["H", "H", "H"]], &[["L", "L", "L"]]];

/// The highest-severity vectors of EQ3 and EQ6 together, as (VC, VI, VA, CR, IR, AR).
fn eq3_eq6_max(eq3: u8, eq6: u8) -> &'static [[&'static str; 6]] {
    match (eq3, eq6) {
        (0, 0) => &[["H", "H", "H", "H", "H", "H"]],
        (0, _) => &[["H", "H", "L", "M", "M", "H"], ["H", "H", "H", "M", "M", "M"]],
        (1, 0) => &[["L", "H", "H", "H", "H", "H"], ["H", "L", "H", "H", "H", "H"]],
        (1, _) => &[
            ["L", "H", "L", "H", "M", "H"],
            ["L", "H", "H", "H", "M", "M"],
            ["H", "L", "H", "M", "H", "M"],
            ["H", "L", "L", "M", "H", "H"],
            ["L", "L", "H", "H", "H", "M"],
        ],
        _ => &[["L", "L", "L", "H", "H", "H"]],
    }
}

/// The depth of each EQ level, in severity-distance steps (`MAX_SEVERITY`).
fn depths(eq1: u8, eq2: u8, eq3: u8, eq6: u8, eq4: u8) -> [u8; 4] {
    let eq3_eq6 = match (eq3, eq6) {
        (0, 0) => 7,
        (0, _) => 6,
        (1, _) => 8,
        _ => 10,
    };
    [[1, 4, 5][usize::from(eq1)], [1, 2][usize::from(eq2)], eq3_eq6, [6, 5, 4][usize::from(eq4)]]
}

/// CVSS v4.0 base score (CVSS-B; specification section 8.2, as FIRST's calculator computes
/// it). The threat metric counts as `E:A` and the security requirements as `H`, their
/// values when not given.
fn v4(vector: &str, body: &str) -> Result<f64, String> {
    const STEP: f64 = 0.1;
    let m = Metrics::parse(vector, body, V4, &V4_BASE)?;
    let (av, ac, at, pr, ui) = (m.get("AV")?, m.get("AC")?, m.get("AT")?, m.get("PR")?, m.get("UI")?);
    let (vc, vi, va, sc, si, sa) = (m.get("VC")?, m.get("VI")?, m.get("VA")?, m.get("SC")?, m.get("SI")?, m.get("SA")?);
    let requirement = "H";
    if [vc, vi, va, sc, si, sa].iter().all(|v| *v == "N") {
        return Ok(0.0);
    }
    let eq1: u8 = if av == "N" && pr == "N" && ui == "N" {
        0
    } else if (av == "N" || pr == "N" || ui == "N") && av != "P" {
        1
    } else {
        2
    };
    let eq2: u8 = if ac == "L" && at == "N" { 0 } else { 1 };
    let eq3: u8 = if vc == "H" && vi == "H" {
        0
    } else if vc == "H" || vi == "H" || va == "H" {
        1
    } else {
        2
    };
    // SI:S and SA:S (EQ4 level 0) exist only as modified, environmental values.
    let eq4: u8 = if sc == "H" || si == "H" || sa == "H" { 1 } else { 2 };
    // E:A is EQ5 level 0.
    let eq5: u8 = 0;
    // With every requirement high, EQ6 is 0 when any impact on the vulnerable system is high.
    let eq6: u8 = if vc == "H" || vi == "H" || va == "H" { 0 } else { 1 };
    let eq = [eq1, eq2, eq3, eq4, eq5, eq6];
    let value = macrovector_score(eq).ok_or_else(|| format!("{vector:?}: macrovector {eq:?} has no score"))?;

    // The score of the next lower macrovector along each EQ, when there is one.
    let lower = |steps: &[usize]| {
        let mut next = eq;
        for &i in steps {
            next[i] += 1;
        }
        macrovector_score(next)
    };
    let next_eq3_eq6 = match (eq3, eq6) {
        (0, 0) => lower(&[5]).zip(lower(&[2])).map(|(left, right)| left.max(right)),
        (1, 0) => lower(&[5]),
        (0 | 1, _) => lower(&[2]),
        _ => lower(&[2, 5]),
    };

    // The severity distance from the first highest-severity vector of the macrovector that
    // is at least as severe in every metric (the last one tried, when none is).
    let selected = [av, pr, ui, ac, at, vc, vi, va, requirement, requirement, requirement, sc, si, sa];
    let keys = ["AV", "PR", "UI", "AC", "AT", "VC", "VI", "VA", "CR", "IR", "AR", "SC", "SI", "SA"];
    let mut distances = [0.0_f64; 14];
    'search: for e1 in EQ1_MAX[usize::from(eq1)] {
        for e2 in EQ2_MAX[usize::from(eq2)] {
            for e36 in eq3_eq6_max(eq3, eq6) {
                for e4 in EQ4_MAX[usize::from(eq4)] {
                    let highest = e1.iter().chain(e2.iter()).chain(e36.iter()).chain(e4.iter()).copied();
                    for (((distance, key), chosen), top) in distances.iter_mut().zip(keys).zip(selected).zip(highest) {
                        *distance = level(key, chosen) - level(key, top);
                    }
                    if distances.iter().all(|d| *d >= 0.0) {
                        break 'search;
                    }
                }
            }
        }
    }
    let [d_av, d_pr, d_ui, d_ac, d_at, d_vc, d_vi, d_va, d_cr, d_ir, d_ar, d_sc, d_si, d_sa] = distances;

    // Each EQ with a lower macrovector moves the score down by its share of the gap; EQ5
    // counts in the mean but its share is always 0.
    let [depth1, depth2, depth36, depth4] = depths(eq1, eq2, eq3, eq6, eq4);
    let parts = [
        (lower(&[0]), d_av + d_pr + d_ui, f64::from(depth1) * STEP),
        (lower(&[1]), d_ac + d_at, f64::from(depth2) * STEP),
        (next_eq3_eq6, d_vc + d_vi + d_va + d_cr + d_ir + d_ar, f64::from(depth36) * STEP),
        (lower(&[3]), d_sc + d_si + d_sa, f64::from(depth4) * STEP),
    ];
    let mut normalized = [0.0_f64; 5];
    let mut existing = 0_u32;
    for (slot, (next, distance, depth)) in normalized.iter_mut().zip(parts) {
        if let Some(next) = next {
            existing += 1;
            *slot = (value - next) * (distance / depth);
        }
    }
    if lower(&[4]).is_some() {
        existing += 1;
    }
    let [n1, n2, n3, n4, n5] = normalized;
    let mean = if existing == 0 { 0.0 } else { (n1 + n2 + n3 + n4 + n5) / f64::from(existing) };
    // The calculator's `roundToDecimalPlaces`: half up, after 1e-6 that undoes a
    // floating-point shortfall (8.6 - 7.15 is 1.4499999999999993).
    Ok((((value - mean).clamp(0.0, 10.0) + 1e-6) * 10.0).round() / 10.0)
}

/// The score of a macrovector (EQ1..EQ6), from the calculator's lookup table.
fn macrovector_score(eq: [u8; 6]) -> Option<f64> {
    let key = eq.map(|level| b'0' + level);
    let i = MACROVECTOR_SCORES.binary_search_by_key(&key, |(k, _)| *k).ok()?;
    MACROVECTOR_SCORES.get(i).map(|(_, score)| *score)
}

/// Every macrovector's score, sorted by macrovector (`cvss40.js`, `LOOKUP_TABLE`).
#[rustfmt::skip]
const MACROVECTOR_SCORES: [([u8; 6], f64); 270] = [
    (*b"000000", 10.0), (*b"000001", 9.9), (*b"000010", 9.8), (*b"000011", 9.5), (*b"000020", 9.5), (*b"000021", 9.2),
    (*b"000100", 10.0), (*b"000101", 9.6), (*b"000110", 9.3), (*b"000111", 8.7), (*b"000120", 9.1), (*b"000121", 8.1),
    (*b"000200", 9.3), (*b"000201", 9.0), (*b"000210", 8.9), (*b"000211", 8.0), (*b"000220", 8.1), (*b"000221", 6.8),
    (*b"001000", 9.8), (*b"001001", 9.5), (*b"001010", 9.5), (*b"001011", 9.2), (*b"001020", 9.0), (*b"001021", 8.4),
    (*b"001100", 9.3), (*b"001101", 9.2), (*b"001110", 8.9), (*b"001111", 8.1), (*b"001120", 8.1), (*b"001121", 6.5),
    (*b"001200", 8.8), (*b"001201", 8.0), (*b"001210", 7.8), (*b"001211", 7.0), (*b"001220", 6.9), (*b"001221", 4.8),
    (*b"002001", 9.2), (*b"002011", 8.2), (*b"002021", 7.2), (*b"002101", 7.9), (*b"002111", 6.9), (*b"002121", 5.0),
    (*b"002201", 6.9), (*b"002211", 5.5), (*b"002221", 2.7), (*b"010000", 9.9), (*b"010001", 9.7), (*b"010010", 9.5),
    (*b"010011", 9.2), (*b"010020", 9.2), (*b"010021", 8.5), (*b"010100", 9.5), (*b"010101", 9.1), (*b"010110", 9.0),
    (*b"010111", 8.3), (*b"010120", 8.4), (*b"010121", 7.1), (*b"010200", 9.2), (*b"010201", 8.1), (*b"010210", 8.2),
    (*b"010211", 7.1), (*b"010220", 7.2), (*b"010221", 5.3), (*b"011000", 9.5), (*b"011001", 9.3), (*b"011010", 9.2),
    (*b"011011", 8.5), (*b"011020", 8.5), (*b"011021", 7.3), (*b"011100", 9.2), (*b"011101", 8.2), (*b"011110", 8.0),
    (*b"011111", 7.2), (*b"011120", 7.0), (*b"011121", 5.9), (*b"011200", 8.4), (*b"011201", 7.0), (*b"011210", 7.1),
    (*b"011211", 5.2), (*b"011220", 5.0), (*b"011221", 3.0), (*b"012001", 8.6), (*b"012011", 7.5), (*b"012021", 5.2),
    (*b"012101", 7.1), (*b"012111", 5.2), (*b"012121", 2.9), (*b"012201", 6.3), (*b"012211", 2.9), (*b"012221", 1.7),
    (*b"100000", 9.8), (*b"100001", 9.5), (*b"100010", 9.4), (*b"100011", 8.7), (*b"100020", 9.1), (*b"100021", 8.1),
    (*b"100100", 9.4), (*b"100101", 8.9), (*b"100110", 8.6), (*b"100111", 7.4), (*b"100120", 7.7), (*b"100121", 6.4),
    (*b"100200", 8.7), (*b"100201", 7.5), (*b"100210", 7.4), (*b"100211", 6.3), (*b"100220", 6.3), (*b"100221", 4.9),
    (*b"101000", 9.4), (*b"101001", 8.9), (*b"101010", 8.8), (*b"101011", 7.7), (*b"101020", 7.6), (*b"101021", 6.7),
    (*b"101100", 8.6), (*b"101101", 7.6), (*b"101110", 7.4), (*b"101111", 5.8), (*b"101120", 5.9), (*b"101121", 5.0),
    (*b"101200", 7.2), (*b"101201", 5.7), (*b"101210", 5.7), (*b"101211", 5.2), (*b"101220", 5.2), (*b"101221", 2.5),
    (*b"102001", 8.3), (*b"102011", 7.0), (*b"102021", 5.4), (*b"102101", 6.5), (*b"102111", 5.8), (*b"102121", 2.6),
    (*b"102201", 5.3), (*b"102211", 2.1), (*b"102221", 1.3), (*b"110000", 9.5), (*b"110001", 9.0), (*b"110010", 8.8),
    (*b"110011", 7.6), (*b"110020", 7.6), (*b"110021", 7.0), (*b"110100", 9.0), (*b"110101", 7.7), (*b"110110", 7.5),
    (*b"110111", 6.2), (*b"110120", 6.1), (*b"110121", 5.3), (*b"110200", 7.7), (*b"110201", 6.6), (*b"110210", 6.8),
    (*b"110211", 5.9), (*b"110220", 5.2), (*b"110221", 3.0), (*b"111000", 8.9), (*b"111001", 7.8), (*b"111010", 7.6),
    (*b"111011", 6.7), (*b"111020", 6.2), (*b"111021", 5.8), (*b"111100", 7.4), (*b"111101", 5.9), (*b"111110", 5.7),
    (*b"111111", 5.7), (*b"111120", 4.7), (*b"111121", 2.3), (*b"111200", 6.1), (*b"111201", 5.2), (*b"111210", 5.7),
    (*b"111211", 2.9), (*b"111220", 2.4), (*b"111221", 1.6), (*b"112001", 7.1), (*b"112011", 5.9), (*b"112021", 3.0),
    (*b"112101", 5.8), (*b"112111", 2.6), (*b"112121", 1.5), (*b"112201", 2.3), (*b"112211", 1.3), (*b"112221", 0.6),
    (*b"200000", 9.3), (*b"200001", 8.7), (*b"200010", 8.6), (*b"200011", 7.2), (*b"200020", 7.5), (*b"200021", 5.8),
    (*b"200100", 8.6), (*b"200101", 7.4), (*b"200110", 7.4), (*b"200111", 6.1), (*b"200120", 5.6), (*b"200121", 3.4),
    (*b"200200", 7.0), (*b"200201", 5.4), (*b"200210", 5.2), (*b"200211", 4.0), (*b"200220", 4.0), (*b"200221", 2.2),
    (*b"201000", 8.5), (*b"201001", 7.5), (*b"201010", 7.4), (*b"201011", 5.5), (*b"201020", 6.2), (*b"201021", 5.1),
    (*b"201100", 7.2), (*b"201101", 5.7), (*b"201110", 5.5), (*b"201111", 4.1), (*b"201120", 4.6), (*b"201121", 1.9),
    (*b"201200", 5.3), (*b"201201", 3.6), (*b"201210", 3.4), (*b"201211", 1.9), (*b"201220", 1.9), (*b"201221", 0.8),
    (*b"202001", 6.4), (*b"202011", 5.1), (*b"202021", 2.0), (*b"202101", 4.7), (*b"202111", 2.1), (*b"202121", 1.1),
    (*b"202201", 2.4), (*b"202211", 0.9), (*b"202221", 0.4), (*b"210000", 8.8), (*b"210001", 7.5), (*b"210010", 7.3),
    (*b"210011", 5.3), (*b"210020", 6.0), (*b"210021", 5.0), (*b"210100", 7.3), (*b"210101", 5.5), (*b"210110", 5.9),
    (*b"210111", 4.0), (*b"210120", 4.1), (*b"210121", 2.0), (*b"210200", 5.4), (*b"210201", 4.3), (*b"210210", 4.5),
    (*b"210211", 2.2), (*b"210220", 2.0), (*b"210221", 1.1), (*b"211000", 7.5), (*b"211001", 5.5), (*b"211010", 5.8),
    (*b"211011", 4.5), (*b"211020", 4.0), (*b"211021", 2.1), (*b"211100", 6.1), (*b"211101", 5.1), (*b"211110", 4.8),
    (*b"211111", 1.8), (*b"211120", 2.0), (*b"211121", 0.9), (*b"211200", 4.6), (*b"211201", 1.8), (*b"211210", 1.7),
    (*b"211211", 0.7), (*b"211220", 0.8), (*b"211221", 0.2), (*b"212001", 5.3), (*b"212011", 2.4), (*b"212021", 1.4),
    (*b"212101", 2.4), (*b"212111", 1.2), (*b"212121", 0.5), (*b"212201", 1.0), (*b"212211", 0.3), (*b"212221", 0.1),
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn check(vector: &str, expected: f32) {
        let score = base_score(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
        assert!((score - expected).abs() < 0.001, "{vector}: {score}, expected {expected}");
    }

    /// Vectors of FIRST's "CVSS v3.1: Examples" document (first.org/cvss/v3-1/examples)
    /// with the scores it gives; each also checked with Red Hat's `cvss` 3.6 (PyPI).
    #[test]
    fn v3_1_scores_are_firsts_worked_examples() {
        check("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1); // CVE-2013-1937
        check("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", 6.4); // CVE-2013-0375
        check("CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", 3.1); // CVE-2014-3566
        check("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9); // CVE-2012-1516
        check("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2); // CVE-2009-0783
        check("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 8.8); // CVE-2012-0384
        check("CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H", 7.8); // CVE-2015-1098
        check("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5); // CVE-2014-0160
        check("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8); // CVE-2014-6271
        check("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:C/C:N/I:H/A:N", 6.8); // CVE-2008-1447
        check("CVSS:3.1/AV:P/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 6.8); // CVE-2014-2005
        check("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:N/A:N", 5.8); // CVE-2010-0467
    }

    /// Scores from Red Hat's `cvss` 3.6 (which computes in decimals), at the edges of the
    /// scale: no impact, the lowest non-zero, the cap at 10 with a changed scope.
    #[test]
    fn v3_1_scores_at_the_edges_of_the_scale() {
        check("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0);
        check("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.8);
        check("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0);
        check("CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:C/C:L/I:L/A:N", 5.5);
        check("CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:C/C:N/I:H/A:N", 7.4);
    }

    /// FIRST's v3.0 examples document scores these CVEs the same way.
    #[test]
    fn v3_0_vectors_score_by_the_same_base_equations() {
        check("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", 7.5);
        check("CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9);
        check("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1);
        check("CVSS:3.0/AV:L/AC:L/PR:H/UI:N/S:U/C:L/I:L/A:L", 4.2);
    }

    #[test]
    fn temporal_and_environmental_metrics_leave_the_base_score_alone() {
        check("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U/CR:L/MAV:P", 9.8);
        check("AV:N/AC:L/Au:N/C:P/I:N/A:N/E:U/RL:OF/RC:C/CDP:N/TD:ND", 5.0);
        check("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U/CR:L/MAV:P/S:P/U:Red", 9.3);
    }

    /// The examples of FIRST's "CVSS v2 Complete Documentation", section 3.3.
    #[test]
    fn v2_scores_are_the_guides_worked_examples() {
        check("AV:N/AC:L/Au:N/C:N/I:N/A:C", 7.8); // CVE-2002-0392
        check("AV:N/AC:L/Au:N/C:C/I:C/A:C", 10.0); // CVE-2003-0818
        check("AV:L/AC:H/Au:N/C:C/I:C/A:C", 6.2); // CVE-2003-0062
        check("(AV:N/AC:M/Au:S/C:P/I:P/A:N)", 4.9);
        check("AV:A/AC:H/Au:M/C:N/I:N/A:N", 0.0);
    }

    /// Scores of FIRST's v4.0 calculator (`cvss40.js`), as Red Hat's `cvss` 3.6 reproduces
    /// them: CVE-2022-41741 (nginx, 8.5) is an example of FIRST's v4.0 examples document.
    #[test]
    fn v4_scores_are_the_reference_calculators() {
        check("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.3);
        check("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 8.5);
        check("CVSS:4.0/AV:N/AC:L/AT:N/PR:H/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N", 5.1);
        check("CVSS:4.0/AV:N/AC:H/AT:P/PR:L/UI:A/VC:L/VI:N/VA:N/SC:L/SI:L/SA:N", 2.0);
        check("CVSS:4.0/AV:P/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N", 5.1);
        check("CVSS:4.0/AV:A/AC:L/AT:N/PR:N/UI:P/VC:H/VI:L/VA:L/SC:H/SI:H/SA:H", 8.5);
        check("CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", 9.2);
        check("CVSS:4.0/AV:L/AC:H/AT:P/PR:H/UI:A/VC:L/VI:L/VA:L/SC:L/SI:L/SA:L", 1.0);
        check("CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", 9.4);
        check("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", 0.0);
    }

    #[test]
    fn a_malformed_vector_is_refused_with_the_reason() {
        for (vector, reason) in [
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N", "A is missing"),
            ("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "appears twice"),
            ("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "AV:X"),
            ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N/ZZ:1", "unknown metric"),
            ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N", "SA is missing"),
            ("CVSS:5.0/AV:N", "does not score"),
            ("AV:N/AC:L/Au:N/C:N/I:N", "A is missing"),
            ("", "not a metric"),
        ] {
            let err = base_score(vector).unwrap_err();
            assert!(err.contains(reason), "{vector:?}: {err}");
        }
    }

    #[test]
    fn the_lookup_table_is_sorted_so_that_binary_search_finds_every_macrovector() {
        assert!(MACROVECTOR_SCORES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(macrovector_score([0, 0, 0, 0, 0, 0]), Some(10.0));
        assert_eq!(macrovector_score([2, 1, 2, 2, 2, 1]), Some(0.1));
        assert_eq!(macrovector_score([2, 1, 2, 2, 2, 0]), None);
    }
}
