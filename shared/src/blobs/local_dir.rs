//! The local-directory adapter: one file per blob, for the local stack.
//!
//! Layout under the root:
//! - `objects/<key>~`: the blob stored under `<key>`, its segments as directories. The `~` (not
//!   in the key alphabet) keeps blob files and directories apart, so `a` and `a/b` can both exist
//!   as in S3, and no key can name the adapter's own files.
//! - `.uploads/`: writes in progress, renamed into `objects/` when finished (atomic).
//! - `.signing-key`: 32 random bytes, the HMAC-SHA256 key of presigned links.
//!
//! Files are created with mode 0600 and directories with mode 0700 on unix.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use zeroize::Zeroizing;

use super::{BlobError, BlobInfo, BlobKey, BlobPrefix, BlobUpload, Blobs, validate_content_type, validate_expiry};

const OBJECTS: &str = "objects";
const UPLOADS: &str = ".uploads";
const SIGNING_KEY: &str = ".signing-key";
const SIGNING_KEY_BYTES: usize = 32;
const BLOB_SUFFIX: char = '~';
/// Attempts at moving a finished file into place while a concurrent delete prunes its folder.
const INSTALL_ATTEMPTS: usize = 3;

type HmacSha256 = Hmac<Sha256>;

/// Blobs as files under a directory, with presigned links served by the local stack at
/// `{base_url}/blobs/{key}?expires={unix seconds}&signature={hex HMAC-SHA256}`.
pub struct LocalDirBlobs {
    root: PathBuf,
    base_url: String,
    signing_key: Zeroizing<[u8; SIGNING_KEY_BYTES]>,
}

impl std::fmt::Debug for LocalDirBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDirBlobs")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl LocalDirBlobs {
    /// Opens the store under `root`, creating it and its signing key on first use. Links point at
    /// `base_url` (such as `http://127.0.0.1:8080`).
    pub fn open(root: PathBuf, base_url: String) -> Result<Self, BlobError> {
        create_private_dirs(&root.join(OBJECTS)).map_err(BlobError::unavailable)?;
        create_private_dirs(&root.join(UPLOADS)).map_err(BlobError::unavailable)?;
        let signing_key = load_or_create_signing_key(&root)?;
        Ok(Self { base_url: base_url.trim_end_matches('/').to_owned(), root, signing_key })
    }

    /// Whether a presigned link's `expires` and `signature` were issued by this store for `key`
    /// and are still valid at `now_unix` (valid up to and including the `expires` second). The
    /// signature is compared in constant time.
    pub fn verify_presigned(&self, key: &BlobKey, expires: i64, signature: &str, now_unix: i64) -> bool {
        if now_unix > expires {
            return false;
        }
        let Ok(signature) = hex::decode(signature) else { return false };
        self.mac(key, expires).is_some_and(|mac| mac.verify_slice(&signature).is_ok())
    }

    fn mac(&self, key: &BlobKey, expires: i64) -> Option<HmacSha256> {
        let mut mac = HmacSha256::new_from_slice(self.signing_key.as_slice()).ok()?;
        mac.update(format!("GET\n{key}\n{expires}").as_bytes());
        Some(mac)
    }

    fn objects(&self) -> PathBuf {
        self.root.join(OBJECTS)
    }

    /// The file that holds the blob under `key` (for people: operators open it directly).
    pub fn blob_path(&self, key: &BlobKey) -> PathBuf {
        let mut path = self.objects();
        let mut segments = key.segments().peekable();
        while let Some(segment) = segments.next() {
            if segments.peek().is_some() {
                path.push(segment);
            } else {
                path.push(format!("{segment}{BLOB_SUFFIX}"));
            }
        }
        path
    }

    fn folder_path(&self, folder: &str) -> PathBuf {
        let mut path = self.objects();
        path.extend(folder.split('/').filter(|s| !s.is_empty()));
        path
    }

    fn temp_path(&self) -> PathBuf {
        self.root.join(UPLOADS).join(format!("{:032x}", rand::random::<u128>()))
    }
}

#[async_trait]
impl Blobs for LocalDirBlobs {
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        validate_content_type(content_type)?;
        let (temp, target, objects) = (self.temp_path(), self.blob_path(key), self.objects());
        blocking(move || {
            let written = create_private_file(&temp).and_then(|mut f| {
                f.write_all(&body)?;
                f.sync_all()
            });
            let result = written.and_then(|()| install(&temp, &target, &objects));
            if result.is_err() {
                remove_if_present(&temp);
            }
            result
        })
        .await
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>, BlobError> {
        match tokio::fs::read(self.blob_path(key)).await {
            Ok(bytes) => Ok(Some(Bytes::from(bytes))),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(BlobError::unavailable(e)),
        }
    }

    async fn start_upload(&self, key: &BlobKey, content_type: &str) -> Result<Box<dyn BlobUpload>, BlobError> {
        validate_content_type(content_type)?;
        let temp = self.temp_path();
        let file =
            tokio::fs::OpenOptions::from(private_file_options()).open(&temp).await.map_err(BlobError::unavailable)?;
        Ok(Box::new(LocalUpload {
            file: Some(file),
            temp,
            target: self.blob_path(key),
            objects: self.objects(),
            key: key.clone(),
            size: 0,
        }))
    }

    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobInfo>, BlobError> {
        let (start, prefix) = (self.folder_path(prefix.folder()), prefix.clone());
        blocking(move || {
            let (files, _) = walk(&start, &prefix)?;
            Ok(files.into_iter().map(|(_, info)| info).collect())
        })
        .await
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        let (path, objects) = (self.blob_path(key), self.objects());
        blocking(move || {
            match std::fs::remove_file(&path) {
                Err(e) if !is_missing(&e) => return Err(e),
                _ => {}
            }
            if let Some(parent) = path.parent() {
                prune_empty(parent, &objects);
            }
            Ok(())
        })
        .await
    }

    async fn delete_prefix(&self, prefix: &BlobPrefix) -> Result<usize, BlobError> {
        let (start, objects, prefix) = (self.folder_path(prefix.folder()), self.objects(), prefix.clone());
        blocking(move || {
            let (files, mut dirs) = walk(&start, &prefix)?;
            let mut deleted = 0;
            for (path, _) in &files {
                match std::fs::remove_file(path) {
                    Ok(()) => deleted += 1,
                    Err(e) if is_missing(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for dir in &dirs {
                let _ = std::fs::remove_dir(dir);
            }
            prune_empty(&start, &objects);
            Ok(deleted)
        })
        .await
    }

    async fn presigned_get(&self, key: &BlobKey, expires_in: Duration) -> Result<String, BlobError> {
        validate_expiry(expires_in)?;
        let lifetime = expires_in.as_secs() + u64::from(expires_in.subsec_nanos() > 0);
        let expires = chrono::Utc::now().timestamp().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
        let mac = self.mac(key, expires).ok_or_else(|| BlobError::Invalid("the signing key is unusable".into()))?;
        let signature = hex::encode(mac.finalize().into_bytes());
        Ok(format!("{}/blobs/{key}?expires={expires}&signature={signature}", self.base_url))
    }
}

/// A streamed write into a temporary file, renamed into place by `finish`.
struct LocalUpload {
    /// `None` once finished or aborted.
    file: Option<tokio::fs::File>,
    temp: PathBuf,
    target: PathBuf,
    objects: PathBuf,
    key: BlobKey,
    size: u64,
}

impl LocalUpload {
    fn file(&mut self) -> Result<&mut tokio::fs::File, BlobError> {
        self.file.as_mut().ok_or_else(|| BlobError::Invalid(format!("the upload to {} is over", self.key)))
    }
}

#[async_trait]
impl BlobUpload for LocalUpload {
    async fn write(&mut self, data: &[u8]) -> Result<(), BlobError> {
        self.file()?.write_all(data).await.map_err(BlobError::unavailable)?;
        self.size += data.len() as u64;
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<BlobInfo, BlobError> {
        let mut file =
            self.file.take().ok_or_else(|| BlobError::Invalid(format!("the upload to {} is over", self.key)))?;
        let synced = match file.flush().await {
            Ok(()) => file.sync_all().await,
            Err(e) => Err(e),
        };
        drop(file);
        let (temp, target, objects) = (self.temp.clone(), self.target.clone(), self.objects.clone());
        let result = blocking(move || {
            let result = synced.and_then(|()| install(&temp, &target, &objects));
            if result.is_err() {
                remove_if_present(&temp);
            }
            result
        })
        .await;
        result.map(|()| BlobInfo { key: self.key.clone(), size: self.size })
    }

    async fn abort(mut self: Box<Self>) -> Result<(), BlobError> {
        drop(self.file.take());
        match tokio::fs::remove_file(&self.temp).await {
            Err(e) if !is_missing(&e) => Err(BlobError::unavailable(e)),
            _ => Ok(()),
        }
    }
}

impl Drop for LocalUpload {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            remove_if_present(&self.temp);
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> std::io::Result<T> + Send + 'static) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f).await.map_err(BlobError::unavailable)?.map_err(BlobError::unavailable)
}

fn is_missing(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

fn remove_if_present(path: &Path) {
    if let Err(e) = std::fs::remove_file(path)
        && !is_missing(&e)
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove a temporary blob file");
    }
}

fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    private_file_options().open(path)
}

fn create_private_dirs(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Moves a finished temporary file to `target`, creating its folders; retried when a concurrent
/// delete prunes a folder between its creation and the rename.
fn install(temp: &Path, target: &Path, objects: &Path) -> std::io::Result<()> {
    let parent = target.parent().unwrap_or(objects);
    let mut attempt = 1;
    loop {
        create_private_dirs(parent)?;
        match std::fs::rename(temp, target) {
            Err(e) if e.kind() == ErrorKind::NotFound && attempt < INSTALL_ATTEMPTS && temp.exists() => attempt += 1,
            result => return result,
        }
    }
}

/// Removes `dir` and then its ancestors while they are empty, stopping at `objects`.
fn prune_empty(dir: &Path, objects: &Path) {
    let mut dir = dir;
    while dir != objects && dir.starts_with(objects) && std::fs::remove_dir(dir).is_ok() {
        match dir.parent() {
            Some(parent) => dir = parent,
            None => return,
        }
    }
}

type BlobFile = (PathBuf, BlobInfo);

/// The blob files (path and info, in key order) under `start` whose keys start with the prefix,
/// and the directories visited below `start`. `start` is the prefix's folder.
fn walk(start: &Path, prefix: &BlobPrefix) -> std::io::Result<(Vec<BlobFile>, Vec<PathBuf>)> {
    let prefix_str = prefix.as_str();
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut pending = vec![(start.to_path_buf(), prefix.folder().to_owned())];
    while let Some((dir, folder)) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if is_missing(&e) => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                let sub = format!("{folder}{name}/");
                if BlobPrefix::parse(sub.as_str()).is_ok()
                    && (sub.starts_with(prefix_str) || prefix_str.starts_with(&sub))
                {
                    dirs.push(entry.path());
                    pending.push((entry.path(), sub));
                }
            } else if file_type.is_file()
                && let Some(stem) = name.strip_suffix(BLOB_SUFFIX)
                && let Ok(key) = BlobKey::parse(format!("{folder}{stem}"))
                && key.starts_with(prefix)
            {
                let size = entry.metadata()?.len();
                files.push((entry.path(), BlobInfo { key, size }));
            }
        }
    }
    files.sort_by(|a, b| a.1.key.cmp(&b.1.key));
    Ok((files, dirs))
}

fn load_or_create_signing_key(root: &Path) -> Result<Zeroizing<[u8; SIGNING_KEY_BYTES]>, BlobError> {
    let path = root.join(SIGNING_KEY);
    match read_signing_key(&path) {
        Err(BlobError::Unavailable(e)) if e.downcast_ref::<std::io::Error>().is_some_and(is_missing) => {}
        result => return result,
    }
    let temp = root.join(UPLOADS).join(format!("{:032x}", rand::random::<u128>()));
    let key = Zeroizing::new(rand::random::<[u8; SIGNING_KEY_BYTES]>());
    let created = create_private_file(&temp).and_then(|mut f| {
        f.write_all(key.as_slice())?;
        f.sync_all()
    });
    // A hard link never replaces an existing file: of two stores opening at once, one key wins.
    let linked = created.and_then(|()| match std::fs::hard_link(&temp, &path) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        result => result,
    });
    remove_if_present(&temp);
    linked.map_err(BlobError::unavailable)?;
    read_signing_key(&path)
}

fn read_signing_key(path: &Path) -> Result<Zeroizing<[u8; SIGNING_KEY_BYTES]>, BlobError> {
    let bytes = Zeroizing::new(std::fs::read(path).map_err(BlobError::unavailable)?);
    let key: [u8; SIGNING_KEY_BYTES] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| BlobError::Invalid(format!("{} does not hold {SIGNING_KEY_BYTES} bytes", path.display())))?;
    Ok(Zeroizing::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(dir: &Path) -> LocalDirBlobs {
        LocalDirBlobs::open(dir.to_path_buf(), "http://127.0.0.1:9/".into()).unwrap()
    }

    #[test]
    fn blob_files_never_collide_with_folders_or_the_stores_own_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let key = |k: &str| BlobKey::parse(k).unwrap();
        assert_eq!(s.blob_path(&key("a")), dir.path().join("objects/a~"));
        assert_eq!(s.blob_path(&key("a/b.json")), dir.path().join("objects/a/b.json~"));
        assert_eq!(s.blob_path(&key(".signing-key")), dir.path().join("objects/.signing-key~"));
    }

    #[test]
    fn the_signing_key_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = store(dir.path());
        let second = store(dir.path());
        assert_eq!(first.signing_key.as_slice(), second.signing_key.as_slice());
        assert_eq!(std::fs::read(dir.path().join(SIGNING_KEY)).unwrap(), first.signing_key.as_slice());
        assert_eq!(std::fs::read_dir(dir.path().join(UPLOADS)).unwrap().count(), 0);
    }

    #[cfg(unix)]
    #[test]
    fn the_store_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let _s = store(&root);
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(root.join(SIGNING_KEY)), 0o600);
        assert_eq!(mode(root.clone()), 0o700);
        assert_eq!(mode(root.join(OBJECTS)), 0o700);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn blobs_and_their_folders_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let put = BlobKey::parse("tenants/A/put.json").unwrap();
        s.put(&put, Bytes::from_static(b"{}"), "application/json").await.unwrap();
        let streamed = BlobKey::parse("tenants/B/streamed.json").unwrap();
        let mut upload = s.start_upload(&streamed, "application/json").await.unwrap();
        upload.write(b"{}").await.unwrap();
        upload.finish().await.unwrap();
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(s.blob_path(&put)), 0o600);
        assert_eq!(mode(s.blob_path(&streamed)), 0o600);
        assert_eq!(mode(dir.path().join("objects/tenants/A")), 0o700);
        assert_eq!(mode(dir.path().join("objects/tenants")), 0o700);
    }

    #[tokio::test]
    async fn deleting_prunes_emptied_folders() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        for k in ["tenants/A/x/1", "tenants/A/2", "tenants/B/3"] {
            s.put(&BlobKey::parse(k).unwrap(), Bytes::from_static(b"1"), "text/plain").await.unwrap();
        }
        assert_eq!(s.delete_prefix(&BlobPrefix::parse("tenants/A/").unwrap()).await.unwrap(), 2);
        assert!(!dir.path().join("objects/tenants/A").exists());
        s.delete(&BlobKey::parse("tenants/B/3").unwrap()).await.unwrap();
        assert!(!dir.path().join("objects/tenants").exists());
        assert!(dir.path().join("objects").exists());
    }

    #[tokio::test]
    async fn a_dropped_upload_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut upload = s.start_upload(&BlobKey::parse("a").unwrap(), "text/plain").await.unwrap();
        upload.write(b"partial").await.unwrap();
        drop(upload);
        assert_eq!(std::fs::read_dir(dir.path().join(UPLOADS)).unwrap().count(), 0);
        assert!(s.list(&BlobPrefix::parse("a").unwrap()).await.unwrap().is_empty());
    }

    #[test]
    fn a_truncated_signing_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        drop(store(dir.path()));
        std::fs::write(dir.path().join(SIGNING_KEY), b"short").unwrap();
        assert!(matches!(LocalDirBlobs::open(dir.path().to_path_buf(), String::new()), Err(BlobError::Invalid(_))));
    }
}
