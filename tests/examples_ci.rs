//! The CI examples in `examples/ci/` run as their schedulers would run them: each one's
//! `simctl sweep` line, with the variables its scheduler sets for every shard, then its
//! `simctl merge` line over what the shards wrote; the merged sweep holds every seed once.
//! The seed list is cut to two seeds a shard to keep this fast; everything else is the
//! example's text.

use std::path::Path;
use std::process::Command;

use crate::common::scratch;

/// The example's first line that holds `needle` (comment marks taken off), continuation
/// lines joined.
fn line_with(text: &str, needle: &str) -> String {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(|l| l.trim_start().trim_start_matches(['#', ' ']))
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}"))
        .to_owned()
}

/// A command line as a shell would split it, with `vars` expanded (`$V`, `${V}`, `${V:-x}`,
/// `${{ ... }}` already replaced by the caller), quotes removed, and what follows `||` (the
/// exit-status allowance) dropped.
fn words(line: &str, vars: &[(&str, String)]) -> Vec<String> {
    let mut line = line.split(" || ").next().unwrap().to_owned();
    for (name, value) in vars {
        line = line.replace(&format!("${{{name}:-1}}"), value);
        line = line.replace(&format!("${{{name}}}"), value);
        line = line.replace(&format!("${name}"), value);
    }
    line.replace('"', "").split_whitespace().map(str::to_owned).collect()
}

/// Runs `args` (from `simctl` on) in `dir` with `env`; the exit code.
fn run(dir: &Path, args: &[String], env: &[(&str, String)]) -> i32 {
    let start = args.iter().position(|w| w.ends_with("simctl")).expect("a simctl command");
    let mut command = Command::new(env!("CARGO_BIN_EXE_simctl"));
    command.args(&args[start + 1..]).current_dir(dir);
    for (name, value) in env {
        command.env(name, value);
    }
    for name in ["SIMCTL_SHARD_INDEX", "SIMCTL_SHARD_COUNT", "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS"] {
        if !env.iter().any(|(n, _)| *n == name) {
            command.env_remove(name);
        }
    }
    let output = command.output().unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.status.code().unwrap()
}

/// Runs an example's shards (`env_for(k)` is what its scheduler sets for shard k of
/// `count`) and its merge; checks the merged sweep holds seeds 0..2*count once each.
fn sweep_and_merge(name: &str, count: usize, env_for: &dyn Fn(usize) -> Vec<(&'static str, String)>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("examples/ci").join(name)).unwrap();
    let dir = scratch(&format!("examples-ci-{name}"));
    std::fs::create_dir_all(dir.join("results")).unwrap();
    std::os::unix::fs::symlink(root.join("scenarios"), dir.join("scenarios")).unwrap();
    let sweep = line_with(&text, "simctl sweep scenarios/");
    let seeds = format!("0..{}", 2 * count);
    for k in 0..count {
        let env = env_for(k);
        let mut args = words(&sweep, &env);
        let at = args.iter().position(|w| w == "--seeds").expect("--seeds") + 1;
        args[at] = seeds.clone();
        args.iter_mut().for_each(|w| *w = w.replace("/results/", "results/"));
        assert!(args.windows(2).any(|w| w == ["--shard", "auto"]), "{name}: --shard auto");
        run(&dir, &args, &env);
    }
    let merge = line_with(&text, "simctl merge ").replace("/results/", "results/");
    let mut args = words(&merge, &[]);
    let glob = args.iter().position(|w| w.contains('*')).expect("the merge names its shards by a glob");
    let (prefix, suffix) = args[glob].split_once('*').map(|(a, b)| (a.to_owned(), b.to_owned())).unwrap();
    let (folder, stem) = prefix.rsplit_once('/').map_or((".", prefix.as_str()), |(f, s)| (f, s));
    let mut files: Vec<String> = std::fs::read_dir(dir.join(folder))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(stem) && f.ends_with(&suffix))
        .map(|f| if folder == "." { f } else { format!("{folder}/{f}") })
        .collect();
    files.sort();
    assert_eq!(files.len(), count, "{name}: a results file per shard: {files:?}");
    args.splice(glob..=glob, files);
    args.push("--json".to_owned());
    let output = Command::new(env!("CARGO_BIN_EXE_simctl"))
        .args(&args[args.iter().position(|w| w.ends_with("simctl")).unwrap() + 1..])
        .current_dir(&*dir)
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{name}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["seeds"], 2 * count as u64, "{name}: every seed once: {summary}");
    assert!(dir.join("junit.xml").is_file(), "{name}: the merge writes JUnit");
}

#[test]
fn the_github_actions_matrix_sweeps_and_merges() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/github-actions.yml"))
            .unwrap();
    let matrix = line_with(&text, "shard: [");
    let count = matrix.matches(',').count() + 1;
    assert!(text.contains("SIMCTL_SHARD_INDEX: ${{ strategy.job-index }}"));
    assert!(text.contains("SIMCTL_SHARD_COUNT: ${{ strategy.job-total }}"));
    sweep_and_merge("github-actions.yml", count, &|k| {
        vec![
            ("SIMCTL_SHARD_INDEX", k.to_string()),
            ("SIMCTL_SHARD_COUNT", count.to_string()),
            ("{{ strategy.job-index }}", k.to_string()),
        ]
    });
}

#[test]
fn the_kubernetes_indexed_job_sweeps_and_merges() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/k8s-indexed-job.yaml"),
    )
    .unwrap();
    let count: usize = line_with(&text, "completions:").split(':').nth(1).unwrap().trim().parse().unwrap();
    let declared = text.split("name: JOB_COMPLETIONS").nth(1).unwrap();
    let declared: usize = line_with(declared, "value:").split('"').nth(1).unwrap().parse().unwrap();
    assert_eq!(declared, count, "JOB_COMPLETIONS matches spec.completions");
    sweep_and_merge("k8s-indexed-job.yaml", count, &|k| {
        vec![("JOB_COMPLETION_INDEX", k.to_string()), ("JOB_COMPLETIONS", count.to_string())]
    });
}

#[test]
fn the_slurm_array_sweeps_and_merges() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ci/slurm.sh")).unwrap();
    let array = line_with(&text, "--array=").split('=').nth(1).unwrap().trim().to_owned();
    let (min, max) = array.split_once('-').unwrap();
    let (min, max): (usize, usize) = (min.parse().unwrap(), max.parse().unwrap());
    let count = max - min + 1;
    sweep_and_merge("slurm.sh", count, &|k| {
        vec![
            ("SLURM_ARRAY_TASK_ID", (min + k).to_string()),
            ("SLURM_ARRAY_TASK_COUNT", count.to_string()),
            ("SLURM_ARRAY_TASK_MIN", min.to_string()),
            ("SLURM_CPUS_PER_TASK", "1".to_owned()),
        ]
    });
}
