//! A fresh PostgreSQL database per test, on the server named by `DURIN_TEST_DATABASE_URL`, dropped
//! afterwards: for tests of `durin serve` instances sharing one database.

use anyhow::{Context, bail};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The variable naming the test server (`scripts/postgres` prints it).
pub const DATABASE_URL_VARIABLE: &str = "DURIN_TEST_DATABASE_URL";

/// A database created for one test; dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates an empty database. Fails, saying how to get a server, when `DURIN_TEST_DATABASE_URL` is
    /// unset: a test that needs PostgreSQL never passes without one.
    pub async fn create() -> anyhow::Result<Self> {
        let server_url = match std::env::var(DATABASE_URL_VARIABLE) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => bail!(
                "{DATABASE_URL_VARIABLE} is not set: this test needs a PostgreSQL server. Start a \
                 throwaway one with `eval \"$(scripts/postgres)\"` from the repository root (it exports \
                 {DATABASE_URL_VARIABLE}) and run the test again; `scripts/postgres stop` stops it."
            ),
        };
        let name = format!(
            "durin_test_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let mut admin = PgConnection::connect(&server_url)
            .await
            .with_context(|| format!("cannot connect to {DATABASE_URL_VARIABLE} ({server_url})"))?;
        // The name is ours, made of [a-z0-9_] only.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .context("create the test database")?;
        admin.close().await.ok();
        let url = with_database(&server_url, &name);
        Ok(Self {
            server_url,
            name,
            url,
        })
    }

    /// The database's URL, for `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Drop may run inside a runtime (or while a test panics): use a thread and a runtime of our own.
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server_url).await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await?;
                Ok(())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error:#}", self.name);
        }
    }
}

/// `url` with its database (the path) replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |at| at + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |at| authority_start + at);
    let mut rebuilt = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        rebuilt.push('?');
        rebuilt.push_str(query);
    }
    rebuilt
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:54329/postgres", "d"),
            "postgres://u@127.0.0.1:54329/d"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "d"),
            "postgres://u:p@h/d?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "d"), "postgres://h/d");
    }
}
