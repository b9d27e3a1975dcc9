//! Writes `protocols::systems()`'s list from the source: see `build/discover.rs`.

#[path = "build/discover.rs"]
mod discover;

fn main() {
    let src = std::path::Path::new("src");
    println!("cargo::rerun-if-changed=build/discover.rs");
    println!("cargo::rerun-if-changed=src/lib.rs");
    let systems = discover::discover(src).unwrap_or_else(|e| panic!("finding the systems: {e}"));
    for (module, _) in &systems {
        println!("cargo::rerun-if-changed=src/{module}/mod.rs");
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("systems.rs"), discover::registry_source(&systems)).expect("OUT_DIR is writable");
}
