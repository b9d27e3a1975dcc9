//! `lease-sim`: simctl's whole command line for the lease, e.g.
//! `cargo run --release -- run scenarios/partition.toml --seed 1` or
//! `cargo run --release -- sweep scenarios/*.toml --seeds 200`.

fn main() -> std::process::ExitCode {
    simctl::main(sim::systems![lease::Lease]).into()
}
