//! The PBXs a simulator hosts, by name.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::SimError;
use crate::pbx::Pbx;
use crate::spec::PbxSpec;

#[derive(Default)]
pub(crate) struct Registry {
    pbxs: RwLock<HashMap<Box<str>, Arc<Pbx>>>,
}

impl Registry {
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Pbx>> {
        self.read().get(name).cloned()
    }

    /// Adds the PBXs, replacing any of the same name (counters and sessions start afresh).
    /// Nothing is added unless every spec is valid.
    pub(crate) fn insert(&self, specs: Vec<PbxSpec>) -> Result<(), SimError> {
        let pbxs = specs.into_iter().map(Pbx::new).collect::<Result<Vec<_>, _>>()?;
        let mut map = self.write();
        map.reserve(pbxs.len());
        for pbx in pbxs {
            map.insert(pbx.spec.name.as_str().into(), Arc::new(pbx));
        }
        Ok(())
    }

    pub(crate) fn remove(&self, name: &str) -> bool {
        self.write().remove(name).is_some()
    }

    /// All names, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().keys().map(|name| name.to_string()).collect();
        names.sort_unstable();
        names
    }

    fn read(&self) -> RwLockReadGuard<'_, HashMap<Box<str>, Arc<Pbx>>> {
        self.pbxs.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<Box<str>, Arc<Pbx>>> {
        self.pbxs.write().unwrap_or_else(PoisonError::into_inner)
    }
}
