//! The blob port: named byte objects under validated keys, written whole or streamed in parts,
//! listed and deleted by prefix, and handed out through time-limited download links.
//!
//! Two adapters keep one contract (tests/integration/blobs_contract.rs): [`S3Blobs`] (multipart
//! upload, presigned GET) and [`LocalDirBlobs`] (files under a directory, HMAC-signed links).
//!
//! Keys are S3-like paths restricted to a small alphabet, so that no key can name anything
//! outside the local adapter's directory and every key is safe in a URL path. Tenant data lives
//! under `tenants/<tenant-id>/`; deleting a tenant deletes that prefix.

mod local_dir;
mod s3;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

pub use local_dir::LocalDirBlobs;
pub use s3::S3Blobs;

/// The longest key or prefix, in bytes (S3's limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest lifetime of a presigned link (S3 SigV4's limit).
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The longest content type accepted, in bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 255;

/// The name of one blob: 1 to 1024 bytes of ASCII letters, digits and `-_.=/`, made of
/// `/`-separated segments, none of them empty, `.` or `..` (so no leading, trailing or doubled
/// `/`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlobKey(String);

impl BlobKey {
    /// The key, or [`BlobError::InvalidKey`] saying what is wrong with it.
    pub fn parse(key: impl Into<String>) -> Result<Self, BlobError> {
        let key = key.into();
        check_path(&key, "key")?;
        Ok(Self(key))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated segments, in order; never empty.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Whether the key lies under the prefix (a plain string-prefix test, as S3 does).
    pub fn starts_with(&self, prefix: &BlobPrefix) -> bool {
        self.0.starts_with(prefix.as_str())
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BlobKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for BlobKey {
    type Error = BlobError;

    fn try_from(key: String) -> Result<Self, BlobError> {
        Self::parse(key)
    }
}

impl From<BlobKey> for String {
    fn from(key: BlobKey) -> Self {
        key.0
    }
}

impl std::str::FromStr for BlobKey {
    type Err = BlobError;

    fn from_str(key: &str) -> Result<Self, BlobError> {
        Self::parse(key)
    }
}

/// A non-empty string prefix of keys, selecting every key that starts with it. It follows the
/// rules of [`BlobKey`] except that it may end with `/` (`tenants/A/` selects the keys in that
/// "folder"; `tenants/A` would also select `tenants/AB/x`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobPrefix(String);

impl BlobPrefix {
    /// The prefix, or [`BlobError::InvalidKey`] saying what is wrong with it.
    pub fn parse(prefix: impl Into<String>) -> Result<Self, BlobError> {
        let prefix = prefix.into();
        if prefix.len() > MAX_KEY_BYTES {
            return Err(BlobError::InvalidKey(format!("prefix is longer than {MAX_KEY_BYTES} bytes")));
        }
        check_path(prefix.strip_suffix('/').unwrap_or(&prefix), "prefix")?;
        Ok(Self(prefix))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key made of this prefix followed by `rest` (`tenants/A/` + `export.json`).
    pub fn key(&self, rest: &str) -> Result<BlobKey, BlobError> {
        BlobKey::parse(format!("{}{rest}", self.0))
    }

    /// The part of the prefix up to and including its last `/` (empty when it has none): every
    /// selected key lies in this "folder".
    pub(crate) fn folder(&self) -> &str {
        self.0.rfind('/').map_or("", |i| &self.0[..=i])
    }
}

impl std::fmt::Display for BlobPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for BlobPrefix {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for BlobPrefix {
    type Err = BlobError;

    fn from_str(prefix: &str) -> Result<Self, BlobError> {
        Self::parse(prefix)
    }
}

fn check_path(path: &str, what: &str) -> Result<(), BlobError> {
    let invalid = |reason: &str| Err(BlobError::InvalidKey(format!("{what} {path:?}: {reason}")));
    if path.is_empty() {
        return invalid("must not be empty");
    }
    if path.len() > MAX_KEY_BYTES {
        return Err(BlobError::InvalidKey(format!("{what} is longer than {MAX_KEY_BYTES} bytes")));
    }
    if let Some(c) = path.chars().find(|&c| !(c.is_ascii_alphanumeric() || "-_.=/".contains(c))) {
        return invalid(&format!("character {c:?} is not allowed (only ASCII letters, digits and -_.=/)"));
    }
    for segment in path.split('/') {
        match segment {
            "" => return invalid("segments must not be empty (no leading, trailing or doubled '/')"),
            "." | ".." => return invalid("segments must not be '.' or '..'"),
            _ => {}
        }
    }
    Ok(())
}

/// A stored blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub key: BlobKey,
    /// Its length in bytes.
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("invalid blob key: {0}")]
    InvalidKey(String),
    #[error("invalid blob request: {0}")]
    Invalid(String),
    #[error("the blob store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl BlobError {
    pub(crate) fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Unavailable(Box::new(e))
    }
}

/// The blob port.
///
/// A blob appears whole or not at all: readers never see part of a write. Writing a key again
/// replaces its blob.
#[async_trait]
pub trait Blobs: Send + Sync + std::fmt::Debug {
    /// Stores `body` under `key`, replacing any blob there. For large bodies use
    /// [`Blobs::start_upload`].
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError>;

    /// The blob's bytes, or `None` when there is no blob under `key`.
    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>, BlobError>;

    /// Starts a streamed write of any size in flat memory: the upload holds at most one part
    /// (a few MiB) at a time. Nothing is visible under `key` until [`BlobUpload::finish`].
    async fn start_upload(&self, key: &BlobKey, content_type: &str) -> Result<Box<dyn BlobUpload>, BlobError>;

    /// Every blob whose key starts with the prefix, in key order (paging is internal).
    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobInfo>, BlobError>;

    /// Deletes the blob under `key`; deleting a missing blob succeeds.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;

    /// Deletes every blob whose key starts with the prefix; returns how many were deleted.
    async fn delete_prefix(&self, prefix: &BlobPrefix) -> Result<usize, BlobError>;

    /// A URL that downloads the blob with a plain GET until `expires_in` (more than zero, at
    /// most [`MAX_PRESIGN_EXPIRY`]) has passed. The blob need not exist yet.
    async fn presigned_get(&self, key: &BlobKey, expires_in: Duration) -> Result<String, BlobError>;
}

/// A streamed write started by [`Blobs::start_upload`]. Dropping it without `finish` or `abort`
/// discards what was written (best effort; call `abort` to be sure).
#[async_trait]
pub trait BlobUpload: Send {
    /// Appends `data`; uploads a part whenever a full one has accumulated.
    async fn write(&mut self, data: &[u8]) -> Result<(), BlobError>;

    /// Makes the written bytes visible under the key, all at once.
    async fn finish(self: Box<Self>) -> Result<BlobInfo, BlobError>;

    /// Discards what was written; nothing is left behind.
    async fn abort(self: Box<Self>) -> Result<(), BlobError>;
}

pub(crate) fn validate_content_type(content_type: &str) -> Result<(), BlobError> {
    if content_type.is_empty() || content_type.len() > MAX_CONTENT_TYPE_BYTES {
        return Err(BlobError::Invalid(format!("content type must be 1 to {MAX_CONTENT_TYPE_BYTES} bytes")));
    }
    if !content_type.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(BlobError::Invalid("content type must be printable ASCII".into()));
    }
    Ok(())
}

pub(crate) fn validate_expiry(expires_in: Duration) -> Result<(), BlobError> {
    if expires_in.is_zero() || expires_in > MAX_PRESIGN_EXPIRY {
        return Err(BlobError::Invalid("a presigned link lasts more than zero and at most 7 days".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_the_allowed_alphabet_parse() {
        for key in ["a", "tenants/01H/export-2026-01-01.json", "x=1/y_2/.hidden", "A.B/c..d", "..a/b.."] {
            assert_eq!(BlobKey::parse(key).unwrap().as_str(), key);
        }
        assert!(BlobKey::parse("a".repeat(MAX_KEY_BYTES)).is_ok());
    }

    #[test]
    fn bad_keys_are_errors() {
        let too_long = "a".repeat(MAX_KEY_BYTES + 1);
        for key in [
            "", "/a", "a/", "a//b", ".", "..", "a/../b", "../a", "a/.", "./a", "a b", "a\\b", "a?b", "a%2e", "ä",
            "a\0", "a\n", "~a", &too_long,
        ] {
            assert!(matches!(BlobKey::parse(key), Err(BlobError::InvalidKey(_))), "{key:?} was accepted");
        }
    }

    #[test]
    fn prefixes_may_end_with_a_slash_but_follow_the_key_rules_otherwise() {
        for prefix in ["tenants/", "tenants/A/", "tenants/A", "t"] {
            assert!(BlobPrefix::parse(prefix).is_ok(), "{prefix:?} was refused");
        }
        for prefix in ["", "/", "/a/", "a//", "../", "a/../", "a b/"] {
            assert!(matches!(BlobPrefix::parse(prefix), Err(BlobError::InvalidKey(_))), "{prefix:?} was accepted");
        }
    }

    #[test]
    fn a_prefix_builds_keys_and_knows_its_folder() {
        let p = BlobPrefix::parse("tenants/A/").unwrap();
        assert_eq!(p.folder(), "tenants/A/");
        assert_eq!(p.key("x.json").unwrap().as_str(), "tenants/A/x.json");
        assert!(p.key("../x").is_err());
        assert!(p.key("x.json").unwrap().starts_with(&p));
        assert_eq!(BlobPrefix::parse("tenants/A").unwrap().folder(), "tenants/");
        assert_eq!(BlobPrefix::parse("t").unwrap().folder(), "");
    }

    #[test]
    fn keys_deserialize_only_when_valid() {
        assert!(serde_json::from_str::<BlobKey>("\"a/b\"").is_ok());
        assert!(serde_json::from_str::<BlobKey>("\"a/../b\"").is_err());
        assert_eq!(serde_json::to_string(&BlobKey::parse("a/b").unwrap()).unwrap(), "\"a/b\"");
    }

    #[test]
    fn presign_expiry_and_content_type_are_bounded() {
        assert!(validate_expiry(Duration::from_secs(1)).is_ok());
        assert!(validate_expiry(MAX_PRESIGN_EXPIRY).is_ok());
        assert!(validate_expiry(Duration::ZERO).is_err());
        assert!(validate_expiry(MAX_PRESIGN_EXPIRY + Duration::from_secs(1)).is_err());
        assert!(validate_content_type("application/json; charset=utf-8").is_ok());
        assert!(validate_content_type("").is_err());
        assert!(validate_content_type("text/plain\r\nX-Evil: 1").is_err());
    }
}
