//! Fleets for benchmarks: many PBXs named `<prefix>-00001`, ..., a fraction of them faulty.

use std::time::Duration;

use crate::SimError;
use crate::spec::{ExpiresInUnit, Faults, PbxSpec, is_dns_label};

/// Distinct fault kinds in the rotation of [`fleet_faults`].
pub(crate) const ROTATION_LEN: usize = 16;

/// The name of the `index`-th PBX (1-based) of a fleet: `<prefix>-` and the index padded to five
/// digits.
pub(crate) fn fleet_name(prefix: &str, index: usize) -> String {
    format!("{prefix}-{index:05}")
}

/// The specs of a fleet: `count` healthy PBXs ([`PbxSpec::healthy`]) with `latency` on all, of
/// which `faulty_fraction` (spread evenly) also get the faults of [`fleet_faults`] in turn.
pub(crate) fn fleet_specs(
    prefix: &str,
    count: usize,
    faulty_fraction: f64,
    latency: Option<(u64, u64)>,
) -> Result<Vec<PbxSpec>, SimError> {
    if !(0.0..=1.0).contains(&faulty_fraction) {
        return Err(SimError::InvalidFleet("the faulty fraction must be between 0 and 1".to_owned()));
    }
    if !is_dns_label(&fleet_name(prefix, count.max(1))) {
        return Err(SimError::InvalidFleet(format!("'{prefix}' does not make valid PBX names")));
    }
    let mut faulty_so_far = 0;
    Ok((1..=count)
        .map(|index| {
            let due = (index as f64 * faulty_fraction).floor() as usize;
            let name = fleet_name(prefix, index);
            let mut faults = if due > faulty_so_far {
                faulty_so_far = due;
                fleet_faults(due - 1, &name)
            } else {
                Faults::default()
            };
            faults.latency = latency;
            PbxSpec::healthy(name).with_faults(faults)
        })
        .collect())
}

/// The `k`-th fault of the fleet rotation (`k` modulo 16): trunk "Primary SIP" down; service
/// `3CXQueueManager01` stopped; backup missing; disk full; licence expiring in 10 days; calls at
/// the limit; `503` on everything; 2 s slow; wrong password; 30 s token lifetime; `expires_in` in
/// minutes; garbage JSON; hang; v18 only; two-factor required; PII canary `PII-CANARY-<name>`.
pub(crate) fn fleet_faults(k: usize, name: &str) -> Faults {
    let mut faults = Faults::default();
    match k % ROTATION_LEN {
        0 => faults.trunk_down = Some("Primary SIP".to_owned()),
        1 => faults.services_stopped = vec!["3CXQueueManager01".to_owned()],
        2 => faults.backup_missing = true,
        3 => faults.disk_full = true,
        4 => faults.licence_expiring_days = Some(10),
        5 => faults.calls_at_limit = true,
        6 => faults.server_error = true,
        7 => faults.slow = Some(Duration::from_secs(2)),
        8 => faults.wrong_password = true,
        9 => faults.token_lifetime = Duration::from_secs(30),
        10 => faults.expires_in_unit = ExpiresInUnit::Minutes,
        11 => faults.garbage_json = true,
        12 => faults.hang = true,
        13 => faults.v18_only = true,
        14 => faults.two_factor_required = true,
        _ => faults.pii_canaries = vec![format!("PII-CANARY-{name}")],
    }
    faults
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fleets_are_numbered_from_one_with_five_digits() {
        let specs = fleet_specs("bench", 3, 0.0, None).unwrap();
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        assert_eq!(names, ["bench-00001", "bench-00002", "bench-00003"]);
        assert_eq!(specs[0].admin.as_ref().unwrap().password, "pw-bench-00001");
    }

    #[test]
    fn the_faulty_fraction_is_spread_evenly_and_rotates_through_every_fault() {
        let specs = fleet_specs("f", 100, 0.25, Some((1, 2))).unwrap();
        assert!(specs.iter().all(|spec| spec.faults.latency == Some((1, 2))), "latency applies to every PBX");
        let healthy = Faults { latency: Some((1, 2)), ..Faults::default() };
        let faulty: Vec<usize> = (0..100).filter(|i| specs[*i].faults != healthy).collect();
        assert_eq!(faulty.len(), 25);
        assert_eq!(faulty[..3], [3, 7, 11]);
        assert!(specs[3].faults.trunk_down.is_some());
        assert!(specs[7].faults.services_stopped.len() == 1);
    }

    #[test]
    fn every_rotation_entry_differs_from_a_healthy_pbx() {
        for k in 0..ROTATION_LEN {
            assert_ne!(fleet_faults(k, "x"), Faults::default(), "rotation entry {k}");
        }
    }

    #[test]
    fn bad_fleets_are_refused() {
        assert!(fleet_specs("Bench", 1, 0.0, None).is_err());
        assert!(fleet_specs("bench", 1, 1.5, None).is_err());
        assert!(fleet_specs("bench", 1, f64::NAN, None).is_err());
    }
}
