//! JUnit XML for CI systems: one `<testsuite>` per scenario, one `<testcase>` per seed, a
//! `<failure>` with the reason and the reproduce command for every failed seed. The shape is
//! the common JUnit schema CI tools read (Jenkins' junit-10.xsd: `testsuites` of
//! `testsuite name tests failures errors skipped time` of `testcase name classname time`,
//! each with an optional `failure message type`).

use super::record::SeedResult;

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn failed(result: &SeedResult) -> bool {
    !result.passed && !result.inconclusive
}

/// The XML for results sorted by scenario and seed.
pub fn xml(results: &[SeedResult]) -> String {
    let failures = results.iter().filter(|r| failed(r)).count();
    let seconds = |ms: f64| format!("{:.3}", ms / 1e3);
    let total: f64 = results.iter().map(|r| r.wall_ms).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out += &format!(
        "<testsuites name=\"simctl sweep\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{}\">\n",
        results.len(),
        seconds(total)
    );
    let mut start = 0;
    while start < results.len() {
        let file = &results[start].scenario;
        let suite: Vec<&SeedResult> = results[start..].iter().take_while(|r| &r.scenario == file).collect();
        start += suite.len();
        out += &format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{}\">\n",
            escape(file),
            suite.len(),
            suite.iter().filter(|r| failed(r)).count(),
            suite.iter().filter(|r| r.inconclusive).count(),
            seconds(suite.iter().map(|r| r.wall_ms).sum())
        );
        for result in suite {
            let head = format!(
                "    <testcase name=\"seed {}\" classname=\"{}\" time=\"{}\"",
                result.seed,
                escape(&result.name),
                seconds(result.wall_ms)
            );
            if result.passed {
                out += &format!("{head}/>\n");
            } else if result.inconclusive {
                // Undecided, not failed: JUnit's nearest word is skipped.
                out += &format!(
                    "{head}>\n      <skipped message=\"inconclusive: {}\"/>\n    </testcase>\n",
                    escape(result.reason.as_deref().unwrap_or("inconclusive"))
                );
            } else {
                out += &format!(
                    "{head}>\n      <failure message=\"{}\" type=\"{}\">{}\nreproduce: {}</failure>\n    </testcase>\n",
                    escape(result.reason.as_deref().unwrap_or("failed")),
                    escape(result.failed_check.as_deref().unwrap_or("failed")),
                    escape(result.reason.as_deref().unwrap_or("failed")),
                    escape(&result.reproduce)
                );
            }
        }
        out += "  </testsuite>\n";
    }
    out += "</testsuites>\n";
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_reasons_is_escaped() {
        let result =
            SeedResult::unfinished("a&b.toml", "a<b", 3, "worker", "died: <\"x\" & 'y'>\u{1}".into(), 5.0);
        let text = xml(&[result]);
        assert!(text.contains("name=\"a&amp;b.toml\""), "{text}");
        assert!(text.contains("message=\"died: &lt;&quot;x&quot; &amp; &apos;y&apos;&gt; \""), "{text}");
        assert!(!text.contains('\u{1}'));
    }
}
