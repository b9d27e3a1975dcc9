//! The exit statuses every subcommand returns, for scripts and `git bisect run`
//! (docs/exploring.md): one type, so no subcommand reaches for a number.

use std::process::ExitCode;

use sim::harness::system::Verdict;
use sim::report::Summary;

/// How a subcommand ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: every check passed (or the command did what it was asked).
    Passed = 0,
    /// 1: a check failed (a protocol panic included), or a gate (`diff`) was broken.
    Failed = 1,
    /// 2: bad input; the message names the file, and for a scenario its line and column.
    BadInput = 2,
    /// 3: two runs of the same seed differ.
    Nondeterminism = 3,
    /// 4: undecided: an event budget or a checker's budget ran out.
    Inconclusive = 4,
}

impl ExitStatus {
    /// A run's status from its verdicts: failed if a check failed, else inconclusive if one
    /// is unknown, else passed.
    pub fn of_verdicts(summary: &Summary) -> ExitStatus {
        if summary.checks.values().any(|v| *v == Verdict::Fail) {
            ExitStatus::Failed
        } else if summary.checks.values().any(|v| *v == Verdict::Unknown) {
            ExitStatus::Inconclusive
        } else {
            ExitStatus::Passed
        }
    }

    /// What the terminal says for a run that ended so.
    pub fn word(self) -> &'static str {
        match self {
            ExitStatus::Passed => "PASSED",
            ExitStatus::Inconclusive => "INCONCLUSIVE",
            ExitStatus::Nondeterminism => "NONDETERMINISTIC",
            ExitStatus::Failed | ExitStatus::BadInput => "FAILED",
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> ExitCode {
        ExitCode::from(status as u8)
    }
}

/// Prints `error: ...` and returns [`ExitStatus::BadInput`].
pub fn bad_input(error: &dyn std::fmt::Display) -> ExitStatus {
    eprintln!("error: {error}");
    ExitStatus::BadInput
}
