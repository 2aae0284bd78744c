//! `cargo xtask demo`: the main job on built-in defaults, with the release binaries of one
//! `cargo build --release --workspace`, printing each command as it runs: generate a key,
//! build the demo bundle from `fixtures/`, verify it, extract it. Everything is written under
//! `target/demo/`.

use std::path::Path;
use std::process::Command;

use crate::run_cmd;

pub fn run(root: &Path) -> anyhow::Result<()> {
    let bin = crate::release_build(root)?;
    let demo = root.join("target/demo");
    let _ = std::fs::remove_dir_all(&demo);
    std::fs::create_dir_all(&demo)?;
    let d = |p: &str| demo.join(p).display().to_string();
    let archive = d("dist/demo-0.1.0.tar.zst");
    let fixtures = root.join("fixtures/bundle.yaml").display().to_string();
    let steps: [(&str, Vec<String>); 5] = [
        ("bundle-builder", vec!["keygen".into(), "--output-dir".into(), d("key")]),
        (
            "bundle-builder",
            vec![
                "create".into(),
                "-f".into(),
                fixtures,
                "--key".into(),
                d("key/genesis.key"),
                "--output-dir".into(),
                d("dist"),
            ],
        ),
        ("bundle-builder", vec!["inspect".into(), archive.clone()]),
        ("genesis", vec!["verify".into(), archive.clone(), "--key".into(), d("key/genesis.pub")]),
        (
            "bundle-loader",
            vec![
                "extract".into(),
                archive,
                "--key".into(),
                d("key/genesis.pub"),
                "--output-dir".into(),
                d("extracted"),
            ],
        ),
    ];
    for (tool, args) in steps {
        println!("\n$ {tool} {}", args.join(" "));
        run_cmd(Command::new(bin.join(tool)).args(&args))?;
    }
    println!("\ndemo: done; the unpacked bundle is in {}", d("extracted"));
    Ok(())
}
