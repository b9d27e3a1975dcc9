//! `simctl shrink`: [`sim::explore::shrink`], written to a file that says how it was made.

use std::path::{Path, PathBuf};

use sim::explore::shrink::shrink_scenario;
use sim::harness::registry::Registry;
use sim::harness::run::RunOptions;
use sim::scenario::{self, Document};

use crate::exit::{bad_input, ExitStatus};

/// `simctl shrink`: [`shrink_scenario`], written to a file that says how it was made, and
/// run once more to confirm it fails the same way.
pub fn shrink(
    registry: &Registry,
    path: &Path,
    seed: u64,
    out: Option<&Path>,
    max_runs: usize,
) -> ExitStatus {
    let program = crate::program();
    let (file, text) = match scenario::read(path) {
        Ok(read) => read,
        Err(error) => return bad_input(&error),
    };
    let shrunk = match shrink_scenario(registry, &file, &text, seed, max_runs, |line| println!("{line}")) {
        Ok(shrunk) => shrunk,
        Err(error) => return bad_input(&error),
    };
    let name = Document::parse(&file, &text).ok().and_then(|doc| doc.name().map(str::to_owned));
    let out = out.map_or_else(
        || {
            PathBuf::from("reports")
                .join(name.as_deref().unwrap_or("scenario"))
                .join(seed.to_string())
                .join("shrunk.toml")
        },
        Path::to_path_buf,
    );
    let out_label = out.display().to_string();
    let bucket = &shrunk.bucket;
    let mut header = format!(
        "# Shrunk by `{program} shrink {file} --seed {seed}`: it fails with\n#   {bucket}\n# Reproduce: {program} run {out_label} --seed {seed}\n#\n"
    );
    for line in &shrunk.account {
        header += &format!("# {line}\n");
    }
    let written = format!("{header}\n{}", shrunk.text);
    if let Some(parent) = out.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    if let Err(error) = std::fs::write(&out, &written) {
        return bad_input(&format!("{out_label}: cannot write: {error}"));
    }
    for line in &shrunk.account {
        println!("  {line}");
    }
    // The file as written must fail the same way.
    let check = scenario::read(&out).map_err(|e| e.to_string()).and_then(|(label, text)| {
        registry.run(&label, &text, seed, &RunOptions::default()).map_err(|e| e.to_string())
    });
    match check {
        Ok(report) => {
            if sim::explore::fails_as(&report, bucket) {
                println!(
                    "written {out_label}; it fails the same way: {program} run {out_label} --seed {seed}"
                );
                ExitStatus::Passed
            } else {
                let again = report.failure().map(|f| f.bucket());
                eprintln!(
                    "error: {out_label} does not fail the same way when run ({again:?}); please report this"
                );
                ExitStatus::Failed
            }
        }
        Err(error) => bad_input(&format!("{out_label}: {error}")),
    }
}
