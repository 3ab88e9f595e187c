//! The table port: a small DynamoDB-shaped interface over one table with a primary key
//! (`pk`, `sk`), one sparse secondary index (`gsi1pk`, `gsi1sk`) and a TTL attribute
//! (`expires_at`, epoch seconds).
//!
//! Two adapters keep one contract (tests/integration/table_contract.rs): [`DynamoTable`] and
//! [`EmbeddedTable`]. Both treat an item whose TTL has passed as absent, for reads and for
//! conditions alike, because DynamoDB deletes expired items only eventually.
//!
//! The table knows nothing of tenants; tenant scoping lives in [`crate::store`], which builds
//! every key.

mod counting;
mod cursor;
mod dynamo;
mod embedded;
mod workers;

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
pub use serde_dynamo::{AttributeValue, Item as Attributes};

pub use counting::{CountingTable, TableCounts};
pub use cursor::Cursor;
pub use dynamo::{DynamoTable, create_table as create_dynamo_table};
pub use embedded::EmbeddedTable;

/// Attribute names the adapters own; item attributes must not use them.
pub mod attr {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const GSI1_PK: &str = "gsi1pk";
    pub const GSI1_SK: &str = "gsi1sk";
    pub const EXPIRES_AT: &str = "expires_at";
    pub const ALL: [&str; 5] = [PK, SK, GSI1_PK, GSI1_SK, EXPIRES_AT];
}

/// The secondary index's name in DynamoDB.
pub const GSI1: &str = "gsi1";

/// DynamoDB's limits, enforced by both adapters so the embedded one cannot accept what AWS refuses.
pub mod limits {
    pub const BATCH_WRITE_ITEMS: usize = 25;
    pub const BATCH_GET_KEYS: usize = 100;
    pub const TRANSACTION_ITEMS: usize = 100;
    pub const ITEM_BYTES: usize = 400 * 1024;
    pub const KEY_BYTES: usize = 1024;
    pub const MAX_PAGE: u32 = 1000;
}

/// A primary key, or a secondary-index key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self { pk: pk.into(), sk: sk.into() }
    }
}

/// One stored row.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub key: Key,
    /// Present when the item belongs in the secondary index (the index is sparse).
    pub index_key: Option<Key>,
    /// After this instant the item is gone for every read and condition.
    pub expires_at: Option<DateTime<Utc>>,
    pub attrs: Attributes,
}

impl Item {
    pub fn new(key: Key, attrs: Attributes) -> Self {
        Self { key, index_key: None, expires_at: None, attrs }
    }

    pub fn with_index_key(mut self, key: Key) -> Self {
        self.index_key = Some(key);
        self
    }

    pub fn expiring_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    pub(crate) fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|t| t.timestamp() > now.timestamp())
    }
}

/// A precondition on the item stored under a key, checked atomically with the write.
/// An expired item counts as absent.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    NotExists,
    Exists,
    /// The item exists and its attribute equals the value (optimistic concurrency).
    AttrEquals {
        name: String,
        value: AttributeValue,
    },
}

/// One write of a transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum TransactWrite {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    /// Only checks a condition; writes nothing.
    Check {
        key: Key,
        condition: Condition,
    },
}

impl TransactWrite {
    fn key(&self) -> &Key {
        match self {
            Self::Put { item, .. } => &item.key,
            Self::Delete { key, .. } | Self::Check { key, .. } => key,
        }
    }
}

/// One write of a batch (unconditional).
#[derive(Clone, Debug, PartialEq)]
pub enum BatchWrite {
    Put(Item),
    Delete(Key),
}

impl BatchWrite {
    fn key(&self) -> &Key {
        match self {
            Self::Put(item) => &item.key,
            Self::Delete(key) => key,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    Primary,
    Gsi1,
}

/// Which sort keys of the partition to return. Bounds are inclusive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKeyRange {
    All,
    Prefix(String),
    Between { from: String, to: String },
    AtLeast(String),
    AtMost(String),
}

impl SortKeyRange {
    pub(crate) fn contains(&self, sk: &str) -> bool {
        match self {
            Self::All => true,
            Self::Prefix(p) => sk.starts_with(p.as_str()),
            Self::Between { from, to } => sk >= from.as_str() && sk <= to.as_str(),
            Self::AtLeast(from) => sk >= from.as_str(),
            Self::AtMost(to) => sk <= to.as_str(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    Ascending,
    Descending,
}

/// Items of one partition (of the table or of the index), in sort-key order, a page at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    pub range: SortKeyRange,
    pub order: Order,
    /// Page size, 1 to 1000.
    pub limit: u32,
    /// Where the previous page stopped.
    pub cursor: Option<Cursor>,
    /// Also items whose TTL has passed but that are still stored (deleting everything of a
    /// tenant); every other read ignores them.
    pub include_expired: bool,
}

impl Query {
    pub fn partition(partition: impl Into<String>) -> Self {
        Self {
            index: Index::Primary,
            partition: partition.into(),
            range: SortKeyRange::All,
            order: Order::Ascending,
            limit: 100,
            cursor: None,
            include_expired: false,
        }
    }

    /// See [`Query::include_expired`].
    pub fn including_expired(mut self) -> Self {
        self.include_expired = true;
        self
    }

    pub fn index(mut self, index: Index) -> Self {
        self.index = index;
        self
    }

    pub fn range(mut self, range: SortKeyRange) -> Self {
        self.range = range;
        self
    }

    pub fn prefix(self, prefix: impl Into<String>) -> Self {
        self.range(SortKeyRange::Prefix(prefix.into()))
    }

    pub fn descending(mut self) -> Self {
        self.order = Order::Descending;
        self
    }

    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
}

/// A page of results. Every page but the last holds `limit` items; `next` is `None` once nothing
/// follows (a last page may also come back empty).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub items: Vec<Item>,
    pub next: Option<Cursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("the write's condition does not hold")]
    ConditionFailed,
    /// Nothing of the transaction was written; the listed writes' conditions did not hold.
    #[error("transaction cancelled: conditions failed for writes {failed:?}")]
    TransactionCancelled { failed: Vec<usize> },
    #[error("invalid table request: {0}")]
    Invalid(String),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("stored item {pk}/{sk} is unreadable: {reason}")]
    Corrupt { pk: String, sk: String, reason: String },
    #[error("the table is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl TableError {
    pub(crate) fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// The table port. Every method but the batch ones is atomic.
#[async_trait]
pub trait Table: Send + Sync + std::fmt::Debug {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError>;

    /// Items that exist, in no particular order; missing keys are left out.
    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, TableError>;

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError>;

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError>;

    async fn query(&self, query: &Query) -> Result<Page, TableError>;

    /// Any number of unconditional writes, at most one per key; sent 25 at a time, with
    /// unprocessed writes retried. Not atomic as a whole.
    async fn batch_write(&self, writes: Vec<BatchWrite>) -> Result<(), TableError>;

    /// Up to 100 writes, at most one per key, applied all together or not at all.
    async fn transact(&self, writes: Vec<TransactWrite>) -> Result<(), TableError>;

    /// Deletes up to `limit` items whose TTL has passed, oldest first, and returns how many.
    /// Reads ignore them already; this reclaims their space where nothing else does (the
    /// embedded table). DynamoDB deletes them itself (TTL): 0 there.
    async fn purge_expired(&self, limit: usize) -> Result<usize, TableError> {
        let _ = limit;
        Ok(0)
    }
}

pub(crate) fn validate_key(key: &Key) -> Result<(), TableError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(TableError::Invalid("key parts must not be empty".into()));
    }
    if key.pk.len() > limits::KEY_BYTES || key.sk.len() > limits::KEY_BYTES {
        return Err(TableError::Invalid("key parts must be at most 1024 bytes".into()));
    }
    // The embedded store separates key parts with control bytes.
    if key.pk.chars().chain(key.sk.chars()).any(char::is_control) {
        return Err(TableError::Invalid("key parts must not contain control characters".into()));
    }
    Ok(())
}

pub(crate) fn validate_item(item: &Item) -> Result<(), TableError> {
    validate_key(&item.key)?;
    if let Some(k) = &item.index_key {
        validate_key(k)?;
    }
    if let Some(name) = item.attrs.keys().find(|k| attr::ALL.contains(&k.as_str())) {
        return Err(TableError::Invalid(format!("attribute name {name:?} is reserved")));
    }
    let size = serde_json::to_vec(&item.attrs).map(|v| v.len()).unwrap_or(usize::MAX);
    if size > limits::ITEM_BYTES {
        return Err(TableError::Invalid("item is larger than 400 KB".into()));
    }
    Ok(())
}

pub(crate) fn validate_query(query: &Query) -> Result<(), TableError> {
    if query.partition.is_empty() {
        return Err(TableError::Invalid("partition must not be empty".into()));
    }
    if query.limit == 0 || query.limit > limits::MAX_PAGE {
        return Err(TableError::Invalid("limit must be between 1 and 1000".into()));
    }
    Ok(())
}

pub(crate) fn ensure_distinct_keys<'a>(keys: impl Iterator<Item = &'a Key>) -> Result<(), TableError> {
    let mut seen = HashSet::new();
    for key in keys {
        validate_key(key)?;
        if !seen.insert(key) {
            return Err(TableError::Invalid(format!("key {}/{} appears twice in one request", key.pk, key.sk)));
        }
    }
    Ok(())
}

pub(crate) fn validate_transaction(writes: &[TransactWrite]) -> Result<(), TableError> {
    if writes.is_empty() || writes.len() > limits::TRANSACTION_ITEMS {
        return Err(TableError::Invalid("a transaction holds 1 to 100 writes".into()));
    }
    ensure_distinct_keys(writes.iter().map(TransactWrite::key))?;
    for w in writes {
        if let TransactWrite::Put { item, .. } = w {
            validate_item(item)?;
        }
    }
    Ok(())
}

pub(crate) fn validate_batch(writes: &[BatchWrite]) -> Result<(), TableError> {
    ensure_distinct_keys(writes.iter().map(BatchWrite::key))?;
    for w in writes {
        if let BatchWrite::Put(item) = w {
            validate_item(item)?;
        }
    }
    Ok(())
}
