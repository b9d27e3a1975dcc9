//! `sim`'s folders are layers: each uses only the ones before it in [`LAYERS`], so there
//! is no import cycle (docs/DESIGN.md, "Layout"). A use of a later layer in code (not in a
//! comment) fails here with its file and line.

use std::path::Path;

/// In order: a layer may use only those before it.
const LAYERS: [&str; 8] = ["kernel", "check", "scenario", "judge", "report", "backend", "harness", "explore"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn each_layer_uses_only_the_layers_before_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut uses = 0;
    for (rank, layer) in LAYERS.iter().enumerate() {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "no layer {layer}");
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for (other_rank, other) in LAYERS.iter().enumerate().filter(|(r, _)| *r != rank) {
                    if line.contains(&format!("crate::{other}::"))
                        || line.contains(&format!("crate::{other};"))
                        || line.contains(&format!("crate::{other}::{{"))
                    {
                        uses += 1;
                        assert!(
                            other_rank < rank,
                            "{}:{}: {layer} uses {other}, a later layer: {}",
                            file.display(),
                            n + 1,
                            line.trim()
                        );
                    }
                }
            }
        }
    }
    assert!(uses > 50, "the scan found the layers' uses of each other ({uses})");
}
