//! A zip archive streamed into a blob upload in flat memory: each entry is deflated into a small
//! buffer that is handed to the upload (which sends a part whenever a few MiB have gathered),
//! with the row count, size and SHA-256 of every entry's content kept for the manifest.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use sha2::{Digest, Sha256};
use zip::write::{SimpleFileOptions, StreamWriter};
use zip::{CompressionMethod, ZipWriter};

use crate::blobs::{BlobError, BlobInfo, BlobUpload};

/// What went wrong while writing the archive.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("writing the archive failed: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("writing the archive failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing a CSV file failed: {0}")]
    Csv(#[from] csv::Error),
    #[error("encoding a row failed: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// One file of the archive, as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ArchivedFile {
    pub name: String,
    /// Records in it: lines of a JSON Lines file, rows (without the header) of a CSV file, 1
    /// for a JSON document.
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of its content, hex.
    pub sha256: String,
}

/// The deflated bytes not yet handed to the upload.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Counts and hashes what goes through it.
struct Tally<W> {
    inner: W,
    bytes: u64,
    sha: Sha256,
}

impl<W> Tally<W> {
    fn new(inner: W) -> Self {
        Self { inner, bytes: 0, sha: Sha256::new() }
    }
}

impl<W: Write> Write for Tally<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A zip archive being written into a blob upload.
pub struct Archive {
    zip: ZipWriter<StreamWriter<Pending>>,
    pending: Pending,
    upload: Box<dyn BlobUpload>,
    /// SHA-256 of the whole archive, as uploaded.
    sha: Sha256,
    files: Vec<ArchivedFile>,
}

fn options() -> SimpleFileOptions {
    // Zip64 sizes from the start: a streamed entry's size is known only at its end.
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated).large_file(true)
}

impl Archive {
    pub fn new(upload: Box<dyn BlobUpload>) -> Self {
        let pending = Pending::default();
        Self { zip: ZipWriter::new_stream(pending.clone()), pending, upload, sha: Sha256::new(), files: Vec::new() }
    }

    /// The files written so far.
    pub fn files(&self) -> &[ArchivedFile] {
        &self.files
    }

    /// Hands the deflated bytes gathered so far to the upload.
    async fn drain(&mut self) -> Result<(), ArchiveError> {
        let bytes = self.pending.take();
        if !bytes.is_empty() {
            self.sha.update(&bytes);
            self.upload.write(&bytes).await?;
        }
        Ok(())
    }

    /// Adds a JSON document as one file.
    pub async fn json_file(&mut self, name: &str, value: &impl Serialize) -> Result<(), ArchiveError> {
        let body = serde_json::to_vec_pretty(value)?;
        self.zip.start_file(name, options())?;
        self.zip.write_all(&body)?;
        self.files.push(ArchivedFile {
            name: name.to_owned(),
            rows: 1,
            bytes: body.len() as u64,
            sha256: hex::encode(Sha256::digest(&body)),
        });
        self.drain().await
    }

    /// Starts a dataset written as `<name>.jsonl` (into the archive at once) and `<name>.csv`
    /// (into a temporary file, added when the dataset is finished).
    pub fn dataset(&mut self, name: &str, header: &[&str]) -> Result<Dataset<'_>, ArchiveError> {
        let jsonl = format!("{name}.jsonl");
        self.zip.start_file(&jsonl, options())?;
        let mut csv = csv::Writer::from_writer(Tally::new(tempfile::tempfile()?));
        csv.write_record(header)?;
        Ok(Dataset {
            archive: self,
            name: name.to_owned(),
            lines: 0,
            jsonl: Tally::new(std::io::sink()),
            csv,
            csv_rows: 0,
        })
    }

    /// Writes the central directory and makes the archive visible; its size and SHA-256, and
    /// the files it holds.
    pub async fn finish(self) -> Result<(BlobInfo, String, Vec<ArchivedFile>), ArchiveError> {
        let Self { zip, pending, mut upload, mut sha, files } = self;
        zip.finish()?;
        let rest = pending.take();
        sha.update(&rest);
        upload.write(&rest).await?;
        let info = upload.finish().await?;
        Ok((info, hex::encode(sha.finalize()), files))
    }

    /// Discards what was uploaded (after a failure).
    pub async fn abort(self) {
        if let Err(e) = self.upload.abort().await {
            tracing::warn!(error = %e, "an unfinished archive could not be discarded");
        }
    }
}

/// One dataset in the making: rows go to its JSON Lines entry and its CSV file.
pub struct Dataset<'a> {
    archive: &'a mut Archive,
    name: String,
    lines: u64,
    /// Hashes and counts the JSON Lines entry's content.
    jsonl: Tally<std::io::Sink>,
    csv: csv::Writer<Tally<std::fs::File>>,
    csv_rows: u64,
}

impl Dataset<'_> {
    /// Adds one record: `row` as a JSON line, `record` as a CSV row.
    pub fn row(&mut self, row: &impl Serialize, record: &[String]) -> Result<(), ArchiveError> {
        let mut line = serde_json::to_vec(row)?;
        line.push(b'\n');
        self.archive.zip.write_all(&line)?;
        self.jsonl.write_all(&line)?;
        self.lines += 1;
        self.csv.write_record(record)?;
        self.csv_rows += 1;
        Ok(())
    }

    /// Hands what was deflated so far to the upload (call after each page of rows).
    pub async fn drain(&mut self) -> Result<(), ArchiveError> {
        self.archive.drain().await
    }

    /// Ends the JSON Lines entry and copies the CSV file in after it.
    pub async fn finish(self) -> Result<(), ArchiveError> {
        let Dataset { archive, name, lines, jsonl, csv, csv_rows } = self;
        archive.files.push(ArchivedFile {
            name: format!("{name}.jsonl"),
            rows: lines,
            bytes: jsonl.bytes,
            sha256: hex::encode(jsonl.sha.finalize()),
        });
        let tally = csv.into_inner().map_err(|e| ArchiveError::Io(e.into_error()))?;
        let (mut file, bytes, sha) = (tally.inner, tally.bytes, tally.sha);
        file.seek(SeekFrom::Start(0))?;
        archive.zip.start_file(format!("{name}.csv"), options())?;
        let mut chunk = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            archive.zip.write_all(&chunk[..n])?;
            archive.drain().await?;
        }
        archive.files.push(ArchivedFile {
            name: format!("{name}.csv"),
            rows: csv_rows,
            bytes,
            sha256: hex::encode(sha.finalize()),
        });
        archive.drain().await
    }
}
