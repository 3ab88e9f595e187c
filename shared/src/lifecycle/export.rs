//! The full export of a tenant: everything we hold on it, without secrets, in one zip archive
//! in the blob store, and a download link valid for 7 days. Support staff ask for it (the
//! `export` function, `sikurd-local export`); it is audited in the tenant's log.
//!
//! The archive holds, each as JSON Lines and as CSV: users (no password hashes), instances (no
//! credentials), metrics, backup records, alerts, the audit log, notification channels (no
//! webhook URL or signing secret: they are credentials); as JSON documents the tenant and its
//! alert settings; and `manifest.json` last, with each file's rows, size and SHA-256. Rows are
//! read a page at a time and streamed out: memory stays flat however large the tenant.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::archive::{Archive, ArchiveError, ArchivedFile};
use crate::api::export::{ALERT_COLUMNS, actor_name, alert_row, cell};
use crate::blobs::{BlobError, BlobKey, Blobs};
use crate::clock::Clock;
use crate::domain::{
    Actor, AuditEntry, AuditId, AuditOutcome, BackupOutcome, Instance, MetricSnapshot, Tenant, TenantId, User,
};
use crate::store::{AlertFilter, ChannelKind, Store, StoreError};

/// How long the download link works (S3's longest presigned link).
pub const LINK_VALID: Duration = Duration::from_secs(7 * 24 * 3600);
/// Rows read per page.
const PAGE: u32 = 1000;
/// The archive format, in the manifest.
pub const FORMAT: &str = "sikurd-export/1";

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("no tenant {0}")]
    NoSuchTenant(TenantId),
    #[error("the support person's name must be 1 to 100 characters")]
    InvalidRequester,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// The archive's table of contents, its last file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub tenant_id: TenantId,
    pub tenant_name: String,
    pub generated_at: DateTime<Utc>,
    /// The support person who asked for it.
    pub requested_by: String,
    pub files: Vec<ArchivedFile>,
}

/// A finished export.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exported {
    /// `exp_<ULID>` (also the audit entry's target).
    pub export_id: String,
    /// Where the archive is, in the blob store.
    pub key: String,
    /// A plain GET of this downloads the archive until `link_expires_at`.
    pub download_url: String,
    pub link_expires_at: DateTime<Utc>,
    pub size_bytes: u64,
    /// SHA-256 of the whole archive, hex.
    pub sha256: String,
    pub manifest: Manifest,
}

/// Where a tenant's exports are kept: under `exports/<tenant>/`, which the bucket's lifecycle
/// rule expires (and the retention job, in the local stack).
pub fn export_key(tenant: &TenantId, export_id: &str) -> Result<BlobKey, BlobError> {
    BlobKey::parse(format!("exports/{tenant}/{export_id}.zip"))
}

pub struct Exporter {
    store: Store,
    blobs: Arc<dyn Blobs>,
    clock: Arc<dyn Clock>,
}

fn opt<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339()
}

/// `value` as its JSON string (for enums serialized as snake_case words).
fn word(value: &impl Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn cells(values: Vec<String>) -> Vec<String> {
    values.iter().map(|v| cell(v)).collect()
}

#[derive(Serialize)]
struct UserRow<'a> {
    id: &'a str,
    name: &'a str,
    email: &'a str,
    role: crate::domain::Role,
    created_at: DateTime<Utc>,
}

const USER_COLUMNS: &[&str] = &["id", "name", "email", "role", "created_at"];

fn user_row(u: &User) -> (UserRow<'_>, Vec<String>) {
    let row = UserRow {
        id: u.id.as_str(),
        name: u.name.as_str(),
        email: u.email.as_str(),
        role: u.role,
        created_at: u.created_at,
    };
    let record =
        cells(vec![u.id.to_string(), u.name.to_string(), u.email.to_string(), word(&u.role), time(u.created_at)]);
    (row, record)
}

#[derive(Serialize)]
struct InstanceRow<'a> {
    id: &'a str,
    name: &'a str,
    url: String,
    group: Option<&'a str>,
    status: crate::domain::InstanceStatus,
    status_reason: Option<&'a str>,
    version: Option<&'a str>,
    licence: Option<&'a crate::domain::LicenceInfo>,
    trunks: &'a [crate::domain::TrunkState],
    /// Which kind of credential is stored; the credential itself is never exported.
    credential_kind: Option<crate::domain::CredentialKind>,
    created_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

/// The dashboard's instance CSV columns, then what only the full export adds.
const INSTANCE_EXTRA_COLUMNS: [&str; 2] = ["credential_kind", "deleted_at"];

fn instance_row(i: &Instance) -> (InstanceRow<'_>, Vec<String>) {
    let row = InstanceRow {
        id: i.id.as_str(),
        name: i.name.as_str(),
        url: i.address.base_url(),
        group: i.group.as_ref().map(|g| g.as_str()),
        status: i.status,
        status_reason: i.status_reason.as_deref(),
        version: i.version.as_ref().map(|v| v.as_str()),
        licence: i.licence.as_ref(),
        trunks: &i.trunks,
        credential_kind: i.credential_kind,
        created_at: i.created_at,
        deleted_at: i.deleted_at,
    };
    let mut record = crate::api::export::instance_row(i);
    record.extend(cells(vec![opt(i.credential_kind.map(|k| word(&k))), opt(i.deleted_at.map(time))]));
    (row, record)
}

#[derive(Serialize)]
struct MetricRow<'a> {
    instance_id: &'a str,
    #[serde(flatten)]
    snapshot: &'a MetricSnapshot,
}

const METRIC_COLUMNS: &[&str] = &[
    "instance_id",
    "at",
    "outcome",
    "latency_ms",
    "calls_active",
    "max_sim_calls",
    "extensions_registered",
    "extensions_total",
    "trunks_registered",
    "trunks_total",
    "disk_usage_percent",
    "services_not_running",
    "licence_active",
];

fn metric_record(instance: &str, s: &MetricSnapshot) -> Vec<String> {
    cells(vec![
        instance.to_owned(),
        time(s.at),
        word(&s.outcome),
        s.latency_ms.to_string(),
        opt(s.calls_active),
        opt(s.max_sim_calls),
        opt(s.extensions_registered),
        opt(s.extensions_total),
        opt(s.trunks_registered),
        opt(s.trunks_total),
        opt(s.disk_usage_percent),
        s.services_not_running.join(";"),
        opt(s.licence_active),
    ])
}

#[derive(Serialize)]
struct BackupRow<'a> {
    instance_id: &'a str,
    at: DateTime<Utc>,
    size_bytes: Option<u64>,
    result: &'static str,
    reason: Option<&'a str>,
}

const BACKUP_COLUMNS: &[&str] = &["instance_id", "at", "size_bytes", "result", "reason"];

const AUDIT_COLUMNS: &[&str] =
    &["id", "at", "actor", "action", "target", "target_name", "source_ip", "result", "reason"];

fn audit_record(e: &AuditEntry) -> Vec<String> {
    let (result, reason) = match &e.outcome {
        AuditOutcome::Succeeded => ("succeeded", String::new()),
        AuditOutcome::Failed { reason } => ("failed", reason.clone()),
    };
    cells(vec![
        e.id.to_string(),
        time(e.at),
        actor_name(&e.actor),
        e.action.clone(),
        opt(e.target.as_ref()),
        opt(e.target_name.as_ref()),
        opt(e.source_ip),
        result.into(),
        reason,
    ])
}

#[derive(Serialize)]
struct ChannelRow<'a> {
    id: &'a str,
    name: &'a str,
    r#type: &'static str,
    /// E-mail channels: the addresses.
    to: Vec<String>,
    /// Webhook channels: scheme, host and port only (the URL is a credential).
    origin: Option<&'a str>,
    format: Option<crate::notify::WebhookFormat>,
    created_at: DateTime<Utc>,
}

const CHANNEL_COLUMNS: &[&str] = &["id", "name", "type", "to", "origin", "format", "created_at"];

impl Exporter {
    pub fn new(store: Store, blobs: Arc<dyn Blobs>, clock: Arc<dyn Clock>) -> Self {
        Self { store, blobs, clock }
    }

    /// Exports `tenant` for the support person `requested_by`, and audits it (refused and
    /// failed exports too, when the tenant exists).
    pub async fn export(&self, tenant: &TenantId, requested_by: &str) -> Result<Exported, ExportError> {
        let requested_by = requested_by.trim();
        if requested_by.is_empty() || requested_by.chars().count() > 100 {
            return Err(ExportError::InvalidRequester);
        }
        let found = self.store.tenants.get(tenant).await?.ok_or_else(|| ExportError::NoSuchTenant(tenant.clone()))?;
        // A ULID of the export's time: the retention job reads its age from it.
        let export_id = format!("exp_{}", ulid::Ulid::from_datetime(self.clock.now().into()));
        let result = self.write(&found, &export_id, requested_by).await;
        let entry = AuditEntry {
            id: AuditId::generate(),
            at: self.clock.now(),
            actor: Actor::Support { name: requested_by.to_owned() },
            action: "tenant.export".into(),
            target: Some(export_id.clone()),
            target_name: None,
            source_ip: None,
            outcome: match &result {
                Ok(_) => AuditOutcome::Succeeded,
                Err(e) => AuditOutcome::Failed { reason: e.to_string() },
            },
        };
        self.store.audit.append(tenant, &entry).await?;
        result
    }

    async fn write(&self, tenant: &Tenant, export_id: &str, requested_by: &str) -> Result<Exported, ExportError> {
        let key = export_key(&tenant.id, export_id)?;
        let mut archive = Archive::new(self.blobs.start_upload(&key, "application/zip").await?);
        match self.fill(&mut archive, tenant).await {
            Ok(()) => {}
            Err(e) => {
                archive.abort().await;
                return Err(e);
            }
        }
        let generated_at = self.clock.now();
        let mut manifest = Manifest {
            format: FORMAT.into(),
            tenant_id: tenant.id.clone(),
            tenant_name: tenant.name.to_string(),
            generated_at,
            requested_by: requested_by.to_owned(),
            files: Vec::new(),
        };
        let (info, sha256, files) = {
            let listed = archive.files().to_vec();
            manifest.files = listed;
            archive.json_file("manifest.json", &manifest).await?;
            archive.finish().await?
        };
        debug_assert_eq!(files.len(), manifest.files.len() + 1);
        let download_url = self.blobs.presigned_get(&key, LINK_VALID).await?;
        Ok(Exported {
            export_id: export_id.to_owned(),
            key: key.to_string(),
            download_url,
            link_expires_at: generated_at + chrono::Duration::from_std(LINK_VALID).unwrap_or_default(),
            size_bytes: info.size,
            sha256,
            manifest,
        })
    }

    async fn fill(&self, archive: &mut Archive, tenant: &Tenant) -> Result<(), ExportError> {
        let store = &self.store;
        let id = &tenant.id;
        archive.json_file("tenant.json", tenant).await?;

        let mut users = archive.dataset("users", USER_COLUMNS)?;
        let mut cursor = None;
        loop {
            let page = store.users.list(id, 200, cursor).await?;
            for u in &page.items {
                let (row, record) = user_row(u);
                users.row(&row, &record)?;
            }
            users.drain().await?;
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        users.finish().await?;

        let instances = store.instances.list_all(id).await?;
        // Every metric row there is: from before the first to after the last possible one.
        let (first, last) = (DateTime::UNIX_EPOCH, self.clock.now() + chrono::Duration::days(1));
        let columns: Vec<&str> =
            crate::api::export::INSTANCE_COLUMNS.iter().chain(&INSTANCE_EXTRA_COLUMNS).copied().collect();
        let mut set = archive.dataset("instances", &columns)?;
        for i in &instances {
            let (row, record) = instance_row(i);
            set.row(&row, &record)?;
        }
        set.finish().await?;

        let mut metrics = archive.dataset("metrics", METRIC_COLUMNS)?;
        for i in &instances {
            let mut cursor = None;
            loop {
                let page = store.metrics.range(id, &i.id, first, last, PAGE, cursor).await?;
                for s in &page.items {
                    metrics.row(
                        &MetricRow { instance_id: i.id.as_str(), snapshot: s },
                        &metric_record(i.id.as_str(), s),
                    )?;
                }
                metrics.drain().await?;
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
        }
        metrics.finish().await?;

        let mut backups = archive.dataset("backups", BACKUP_COLUMNS)?;
        for i in &instances {
            let mut cursor = None;
            loop {
                let page = store.backups.newest_first(id, &i.id, PAGE, cursor).await?;
                for b in &page.items {
                    let (result, reason) = match &b.outcome {
                        BackupOutcome::Succeeded => ("succeeded", None),
                        BackupOutcome::Failed { reason } => ("failed", Some(reason.as_str())),
                    };
                    let row =
                        BackupRow { instance_id: i.id.as_str(), at: b.at, size_bytes: b.size_bytes, result, reason };
                    let record = cells(vec![
                        i.id.to_string(),
                        time(b.at),
                        opt(b.size_bytes),
                        result.into(),
                        reason.unwrap_or_default().into(),
                    ]);
                    backups.row(&row, &record)?;
                }
                backups.drain().await?;
                cursor = page.next;
                if cursor.is_none() {
                    break;
                }
            }
        }
        backups.finish().await?;

        let now = self.clock.now();
        let mut alerts = archive.dataset("alerts", &ALERT_COLUMNS)?;
        let mut before = None;
        loop {
            let page = store.alerts.list(id, &AlertFilter::default(), 200, before.as_ref()).await?;
            for a in &page.items {
                alerts.row(a, &alert_row(a, now))?;
            }
            alerts.drain().await?;
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        alerts.finish().await?;

        let mut audit = archive.dataset("audit", AUDIT_COLUMNS)?;
        let mut cursor = None;
        loop {
            let page = store.audit.newest_first(id, 200, cursor).await?;
            for e in &page.items {
                audit.row(e, &audit_record(e))?;
            }
            audit.drain().await?;
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        audit.finish().await?;

        let mut channels = archive.dataset("channels", CHANNEL_COLUMNS)?;
        for c in store.channels.list(id).await? {
            let (kind, to, origin, format) = match &c.kind {
                ChannelKind::Email { target } => {
                    ("email", target.to().iter().map(ToString::to_string).collect(), None, None)
                }
                ChannelKind::Webhook { format, origin, .. } => {
                    ("webhook", Vec::new(), Some(origin.as_str()), Some(*format))
                }
            };
            let record = cells(vec![
                c.id.to_string(),
                c.name.clone(),
                kind.into(),
                to.join(";"),
                opt(origin),
                opt(format.map(|f| word(&f))),
                time(c.created_at),
            ]);
            let row = ChannelRow {
                id: c.id.as_str(),
                name: &c.name,
                r#type: kind,
                to,
                origin,
                format,
                created_at: c.created_at,
            };
            channels.row(&row, &record)?;
        }
        channels.finish().await?;

        archive.json_file("settings.json", &store.alerts.settings(id).await?).await?;
        Ok(())
    }
}
