//! The DynamoDB adapter (`aws-sdk-dynamodb`). Expressions always name attributes through
//! placeholders and add the TTL check, since DynamoDB keeps expired items for a while.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, ConditionCheck, Delete, DeleteRequest,
    GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection, ProjectionType, Put, PutRequest,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Utc};

use super::{
    Attributes, BatchWrite, Condition, Cursor, GSI1, Index, Item, Key, Order, Page, Query, SortKeyRange, Table,
    TableError, TransactWrite, attr, limits,
};
use crate::clock::Clock;

type AvMap = HashMap<String, Av>;

const RETRIES: u32 = 8;

/// The table in DynamoDB.
#[derive(Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoTable").field("table", &self.table).finish_non_exhaustive()
    }
}

/// Placeholders and values of one expression; only what the expression uses is sent.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: AvMap,
}

impl Expr {
    fn name(&mut self, placeholder: &str, name: &str) -> String {
        self.names.insert(placeholder.to_owned(), name.to_owned());
        placeholder.to_owned()
    }

    fn value(&mut self, placeholder: &str, value: Av) -> String {
        self.values.insert(placeholder.to_owned(), value);
        placeholder.to_owned()
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<AvMap> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }

    /// "Not expired", as of `now`.
    fn live(&mut self, now: DateTime<Utc>) -> String {
        let exp = self.name("#exp", attr::EXPIRES_AT);
        let now = self.value(":now", Av::N(now.timestamp().to_string()));
        format!("(attribute_not_exists({exp}) OR {exp} > {now})")
    }

    fn condition(&mut self, condition: &Condition, now: DateTime<Utc>) -> String {
        match condition {
            Condition::NotExists => {
                let pk = self.name("#pk", attr::PK);
                let exp = self.name("#exp", attr::EXPIRES_AT);
                let now = self.value(":now", Av::N(now.timestamp().to_string()));
                format!("(attribute_not_exists({pk}) OR {exp} <= {now})")
            }
            Condition::Exists => {
                let pk = self.name("#pk", attr::PK);
                let live = self.live(now);
                format!("(attribute_exists({pk}) AND {live})")
            }
            Condition::AttrEquals { name, value } => {
                let n = self.name("#cond", name);
                let v = self.value(":cond", Av::from(value.clone()));
                let live = self.live(now);
                format!("({n} = {v} AND {live})")
            }
        }
    }
}

fn key_map(key: &Key) -> AvMap {
    HashMap::from([(attr::PK.to_owned(), Av::S(key.pk.clone())), (attr::SK.to_owned(), Av::S(key.sk.clone()))])
}

fn to_dynamo(item: &Item) -> AvMap {
    let mut map: AvMap = item.attrs.clone().into();
    map.extend(key_map(&item.key));
    if let Some(ik) = &item.index_key {
        map.insert(attr::GSI1_PK.to_owned(), Av::S(ik.pk.clone()));
        map.insert(attr::GSI1_SK.to_owned(), Av::S(ik.sk.clone()));
    }
    if let Some(exp) = item.expires_at {
        map.insert(attr::EXPIRES_AT.to_owned(), Av::N(exp.timestamp().to_string()));
    }
    map
}

fn take_s(map: &mut AvMap, name: &str) -> Option<String> {
    match map.remove(name) {
        Some(Av::S(s)) => Some(s),
        _ => None,
    }
}

fn from_dynamo(mut map: AvMap) -> Result<Item, TableError> {
    let (Some(pk), Some(sk)) = (take_s(&mut map, attr::PK), take_s(&mut map, attr::SK)) else {
        return Err(TableError::Corrupt { pk: String::new(), sk: String::new(), reason: "item without a key".into() });
    };
    let index_key = match (take_s(&mut map, attr::GSI1_PK), take_s(&mut map, attr::GSI1_SK)) {
        (Some(p), Some(s)) => Some(Key::new(p, s)),
        _ => None,
    };
    let expires_at = match map.remove(attr::EXPIRES_AT) {
        Some(Av::N(n)) => n.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)),
        _ => None,
    };
    Ok(Item { key: Key::new(pk, sk), index_key, expires_at, attrs: Attributes::from(map) })
}

fn cursor_map(query: &Query, cursor: &Cursor) -> Result<AvMap, TableError> {
    let resume = cursor.resume_for(query)?;
    let mut map = key_map(&resume.key);
    if let Some(ik) = resume.index_key {
        map.insert(attr::GSI1_PK.to_owned(), Av::S(ik.pk));
        map.insert(attr::GSI1_SK.to_owned(), Av::S(ik.sk));
    }
    Ok(map)
}

fn sdk_err<E, R>(e: SdkError<E, R>) -> TableError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    TableError::unavailable(e)
}

async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(25 * 2u64.pow(attempt.min(6)))).await;
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, table: table.into(), clock }
    }

    fn transact_item(&self, write: &TransactWrite, now: DateTime<Utc>) -> Result<TransactWriteItem, TableError> {
        let mut expr = Expr::default();
        let built = match write {
            TransactWrite::Put { item, condition } => {
                let cond = condition.as_ref().map(|c| expr.condition(c, now));
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_dynamo(item)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(TableError::unavailable)?;
                TransactWriteItem::builder().put(put).build()
            }
            TransactWrite::Delete { key, condition } => {
                let cond = condition.as_ref().map(|c| expr.condition(c, now));
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(TableError::unavailable)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            TransactWrite::Check { key, condition } => {
                let cond = expr.condition(condition, now);
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .condition_expression(cond)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(TableError::unavailable)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(built)
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key) -> Result<Option<Item>, TableError> {
        super::validate_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_err)?;
        let now = self.clock.now();
        Ok(out.item.map(from_dynamo).transpose()?.filter(|i| i.is_live(now)))
    }

    async fn batch_get(&self, keys: &[Key]) -> Result<Vec<Item>, TableError> {
        super::ensure_distinct_keys(keys.iter())?;
        let now = self.clock.now();
        let mut out = Vec::new();
        for chunk in keys.chunks(limits::BATCH_GET_KEYS) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(key_map).collect()))
                    .consistent_read(true)
                    .build()
                    .map_err(TableError::unavailable)?,
            );
            let mut attempt = 0;
            while let Some(request) = pending.take() {
                let resp =
                    self.client.batch_get_item().request_items(&self.table, request).send().await.map_err(sdk_err)?;
                for map in resp.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    let item = from_dynamo(map)?;
                    if item.is_live(now) {
                        out.push(item);
                    }
                }
                pending = resp.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).filter(|k| !k.keys.is_empty());
                if pending.is_some() {
                    attempt += 1;
                    if attempt > RETRIES {
                        return Err(TableError::Invalid("batch get was throttled; unprocessed keys remain".into()));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(out)
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        super::validate_item(&item)?;
        let mut expr = Expr::default();
        let cond = condition.as_ref().map(|c| expr.condition(c, self.clock.now()));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_dynamo(&item)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(TableError::ConditionFailed)
            }
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        super::validate_key(key)?;
        let mut expr = Expr::default();
        let cond = condition.as_ref().map(|c| expr.condition(c, self.clock.now()));
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(cond)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                Err(TableError::ConditionFailed)
            }
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        super::validate_query(query)?;
        let mut start = query.cursor.as_ref().map(|c| cursor_map(query, c)).transpose()?;
        let now = self.clock.now();
        let (pk_attr, sk_attr, index_name) = match query.index {
            Index::Primary => (attr::PK, attr::SK, None),
            Index::Gsi1 => (attr::GSI1_PK, attr::GSI1_SK, Some(GSI1)),
        };
        let mut expr = Expr::default();
        let p = expr.name("#p", pk_attr);
        let pv = expr.value(":p", Av::S(query.partition.clone()));
        let mut key_condition = format!("{p} = {pv}");
        let s = "#s";
        let range = match &query.range {
            SortKeyRange::All => None,
            SortKeyRange::Prefix(prefix) => {
                Some(format!("begins_with(#s, {})", expr.value(":a", Av::S(prefix.clone()))))
            }
            SortKeyRange::Between { from, to } => Some(format!(
                "#s BETWEEN {} AND {}",
                expr.value(":a", Av::S(from.clone())),
                expr.value(":b", Av::S(to.clone()))
            )),
            SortKeyRange::AtLeast(from) => Some(format!("#s >= {}", expr.value(":a", Av::S(from.clone())))),
            SortKeyRange::AtMost(to) => Some(format!("#s <= {}", expr.value(":b", Av::S(to.clone())))),
        };
        if let Some(range) = range {
            expr.name(s, sk_attr);
            key_condition = format!("{key_condition} AND {range}");
        }
        let filter = (!query.include_expired).then(|| expr.live(now));

        let want = query.limit as usize;
        let mut items = Vec::new();
        loop {
            let remaining = i32::try_from(want - items.len()).unwrap_or(i32::MAX);
            let resp = self
                .client
                .query()
                .table_name(&self.table)
                .set_index_name(index_name.map(str::to_owned))
                .key_condition_expression(&key_condition)
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .scan_index_forward(query.order == Order::Ascending)
                .limit(remaining)
                .set_exclusive_start_key(start.take())
                .set_consistent_read((query.index == Index::Primary).then_some(true))
                .send()
                .await
                .map_err(sdk_err)?;
            for map in resp.items.unwrap_or_default() {
                items.push(from_dynamo(map)?);
            }
            start = resp.last_evaluated_key;
            if start.is_none() || items.len() >= want {
                break;
            }
        }
        let next = match (&start, items.last()) {
            (Some(_), Some(last)) => Some(Cursor::after_item(last, query.index)),
            _ => None,
        };
        Ok(Page { items, next })
    }

    async fn batch_write(&self, writes: Vec<BatchWrite>) -> Result<(), TableError> {
        super::validate_batch(&writes)?;
        for chunk in writes.chunks(limits::BATCH_WRITE_ITEMS) {
            let mut requests = chunk
                .iter()
                .map(|w| match w {
                    BatchWrite::Put(item) => PutRequest::builder()
                        .set_item(Some(to_dynamo(item)))
                        .build()
                        .map(|p| WriteRequest::builder().put_request(p).build()),
                    BatchWrite::Delete(key) => DeleteRequest::builder()
                        .set_key(Some(key_map(key)))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build()),
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(TableError::unavailable)?;
            let mut attempt = 0;
            while !requests.is_empty() {
                let resp = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(sdk_err)?;
                requests = resp.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
                if !requests.is_empty() {
                    attempt += 1;
                    if attempt > RETRIES {
                        return Err(TableError::Invalid("batch write was throttled; unprocessed writes remain".into()));
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }

    async fn transact(&self, writes: Vec<TransactWrite>) -> Result<(), TableError> {
        super::validate_transaction(&writes)?;
        let now = self.clock.now();
        let items = writes.iter().map(|w| self.transact_item(w, now)).collect::<Result<Vec<_>, _>>()?;
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let failed: Option<Vec<usize>> = e.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(
                        c,
                    ) => Some(
                        c.cancellation_reasons()
                            .iter()
                            .enumerate()
                            .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                            .map(|(i, _)| i)
                            .collect(),
                    ),
                    _ => None,
                });
                match failed {
                    Some(failed) if !failed.is_empty() => Err(TableError::TransactionCancelled { failed }),
                    _ => Err(sdk_err(e)),
                }
            }
        }
    }
}

/// Creates the table as `template.yaml` declares it (keys, the `gsi1` index, TTL on
/// `expires_at`); for tests and local tools against moto.
pub async fn create_table(client: &Client, name: &str) -> Result<(), TableError> {
    let s = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(TableError::unavailable)
    };
    let k = |n: &str, t: KeyType| {
        KeySchemaElement::builder().attribute_name(n).key_type(t).build().map_err(TableError::unavailable)
    };
    let gsi = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(k(attr::GSI1_PK, KeyType::Hash)?)
        .key_schema(k(attr::GSI1_SK, KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(TableError::unavailable)?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(s(attr::PK)?)
        .attribute_definitions(s(attr::SK)?)
        .attribute_definitions(s(attr::GSI1_PK)?)
        .attribute_definitions(s(attr::GSI1_SK)?)
        .key_schema(k(attr::PK, KeyType::Hash)?)
        .key_schema(k(attr::SK, KeyType::Range)?)
        .global_secondary_indexes(gsi)
        .send()
        .await
        .map_err(sdk_err)?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(attr::EXPIRES_AT)
                .enabled(true)
                .build()
                .map_err(TableError::unavailable)?,
        )
        .send()
        .await
        .map_err(sdk_err)?;
    Ok(())
}
