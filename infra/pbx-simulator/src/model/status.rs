//! `GET /xapi/v1/SystemStatus` (v20), `GET /api/SystemStatus` (v18) and the version probe.

use chrono::{Duration, DurationRound, TimeZone, Utc};
use serde::Serialize;

use super::View;
use crate::time;

/// The version a v18-only PBX reports when its spec names a v20 version.
const V18_VERSION: &str = "18.0.9.20";

/// The v20 SystemStatus singleton, keys in the order of a real 20.0.7 answer.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SystemStatus {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "FQDN")]
    fqdn: String,
    version: String,
    activated: bool,
    max_sim_calls: u32,
    extensions_registered: u32,
    ip: String,
    ip_v4: String,
    ip_v6: &'static str,
    local_ip_valid: bool,
    current_local_ip: String,
    available_local_ips: String,
    extensions_total: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_user_extensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_extensions: Option<u32>,
    has_unregistered_system_extensions: bool,
    has_not_running_services: bool,
    trunks_registered: u32,
    trunks_total: u32,
    calls_active: u32,
    disk_usage: u32,
    free_disk_space: u64,
    total_disk_space: u64,
    maintenance_expires_at: String,
    support: bool,
    license_active: bool,
    expiration_date: String,
    outbound_rules: u32,
    backup_scheduled: bool,
    last_backup_date_time: Option<String>,
    reseller_name: &'static str,
    license_key: String,
    product_code: &'static str,
    is_audit_log_enabled: bool,
    is_chat_log_enabled: bool,
    recording_used_space: u64,
    recording_quota: u64,
    recording_stopped: bool,
    voicemail_stopped: bool,
    voicemail_quota_reached: bool,
    #[serde(rename = "DBMaintenanceInProgress")]
    db_maintenance_in_progress: bool,
    recording_quota_reached: bool,
    is_recording_archive_enabled: bool,
    #[serde(rename = "OS")]
    os: &'static str,
    auto_update_enabled: bool,
    last_check_for_updates: String,
    last_successful_update: String,
    remote_storage_enabled: bool,
    remote_storage_status: &'static str,
    remote_configuration_required: bool,
    chat_used_space: u64,
    log_used_space: u64,
    #[serde(rename = "AdminEMail", skip_serializing_if = "Option::is_none")]
    admin_email: Option<String>,
}

/// The v18 flat SystemStatus (cookie session), with the v18-only CPU and memory fields.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct V18SystemStatus {
    #[serde(rename = "FQDN")]
    fqdn: String,
    version: String,
    activated: bool,
    max_sim_calls: u32,
    max_sim_meeting_participants: u32,
    call_history_count: u64,
    chat_messages_count: u64,
    extensions_registered: u32,
    own_push: bool,
    ip: String,
    ip_v4: String,
    ip_v6: &'static str,
    local_ip_valid: bool,
    current_local_ip: String,
    available_local_ips: String,
    extensions_total: u32,
    has_unregistered_system_extensions: bool,
    has_not_running_services: bool,
    trunks_registered: u32,
    trunks_total: u32,
    calls_active: u32,
    blacklisted_ip_count: u32,
    memory_usage: u32,
    physical_memory_usage: u32,
    free_virtual_memory: u64,
    total_virtual_memory: u64,
    free_physical_memory: u64,
    total_physical_memory: u64,
    disk_usage: u32,
    free_disk_space: u64,
    total_disk_space: u64,
    cpu_usage: u32,
    cpu_usage_history: Vec<(String, f64)>,
    maintenance_expires_at: String,
    support: bool,
    license_active: bool,
    expiration_date: String,
    outbound_rules: u32,
    backup_scheduled: bool,
    last_backup_date_time: Option<String>,
    reseller_name: &'static str,
    license_key: String,
    product_code: &'static str,
    is_audit_log_enabled: bool,
    is_spla: bool,
}

/// `GET /xapi/v1/Defs?$select=Id`.
#[derive(Serialize)]
pub(crate) struct Defs {
    #[serde(rename = "@odata.context")]
    context: String,
    #[serde(rename = "Id")]
    id: u32,
}

/// Licence dates and state.
pub(super) struct Licence {
    pub expiration: String,
    pub maintenance: String,
    pub active: bool,
}

struct Disk {
    usage: u32,
    free: u64,
    total: u64,
}

const DISK_SIZES: [u64; 3] = [64_424_509_440, 122_100_412_416, 257_698_037_760];

impl View<'_> {
    pub(crate) fn system_status(&self) -> SystemStatus {
        let spec = self.spec();
        let disk = self.disk();
        let licence = self.licence();
        let local_now = self.local_now();
        let last_check = local_now - Duration::hours(self.figure_in(0xc4ec, 1, 20) as i64);
        let last_update = local_now - Duration::days(self.figure_in(0x0bd7, 5, 40) as i64);
        let jitter = |salt: u64| Duration::nanoseconds(self.figure_in(salt, 0, 999_999_999) as i64);
        let recording_quota = 96_636_764_160;
        SystemStatus {
            context: self.context("SystemStatus"),
            fqdn: spec.fqdn.clone(),
            version: spec.version.clone(),
            activated: true,
            max_sim_calls: spec.max_sim_calls,
            extensions_registered: spec.extensions_registered.min(spec.extensions_total),
            ip: format!("{} Static", self.public_ip()),
            ip_v4: self.public_ip(),
            ip_v6: "",
            local_ip_valid: true,
            current_local_ip: self.local_ip(),
            available_local_ips: self.local_ip(),
            extensions_total: spec.extensions_total,
            max_user_extensions: self.reports_user_extensions().then_some(spec.max_sim_calls * 10),
            user_extensions: self.reports_user_extensions().then_some(spec.extensions_total),
            has_unregistered_system_extensions: false,
            has_not_running_services: self.has_not_running_services(),
            trunks_registered: self.trunks_registered(),
            trunks_total: u32::try_from(spec.trunks.len()).unwrap_or(u32::MAX),
            calls_active: self.calls_active(),
            disk_usage: disk.usage,
            free_disk_space: disk.free,
            total_disk_space: disk.total,
            maintenance_expires_at: licence.maintenance,
            support: true,
            license_active: licence.active,
            expiration_date: licence.expiration,
            outbound_rules: self.figure_in(0x0b, 3, 12) as u32,
            backup_scheduled: spec.backups_scheduled,
            last_backup_date_time: self.backups().first().map(|backup| time::local(backup.creation)),
            reseller_name: "Sikurd Simulated Reseller GmbH",
            license_key: self.licence_key(),
            product_code: "3CXPSENT",
            is_audit_log_enabled: true,
            is_chat_log_enabled: true,
            recording_used_space: self.figure_in(0x7ec, 1_000_000_000, recording_quota * 9 / 10),
            recording_quota,
            recording_stopped: false,
            voicemail_stopped: false,
            voicemail_quota_reached: false,
            db_maintenance_in_progress: false,
            recording_quota_reached: false,
            is_recording_archive_enabled: false,
            os: "Linux",
            auto_update_enabled: true,
            last_check_for_updates: time::local(last_check + jitter(0x1c)),
            last_successful_update: time::local(last_update + jitter(0x1d)),
            remote_storage_enabled: false,
            remote_storage_status: "NotConfigured",
            remote_configuration_required: false,
            chat_used_space: self.figure_in(0xc4a7, 1_000_000, 50_000_000),
            log_used_space: self.figure_in(0x106, 10_000_000, 200_000_000),
            admin_email: (!self.faults.pii_canaries.is_empty()).then(|| self.personal(String::new)),
        }
    }

    pub(crate) fn v18_system_status(&self) -> V18SystemStatus {
        let spec = self.spec();
        let disk = self.disk();
        let licence = self.licence();
        let version = if spec.version.starts_with("18.") { spec.version.clone() } else { V18_VERSION.to_owned() };
        let total_physical = 8_323_002_368;
        let cpu = self.figure_in(0xc9, 2, 25) as u32;
        let history_start = self.now.duration_trunc(Duration::minutes(1)).unwrap_or(self.now);
        let cpu_usage_history = (0..5)
            .map(|i| {
                let at = (history_start - Duration::minutes(4 - i)).with_timezone(&self.pbx.offset);
                (time::local(at), f64::from(cpu) + (i as f64) / 2.0)
            })
            .collect();
        V18SystemStatus {
            fqdn: spec.fqdn.clone(),
            version,
            activated: true,
            max_sim_calls: spec.max_sim_calls,
            max_sim_meeting_participants: 0,
            call_history_count: self.figure_in(0xca11, 10_000, 900_000),
            chat_messages_count: self.figure_in(0xc4a, 0, 50_000),
            extensions_registered: spec.extensions_registered.min(spec.extensions_total),
            own_push: false,
            ip: format!("{} Static", self.public_ip()),
            ip_v4: self.public_ip(),
            ip_v6: "",
            local_ip_valid: true,
            current_local_ip: self.local_ip(),
            available_local_ips: self.local_ip(),
            extensions_total: spec.extensions_total,
            has_unregistered_system_extensions: false,
            has_not_running_services: self.has_not_running_services(),
            trunks_registered: self.trunks_registered(),
            trunks_total: u32::try_from(spec.trunks.len()).unwrap_or(u32::MAX),
            calls_active: self.calls_active(),
            blacklisted_ip_count: self.figure_in(0xb1, 0, 40) as u32,
            memory_usage: self.figure_in(0x3e3, 20, 60) as u32,
            physical_memory_usage: self.figure_in(0x3e4, 30, 70) as u32,
            free_virtual_memory: total_physical / 2,
            total_virtual_memory: total_physical + 1_073_737_728,
            free_physical_memory: total_physical / 3,
            total_physical_memory: total_physical,
            disk_usage: disk.usage,
            free_disk_space: disk.free,
            total_disk_space: disk.total,
            cpu_usage: cpu,
            cpu_usage_history,
            maintenance_expires_at: licence.maintenance,
            support: true,
            license_active: licence.active,
            expiration_date: licence.expiration,
            outbound_rules: self.figure_in(0x0b, 3, 12) as u32,
            backup_scheduled: spec.backups_scheduled,
            last_backup_date_time: self.backups().first().map(|backup| time::local(backup.creation)),
            reseller_name: "Sikurd Simulated Reseller GmbH",
            license_key: self.licence_key(),
            product_code: "3CXPSPROF",
            is_audit_log_enabled: true,
            is_spla: false,
        }
    }

    pub(crate) fn defs(&self) -> Defs {
        Defs { context: self.context("Defs(Id)"), id: 0 }
    }

    /// `MaxUserExtensions` and `UserExtensions` exist since 20.0.9.
    fn reports_user_extensions(&self) -> bool {
        let mut parts = self.spec().version.split('.').map(|part| part.parse::<u32>().unwrap_or(0));
        let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        version >= (20, 0, 9)
    }

    pub(crate) fn calls_active(&self) -> u32 {
        let max = self.spec().max_sim_calls;
        if self.faults.calls_at_limit { max } else { self.spec().calls_active.min(max) }
    }

    fn disk(&self) -> Disk {
        let total = DISK_SIZES[(self.figure(0xd15c) % DISK_SIZES.len() as u64) as usize];
        let usage = if self.faults.disk_full { 97 } else { self.figure_in(0xd15d, 25, 70) as u32 };
        Disk { usage, free: total / 100 * u64::from(100 - usage), total }
    }

    pub(super) fn licence(&self) -> Licence {
        match self.faults.licence_expiring_days {
            Some(days) => {
                let at = time::utc_whole(self.now + Duration::days(days));
                Licence { expiration: at.clone(), maintenance: at, active: days >= 0 }
            }
            None => {
                let year = 2034 + self.figure_in(0x11c, 0, 2) as i32;
                let month = self.figure_in(0x11d, 1, 12) as u32;
                let at = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().unwrap_or(self.now);
                Licence { expiration: time::utc_whole(at), maintenance: time::utc_whole(at), active: true }
            }
        }
    }

    pub(super) fn licence_key(&self) -> String {
        let key = self.figure(0x11ce);
        format!("{:04X}-{:04X}-{:04X}-{:04X}", key >> 48, (key >> 32) & 0xffff, (key >> 16) & 0xffff, key & 0xffff)
    }

    fn public_ip(&self) -> String {
        format!("203.0.113.{}", self.figure_in(0x1b, 1, 254))
    }

    fn local_ip(&self) -> String {
        format!(
            "10.{}.{}.{}",
            self.figure_in(0x1c1, 0, 254),
            self.figure_in(0x1c2, 0, 254),
            self.figure_in(0x1c3, 2, 254)
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::pbx::Pbx;
    use crate::spec::{Faults, PbxSpec};

    use super::*;

    #[test]
    fn the_status_has_every_field_of_a_real_20_0_7_answer() {
        let real = [
            "@odata.context",
            "FQDN",
            "Version",
            "Activated",
            "MaxSimCalls",
            "ExtensionsRegistered",
            "Ip",
            "IpV4",
            "IpV6",
            "LocalIpValid",
            "CurrentLocalIp",
            "AvailableLocalIps",
            "ExtensionsTotal",
            "HasUnregisteredSystemExtensions",
            "HasNotRunningServices",
            "TrunksRegistered",
            "TrunksTotal",
            "CallsActive",
            "DiskUsage",
            "FreeDiskSpace",
            "TotalDiskSpace",
            "MaintenanceExpiresAt",
            "Support",
            "LicenseActive",
            "ExpirationDate",
            "OutboundRules",
            "BackupScheduled",
            "LastBackupDateTime",
            "ResellerName",
            "LicenseKey",
            "ProductCode",
            "IsAuditLogEnabled",
            "IsChatLogEnabled",
            "RecordingUsedSpace",
            "RecordingQuota",
            "RecordingStopped",
            "VoicemailStopped",
            "VoicemailQuotaReached",
            "DBMaintenanceInProgress",
            "RecordingQuotaReached",
            "IsRecordingArchiveEnabled",
            "OS",
            "AutoUpdateEnabled",
            "LastCheckForUpdates",
            "LastSuccessfulUpdate",
            "RemoteStorageEnabled",
            "RemoteStorageStatus",
            "RemoteConfigurationRequired",
            "ChatUsedSpace",
            "LogUsedSpace",
        ];
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults::default();
        let status = serde_json::to_value(View::new(&pbx, &faults, Utc::now()).system_status()).unwrap();
        let object = status.as_object().unwrap();
        for key in real {
            assert!(object.contains_key(key), "missing {key}");
        }
        assert_eq!(object.len(), real.len() + 2, "only MaxUserExtensions and UserExtensions are added in 20.0.9");
        assert!(!object.contains_key("AdminEMail"));
    }

    #[test]
    fn versions_before_20_0_9_have_no_user_extension_fields() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1").with_version("20.0.7.1080")).unwrap();
        let faults = Faults::default();
        let status = serde_json::to_value(View::new(&pbx, &faults, Utc::now()).system_status()).unwrap();
        assert!(status.get("MaxUserExtensions").is_none());
    }

    #[test]
    fn an_expired_licence_is_inactive() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults { licence_expiring_days: Some(-3), ..Faults::default() };
        let status = View::new(&pbx, &faults, Utc::now()).system_status();
        assert!(!status.license_active);
    }
}
