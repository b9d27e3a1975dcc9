//! simctl's binary: the command line (the `simctl` library) for the shipped systems.

/// mimalloc rather than the system allocator: runs allocate and free on every message
/// (docs/PERFORMANCE.md measures the difference). Allocation addresses never reach a run's
/// outcome, so the choice cannot change a trace.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    simctl::main(protocols::systems()).into()
}
