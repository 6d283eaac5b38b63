//! The retry policy document: `retry_policies`, `save_retry_policies`.

use std::sync::Arc;

use serde_json::json;

use super::support::T0;
use crate::Store;

/// A fresh store has no document.
pub async fn no_document_at_first(store: Arc<dyn Store>) {
    assert_eq!(store.retry_policies().await.expect("retry_policies"), None);
}

/// A saved document comes back exactly, with the time it was saved.
pub async fn a_saved_document_reads_back(store: Arc<dyn Store>) {
    let document = json!({"policies": [
        {"function": "shop-charge", "step": "call-bank", "retries": 1,
         "backoff": {"kind": "fixed", "interval_ms": 100}},
        {"function": "shop-sync", "retries": 0, "note": "ünïcode \u{0000} 1.5e300"}
    ]});
    store
        .save_retry_policies(document.clone(), T0)
        .await
        .expect("save_retry_policies");
    assert_eq!(
        store.retry_policies().await.expect("retry_policies"),
        Some((document, T0))
    );
}

/// Saving again replaces the document and its time whole.
pub async fn saving_again_replaces_the_document(store: Arc<dyn Store>) {
    let first = json!({"policies": [{"function": "a", "retries": 3}]});
    let second = json!({"policies": []});
    store
        .save_retry_policies(first, T0)
        .await
        .expect("save_retry_policies");
    store
        .save_retry_policies(second.clone(), T0 + 5)
        .await
        .expect("save_retry_policies");
    assert_eq!(
        store.retry_policies().await.expect("retry_policies"),
        Some((second, T0 + 5))
    );
}
