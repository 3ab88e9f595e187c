//! The blob contract: every case runs against a local directory and against S3 (moto).

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sikurd::blobs::{BlobError, BlobInfo, BlobKey, BlobPrefix, Blobs, LocalDirBlobs, MAX_PRESIGN_EXPIRY, S3Blobs};
use sikurd_tests::moto;

const MIB: usize = 1024 * 1024;

/// A blob store under test, with adapter-specific handles for checks the port cannot express.
pub struct BlobsFixture {
    pub blobs: Arc<dyn Blobs>,
    /// The local adapter itself (None on S3).
    pub local: Option<Arc<LocalDirBlobs>>,
    /// An S3 client and the bucket (None for the local adapter).
    pub s3: Option<(aws_sdk_s3::Client, String)>,
    _dir: Option<tempfile::TempDir>,
}

fn local_blobs() -> BlobsFixture {
    let dir = tempfile::tempdir().unwrap();
    let local = Arc::new(LocalDirBlobs::open(dir.path().join("blobs"), "http://127.0.0.1:8080".into()).unwrap());
    BlobsFixture { blobs: local.clone(), local: Some(local), s3: None, _dir: Some(dir) }
}

async fn s3_blobs() -> BlobsFixture {
    let bucket = moto().fresh_bucket().await;
    let client = moto().s3().await;
    let blobs = Arc::new(S3Blobs::new(client.clone(), bucket.clone()));
    BlobsFixture { blobs, local: None, s3: Some((client, bucket)), _dir: None }
}

/// Runs each listed case (an `async fn(BlobsFixture)` in `cases`) once per adapter, as tests
/// named `<adapter>::<case>`.
macro_rules! for_each_blobs {
    ($($case:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case(super::local_blobs()).await
                }
            )*
        }
        mod s3 {
            $(
                #[tokio::test]
                async fn $case() {
                    super::cases::$case(super::s3_blobs().await).await
                }
            )*
        }
    };
}

fn key(k: &str) -> BlobKey {
    BlobKey::parse(k).unwrap()
}

fn prefix(p: &str) -> BlobPrefix {
    BlobPrefix::parse(p).unwrap()
}

/// Deterministic bytes that differ from part to part (so a misplaced part shows).
fn pattern(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn keys(infos: &[BlobInfo]) -> Vec<&str> {
    infos.iter().map(|i| i.key.as_str()).collect()
}

async fn multipart_uploads(client: &aws_sdk_s3::Client, bucket: &str) -> usize {
    client.list_multipart_uploads().bucket(bucket).send().await.unwrap().uploads().len()
}

/// A plain HTTP/1.0 GET (no TLS, no redirects): the status and the body.
async fn http_get(url: &str) -> (u16, Vec<u8>) {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, response[head_end + 4..].to_vec())
    })
    .await
    .unwrap()
}

/// The `expires` and `signature` query parameters of a local presigned link.
fn link_params(url: &str) -> (i64, String) {
    let query = url.split_once('?').unwrap().1;
    let param = |name: &str| {
        query.split('&').find_map(|p| p.strip_prefix(name).and_then(|v| v.strip_prefix('='))).unwrap().to_owned()
    };
    (param("expires").parse().unwrap(), param("signature"))
}

mod cases {
    use super::*;

    pub async fn a_put_blob_reads_back_and_a_missing_one_is_none(f: BlobsFixture) {
        let k = key("tenants/A/report.json");
        assert_eq!(f.blobs.get(&k).await.unwrap(), None);
        f.blobs.put(&k, Bytes::from_static(b"{\"v\":1}"), "application/json").await.unwrap();
        assert_eq!(f.blobs.get(&k).await.unwrap().as_deref(), Some(&b"{\"v\":1}"[..]));
        f.blobs.put(&k, Bytes::from_static(b"{\"v\":2}"), "application/json").await.unwrap();
        assert_eq!(f.blobs.get(&k).await.unwrap().as_deref(), Some(&b"{\"v\":2}"[..]));
        assert_eq!(f.blobs.get(&key("tenants/A/other.json")).await.unwrap(), None);

        let empty = key("tenants/A/empty");
        f.blobs.put(&empty, Bytes::new(), "application/octet-stream").await.unwrap();
        assert_eq!(f.blobs.get(&empty).await.unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(
            f.blobs.list(&prefix("tenants/A/")).await.unwrap(),
            vec![BlobInfo { key: empty, size: 0 }, BlobInfo { key: k, size: 7 }]
        );
    }

    pub async fn a_streamed_upload_of_20_mib_round_trips_byte_exactly(f: BlobsFixture) {
        let k = key("tenants/A/exports/full.json");
        let data = pattern(20 * MIB);
        let mut upload = f.blobs.start_upload(&k, "application/json").await.unwrap();
        for chunk in data.chunks(MIB) {
            upload.write(chunk).await.unwrap();
        }
        assert_eq!(f.blobs.get(&k).await.unwrap(), None, "visible before finish");
        let info = upload.finish().await.unwrap();
        assert_eq!(info, BlobInfo { key: k.clone(), size: data.len() as u64 });
        let back = f.blobs.get(&k).await.unwrap().unwrap();
        assert!(back == data[..], "the blob read back differs from what was written");
        assert_eq!(f.blobs.list(&prefix("tenants/A/")).await.unwrap(), vec![info]);

        if let Some((client, bucket)) = &f.s3 {
            let head = client.head_object().bucket(bucket).key(k.as_str()).send().await.unwrap();
            let etag = head.e_tag().unwrap();
            assert!(etag.trim_matches('"').ends_with("-3"), "not a 3-part multipart upload: ETag {etag}");
            assert_eq!(head.content_type(), Some("application/json"));
            assert_eq!(multipart_uploads(client, bucket).await, 0);
        }
    }

    pub async fn streamed_uploads_of_any_size_round_trip(f: BlobsFixture) {
        for (name, size, write) in
            [("empty", 0, 1), ("small", 10, 3), ("one-part", 8 * MIB, MIB), ("odd", 8 * MIB + 1, 3 * MIB + 7)]
        {
            let k = key(&format!("sizes/{name}"));
            let data = pattern(size);
            let mut upload = f.blobs.start_upload(&k, "application/octet-stream").await.unwrap();
            for chunk in data.chunks(write) {
                upload.write(chunk).await.unwrap();
            }
            upload.write(&[]).await.unwrap();
            assert_eq!(upload.finish().await.unwrap().size, size as u64, "{name}");
            assert!(f.blobs.get(&k).await.unwrap().unwrap() == data[..], "{name} differs");
        }
        if let Some((client, bucket)) = &f.s3 {
            let head = client.head_object().bucket(bucket).key("sizes/small").send().await.unwrap();
            assert!(!head.e_tag().unwrap().contains('-'), "a small upload should be a single PutObject");
        }
    }

    pub async fn an_aborted_upload_leaves_nothing_behind(f: BlobsFixture) {
        let data = pattern(9 * MIB);
        for name in ["small", "multipart"] {
            let k = key(&format!("tenants/A/{name}"));
            let mut upload = f.blobs.start_upload(&k, "application/json").await.unwrap();
            upload.write(if name == "small" { &data[..100] } else { &data }).await.unwrap();
            upload.abort().await.unwrap();
            assert_eq!(f.blobs.get(&k).await.unwrap(), None);
        }
        assert_eq!(f.blobs.list(&prefix("tenants/")).await.unwrap(), vec![]);
        if let Some((client, bucket)) = &f.s3 {
            assert_eq!(multipart_uploads(client, bucket).await, 0);
        }
    }

    pub async fn an_aborted_replacement_keeps_the_previous_blob(f: BlobsFixture) {
        let k = key("tenants/A/export.json");
        f.blobs.put(&k, Bytes::from_static(b"old"), "application/json").await.unwrap();
        let mut upload = f.blobs.start_upload(&k, "application/json").await.unwrap();
        upload.write(&pattern(9 * MIB)).await.unwrap();
        upload.abort().await.unwrap();
        assert_eq!(f.blobs.get(&k).await.unwrap().as_deref(), Some(&b"old"[..]));
    }

    pub async fn a_dropped_upload_leaves_nothing_behind(f: BlobsFixture) {
        let k = key("tenants/A/dropped");
        let mut upload = f.blobs.start_upload(&k, "application/json").await.unwrap();
        upload.write(&pattern(9 * MIB)).await.unwrap();
        drop(upload);
        assert_eq!(f.blobs.get(&k).await.unwrap(), None);
        assert_eq!(f.blobs.list(&prefix("tenants/")).await.unwrap(), vec![]);
        if let Some((client, bucket)) = &f.s3 {
            let mut waited = 0;
            while multipart_uploads(client, bucket).await > 0 {
                assert!(waited < 100, "the dropped multipart upload was not aborted");
                tokio::time::sleep(Duration::from_millis(50)).await;
                waited += 1;
            }
        }
    }

    pub async fn list_and_delete_prefix_touch_only_that_prefix(f: BlobsFixture) {
        for (k, body) in [
            ("tenants/A/export.json", "1"),
            ("tenants/A/exports/2026/full.json", "22"),
            ("tenants/AB/x", "333"),
            ("tenants/B/export.json", "4444"),
            ("tenants/B/exports/2026/full.json", "55555"),
        ] {
            f.blobs.put(&key(k), Bytes::from(body), "text/plain").await.unwrap();
        }
        let a = f.blobs.list(&prefix("tenants/A/")).await.unwrap();
        assert_eq!(keys(&a), ["tenants/A/export.json", "tenants/A/exports/2026/full.json"]);
        assert_eq!(a.iter().map(|i| i.size).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(
            keys(&f.blobs.list(&prefix("tenants/A")).await.unwrap()),
            ["tenants/A/export.json", "tenants/A/exports/2026/full.json", "tenants/AB/x"]
        );
        assert_eq!(keys(&f.blobs.list(&prefix("tenants/A/exp")).await.unwrap()).len(), 2);
        assert_eq!(keys(&f.blobs.list(&prefix("tenants/A/exports/")).await.unwrap()).len(), 1);
        assert_eq!(f.blobs.list(&prefix("tenants/C/")).await.unwrap(), vec![]);
        assert_eq!(f.blobs.list(&prefix("nothing/here/")).await.unwrap(), vec![]);

        assert_eq!(f.blobs.delete_prefix(&prefix("tenants/A/")).await.unwrap(), 2);
        assert_eq!(f.blobs.list(&prefix("tenants/A/")).await.unwrap(), vec![]);
        assert_eq!(f.blobs.get(&key("tenants/A/export.json")).await.unwrap(), None);
        assert_eq!(
            keys(&f.blobs.list(&prefix("tenants/")).await.unwrap()),
            ["tenants/AB/x", "tenants/B/export.json", "tenants/B/exports/2026/full.json"]
        );
        assert_eq!(f.blobs.get(&key("tenants/B/export.json")).await.unwrap().as_deref(), Some(&b"4444"[..]));
        assert_eq!(f.blobs.delete_prefix(&prefix("tenants/A/")).await.unwrap(), 0);

        f.blobs.delete(&key("tenants/B/export.json")).await.unwrap();
        f.blobs.delete(&key("tenants/B/export.json")).await.unwrap();
        assert_eq!(keys(&f.blobs.list(&prefix("tenants/B/")).await.unwrap()), ["tenants/B/exports/2026/full.json"]);
        f.blobs.put(&key("tenants/A/again"), Bytes::from_static(b"x"), "text/plain").await.unwrap();
        assert_eq!(keys(&f.blobs.list(&prefix("tenants/A/")).await.unwrap()), ["tenants/A/again"]);
    }

    pub async fn listing_and_deleting_page_past_a_thousand_keys(f: BlobsFixture) {
        const COUNT: usize = 1010;
        let mut tasks = tokio::task::JoinSet::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(16));
        for i in 0..COUNT {
            let (blobs, gate) = (f.blobs.clone(), gate.clone());
            tasks.spawn(async move {
                let _permit = gate.acquire().await.unwrap();
                blobs.put(&key(&format!("tenants/A/{i:05}")), Bytes::from_static(b"x"), "text/plain").await.unwrap();
            });
        }
        tasks.join_all().await;
        f.blobs.put(&key("tenants/B/keep"), Bytes::from_static(b"x"), "text/plain").await.unwrap();

        let listed = f.blobs.list(&prefix("tenants/A/")).await.unwrap();
        let expected: Vec<String> = (0..COUNT).map(|i| format!("tenants/A/{i:05}")).collect();
        assert_eq!(keys(&listed), expected);
        assert_eq!(f.blobs.delete_prefix(&prefix("tenants/A/")).await.unwrap(), COUNT);
        assert_eq!(f.blobs.list(&prefix("tenants/A/")).await.unwrap(), vec![]);
        assert_eq!(keys(&f.blobs.list(&prefix("tenants/")).await.unwrap()), ["tenants/B/keep"]);
    }

    pub async fn keys_that_look_like_folders_or_hidden_files_are_ordinary_blobs(f: BlobsFixture) {
        let names = ["a", "a/b", "a/b/c", ".signing-key", ".uploads/x", "objects/a", "x/.hidden", "=.-_/..a"];
        for name in names {
            f.blobs.put(&key(name), Bytes::from(name.to_owned()), "text/plain").await.unwrap();
        }
        for name in names {
            assert_eq!(f.blobs.get(&key(name)).await.unwrap().as_deref(), Some(name.as_bytes()), "{name}");
        }
        assert_eq!(keys(&f.blobs.list(&prefix("a")).await.unwrap()), ["a", "a/b", "a/b/c"]);
        f.blobs.delete(&key("a/b")).await.unwrap();
        assert_eq!(keys(&f.blobs.list(&prefix("a")).await.unwrap()), ["a", "a/b/c"]);
        assert_eq!(f.blobs.delete_prefix(&prefix("a/")).await.unwrap(), 1);
        assert_eq!(f.blobs.get(&key("a")).await.unwrap().as_deref(), Some(&b"a"[..]));
        if let Some(local) = &f.local {
            let link = local.presigned_get(&key("a"), Duration::from_secs(60)).await.unwrap();
            let (expires, signature) = link_params(&link);
            assert!(
                local.verify_presigned(&key("a"), expires, &signature, expires - 1),
                "the signing key was replaced"
            );
        }
    }

    pub async fn bad_keys_and_requests_are_refused(f: BlobsFixture) {
        for bad in [
            "",
            "/tenants/A",
            "tenants/../B",
            "tenants/./A",
            "tenants//A",
            "tenants/A/",
            "..",
            "a b",
            "a?b",
            "a%2F",
            "é",
        ] {
            assert!(matches!(BlobKey::parse(bad), Err(BlobError::InvalidKey(_))), "key {bad:?} was accepted");
        }
        assert!(BlobKey::parse("a".repeat(1025)).is_err());
        for bad in ["", "/", "/tenants/", "../", "tenants/../", "tenants//"] {
            assert!(matches!(BlobPrefix::parse(bad), Err(BlobError::InvalidKey(_))), "prefix {bad:?} was accepted");
        }
        assert!(prefix("tenants/A/").key("../B/x").is_err());

        let k = key("tenants/A/x");
        let err = f.blobs.put(&k, Bytes::from_static(b"x"), "text/plain\r\nX-Injected: 1").await.unwrap_err();
        assert!(matches!(err, BlobError::Invalid(_)), "{err:?}");
        assert!(matches!(f.blobs.start_upload(&k, "").await.err(), Some(BlobError::Invalid(_))));
        for bad in [Duration::ZERO, MAX_PRESIGN_EXPIRY + Duration::from_secs(1)] {
            let err = f.blobs.presigned_get(&k, bad).await.unwrap_err();
            assert!(matches!(err, BlobError::Invalid(_)), "{err:?}");
        }
        assert_eq!(f.blobs.list(&prefix("tenants/")).await.unwrap(), vec![]);
    }

    pub async fn a_presigned_link_downloads_the_blob_until_it_expires(f: BlobsFixture) {
        let k = key("tenants/A/exports/full.json");
        let body = pattern(64 * 1024);
        f.blobs.put(&k, Bytes::from(body.clone()), "application/json").await.unwrap();
        let link = f.blobs.presigned_get(&k, Duration::from_secs(3600)).await.unwrap();
        assert!(f.blobs.presigned_get(&k, MAX_PRESIGN_EXPIRY).await.is_ok());

        if let Some(local) = &f.local {
            let (expires, signature) = link_params(&link);
            assert!(link.starts_with(&format!("http://127.0.0.1:8080/blobs/{k}?")), "{link}");
            let now = chrono::Utc::now().timestamp();
            assert!((3599..=3601).contains(&(expires - now)), "expires in {} s", expires - now);
            assert!(local.verify_presigned(&k, expires, &signature, now));
            assert!(local.verify_presigned(&k, expires, &signature, expires));
            assert!(!local.verify_presigned(&k, expires, &signature, expires + 1), "valid after expiry");
            assert!(!local.verify_presigned(&key("tenants/B/exports/full.json"), expires, &signature, now));
            assert!(!local.verify_presigned(&k, expires + 3600, &signature, now), "expiry can be extended");
            let mut tampered = signature.clone().into_bytes();
            tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
            assert!(!local.verify_presigned(&k, expires, std::str::from_utf8(&tampered).unwrap(), now));
            assert!(!local.verify_presigned(&k, expires, "not hex", now));
            assert!(!local.verify_presigned(&k, expires, "", now));
        }
        if f.s3.is_some() {
            let (status, got) = http_get(&link).await;
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&got));
            assert!(got == body, "the downloaded blob differs");
        }
    }
}

for_each_blobs!(
    a_put_blob_reads_back_and_a_missing_one_is_none,
    a_streamed_upload_of_20_mib_round_trips_byte_exactly,
    streamed_uploads_of_any_size_round_trip,
    an_aborted_upload_leaves_nothing_behind,
    an_aborted_replacement_keeps_the_previous_blob,
    a_dropped_upload_leaves_nothing_behind,
    list_and_delete_prefix_touch_only_that_prefix,
    listing_and_deleting_page_past_a_thousand_keys,
    keys_that_look_like_folders_or_hidden_files_are_ordinary_blobs,
    bad_keys_and_requests_are_refused,
    a_presigned_link_downloads_the_blob_until_it_expires,
);
