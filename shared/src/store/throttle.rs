use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{StoreError, from_item, keys, to_attrs};
use crate::table::{AttributeValue, Condition, Item, Table, TableError};

/// At most this many failure times are kept per subject.
const MAX_KEPT: usize = 100;
/// Attempts at an optimistic update before giving up.
const ATTEMPTS: usize = 5;

/// Recent failed logins per subject (an e-mail address or a source address), over a sliding
/// window. A subject's item expires (TTL) one window after its last failure.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    table: Arc<dyn Table>,
}

#[derive(Serialize, Deserialize, Default)]
struct Failures {
    version: u64,
    at: Vec<DateTime<Utc>>,
}

impl LoginThrottle {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    async fn read(&self, subject: &str) -> Result<Option<Failures>, StoreError> {
        self.table.get(&keys::login_throttle_across_tenants(subject)).await?.map(from_item).transpose()
    }

    /// Failures of `subject` in `(now - window, now]`, and when the oldest of them leaves the
    /// window.
    pub async fn recent_failures(
        &self,
        subject: &str,
        window: Duration,
        now: DateTime<Utc>,
    ) -> Result<(u32, Option<DateTime<Utc>>), StoreError> {
        let failures = self.read(subject).await?.unwrap_or_default();
        let mut recent: Vec<_> = failures.at.into_iter().filter(|t| *t > now - window && *t <= now).collect();
        recent.sort();
        let count = u32::try_from(recent.len()).unwrap_or(u32::MAX);
        Ok((count, recent.first().map(|t| *t + window)))
    }

    /// Counts one failure of `subject` now. Concurrent failures are each counted (optimistic
    /// concurrency, a few attempts).
    pub async fn record_failure(&self, subject: &str, window: Duration, now: DateTime<Utc>) -> Result<(), StoreError> {
        let key = keys::login_throttle_across_tenants(subject);
        for _ in 0..ATTEMPTS {
            let stored = self.read(subject).await?;
            let condition = match &stored {
                None => Condition::NotExists,
                Some(f) => {
                    Condition::AttrEquals { name: "version".into(), value: AttributeValue::N(f.version.to_string()) }
                }
            };
            let previous = stored.unwrap_or_default();
            let mut at: Vec<_> = previous.at.into_iter().filter(|t| *t > now - window).collect();
            at.push(now);
            at.sort();
            if at.len() > MAX_KEPT {
                at.drain(..at.len() - MAX_KEPT);
            }
            let next = Failures { version: previous.version + 1, at };
            let item = Item::new(key.clone(), to_attrs(&next)?).expiring_at(now + window);
            match self.table.put(item, Some(condition)).await {
                Ok(()) => return Ok(()),
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict("login throttle changed meanwhile"))
    }

    /// Forgets the failures of `subject` (after a successful login).
    pub async fn clear(&self, subject: &str) -> Result<(), StoreError> {
        Ok(self.table.delete(&keys::login_throttle_across_tenants(subject), None).await?)
    }
}
