//! Regions defined outside this crate. A user crate implements [`Region`] and a parameter
//! struct, then registers the kind once at start-up with [`register`]; model files may then
//! name it (`kind = "novelty"`) like a built-in, with the same checks: unknown parameters
//! rejected with a "did you mean", wrong types located, ports wired and size-checked.
//! `examples/custom_region.rs` is a complete one.

use std::sync::{Arc, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{BuildContext, ParamError, Ports, Region};
use crate::error::Result;

/// What the brain needs to know of a region kind that lives outside the crate. Parameters
/// travel as a TOML table; [`Extension`] does the typing for you.
pub trait RegionFactory: Send + Sync {
    /// The `kind = "…"` name.
    fn name(&self) -> &str;
    /// One line: what it models.
    fn summary(&self) -> &str;
    /// The equation sheet: what it models, its updates, ports, parameters and the paper.
    fn detail(&self) -> &str;
    /// Every parameter at its default.
    fn defaults(&self) -> toml::Table;
    /// Reads the parameters (without `kind`) from a spanned TOML table, unknown keys rejected;
    /// the result is the complete table (defaults filled in).
    fn parse(&self, de: toml::de::ValueDeserializer<'_>) -> Result<toml::Table, toml::de::Error>;
    /// The ports these parameters give.
    fn ports(&self, params: &toml::Table) -> Ports;
    /// Checks ranges.
    fn check(&self, params: &toml::Table) -> Result<(), ParamError>;
    /// Builds the region for a population.
    fn build(&self, params: &toml::Table, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>>;
}

/// A typed region kind: `C` is its parameter struct (serde, `#[serde(default,
/// deny_unknown_fields)]`, `Default`), `R` the region.
pub struct Extension<C, R> {
    /// The `kind = "…"` name.
    pub name: &'static str,
    /// One line: what it models.
    pub summary: &'static str,
    /// The equation sheet.
    pub detail: &'static str,
    /// The ports for some parameters.
    pub ports: fn(&C) -> Ports,
    /// Range checks.
    pub check: fn(&C) -> Result<(), ParamError>,
    /// Construction for a population.
    pub build: fn(&C, &BuildContext<'_>) -> Result<R>,
}

impl<C, R> Extension<C, R>
where
    C: Serialize + DeserializeOwned + Default,
{
    fn typed(&self, params: &toml::Table) -> Result<C, ParamError> {
        toml::Value::Table(params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| ParamError::new("parameters", e.message().trim().to_string()))
    }
}

impl<C, R> RegionFactory for Extension<C, R>
where
    C: Serialize + DeserializeOwned + Default + Send + Sync,
    R: Region + 'static,
{
    fn name(&self) -> &str {
        self.name
    }

    fn summary(&self) -> &str {
        self.summary
    }

    fn detail(&self) -> &str {
        self.detail
    }

    fn defaults(&self) -> toml::Table {
        toml::Table::try_from(C::default()).expect("parameters serialise to a TOML table")
    }

    fn parse(&self, de: toml::de::ValueDeserializer<'_>) -> Result<toml::Table, toml::de::Error> {
        let c = C::deserialize(de)?;
        Ok(toml::Table::try_from(c).expect("parameters serialise to a TOML table"))
    }

    fn ports(&self, params: &toml::Table) -> Ports {
        self.typed(params).map(|c| (self.ports)(&c)).unwrap_or_default()
    }

    fn check(&self, params: &toml::Table) -> Result<(), ParamError> {
        (self.check)(&self.typed(params)?)
    }

    fn build(&self, params: &toml::Table, ctx: &BuildContext<'_>) -> Result<Box<dyn Region>> {
        let c = self
            .typed(params)
            .map_err(|e| crate::Error::Run(format!("{}: {}", self.name, e.expected)))?;
        Ok(Box::new((self.build)(&c, ctx)?))
    }
}

static EXTENSIONS: RwLock<Vec<Arc<dyn RegionFactory>>> = RwLock::new(Vec::new());

/// Registers a region kind defined outside the crate; a later registration of the same name
/// replaces the earlier one. Built-in names cannot be replaced.
pub fn register(factory: impl RegionFactory + 'static) -> Result<()> {
    let name = factory.name().to_string();
    if super::kind_named(&name).is_some() {
        return Err(crate::Error::Run(format!("`{name}` is a built-in region kind")));
    }
    let mut list = EXTENSIONS.write().expect("registry lock");
    list.retain(|f| f.name() != name);
    list.push(Arc::new(factory));
    Ok(())
}

/// A registered extension by name.
pub fn extension(name: &str) -> Option<Arc<dyn RegionFactory>> {
    EXTENSIONS
        .read()
        .expect("registry lock")
        .iter()
        .find(|f| f.name() == name)
        .cloned()
}

/// The names of all registered extensions.
pub fn extension_names() -> Vec<String> {
    EXTENSIONS
        .read()
        .expect("registry lock")
        .iter()
        .map(|f| f.name().to_string())
        .collect()
}
