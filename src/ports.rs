//! Ports: the named inputs and outputs of regions and worlds, and the signals that one tick
//! carries through them. A port has a [`SignalKind`] and a width; edges join an output port to
//! an input port of the same kind (checked when a model is planned).

use std::borrow::Cow;

use crate::signal::{Signal, SignalKind};

/// The width of a port: fixed by the region's parameters, or taken from what is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Width {
    /// Exactly this many values per agent.
    Fixed(usize),
    /// Whatever the connected output carries (input ports only).
    Inferred,
}

impl std::fmt::Display for Width {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Width::Fixed(n) => write!(f, "{n}"),
            Width::Inferred => f.write_str("any"),
        }
    }
}

/// One port of a region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The port's name, as used in edges (`region.port`).
    pub name: &'static str,
    /// What the signal means.
    pub kind: SignalKind,
    /// Values per agent.
    pub width: Width,
    /// Whether the brain refuses to build when an input port has no edge into it.
    pub required: bool,
    /// One line for `valence regions`.
    pub doc: &'static str,
}

impl PortSpec {
    /// A required input.
    pub fn input(name: &'static str, kind: SignalKind, width: Width, doc: &'static str) -> Self {
        PortSpec {
            name,
            kind,
            width,
            required: true,
            doc,
        }
    }

    /// An optional input: absent means zeros.
    pub fn optional(name: &'static str, kind: SignalKind, width: Width, doc: &'static str) -> Self {
        PortSpec {
            name,
            kind,
            width,
            required: false,
            doc,
        }
    }

    /// An output of fixed width.
    pub fn output(name: &'static str, kind: SignalKind, width: usize, doc: &'static str) -> Self {
        PortSpec {
            name,
            kind,
            width: Width::Fixed(width),
            required: false,
            doc,
        }
    }
}

/// A region's inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct Ports {
    /// Input ports.
    pub inputs: Vec<PortSpec>,
    /// Output ports.
    pub outputs: Vec<PortSpec>,
}

impl Ports {
    /// Ports with these outputs and no inputs.
    pub fn outputs_only(outputs: Vec<PortSpec>) -> Self {
        Ports {
            inputs: Vec::new(),
            outputs,
        }
    }

    /// An input port by name.
    pub fn input(&self, name: &str) -> Option<&PortSpec> {
        self.inputs.iter().find(|p| p.name == name)
    }

    /// An output port by name.
    pub fn output(&self, name: &str) -> Option<&PortSpec> {
        self.outputs.iter().find(|p| p.name == name)
    }
}

/// The inputs of one tick: each connected port's signal (several edges into a port are summed).
/// A signal is owned or borrowed: the brain lends regions the outputs they read instead of
/// copying them.
#[derive(Debug, Default)]
pub struct Inputs<'a> {
    /// By port name, in name order (a region has a handful of ports: a sorted list is cheaper
    /// to build each tick than a map).
    signals: Vec<(&'static str, Cow<'a, Signal>)>,
}

impl<'a> Inputs<'a> {
    /// Sets a port's signal.
    pub fn insert(&mut self, port: &'static str, signal: Signal) {
        match self.position(port) {
            Ok(i) => self.signals[i].1 = Cow::Owned(signal),
            Err(i) => self.signals.insert(i, (port, Cow::Owned(signal))),
        }
    }

    /// Adds a signal into a port: set if the port has none yet, else summed with what it has
    /// (several edges into one port are summed, in edge order).
    pub fn add(&mut self, port: &'static str, signal: Signal) {
        self.add_signal(port, Cow::Owned(signal));
    }

    /// [`Inputs::add`] of a signal owned or borrowed (a borrowed one is copied only if it must
    /// be summed).
    pub fn add_signal(&mut self, port: &'static str, signal: Cow<'a, Signal>) {
        match self.position(port) {
            Ok(i) => {
                let summed = self.signals[i].1.add(&signal);
                self.signals[i].1 = Cow::Owned(summed);
            }
            Err(i) => self.signals.insert(i, (port, signal)),
        }
    }

    fn position(&self, port: &str) -> std::result::Result<usize, usize> {
        self.signals.binary_search_by(|(p, _)| (*p).cmp(port))
    }

    /// A port's signal, if connected.
    pub fn get(&self, port: &str) -> Option<&Signal> {
        self.position(port).ok().map(|i| &*self.signals[i].1)
    }

    /// The ports that carry a signal, in name order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.signals.iter().map(|(p, _)| *p)
    }
}

/// The outputs of one tick, by port name.
pub type Outputs = Vec<(&'static str, Signal)>;
