//! `[network]`: the default link model, per-link and per-node overrides, and the network
//! changes faults make.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::text::{duration, Bytes};
use crate::kernel::dist::{Distribution, InvalidDistribution};
use crate::kernel::ids::NodeId;
use crate::kernel::network::{LinkModel, NetworkModel};
use crate::kernel::rng::Probability;

/// The `[network]` table.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// One-way delay. Default: constant 1 ms.
    #[serde(default = "default_latency")]
    pub latency: LatencySpec,
    /// Probability a message is lost. Default: 0.
    #[serde(default, deserialize_with = "probability")]
    pub loss: Probability,
    /// Probability a message is delivered twice. Default: 0.
    #[serde(default, deserialize_with = "probability")]
    pub duplicate: Probability,
    /// Deliver in send order on every link. Default: false.
    #[serde(default)]
    pub fifo: bool,
    /// Link bandwidth in bytes per second (`1000000`, `"125MB"`). Default: unlimited.
    #[serde(default)]
    pub bandwidth: Option<Bytes>,
    /// Overrides for directed links, `[[network.links]]`; fields not given are the default's.
    #[serde(default)]
    pub links: Vec<LinkOverride>,
    /// Overrides for every link to and from a node, `[[network.nodes]]`.
    #[serde(default)]
    pub nodes: Vec<NodeOverride>,
    /// What each node's network interface carries, bytes per second, shared by all its
    /// flows in each direction (`"125MB"`: 1 Gbit/s). Default: unlimited.
    #[serde(default)]
    pub node_bandwidth: Option<Bytes>,
    /// Latency per message kind, `kinds = { replicate = { dist = ... }, ... }`, kinds named
    /// by the system (`simctl list`); a kind's latency replaces its link's, on every link and
    /// on loopback. Default: none.
    #[serde(default)]
    pub kinds: BTreeMap<String, LatencySpec>,
    /// How long a cut, a clog or unanswered retransmissions last before they break a
    /// connection (`Ctx::connect`: TCP's keepalive or user timeout, gRPC's keepalive
    /// timeout), e.g. `"20s"`. Default: 10 s. Datagrams ignore it.
    #[serde(default, with = "duration::option")]
    pub keepalive: Option<Duration>,
}

impl Default for NetworkSpec {
    fn default() -> NetworkSpec {
        NetworkSpec {
            latency: default_latency(),
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            fifo: false,
            bandwidth: None,
            links: Vec::new(),
            nodes: Vec::new(),
            node_bandwidth: None,
            kinds: BTreeMap::new(),
            keepalive: None,
        }
    }
}

fn default_latency() -> LatencySpec {
    LatencySpec(Distribution::Constant(Duration::from_millis(1)))
}

/// Fields of a link model that an override or a fault may change.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkChange {
    /// New latency.
    #[serde(default)]
    pub latency: Option<LatencySpec>,
    /// New loss probability.
    #[serde(default, deserialize_with = "some_probability")]
    pub loss: Option<Probability>,
    /// New duplication probability.
    #[serde(default, deserialize_with = "some_probability")]
    pub duplicate: Option<Probability>,
    /// FIFO on or off.
    #[serde(default)]
    pub fifo: Option<bool>,
    /// New bandwidth, bytes per second.
    #[serde(default)]
    pub bandwidth: Option<Bytes>,
}

impl LinkChange {
    /// The change that sets every field to `model`'s.
    pub fn of(model: &LinkModel) -> LinkChange {
        LinkChange {
            latency: Some(LatencySpec(model.latency.clone())),
            loss: Some(model.loss),
            duplicate: Some(model.duplicate),
            fifo: Some(model.fifo),
            bandwidth: model.bandwidth.map(Bytes),
        }
    }

    /// The fields it sets, as a table a scenario writes.
    pub fn to_toml(&self) -> toml::Table {
        let mut table = toml::Table::new();
        if let Some(latency) = &self.latency {
            table.insert("latency".into(), toml::Value::Table(latency_toml(&latency.0)));
        }
        if let Some(loss) = self.loss {
            table.insert("loss".into(), toml::Value::Float(loss.as_f64()));
        }
        if let Some(duplicate) = self.duplicate {
            table.insert("duplicate".into(), toml::Value::Float(duplicate.as_f64()));
        }
        if let Some(fifo) = self.fifo {
            table.insert("fifo".into(), toml::Value::Boolean(fifo));
        }
        if let Some(bandwidth) = self.bandwidth {
            table.insert("bandwidth".into(), toml::Value::Integer(bandwidth.0 as i64));
        }
        table
    }

    /// `base` with the given fields replaced.
    pub fn apply(&self, base: &LinkModel) -> LinkModel {
        LinkModel {
            latency: self.latency.as_ref().map_or_else(|| base.latency.clone(), |l| l.0.clone()),
            loss: self.loss.unwrap_or(base.loss),
            duplicate: self.duplicate.unwrap_or(base.duplicate),
            fifo: self.fifo.unwrap_or(base.fifo),
            bandwidth: self.bandwidth.map(|b| b.0).or(base.bandwidth),
        }
    }
}

/// One or several node indices.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Nodes {
    /// One node.
    One(u32),
    /// Several.
    Many(Vec<u32>),
}

impl Nodes {
    /// The indices.
    pub fn indices(&self) -> Vec<u32> {
        match self {
            Nodes::One(node) => vec![*node],
            Nodes::Many(nodes) => nodes.clone(),
        }
    }
}

/// `[[network.links]]`: links from any of `from` to any of `to`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sending nodes.
    pub from: Nodes,
    /// Receiving nodes.
    pub to: Nodes,
    /// What differs from `[network]`.
    #[serde(flatten)]
    pub change: LinkChange,
}

/// `[[network.nodes]]`: every link to and from `node`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeOverride {
    /// The node.
    pub node: u32,
    /// What differs from `[network]`.
    #[serde(flatten)]
    pub change: LinkChange,
}

impl NetworkSpec {
    /// The model for links with no override.
    pub fn link_model(&self) -> LinkModel {
        LinkModel {
            latency: self.latency.0.clone(),
            loss: self.loss,
            duplicate: self.duplicate,
            fifo: self.fifo,
            bandwidth: self.bandwidth.map(|b| b.0),
        }
    }

    /// Installs the overrides on a network model.
    pub fn apply_overrides(&self, network: &mut NetworkModel) {
        let base = self.link_model();
        for link in &self.links {
            let model = link.change.apply(&base);
            for from in link.from.indices() {
                for to in link.to.indices() {
                    network.set_link(NodeId(from), NodeId(to), model.clone());
                }
            }
        }
        for node in &self.nodes {
            network.set_node(NodeId(node.node), node.change.apply(&base));
        }
        network.set_node_bandwidth(self.node_bandwidth.map(|b| b.0));
    }

    /// Installs the latencies per message kind; `kinds` are the system's (validated at parse).
    pub fn apply_kinds(&self, kinds: &[&'static str], network: &mut NetworkModel) {
        for (name, latency) in &self.kinds {
            let kind = kinds.iter().find(|k| *k == name).expect("kinds are validated at parse");
            network.set_kind_latency(kind, latency.0.clone());
        }
    }
}

pub(super) fn probability<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Probability, D::Error> {
    let p = f64::deserialize(deserializer)?;
    Probability::new(p).map_err(serde::de::Error::custom)
}

pub(super) fn some_probability<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Probability>, D::Error> {
    probability(deserializer).map(Some)
}

/// A latency distribution as written in a scenario (validated when read).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(try_from = "LatencyText")]
pub struct LatencySpec(pub Distribution);

#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum LatencyText {
    Constant {
        #[serde(with = "duration")]
        value: Duration,
    },
    Uniform {
        #[serde(with = "duration")]
        min: Duration,
        #[serde(with = "duration")]
        max: Duration,
    },
    Normal {
        #[serde(with = "duration")]
        mean: Duration,
        #[serde(with = "duration")]
        std_dev: Duration,
    },
    Exponential {
        #[serde(with = "duration")]
        mean: Duration,
    },
    Pareto {
        #[serde(with = "duration")]
        scale: Duration,
        shape: f64,
    },
    Mixture {
        parts: Vec<WeightedText>,
    },
}

#[derive(Deserialize)]
struct WeightedText {
    weight: f64,
    #[serde(flatten)]
    latency: LatencyText,
}

impl TryFrom<LatencyText> for LatencySpec {
    type Error = InvalidDistribution;
    fn try_from(text: LatencyText) -> Result<LatencySpec, InvalidDistribution> {
        let distribution = match text {
            LatencyText::Constant { value } => Distribution::Constant(value),
            LatencyText::Uniform { min, max } => Distribution::Uniform { min, max },
            LatencyText::Normal { mean, std_dev } => Distribution::Normal { mean, std_dev },
            LatencyText::Exponential { mean } => Distribution::Exponential { mean },
            LatencyText::Pareto { scale, shape } => Distribution::Pareto { scale, shape },
            LatencyText::Mixture { parts } => {
                let parts = parts
                    .into_iter()
                    .map(|part| Ok((part.weight, LatencySpec::try_from(part.latency)?.0)))
                    .collect::<Result<Vec<_>, InvalidDistribution>>()?;
                return Distribution::mixture(parts).map(LatencySpec);
            }
        };
        distribution.validate()?;
        Ok(LatencySpec(distribution))
    }
}

/// A distribution as a TOML table that reads back as the same distribution.
pub fn latency_toml(distribution: &Distribution) -> toml::Table {
    let mut table = toml::Table::new();
    let mut put = |key: &str, value: toml::Value| {
        table.insert(key.to_owned(), value);
    };
    let text = |d: &Duration| toml::Value::String(duration::format(*d));
    match distribution {
        Distribution::Constant(value) => {
            put("dist", "constant".into());
            put("value", text(value));
        }
        Distribution::Uniform { min, max } => {
            put("dist", "uniform".into());
            put("min", text(min));
            put("max", text(max));
        }
        Distribution::Normal { mean, std_dev } => {
            put("dist", "normal".into());
            put("mean", text(mean));
            put("std_dev", text(std_dev));
        }
        Distribution::Exponential { mean } => {
            put("dist", "exponential".into());
            put("mean", text(mean));
        }
        Distribution::Pareto { scale, shape } => {
            put("dist", "pareto".into());
            put("scale", text(scale));
            put("shape", toml::Value::Float(*shape));
        }
        Distribution::Mixture(_) => {
            put("dist", "mixture".into());
            let parts = distribution.mixture_parts().expect("a mixture").into_iter().map(|(weight, part)| {
                let mut part = latency_toml(part);
                part.insert("weight".into(), toml::Value::Float(weight));
                toml::Value::Table(part)
            });
            put("parts", toml::Value::Array(parts.collect()));
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_models_round_trip_through_toml() {
        let model = LinkModel {
            latency: Distribution::mixture(vec![
                (0.9, Distribution::Pareto { scale: Duration::from_millis(2), shape: 1.5 }),
                (0.1, Distribution::Exponential { mean: Duration::from_micros(50_123) }),
            ])
            .unwrap(),
            loss: Probability::new(0.1).unwrap(),
            duplicate: Probability::new(0.012_345).unwrap(),
            fifo: true,
            bandwidth: Some(1_000_000),
        };
        let text = toml::to_string(&LinkChange::of(&model).to_toml()).unwrap();
        let spec: NetworkSpec = toml::from_str(&text).unwrap();
        assert_eq!(spec.link_model(), model, "{text}");
    }

    #[test]
    fn overrides_inherit_unnamed_fields() {
        let spec: NetworkSpec = toml::from_str(
            r#"
            loss = 0.5
            [[network.links]]
            "#
            .replace(
                "[[network.links]]",
                "[[links]]\nfrom = 0\nto = [1, 2]\nlatency = { dist = \"constant\", value = \"9ms\" }",
            )
            .as_str(),
        )
        .unwrap();
        let mut network = NetworkModel::new(spec.link_model());
        spec.apply_overrides(&mut network);
        let model = network.model(NodeId(0), NodeId(2));
        assert_eq!(model.latency, Distribution::Constant(Duration::from_millis(9)));
        assert_eq!(model.loss, Probability::new(0.5).unwrap(), "inherited");
        assert_eq!(network.model(NodeId(2), NodeId(0)).latency, spec.latency.0, "directed");
    }
}
