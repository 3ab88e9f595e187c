//! The S3 adapter (`aws-sdk-s3`). Streamed uploads become multipart uploads once a full part has
//! accumulated; every part carries a CRC32 checksum that S3 checks. Encryption at rest is the
//! bucket's business (its default encryption and policy), not the adapter's.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use bytes::Bytes;

use super::{BlobError, BlobInfo, BlobKey, BlobPrefix, BlobUpload, Blobs, validate_content_type, validate_expiry};

/// The size of every part but the last (S3 wants at least 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's limit on parts per upload; with 8 MiB parts an upload holds up to about 78 GiB.
const MAX_PARTS: i32 = 10_000;
/// S3's limit on keys per DeleteObjects (and on keys per ListObjectsV2 page).
const BATCH: i32 = 1000;

/// Blobs in one S3 bucket.
#[derive(Clone)]
pub struct S3Blobs {
    client: Client,
    bucket: String,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs").field("bucket", &self.bucket).finish_non_exhaustive()
    }
}

fn sdk_err<E, R>(e: SdkError<E, R>) -> BlobError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    BlobError::unavailable(e)
}

fn missing(what: &str) -> BlobError {
    BlobError::Unavailable(format!("S3 answered without {what}").into())
}

impl S3Blobs {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// One page of keys under the prefix, with their sizes, and the token of the next page.
    async fn list_page(
        &self,
        prefix: &BlobPrefix,
        token: Option<String>,
    ) -> Result<(Vec<(String, u64)>, Option<String>), BlobError> {
        let out = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix.as_str())
            .max_keys(BATCH)
            .set_continuation_token(token)
            .send()
            .await
            .map_err(sdk_err)?;
        let objects = out
            .contents()
            .iter()
            .filter_map(|o| Some((o.key()?.to_owned(), o.size().map_or(0, |s| u64::try_from(s).unwrap_or(0)))))
            .collect();
        let next = match out.is_truncated() {
            Some(true) => {
                Some(out.next_continuation_token().ok_or_else(|| missing("a continuation token"))?.to_owned())
            }
            _ => None,
        };
        Ok((objects, next))
    }
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn put(&self, key: &BlobKey, body: Bytes, content_type: &str) -> Result<(), BlobError> {
        validate_content_type(content_type)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk_err)?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<Bytes>, BlobError> {
        match self.client.get_object().bucket(&self.bucket).key(key.as_str()).send().await {
            Ok(out) => Ok(Some(out.body.collect().await.map_err(BlobError::unavailable)?.into_bytes())),
            Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => Ok(None),
            Err(e) => Err(sdk_err(e)),
        }
    }

    async fn start_upload(&self, key: &BlobKey, content_type: &str) -> Result<Box<dyn BlobUpload>, BlobError> {
        validate_content_type(content_type)?;
        Ok(Box::new(S3Upload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.clone(),
            content_type: content_type.to_owned(),
            buffer: Vec::new(),
            size: 0,
            multipart: None,
            failed: false,
        }))
    }

    async fn list(&self, prefix: &BlobPrefix) -> Result<Vec<BlobInfo>, BlobError> {
        let mut blobs = Vec::new();
        let mut token = None;
        loop {
            let (objects, next) = self.list_page(prefix, token).await?;
            for (key, size) in objects {
                match BlobKey::parse(key.as_str()) {
                    Ok(key) => blobs.push(BlobInfo { key, size }),
                    Err(_) => {
                        tracing::warn!(bucket = %self.bucket, key, "skipping an object whose key is not a blob key")
                    }
                }
            }
            match next {
                Some(t) => token = Some(t),
                None => return Ok(blobs),
            }
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.client.delete_object().bucket(&self.bucket).key(key.as_str()).send().await.map_err(sdk_err)?;
        Ok(())
    }

    async fn delete_prefix(&self, prefix: &BlobPrefix) -> Result<usize, BlobError> {
        let mut deleted = 0;
        loop {
            // Always the first page: what was listed before is gone.
            let (objects, _) = self.list_page(prefix, None).await?;
            if objects.is_empty() {
                return Ok(deleted);
            }
            let ids = objects
                .iter()
                .map(|(key, _)| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(BlobError::unavailable)?;
            let count = ids.len();
            let delete =
                Delete::builder().set_objects(Some(ids)).quiet(true).build().map_err(BlobError::unavailable)?;
            let out = self.client.delete_objects().bucket(&self.bucket).delete(delete).send().await.map_err(sdk_err)?;
            if let Some(e) = out.errors().first() {
                return Err(BlobError::Unavailable(
                    format!(
                        "S3 did not delete {} of {count} objects under {prefix}; first: {} ({})",
                        out.errors().len(),
                        e.key().unwrap_or("?"),
                        e.code().unwrap_or("no code"),
                    )
                    .into(),
                ));
            }
            deleted += count;
        }
    }

    async fn presigned_get(&self, key: &BlobKey, expires_in: Duration) -> Result<String, BlobError> {
        validate_expiry(expires_in)?;
        let config = PresigningConfig::expires_in(expires_in).map_err(|e| BlobError::Invalid(e.to_string()))?;
        let request =
            self.client.get_object().bucket(&self.bucket).key(key.as_str()).presigned(config).await.map_err(sdk_err)?;
        Ok(request.uri().to_owned())
    }
}

/// A multipart upload in progress.
struct Multipart {
    upload_id: String,
    parts: Vec<CompletedPart>,
}

/// A streamed write: buffers up to one part, then uploads it.
struct S3Upload {
    client: Client,
    bucket: String,
    key: BlobKey,
    content_type: String,
    buffer: Vec<u8>,
    size: u64,
    /// Started with the first full part; `None` while everything still fits one PutObject.
    multipart: Option<Multipart>,
    /// A part failed and the upload was aborted.
    failed: bool,
}

impl S3Upload {
    fn check_usable(&self) -> Result<(), BlobError> {
        if self.failed {
            return Err(BlobError::Invalid(format!("the upload to {} failed earlier and was aborted", self.key)));
        }
        Ok(())
    }

    async fn upload_id(&mut self) -> Result<String, BlobError> {
        if let Some(m) = &self.multipart {
            return Ok(m.upload_id.clone());
        }
        let out = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key.as_str())
            .content_type(&self.content_type)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .send()
            .await
            .map_err(sdk_err)?;
        let upload_id = out.upload_id().ok_or_else(|| missing("an upload id"))?.to_owned();
        self.multipart = Some(Multipart { upload_id: upload_id.clone(), parts: Vec::new() });
        Ok(upload_id)
    }

    /// Uploads the buffer as the next part.
    async fn upload_part(&mut self) -> Result<(), BlobError> {
        let number = self.multipart.as_ref().map_or(0, |m| m.parts.len()) + 1;
        let number = i32::try_from(number).ok().filter(|n| *n <= MAX_PARTS).ok_or_else(|| {
            BlobError::Invalid(format!("an upload holds at most {MAX_PARTS} parts of {PART_SIZE} bytes"))
        })?;
        let upload_id = self.upload_id().await?;
        let body = Bytes::from(std::mem::replace(&mut self.buffer, Vec::with_capacity(PART_SIZE)));
        let out = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(self.key.as_str())
            .upload_id(upload_id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(sdk_err)?;
        let part = CompletedPart::builder()
            .part_number(number)
            .set_e_tag(out.e_tag().map(str::to_owned))
            .set_checksum_crc32(out.checksum_crc32().map(str::to_owned))
            .build();
        if let Some(m) = &mut self.multipart {
            m.parts.push(part);
        }
        Ok(())
    }

    async fn abort_multipart(&self, multipart: Multipart) -> Result<(), BlobError> {
        abort(&self.client, &self.bucket, &self.key, &multipart.upload_id).await
    }

    /// Gives up after an error: aborts the multipart upload (the original error is what the
    /// caller reports) and refuses further use.
    async fn fail(&mut self) {
        self.failed = true;
        self.buffer = Vec::new();
        if let Some(m) = self.multipart.take()
            && let Err(e) = self.abort_multipart(m).await
        {
            tracing::warn!(bucket = %self.bucket, key = %self.key, error = ?e, "could not abort a failed multipart upload");
        }
    }
}

async fn abort(client: &Client, bucket: &str, key: &BlobKey, upload_id: &str) -> Result<(), BlobError> {
    client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key.as_str())
        .upload_id(upload_id)
        .send()
        .await
        .map_err(sdk_err)?;
    Ok(())
}

#[async_trait]
impl BlobUpload for S3Upload {
    async fn write(&mut self, mut data: &[u8]) -> Result<(), BlobError> {
        self.check_usable()?;
        while !data.is_empty() {
            let take = (PART_SIZE - self.buffer.len()).min(data.len());
            let (now, rest) = data.split_at(take);
            self.buffer.extend_from_slice(now);
            self.size += take as u64;
            data = rest;
            if self.buffer.len() >= PART_SIZE
                && let Err(e) = self.upload_part().await
            {
                self.fail().await;
                return Err(e);
            }
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<BlobInfo, BlobError> {
        self.check_usable()?;
        if self.multipart.is_some()
            && !self.buffer.is_empty()
            && let Err(e) = self.upload_part().await
        {
            self.fail().await;
            return Err(e);
        }
        let info = BlobInfo { key: self.key.clone(), size: self.size };
        let Some(multipart) = self.multipart.take() else {
            let body = Bytes::from(std::mem::take(&mut self.buffer));
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(self.key.as_str())
                .content_type(&self.content_type)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(sdk_err)?;
            return Ok(info);
        };
        let completed = CompletedMultipartUpload::builder().set_parts(Some(multipart.parts.clone())).build();
        let result = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(self.key.as_str())
            .upload_id(&multipart.upload_id)
            .multipart_upload(completed)
            .send()
            .await;
        match result {
            Ok(_) => Ok(info),
            Err(e) => {
                self.multipart = Some(multipart);
                self.fail().await;
                Err(sdk_err(e))
            }
        }
    }

    async fn abort(mut self: Box<Self>) -> Result<(), BlobError> {
        self.buffer = Vec::new();
        match self.multipart.take() {
            Some(m) => self.abort_multipart(m).await,
            None => Ok(()),
        }
    }
}

impl Drop for S3Upload {
    fn drop(&mut self) {
        let Some(multipart) = self.multipart.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(bucket = %self.bucket, key = %self.key, "a dropped multipart upload was left for the bucket's lifecycle rule");
            return;
        };
        let (client, bucket, key) = (self.client.clone(), self.bucket.clone(), self.key.clone());
        runtime.spawn(async move {
            if let Err(e) = abort(&client, &bucket, &key, &multipart.upload_id).await {
                tracing::warn!(%bucket, %key, error = ?e, "could not abort a dropped multipart upload");
            }
        });
    }
}
