//! The store conformance suite (`durin_store::conformance`) on PostgreSQL: each test on a fresh database.
//! Needs a server: `eval "$(scripts/postgres)"` exports `DURIN_TEST_DATABASE_URL`.

mod support;

durin_store::conformance_tests!(support::fresh_store().await);
