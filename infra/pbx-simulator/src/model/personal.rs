//! Endpoints that serve personal data: `ActiveCalls`, `Users`, `LicenseStatus`. Sikurd must never
//! call them; they exist so tests can prove it does not, and to carry PII canaries.

use chrono::Duration;
use serde::Serialize;

use super::{FIRST_NAMES, LAST_NAMES, View};
use crate::time;

/// An active call as `GET /xapi/v1/ActiveCalls` lists it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ActiveCall {
    id: u64,
    caller: String,
    callee: String,
    status: &'static str,
    last_change_status: String,
    established_at: String,
    server_now: String,
}

/// A user as `GET /xapi/v1/Users` lists it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct User {
    id: u32,
    number: String,
    first_name: String,
    last_name: String,
    email_address: String,
    mobile: String,
    is_registered: bool,
}

/// `GET /xapi/v1/LicenseStatus`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct LicenseStatus {
    #[serde(rename = "@odata.context")]
    context: String,
    license_key: String,
    product_code: &'static str,
    expiration_date: String,
    maintenance_expires_at: String,
    activated: bool,
    version: String,
    license_active: bool,
    support: bool,
    reseller_name: &'static str,
    max_sim_calls: u32,
    #[serde(rename = "AdminEMail")]
    admin_email: String,
    #[serde(rename = "EMail")]
    email: String,
    contact_name: String,
    company_name: String,
    active_modules: Vec<&'static str>,
    country_name: &'static str,
    country_code: &'static str,
    sim_meeting_participants: u32,
    telephone: String,
}

impl View<'_> {
    fn person(&self, salt: u64) -> (&'static str, &'static str) {
        let first = FIRST_NAMES[(self.figure(salt) % FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[(self.figure(salt ^ 0x1a57) % LAST_NAMES.len() as u64) as usize];
        (first, last)
    }

    fn phone(&self, salt: u64) -> String {
        format!("+49{:010}", self.figure_in(salt, 1_500_000_000, 1_799_999_999))
    }

    pub(crate) fn active_calls(&self) -> Vec<ActiveCall> {
        let server_now = time::utc_ticks(self.now);
        (0..u64::from(self.calls_active()))
            .map(|i| {
                let salt = 0xca11_0000 + (i << 4);
                let (caller_first, caller_last) = self.person(salt);
                let (callee_first, callee_last) = self.person(salt + 1);
                let started = self.now - Duration::seconds(self.figure_in(salt + 2, 5, 1_800) as i64);
                ActiveCall {
                    id: 2_440 + i,
                    caller: self.personal(|| format!("{caller_first} {caller_last} ({})", self.phone(salt + 3))),
                    callee: self.personal(|| format!("{callee_last}, {callee_first}")),
                    status: "Talking",
                    last_change_status: time::utc_whole(started),
                    established_at: time::utc_whole(started),
                    server_now: server_now.clone(),
                }
            })
            .collect()
    }

    pub(crate) fn users(&self) -> Vec<User> {
        let registered = self.spec().extensions_registered;
        (0..self.spec().extensions_total)
            .map(|i| {
                let salt = 0x05e7_0000 + (u64::from(i) << 4);
                let (first, last) = self.person(salt);
                User {
                    id: 10 + i,
                    number: format!("{}", 100 + i),
                    first_name: self.personal(|| first.to_owned()),
                    last_name: self.personal(|| last.to_owned()),
                    email_address: self.personal(|| format!("{}.{}@customer.example", first, last).to_lowercase()),
                    mobile: self.personal(|| self.phone(salt + 1)),
                    is_registered: i < registered,
                }
            })
            .collect()
    }

    pub(crate) fn license_status(&self) -> LicenseStatus {
        let licence = self.licence();
        let (first, last) = self.person(0x11c0);
        LicenseStatus {
            context: self.context("LicenseStatus"),
            license_key: self.licence_key(),
            product_code: "3CXPSENT",
            expiration_date: licence.expiration,
            maintenance_expires_at: licence.maintenance,
            activated: true,
            version: self.spec().version.clone(),
            license_active: licence.active,
            support: true,
            reseller_name: "Sikurd Simulated Reseller GmbH",
            max_sim_calls: self.spec().max_sim_calls,
            admin_email: self.personal(|| format!("{first}.{last}@customer.example").to_lowercase()),
            email: self.personal(|| "it@customer.example".to_owned()),
            contact_name: self.personal(|| format!("{first} {last}")),
            company_name: self.personal(|| format!("{last} & Partner GmbH")),
            active_modules: vec!["CallCenter", "Recording"],
            country_name: "Germany",
            country_code: "DE",
            sim_meeting_participants: 0,
            telephone: self.personal(|| self.phone(0x11c1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::pbx::Pbx;
    use crate::spec::{Faults, PbxSpec};

    use super::*;

    #[test]
    fn canaries_fill_every_personal_field() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults { pii_canaries: vec!["CANARY-1".to_owned(), "CANARY-2".to_owned()], ..Faults::default() };
        let view = View::new(&pbx, &faults, Utc::now());
        let calls = serde_json::to_value(view.active_calls()).unwrap();
        assert_eq!(calls[0]["Caller"], "CANARY-1 CANARY-2");
        assert_eq!(calls[0]["Callee"], "CANARY-1 CANARY-2");
        let users = serde_json::to_value(view.users()).unwrap();
        assert_eq!(users[0]["EmailAddress"], "CANARY-1 CANARY-2");
        let licence = serde_json::to_value(view.license_status()).unwrap();
        assert_eq!(licence["ContactName"], "CANARY-1 CANARY-2");
        assert_eq!(licence["CompanyName"], "CANARY-1 CANARY-2");
    }

    #[test]
    fn without_canaries_people_look_real() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults::default();
        let users = View::new(&pbx, &faults, Utc::now()).users();
        assert_eq!(users.len(), 45);
        assert!(users[0].email_address.ends_with("@customer.example"));
    }
}
