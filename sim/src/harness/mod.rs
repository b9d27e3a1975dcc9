//! The harness: what turns a scenario into a run of the kernel and a run into verdicts.
//! [`system`] is what a system provides; [`registry`] finds a scenario's system by name;
//! [`run`] builds, runs and judges a scenario (its report types live in `report`, its schema
//! in `scenario`); [`determinism`] runs a simulation twice in lock step.

pub mod determinism;
pub mod kernel_checks;
pub mod registry;
pub mod run;
pub mod system;
