use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;

use super::{BatchWrite, Condition, Item, Key, Page, Query, Table, TableError, TransactWrite};

/// Operation and item counts seen by a [`CountingTable`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableCounts {
    /// get, batch_get and query calls.
    pub read_calls: u64,
    /// Items returned by reads.
    pub items_read: u64,
    /// Queries issued (a subset of `read_calls`).
    pub queries: u64,
    /// Items written or deleted (each write of a batch or transaction counts).
    pub items_written: u64,
}

#[derive(Debug, Default)]
struct Counters {
    read_calls: AtomicU64,
    items_read: AtomicU64,
    queries: AtomicU64,
    items_written: AtomicU64,
}

/// Wraps a table and counts what goes through it; for tests and benchmarks of access costs.
#[derive(Debug, Clone)]
pub struct CountingTable {
    inner: Arc<dyn Table>,
    counters: Arc<Counters>,
}

impl CountingTable {
    pub fn new(inner: Arc<dyn Table>) -> Self {
        Self { inner, counters: Arc::default() }
    }

    pub fn counts(&self) -> TableCounts {
        let c = &self.counters;
        TableCounts {
            read_calls: c.read_calls.load(Ordering::Relaxed),
            items_read: c.items_read.load(Ordering::Relaxed),
            queries: c.queries.load(Ordering::Relaxed),
            items_written: c.items_written.load(Ordering::Relaxed),
        }
    }

    pub fn reset(&self) {
        let c = &self.counters;
        for n in [&c.read_calls, &c.items_read, &c.queries, &c.items_written] {
            n.store(0, Ordering::Relaxed);
        }
    }

    fn read(&self, items: usize) {
        self.counters.read_calls.fetch_add(1, Ordering::Relaxed);
        self.counters.items_read.fetch_add(items as u64, Ordering::Relaxed);
    }

    fn wrote(&self, items: usize) {
        self.counters.items_written.fetch_add(items as u64, Ordering::Relaxed);
    }
}

#[async_trait]
impl Table for CountingTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        let found = self.inner.get(key).await?;
        self.read(usize::from(found.is_some()));
        Ok(found)
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, TableError> {
        let found = self.inner.batch_get(keys).await?;
        self.read(found.len());
        Ok(found)
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.inner.put(item, condition).await?;
        self.wrote(1);
        Ok(())
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.inner.delete(key, condition).await?;
        self.wrote(1);
        Ok(())
    }

    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        let page = self.inner.query(query).await?;
        self.counters.queries.fetch_add(1, Ordering::Relaxed);
        self.read(page.items.len());
        Ok(page)
    }

    async fn batch_write(&self, writes: Vec<BatchWrite>) -> Result<(), TableError> {
        let n = writes.len();
        self.inner.batch_write(writes).await?;
        self.wrote(n);
        Ok(())
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> Result<(), TableError> {
        let n = writes.iter().filter(|w| !matches!(w, TransactWrite::Check { .. })).count();
        self.inner.transact(writes).await?;
        self.wrote(n);
        Ok(())
    }

    async fn purge_expired(&self, limit: usize) -> Result<usize, TableError> {
        let purged = self.inner.purge_expired(limit).await?;
        self.wrote(purged);
        Ok(purged)
    }
}
