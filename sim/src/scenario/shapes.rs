//! Fault targets and partition shapes as a scenario writes them, and back: what a
//! `[[faults]]` entry names (a node, a role, a partition), converted to the kernel's
//! [`Target`] and [`Partition`] when planned, and from them when a realized fault is written
//! out as `faults.toml`.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::kernel::fault::Target;
use crate::kernel::ids::NodeId;
use crate::kernel::partition::Partition;

/// Which node a fault hits, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// A server index.
    Node(u32),
    /// A random server.
    Random,
    /// A server in this role, as nodes report it.
    Role(String),
    /// The node fault number `N` (in the schedule) hit: `{ fault = N }`.
    SameAs(u64),
}

impl<'de> Deserialize<'de> for TargetSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TargetSpec, D::Error> {
        struct TargetVisitor;
        impl<'de> Visitor<'de> for TargetVisitor {
            type Value = TargetSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a node index, \"random\", a role such as \"leader\", or {{ fault = N }}")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<TargetSpec, E> {
                u32::try_from(value)
                    .map(TargetSpec::Node)
                    .map_err(|_| E::custom(format!("node index {value} is out of range")))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<TargetSpec, E> {
                u32::try_from(value)
                    .map(TargetSpec::Node)
                    .map_err(|_| E::custom(format!("node index {value} is out of range")))
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<TargetSpec, E> {
                match value {
                    "random" => Ok(TargetSpec::Random),
                    "" => Err(E::custom("a target cannot be empty")),
                    role => Ok(TargetSpec::Role(role.to_owned())),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TargetSpec, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct SameAs {
                    fault: u64,
                }
                let same = SameAs::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TargetSpec::SameAs(same.fault))
            }
        }
        deserializer.deserialize_any(TargetVisitor)
    }
}

impl TargetSpec {
    pub(super) fn target(&self, servers: &[NodeId]) -> Target {
        match self {
            TargetSpec::Node(index) => Target::Node(NodeId(*index)),
            TargetSpec::Random => Target::Random(servers.to_vec()),
            TargetSpec::Role(role) => Target::Role { role: role.clone(), among: servers.to_vec() },
            TargetSpec::SameAs(index) => Target::SameAs(*index),
        }
    }

    /// How a planned or realized target is written back.
    pub fn of(target: &Target) -> TargetSpec {
        match target {
            Target::Node(node) => TargetSpec::Node(node.0),
            Target::Random(_) => TargetSpec::Random,
            Target::Role { role, .. } => TargetSpec::Role(role.clone()),
            Target::SameAs(index) => TargetSpec::SameAs(*index),
        }
    }

    /// The target as a scenario writes it.
    pub fn to_toml(&self) -> toml::Value {
        match self {
            TargetSpec::Node(node) => toml::Value::Integer(i64::from(*node)),
            TargetSpec::Random => "random".into(),
            TargetSpec::Role(role) => role.as_str().into(),
            TargetSpec::SameAs(index) => {
                toml::Value::Table(toml::Table::from_iter([("fault".to_owned(), (*index as i64).into())]))
            }
        }
    }

    /// The server index it names, if it names one.
    pub fn index(&self) -> Option<u32> {
        match self {
            TargetSpec::Node(node) => Some(*node),
            _ => None,
        }
    }
}

/// The random partition shapes, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// A random majority and minority.
    MajorityMinority,
    /// One random node alone.
    Isolate,
    /// Two halves and a bridge node.
    Bridge,
    /// Overlapping majorities.
    MajoritiesRing,
}

impl Shape {
    /// Its name in a scenario.
    pub fn name(self) -> &'static str {
        match self {
            Shape::MajorityMinority => "majority-minority",
            Shape::Isolate => "isolate",
            Shape::Bridge => "bridge",
            Shape::MajoritiesRing => "majorities-ring",
        }
    }

    pub(super) const ALL: [Shape; 4] =
        [Shape::MajorityMinority, Shape::Isolate, Shape::Bridge, Shape::MajoritiesRing];

    pub(super) fn partition(self, among: &[NodeId]) -> Partition {
        let among = among.to_vec();
        match self {
            Shape::MajorityMinority => Partition::MajorityMinority { among },
            Shape::Isolate => Partition::Isolate { node: None, among },
            Shape::Bridge => Partition::Bridge { among },
            Shape::MajoritiesRing => Partition::MajoritiesRing { among },
        }
    }
}

/// A partition, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartitionSpec {
    /// A named random shape over the servers.
    Shape(Shape),
    /// Explicit groups.
    Groups(Vec<Vec<u32>>),
    /// One node against the other servers: an index, `"random"`, a role, `{ fault = N }`.
    Isolate(TargetSpec),
    /// Messages from `from` to `to` dropped.
    OneWay {
        /// Senders.
        from: Vec<u32>,
        /// Receivers.
        to: Vec<u32>,
    },
    /// Explicit directed cuts.
    Cuts(Vec<[u32; 2]>),
    /// Groups of network classes (the regions a system puts its nodes in).
    Classes(Vec<Vec<u16>>),
}

impl<'de> Deserialize<'de> for PartitionSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PartitionSpec, D::Error> {
        struct PartitionVisitor;
        impl<'de> Visitor<'de> for PartitionVisitor {
            type Value = PartitionSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(
                    f,
                    "\"majority-minority\", \"isolate\", \"bridge\", \"majorities-ring\", or a table with one of \
                     groups, isolate, one_way, cuts, classes"
                )
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<PartitionSpec, E> {
                Shape::deserialize(de::value::StrDeserializer::<E>::new(value)).map(PartitionSpec::Shape)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PartitionSpec, A::Error> {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct OneWay {
                    from: Vec<u32>,
                    to: Vec<u32>,
                }
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Table {
                    groups: Option<Vec<Vec<u32>>>,
                    isolate: Option<TargetSpec>,
                    one_way: Option<OneWay>,
                    cuts: Option<Vec<[u32; 2]>>,
                    classes: Option<Vec<Vec<u16>>>,
                }
                let table = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                match (table.groups, table.isolate, table.one_way, table.cuts, table.classes) {
                    (Some(groups), None, None, None, None) => Ok(PartitionSpec::Groups(groups)),
                    (None, Some(node), None, None, None) => Ok(PartitionSpec::Isolate(node)),
                    (None, None, Some(OneWay { from, to }), None, None) => {
                        Ok(PartitionSpec::OneWay { from, to })
                    }
                    (None, None, None, Some(cuts), None) => Ok(PartitionSpec::Cuts(cuts)),
                    (None, None, None, None, Some(classes)) => Ok(PartitionSpec::Classes(classes)),
                    _ => Err(de::Error::custom(
                        "a partition table has exactly one of groups, isolate, one_way, cuts, classes",
                    )),
                }
            }
        }
        deserializer.deserialize_any(PartitionVisitor)
    }
}

impl PartitionSpec {
    pub(super) fn partition(&self, servers: &[NodeId]) -> Partition {
        let ids = |nodes: &[u32]| nodes.iter().copied().map(NodeId).collect::<Vec<_>>();
        match self {
            PartitionSpec::Shape(shape) => shape.partition(servers),
            PartitionSpec::Groups(groups) => Partition::Groups(groups.iter().map(|g| ids(g)).collect()),
            PartitionSpec::Isolate(TargetSpec::Node(node)) => {
                Partition::Isolate { node: Some(NodeId(*node)), among: servers.to_vec() }
            }
            PartitionSpec::Isolate(TargetSpec::Random) => {
                Partition::Isolate { node: None, among: servers.to_vec() }
            }
            PartitionSpec::Isolate(_) => unreachable!("planned as Fault::Isolate"),
            PartitionSpec::OneWay { from, to } => Partition::OneWay { from: ids(from), to: ids(to) },
            PartitionSpec::Cuts(cuts) => {
                Partition::Cuts(cuts.iter().map(|[a, b]| (NodeId(*a), NodeId(*b))).collect())
            }
            PartitionSpec::Classes(classes) => Partition::Classes(classes.clone()),
        }
    }

    /// How a partition the kernel planned or realized is written back.
    pub fn of(partition: &Partition) -> PartitionSpec {
        let ids = |nodes: &[NodeId]| nodes.iter().map(|n| n.0).collect::<Vec<_>>();
        match partition {
            Partition::Groups(groups) => PartitionSpec::Groups(groups.iter().map(|g| ids(g)).collect()),
            Partition::OneWay { from, to } => PartitionSpec::OneWay { from: ids(from), to: ids(to) },
            Partition::Cuts(cuts) => PartitionSpec::Cuts(cuts.iter().map(|(a, b)| [a.0, b.0]).collect()),
            Partition::Classes(groups) => PartitionSpec::Classes(groups.clone()),
            Partition::Isolate { node: Some(node), .. } => PartitionSpec::Isolate(TargetSpec::Node(node.0)),
            Partition::Isolate { node: None, .. } => PartitionSpec::Shape(Shape::Isolate),
            Partition::MajorityMinority { .. } => PartitionSpec::Shape(Shape::MajorityMinority),
            Partition::Bridge { .. } => PartitionSpec::Shape(Shape::Bridge),
            Partition::MajoritiesRing { .. } => PartitionSpec::Shape(Shape::MajoritiesRing),
        }
    }

    /// The partition as a scenario writes it.
    pub fn to_toml(&self) -> toml::Value {
        let ids = |nodes: &[u32]| toml::Value::Array(nodes.iter().map(|n| i64::from(*n).into()).collect());
        let table = |key: &str, value: toml::Value| {
            toml::Value::Table(toml::Table::from_iter([(key.to_owned(), value)]))
        };
        match self {
            PartitionSpec::Shape(shape) => shape.name().into(),
            PartitionSpec::Groups(groups) => {
                table("groups", toml::Value::Array(groups.iter().map(|g| ids(g)).collect()))
            }
            PartitionSpec::Isolate(target) => table("isolate", target.to_toml()),
            PartitionSpec::OneWay { from, to } => {
                let one_way =
                    toml::Table::from_iter([("from".to_owned(), ids(from)), ("to".to_owned(), ids(to))]);
                table("one_way", toml::Value::Table(one_way))
            }
            PartitionSpec::Cuts(cuts) => {
                table("cuts", toml::Value::Array(cuts.iter().map(|c| ids(c)).collect()))
            }
            PartitionSpec::Classes(groups) => {
                let group =
                    |g: &Vec<u16>| toml::Value::Array(g.iter().map(|c| i64::from(*c).into()).collect());
                table("classes", toml::Value::Array(groups.iter().map(group).collect()))
            }
        }
    }

    /// This partition with server `server` taken out, or `None` if nothing is left to cut.
    pub fn without(&self, server: u32) -> Option<PartitionSpec> {
        let keep = |nodes: &[u32]| nodes.iter().copied().filter(|n| *n != server).collect::<Vec<_>>();
        let spec = match self {
            PartitionSpec::Groups(groups) => {
                let groups: Vec<Vec<u32>> =
                    groups.iter().map(|g| keep(g)).filter(|g| !g.is_empty()).collect();
                (groups.len() >= 2).then_some(PartitionSpec::Groups(groups))?
            }
            PartitionSpec::Isolate(TargetSpec::Node(node)) if *node == server => return None,
            PartitionSpec::OneWay { from, to } => {
                let (from, to) = (keep(from), keep(to));
                (!from.is_empty() && !to.is_empty()).then_some(PartitionSpec::OneWay { from, to })?
            }
            PartitionSpec::Cuts(cuts) => {
                let cuts: Vec<[u32; 2]> = cuts.iter().copied().filter(|c| !c.contains(&server)).collect();
                (!cuts.is_empty()).then_some(PartitionSpec::Cuts(cuts))?
            }
            other => other.clone(),
        };
        Some(spec)
    }

    pub(super) fn nodes(&self) -> Vec<u32> {
        match self {
            PartitionSpec::Shape(_) => Vec::new(),
            PartitionSpec::Groups(groups) => groups.concat(),
            PartitionSpec::Isolate(TargetSpec::Node(node)) => vec![*node],
            PartitionSpec::Isolate(_) => Vec::new(),
            PartitionSpec::OneWay { from, to } => [from.as_slice(), to.as_slice()].concat(),
            PartitionSpec::Cuts(cuts) => cuts.iter().flatten().copied().collect(),
            PartitionSpec::Classes(_) => Vec::new(),
        }
    }
}
