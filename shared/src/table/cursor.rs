use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{Index, Item, Key, Query, TableError};

/// Where a page stopped: an opaque string that both adapters read the same way. A cursor only
/// continues the query it came from; one aimed at another partition is refused.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(String);

#[derive(Serialize, Deserialize)]
struct Position {
    p: String,
    s: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    is: Option<String>,
}

/// A decoded cursor: the last item returned, by its primary key and (for index queries) its
/// index key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resume {
    pub key: Key,
    pub index_key: Option<Key>,
}

impl Cursor {
    /// Takes a cursor back from a client; it is checked when used.
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn after_item(item: &Item, index: Index) -> Self {
        let index_key = match index {
            Index::Primary => None,
            Index::Gsi1 => item.index_key.clone(),
        };
        Self::encode(&Resume { key: item.key.clone(), index_key })
    }

    pub(crate) fn encode(resume: &Resume) -> Self {
        let pos = Position {
            p: resume.key.pk.clone(),
            s: resume.key.sk.clone(),
            ip: resume.index_key.as_ref().map(|k| k.pk.clone()),
            is: resume.index_key.as_ref().map(|k| k.sk.clone()),
        };
        Self(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&pos).unwrap_or_default()))
    }

    /// Decodes the cursor and checks that it belongs to this query's partition and range.
    pub(crate) fn resume_for(&self, query: &Query) -> Result<Resume, TableError> {
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| TableError::InvalidCursor)?;
        let pos: Position = serde_json::from_slice(&bytes).map_err(|_| TableError::InvalidCursor)?;
        let key = Key::new(pos.p, pos.s);
        let resume = match (query.index, pos.ip, pos.is) {
            (Index::Primary, None, None) => Resume { key, index_key: None },
            (Index::Gsi1, Some(ip), Some(is)) => Resume { key, index_key: Some(Key::new(ip, is)) },
            _ => return Err(TableError::InvalidCursor),
        };
        let position = resume.index_key.as_ref().unwrap_or(&resume.key);
        if position.pk != query.partition || !query.range.contains(&position.sk) {
            return Err(TableError::InvalidCursor);
        }
        super::validate_key(&resume.key).map_err(|_| TableError::InvalidCursor)?;
        Ok(resume)
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
