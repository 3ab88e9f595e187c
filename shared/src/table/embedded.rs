//! The embedded adapter: one redb file under the data directory.
//!
//! Layout: `items` maps `pk \0 sk` to the item; `gsi1` maps `gsi1pk \0 gsi1sk \0 pk \0 sk` to
//! nothing (the index of the sparse secondary key); `expiry` maps `expires_at (8 bytes, big
//! endian, sign-flipped) pk \0 sk` to nothing, so expired items can be deleted in order.
//! Key parts never hold control characters, so `\0` sorts before any of their bytes and byte
//! order equals DynamoDB's (pk, sk) order.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::workers::Workers;
use super::{
    Attributes, BatchWrite, Condition, Cursor, Index, Item, Key, Order, Page, Query, SortKeyRange, Table, TableError,
    TransactWrite, cursor::Resume,
};
use crate::clock::Clock;

/// The page cache: the hot items of a 10,000-instance fleet (instances, credentials, tokens)
/// fit; colder pages come from the operating system's cache. 64 MiB took a 10,000-instance
/// poll process to 255 MiB after six cycles, 32 MiB keeps it well under 256 MiB.
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<&[u8], &[u8]> = TableDefinition::new("gsi1");
const EXPIRY: TableDefinition<&[u8], &[u8]> = TableDefinition::new("expiry");

/// The table in one local file. Honours conditions, TTL and the secondary index like DynamoDB.
#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
    clock: Arc<dyn Clock>,
    /// Threads for reads, and for writes: redb writes one transaction at a time, and reads must
    /// not queue behind a burst of durable commits.
    readers: Arc<Workers>,
    writers: Arc<Workers>,
}

/// Threads reading the file, so reads running at once.
const READ_THREADS: usize = 6;
/// Threads writing: one commits while the other prepares its transaction.
const WRITE_THREADS: usize = 2;

impl std::fmt::Debug for EmbeddedTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedTable").finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ik: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    attrs: Attributes,
}

fn store_err(e: impl Into<redb::Error>) -> TableError {
    TableError::unavailable(e.into())
}

fn join<A: AsRef<[u8]>>(parts: &[A]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(0);
        }
        out.extend_from_slice(part.as_ref());
    }
    out
}

fn item_key(key: &Key) -> Vec<u8> {
    join(&[&key.pk, &key.sk])
}

fn index_entry(index_key: &Key, key: &Key) -> Vec<u8> {
    join(&[&index_key.pk, &index_key.sk, &key.pk, &key.sk])
}

fn expiry_entry(secs: i64, key: &Key) -> Vec<u8> {
    let mut out = ((secs as u64) ^ (1 << 63)).to_be_bytes().to_vec();
    out.extend_from_slice(&item_key(key));
    out
}

fn split_key(bytes: &[u8]) -> Option<Key> {
    let s = std::str::from_utf8(bytes).ok()?;
    let parts: Vec<&str> = s.split('\0').collect();
    match parts.as_slice() {
        [.., pk, sk] => Some(Key::new(*pk, *sk)),
        _ => None,
    }
}

fn decode(key: Key, bytes: &[u8]) -> Result<Item, TableError> {
    let stored: Stored = serde_json::from_slice(bytes).map_err(|e| TableError::Corrupt {
        pk: key.pk.clone(),
        sk: key.sk.clone(),
        reason: e.to_string(),
    })?;
    Ok(Item {
        key,
        index_key: stored.ik.map(|(pk, sk)| Key::new(pk, sk)),
        expires_at: stored.exp.and_then(|s| DateTime::from_timestamp(s, 0)),
        attrs: stored.attrs,
    })
}

fn encode(item: &Item) -> Result<Vec<u8>, TableError> {
    let stored = Stored {
        ik: item.index_key.as_ref().map(|k| (k.pk.clone(), k.sk.clone())),
        exp: item.expires_at.map(|t| t.timestamp()),
        attrs: item.attrs.clone(),
    };
    serde_json::to_vec(&stored).map_err(|e| TableError::Invalid(e.to_string()))
}

/// The smallest byte string greater than every string starting with `prefix`.
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < u8::MAX {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

fn upper_after(bytes: Vec<u8>) -> Bound<Vec<u8>> {
    successor(&bytes).map_or(Bound::Unbounded, Bound::Excluded)
}

/// Byte bounds of the query's partition, range and cursor in the table it reads.
fn bounds(query: &Query, resume: Option<&Resume>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let mut part = query.partition.as_bytes().to_vec();
    part.push(0);
    let with = |s: &str| {
        let mut v = part.clone();
        v.extend_from_slice(s.as_bytes());
        v
    };
    // Every key whose sort part is `to` or sorts before it: `to` followed by `\0` (index
    // entries) or nothing (items) sorts below `to \x01`.
    let through = |to: &str| {
        let mut v = with(to);
        v.push(1);
        Bound::Excluded(v)
    };
    let (mut lo, mut hi) = match &query.range {
        SortKeyRange::All => (Bound::Included(part.clone()), upper_after(part.clone())),
        SortKeyRange::Prefix(p) => (Bound::Included(with(p)), upper_after(with(p))),
        SortKeyRange::Between { from, to } => (Bound::Included(with(from)), through(to)),
        SortKeyRange::AtLeast(from) => (Bound::Included(with(from)), upper_after(part.clone())),
        SortKeyRange::AtMost(to) => (Bound::Included(part.clone()), through(to)),
    };
    if let Some(resume) = resume {
        let at = match &resume.index_key {
            Some(ik) => index_entry(ik, &resume.key),
            None => item_key(&resume.key),
        };
        match query.order {
            Order::Ascending => lo = Bound::Excluded(at),
            Order::Descending => hi = Bound::Excluded(at),
        }
    }
    (lo, hi)
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn holds(condition: Option<&Condition>, existing: Option<&Item>) -> bool {
    match condition {
        None => true,
        Some(Condition::NotExists) => existing.is_none(),
        Some(Condition::Exists) => existing.is_some(),
        Some(Condition::AttrEquals { name, value }) => existing.and_then(|i| i.attrs.get(name)) == Some(value),
    }
}

struct Tables<'t> {
    items: redb::Table<'t, &'static [u8], &'static [u8]>,
    gsi1: redb::Table<'t, &'static [u8], &'static [u8]>,
    expiry: redb::Table<'t, &'static [u8], &'static [u8]>,
}

impl Tables<'_> {
    fn open(txn: &redb::WriteTransaction) -> Result<Tables<'_>, TableError> {
        Ok(Tables {
            items: txn.open_table(ITEMS).map_err(store_err)?,
            gsi1: txn.open_table(GSI1).map_err(store_err)?,
            expiry: txn.open_table(EXPIRY).map_err(store_err)?,
        })
    }

    /// The stored item, expired or not.
    fn load(&self, key: &Key) -> Result<Option<Item>, TableError> {
        match self.items.get(item_key(key).as_slice()).map_err(store_err)? {
            Some(v) => decode(key.clone(), v.value()).map(Some),
            None => Ok(None),
        }
    }

    fn live(&self, key: &Key, now: DateTime<Utc>) -> Result<Option<Item>, TableError> {
        Ok(self.load(key)?.filter(|i| i.is_live(now)))
    }

    fn remove(&mut self, key: &Key) -> Result<(), TableError> {
        if let Some(old) = self.load(key)? {
            if let Some(ik) = &old.index_key {
                self.gsi1.remove(index_entry(ik, key).as_slice()).map_err(store_err)?;
            }
            if let Some(exp) = old.expires_at {
                self.expiry.remove(expiry_entry(exp.timestamp(), key).as_slice()).map_err(store_err)?;
            }
            self.items.remove(item_key(key).as_slice()).map_err(store_err)?;
        }
        Ok(())
    }

    fn write(&mut self, item: &Item) -> Result<(), TableError> {
        let bytes = encode(item)?;
        self.remove(&item.key)?;
        self.items.insert(item_key(&item.key).as_slice(), bytes.as_slice()).map_err(store_err)?;
        if let Some(ik) = &item.index_key {
            self.gsi1.insert(index_entry(ik, &item.key).as_slice(), [].as_slice()).map_err(store_err)?;
        }
        if let Some(exp) = item.expires_at {
            self.expiry
                .insert(expiry_entry(exp.timestamp(), &item.key).as_slice(), [].as_slice())
                .map_err(store_err)?;
        }
        Ok(())
    }
}

impl EmbeddedTable {
    /// Opens (or creates) the table file, with a page cache of at most [`CACHE_BYTES`].
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, TableError> {
        let db = redb::Builder::new().set_cache_size(CACHE_BYTES).create(path).map_err(store_err)?;
        let txn = db.begin_write().map_err(store_err)?;
        drop(Tables::open(&txn)?);
        txn.commit().map_err(store_err)?;
        let readers = Workers::start("sikurd-table-read", READ_THREADS).map_err(TableError::unavailable)?;
        let writers = Workers::start("sikurd-table-write", WRITE_THREADS).map_err(TableError::unavailable)?;
        Ok(Self { db: Arc::new(db), clock, readers: Arc::new(readers), writers: Arc::new(writers) })
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database, DateTime<Utc>) -> Result<T, TableError> + Send + 'static,
    ) -> Result<T, TableError> {
        let db = Arc::clone(&self.db);
        let now = self.clock.now();
        self.readers.run(move || f(&db, now)).await?
    }

    async fn write_txn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tables<'_>, DateTime<Utc>) -> Result<T, TableError> + Send + 'static,
    ) -> Result<T, TableError> {
        let db = Arc::clone(&self.db);
        let now = self.clock.now();
        self.writers
            .run(move || {
                let txn = db.begin_write().map_err(store_err)?;
                let out = {
                    let mut tables = Tables::open(&txn)?;
                    f(&mut tables, now)?
                };
                txn.commit().map_err(store_err)?;
                Ok(out)
            })
            .await?
    }
}

impl EmbeddedTable {
    /// Every stored item, expired or not, in key order: what the file holds, item by item
    /// (inspection and tests; no read path of the store uses it).
    pub async fn all_items(&self) -> Result<Vec<Item>, TableError> {
        self.read(|db, _| {
            let txn = db.begin_read().map_err(store_err)?;
            let items = txn.open_table(ITEMS).map_err(store_err)?;
            let mut all = Vec::new();
            for entry in items.iter().map_err(store_err)? {
                let (k, v) = entry.map_err(store_err)?;
                if let Some(key) = split_key(k.value()) {
                    all.push(decode(key, v.value())?);
                }
            }
            Ok(all)
        })
        .await
    }
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn purge_expired(&self, limit: usize) -> Result<usize, TableError> {
        self.write_txn(move |t, now| {
            let stop = expiry_entry(now.timestamp() + 1, &Key::new("", ""));
            let mut due = Vec::new();
            for entry in t.expiry.range::<&[u8]>(..stop.as_slice()).map_err(store_err)?.take(limit) {
                let (k, _) = entry.map_err(store_err)?;
                if let Some(key) = k.value().get(8..).and_then(split_key) {
                    due.push(key);
                }
            }
            for key in &due {
                t.remove(key)?;
            }
            Ok(due.len())
        })
        .await
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        super::validate_key(key)?;
        let key = key.clone();
        self.read(move |db, now| {
            let txn = db.begin_read().map_err(store_err)?;
            let items = txn.open_table(ITEMS).map_err(store_err)?;
            let found = match items.get(item_key(&key).as_slice()).map_err(store_err)? {
                Some(v) => Some(decode(key, v.value())?),
                None => None,
            };
            Ok(found.filter(|i| i.is_live(now)))
        })
        .await
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, TableError> {
        super::ensure_distinct_keys(keys.iter())?;
        let keys = keys.to_vec();
        self.read(move |db, now| {
            let txn = db.begin_read().map_err(store_err)?;
            let items = txn.open_table(ITEMS).map_err(store_err)?;
            let mut out = Vec::new();
            for key in keys {
                if let Some(v) = items.get(item_key(&key).as_slice()).map_err(store_err)? {
                    let item = decode(key, v.value())?;
                    if item.is_live(now) {
                        out.push(item);
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        super::validate_item(&item)?;
        self.write_txn(move |t, now| {
            if !holds(condition.as_ref(), t.live(&item.key, now)?.as_ref()) {
                return Err(TableError::ConditionFailed);
            }
            t.write(&item)
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        super::validate_key(key)?;
        let key = key.clone();
        self.write_txn(move |t, now| {
            if !holds(condition.as_ref(), t.live(&key, now)?.as_ref()) {
                return Err(TableError::ConditionFailed);
            }
            t.remove(&key)
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        super::validate_query(query)?;
        let resume = query.cursor.as_ref().map(|c| c.resume_for(query)).transpose()?;
        let query = query.clone();
        self.read(move |db, now| {
            let txn = db.begin_read().map_err(store_err)?;
            let items = txn.open_table(ITEMS).map_err(store_err)?;
            let (lo, hi) = bounds(&query, resume.as_ref());
            let source = match query.index {
                Index::Primary => txn.open_table(ITEMS).map_err(store_err)?,
                Index::Gsi1 => txn.open_table(GSI1).map_err(store_err)?,
            };
            let range = source.range::<&[u8]>((as_slice(&lo), as_slice(&hi))).map_err(store_err)?;
            let entries: Box<dyn Iterator<Item = _>> = match query.order {
                Order::Ascending => Box::new(range),
                Order::Descending => Box::new(range.rev()),
            };
            let want = query.limit as usize;
            let mut page = Vec::new();
            for entry in entries {
                let (k, v) = entry.map_err(store_err)?;
                let key = split_key(k.value()).ok_or_else(|| TableError::Corrupt {
                    pk: String::from_utf8_lossy(k.value()).into_owned(),
                    sk: String::new(),
                    reason: "malformed key".into(),
                })?;
                let item = match query.index {
                    Index::Primary => decode(key, v.value())?,
                    Index::Gsi1 => match items.get(item_key(&key).as_slice()).map_err(store_err)? {
                        Some(v) => decode(key, v.value())?,
                        None => continue,
                    },
                };
                if !query.include_expired && !item.is_live(now) {
                    continue;
                }
                page.push(item);
                if page.len() > want {
                    break;
                }
            }
            let next = if page.len() > want {
                page.truncate(want);
                page.last().map(|last| Cursor::after_item(last, query.index))
            } else {
                None
            };
            Ok(Page { items: page, next })
        })
        .await
    }

    async fn batch_write(&self, writes: Vec<BatchWrite>) -> Result<(), TableError> {
        super::validate_batch(&writes)?;
        for chunk in writes.chunks(super::limits::BATCH_WRITE_ITEMS) {
            let chunk = chunk.to_vec();
            self.write_txn(move |t, _| {
                for w in &chunk {
                    match w {
                        BatchWrite::Put(item) => t.write(item)?,
                        BatchWrite::Delete(key) => t.remove(key)?,
                    }
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> Result<(), TableError> {
        super::validate_transaction(&writes)?;
        self.write_txn(move |t, now| {
            let mut failed = Vec::new();
            for (i, w) in writes.iter().enumerate() {
                let (key, condition) = match w {
                    TransactWrite::Put { item, condition } => (&item.key, condition.as_ref()),
                    TransactWrite::Delete { key, condition } => (key, condition.as_ref()),
                    TransactWrite::Check { key, condition } => (key, Some(condition)),
                };
                if !holds(condition, t.live(key, now)?.as_ref()) {
                    failed.push(i);
                }
            }
            if !failed.is_empty() {
                // Returning before commit drops the write transaction: nothing is applied.
                return Err(TableError::TransactionCancelled { failed });
            }
            for w in &writes {
                match w {
                    TransactWrite::Put { item, .. } => t.write(item)?,
                    TransactWrite::Delete { key, .. } => t.remove(key)?,
                    TransactWrite::Check { .. } => {}
                }
            }
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_skips_saturated_bytes() {
        assert_eq!(successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(successor(&[b'a', 0xff]), Some(b"b".to_vec()));
        assert_eq!(successor(&[0xff]), None);
    }

    #[test]
    fn expiry_entries_sort_by_time_including_before_1970() {
        let k = Key::new("p", "s");
        assert!(expiry_entry(-5, &k) < expiry_entry(0, &k));
        assert!(expiry_entry(10, &k) < expiry_entry(11, &k));
    }
}
