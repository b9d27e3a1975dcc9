//! Every bug class a system declares (`System::BUG_CLASSES`, docs/BUG-FINDING.md) is
//! reached by the scenario it names: some seed of it makes the class's `sometimes` fire.
//! A class no shipped scenario reaches is a gap in the scenarios, not in the ledger.

use sim::harness::run::RunOptions;

/// Seeds tried per class before the test gives up on its scenario.
const SEEDS: u64 = 50;

#[test]
fn every_bug_class_is_reached_by_its_scenario() {
    let mut unreached = Vec::new();
    let mut classes = 0;
    for system in protocols::systems().systems() {
        for class in system.bug_classes {
            classes += 1;
            assert!(
                class.name.starts_with("class: "),
                "{}: `{}` is not named `class: ...`",
                system.name,
                class.name
            );
            let text = std::fs::read_to_string(format!("../{}", class.reached_by))
                .unwrap_or_else(|e| panic!("{}: {} does not read: {e}", class.name, class.reached_by));
            let brief = protocols::systems()
                .validate(class.reached_by, &text)
                .unwrap_or_else(|e| panic!("{} does not validate: {e}", class.reached_by));
            assert_eq!(brief.system, system.name, "{} is not a {} scenario", class.reached_by, system.name);
            let reached = protocols::systems()
                .first_seed_reaching(class, &text, 0..SEEDS, &RunOptions::default())
                .unwrap_or_else(|e| panic!("{} does not run: {e}", class.reached_by));
            if reached.is_none() {
                unreached.push(format!(
                    "{} `{}`: not on seeds 0..{SEEDS} of {}",
                    system.name, class.name, class.reached_by
                ));
            }
        }
    }
    assert!(classes >= 30, "the five systems declare their classes ({classes} found)");
    assert!(unreached.is_empty(), "unreached bug classes:\n{}", unreached.join("\n"));
}
