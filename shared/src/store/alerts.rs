use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{StoreError, from_item, keys, to_attrs};
use crate::alerts::{Alert, AlertKind, AlertSettings, AlertStatus, InstanceAlerts};
use crate::domain::{AlertId, InstanceId, TenantId};
use crate::table::{
    AttributeValue, BatchWrite, Condition, Index, Item, Query, SortKeyRange, Table, TableError, TransactWrite, limits,
};

/// Items read per page while filtering a list, and pages read per request at most; a request
/// that reads them all without filling its page returns what it found and where to go on.
const FILTER_PAGE: u32 = 200;
const FILTER_PAGES: usize = 10;

/// Which alerts to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertFilter {
    pub status: Option<AlertStatus>,
    pub instance: Option<InstanceId>,
    pub kind: Option<AlertKind>,
}

impl AlertFilter {
    fn matches(&self, alert: &Alert) -> bool {
        self.status.is_none_or(|s| alert.status == s)
            && self.instance.as_ref().is_none_or(|i| alert.instance_id == *i)
            && self.kind.is_none_or(|k| alert.kind == k)
    }
}

/// A page of alerts, newest first, and the id to continue before.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertPage {
    pub items: Vec<Alert>,
    pub next: Option<AlertId>,
}

/// What the evaluator needs about an instance, read together: its kept state (at revision 0
/// when never written) and the tenant's alert settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvaluationInputs {
    pub state: InstanceAlerts,
    pub settings: AlertSettings,
}

/// Alerts, the evaluator's per-instance state, and each tenant's alert settings.
///
/// An active alert's record lives twice: in its instance's [`InstanceAlerts`] item (what the
/// evaluator and users change, under the item's revision) and as its own item (what lists and
/// exports read). Both are written in one transaction.
#[derive(Debug, Clone)]
pub struct Alerts {
    table: Arc<dyn Table>,
}

fn alert_item(alert: &Alert) -> Result<Item, StoreError> {
    let active = alert.status.is_active();
    Ok(Item::new(keys::alert(&alert.tenant_id, &alert.id), to_attrs(alert)?).with_index_key(keys::alert_status_entry(
        &alert.tenant_id,
        &alert.id,
        active,
    )))
}

fn revision_condition(revision: u64) -> Condition {
    if revision == 0 {
        Condition::NotExists
    } else {
        Condition::AttrEquals { name: "revision".into(), value: AttributeValue::N(revision.to_string()) }
    }
}

impl Alerts {
    pub fn new(table: Arc<dyn Table>) -> Self {
        Self { table }
    }

    /// The instance's kept state and the tenant's settings, in one read.
    pub async fn evaluation_inputs(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
    ) -> Result<EvaluationInputs, StoreError> {
        let state_key = keys::alert_state(tenant, instance);
        let settings_key = keys::alert_settings(tenant);
        let mut inputs = EvaluationInputs::default();
        for item in self.table.batch_get(&[state_key.clone(), settings_key]).await? {
            if item.key == state_key {
                inputs.state = from_item(item)?;
            } else {
                inputs.settings = from_item(item)?;
            }
        }
        Ok(inputs)
    }

    pub async fn state(&self, tenant: &TenantId, instance: &InstanceId) -> Result<InstanceAlerts, StoreError> {
        match self.table.get(&keys::alert_state(tenant, instance)).await? {
            Some(item) => from_item(item),
            None => Ok(InstanceAlerts::default()),
        }
    }

    /// Writes `next` over the state read at `read.revision` (a conflict if it was written
    /// meanwhile), with the changed alert records and `extra` items (deliveries), all or
    /// nothing. Returns the state as written (at the next revision).
    ///
    /// More than a transaction holds (100 writes: many alerts changing at once) writes the
    /// records and extra items first, then the state: their keys are derived from what
    /// changed, so a retry after a conflict writes the same items again.
    pub async fn commit(
        &self,
        tenant: &TenantId,
        instance: &InstanceId,
        read_revision: u64,
        next: &InstanceAlerts,
        changed: &[Alert],
        extra: Vec<Item>,
    ) -> Result<InstanceAlerts, StoreError> {
        let written = InstanceAlerts { revision: read_revision + 1, ..next.clone() };
        let state = Item::new(keys::alert_state(tenant, instance), to_attrs(&written)?);
        let mut others = changed.iter().map(alert_item).collect::<Result<Vec<_>, _>>()?;
        others.extend(extra);
        let condition = Some(revision_condition(read_revision));
        let result = if others.len() < limits::TRANSACTION_ITEMS {
            let mut writes = vec![TransactWrite::Put { item: state, condition }];
            writes.extend(others.into_iter().map(|item| TransactWrite::Put { item, condition: None }));
            self.table.transact(writes).await
        } else {
            self.table.batch_write(others.into_iter().map(BatchWrite::Put).collect()).await?;
            self.table.put(state, condition).await
        };
        match result {
            Ok(()) => Ok(written),
            Err(TableError::ConditionFailed | TableError::TransactionCancelled { .. }) => {
                Err(StoreError::Conflict("the instance's alerts were changed meanwhile"))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, tenant: &TenantId, id: &AlertId) -> Result<Option<Alert>, StoreError> {
        self.table.get(&keys::alert(tenant, id)).await?.map(from_item).transpose()
    }

    /// The tenant's alerts that match `filter`, newest first, `limit` at most, starting after
    /// `before`. Open and acknowledged alerts are read from the active index, resolved ones
    /// from the resolved index, all of them from the alerts partition; instance and kind are
    /// filtered while reading (at most 2,000 items per call: a sparse match may return a
    /// short page with a `next` to go on from).
    pub async fn list(
        &self,
        tenant: &TenantId,
        filter: &AlertFilter,
        limit: usize,
        before: Option<&AlertId>,
    ) -> Result<AlertPage, StoreError> {
        let (index, partition) = match filter.status {
            None => (Index::Primary, keys::alerts_of(tenant)),
            Some(status) => (Index::Gsi1, keys::alerts_by_status(tenant, status.is_active())),
        };
        let mut items = Vec::new();
        let mut from = before.cloned();
        for _ in 0..FILTER_PAGES {
            let mut query = Query::partition(partition.clone()).index(index).descending().limit(FILTER_PAGE);
            if let Some(id) = &from {
                query = query.range(SortKeyRange::AtMost(id.as_str().to_owned()));
            }
            let page = self.table.query(&query).await?;
            let exhausted = page.next.is_none();
            for item in page.items {
                let alert: Alert = from_item(item)?;
                if from.as_ref() == Some(&alert.id) {
                    continue;
                }
                from = Some(alert.id.clone());
                if filter.matches(&alert) {
                    items.push(alert);
                    if items.len() == limit {
                        return Ok(AlertPage { next: from, items });
                    }
                }
            }
            if exhausted {
                return Ok(AlertPage { items, next: None });
            }
        }
        Ok(AlertPage { items, next: from })
    }

    /// Every alert of the tenant opened in `[from, to]`, oldest first.
    pub async fn opened_between(
        &self,
        tenant: &TenantId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Alert>, StoreError> {
        let (first, last) = AlertId::range_opened(from, to);
        let mut alerts = Vec::new();
        let mut cursor = None;
        loop {
            let query = Query::partition(keys::alerts_of(tenant))
                .range(SortKeyRange::Between { from: first.clone(), to: last.clone() })
                .limit(FILTER_PAGE)
                .after(cursor);
            let page = self.table.query(&query).await?;
            for item in page.items {
                alerts.push(from_item::<Alert>(item)?);
            }
            cursor = page.next;
            if cursor.is_none() {
                return Ok(alerts);
            }
        }
    }

    /// Changes an active alert through its instance's state: `change` gets the state and
    /// returns the changed record, or `None` when the alert is no longer active there (then:
    /// a conflict if it was resolved, not found otherwise). Retried on concurrent writes.
    pub async fn update_active(
        &self,
        tenant: &TenantId,
        id: &AlertId,
        change: impl Fn(&mut InstanceAlerts) -> Option<Alert>,
    ) -> Result<Alert, StoreError> {
        let alert = self.get(tenant, id).await?.ok_or(StoreError::NotFound)?;
        for _ in 0..3 {
            let mut state = self.state(tenant, &alert.instance_id).await?;
            let read = state.revision;
            let Some(changed) = change(&mut state) else {
                return match self.get(tenant, id).await? {
                    Some(a) if a.status == AlertStatus::Resolved => Err(StoreError::Conflict("the alert is resolved")),
                    _ => Err(StoreError::NotFound),
                };
            };
            match self
                .commit(tenant, &alert.instance_id, read, &state, std::slice::from_ref(&changed), Vec::new())
                .await
            {
                Ok(_) => return Ok(changed),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict("the instance's alerts keep changing"))
    }

    pub async fn settings(&self, tenant: &TenantId) -> Result<AlertSettings, StoreError> {
        match self.table.get(&keys::alert_settings(tenant)).await? {
            Some(item) => from_item(item),
            None => Ok(AlertSettings::default()),
        }
    }

    /// Reads the settings, applies `change` and writes them at the next revision; starts over
    /// if they were written meanwhile (up to 3 times). `change` may refuse with an error,
    /// returned as is.
    pub async fn update_settings<T>(
        &self,
        tenant: &TenantId,
        change: impl Fn(&mut AlertSettings) -> Result<T, StoreError>,
    ) -> Result<(AlertSettings, T), StoreError> {
        for _ in 0..3 {
            let mut settings = self.settings(tenant).await?;
            let read = settings.revision;
            let out = change(&mut settings)?;
            settings.revision = read + 1;
            let item = Item::new(keys::alert_settings(tenant), to_attrs(&settings)?);
            match self.table.put(item, Some(revision_condition(read))).await {
                Ok(()) => return Ok((settings, out)),
                Err(TableError::ConditionFailed) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict("the alert settings keep changing"))
    }
}
