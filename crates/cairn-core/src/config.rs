//! Server configuration: a TOML file, overridden by `CAIRN__SECTION__KEY`
//! environment variables (for example `CAIRN__CELLS__EU__DATABASE_URL`).
//!
//! With no file, the embedded default runs the directory and both cells on
//! loopback with SQLite databases and local-disk buckets under `./cairn-data`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::{Error, Region};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Where default databases, buckets and key files live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Runs the global directory in this process when present.
    #[serde(default)]
    pub directory: Option<DirectoryConfig>,
    /// The region cells this process serves.
    #[serde(default)]
    pub cells: BTreeMap<Region, CellConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    pub listen: SocketAddr,
    /// Endpoint clients use to reach the directory; defaults to `http://<listen>`.
    #[serde(default)]
    pub public_endpoint: Option<String>,
    /// Defaults to SQLite at `<data_dir>/directory/directory.db`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Hex HMAC key for login and company hashes; created when missing.
    /// Defaults to `<data_dir>/directory/hmac.key`.
    #[serde(default)]
    pub hmac_key_file: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellConfig {
    pub listen: SocketAddr,
    /// Endpoint clients use to reach this cell; defaults to `http://<listen>`.
    #[serde(default)]
    pub public_endpoint: Option<String>,
    /// Defaults to SQLite at `<data_dir>/<region>/cell.db`.
    #[serde(default)]
    pub database_url: Option<String>,
    /// Bucket URL: `file:///path` or a plain path. Defaults to `<data_dir>/<region>/bucket`.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Hex master key wrapping company data keys; created when missing.
    /// Defaults to `<data_dir>/<region>/master.key`.
    #[serde(default)]
    pub master_key_file: Option<PathBuf>,
    /// Hex Ed25519 seed signing this cell's tokens; created when missing.
    /// Defaults to `<data_dir>/<region>/signing.key`.
    #[serde(default)]
    pub signing_key_file: Option<PathBuf>,
    /// The directory's endpoint; defaults to the directory of this process.
    #[serde(default)]
    pub directory_endpoint: Option<String>,
    /// SMTP server for this cell's mail, e.g. `smtp://mail.example.com:587?tls=required`
    /// or `smtps://user:pass@mail.example.com`. Without it, mail is written as
    /// `.eml` files under `<data_dir>/<region>/outbox/`.
    #[serde(default)]
    pub smtp_url: Option<String>,
    /// Sender of this cell's mail; defaults to `Cairn <no-reply@cairn.invalid>`.
    #[serde(default)]
    pub mail_from: Option<String>,
    /// Seconds between the cell's maintenance passes (daily usage figures,
    /// idle-agent alerts); defaults to 300.
    #[serde(default)]
    pub maintenance_every_secs: Option<u64>,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("./cairn-data")
}

impl ServerConfig {
    /// The embedded default: directory on 7400, `us` on 7401, `eu` on 7402.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> ServerConfig {
        Self::embedded_on(data_dir, [7400, 7401, 7402])
    }

    /// The embedded layout on chosen loopback ports (0 picks free ones).
    pub fn embedded_on(data_dir: impl Into<PathBuf>, ports: [u16; 3]) -> ServerConfig {
        let addr = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let cell = |port| CellConfig {
            listen: addr(port),
            public_endpoint: None,
            database_url: None,
            bucket: None,
            master_key_file: None,
            signing_key_file: None,
            directory_endpoint: None,
            smtp_url: None,
            mail_from: None,
            maintenance_every_secs: None,
        };
        ServerConfig {
            data_dir: data_dir.into(),
            directory: Some(DirectoryConfig {
                listen: addr(ports[0]),
                public_endpoint: None,
                database_url: None,
                hmac_key_file: None,
            }),
            cells: BTreeMap::from([(Region::Us, cell(ports[1])), (Region::Eu, cell(ports[2]))]),
        }
    }

    /// Loads `file` (or the embedded default when `None`) and applies the
    /// `CAIRN__` environment overrides.
    pub fn load(file: Option<&Path>) -> Result<ServerConfig, Error> {
        let figment = match file {
            Some(path) => {
                if !path.exists() {
                    return Err(Error::invalid(
                        "config",
                        format!("{} does not exist", path.display()),
                    ));
                }
                Figment::new().merge(Toml::file_exact(path))
            }
            None => Figment::from(Serialized::defaults(ServerConfig::embedded(
                default_data_dir(),
            ))),
        };
        let config: ServerConfig = figment
            .merge(Env::prefixed("CAIRN__").split("__"))
            .extract()
            .map_err(|e| Error::invalid("config", e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), Error> {
        if self.directory.is_none() && self.cells.is_empty() {
            return Err(Error::invalid(
                "config",
                "nothing to run: configure `directory` or at least one of `cells`",
            ));
        }
        for (region, cell) in &self.cells {
            if self.directory.is_none() && cell.directory_endpoint.is_none() {
                return Err(Error::invalid(
                    format!("cells.{region}.directory_endpoint"),
                    "is required when this process does not run the directory",
                ));
            }
        }
        Ok(())
    }

    pub fn directory_database_url(&self, dir: &DirectoryConfig) -> String {
        dir.database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&self.data_dir.join("directory").join("directory.db")))
    }

    pub fn directory_hmac_key_file(&self, dir: &DirectoryConfig) -> PathBuf {
        dir.hmac_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("directory").join("hmac.key"))
    }

    pub fn cell_dir(&self, region: Region) -> PathBuf {
        self.data_dir.join(region.as_str())
    }

    pub fn cell_database_url(&self, region: Region, cell: &CellConfig) -> String {
        cell.database_url
            .clone()
            .unwrap_or_else(|| sqlite_url(&self.cell_dir(region).join("cell.db")))
    }

    pub fn cell_bucket(&self, region: Region, cell: &CellConfig) -> String {
        cell.bucket
            .clone()
            .unwrap_or_else(|| self.cell_dir(region).join("bucket").display().to_string())
    }

    pub fn cell_master_key_file(&self, region: Region, cell: &CellConfig) -> PathBuf {
        cell.master_key_file
            .clone()
            .unwrap_or_else(|| self.cell_dir(region).join("master.key"))
    }

    /// Where mail goes as `.eml` files when no SMTP server is configured.
    pub fn cell_mail_folder(&self, region: Region) -> PathBuf {
        self.cell_dir(region).join("outbox")
    }

    pub fn cell_signing_key_file(&self, region: Region, cell: &CellConfig) -> PathBuf {
        cell.signing_key_file
            .clone()
            .unwrap_or_else(|| self.cell_dir(region).join("signing.key"))
    }
}

/// A SQLite URL that creates the file when missing.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_runs_everything() {
        let config = ServerConfig::load(None).unwrap();
        assert!(config.directory.is_some());
        assert_eq!(
            config.cells.keys().copied().collect::<Vec<_>>(),
            vec![Region::Us, Region::Eu]
        );
    }

    #[test]
    fn a_file_chooses_what_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(
            &path,
            r#"
data_dir = "/var/lib/cairn"
[cells.eu]
listen = "127.0.0.1:9000"
database_url = "postgres://cairn@localhost/eu"
directory_endpoint = "http://directory:7400"
"#,
        )
        .unwrap();
        let config = ServerConfig::load(Some(&path)).unwrap();
        assert!(config.directory.is_none());
        let eu = &config.cells[&Region::Eu];
        assert_eq!(
            config.cell_database_url(Region::Eu, eu),
            "postgres://cairn@localhost/eu"
        );
    }

    #[test]
    fn unknown_keys_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(
            &path,
            "[cells.eu]\nlisten = \"127.0.0.1:1\"\nbogus = 1\ndirectory_endpoint = \"x\"\n",
        )
        .unwrap();
        let err = ServerConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
        let err = ServerConfig::load(Some(&dir.path().join("missing.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not exist"), "{err}");
    }

    #[test]
    fn a_cell_without_a_directory_needs_its_endpoint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cairn.toml");
        std::fs::write(&path, "[cells.us]\nlisten = \"127.0.0.1:1\"\n").unwrap();
        let err = ServerConfig::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("cells.us.directory_endpoint"), "{err}");
    }
}
