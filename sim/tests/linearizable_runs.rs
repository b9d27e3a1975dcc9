//! `[checks] linearizable = true` end to end, on a system of this test's own: a register
//! store whose clients either all use one server (linearizable) or spread over servers that
//! never replicate (stale reads, which the check must catch and explain); and
//! `[checks] liveness`, on the same store with its writes left unanswered; and
//! `kernel.roles`, on the same store's servers reporting a role it declares or one it does
//! not.

use serde::{Deserialize, Serialize};
use sim::harness::run::{run, RunOptions};
use sim::harness::system::{parse, Check, Consistency, Slot, System, Verdict};
use sim::kernel::workload::{Arg, OperationSpec};
use sim::prelude::*;
use sim::scenario::Scenario;
use sim::Seed;

#[derive(Clone, Debug, Hash, serde::Serialize, serde::Deserialize)]
enum Msg {
    Write { op: u64, value: i64 },
    Read { op: u64 },
    Ack { op: u64 },
    Current { op: u64, value: Option<i64> },
}

impl Message for Msg {
    type Timer = ();
    type Kind = ();
}

sim::names! {
    /// The store's one role.
    enum StoreRole {
        /// A server.
        Server = "server",
    }
}

sim::names! {
    /// A role the store does not declare.
    enum Stray {
        /// Not the store's.
        Primary = "primary",
    }
}

struct Server {
    value: Option<i64>,
    mute_writes: bool,
    role: String,
}

impl Node for Server {
    type Msg = Msg;
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        match self.role.as_str() {
            "server" => ctx.set_role(StoreRole::Server),
            "primary" => ctx.set_role(Stray::Primary),
            _ => {}
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Write { .. } if self.mute_writes => {}
            Msg::Write { op, value } => {
                self.value = Some(value);
                ctx.send(from, Msg::Ack { op });
            }
            Msg::Read { op } => ctx.send(from, Msg::Current { op, value: self.value }),
            _ => {}
        }
    }
    fn on_timer(&mut self, _: &mut Ctx<'_, Msg>, _: ()) {}
}

struct Client {
    servers: u32,
    spread: bool,
}

impl Node for Client {
    type Msg = Msg;
    fn on_start(&mut self, _: &mut Ctx<'_, Msg>) {}
    fn on_invoke(&mut self, ctx: &mut Ctx<'_, Msg>, op: Operation) {
        let server =
            if self.spread { NodeId(ctx.rng().below(u64::from(self.servers)) as u32) } else { NodeId(0) };
        let msg = match (op.f.as_str(), &op.value) {
            ("write", Value::Int(value)) => Msg::Write { op: op.id, value: *value },
            _ => Msg::Read { op: op.id },
        };
        ctx.send(server, msg);
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ack { op } => ctx.complete(op, Outcome::Ok(Value::Nil), Some(from)),
            Msg::Current { op, value } => {
                ctx.complete(op, Outcome::Ok(value.map_or(Value::Nil, Value::Int)), Some(from))
            }
            _ => {}
        }
    }
    fn on_timer(&mut self, _: &mut Ctx<'_, Msg>, _: ()) {}
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    spread: bool,
    mute_writes: bool,
    /// The role servers report: "server" (declared), "primary" (not), or none.
    role: String,
}

struct Store;

impl System for Store {
    type Msg = Msg;
    type Settings = Settings;
    type Setup = (u32, Settings);
    const NAME: &'static str = "store";
    const ABOUT: &'static str = "a register per server, never replicated";
    const OPERATIONS: &'static [OperationSpec] = &[
        OperationSpec { name: "read", arg: Arg::None, weight: 1.0 },
        OperationSpec { name: "write", arg: Arg::Unique, weight: 1.0 },
    ];
    const CONSISTENCY: Option<Consistency> = Some(Consistency::REGISTER);
    const ROLES: &'static [&'static str] = StoreRole::NAMES;

    fn validate(_: &Scenario<Settings>) -> Result<(), (&'static str, String)> {
        Ok(())
    }
    fn setup(scenario: &Scenario<Settings>, _: Seed) -> (u32, Settings) {
        (scenario.nodes, scenario.settings.clone())
    }
    fn node((servers, settings): &(u32, Settings), slot: Slot, _: NodeId) -> Box<dyn Node<Msg = Msg>> {
        match slot {
            Slot::Server(_) => Box::new(Server {
                value: None,
                mute_writes: settings.mute_writes,
                role: settings.role.clone(),
            }),
            Slot::Client(_) | Slot::Other(_) => {
                Box::new(Client { servers: *servers, spread: settings.spread })
            }
        }
    }
    fn check(_: &Scenario<Settings>, _: &(u32, Settings), _: &Sim<Msg>) -> Vec<Check> {
        Vec::new()
    }
}

fn scenario(spread: bool) -> String {
    format!(
        "name = \"store\"\nsystem = \"store\"\nnodes = 3\nduration = \"2s\"\n[settings]\nspread = {spread}\n\
         [network]\nlatency = {{ dist = \"uniform\", min = \"1ms\", max = \"5ms\" }}\n\
         [workload]\nclients = 3\nconcurrency = 6\n[checks]\nlinearizable = true\n"
    )
}

fn verdict(text: &str) -> (Verdict, Option<String>) {
    let parsed = parse::<Store>("store.toml", text).unwrap();
    let report = run::<Store>("store.toml", text, &parsed, 1, &RunOptions::default())
        .expect("the native engine runs it");
    assert!(report.summary.ops["read"].ok > 100);
    (report.summary.checks["linearizable"], report.summary.reasons.get("linearizable").cloned())
}

#[test]
fn one_copy_is_linearizable() {
    assert_eq!(verdict(&scenario(false)), (Verdict::Pass, None));
}

#[test]
fn unreplicated_copies_are_caught_with_a_witness() {
    let (found, reason) = verdict(&scenario(true));
    assert_eq!(found, Verdict::Fail);
    let reason = reason.unwrap();
    assert!(reason.contains("then no order explains") && reason.contains("read"), "{reason}");
}

#[test]
fn a_system_with_a_model_is_checked_by_default_and_can_opt_out() {
    let unchecked = scenario(true).replace("[checks]\nlinearizable = true\n", "");
    assert!(!unchecked.contains("[checks]"));
    assert_eq!(verdict(&unchecked).0, Verdict::Fail, "no [checks]: the model is checked anyway");
    let off = scenario(true).replace("linearizable = true", "linearizable = false");
    let parsed = parse::<Store>("store.toml", &off).unwrap();
    let report = run::<Store>("store.toml", &off, &parsed, 1, &RunOptions::default())
        .expect("the native engine runs it");
    assert!(!report.summary.checks.contains_key("linearizable"), "{:?}", report.summary.checks);
}

/// Liveness asks every kind of operation to be served again, not any one: a store whose
/// writes hang while its reads work is not live.
#[test]
fn liveness_needs_every_kind_of_operation_served() {
    let live_for = |mute_writes: bool, ops: &str| {
        let text = scenario(false)
            .replace("spread = false", &format!("spread = false\nmute_writes = {mute_writes}"))
            .replace(
                "linearizable = true",
                &format!("linearizable = false\nliveness = {{ heal_by = \"0s\", within = \"1s\"{ops} }}"),
            );
        let parsed = parse::<Store>("store.toml", &text).unwrap();
        let report = run::<Store>("store.toml", &text, &parsed, 1, &RunOptions::default())
            .expect("the native engine runs it");
        (report.summary.checks["liveness"], report.summary.reasons.get("liveness").cloned())
    };
    let live = |mute_writes: bool| live_for(mute_writes, "");
    assert_eq!(live(false), (Verdict::Pass, None));
    let (verdict, reason) = live(true);
    assert_eq!(verdict, Verdict::Fail);
    assert_eq!(
        reason.as_deref(),
        Some("no write invoked after the last fault (0.000s) completed ok by 1.000s")
    );
    // Asked about reads only (`ops`), the same run is live.
    assert_eq!(live_for(true, ", ops = [\"read\"]"), (Verdict::Pass, None));
    assert_eq!(live_for(true, ", ops = [\"write\"]").0, Verdict::Fail);
}

/// A role a node reports must be one its system declares: a fault aimed at "the primary"
/// of a system that never declared one would never fire.
#[test]
fn a_role_the_system_does_not_declare_fails_kernel_roles() {
    let roles = |role: &str| {
        let text = scenario(false).replace("spread = false", &format!("spread = false\nrole = \"{role}\""));
        let parsed = parse::<Store>("store.toml", &text).unwrap();
        let report = run::<Store>("store.toml", &text, &parsed, 1, &RunOptions::default())
            .expect("the native engine runs it");
        (
            report.summary.checks.get("kernel.roles").copied(),
            report.summary.reasons.get("kernel.roles").cloned(),
        )
    };
    assert_eq!(roles(""), (None, None), "no role reported, no check");
    assert_eq!(roles("server"), (Some(Verdict::Pass), None));
    assert_eq!(
        roles("primary"),
        (
            Some(Verdict::Fail),
            Some(
                "n0 reported role \"primary\" at 0.000s, which store does not declare (its ROLES: server)"
                    .to_owned()
            )
        )
    );
}
