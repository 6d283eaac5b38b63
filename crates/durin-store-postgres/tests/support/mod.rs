//! A fresh database per test on the server named by `DURIN_TEST_DATABASE_URL`, dropped afterwards.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use durin_store::Store;
use durin_store_postgres::{PostgresOptions, PostgresStore};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

const URL_VARIABLE: &str = "DURIN_TEST_DATABASE_URL";

/// The server's URL. Unset means the tests cannot run: they fail, saying how to get a server.
pub(crate) fn server_url() -> String {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{URL_VARIABLE} is not set: the PostgreSQL store tests need a server. Start a throwaway one \
             with `eval \"$(scripts/postgres)\"` from the repository root (it exports {URL_VARIABLE}), then \
             run the tests again; `scripts/postgres stop` stops it."
        ),
    }
}

/// A database created for one test; dropped (with its connections) when this is dropped, even after a
/// failed assertion.
pub(crate) struct TestDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    pub(crate) async fn create() -> Self {
        let server_url = server_url();
        let name = format!(
            "durin_test_{}",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let mut admin = PgConnection::connect(&server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {URL_VARIABLE} ({server_url}): {e}"));
        // The name is ours, made of [a-z0-9_] only.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.ok();
        let url = with_database(&server_url, &name);
        Self {
            server_url,
            name,
            url,
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A store on this database with its own pool and instance id: another Durin instance.
    pub(crate) async fn instance(&self, instance_id: &str) -> PostgresStore {
        let mut options = PostgresOptions::new(self.url.clone());
        options.instance_id = instance_id.to_owned();
        PostgresStore::connect_with(options)
            .await
            .expect("connect the store")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (server_url, name) = (self.server_url.clone(), self.name.clone());
        // Drop runs outside any runtime's reach (possibly while a test panics): use a thread of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&server_url).await?;
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
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

/// A fresh store on a fresh database, for the conformance suite.
pub(crate) async fn fresh_store() -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(database.url())
        .await
        .expect("connect the store");
    (Arc::new(store), database)
}
