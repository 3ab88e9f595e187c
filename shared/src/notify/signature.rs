use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// Unix seconds at which the post was signed.
pub const TIMESTAMP_HEADER: &str = "X-Sikurd-Timestamp";
/// `v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Sikurd-Signature";
/// The delivery id, the same on every attempt of one delivery.
pub const DELIVERY_HEADER: &str = "X-Sikurd-Delivery";
/// How far a signed timestamp may be from the receiver's clock, either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::minutes(5);

/// Why a signed post was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp is not a number of seconds")]
    MalformedTimestamp,
    #[error("the timestamp is too far from now")]
    OutsideTolerance,
    #[error("the signature is not v1=<64 hex digits>")]
    MalformedSignature,
    #[error("the signature does not match")]
    Mismatch,
}

fn mac(secret: &SecretString, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    format!("v1={}", hex::encode(mac(secret, &timestamp.to_string(), body).finalize().into_bytes()))
}

/// Checks a signed post as a receiver: `timestamp` and `signature` are the header values as
/// received, `body` the raw bytes. The timestamp must be within `tolerance` of `now` (see
/// [`DEFAULT_TOLERANCE`]); the signature is compared in constant time.
pub fn verify_signature(
    secret: &SecretString,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.trim();
    let seconds: i64 = timestamp.parse().map_err(|_| SignatureError::MalformedTimestamp)?;
    if now.timestamp().abs_diff(seconds) > tolerance.num_seconds().unsigned_abs() {
        return Err(SignatureError::OutsideTolerance);
    }
    let tag = signature
        .trim()
        .strip_prefix("v1=")
        .and_then(|h| hex::decode(h).ok())
        .filter(|t| t.len() == 32)
        .ok_or(SignatureError::MalformedSignature)?;
    mac(secret, timestamp, body).verify_slice(&tag).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("whsec_test_0123456789")
    }

    #[test]
    fn a_signature_verifies_for_the_same_secret_body_and_a_recent_timestamp() {
        let now = Utc::now();
        let ts = now.timestamp();
        let sig = sign(&secret(), ts, b"{\"a\":1}");
        assert!(sig.starts_with("v1=") && sig.len() == 3 + 64);
        let verify = |secret: &SecretString, ts: &str, sig: &str, body: &[u8], now| {
            verify_signature(secret, ts, sig, body, now, DEFAULT_TOLERANCE)
        };
        let ts_text = ts.to_string();
        assert_eq!(verify(&secret(), &ts_text, &sig, b"{\"a\":1}", now + Duration::minutes(4)), Ok(()));
        assert_eq!(verify(&secret(), &ts_text, &sig, b"{\"a\":2}", now), Err(SignatureError::Mismatch));
        assert_eq!(verify(&"other".into(), &ts_text, &sig, b"{\"a\":1}", now), Err(SignatureError::Mismatch));
        let later = (ts + 1).to_string();
        assert_eq!(verify(&secret(), &later, &sig, b"{\"a\":1}", now), Err(SignatureError::Mismatch));
        let late = now + Duration::minutes(6);
        assert_eq!(verify(&secret(), &ts_text, &sig, b"{\"a\":1}", late), Err(SignatureError::OutsideTolerance));
        let early = now - Duration::minutes(6);
        assert_eq!(verify(&secret(), &ts_text, &sig, b"{\"a\":1}", early), Err(SignatureError::OutsideTolerance));
    }

    #[test]
    fn malformed_headers_are_rejected_before_any_comparison() {
        let now = Utc::now();
        let ts = now.timestamp().to_string();
        let check = |ts: &str, sig: &str| verify_signature(&secret(), ts, sig, b"", now, DEFAULT_TOLERANCE);
        assert_eq!(check("yesterday", "v1=00"), Err(SignatureError::MalformedTimestamp));
        for sig in ["", "v1=", "v2=abcd", "v1=zz", &format!("v1={}", "ab".repeat(31))] {
            assert_eq!(check(&ts, sig), Err(SignatureError::MalformedSignature), "{sig}");
        }
    }
}
