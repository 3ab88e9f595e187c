//! `GET /xapi/v1/Trunks` and `GET /xapi/v1/Services`.

use chrono::Duration;
use serde::Serialize;

use super::View;
use crate::spec::TrunkSpec;
use crate::time;

/// The services of a Linux 3CX (systemd unit name, display name).
const SERVICES: [(&str, &str); 12] = [
    ("3CXPhoneSystem01", "3CX PhoneSystem"),
    ("3CXMediaServer", "3CX Media Server"),
    ("3CXQueueManager01", "3CX Queue Manager"),
    ("3CXCallFlow01", "3CX Call Flow Service"),
    ("3CXIVR01", "3CX IVR"),
    ("3CXCfgServ01", "3CX Configuration Service"),
    ("3CXPhoneSystemMC01", "3CX Management Console"),
    ("3CXSystemService01", "3CX System Service"),
    ("3CXAudioProvider01", "3CX Audio Provider"),
    ("3CXEventNotificationManager", "3CX Event Notification Manager"),
    ("3CXGatewayService", "3CX Gateway Service"),
    ("nginx", "Nginx web server"),
];

/// A trunk as `GET /xapi/v1/Trunks` lists it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Trunk {
    id: u32,
    number: String,
    is_online: bool,
    direction: &'static str,
    external_number: String,
    did_numbers: Vec<String>,
    simultaneous_calls: u32,
    configuration_issue: &'static str,
    enable_inbound_calls: bool,
    enable_outbound_calls: bool,
    gateway: Gateway,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Gateway {
    name: String,
    host: String,
    port: u16,
    proxy_host: String,
    #[serde(rename = "Type")]
    kind: &'static str,
    template_filename: &'static str,
    time_between_reg: u32,
    require_registration_for: &'static str,
}

/// A service as `GET /xapi/v1/Services` lists it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Service {
    name: &'static str,
    display_name: &'static str,
    status: &'static str,
    memory_used: u64,
    thread_count: u32,
    handle_count: u32,
    total_processor_time: u64,
    sample_time: String,
    start_stop_enabled: bool,
    restart_enabled: bool,
}

impl View<'_> {
    fn trunk_online(&self, trunk: &TrunkSpec) -> bool {
        let down = self.faults.trunk_down.as_deref().is_some_and(|down| down == trunk.name || down == trunk.number);
        trunk.registered && !down
    }

    pub(crate) fn trunks_registered(&self) -> u32 {
        let online = self.spec().trunks.iter().filter(|trunk| self.trunk_online(trunk)).count();
        u32::try_from(online).unwrap_or(u32::MAX)
    }

    pub(crate) fn trunks(&self) -> Vec<Trunk> {
        self.spec()
            .trunks
            .iter()
            .zip(1u32..)
            .map(|(trunk, id)| {
                let salt = u64::from(id) << 8;
                let number =
                    move |offset: u64| format!("+4930{:07}", self.figure_in(salt + offset, 1_000_000, 9_999_999));
                Trunk {
                    id,
                    number: trunk.number.clone(),
                    is_online: self.trunk_online(trunk),
                    direction: "Both",
                    external_number: self.personal(|| number(1)),
                    did_numbers: if self.faults.pii_canaries.is_empty() {
                        vec![number(2), number(3)]
                    } else {
                        self.faults.pii_canaries.clone()
                    },
                    simultaneous_calls: trunk.simultaneous_calls,
                    configuration_issue: "",
                    enable_inbound_calls: true,
                    enable_outbound_calls: true,
                    gateway: Gateway {
                        name: trunk.name.clone(),
                        host: trunk.host.clone(),
                        port: trunk.port,
                        proxy_host: trunk.host.clone(),
                        kind: "Provider",
                        template_filename: "generic.pv.xml",
                        time_between_reg: 300,
                        require_registration_for: "InOutCalls",
                    },
                }
            })
            .collect()
    }

    pub(crate) fn has_not_running_services(&self) -> bool {
        SERVICES.iter().any(|(name, _)| self.service_stopped(name))
    }

    fn service_stopped(&self, name: &str) -> bool {
        self.faults.services_stopped.iter().any(|stopped| stopped == name)
    }

    pub(crate) fn services(&self) -> Vec<Service> {
        let sample_time = time::local(self.local_now() - Duration::seconds(self.figure_in(0x5a, 1, 30) as i64));
        SERVICES
            .iter()
            .zip(1u64..)
            .map(|(&(name, display_name), i)| {
                let running = !self.service_stopped(name);
                let salt = 0x5e00 + (i << 4);
                Service {
                    name,
                    display_name,
                    status: if running { "Running" } else { "Stopped" },
                    memory_used: if running { self.figure_in(salt, 20_000_000, 600_000_000) } else { 0 },
                    thread_count: if running { self.figure_in(salt + 1, 8, 120) as u32 } else { 0 },
                    handle_count: if running { self.figure_in(salt + 2, 40, 900) as u32 } else { 0 },
                    total_processor_time: if running { self.figure_in(salt + 3, 10_000, 90_000_000) } else { 0 },
                    sample_time: sample_time.clone(),
                    start_stop_enabled: name != "nginx",
                    restart_enabled: true,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::pbx::Pbx;
    use crate::spec::{Faults, PbxSpec};

    use super::*;

    #[test]
    fn a_downed_trunk_is_offline_and_not_counted_as_registered() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults { trunk_down: Some("Backup SIP".to_owned()), ..Faults::default() };
        let view = View::new(&pbx, &faults, Utc::now());
        let trunks = view.trunks();
        assert!(trunks[0].is_online);
        assert!(!trunks[1].is_online);
        assert_eq!(view.trunks_registered(), 1);
    }

    #[test]
    fn stopping_an_unknown_service_changes_nothing() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults { services_stopped: vec!["NoSuchService".to_owned()], ..Faults::default() };
        let view = View::new(&pbx, &faults, Utc::now());
        assert!(!view.has_not_running_services());
        assert!(view.services().iter().all(|service| service.status == "Running"));
    }
}
