//! Prefixed, typed ids (`ten_01J…`): a ULID behind a prefix that names the kind of object.

use ulid::Ulid;

/// A prefixed id type: `$name::generate()`, `parse`, `as_str`, `Display`, `FromStr`, serde
/// through `parse`, and an OpenAPI string schema.
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(
            Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize,
            ::utoipa::ToSchema,
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new id; ids generated later sort after earlier ones (ULID).
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, ::ulid::Ulid::new()))
            }

            /// Accepts `<prefix>_<ULID>` in either case and keeps the canonical spelling.
            pub fn parse(s: &str) -> Result<Self, $crate::domain::ValueError> {
                let body = s.strip_prefix($prefix).and_then(|rest| rest.strip_prefix('_')).ok_or_else(|| {
                    $crate::domain::ValueError::new($what, concat!("must start with \"", $prefix, "_\""))
                })?;
                let ulid = ::ulid::Ulid::from_string(body)
                    .map_err(|_| $crate::domain::ValueError::new($what, "must end in a 26-character ULID"))?;
                Ok(Self(format!("{}_{}", $prefix, ulid)))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::ValueError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = $crate::domain::ValueError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

pub(crate) use prefixed_id;

prefixed_id!(
    /// A tenant: one MSP account.
    TenantId, "ten", "tenant id"
);
prefixed_id!(
    /// A user of a tenant.
    UserId, "usr", "user id"
);
prefixed_id!(
    /// A monitored 3CX instance.
    InstanceId, "ins", "instance id"
);
prefixed_id!(
    /// An audit-log entry.
    AuditId, "aud", "audit id"
);
prefixed_id!(
    /// An alert: one (instance, kind, subject) from opening to resolution.
    AlertId, "alr", "alert id"
);
prefixed_id!(
    /// One notification of an alert to one channel.
    DeliveryId, "dlv", "delivery id"
);

/// A ULID made from `at` and a hash of `seed`: the same inputs give the same id, which sorts by
/// `at` like a generated one.
fn derived_ulid(at: chrono::DateTime<chrono::Utc>, seed: &str) -> Ulid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut random = [0u8; 16];
    random[6..].copy_from_slice(&digest[..10]);
    let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
    Ulid::from_parts(millis, u128::from_be_bytes(random))
}

impl AlertId {
    /// The id of the alert opened at `at` for `seed` (tenant, instance, kind, subject), so an
    /// evaluation retried after a conflict writes no second alert.
    pub fn derived(at: chrono::DateTime<chrono::Utc>, seed: &str) -> Self {
        Self(format!("{}_{}", Self::PREFIX, derived_ulid(at, seed)))
    }
}

impl AlertId {
    /// Bounds of the ids of alerts opened in `[from, to]`, as sort keys (ids sort by opening time).
    pub fn range_opened(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> (String, String) {
        let millis = |at: chrono::DateTime<chrono::Utc>| u64::try_from(at.timestamp_millis()).unwrap_or(0);
        (
            format!("{}_{}", Self::PREFIX, Ulid::from_parts(millis(from), 0)),
            format!("{}_{}", Self::PREFIX, Ulid::from_parts(millis(to), u128::MAX)),
        )
    }
}

impl DeliveryId {
    /// The id of the delivery due at `at` for `seed` (alert, notice, channel).
    pub fn derived(at: chrono::DateTime<chrono::Utc>, seed: &str) -> Self {
        Self(format!("{}_{}", Self::PREFIX, derived_ulid(at, seed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_through_parse() {
        let id = TenantId::generate();
        assert_eq!(TenantId::parse(id.as_str()), Ok(id.clone()));
        assert!(id.as_str().starts_with("ten_"));
    }

    #[test]
    fn lowercase_ulids_are_normalised() {
        let id = InstanceId::generate();
        let lower = id.as_str().to_lowercase();
        assert_eq!(InstanceId::parse(&lower), Ok(id));
    }

    #[test]
    fn ids_of_another_kind_or_malformed_are_rejected() {
        let tenant = TenantId::generate();
        assert!(InstanceId::parse(tenant.as_str()).is_err());
        for bad in ["", "ins_", "ins_123", "ins-01ARZ3NDEKTSV4RRFFQ69G5FAV", "ins_01ARZ3NDEKTSV4RRFFQ69G5FAV#x"] {
            assert!(InstanceId::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn serde_goes_through_parse() {
        let err = serde_json::from_str::<TenantId>("\"usr_01ARZ3NDEKTSV4RRFFQ69G5FAV\"");
        assert!(err.is_err());
        let ok: TenantId = serde_json::from_str("\"ten_01ARZ3NDEKTSV4RRFFQ69G5FAV\"").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.as_str(), "ten_01ARZ3NDEKTSV4RRFFQ69G5FAV");
    }
}
