//! Configuration, read once at start from `SIKURD_*` environment variables into typed structs.
//! A missing or bad value is an error that names the variable.
//!
//! This is the only module that reads the process environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use chrono::Duration;

/// A configuration value that is missing or unusable; says which variable and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set")]
    Missing { name: &'static str },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A snapshot of the environment variables, taken once. It remembers which names were asked
/// for, so a test can hold a function's configuration to what `template.yaml` sets.
#[derive(Debug, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    asked: std::sync::Mutex<std::collections::BTreeSet<&'static str>>,
}

impl Env {
    /// The process environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))))
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), asked: Default::default() }
    }

    /// A set, non-blank value.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).insert(name);
        self.vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// Every variable name asked for so far, set or not.
    pub fn asked(&self) -> Vec<&'static str> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect()
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.optional(name).ok_or(ConfigError::Missing { name })
    }

    /// A value parsed with `FromStr`, or `default` when unset.
    pub fn parsed_or<T>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.optional(name) {
            None => Ok(default),
            Some(raw) => raw.parse().map_err(|e: T::Err| ConfigError::Invalid { name, reason: e.to_string() }),
        }
    }
}

/// Names of the AWS resources a function uses, as `template.yaml` sets them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsResources {
    /// `SIKURD_TABLE_NAME`
    pub table_name: String,
    /// `SIKURD_KMS_KEY_ID`
    pub kms_key_id: String,
    /// `SIKURD_EVENT_BUS_NAME`
    pub event_bus_name: String,
    /// `SIKURD_BUCKET_NAME`
    pub bucket_name: String,
}

impl AwsResources {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env.required("SIKURD_TABLE_NAME")?,
            kms_key_id: env.required("SIKURD_KMS_KEY_ID")?,
            event_bus_name: env.required("SIKURD_EVENT_BUS_NAME")?,
            bucket_name: env.required("SIKURD_BUCKET_NAME")?,
        })
    }
}

/// Where the embedded adapters keep their files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPaths {
    /// `SIKURD_DATA_DIR` (default `./sikurd-data`)
    pub data_dir: PathBuf,
}

impl LocalPaths {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self { data_dir: env.parsed_or("SIKURD_DATA_DIR", PathBuf::from("sikurd-data"))? })
    }

    pub fn table_file(&self) -> PathBuf {
        self.data_dir.join("table.redb")
    }

    pub fn master_key_file(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }

    pub fn blob_dir(&self) -> PathBuf {
        self.data_dir.join("blobs")
    }
}

/// Where the code runs: decided by the binary (the Lambda functions are the cloud, the local
/// stack is local), not by a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deployment {
    /// AWS: instance addresses must be `https://` and public; bcrypt cost at least 12.
    Cloud,
    /// One machine: `http://` and private addresses are allowed (simulators, lab systems).
    Local,
}

/// The lowest bcrypt cost accepted in the cloud.
pub const CLOUD_MIN_BCRYPT_COST: u32 = 12;

/// The HTTP API's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiConfig {
    pub deployment: Deployment,
    /// `SIKURD_BCRYPT_COST` (default 12; 4 to 31, and at least 12 in the cloud): the cost of
    /// new password hashes.
    pub bcrypt_cost: u32,
    /// `SIKURD_SIGNUP_ENABLED` (default `true`): whether `POST /api/v1/signup` creates tenants.
    pub signup_enabled: bool,
    /// `SIKURD_SESSION_IDLE_MINUTES` (default 60): a session unused this long has ended.
    pub session_idle: Duration,
    /// `SIKURD_SESSION_ABSOLUTE_HOURS` (default 12): a session ends this long after login,
    /// however active.
    pub session_absolute: Duration,
    /// `SIKURD_LOGIN_MAX_FAILURES_PER_ACCOUNT` (default 10): failed logins for one e-mail
    /// address within the window after which logins for it are refused (429) until the window
    /// has passed.
    pub login_max_failures_per_account: u32,
    /// `SIKURD_LOGIN_MAX_FAILURES_PER_ADDRESS` (default 30): the same, per source IP address
    /// (higher: an office shares one address).
    pub login_max_failures_per_address: u32,
    /// `SIKURD_LOGIN_THROTTLE_WINDOW_MINUTES` (default 15): the sliding window of both limits.
    pub login_throttle_window: Duration,
}

fn minutes(env: &Env, name: &'static str, default: u32, max: u32) -> Result<Duration, ConfigError> {
    let value: u32 = env.parsed_or(name, default)?;
    if value == 0 || value > max {
        return Err(ConfigError::Invalid { name, reason: format!("must be 1 to {max}") });
    }
    Ok(Duration::minutes(i64::from(value)))
}

fn at_least_one(env: &Env, name: &'static str, default: u32) -> Result<u32, ConfigError> {
    match env.parsed_or(name, default)? {
        0 => Err(ConfigError::Invalid { name, reason: "must be at least 1".into() }),
        n => Ok(n),
    }
}

impl ApiConfig {
    /// The defaults listed on each field.
    pub fn defaults(deployment: Deployment) -> Self {
        Self {
            deployment,
            bcrypt_cost: 12,
            signup_enabled: true,
            session_idle: Duration::minutes(60),
            session_absolute: Duration::hours(12),
            login_max_failures_per_account: 10,
            login_max_failures_per_address: 30,
            login_throttle_window: Duration::minutes(15),
        }
    }

    pub fn from_env(env: &Env, deployment: Deployment) -> Result<Self, ConfigError> {
        let defaults = Self::defaults(deployment);
        let name = "SIKURD_BCRYPT_COST";
        let bcrypt_cost: u32 = env.parsed_or(name, defaults.bcrypt_cost)?;
        let min_cost = match deployment {
            Deployment::Cloud => CLOUD_MIN_BCRYPT_COST,
            Deployment::Local => 4,
        };
        if !(min_cost..=31).contains(&bcrypt_cost) {
            return Err(ConfigError::Invalid { name, reason: format!("must be {min_cost} to 31") });
        }
        let idle = minutes(env, "SIKURD_SESSION_IDLE_MINUTES", 60, 24 * 60)?;
        let absolute_hours: u32 = env.parsed_or("SIKURD_SESSION_ABSOLUTE_HOURS", 12)?;
        if absolute_hours == 0 || absolute_hours > 24 * 30 {
            return Err(ConfigError::Invalid {
                name: "SIKURD_SESSION_ABSOLUTE_HOURS",
                reason: "must be 1 to 720".into(),
            });
        }
        Ok(Self {
            deployment,
            bcrypt_cost,
            signup_enabled: env.parsed_or("SIKURD_SIGNUP_ENABLED", defaults.signup_enabled)?,
            session_idle: idle,
            session_absolute: Duration::hours(i64::from(absolute_hours)),
            login_max_failures_per_account: at_least_one(env, "SIKURD_LOGIN_MAX_FAILURES_PER_ACCOUNT", 10)?,
            login_max_failures_per_address: at_least_one(env, "SIKURD_LOGIN_MAX_FAILURES_PER_ADDRESS", 30)?,
            login_throttle_window: minutes(env, "SIKURD_LOGIN_THROTTLE_WINDOW_MINUTES", 15, 24 * 60)?,
        })
    }
}

/// `SIKURD_LISTEN` (default `127.0.0.1:8080`): where the local stack serves the API.
pub fn local_listen_address(env: &Env) -> Result<SocketAddr, ConfigError> {
    env.parsed_or("SIKURD_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8080)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_names_itself() {
        let env =
            Env::from_pairs([("SIKURD_TABLE_NAME", "t"), ("SIKURD_KMS_KEY_ID", "k"), ("SIKURD_BUCKET_NAME", "b")]);
        let err = AwsResources::from_env(&env).err();
        assert_eq!(err, Some(ConfigError::Missing { name: "SIKURD_EVENT_BUS_NAME" }));
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some("SIKURD_EVENT_BUS_NAME is not set"));
    }

    #[test]
    fn blank_values_count_as_missing() {
        let env = Env::from_pairs([("SIKURD_TABLE_NAME", "  ")]);
        assert_eq!(env.required("SIKURD_TABLE_NAME"), Err(ConfigError::Missing { name: "SIKURD_TABLE_NAME" }));
    }

    #[test]
    fn a_bad_value_names_itself_and_the_reason() {
        let env = Env::from_pairs([("SIKURD_BCRYPT_COST", "twelve")]);
        let err = env.parsed_or("SIKURD_BCRYPT_COST", 12u32).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("SIKURD_BCRYPT_COST is invalid"), "{err}");
    }

    #[test]
    fn api_settings_default_to_the_documented_values() {
        let config = ApiConfig::from_env(&Env::default(), Deployment::Cloud).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config, ApiConfig::defaults(Deployment::Cloud));
        assert_eq!(local_listen_address(&Env::default()), Ok(SocketAddr::from(([127, 0, 0, 1], 8080))));
    }

    #[test]
    fn a_low_bcrypt_cost_is_refused_in_the_cloud_and_allowed_locally() {
        let env = Env::from_pairs([("SIKURD_BCRYPT_COST", "4"), ("SIKURD_SIGNUP_ENABLED", "false")]);
        let cloud = ApiConfig::from_env(&env, Deployment::Cloud).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(cloud.starts_with("SIKURD_BCRYPT_COST is invalid"), "{cloud}");
        let local = ApiConfig::from_env(&env, Deployment::Local).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((local.bcrypt_cost, local.signup_enabled), (4, false));
        let env = Env::from_pairs([("SIKURD_BCRYPT_COST", "3")]);
        assert!(ApiConfig::from_env(&env, Deployment::Local).is_err());
    }

    #[test]
    fn zero_limits_and_windows_are_refused() {
        for name in
            ["SIKURD_SESSION_IDLE_MINUTES", "SIKURD_SESSION_ABSOLUTE_HOURS", "SIKURD_LOGIN_MAX_FAILURES_PER_ACCOUNT"]
        {
            let env = Env::from_pairs([(name, "0")]);
            assert!(ApiConfig::from_env(&env, Deployment::Local).is_err(), "{name}=0 accepted");
        }
    }

    #[test]
    fn local_paths_default_under_the_working_directory() {
        let paths = LocalPaths::from_env(&Env::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(paths.table_file(), PathBuf::from("sikurd-data/table.redb"));
    }
}
