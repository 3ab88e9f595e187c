//! The documents a PBX serves, made up from its spec, its faults, its seed and the clock.

mod backups;
mod personal;
mod status;
mod trunks;

use chrono::{DateTime, FixedOffset, Utc};

pub(crate) use backups::BackupDoc;

use crate::pbx::Pbx;
use crate::spec::{Faults, PbxSpec};

/// One PBX as seen at one instant.
pub(crate) struct View<'a> {
    pub pbx: &'a Pbx,
    pub faults: &'a Faults,
    pub now: DateTime<Utc>,
}

impl<'a> View<'a> {
    pub(crate) fn new(pbx: &'a Pbx, faults: &'a Faults, now: DateTime<Utc>) -> Self {
        Self { pbx, faults, now }
    }

    fn spec(&self) -> &'a PbxSpec {
        &self.pbx.spec
    }

    fn local_now(&self) -> DateTime<FixedOffset> {
        self.now.with_timezone(&self.pbx.offset)
    }

    /// `https://<fqdn>/xapi/v1/$metadata#<set>`.
    pub(crate) fn context(&self, set: &str) -> String {
        format!("https://{}/xapi/v1/$metadata#{set}", self.spec().fqdn)
    }

    /// A stable pseudo-random number for this PBX and `salt`.
    fn figure(&self, salt: u64) -> u64 {
        mix(self.pbx.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }

    /// A number in `low..=high` that stays the same for this PBX and `salt`.
    fn figure_in(&self, salt: u64, low: u64, high: u64) -> u64 {
        low + self.figure(salt) % (high - low + 1)
    }

    /// A personal-data value: all canaries joined by a space when there are any, else `made_up`.
    fn personal(&self, made_up: impl FnOnce() -> String) -> String {
        if self.faults.pii_canaries.is_empty() { made_up() } else { self.faults.pii_canaries.join(" ") }
    }
}

/// SplitMix64's finaliser: spreads the bits of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const FIRST_NAMES: [&str; 12] =
    ["Anna", "Lukas", "Marie", "Jonas", "Sophie", "Elias", "Clara", "Noah", "Lea", "Felix", "Emma", "Paul"];
const LAST_NAMES: [&str; 12] = [
    "Schmidt",
    "Müller",
    "Weber",
    "Fischer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Klein",
    "Wolf",
    "Neumann",
    "Braun",
    "Zimmermann",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_stable_and_within_bounds() {
        let pbx = Pbx::new(PbxSpec::healthy("pbx-1")).unwrap();
        let faults = Faults::default();
        let view = View::new(&pbx, &faults, Utc::now());
        for salt in 0..100 {
            let value = view.figure_in(salt, 3, 9);
            assert!((3..=9).contains(&value));
            assert_eq!(value, view.figure_in(salt, 3, 9));
        }
    }
}
