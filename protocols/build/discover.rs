//! Which systems `protocols` holds: every module `src/lib.rs` declares (`pub mod name;`)
//! whose `src/name/mod.rs` implements `System`, in the order of the declarations. The build
//! script writes them as the body of `protocols::systems()`, so a new system is its folder
//! and its `pub mod` line, nothing else (docs/adding-a-system.md). Shared by `build.rs` and
//! the test that adds a system (`protocols/tests/registry.rs`).

use std::path::Path;

/// `(module, type)` of each system under `src`, in `lib.rs` order.
pub fn discover(src: &Path) -> Result<Vec<(String, String)>, String> {
    let lib = read(&src.join("lib.rs"))?;
    let mut systems = Vec::new();
    for module in lib.lines().filter_map(declared_module) {
        let file = src.join(&module).join("mod.rs");
        if !file.exists() {
            continue;
        }
        let text = read(&file)?;
        let types: Vec<String> = text.lines().filter_map(system_impl).collect();
        match types.as_slice() {
            [] => {}
            [one] => systems.push((module, one.clone())),
            _ => return Err(format!("{}: more than one `impl System for`: {types:?}", file.display())),
        }
    }
    Ok(systems)
}

/// The body of `systems()`: the registry of the systems found, in order.
pub fn registry_source(systems: &[(String, String)]) -> String {
    let mut out = String::from("sim::systems![\n");
    for (module, ty) in systems {
        out += &format!("    {module}::{ty},\n");
    }
    out + "]\n"
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `pub mod name;` on a line of its own (not a module with a body, not a `#[cfg]`'d one).
fn declared_module(line: &str) -> Option<String> {
    let name = line.trim().strip_prefix("pub mod ")?.strip_suffix(';')?.trim();
    name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_').then(|| name.to_owned())
}

/// `impl System for Name {` (or `impl sim::harness::system::System for Name {`).
fn system_impl(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("impl ")?;
    let (trait_path, rest) = rest.split_once(" for ")?;
    if trait_path.trim().rsplit("::").next()? != "System" {
        return None;
    }
    let name: String = rest.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    (!name.is_empty()).then_some(name)
}
