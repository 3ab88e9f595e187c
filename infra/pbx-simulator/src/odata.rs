//! The OData v4 pieces XAPI uses: query options, the collection envelope, the error body.

use bytes::Bytes;
use serde::Serialize;

/// The query options the simulator honours. `$select`, `$expand`, `$filter` and `$search` are
/// accepted and ignored: answers always carry every field and item.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub top: Option<usize>,
    pub skip: usize,
    pub count: bool,
    pub order: Option<Order>,
}

/// `$orderby=<Field> [asc|desc]` on one field.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Order {
    pub field: String,
    pub descending: bool,
}

impl Query {
    /// Parses a raw query string; a malformed `$top`, `$skip`, `$count` or `$orderby` is an
    /// error message fit for an OData error body.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        let mut query = Query::default();
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            let invalid = || format!("The query parameter '{key}' has an invalid value '{value}'.");
            match &*key {
                "$top" => query.top = Some(value.trim().parse().map_err(|_| invalid())?),
                "$skip" => query.skip = value.trim().parse().map_err(|_| invalid())?,
                "$count" => {
                    query.count = match value.trim() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(invalid()),
                    }
                }
                "$orderby" => {
                    let mut words = value.split_whitespace();
                    let field = words.next().ok_or_else(invalid)?.to_owned();
                    let descending = match words.next().map(str::to_ascii_lowercase).as_deref() {
                        None | Some("asc") => false,
                        Some("desc") => true,
                        Some(_) => return Err(invalid()),
                    };
                    if words.next().is_some() {
                        return Err(invalid());
                    }
                    query.order = Some(Order { field, descending });
                }
                _ => {}
            }
        }
        Ok(query)
    }

    /// Applies `$skip` and `$top` to items already in order.
    pub(crate) fn page<T>(&self, items: Vec<T>) -> Vec<T> {
        items.into_iter().skip(self.skip).take(self.top.unwrap_or(usize::MAX)).collect()
    }
}

#[derive(Serialize)]
struct Collection<'a, T> {
    #[serde(rename = "@odata.context")]
    context: &'a str,
    #[serde(rename = "@odata.count", skip_serializing_if = "Option::is_none")]
    count: Option<usize>,
    value: &'a [T],
}

/// `{"@odata.context":...,["@odata.count":n,]"value":[...]}` of `items` (already ordered),
/// paged by the query.
pub(crate) fn collection<T: Serialize>(context: &str, items: Vec<T>, query: &Query) -> serde_json::Result<Bytes> {
    let total = items.len();
    let page = query.page(items);
    let body = Collection { context, count: query.count.then_some(total), value: &page };
    serde_json::to_vec(&body).map(Bytes::from)
}

/// The OData error body: `{"error":{"code":"","message":...,"details":[...]}}`.
pub(crate) fn error(message: &str) -> Bytes {
    let body = serde_json::json!({
        "error": { "code": "", "message": message, "details": [{ "code": "", "message": message, "target": "" }] }
    });
    Bytes::from(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_options_parse() {
        let query = Query::parse("$orderby=CreationTime%20desc&$top=5&$select=FileName,Size&$count=true").unwrap();
        assert_eq!(query.top, Some(5));
        assert!(query.count);
        assert_eq!(query.order, Some(Order { field: "CreationTime".to_owned(), descending: true }));
        assert_eq!(Query::parse("").unwrap(), Query::default());
        assert!(Query::parse("$top=lots").is_err());
        assert!(Query::parse("$orderby=CreationTime sideways").is_err());
    }

    #[test]
    fn collections_page_and_count() {
        let query = Query::parse("$skip=1&$top=2&$count=true").unwrap();
        let body = collection("ctx", vec![1, 2, 3, 4], &query).unwrap();
        assert_eq!(&body[..], br#"{"@odata.context":"ctx","@odata.count":4,"value":[2,3]}"#);
    }
}
