//! Configuration, read once at start from `SIKURD_*` environment variables into typed structs.
//! A missing or bad value is an error that names the variable.
//!
//! This is the only module that reads the process environment.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

/// A configuration value that is missing or unusable; says which variable and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set")]
    Missing { name: &'static str },
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A snapshot of the environment variables, taken once.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    /// The process environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect() }
    }

    /// A set, non-blank value.
    pub fn optional(&self, name: &'static str) -> Option<String> {
        self.vars.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
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
    fn local_paths_default_under_the_working_directory() {
        let paths = LocalPaths::from_env(&Env::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(paths.table_file(), PathBuf::from("sikurd-data/table.redb"));
    }
}
