//! Apps and functions: `save_app_sync`, `save_app_error`, `list_apps`, `list_functions`.

use std::sync::Arc;

use durin_core::{FunctionConfig, RetryPolicy};

use super::support::{T0, app_sync, app_url, function};
use crate::{AppRecord, Store};

async fn functions(store: &dyn Store) -> Vec<FunctionConfig> {
    let mut functions = store.list_functions().await.expect("list_functions");
    functions.sort_by(|a, b| a.id.cmp(&b.id));
    functions
}

async fn apps(store: &dyn Store) -> Vec<AppRecord> {
    let mut apps = store.list_apps().await.expect("list_apps");
    apps.sort_by(|a, b| a.url.cmp(&b.url));
    apps
}

/// A fresh store has no apps and no functions.
pub async fn empty_store_lists_nothing(store: Arc<dyn Store>) {
    assert_eq!(apps(&*store).await, vec![]);
    assert_eq!(functions(&*store).await, vec![]);
}

/// A sync stores the app row and every function it sent, configs intact.
pub async fn save_app_sync_records_app_and_functions(store: Arc<dyn Store>) {
    let sync = app_sync(
        "shop",
        vec![function("shop", "charge"), function("shop", "refund")],
        T0,
    );
    store
        .save_app_sync(sync.clone())
        .await
        .expect("save_app_sync");

    assert_eq!(
        apps(&*store).await,
        vec![AppRecord {
            name: "shop".into(),
            url: app_url("shop"),
            sdk: sync.sdk.clone(),
            framework: sync.framework.clone(),
            synced_at: Some(T0),
            error: None,
            function_count: 2,
        }]
    );
    assert_eq!(functions(&*store).await, sync.functions);
}

/// Functions of the app that a later sync no longer sends are archived: not listed, not counted; the ones
/// sent again are updated.
pub async fn save_app_sync_archives_functions_no_longer_sent(store: Arc<dyn Store>) {
    let first = vec![
        function("shop", "a"),
        function("shop", "b"),
        function("shop", "c"),
    ];
    store
        .save_app_sync(app_sync("shop", first, T0))
        .await
        .expect("first sync");

    let mut changed = function("shop", "a");
    changed.policy = RetryPolicy::with_retries(9);
    changed.url = "http://shop.test/moved".into();
    let second = vec![changed.clone(), function("shop", "c")];
    store
        .save_app_sync(app_sync("shop", second.clone(), T0 + 1_000))
        .await
        .expect("second sync");

    assert_eq!(functions(&*store).await, second);
    let apps = apps(&*store).await;
    assert_eq!(apps.len(), 1, "{apps:?}");
    assert_eq!(apps[0].function_count, 2);
    assert_eq!(apps[0].synced_at, Some(T0 + 1_000));
}

/// An archived function that a sync sends again is active again.
pub async fn save_app_sync_restores_a_function_sent_again(store: Arc<dyn Store>) {
    let all = vec![function("shop", "a"), function("shop", "b")];
    store
        .save_app_sync(app_sync("shop", all.clone(), T0))
        .await
        .expect("sync");
    store
        .save_app_sync(app_sync("shop", vec![function("shop", "a")], T0 + 1))
        .await
        .expect("sync without b");
    store
        .save_app_sync(app_sync("shop", all.clone(), T0 + 2))
        .await
        .expect("sync with b again");

    assert_eq!(functions(&*store).await, all);
    assert_eq!(apps(&*store).await[0].function_count, 2);
}

/// Archiving concerns the synced app only: another app's functions stay active.
pub async fn save_app_sync_archives_only_the_apps_own_functions(store: Arc<dyn Store>) {
    store
        .save_app_sync(app_sync(
            "billing",
            vec![function("billing", "invoice")],
            T0,
        ))
        .await
        .expect("sync billing");
    store
        .save_app_sync(app_sync("shop", vec![function("shop", "charge")], T0))
        .await
        .expect("sync shop");
    store
        .save_app_sync(app_sync("shop", vec![], T0 + 1))
        .await
        .expect("sync shop with no functions");

    assert_eq!(
        functions(&*store).await,
        vec![function("billing", "invoice")]
    );
    let counts: Vec<_> = apps(&*store)
        .await
        .into_iter()
        .map(|app| (app.name, app.function_count))
        .collect();
    assert_eq!(counts, vec![("billing".into(), 1), ("shop".into(), 0)]);
}

/// An app is one row per URL: a later sync updates its name, SDK and framework.
pub async fn save_app_sync_updates_the_app_at_the_same_url(store: Arc<dyn Store>) {
    store
        .save_app_sync(app_sync("shop", vec![function("shop", "a")], T0))
        .await
        .expect("first sync");
    let mut renamed = app_sync("shop", vec![function("shop", "a")], T0 + 5);
    renamed.name = "shop-v2".into();
    renamed.sdk = Some("py:v0.4.0".into());
    renamed.framework = None;
    store
        .save_app_sync(renamed.clone())
        .await
        .expect("second sync");

    assert_eq!(
        apps(&*store).await,
        vec![AppRecord {
            name: "shop-v2".into(),
            url: app_url("shop"),
            sdk: Some("py:v0.4.0".into()),
            framework: None,
            synced_at: Some(T0 + 5),
            error: None,
            function_count: 1,
        }]
    );
}

/// A failed sync records the error and keeps the app's functions and last successful sync; the next
/// successful sync clears the error.
pub async fn save_app_error_keeps_functions(store: Arc<dyn Store>) {
    let sync = app_sync(
        "shop",
        vec![function("shop", "a"), function("shop", "b")],
        T0,
    );
    store.save_app_sync(sync.clone()).await.expect("sync");
    store
        .save_app_error(&app_url("shop"), "connection refused", T0 + 10)
        .await
        .expect("save_app_error");

    assert_eq!(functions(&*store).await, sync.functions);
    assert_eq!(
        apps(&*store).await,
        vec![AppRecord {
            name: "shop".into(),
            url: app_url("shop"),
            sdk: sync.sdk.clone(),
            framework: sync.framework.clone(),
            synced_at: Some(T0),
            error: Some("connection refused".into()),
            function_count: 2,
        }]
    );

    store
        .save_app_sync(app_sync("shop", sync.functions.clone(), T0 + 20))
        .await
        .expect("sync again");
    let apps = apps(&*store).await;
    assert_eq!(apps[0].error, None);
    assert_eq!(apps[0].synced_at, Some(T0 + 20));
}

/// An app that never synced is listed under its URL, with the error and no functions.
pub async fn save_app_error_for_an_unknown_app_lists_it_by_url(store: Arc<dyn Store>) {
    let url = "http://nowhere.test/api/inngest";
    store
        .save_app_error(url, "dns error", T0)
        .await
        .expect("save_app_error");

    assert_eq!(
        apps(&*store).await,
        vec![AppRecord {
            name: url.into(),
            url: url.into(),
            sdk: None,
            framework: None,
            synced_at: None,
            error: Some("dns error".into()),
            function_count: 0,
        }]
    );
    assert_eq!(functions(&*store).await, vec![]);
}
