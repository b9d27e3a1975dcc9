//! The text forms scenario values are written in: durations (`"150ms"`), signed durations
//! (`"-500ms"`), rates (`"200/s"`, `"1/10s"`), ranges (`"150ms..300ms"`, `"0.1..0.5"`) and
//! byte sizes (`"64KiB"`, `"100 MB"`, or a plain integer).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Durations written as `"150ms"`, `"2s"`, `"1.5s"`, `"10us"`, `"100ns"`, `"2m"`, `"1h"`.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Parses a duration; the error says what was expected.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let expected = || format!("expected a duration like \"150ms\" or \"2s\", got {text:?}");
        let trimmed = text.trim();
        let split = trimmed.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(expected)?;
        let (number, unit) = trimmed.split_at(split);
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

    /// Writes a duration in the largest unit that keeps it exact.
    pub fn format(duration: Duration) -> String {
        let nanos = duration.as_nanos();
        let units = [
            ("h", 3_600_000_000_000u128),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
        ];
        for (unit, size) in units {
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

    /// For optional fields: `#[serde(default, with = "sim::scenario::duration::option")]`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        /// Deserializes `Some(duration)` from a duration string.
        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
            let text = String::deserialize(deserializer)?;
            super::parse(&text).map(Some).map_err(serde::de::Error::custom)
        }

        /// Serializes `Some(duration)` as its string.
        pub fn serialize<S: Serializer>(
            duration: &Option<Duration>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match duration {
                Some(duration) => super::serialize(duration, serializer),
                None => serializer.serialize_none(),
            }
        }
    }
}

/// A number of bytes, written as an integer or with a unit (`"64KiB"`, `"3MB"`, `"1 GiB"`;
/// KB is 1000 bytes, KiB 1024).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bytes(pub u64);

impl Bytes {
    /// Parses a byte size; the error says what was expected.
    pub fn parse(text: &str) -> Result<Bytes, String> {
        text.trim()
            .parse::<bytesize::ByteSize>()
            .map(|size| Bytes(size.as_u64()))
            .map_err(|_| format!("expected a size like \"64KiB\" or \"3MB\", got {text:?}"))
    }
}

impl fmt::Display for Bytes {
    /// The largest binary unit that keeps it exact (`"20MiB"`), else bytes (`"1500"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Bytes, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(u64),
            Text(String),
        }
        match Written::deserialize(deserializer) {
            Ok(Written::Number(n)) => Ok(Bytes(n)),
            Ok(Written::Text(text)) => Bytes::parse(&text).map_err(serde::de::Error::custom),
            Err(_) => {
                Err(serde::de::Error::custom("expected a size: a number of bytes or a string like \"64KiB\""))
            }
        }
    }
}

impl Serialize for Bytes {
    /// As written: `"20MiB"` where a binary unit is exact, else a number.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 >= 1024 && self.0 % 1024 == 0 {
            serializer.serialize_str(&self.to_string())
        } else {
            serializer.serialize_u64(self.0)
        }
    }
}

/// A signed duration in nanoseconds, written `"-500ms"` or `"+2s"` (or `"2s"`).
pub fn parse_signed(text: &str) -> Result<i64, String> {
    let trimmed = text.trim();
    let (sign, rest) = match trimmed.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, trimmed.strip_prefix('+').unwrap_or(trimmed)),
    };
    let magnitude = duration::parse(rest)
        .map_err(|_| format!("expected a signed duration like \"-500ms\" or \"+2s\", got {text:?}"))?;
    let nanos = i64::try_from(magnitude.as_nanos()).map_err(|_| format!("{text:?} is too long"))?;
    Ok(sign * nanos)
}

/// Writes a signed duration so that `parse_signed` reads it back exactly.
pub fn format_signed(nanos: i64) -> String {
    let magnitude = duration::format(Duration::from_nanos(nanos.unsigned_abs()));
    if nanos < 0 {
        format!("-{magnitude}")
    } else {
        magnitude
    }
}

/// Events per second, written `"200/s"`, `"5/m"`, `"1/10s"`.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
pub struct Rate {
    /// Mean events per second (> 0).
    pub per_second: f64,
}

impl Rate {
    /// Parses a rate.
    pub fn parse(text: &str) -> Result<Rate, String> {
        let expected = || format!("expected a rate like \"200/s\" or \"1/10s\", got {text:?}");
        let (count, per) = text.trim().split_once('/').ok_or_else(expected)?;
        let count: f64 = count.trim().parse().map_err(|_| expected())?;
        let per = per.trim();
        let period = if per.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            duration::parse(per).map_err(|_| expected())?
        } else {
            duration::parse(&format!("1{per}")).map_err(|_| expected())?
        };
        if !(count.is_finite() && count > 0.0) || period.is_zero() {
            return Err(format!("a rate must be positive, got {text:?}"));
        }
        Ok(Rate { per_second: count / period.as_secs_f64() })
    }

    /// The mean time between events.
    pub fn mean_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.per_second)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Rate, D::Error> {
        Rate::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_second)
    }
}

/// An inclusive range `low..high` (or one value, meaning `low == high`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range<T> {
    /// The smallest value.
    pub low: T,
    /// The largest value.
    pub high: T,
}

impl<T: PartialOrd + Copy + fmt::Debug> Range<T> {
    /// Parses `"a..b"` or `"a"` with `parse` for each end; `a <= b` is required.
    pub fn parse(text: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Range<T>, String> {
        let (low, high) = match text.split_once("..") {
            Some((low, high)) => (parse(low)?, parse(high)?),
            None => {
                let value = parse(text)?;
                (value, value)
            }
        };
        if low > high {
            return Err(format!("range {text:?} is empty: {low:?} > {high:?}"));
        }
        Ok(Range { low, high })
    }
}

/// A range of whole numbers, `"-200..200"` (a drift in ppm), or one number.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntRange(pub Range<i64>);

impl<'de> Deserialize<'de> for IntRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<IntRange, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parse =
            |t: &str| t.trim().parse::<i64>().map_err(|_| format!("expected a whole number, got {t:?}"));
        Range::parse(&text, parse).map(IntRange).map_err(serde::de::Error::custom)
    }
}

/// A range of rates, `"1/10s..1/2s"`, or one rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateRange(pub Range<Rate>);

impl RateRange {
    /// Whether it is one rate (nothing to draw).
    pub fn is_fixed(&self) -> bool {
        self.0.low == self.0.high
    }
}

impl<'de> Deserialize<'de> for RateRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RateRange, D::Error> {
        let text = String::deserialize(deserializer)?;
        Range::parse(&text, Rate::parse).map(RateRange).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RateRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.is_fixed() {
            true => write!(f, "{}", self.0.low),
            false => write!(f, "{}..{}", self.0.low, self.0.high),
        }
    }
}

/// A range of durations, `"150ms..300ms"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DurationRange(pub Range<Duration>);

impl<'de> Deserialize<'de> for DurationRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DurationRange, D::Error> {
        let text = String::deserialize(deserializer)?;
        Range::parse(&text, duration::parse).map(DurationRange).map_err(serde::de::Error::custom)
    }
}

impl Serialize for DurationRange {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Range { low, high } = self.0;
        serializer.serialize_str(&format!("{}..{}", duration::format(low), duration::format(high)))
    }
}

/// A range of signed durations in nanoseconds, `"-1s..1s"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SignedRange(pub Range<i64>);

impl<'de> Deserialize<'de> for SignedRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<SignedRange, D::Error> {
        let text = String::deserialize(deserializer)?;
        Range::parse(&text, parse_signed).map(SignedRange).map_err(serde::de::Error::custom)
    }
}

/// A range of probabilities, `"0.1..0.5"`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbabilityRange(pub Range<f64>);

impl<'de> Deserialize<'de> for ProbabilityRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ProbabilityRange, D::Error> {
        let text = String::deserialize(deserializer)?;
        let parse = |t: &str| match t.trim().parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
            _ => Err(format!("expected a probability between 0 and 1, got {t:?}")),
        };
        Range::parse(&text, parse).map(ProbabilityRange).map_err(serde::de::Error::custom)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_print_back_exactly() {
        assert_eq!(Bytes::parse("64KiB"), Ok(Bytes(65_536)));
        assert_eq!(Bytes::parse("3MB"), Ok(Bytes(3_000_000)));
        assert_eq!(Bytes::parse(" 1 GiB "), Ok(Bytes(1 << 30)));
        assert!(Bytes::parse("lots").unwrap_err().contains("expected a size"));
        assert_eq!(Bytes(20 << 20).to_string(), "20MiB");
        assert_eq!(Bytes(3_000_000).to_string(), "3000000");
        for text in ["64KiB", "20MiB", "5GiB", "1500"] {
            assert_eq!(Bytes::parse(text).unwrap().to_string(), text, "round trip");
        }
    }

    #[test]
    fn durations_round_trip() {
        use duration::{format, parse};
        let cases = [
            ("150ms", 150_000_000u64),
            ("2s", 2_000_000_000),
            ("1.5s", 1_500_000_000),
            ("10us", 10_000),
            ("7ns", 7),
            ("2m", 120_000_000_000),
            (".5ms", 500_000),
        ];
        for (text, nanos) in cases {
            assert_eq!(parse(text), Ok(Duration::from_nanos(nanos)), "{text}");
            assert_eq!(parse(&format(Duration::from_nanos(nanos))), Ok(Duration::from_nanos(nanos)));
        }
        for bad in ["", "5", "ms", "1.5.2s", "-1s", "1 parsec", "0.5ns"] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(format(Duration::from_millis(1_500)), "1500ms");
        assert_eq!(format(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn signed_rates_and_ranges() {
        assert_eq!(parse_signed("-500ms"), Ok(-500_000_000));
        assert_eq!(parse_signed("+2s"), Ok(2_000_000_000));
        assert_eq!(parse_signed(&format_signed(-1_500)), Ok(-1_500));
        assert!(parse_signed("--1s").is_err());
        assert_eq!(Rate::parse("200/s").unwrap().per_second, 200.0);
        assert_eq!(Rate::parse("1/10s").unwrap().per_second, 0.1);
        assert_eq!(Rate::parse("30/m").unwrap().per_second, 0.5);
        for bad in ["200", "0/s", "-1/s", "1/0s", "x/s", "1/parsec"] {
            assert!(Rate::parse(bad).is_err(), "{bad:?}");
        }
        let range = Range::parse("150ms..300ms", duration::parse).unwrap();
        assert_eq!((range.low, range.high), (Duration::from_millis(150), Duration::from_millis(300)));
        assert!(Range::parse("3s..1s", duration::parse).is_err());
        assert_eq!(Range::parse("-1s..1s", parse_signed).unwrap().low, -1_000_000_000);
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("ab\ncdé\nf", 8), (3, 1));
        assert_eq!(line_column("ab\ncdé\nf", 5), (2, 3));
    }
}
