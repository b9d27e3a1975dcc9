//! Which seeds a sweep runs: `--seeds A..B`, `--seeds N` (0..N) or a file of seeds, and
//! `--shard K/N`, which keeps every N-th seed of that list starting at the K-th. Striding
//! rather than cutting the range into blocks keeps the shards equally loaded when cost
//! drifts with the seed (it does not, by design, but slow seeds cluster by chance) and makes
//! the split a pure function of the list, so a CI matrix can run shards anywhere.

use std::path::Path;

/// The seeds to run, in order.
pub fn parse(spec: &str) -> Result<Vec<u64>, String> {
    if let Some((start, end)) = spec.split_once("..") {
        let start = number(start, spec)?;
        let end = number(end, spec)?;
        if end <= start {
            return Err(format!("--seeds {spec}: the range is empty (write A..B with A < B; B is excluded)"));
        }
        return Ok((start..end).collect());
    }
    if let Ok(count) = spec.parse::<u64>() {
        if count == 0 {
            return Err("--seeds 0: no seeds to run".into());
        }
        return Ok((0..count).collect());
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(format!("--seeds {spec}: not a range (A..B), a count (N) or a file of seeds"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("--seeds {spec}: cannot read: {e}"))?;
    let mut seeds = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let seed = line.parse::<u64>().map_err(|_| {
            format!("{spec}:{}: {line:?} is not a seed (one unsigned integer per line)", number + 1)
        })?;
        seeds.push(seed);
    }
    if seeds.is_empty() {
        return Err(format!("{spec}: no seeds in the file"));
    }
    Ok(seeds)
}

fn number(text: &str, spec: &str) -> Result<u64, String> {
    text.trim().parse().map_err(|_| format!("--seeds {spec}: {text:?} is not an unsigned integer"))
}

/// A shard: the `index`-th (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 1..=count.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl Shard {
    /// All seeds, one shard.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `K/N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let error = || format!("--shard {text}: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (index, count) = text.split_once('/').ok_or_else(error)?;
        let index: u64 = index.trim().parse().map_err(|_| error())?;
        let count: u64 = count.trim().parse().map_err(|_| error())?;
        if index == 0 || count == 0 || index > count {
            return Err(error());
        }
        Ok(Shard { index, count })
    }

    /// The shard a scheduler gave this process, from its environment (`get` reads a
    /// variable): simctl's own `SIMCTL_SHARD_INDEX` and `SIMCTL_SHARD_COUNT` (0-based index;
    /// a GitHub Actions matrix sets them from `strategy.job-index` and `strategy.job-total`),
    /// a Kubernetes Indexed Job's `JOB_COMPLETION_INDEX` with `JOB_COMPLETIONS` (the Job's
    /// `completions`, which Kubernetes does not export: the Job sets it), or a Slurm array's
    /// `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT` (ids counted from
    /// `SLURM_ARRAY_TASK_MIN`, 0 if unset).
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let schedulers: [(&str, &str, &str, Option<&str>); 3] = [
            ("simctl", "SIMCTL_SHARD_INDEX", "SIMCTL_SHARD_COUNT", None),
            ("a Kubernetes Indexed Job", "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS", None),
            ("a Slurm array", "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", Some("SLURM_ARRAY_TASK_MIN")),
        ];
        for (scheduler, index_var, count_var, min_var) in schedulers {
            let Some(index) = get(index_var) else { continue };
            let read = |var: &str, text: &str| {
                text.trim().parse::<u64>().map_err(|_| {
                    format!("--shard auto: {var}={text:?} (from {scheduler}) is not an unsigned integer")
                })
            };
            let count = get(count_var).ok_or_else(|| {
                format!("--shard auto: {index_var} is set (from {scheduler}) but {count_var} is not")
            })?;
            let (index, count) = (read(index_var, &index)?, read(count_var, &count)?);
            let min = match min_var.and_then(|var| get(var).map(|v| (var, v))) {
                Some((var, text)) => read(var, &text)?,
                None => 0,
            };
            let position = index.checked_sub(min).filter(|p| *p < count).ok_or_else(|| {
                format!("--shard auto: {index_var}={index} is outside the {count} shards of {scheduler}")
            })?;
            return Ok(Shard { index: position + 1, count });
        }
        Err("--shard auto: no scheduler's shard variables are set (SIMCTL_SHARD_INDEX and \
             SIMCTL_SHARD_COUNT, JOB_COMPLETION_INDEX and JOB_COMPLETIONS, or SLURM_ARRAY_TASK_ID \
             and SLURM_ARRAY_TASK_COUNT)"
            .to_owned())
    }

    /// The seeds of `seeds` this shard runs.
    pub fn select(self, seeds: &[u64]) -> Vec<u64> {
        seeds.iter().skip((self.index - 1) as usize).step_by(self.count as usize).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_counts_and_errors() {
        assert_eq!(parse("3..6").unwrap(), vec![3, 4, 5]);
        assert_eq!(parse("4").unwrap(), vec![0, 1, 2, 3]);
        assert!(parse("6..3").unwrap_err().contains("empty"));
        assert!(parse("a..3").unwrap_err().contains("not an unsigned integer"));
        assert!(parse("no-such-file").unwrap_err().contains("not a range"));
    }

    #[test]
    fn seed_files_name_the_bad_line() {
        let dir = std::env::temp_dir().join(format!("simctl-seeds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("seeds.txt");
        std::fs::write(&file, "# failing seeds\n7\n\n42  # the flagship\nx\n").unwrap();
        let error = parse(file.to_str().unwrap()).unwrap_err();
        assert!(error.ends_with(":5: \"x\" is not a seed (one unsigned integer per line)"), "{error}");
        std::fs::write(&file, "7\n42\n").unwrap();
        assert_eq!(parse(file.to_str().unwrap()).unwrap(), vec![7, 42]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shards_partition_the_seeds() {
        let seeds: Vec<u64> = (10..27).collect();
        let mut union: Vec<u64> =
            (1..=3).flat_map(|index| Shard { index, count: 3 }.select(&seeds)).collect();
        union.sort_unstable();
        assert_eq!(union, seeds);
        assert_eq!(Shard { index: 2, count: 3 }.select(&seeds), vec![11, 14, 17, 20, 23, 26]);
        assert!(Shard::parse("0/3").is_err());
        assert!(Shard::parse("4/3").is_err());
        assert_eq!(Shard::parse("3/3").unwrap(), Shard { index: 3, count: 3 });
    }

    fn env(vars: &[(&str, &str)]) -> Result<Shard, String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Shard::from_env(&|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn auto_reads_each_schedulers_variables() {
        let shard = |index, count| Ok(Shard { index, count });
        assert_eq!(env(&[("SIMCTL_SHARD_INDEX", "0"), ("SIMCTL_SHARD_COUNT", "4")]), shard(1, 4));
        assert_eq!(env(&[("JOB_COMPLETION_INDEX", "3"), ("JOB_COMPLETIONS", "4")]), shard(4, 4));
        assert_eq!(env(&[("SLURM_ARRAY_TASK_ID", "2"), ("SLURM_ARRAY_TASK_COUNT", "8")]), shard(3, 8));
        let slurm_from_one =
            [("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_COUNT", "8"), ("SLURM_ARRAY_TASK_MIN", "1")];
        assert_eq!(env(&slurm_from_one), shard(8, 8));
        let error = env(&[("JOB_COMPLETION_INDEX", "1")]).unwrap_err();
        assert!(error.contains("JOB_COMPLETIONS is not"), "{error}");
        let error = env(&[("SIMCTL_SHARD_INDEX", "4"), ("SIMCTL_SHARD_COUNT", "4")]).unwrap_err();
        assert!(error.contains("outside the 4 shards"), "{error}");
        let error = env(&[("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "2")]).unwrap_err();
        assert!(error.contains("SLURM_ARRAY_TASK_ID=\"x\""), "{error}");
        assert!(env(&[]).unwrap_err().contains("no scheduler's shard variables are set"));
    }
}
