//! Scenario files: the part of the schema the kernel owns.
//!
//! A scenario is TOML. The kernel reads the cluster, the duration and the network model;
//! the system named by `system` reads its own `[settings]` table into its own typed config.
//! Both are parsed with `deny_unknown_fields`, and every error names the file, line and
//! column and says what was expected.
//!
//! ```toml
//! name = "bench-5"
//! system = "pingpong"
//! nodes = 5
//! duration = "60s"
//!
//! [settings]              # the system's own settings
//! window = 1
//!
//! [network]
//! latency = { dist = "uniform", min = "1ms", max = "10ms" }
//! loss = 0.0
//! ```
//!
//! Latency distributions: `constant` (`value`), `uniform` (`min`, `max`), `normal` (`mean`,
//! `std_dev`), `exponential` (`mean`), `pareto` (`scale`, `shape`), and `mixture` (`parts`:
//! a list of distributions, each with a `weight`).
//!
//! Why `[settings]` and not `[system]`: TOML forbids a key that is both a string
//! (`system = "raft-kv"`) and a table (`[system]`); see docs/design-notes.md.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::dist::{Distribution, InvalidDistribution};
use crate::network::LinkModel;
use crate::rng::Probability;

/// A scenario file, with the system's settings parsed as `S`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: DeserializeOwned")]
pub struct Scenario<S> {
    /// A short name; reports are written under it.
    pub name: String,
    /// The system to run (`simctl list` shows them).
    pub system: String,
    /// Number of server nodes.
    pub nodes: u32,
    /// Simulated time to run.
    #[serde(with = "duration")]
    pub duration: Duration,
    /// The system's own settings. Default: the system's defaults.
    #[serde(default = "empty_table")]
    pub settings: S,
    /// The network model. Default: lossless, constant 1 ms.
    #[serde(default)]
    pub network: NetworkSpec,
}

fn empty_table<S: DeserializeOwned>() -> S {
    S::deserialize(toml::Value::Table(toml::Table::new())).expect("settings have defaults for every field")
}

/// A scenario whose settings are not read yet: enough to know which system to ask.
pub type UntypedScenario = Scenario<toml::Table>;

/// Where and why a scenario file is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file.
    pub file: String,
    /// 1-based line, if the error has a place.
    pub line: Option<usize>,
    /// 1-based column, if the error has a place.
    pub column: Option<usize>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "{}:{line}:{column}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl ScenarioError {
    /// An error about the whole file (unreadable, or a rule across fields).
    pub fn file(file: &str, message: impl Into<String>) -> ScenarioError {
        ScenarioError { file: file.to_owned(), line: None, column: None, message: message.into() }
    }

    /// An error at byte `offset` of the file's `text`.
    pub fn at(file: &str, text: &str, offset: usize, message: impl Into<String>) -> ScenarioError {
        let (line, column) = line_column(text, offset);
        ScenarioError {
            file: file.to_owned(),
            line: Some(line),
            column: Some(column),
            message: message.into(),
        }
    }

    fn from_toml(file: &str, text: &str, error: &toml::de::Error) -> ScenarioError {
        let message = error.message().trim_end();
        match error.span() {
            Some(span) => ScenarioError::at(file, text, span.start, message),
            None => ScenarioError::file(file, message),
        }
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl<S: DeserializeOwned> Scenario<S> {
    /// Parses and validates scenario text; `file` is only used in errors.
    pub fn parse(file: &str, text: &str) -> Result<Scenario<S>, ScenarioError> {
        let scenario: Scenario<S> =
            toml::from_str(text).map_err(|e| ScenarioError::from_toml(file, text, &e))?;
        scenario.validate().map_err(|message| ScenarioError::file(file, message))?;
        Ok(scenario)
    }

    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario<S>, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ScenarioError::file(&file, format!("cannot read: {e}")))?;
        Scenario::parse(&file, &text)
    }

    /// The rules across fields.
    pub fn validate(&self) -> Result<(), String> {
        if self.nodes == 0 {
            return Err("nodes must be at least 1".into());
        }
        if self.duration.is_zero() {
            return Err("duration must be greater than zero".into());
        }
        Ok(())
    }
}

/// The `[network]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// One-way delay. Default: constant 1 ms.
    #[serde(default = "default_latency")]
    pub latency: LatencySpec,
    /// Probability a message is lost. Default: 0.
    #[serde(default, deserialize_with = "probability")]
    pub loss: Probability,
    /// Probability a message is delivered twice. Default: 0.
    #[serde(default, deserialize_with = "probability")]
    pub duplicate: Probability,
    /// Deliver in send order on every link. Default: false.
    #[serde(default)]
    pub fifo: bool,
    /// Link bandwidth in bytes per second. Default: unlimited.
    #[serde(default)]
    pub bandwidth: Option<u64>,
}

impl Default for NetworkSpec {
    fn default() -> NetworkSpec {
        NetworkSpec {
            latency: default_latency(),
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            fifo: false,
            bandwidth: None,
        }
    }
}

fn default_latency() -> LatencySpec {
    LatencySpec(Distribution::Constant(Duration::from_millis(1)))
}

impl NetworkSpec {
    /// The kernel's link model for every link.
    pub fn link_model(&self) -> LinkModel {
        LinkModel {
            latency: self.latency.0.clone(),
            loss: self.loss,
            duplicate: self.duplicate,
            fifo: self.fifo,
            bandwidth: self.bandwidth,
        }
    }
}

fn probability<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Probability, D::Error> {
    let p = f64::deserialize(deserializer)?;
    Probability::new(p).map_err(serde::de::Error::custom)
}

/// A latency distribution as written in a scenario (validated when read).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "LatencyText")]
pub struct LatencySpec(pub Distribution);

#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum LatencyText {
    Constant {
        #[serde(with = "duration")]
        value: Duration,
    },
    Uniform {
        #[serde(with = "duration")]
        min: Duration,
        #[serde(with = "duration")]
        max: Duration,
    },
    Normal {
        #[serde(with = "duration")]
        mean: Duration,
        #[serde(with = "duration")]
        std_dev: Duration,
    },
    Exponential {
        #[serde(with = "duration")]
        mean: Duration,
    },
    Pareto {
        #[serde(with = "duration")]
        scale: Duration,
        shape: f64,
    },
    Mixture {
        parts: Vec<WeightedText>,
    },
}

#[derive(Deserialize)]
struct WeightedText {
    weight: f64,
    #[serde(flatten)]
    latency: LatencyText,
}

impl TryFrom<LatencyText> for LatencySpec {
    type Error = InvalidDistribution;
    fn try_from(text: LatencyText) -> Result<LatencySpec, InvalidDistribution> {
        let distribution = match text {
            LatencyText::Constant { value } => Distribution::Constant(value),
            LatencyText::Uniform { min, max } => Distribution::Uniform { min, max },
            LatencyText::Normal { mean, std_dev } => Distribution::Normal { mean, std_dev },
            LatencyText::Exponential { mean } => Distribution::Exponential { mean },
            LatencyText::Pareto { scale, shape } => Distribution::Pareto { scale, shape },
            LatencyText::Mixture { parts } => {
                let parts = parts
                    .into_iter()
                    .map(|part| Ok((part.weight, LatencySpec::try_from(part.latency)?.0)))
                    .collect::<Result<Vec<_>, InvalidDistribution>>()?;
                return Distribution::mixture(parts).map(LatencySpec);
            }
        };
        distribution.validate()?;
        Ok(LatencySpec(distribution))
    }
}

/// Durations written as `"150ms"`, `"2s"`, `"1.5s"`, `"10us"`, `"100ns"`, `"2m"`, `"1h"`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Parses a duration; the error says what was expected.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let expected = || format!("expected a duration like \"150ms\" or \"2s\", got {text:?}");
        let text = text.trim();
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(expected)?;
        let (number, unit) = text.split_at(split);
        let nanos_per_unit: u64 = match unit.trim() {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(expected()),
        };
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() {
            return Err(expected());
        }
        let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| expected())? };
        let mut nanos = whole.checked_mul(nanos_per_unit).ok_or_else(expected)?;
        // Exact decimal fraction: digits beyond nanosecond resolution must be zero.
        let mut scale = nanos_per_unit;
        for digit in fraction.chars() {
            let digit = u64::from(digit.to_digit(10).ok_or_else(expected)?);
            if scale % 10 != 0 {
                if digit != 0 {
                    return Err(format!("{text:?} is finer than a nanosecond"));
                }
                continue;
            }
            scale /= 10;
            nanos = nanos.checked_add(digit * scale).ok_or_else(expected)?;
        }
        Ok(Duration::from_nanos(nanos))
    }

    /// Writes a duration in the shortest exact unit.
    pub fn format(duration: Duration) -> String {
        let nanos = duration.as_nanos();
        for (unit, size) in [
            ("h", 3_600_000_000_000u128),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ] {
            if nanos >= size && nanos % size == 0 {
                return format!("{}{unit}", nanos / size);
            }
        }
        format!("{nanos}ns")
    }

    /// For `#[serde(with = "sim::scenario::duration")]`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse(&text).map_err(serde::de::Error::custom)
    }

    /// For `#[serde(with = "sim::scenario::duration")]`.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format(*duration))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Settings {
        #[serde(default)]
        window: u32,
    }

    const GOOD: &str = r#"
name = "t"
system = "pingpong"
nodes = 3
duration = "1.5s"

[settings]
window = 4

[network]
latency = { dist = "uniform", min = "1ms", max = "10ms" }
loss = 0.25
"#;

    #[test]
    fn parses_a_scenario() {
        let scenario = Scenario::<Settings>::parse("t.toml", GOOD).unwrap();
        assert_eq!(scenario.duration, Duration::from_millis(1_500));
        assert_eq!(scenario.settings, Settings { window: 4 });
        let model = scenario.network.link_model();
        assert_eq!(model.loss, Probability::new(0.25).unwrap());
        assert_eq!(
            model.latency,
            Distribution::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(10) }
        );
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let error = |text: &str| Scenario::<Settings>::parse("bad.toml", text).unwrap_err().to_string();
        let unknown = GOOD.replace("window = 4", "windw = 4");
        assert_eq!(error(&unknown), "bad.toml:8:1: unknown field `windw`, expected `window`");
        let bad_duration = GOOD.replace("\"1.5s\"", "\"soon\"");
        assert_eq!(
            error(&bad_duration),
            "bad.toml:5:12: expected a duration like \"150ms\" or \"2s\", got \"soon\""
        );
        let bad_range = GOOD.replace("min = \"1ms\", max = \"10ms\"", "min = \"10ms\", max = \"1ms\"");
        assert!(
            error(&bad_range).starts_with("bad.toml:11:11: uniform distribution has min"),
            "{}",
            error(&bad_range)
        );
        let bad_loss = GOOD.replace("0.25", "1.25");
        assert_eq!(error(&bad_loss), "bad.toml:12:8: probability 1.25 is not between 0 and 1");
        let no_nodes = GOOD.replace("nodes = 3", "nodes = 0");
        assert_eq!(error(&no_nodes), "bad.toml: nodes must be at least 1");
        let missing = GOOD.replace("nodes = 3\n", "");
        assert!(error(&missing).contains("missing field `nodes`"), "{}", error(&missing));
        let duplicate = format!("{GOOD}\n[system]\nx = 1\n");
        assert!(error(&duplicate).contains("duplicate key"), "{}", error(&duplicate));
    }

    #[test]
    fn mixtures_and_defaults() {
        let text = r#"
name = "m"
system = "pingpong"
nodes = 1
duration = "1s"
[network.latency]
dist = "mixture"
parts = [
  { weight = 0.9, dist = "pareto", scale = "2ms", shape = 1.5 },
  { weight = 0.1, dist = "exponential", mean = "50ms" },
]
"#;
        let scenario = Scenario::<Settings>::parse("m.toml", text).unwrap();
        assert!(matches!(scenario.network.latency.0, Distribution::Mixture(_)));
        assert_eq!(scenario.settings, Settings { window: 0 });
    }

    #[test]
    fn durations_round_trip() {
        use duration::{format, parse};
        for (text, nanos) in [
            ("150ms", 150_000_000u64),
            ("2s", 2_000_000_000),
            ("1.5s", 1_500_000_000),
            ("10us", 10_000),
            ("7ns", 7),
            ("2m", 120_000_000_000),
            (".5ms", 500_000),
        ] {
            assert_eq!(parse(text), Ok(Duration::from_nanos(nanos)), "{text}");
        }
        for bad in ["", "5", "ms", "1.5.2s", "-1s", "1 parsec", "0.5ns"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(format(Duration::from_millis(1_500)), "1500ms");
        assert_eq!(format(Duration::from_secs(120)), "2m");
    }
}
