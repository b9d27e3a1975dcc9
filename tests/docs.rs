//! The code in the README and the documents is the code that runs: every Rust block is
//! either compiled and run by `cargo test --doc` (the README's, through `simctl`'s
//! `ReadmeExamples`) or marked `rust,ignore` with its file on its first line
//! (`// examples/out-of-tree/src/lib.rs`) and found, to the character, in that file, which
//! CI compiles; a `toml` block that names its file on its first line
//! (`# examples/out-of-tree/Cargo.toml`) is found in that file, and every scenario in a
//! `toml` block validates.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every `.md` under docs/, relative to the root.
fn documents() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut out = vec![root().join("README.md")];
    walk(&root().join("docs"), &mut out);
    out
}

/// The fenced blocks of a markdown text: (info string, body, line of the fence).
fn blocks(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String, usize)> = None;
    for (n, line) in text.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), String::new(), n + 1)),
            (Some(_), Some("")) => out.push(open.take().unwrap()),
            (Some((_, body, _)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    out
}

/// Whether an excerpt whose first line is `comment` + a file name is found in that file.
fn check_excerpt(name: &str, line: usize, body: &str, comment: &str) {
    let (first, rest) = body.split_once('\n').unwrap_or((body, ""));
    let Some(file) = first.strip_prefix(comment) else {
        panic!("{name}:{line}: an excerpt must name its file on its first line ({comment}<file>)");
    };
    let source =
        std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{name}:{line}: {file}: {e}"));
    assert!(source.contains(rest), "{name}:{line}: this excerpt is no longer in {file}:\n{rest}");
}

#[test]
fn every_manifest_excerpt_is_found_in_its_file() {
    let mut excerpts = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        for (info, body, line) in blocks(&text) {
            if info == "toml" && body.starts_with("# ") && body.lines().next().unwrap().ends_with(".toml") {
                check_excerpt(&name, line, &body, "# ");
                excerpts += 1;
            }
        }
    }
    assert!(excerpts >= 1, "the template's manifest is quoted in docs/your-own-system.md");
}

#[test]
fn every_rust_block_is_compiled_or_found_in_a_compiled_file() {
    let mut excerpts = 0;
    let mut compiled = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        for (info, body, line) in blocks(&text) {
            if !info.starts_with("rust") {
                continue;
            }
            if info.contains("ignore") {
                check_excerpt(&name, line, &body, "// ");
                excerpts += 1;
            } else {
                assert_eq!(
                    name, "README.md",
                    "{name}:{line}: `cargo test --doc` reads only the README's blocks"
                );
                compiled += 1;
            }
        }
    }
    assert!(excerpts >= 6 && compiled >= 1, "{excerpts} excerpts, {compiled} compiled blocks");
}

#[test]
fn every_scenario_block_validates() {
    let registry = protocols::systems();
    let mut validated = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        for (info, body, line) in blocks(&text) {
            let system = body.lines().find_map(|l| l.strip_prefix("system = \"")?.strip_suffix('"'));
            if info != "toml" || system.is_none_or(|s| registry.get(s).is_none()) {
                continue;
            }
            registry.validate(&format!("{name}:{line}"), &body).unwrap_or_else(|e| panic!("{e}"));
            validated += 1;
        }
    }
    assert!(validated >= 1, "the README's scenario is validated");
}
