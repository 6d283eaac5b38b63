//! Which store the engine runs on: PostgreSQL when a `postgres://` URL is given, else the embedded SQLite
//! store in the data directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use durin_store::Store;
use durin_store_postgres::{PostgresOptions, PostgresStore};
use durin_store_sqlite::SqliteStore;

use crate::cli::UsageError;

#[derive(Debug)]
pub(crate) enum StoreChoice {
    Sqlite {
        data_dir: PathBuf,
    },
    Postgres {
        options: PostgresOptions,
        /// The instance id was given (`--instance-id`), not drawn at random: leases left under it by an
        /// earlier run of this instance are released at start.
        named_instance: bool,
    },
}

/// PostgreSQL settings beyond the URL (`durin serve`'s flags; `durin dev` uses the defaults).
#[derive(Debug, Default)]
pub(crate) struct PostgresFlags {
    pub(crate) instance_id: Option<String>,
    pub(crate) max_connections: Option<u32>,
}

/// A store ready for the engine.
pub(crate) struct OpenedStore {
    pub(crate) store: Arc<dyn Store>,
    /// This process is the store's only user (see `Engine::new`).
    pub(crate) exclusive: bool,
    /// What to tell the user: which store, where (never a password).
    pub(crate) description: String,
}

impl StoreChoice {
    /// Picks the store from `--database-url` (a missing or blank one means SQLite in `data_dir`). A URL of
    /// another kind, or one PostgreSQL's URL syntax refuses, is a usage error.
    pub(crate) fn from_flags(
        database_url: Option<&str>,
        data_dir: &Path,
        postgres: PostgresFlags,
    ) -> Result<Self, UsageError> {
        let Some(url) = database_url.map(str::trim).filter(|url| !url.is_empty()) else {
            return Ok(Self::Sqlite {
                data_dir: data_dir.to_owned(),
            });
        };
        let scheme = url.split_once("://").map(|(scheme, _)| scheme);
        if !matches!(scheme, Some("postgres" | "postgresql")) {
            return Err(UsageError(format!(
                "--database-url must be a postgres:// or postgresql:// URL, not {}; without it the \
                 embedded store in --data-dir is used",
                scheme.map_or_else(
                    || "a value without a scheme".to_owned(),
                    |s| format!("{s}://")
                ),
            )));
        }
        let mut options = PostgresOptions::new(url);
        if let Some(max) = postgres.max_connections {
            options.max_connections = max;
        }
        let named_instance = postgres.instance_id.is_some();
        if let Some(id) = postgres.instance_id {
            options.instance_id = id;
        }
        options.check_url().map_err(|error| {
            UsageError(format!(
                "--database-url {} is not a valid PostgreSQL URL: {error}",
                options.redacted_url()
            ))
        })?;
        Ok(Self::Postgres {
            options,
            named_instance,
        })
    }

    /// Opens (and migrates) the store.
    pub(crate) async fn open(self) -> anyhow::Result<OpenedStore> {
        match self {
            Self::Sqlite { data_dir } => {
                std::fs::create_dir_all(&data_dir).with_context(|| {
                    format!("cannot create the data directory {}", data_dir.display())
                })?;
                let path = data_dir.join("durin.db");
                let store = SqliteStore::open(&path)
                    .with_context(|| format!("cannot open the store at {}", path.display()))?;
                Ok(OpenedStore {
                    store: Arc::new(store),
                    exclusive: true,
                    description: format!("SQLite {}", path.display()),
                })
            }
            Self::Postgres {
                options,
                named_instance,
            } => open_postgres(options, named_instance).await,
        }
    }
}

async fn open_postgres(
    options: PostgresOptions,
    named_instance: bool,
) -> anyhow::Result<OpenedStore> {
    let shown = options.redacted_url();
    let instance = options.instance_id.clone();
    let store = PostgresStore::connect_with(options)
        .await
        .with_context(|| format!("cannot use the PostgreSQL database at {shown}"))?;
    if named_instance {
        // Leases under this id belong to an earlier run of this very instance, which is gone: its
        // attempts are retried now rather than when their leases expire. Other instances' leases stay.
        let released = store
            .expire_all_leases()
            .await
            .context("cannot release this instance's earlier leases")?;
        if released > 0 {
            tracing::warn!(
                jobs = released,
                instance = %instance,
                "attempts were in flight when this instance stopped; retrying them"
            );
        }
    }
    Ok(OpenedStore {
        store: Arc::new(store),
        // Other instances may be using the database: their leases are theirs (see `Engine::new`).
        exclusive: false,
        description: format!("PostgreSQL {shown}, instance {instance}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(url: Option<&str>) -> Result<StoreChoice, UsageError> {
        StoreChoice::from_flags(url, Path::new("/tmp/d"), PostgresFlags::default())
    }

    #[test]
    fn no_url_or_a_blank_one_means_sqlite_in_the_data_dir() {
        for url in [None, Some(""), Some("  ")] {
            match choose(url) {
                Ok(StoreChoice::Sqlite { data_dir }) => assert_eq!(data_dir, Path::new("/tmp/d")),
                other => panic!("{url:?}: expected SQLite, got {other:?}"),
            }
        }
    }

    #[test]
    fn postgres_and_postgresql_urls_select_postgres() {
        for url in [
            "postgres://durin:secret@db.internal:5432/durin",
            "postgresql://durin@127.0.0.1/durin?sslmode=disable",
        ] {
            match choose(Some(url)) {
                Ok(StoreChoice::Postgres {
                    options,
                    named_instance,
                }) => {
                    assert_eq!(options.url, url);
                    assert!(!named_instance);
                }
                other => panic!("{url}: expected PostgreSQL, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_instance_id_and_pool_size_are_passed_on() {
        let flags = PostgresFlags {
            instance_id: Some("node-1".into()),
            max_connections: Some(4),
        };
        match StoreChoice::from_flags(Some("postgres://h/d"), Path::new("."), flags) {
            Ok(StoreChoice::Postgres {
                options,
                named_instance,
            }) => {
                assert_eq!(options.instance_id, "node-1");
                assert_eq!(options.max_connections, 4);
                assert!(named_instance);
            }
            other => panic!("expected PostgreSQL, got {other:?}"),
        }
    }

    #[test]
    fn other_urls_are_usage_errors_that_name_the_flag() {
        for (url, needle) in [
            ("mysql://u:p@h/d", "mysql://"),
            ("sqlite:///tmp/x.db", "sqlite://"),
            ("db.internal:5432", "without a scheme"),
        ] {
            let error = choose(Some(url)).expect_err(url).0;
            assert!(error.contains("--database-url"), "{error}");
            assert!(error.contains(needle), "{url}: {error}");
            assert!(!error.contains(":p@"), "no password in {error}");
        }
    }

    #[test]
    fn a_malformed_postgres_url_is_a_usage_error_without_its_password() {
        let error = choose(Some("postgres://durin:s3cret@db:notaport/durin"))
            .expect_err("bad port")
            .0;
        assert!(error.contains("--database-url"), "{error}");
        assert!(error.contains("durin:***@"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }
}
