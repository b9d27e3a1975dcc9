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
}
