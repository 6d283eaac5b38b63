//! The store conformance suite (`durin_store::conformance`) on SQLite: each test on a fresh database file.

use std::sync::Arc;

use durin_store::Store;
use durin_store_sqlite::SqliteStore;
use tempfile::TempDir;

async fn sqlite_store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("durin.db")).expect("open the store");
    (Arc::new(store), dir)
}

durin_store::conformance_tests!(sqlite_store().await);
