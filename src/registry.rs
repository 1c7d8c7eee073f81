//! A registry of kinds, found by name: the built-in ones (a static table, one line per kind) and
//! those registered at run time from outside the crate, which go through the same path.
//! Regions, worlds and probes each keep one.

use std::sync::RwLock;

use crate::error::{Error, Result};

/// A registry entry: a kind with a name (`kind = "…"` in files).
pub trait Named: Copy + Send + Sync + 'static {
    /// The name files use.
    fn name(&self) -> &'static str;
}

/// The kinds of one family (regions, worlds or probes).
pub struct Registry<K: Named> {
    /// What the kinds are, for messages ("region", "world", "probe").
    what: &'static str,
    built_in: &'static [K],
    registered: RwLock<Vec<K>>,
}

impl<K: Named> Registry<K> {
    /// A registry of the built-in kinds `built_in`.
    pub const fn new(what: &'static str, built_in: &'static [K]) -> Self {
        Registry {
            what,
            built_in,
            registered: RwLock::new(Vec::new()),
        }
    }

    /// Every kind: the built-in ones, then the registered ones in the order they came.
    pub fn all(&self) -> Vec<K> {
        let registered = self.registered.read().unwrap_or_else(|e| e.into_inner());
        self.built_in.iter().chain(registered.iter()).copied().collect()
    }

    /// A kind by name.
    pub fn named(&self, name: &str) -> Option<K> {
        self.all().into_iter().find(|k| k.name() == name)
    }

    /// Every kind's name, built-in first.
    pub fn names(&self) -> Vec<&'static str> {
        self.all().iter().map(Named::name).collect()
    }

    /// Adds a kind from outside the crate; a later one of the same name replaces the earlier.
    /// Built-in names cannot be replaced.
    pub fn register(&self, kind: K) -> Result<()> {
        let name = kind.name();
        if self.built_in.iter().any(|k| k.name() == name) {
            return Err(Error::Run(format!("`{name}` is a built-in {} kind", self.what)));
        }
        let mut list = self.registered.write().unwrap_or_else(|e| e.into_inner());
        list.retain(|k| k.name() != name);
        list.push(kind);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Kind(&'static str, u8);

    impl Named for Kind {
        fn name(&self) -> &'static str {
            self.0
        }
    }

    static KINDS: Registry<Kind> = Registry::new("test", &[Kind("a", 0), Kind("b", 0)]);

    #[test]
    fn registered_kinds_follow_the_built_in_ones_and_replace_their_namesakes() {
        assert!(KINDS.register(Kind("a", 1)).is_err(), "a built-in name");
        KINDS.register(Kind("c", 1)).unwrap();
        KINDS.register(Kind("c", 2)).unwrap();
        assert_eq!(KINDS.names(), ["a", "b", "c"]);
        assert_eq!(KINDS.named("c"), Some(Kind("c", 2)));
        assert_eq!(KINDS.named("a"), Some(Kind("a", 0)));
        assert_eq!(KINDS.named("d"), None);
    }
}
