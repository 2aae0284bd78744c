//! What we write, judged against a published JSON Schema (`fixtures/schemas/`) by an
//! independent validator: Python `jsonschema` (JSON Schema 2020-12) from the test venv that
//! `cargo xtask test-deps` prepares.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::text;

/// The published schemas copied into the repository (see their README for origins).
pub fn schemas() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/schemas")
}

/// Validates `document` against the schema file `schema`: `Ok`, or every error, one a line,
/// with the path of the value at fault. The schema itself is checked first. Panics with the
/// fix when the test venv is missing: a skipped check would pass without judging anything.
pub fn validate(schema: &Path, document: &serde_json::Value) -> Result<(), String> {
    let script = "import json, sys\n\
from jsonschema import Draft202012Validator\n\
schema = json.load(open(sys.argv[1]))\n\
Draft202012Validator.check_schema(schema)\n\
errors = sorted(Draft202012Validator(schema).iter_errors(json.load(sys.stdin)), key=lambda e: list(map(str, e.absolute_path)))\n\
for e in errors: print('/'.join(map(str, e.absolute_path)) or '(root)', '-', e.message)\n\
sys.exit(1 if errors else 0)\n";
    venv_python(script, Some(schema), document.to_string().as_bytes())
}

/// Validates a CycloneDX 1.5 JSON `document` as CycloneDX's own library judges it
/// (`cyclonedx-python-lib`'s strict JSON-schema validation, from the same test venv): `Ok`,
/// or its errors. Panics with the fix when the test venv is missing.
pub fn validate_cyclonedx_1_5(document: &[u8]) -> Result<(), String> {
    let script = "import sys\n\
from cyclonedx.validation.json import JsonStrictValidator\n\
from cyclonedx.schema import SchemaVersion\n\
errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(sys.stdin.read())\n\
print(errors or 'valid')\n\
sys.exit(1 if errors else 0)\n";
    venv_python(script, None, document)
}

/// Runs `script` with the test venv's Python (`arg` after it, `input` on its stdin): `Ok` when
/// it exits 0, else what it printed.
fn venv_python(script: &str, arg: Option<&Path>, input: &[u8]) -> Result<(), String> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python3");
    assert!(
        python.exists(),
        "{} is missing (Python jsonschema and CycloneDX's library judge our output against published schemas): \
         run `cargo xtask test-deps` (cargo xtask ci does)",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    // Python reads all of its input before it writes anything, so writing first cannot block.
    child.stdin.take().expect("stdin is piped").write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() { Ok(()) } else { Err(format!("{}{}", text(&out.stdout), text(&out.stderr))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_the_zarf_schema_refuses_is_refused_with_the_path_of_the_fault() {
        let schema = schemas().join("zarf.schema.json");
        let good = serde_json::json!({
            "kind": "ZarfPackageConfig",
            "metadata": { "name": "site-a" },
            "components": [{ "name": "site-a", "required": true, "images": ["docker.io/library/nginx:1.27"] }],
        });
        validate(&schema, &good).unwrap();
        let mut bad = good.clone();
        bad["metadata"]["name"] = "Site A!".into();
        let errors = validate(&schema, &bad).unwrap_err();
        assert!(errors.contains("metadata/name"), "{errors}");
    }
}
