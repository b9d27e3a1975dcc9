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

/// A node as a scenario names it: a server by its index, or a client as `{ client = N }`
/// (clients are numbered from 0 in the order the workload makes them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeRef {
    /// Server `N` (node id `N`).
    Server(u32),
    /// Client `N` (node id `servers + N`).
    Client(u32),
}

impl NodeRef {
    /// Its node id in a run with `servers` servers (clients come right after them).
    pub fn id(self, servers: usize) -> NodeId {
        match self {
            NodeRef::Server(index) => NodeId(index),
            NodeRef::Client(index) => NodeId(servers as u32 + index),
        }
    }

    /// How node `id` of a run with `servers` servers is named.
    pub fn of(id: NodeId, servers: u32) -> NodeRef {
        if id.0 < servers {
            NodeRef::Server(id.0)
        } else {
            NodeRef::Client(id.0 - servers)
        }
    }

    /// The node as a scenario writes it.
    pub fn to_toml(self) -> toml::Value {
        match self {
            NodeRef::Server(index) => toml::Value::Integer(i64::from(index)),
            NodeRef::Client(index) => {
                toml::Value::Table(toml::Table::from_iter([("client".to_owned(), i64::from(index).into())]))
            }
        }
    }

    /// Why it names no node of a run with `servers` servers and `clients` clients, if so.
    pub fn missing(self, servers: u32, clients: u32) -> Option<String> {
        match self {
            NodeRef::Server(index) if index >= servers => {
                Some(format!("node {index} does not exist (servers are 0..{servers})"))
            }
            NodeRef::Client(index) if index >= clients => {
                Some(format!("client {index} does not exist (the workload has {clients} clients)"))
            }
            _ => None,
        }
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeRef::Server(index) => write!(f, "{index}"),
            NodeRef::Client(index) => write!(f, "client {index}"),
        }
    }
}

fn server_index<E: de::Error>(value: i128) -> Result<NodeRef, E> {
    u32::try_from(value)
        .map(NodeRef::Server)
        .map_err(|_| E::custom(format!("node index {value} is out of range")))
}

/// `{ client = N }` or `{ fault = N }`, the tables a node or a target may be.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeTable {
    client: Option<u32>,
    fault: Option<u64>,
}

impl<'de> Deserialize<'de> for NodeRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NodeRef, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = NodeRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a server index or {{ client = N }}")
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<NodeRef, E> {
                server_index(i128::from(value))
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<NodeRef, E> {
                server_index(i128::from(value))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NodeRef, A::Error> {
                match NodeTable::deserialize(de::value::MapAccessDeserializer::new(map))? {
                    NodeTable { client: Some(client), fault: None } => Ok(NodeRef::Client(client)),
                    _ => Err(de::Error::custom("a node is a server index or { client = N }")),
                }
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// Which node a fault hits, as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetSpec {
    /// A server index, or a client.
    Node(NodeRef),
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
                write!(
                    f,
                    "a node index, {{ client = N }}, \"random\", a role such as \"leader\", or {{ fault = N }}"
                )
            }
            fn visit_i64<E: de::Error>(self, value: i64) -> Result<TargetSpec, E> {
                server_index(i128::from(value)).map(TargetSpec::Node)
            }
            fn visit_u64<E: de::Error>(self, value: u64) -> Result<TargetSpec, E> {
                server_index(i128::from(value)).map(TargetSpec::Node)
            }
            fn visit_str<E: de::Error>(self, value: &str) -> Result<TargetSpec, E> {
                match value {
                    "random" => Ok(TargetSpec::Random),
                    "" => Err(E::custom("a target cannot be empty")),
                    role => Ok(TargetSpec::Role(role.to_owned())),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TargetSpec, A::Error> {
                match NodeTable::deserialize(de::value::MapAccessDeserializer::new(map))? {
                    NodeTable { client: Some(client), fault: None } => {
                        Ok(TargetSpec::Node(NodeRef::Client(client)))
                    }
                    NodeTable { client: None, fault: Some(fault) } => Ok(TargetSpec::SameAs(fault)),
                    _ => Err(de::Error::custom("a target table is { client = N } or { fault = N }")),
                }
            }
        }
        deserializer.deserialize_any(TargetVisitor)
    }
}

impl TargetSpec {
    pub(super) fn target(&self, servers: &[NodeId]) -> Target {
        match self {
            TargetSpec::Node(node) => Target::Node(node.id(servers.len())),
            TargetSpec::Random => Target::Random(servers.to_vec()),
            TargetSpec::Role(role) => Target::Role { role: role.clone(), among: servers.to_vec() },
            TargetSpec::SameAs(index) => Target::SameAs(*index),
        }
    }

    /// How a planned or realized target of a run with `servers` servers is written back.
    pub fn of(target: &Target, servers: u32) -> TargetSpec {
        match target {
            Target::Node(node) => TargetSpec::Node(NodeRef::of(*node, servers)),
            Target::Random(_) => TargetSpec::Random,
            Target::Role { role, .. } => TargetSpec::Role(role.clone()),
            Target::SameAs(index) => TargetSpec::SameAs(*index),
        }
    }

    /// The target as a scenario writes it.
    pub fn to_toml(&self) -> toml::Value {
        match self {
            TargetSpec::Node(node) => node.to_toml(),
            TargetSpec::Random => "random".into(),
            TargetSpec::Role(role) => role.as_str().into(),
            TargetSpec::SameAs(index) => {
                toml::Value::Table(toml::Table::from_iter([("fault".to_owned(), (*index as i64).into())]))
            }
        }
    }

    /// The node it names, if it names one.
    pub fn node(&self) -> Option<NodeRef> {
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
    Groups(Vec<Vec<NodeRef>>),
    /// One node against the other servers: an index, `"random"`, a role, `{ fault = N }`.
    Isolate(TargetSpec),
    /// Messages from `from` to `to` dropped.
    OneWay {
        /// Senders.
        from: Vec<NodeRef>,
        /// Receivers.
        to: Vec<NodeRef>,
    },
    /// Explicit directed cuts.
    Cuts(Vec<[NodeRef; 2]>),
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
                    from: Vec<NodeRef>,
                    to: Vec<NodeRef>,
                }
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct Table {
                    groups: Option<Vec<Vec<NodeRef>>>,
                    isolate: Option<TargetSpec>,
                    one_way: Option<OneWay>,
                    cuts: Option<Vec<[NodeRef; 2]>>,
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
        let id = |node: &NodeRef| node.id(servers.len());
        let ids = |nodes: &[NodeRef]| nodes.iter().map(id).collect::<Vec<_>>();
        match self {
            PartitionSpec::Shape(shape) => shape.partition(servers),
            PartitionSpec::Groups(groups) => Partition::Groups(groups.iter().map(|g| ids(g)).collect()),
            PartitionSpec::Isolate(TargetSpec::Node(node)) => {
                Partition::Isolate { node: Some(id(node)), among: servers.to_vec() }
            }
            PartitionSpec::Isolate(TargetSpec::Random) => {
                Partition::Isolate { node: None, among: servers.to_vec() }
            }
            PartitionSpec::Isolate(_) => unreachable!("planned as Fault::Isolate"),
            PartitionSpec::OneWay { from, to } => Partition::OneWay { from: ids(from), to: ids(to) },
            PartitionSpec::Cuts(cuts) => Partition::Cuts(cuts.iter().map(|[a, b]| (id(a), id(b))).collect()),
            PartitionSpec::Classes(classes) => Partition::Classes(classes.clone()),
        }
    }

    /// How a partition the kernel planned or realized, in a run with `servers` servers, is
    /// written back.
    pub fn of(partition: &Partition, servers: u32) -> PartitionSpec {
        let name = |node: NodeId| NodeRef::of(node, servers);
        let ids = |nodes: &[NodeId]| nodes.iter().map(|n| name(*n)).collect::<Vec<_>>();
        match partition {
            Partition::Groups(groups) => PartitionSpec::Groups(groups.iter().map(|g| ids(g)).collect()),
            Partition::OneWay { from, to } => PartitionSpec::OneWay { from: ids(from), to: ids(to) },
            Partition::Cuts(cuts) => {
                PartitionSpec::Cuts(cuts.iter().map(|(a, b)| [name(*a), name(*b)]).collect())
            }
            Partition::Classes(groups) => PartitionSpec::Classes(groups.clone()),
            Partition::Isolate { node: Some(node), .. } => {
                PartitionSpec::Isolate(TargetSpec::Node(name(*node)))
            }
            Partition::Isolate { node: None, .. } => PartitionSpec::Shape(Shape::Isolate),
            Partition::MajorityMinority { .. } => PartitionSpec::Shape(Shape::MajorityMinority),
            Partition::Bridge { .. } => PartitionSpec::Shape(Shape::Bridge),
            Partition::MajoritiesRing { .. } => PartitionSpec::Shape(Shape::MajoritiesRing),
        }
    }

    /// The partition as a scenario writes it.
    pub fn to_toml(&self) -> toml::Value {
        let ids = |nodes: &[NodeRef]| toml::Value::Array(nodes.iter().map(|n| n.to_toml()).collect());
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

    /// This partition with `node` taken out, or `None` if nothing is left to cut.
    pub fn without(&self, node: NodeRef) -> Option<PartitionSpec> {
        let keep = |nodes: &[NodeRef]| nodes.iter().copied().filter(|n| *n != node).collect::<Vec<_>>();
        let spec = match self {
            PartitionSpec::Groups(groups) => {
                let groups: Vec<Vec<NodeRef>> =
                    groups.iter().map(|g| keep(g)).filter(|g| !g.is_empty()).collect();
                (groups.len() >= 2).then_some(PartitionSpec::Groups(groups))?
            }
            PartitionSpec::Isolate(TargetSpec::Node(isolated)) if *isolated == node => return None,
            PartitionSpec::OneWay { from, to } => {
                let (from, to) = (keep(from), keep(to));
                (!from.is_empty() && !to.is_empty()).then_some(PartitionSpec::OneWay { from, to })?
            }
            PartitionSpec::Cuts(cuts) => {
                let cuts: Vec<[NodeRef; 2]> = cuts.iter().copied().filter(|c| !c.contains(&node)).collect();
                (!cuts.is_empty()).then_some(PartitionSpec::Cuts(cuts))?
            }
            other => other.clone(),
        };
        Some(spec)
    }

    pub(super) fn nodes(&self) -> Vec<NodeRef> {
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
