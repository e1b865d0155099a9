//! Chaincodes by name, as the peer looks them up when a proposal names one.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::basic::Basic;
use crate::kv::Kv;
use crate::lifecycle::{LIFECYCLE, Lifecycle};
use crate::stub::Chaincode;

/// Chaincodes by name.
#[derive(Clone, Default)]
pub struct Registry {
    chaincodes: BTreeMap<String, Arc<dyn Chaincode>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The built-in chaincodes: `basic`, `kv` and `_lifecycle`.
    pub fn builtin() -> Self {
        let mut registry = Self::new();
        registry.register(crate::basic::NAME, Arc::new(Basic));
        registry.register(crate::kv::NAME, Arc::new(Kv));
        registry.register(LIFECYCLE, Arc::new(Lifecycle));
        registry
    }

    /// Adds `cc` under `name`, replacing any chaincode registered under that name.
    pub fn register(&mut self, name: &str, cc: Arc<dyn Chaincode>) {
        self.chaincodes.insert(name.to_owned(), cc);
    }

    /// The chaincode registered under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Chaincode>> {
        self.chaincodes.get(name).cloned()
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.chaincodes.keys().cloned().collect()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("names", &self.names())
            .finish()
    }
}
