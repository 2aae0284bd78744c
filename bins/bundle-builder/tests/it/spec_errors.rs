//! A bad spec or bad input is refused with an error naming the field, line or file, and the
//! output directory is left without partial files.

use std::path::Path;

use crate::{builder, copy_inputs, fixtures, text};

fn create(dir: &Path) -> (i32, String) {
    let key = fixtures().join("keys/test.key");
    let out =
        builder(&["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--output-dir", "out"], dir, &[]);
    (out.status.code().unwrap(), text(&out.stderr))
}

fn check(edit: impl Fn(&Path), expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    edit(dir.path());
    let (code, stderr) = create(dir.path());
    assert_eq!(code, 2, "{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in {stderr}");
    }
    let left = crate::listing_or_empty(&dir.path().join("out"));
    assert!(left.is_empty(), "partial output left: {left:?}");
}

fn edit_spec(dir: &Path, from: &str, to: &str) {
    let p = dir.join("bundle.yaml");
    let s = std::fs::read_to_string(&p).unwrap();
    assert!(s.contains(from), "{from}");
    std::fs::write(p, s.replace(from, to)).unwrap();
}

#[test]
fn unknown_field_names_the_field_and_line() {
    check(
        |d| edit_spec(d, "      ref:", "      pull: always\n      ref:"),
        &["unknown field `pull`", "spec.images[0]", "line 10", "bundle.yaml"],
    );
}

#[test]
fn bad_value_names_the_value_and_line() {
    check(|d| edit_spec(d, "compression: zstd", "compression: lz4"), &["spec.output.compression", "lz4", "line 13"]);
    check(|d| edit_spec(d, "sign: true", "sign: false"), &["sign: false is not supported"]);
}

#[test]
fn missing_input_names_the_path() {
    check(|d| std::fs::remove_file(d.join("charts/web-0.1.0.tgz")).unwrap(), &["charts/web-0.1.0.tgz"]);
    check(|d| edit_spec(d, "images/app:1.0", "images/app:2.0"), &["no image named \"2.0\"", "[\"1.0\"]"]);
}

#[test]
fn chart_name_must_match_chart_yaml() {
    check(|d| edit_spec(d, "name: web,", "name: api,"), &["calls this chart \"api\"", "\"web\""]);
}

#[test]
fn malformed_manifest_yaml_names_file_and_line() {
    check(
        |d| std::fs::write(d.join("manifests/broken.yaml"), "a: b\n  c: [\n").unwrap(),
        &["manifests/broken.yaml", "invalid YAML", "line"],
    );
}

/// Replaces the fixture chart's `values.yaml` and packs the chart again as `helm package`
/// does (a gzip tar with one top folder).
fn repack_chart_values(dir: &Path, values: &[u8]) {
    let chart = dir.join("charts/web-0.1.0.tgz");
    let work = tempfile::tempdir().unwrap();
    let tar = |args: &[&str]| {
        let out = std::process::Command::new("tar").args(args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    };
    let (archive, folder) = (chart.to_str().unwrap(), work.path().to_str().unwrap());
    tar(&["-xzf", archive, "-C", folder]);
    std::fs::write(work.path().join("web/values.yaml"), values).unwrap();
    tar(&["-czf", archive, "-C", folder, "web"]);
}

#[test]
fn a_chart_values_file_past_the_size_limit_fails_the_build_naming_it() {
    // Past 5 MiB of comments, an image the bundle does not carry: read in part, the sweep
    // would never see it.
    let mut values = "# padding\n".repeat(600_000);
    values.push_str("image: nginx:1.27\n");
    check(
        |d| repack_chart_values(d, values.as_bytes()),
        &["charts/web-0.1.0.tgz", "web/values.yaml", "larger than 5 MiB"],
    );
}

#[test]
fn a_chart_values_file_that_is_not_yaml_fails_the_build_naming_it() {
    // The first document is fine; the second, which names an image the bundle does not
    // carry, does not parse: skipped, it would pass the sweep unseen.
    let values = b"image: {repository: registry.example.com/demo/app, tag: '1.0'}\n---\nimage: [nginx:1.27\n";
    check(|d| repack_chart_values(d, values), &["charts/web-0.1.0.tgz", "values.yaml: invalid YAML", "line "]);
}

/// Flips the last byte of the first blob in the fixture layout that `pick` selects.
fn corrupt_blob(dir: &Path, pick: fn(&[u8]) -> bool) {
    let blobs = dir.join("images/app/blobs/sha256");
    let mut paths: Vec<_> = std::fs::read_dir(&blobs).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let victim = paths.iter().find(|p| pick(&std::fs::read(p).unwrap())).expect("a matching blob");
    let mut bytes = std::fs::read(victim).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(victim, bytes).unwrap();
}

#[test]
fn corrupt_layer_is_caught_while_packing_without_output() {
    // Layers are hashed while they stream into the archive, not beforehand.
    check(
        |d| corrupt_blob(d, |b| b.starts_with(&[0x1f, 0x8b])),
        &["changed while packing or does not match its digest"],
    );
}

#[test]
fn corrupt_manifest_is_caught_before_packing() {
    check(|d| corrupt_blob(d, |b| b.starts_with(b"{\"manifests\"")), &["content is sha256:", ", not sha256:"]);
}

#[test]
fn an_image_the_bundle_does_not_carry_fails_the_build() {
    let extra = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: c, image: nginx:latest}\n  initContainers:\n    - {name: i, image: registry.example.com/demo/app:1.0}\n";
    check(
        |d| std::fs::write(d.join("manifests/pod.yaml"), extra).unwrap(),
        &[
            "1 image reference(s) are not in the bundle",
            "nginx:latest (manifests/pod.yaml#0.spec.containers[0].image)",
            "spec.allowUnbundledImages",
        ],
    );
    // Chart default values are swept too.
    check(
        |d| {
            edit_spec(
                d,
                "ref: registry.example.com/demo/app:1.0",
                "ref: registry.example.com/demo/app:2.0\n  allowUnbundledImages: []",
            )
        },
        &[
            "registry.example.com/demo/app:1.0 (charts/web-0.1.0.tgz values.yaml#0.image)",
            "manifests/deployment.yaml#0.spec.template.spec.containers[0].image",
        ],
    );
}

#[test]
fn the_allow_list_exempts_an_image() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    std::fs::write(
        dir.path().join("manifests/pod.yaml"),
        "kind: Pod\nspec:\n  containers:\n    - {name: c, image: nginx:1.27}\n",
    )
    .unwrap();
    edit_spec(dir.path(), "  output:", "  allowUnbundledImages: [docker.io/library/nginx]\n  output:");
    let (code, stderr) = create(dir.path());
    assert_eq!(code, 0, "{stderr}");
}
