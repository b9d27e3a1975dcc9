//! A new system is its folder and its `pub mod` line: the build script's discovery
//! (`build/discover.rs`) finds it with nothing else edited, and the registry it writes is
//! the one `simctl` runs.

use std::path::Path;

#[path = "../build/discover.rs"]
mod discover;

/// The shipped tree: the registry `protocols::systems()` holds is the one discovery finds.
#[test]
fn the_registry_is_what_discovery_finds_in_the_source() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = discover::discover(&src).expect("the source reads");
    let modules: Vec<&str> = found.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(modules, ["collective", "datas3t", "dynamo", "kademlia", "pingpong", "raft_kv"]);
    let registry = protocols::systems();
    let names: Vec<&str> = registry.systems().iter().map(|s| s.name).collect();
    assert_eq!(names, ["collective", "datas3t", "dynamo", "kademlia", "pingpong", "raft-kv"]);
    assert!(!modules.contains(&"storage"), "a module without `impl System` is not a system");
}

/// A copy of the tree with one more folder and one more line in `lib.rs`: discovery adds
/// the system, in its place, and the registry source names it.
#[test]
fn adding_a_system_is_one_folder_and_one_line() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let scratch = std::env::temp_dir().join(format!("simctl-discover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let before = discover::discover(&real).expect("the source reads");
    for (module, _) in &before {
        let folder = scratch.join(module);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::copy(real.join(module).join("mod.rs"), folder.join("mod.rs")).unwrap();
    }
    let lib = std::fs::read_to_string(real.join("lib.rs")).unwrap();
    // The one line.
    let lib = lib.replace("pub mod kademlia;", "pub mod kademlia;\n/// A leader lease.\npub mod lease;");
    std::fs::write(scratch.join("lib.rs"), lib).unwrap();
    // The one folder.
    std::fs::create_dir_all(scratch.join("lease")).unwrap();
    std::fs::write(
        scratch.join("lease/mod.rs"),
        "//! A leader lease.\nuse sim::harness::system::System;\npub struct Lease;\nimpl System for Lease {\n}\n",
    )
    .unwrap();
    let after = discover::discover(&scratch).expect("the copy reads");
    let _ = std::fs::remove_dir_all(&scratch);
    let mut expected = before.clone();
    let at = expected.iter().position(|(m, _)| m == "kademlia").unwrap() + 1;
    expected.insert(at, ("lease".to_owned(), "Lease".to_owned()));
    assert_eq!(after, expected);
    assert!(discover::registry_source(&after).contains("    lease::Lease,\n"));
}

#[test]
fn a_folder_with_two_systems_is_refused_by_name() {
    let scratch = std::env::temp_dir().join(format!("simctl-discover-two-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("two")).unwrap();
    std::fs::write(scratch.join("lib.rs"), "pub mod two;\n").unwrap();
    std::fs::write(
        scratch.join("two/mod.rs"),
        "impl System for A {}\nimpl sim::harness::system::System for B {}\n",
    )
    .unwrap();
    let error = discover::discover(&scratch).unwrap_err();
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(error.contains("two/mod.rs: more than one `impl System for`: [\"A\", \"B\"]"), "{error}");
}
