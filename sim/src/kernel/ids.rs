//! The names every layer shares: a node's address, a timer's handle, and what a message
//! must be. A leaf module: it imports nothing of the kernel, so the modules that use these
//! (context, faults, network, history, workload, observations, the engine) form a tree.

use std::fmt;
use std::hash::Hash;

/// A node's address. Nodes are numbered from 0 in the order they were added.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The id as an index into per-node tables.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A pending timer, returned by `set_timer`, for cancelling it.
///
/// Ids are never reused while the timer is pending; cancelling a timer that already fired
/// or was cancelled does nothing. What the timer means is its payload (the protocol's
/// [`Message::Timer`]), handed to `on_timer` when it fires: no node keeps a map from ids to
/// meanings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

/// A closed set of names a protocol declares, as an enum: its message kinds
/// ([`Message::Kind`]), its roles (`Ctx::set_role`, `System::ROLES`). Scenarios and reports
/// use the names; protocol code uses the variants, so a name it reports is one it declared.
/// Declare one with [`names!`](crate::names); `()` is the empty set.
pub trait Names: Copy + fmt::Debug + PartialEq + 'static {
    /// Every name, in declaration order.
    const NAMES: &'static [&'static str];

    /// This variant's name.
    fn name(self) -> &'static str;
}

/// No names: a protocol without message kinds of its own (`type Kind = ();`).
impl Names for () {
    const NAMES: &'static [&'static str] = &[];

    fn name(self) -> &'static str {
        ""
    }
}

/// Declares a closed set of names: an enum whose variants carry the names scenarios and
/// reports use, and its [`Names`] impl.
///
/// ```
/// sim::names! {
///     /// A lease's roles.
///     pub enum Role {
///         /// Holds the lease.
///         Leader = "leader",
///         /// Follows it.
///         Follower = "follower",
///     }
/// }
/// use sim::kernel::ids::Names;
/// assert_eq!(Role::NAMES, &["leader", "follower"]);
/// assert_eq!(Role::Follower.name(), "follower");
/// ```
#[macro_export]
macro_rules! names {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$variant_meta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        $vis enum $name {
            $($(#[$variant_meta])* $variant),+
        }

        impl $crate::kernel::ids::Names for $name {
            const NAMES: &'static [&'static str] = &[$($text),+];

            fn name(self) -> &'static str {
                Self::NAMES[self as usize]
            }
        }
    };
}

/// A protocol's vocabulary: what goes over the simulated wire, and what its timers mean.
///
/// `Hash` feeds the trace hash (a message's digest is part of every delivery event);
/// `Clone` is for duplication; `Debug` is for traces and divergence reports.
pub trait Message: Clone + fmt::Debug + Hash + 'static {
    /// A timer's payload, as stateright's `Actor::Timer`: set with the timer, handed back
    /// to `on_timer` when it fires (an enum of the protocol's timeouts, say). `()` for a
    /// protocol whose timers all mean the same thing.
    type Timer: fmt::Debug + 'static;

    /// Its message kinds, for latencies per kind (`[network.kinds]` in a scenario: PBS's W,
    /// A, R and S are the latencies of four kinds), declared with [`names!`](crate::names);
    /// `()` for none.
    type Kind: Names;

    /// This message's kind; consulted only when a kind has a latency of its own. Default:
    /// none.
    fn kind(&self) -> Option<Self::Kind> {
        None
    }

    /// Bytes on the wire, for bandwidth limits. Defaults to the in-memory size; override it
    /// when payloads live behind pointers and bandwidth matters.
    fn wire_size(&self) -> u64 {
        std::mem::size_of::<Self>() as u64
    }
}

/// The name of a message's kind, `""` if it has none: what the network looks latencies up by.
pub(crate) fn kind_name<M: Message>(msg: &M) -> &'static str {
    msg.kind().map_or("", Names::name)
}
