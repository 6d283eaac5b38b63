//! A fresh database per test (the testkit's, on the server named by `DURIN_TEST_DATABASE_URL`, dropped
//! afterwards), and stores on it.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::sync::Arc;

use durin_store::Store;
use durin_store_postgres::{PostgresOptions, PostgresStore};

/// A database created for one test; `create` fails the test, saying how to get a server, without one.
pub(crate) struct TestDatabase(durin_testkit::TestDatabase);

impl TestDatabase {
    pub(crate) async fn create() -> Self {
        match durin_testkit::TestDatabase::create().await {
            Ok(database) => Self(database),
            Err(error) => panic!("{error:#}"),
        }
    }

    pub(crate) fn url(&self) -> &str {
        self.0.url()
    }

    /// A store on this database with its own pool and instance id: another Durin instance.
    pub(crate) async fn instance(&self, instance_id: &str) -> PostgresStore {
        let mut options = PostgresOptions::new(self.url().to_owned());
        options.instance_id = instance_id.to_owned();
        PostgresStore::connect_with(options)
            .await
            .expect("connect the store")
    }
}

/// A fresh store on a fresh database, for the conformance suite.
pub(crate) async fn fresh_store() -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::create().await;
    let store = PostgresStore::connect(database.url())
        .await
        .expect("connect the store");
    (Arc::new(store), database)
}
