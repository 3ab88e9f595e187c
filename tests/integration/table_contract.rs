//! The table contract: every case runs against the embedded table and against DynamoDB (moto).

use std::collections::HashMap;

use chrono::Duration;
use sikurd::clock::Clock;
use sikurd::table::{
    AttributeValue, Attributes, BatchWrite, Condition, Cursor, Index, Item, Key, Page, Query, SortKeyRange, Table,
    TableError, TransactWrite,
};
use sikurd_tests::for_each_table;

fn attrs(pairs: &[(&str, AttributeValue)]) -> Attributes {
    Attributes::from(pairs.iter().cloned().map(|(k, v)| (k.to_owned(), v)).collect::<HashMap<_, _>>())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn item(pk: &str, sk: &str) -> Item {
    Item::new(Key::new(pk, sk), attrs(&[("v", s(&format!("{pk}/{sk}")))]))
}

fn sks(page: &Page) -> Vec<String> {
    page.items.iter().map(|i| i.key.sk.clone()).collect()
}

/// Reads every page of a query, checking that no page exceeds the limit and that every page
/// but the last is full.
async fn all_pages(table: &dyn Table, query: Query) -> Vec<Item> {
    let mut out = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = table.query(&query.clone().after(cursor)).await.unwrap();
        assert!(page.items.len() <= query.limit as usize);
        pages += 1;
        assert!(pages < 10_000, "paging does not end");
        let full = page.items.len() == query.limit as usize;
        out.extend(page.items);
        match page.next {
            Some(next) => {
                assert!(full, "a page before the last is not full");
                cursor = Some(next);
            }
            None => return out,
        }
    }
}

mod cases {
    use super::*;
    use sikurd_tests::TableFixture;

    pub async fn a_put_item_reads_back_with_its_attributes(f: TableFixture) {
        let it = Item::new(
            Key::new("P", "S"),
            attrs(&[("name", s("pbx")), ("calls", n(3)), ("ok", AttributeValue::Bool(true))]),
        )
        .with_index_key(Key::new("IP", "IS"));
        f.table.put(it.clone(), None).await.unwrap();
        assert_eq!(f.table.get(&Key::new("P", "S")).await.unwrap(), Some(it));
        assert_eq!(f.table.get(&Key::new("P", "missing")).await.unwrap(), None);
    }

    pub async fn a_put_conditioned_on_absence_conflicts_with_an_existing_item(f: TableFixture) {
        f.table.put(item("P", "S"), Some(Condition::NotExists)).await.unwrap();
        let mut other = item("P", "S");
        other.attrs = attrs(&[("v", s("second"))]);
        let err = f.table.put(other, Some(Condition::NotExists)).await.unwrap_err();
        assert!(matches!(err, TableError::ConditionFailed), "{err:?}");
        assert_eq!(f.table.get(&Key::new("P", "S")).await.unwrap(), Some(item("P", "S")));
    }

    pub async fn an_attribute_condition_lets_only_one_of_two_writers_win(f: TableFixture) {
        let v1 = Item::new(Key::new("P", "S"), attrs(&[("version", n(1))]));
        f.table.put(v1, None).await.unwrap();
        let expect_v1 = Some(Condition::AttrEquals { name: "version".into(), value: n(1) });
        let v2a = Item::new(Key::new("P", "S"), attrs(&[("version", n(2)), ("by", s("a"))]));
        let v2b = Item::new(Key::new("P", "S"), attrs(&[("version", n(2)), ("by", s("b"))]));
        f.table.put(v2a.clone(), expect_v1.clone()).await.unwrap();
        assert!(matches!(f.table.put(v2b, expect_v1).await, Err(TableError::ConditionFailed)));
        assert_eq!(f.table.get(&Key::new("P", "S")).await.unwrap(), Some(v2a));
    }

    pub async fn conditions_on_missing_items_fail_for_exists_and_attribute_checks(f: TableFixture) {
        assert!(matches!(f.table.put(item("P", "S"), Some(Condition::Exists)).await, Err(TableError::ConditionFailed)));
        let eq = Condition::AttrEquals { name: "v".into(), value: s("x") };
        assert!(matches!(f.table.put(item("P", "S"), Some(eq)).await, Err(TableError::ConditionFailed)));
        assert!(matches!(
            f.table.delete(&Key::new("P", "S"), Some(Condition::Exists)).await,
            Err(TableError::ConditionFailed)
        ));
        assert_eq!(f.table.get(&Key::new("P", "S")).await.unwrap(), None);
    }

    pub async fn a_conditional_delete_removes_only_a_matching_item(f: TableFixture) {
        f.table.put(item("P", "S"), None).await.unwrap();
        let wrong = Condition::AttrEquals { name: "v".into(), value: s("other") };
        assert!(matches!(f.table.delete(&Key::new("P", "S"), Some(wrong)).await, Err(TableError::ConditionFailed)));
        let right = Condition::AttrEquals { name: "v".into(), value: s("P/S") };
        f.table.delete(&Key::new("P", "S"), Some(right)).await.unwrap();
        assert_eq!(f.table.get(&Key::new("P", "S")).await.unwrap(), None);
    }

    pub async fn a_query_pages_through_many_pages_in_both_orders(f: TableFixture) {
        let writes: Vec<_> = (0..230).map(|i| BatchWrite::Put(item("P", &format!("S#{i:04}")))).collect();
        f.table.batch_write(writes).await.unwrap();
        f.table.put(item("P2", "S#0001"), None).await.unwrap();
        f.table.put(item("O", "S#0001"), None).await.unwrap();
        let expected: Vec<String> = (0..230).map(|i| format!("S#{i:04}")).collect();

        let asc = all_pages(&*f.table, Query::partition("P").limit(17)).await;
        assert_eq!(asc.iter().map(|i| i.key.sk.clone()).collect::<Vec<_>>(), expected);

        let desc = all_pages(&*f.table, Query::partition("P").descending().limit(29)).await;
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(desc.iter().map(|i| i.key.sk.clone()).collect::<Vec<_>>(), reversed);
    }

    pub async fn sort_key_ranges_select_only_matching_items(f: TableFixture) {
        for sk in ["A#1", "A#2", "AB#1", "B#1", "B#2", "C#1"] {
            f.table.put(item("P", sk), None).await.unwrap();
        }
        f.table.put(item("P1", "A#3"), None).await.unwrap();
        let q = |r: SortKeyRange| Query::partition("P").range(r);
        let prefix = f.table.query(&q(SortKeyRange::Prefix("A#".into()))).await.unwrap();
        assert_eq!(sks(&prefix), ["A#1", "A#2"]);
        let between = f.table.query(&q(SortKeyRange::Between { from: "A#2".into(), to: "B#1".into() })).await.unwrap();
        assert_eq!(sks(&between), ["A#2", "AB#1", "B#1"]);
        let at_least = f.table.query(&q(SortKeyRange::AtLeast("B#2".into()))).await.unwrap();
        assert_eq!(sks(&at_least), ["B#2", "C#1"]);
        let at_most = f.table.query(&q(SortKeyRange::AtMost("AB#1".into())).descending()).await.unwrap();
        assert_eq!(sks(&at_most), ["AB#1", "A#2", "A#1"]);
        let nothing = f.table.query(&Query::partition("NOPE")).await.unwrap();
        assert!(nothing.items.is_empty() && nothing.next.is_none());
    }

    pub async fn a_cursor_only_continues_its_own_partition(f: TableFixture) {
        for i in 0..5 {
            f.table.put(item("P", &format!("S#{i}")), None).await.unwrap();
            f.table.put(item("Q", &format!("S#{i}")), None).await.unwrap();
        }
        let page = f.table.query(&Query::partition("P").limit(2)).await.unwrap();
        let cursor = page.next.unwrap();
        let err = f.table.query(&Query::partition("Q").limit(2).after(Some(cursor.clone()))).await.unwrap_err();
        assert!(matches!(err, TableError::InvalidCursor), "{err:?}");
        let garbage = Cursor::from_token("not-a-cursor");
        assert!(matches!(
            f.table.query(&Query::partition("P").after(Some(garbage))).await,
            Err(TableError::InvalidCursor)
        ));
        let next = f.table.query(&Query::partition("P").limit(2).after(Some(cursor))).await.unwrap();
        assert_eq!(sks(&next), ["S#2", "S#3"]);
    }

    pub async fn a_batch_writes_and_deletes_more_items_than_one_call_takes(f: TableFixture) {
        let puts: Vec<_> = (0..60).map(|i| BatchWrite::Put(item("P", &format!("S#{i:03}")))).collect();
        f.table.batch_write(puts).await.unwrap();
        assert_eq!(all_pages(&*f.table, Query::partition("P").limit(100)).await.len(), 60);
        let deletes: Vec<_> = (0..30).map(|i| BatchWrite::Delete(Key::new("P", format!("S#{i:03}")))).collect();
        f.table.batch_write(deletes).await.unwrap();
        let left = all_pages(&*f.table, Query::partition("P").limit(100)).await;
        assert_eq!(left.len(), 30);
        assert_eq!(left[0].key.sk, "S#030");
    }

    pub async fn a_batch_with_the_same_key_twice_is_refused_before_writing(f: TableFixture) {
        let writes = vec![
            BatchWrite::Put(item("P", "A")),
            BatchWrite::Put(item("P", "B")),
            BatchWrite::Delete(Key::new("P", "A")),
        ];
        assert!(matches!(f.table.batch_write(writes).await, Err(TableError::Invalid(_))));
        assert_eq!(f.table.get(&Key::new("P", "B")).await.unwrap(), None);
    }

    pub async fn batch_get_returns_the_items_that_exist(f: TableFixture) {
        let puts: Vec<_> = (0..120).map(|i| BatchWrite::Put(item("P", &format!("S#{i:03}")))).collect();
        f.table.batch_write(puts).await.unwrap();
        let mut keys: Vec<_> = (0..120).map(|i| Key::new("P", format!("S#{i:03}"))).collect();
        keys.push(Key::new("P", "missing"));
        let mut got = f.table.batch_get(&keys).await.unwrap();
        got.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(got.len(), 120);
        assert_eq!(got[5], item("P", "S#005"));
    }

    pub async fn a_transaction_applies_all_of_its_writes(f: TableFixture) {
        f.table.put(item("P", "old"), None).await.unwrap();
        f.table.put(item("P", "checked"), None).await.unwrap();
        f.table
            .transact(vec![
                TransactWrite::Put { item: item("P", "new"), condition: Some(Condition::NotExists) },
                TransactWrite::Delete { key: Key::new("P", "old"), condition: Some(Condition::Exists) },
                TransactWrite::Check { key: Key::new("P", "checked"), condition: Condition::Exists },
            ])
            .await
            .unwrap();
        let page = f.table.query(&Query::partition("P")).await.unwrap();
        assert_eq!(sks(&page), ["checked", "new"]);
    }

    pub async fn a_transaction_with_one_failing_condition_writes_nothing(f: TableFixture) {
        f.table.put(item("P", "taken"), None).await.unwrap();
        f.table.put(item("P", "keep"), None).await.unwrap();
        let err = f
            .table
            .transact(vec![
                TransactWrite::Put { item: item("P", "a"), condition: Some(Condition::NotExists) },
                TransactWrite::Delete { key: Key::new("P", "keep"), condition: None },
                TransactWrite::Put { item: item("P", "taken"), condition: Some(Condition::NotExists) },
            ])
            .await
            .unwrap_err();
        match err {
            TableError::TransactionCancelled { failed } => assert_eq!(failed, vec![2]),
            other => panic!("expected a cancelled transaction, got {other:?}"),
        }
        let page = f.table.query(&Query::partition("P")).await.unwrap();
        assert_eq!(sks(&page), ["keep", "taken"]);
    }

    pub async fn transactions_over_aws_limits_are_refused(f: TableFixture) {
        let too_many: Vec<_> =
            (0..101).map(|i| TransactWrite::Put { item: item("P", &format!("{i}")), condition: None }).collect();
        assert!(matches!(f.table.transact(too_many).await, Err(TableError::Invalid(_))));
        let twice = vec![
            TransactWrite::Put { item: item("P", "x"), condition: None },
            TransactWrite::Check { key: Key::new("P", "x"), condition: Condition::Exists },
        ];
        assert!(matches!(f.table.transact(twice).await, Err(TableError::Invalid(_))));
        assert_eq!(f.table.get(&Key::new("P", "x")).await.unwrap(), None);
    }

    pub async fn the_secondary_index_holds_only_indexed_items_in_index_order(f: TableFixture) {
        for i in 0..25 {
            let it = item("T", &format!("I#{i:02}")).with_index_key(Key::new("IDX", format!("{:02}", 24 - i)));
            f.table.put(it, None).await.unwrap();
        }
        f.table.put(item("T", "not-indexed"), None).await.unwrap();
        f.table.put(item("T", "elsewhere").with_index_key(Key::new("IDX2", "00")), None).await.unwrap();
        let found = all_pages(&*f.table, Query::partition("IDX").index(Index::Gsi1).limit(4)).await;
        let sks: Vec<_> = found.iter().map(|i| i.key.sk.clone()).collect();
        let expected: Vec<_> = (0..25).rev().map(|i| format!("I#{i:02}")).collect();
        assert_eq!(sks, expected);
        let ranged = f
            .table
            .query(
                &Query::partition("IDX")
                    .index(Index::Gsi1)
                    .range(SortKeyRange::Between { from: "03".into(), to: "05".into() }),
            )
            .await
            .unwrap();
        assert_eq!(ranged.items.len(), 3);
    }

    pub async fn rewriting_an_item_without_its_index_key_removes_it_from_the_index(f: TableFixture) {
        f.table.put(item("T", "A").with_index_key(Key::new("IDX", "A")), None).await.unwrap();
        f.table.put(item("T", "B").with_index_key(Key::new("IDX", "B")), None).await.unwrap();
        f.table.put(item("T", "A"), None).await.unwrap();
        f.table.put(item("T", "B").with_index_key(Key::new("IDX", "C")), None).await.unwrap();
        let page = f.table.query(&Query::partition("IDX").index(Index::Gsi1)).await.unwrap();
        assert_eq!(page.items.iter().map(|i| i.index_key.clone().unwrap().sk).collect::<Vec<_>>(), ["C"]);
        f.table.delete(&Key::new("T", "B"), None).await.unwrap();
        assert!(f.table.query(&Query::partition("IDX").index(Index::Gsi1)).await.unwrap().items.is_empty());
    }

    pub async fn expired_items_vanish_from_every_read(f: TableFixture) {
        let now = f.clock.now();
        let soon = now + Duration::hours(1);
        f.table.put(item("P", "expiring").expiring_at(soon).with_index_key(Key::new("IDX", "x")), None).await.unwrap();
        f.table.put(item("P", "later").expiring_at(now + Duration::days(2)), None).await.unwrap();
        f.table.put(item("P", "forever"), None).await.unwrap();
        assert!(f.table.get(&Key::new("P", "expiring")).await.unwrap().is_some());

        f.clock.advance(Duration::hours(1));
        assert_eq!(f.table.get(&Key::new("P", "expiring")).await.unwrap(), None);
        assert_eq!(sks(&f.table.query(&Query::partition("P")).await.unwrap()), ["forever", "later"]);
        assert!(f.table.query(&Query::partition("IDX").index(Index::Gsi1)).await.unwrap().items.is_empty());
        let got = f.table.batch_get(&[Key::new("P", "expiring"), Key::new("P", "later")]).await.unwrap();
        assert_eq!(got.len(), 1);

        f.clock.advance(Duration::days(2));
        assert_eq!(sks(&f.table.query(&Query::partition("P")).await.unwrap()), ["forever"]);
    }

    pub async fn an_expired_item_counts_as_absent_for_conditions(f: TableFixture) {
        let now = f.clock.now();
        f.table.put(item("P", "S").expiring_at(now + Duration::minutes(5)), None).await.unwrap();
        assert!(matches!(
            f.table.put(item("P", "S"), Some(Condition::NotExists)).await,
            Err(TableError::ConditionFailed)
        ));
        f.clock.advance(Duration::minutes(5));
        assert!(matches!(
            f.table.delete(&Key::new("P", "S"), Some(Condition::Exists)).await,
            Err(TableError::ConditionFailed)
        ));
        f.table.put(item("P", "S"), Some(Condition::NotExists)).await.unwrap();
        assert_eq!(f.table.get(&Key::new("P", "S")).await.unwrap(), Some(item("P", "S")));
    }

    pub async fn pages_stay_full_when_expired_items_are_skipped(f: TableFixture) {
        let now = f.clock.now();
        let writes: Vec<_> = (0..40)
            .map(|i| {
                let it = item("P", &format!("S#{i:02}"));
                BatchWrite::Put(if i % 3 == 0 { it.expiring_at(now + Duration::seconds(1)) } else { it })
            })
            .collect();
        f.table.batch_write(writes).await.unwrap();
        f.clock.advance(Duration::seconds(1));
        let live = all_pages(&*f.table, Query::partition("P").limit(6)).await;
        assert_eq!(live.len(), 26);
        let live_desc = all_pages(&*f.table, Query::partition("P").descending().limit(6)).await;
        assert_eq!(live_desc.len(), 26);
    }

    pub async fn bad_requests_are_refused_with_a_reason(f: TableFixture) {
        let reserved = Item::new(Key::new("P", "S"), attrs(&[("pk", s("x"))]));
        assert!(matches!(f.table.put(reserved, None).await, Err(TableError::Invalid(_))));
        let huge = Item::new(Key::new("P", "S"), attrs(&[("blob", s(&"x".repeat(410 * 1024)))]));
        assert!(matches!(f.table.put(huge, None).await, Err(TableError::Invalid(_))));
        assert!(matches!(f.table.put(item("", "S"), None).await, Err(TableError::Invalid(_))));
        assert!(matches!(f.table.put(item("P", "a\u{0}b"), None).await, Err(TableError::Invalid(_))));
        assert!(matches!(f.table.query(&Query::partition("P").limit(0)).await, Err(TableError::Invalid(_))));
        assert!(matches!(f.table.query(&Query::partition("P").limit(1001)).await, Err(TableError::Invalid(_))));
    }
}

for_each_table!(
    a_put_item_reads_back_with_its_attributes,
    a_put_conditioned_on_absence_conflicts_with_an_existing_item,
    an_attribute_condition_lets_only_one_of_two_writers_win,
    conditions_on_missing_items_fail_for_exists_and_attribute_checks,
    a_conditional_delete_removes_only_a_matching_item,
    a_query_pages_through_many_pages_in_both_orders,
    sort_key_ranges_select_only_matching_items,
    a_cursor_only_continues_its_own_partition,
    a_batch_writes_and_deletes_more_items_than_one_call_takes,
    a_batch_with_the_same_key_twice_is_refused_before_writing,
    batch_get_returns_the_items_that_exist,
    a_transaction_applies_all_of_its_writes,
    a_transaction_with_one_failing_condition_writes_nothing,
    transactions_over_aws_limits_are_refused,
    the_secondary_index_holds_only_indexed_items_in_index_order,
    rewriting_an_item_without_its_index_key_removes_it_from_the_index,
    expired_items_vanish_from_every_read,
    an_expired_item_counts_as_absent_for_conditions,
    pages_stay_full_when_expired_items_are_skipped,
    bad_requests_are_refused_with_a_reason,
);

#[tokio::test]
async fn the_embedded_table_deletes_expired_rows_for_good() {
    let f = sikurd_tests::embedded_table();
    let now = f.clock.now();
    for i in 0..10 {
        f.table.put(item("P", &format!("{i}")).expiring_at(now + Duration::days(i)), None).await.unwrap();
    }
    let embedded = f.embedded.clone().unwrap();
    f.clock.advance(Duration::days(5));
    assert_eq!(embedded.purge_expired(100).await.unwrap(), 6);
    assert_eq!(embedded.purge_expired(100).await.unwrap(), 0);
    assert_eq!(f.table.query(&Query::partition("P")).await.unwrap().items.len(), 4);
}
