//! One block store per channel, under `<root>/<channel>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::sled_store::SledStore;
use crate::store::LedgerError;

/// The ledgers of a node, opened lazily and kept open.
#[derive(Debug)]
pub struct Ledgers {
    root: PathBuf,
    open: RwLock<BTreeMap<String, Arc<SledStore>>>,
}

impl Ledgers {
    /// Opens every ledger already present under `root`, creating `root` if needed.
    pub fn open(root: &Path) -> Result<Self, LedgerError> {
        std::fs::create_dir_all(root)
            .map_err(|e| LedgerError::Storage(format!("{}: {e}", root.display())))?;
        let me = Self {
            root: root.to_path_buf(),
            open: RwLock::new(BTreeMap::new()),
        };
        let entries = std::fs::read_dir(root)
            .map_err(|e| LedgerError::Storage(format!("{}: {e}", root.display())))?;
        for entry in entries.flatten() {
            if let (true, Some(name)) = (entry.path().is_dir(), entry.file_name().to_str()) {
                me.get_or_create(name)?;
            }
        }
        Ok(me)
    }

    /// The ledger of `channel`, if it exists.
    pub fn get(&self, channel: &str) -> Option<Arc<SledStore>> {
        self.open
            .read()
            .expect("ledgers lock")
            .get(channel)
            .cloned()
    }

    /// The ledger of `channel`, created empty if it does not exist.
    pub fn get_or_create(&self, channel: &str) -> Result<Arc<SledStore>, LedgerError> {
        if let Some(l) = self.get(channel) {
            return Ok(l);
        }
        if !valid_channel_name(channel) {
            return Err(LedgerError::Storage(format!(
                "invalid channel name {channel:?}"
            )));
        }
        let mut open = self.open.write().expect("ledgers lock");
        if let Some(l) = open.get(channel) {
            return Ok(l.clone());
        }
        let store = Arc::new(SledStore::open(&self.root.join(channel))?);
        open.insert(channel.to_string(), store.clone());
        Ok(store)
    }

    /// Names of the open ledgers, sorted.
    pub fn channels(&self) -> Vec<String> {
        self.open
            .read()
            .expect("ledgers lock")
            .keys()
            .cloned()
            .collect()
    }
}

/// Fabric's channel name rule: lower-case letters, digits, dots and dashes, starting with a letter, < 250 chars.
pub fn valid_channel_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() < 250
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}
