//! A throwaway CA made at start, and server certificates it signs for `localhost` names.
//!
//! WebPKI refuses a wildcard directly above a single label (`*.localhost`), so besides the
//! default certificate (for `localhost`, `*.localhost`, `127.0.0.1` and `::1`) each SNI name
//! `<label>.localhost` gets its own certificate, made on first use and kept.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use tokio_rustls::rustls::crypto::aws_lc_rs;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::{CertifiedKey, SigningKey};
use tokio_rustls::rustls::{self, ServerConfig};

use crate::SimError;
use crate::spec::is_dns_label;

/// Per-name certificates kept; beyond this they are made afresh on each handshake.
const MAX_CACHED: usize = 50_000;

/// The CA (PEM, for clients to trust) and the server's TLS configuration.
pub(crate) struct Tls {
    pub ca_pem: String,
    pub config: Arc<ServerConfig>,
}

pub(crate) fn make() -> Result<Tls, SimError> {
    let mut ca_params = CertificateParams::new(Vec::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.distinguished_name.push(DnType::CommonName, "Sikurd PBX simulator CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    validity(&mut ca_params);
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate()?;
    let signing_key =
        aws_lc_rs::sign::any_supported_type(&PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())))?;
    let mut certs =
        LocalhostCerts { issuer, leaf_key, signing_key, default: None, by_name: Mutex::new(HashMap::new()) };
    let names = ["localhost", "*.localhost", "127.0.0.1", "::1"].map(str::to_owned).to_vec();
    certs.default = Some(certs.certified(names, "localhost")?);

    let provider = Arc::new(aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(certs));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls { ca_pem: ca_cert.pem(), config: Arc::new(config) })
}

fn validity(params: &mut CertificateParams) {
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2099, 12, 31);
}

struct LocalhostCerts {
    issuer: Issuer<'static, KeyPair>,
    leaf_key: KeyPair,
    signing_key: Arc<dyn SigningKey>,
    default: Option<Arc<CertifiedKey>>,
    by_name: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl LocalhostCerts {
    fn certified(&self, names: Vec<String>, common_name: &str) -> Result<Arc<CertifiedKey>, SimError> {
        let mut params = CertificateParams::new(names)?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        validity(&mut params);
        let cert = params.signed_by(&self.leaf_key, &self.issuer)?;
        Ok(Arc::new(CertifiedKey::new(vec![cert.der().clone()], Arc::clone(&self.signing_key))))
    }

    fn for_name(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        if let Some(known) = self.by_name.lock().unwrap_or_else(PoisonError::into_inner).get(name) {
            return Some(Arc::clone(known));
        }
        let made = match self.certified(vec![name.to_owned()], name) {
            Ok(made) => made,
            Err(error) => {
                tracing::warn!(%name, %error, "could not make a certificate");
                return self.default.clone();
            }
        };
        let mut by_name = self.by_name.lock().unwrap_or_else(PoisonError::into_inner);
        if by_name.len() < MAX_CACHED {
            by_name.insert(name.to_owned(), Arc::clone(&made));
        }
        Some(made)
    }
}

impl ResolvesServerCert for LocalhostCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match hello.server_name().map(str::to_ascii_lowercase) {
            Some(name) if name.strip_suffix(".localhost").is_some_and(is_dns_label) => self.for_name(&name),
            _ => self.default.clone(),
        }
    }
}

impl fmt::Debug for LocalhostCerts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cached = self.by_name.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("LocalhostCerts").field("cached", &cached).finish_non_exhaustive()
    }
}
