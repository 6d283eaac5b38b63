//! The conformance suite every [`Store`](crate::Store) backend must pass (feature `conformance`).
//!
//! Each test is a `pub async fn(Arc<dyn Store>)` given a fresh, empty store; the files group them by theme.
//! A backend runs them all from one of its integration tests with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! // crates/durin-store-<backend>/tests/conformance.rs
//! async fn new_store() -> (std::sync::Arc<dyn durin_store::Store>, tempfile::TempDir) { ... }
//! durin_store::conformance_tests!(new_store().await);
//! ```
//!
//! The expression is evaluated once per test, inside the test's async body; it yields the store and a guard
//! (a temporary directory, a database to drop, or `()`) kept alive until the test body has finished. The
//! macro expands to a module `conformance` with one `#[tokio::test]` per body, named
//! `conformance::<theme>::<test>`, so the calling crate needs `tokio` (with `macros` and `rt-multi-thread`).
//!
//! The suite checks behaviour through the trait only. It assumes what the engine guarantees: ids sort in
//! creation order (ULIDs), so "newest first" is checked on ids.

// Test code compiled behind a feature: failing loudly on an unexpected error is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod actions;
pub mod apps_functions;
pub mod concurrency;
pub mod finish;
pub mod intake;
pub mod policy_document;
pub mod queue;
pub mod reads;
pub mod retry_policies;
mod support;

/// Expands to one `#[tokio::test]` per conformance test, each on a fresh store built by `$make`, an
/// expression (it may use `.await`) of type `(Arc<dyn Store>, G)`; `G` is dropped after the test.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr $(,)?) => {
        $crate::__conformance_list!(__conformance_expand; $make);
    };
}

/// The list of every conformance test, by theme: the one place a new test is registered. Calls
/// `$crate::$callback!` with `($($args)*)` followed by the list.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_list {
    ($callback:ident; $($args:tt)*) => {
        $crate::$callback! {
            ($($args)*)
            actions {
                cancel_run_ends_a_running_run_and_removes_its_jobs,
                start_rerun_creates_a_run_with_kept_results,
                retry_now_makes_waiting_retries_due,
                a_pause_is_resolved_once_by_an_event,
                a_pause_times_out_with_its_timeout_memo,
            }
            apps_functions {
                empty_store_lists_nothing,
                save_app_sync_records_app_and_functions,
                save_app_sync_archives_functions_no_longer_sent,
                save_app_sync_restores_a_function_sent_again,
                save_app_sync_archives_only_the_apps_own_functions,
                save_app_sync_updates_the_app_at_the_same_url,
                save_app_error_keeps_functions,
                save_app_error_for_an_unknown_app_lists_it_by_url,
            }
            intake {
                accept_events_stores_events,
                accept_events_keeps_an_event_already_stored,
                accept_events_creates_runs_with_a_first_discovery_job,
                accept_events_skips_duplicate_idempotency_keys,
                accept_events_twice_with_the_same_run_creates_it_once,
                load_run_state_of_a_new_run,
                load_run_state_of_a_run_of_an_unknown_function,
                load_run_state_of_an_unknown_run_is_not_found,
            }
            queue {
                claim_due_jobs_returns_only_due_jobs,
                claim_due_jobs_orders_by_due_time_and_respects_the_limit,
                claim_due_jobs_leases_the_jobs,
                claim_due_jobs_returns_a_job_again_as_interrupted_once_its_lease_expired,
                expire_all_leases_makes_leased_jobs_claimable_as_interrupted,
                expire_all_leases_without_leases_returns_zero,
                next_wake_at_after_expire_all_leases_is_not_later_than_now,
                next_wake_at_is_the_earliest_due_time_or_lease_expiry,
                concurrent_claims_never_return_a_job_twice,
                a_finish_under_a_lost_lease_is_refused_whole,
                a_leased_finish_on_an_ended_run_is_recorded_once,
            }
            finish {
                finish_attempt_records_the_attempt_with_all_fields,
                finish_attempt_retry_reschedules_the_same_job,
                finish_attempt_remove_deletes_the_job,
                finish_attempt_appends_memos_in_order_and_never_overwrites,
                finish_attempt_enqueue_dedupes_pending_jobs,
                finish_attempt_enqueue_skips_memoized_steps,
                finish_attempt_reruns_a_discovery_requested_while_one_is_in_flight,
                finish_attempt_saves_request_version_and_disable_immediate_execution,
                finish_attempt_finish_run_ends_the_run_and_deletes_its_jobs,
                finish_attempt_finish_run_with_each_final_status,
                finish_attempt_emits_events_and_starts_runs,
                finish_attempt_on_a_run_no_longer_running_only_records_the_attempt,
                finish_attempt_on_an_unknown_run_is_not_found,
                json_values_come_back_exactly,
                load_run_state_counts_the_bytes_of_stored_results,
            }
            reads {
                reads_of_unknown_ids_are_empty,
                list_events_newest_first_with_limit,
                list_events_pages_with_a_cursor,
                list_events_filters_by_name,
                list_events_filters_by_time,
                runs_for_event_lists_the_runs_an_event_started,
                list_runs_filters_and_limits,
                jobs_for_run_lists_only_the_runs_jobs,
            }
            retry_policies {
                retry_state_round_trips_through_retry_and_claim,
                spends_run_retry_counts_the_runs_retries,
                a_paused_job_is_never_due,
                a_paused_runs_other_jobs_still_finish,
                a_paused_runs_pause_still_matches_an_event,
                resume_run_makes_paused_jobs_fresh_and_due_now,
                resume_run_of_a_run_not_paused_changes_nothing,
                fail_paused_run_fails_it_with_its_output,
                fail_paused_run_leaves_a_running_run,
                cancel_run_cancels_a_paused_run,
                attempt_explanations_round_trip,
            }
            policy_document {
                no_document_at_first,
                a_saved_document_reads_back,
                saving_again_replaces_the_document,
            }
            concurrency {
                concurrent_accept_events_all_succeed_and_are_readable,
                a_failing_call_does_not_undo_concurrent_calls,
                load_run_state_is_a_consistent_snapshot,
                concurrent_last_branches_enqueue_exactly_one_discovery,
                concurrent_accepts_of_one_run_create_it_once,
                an_event_and_the_timeout_end_a_pause_once,
                a_cancel_racing_the_last_attempt_wins_whole_or_not_at_all,
            }
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_expand {
    (($make:expr) $($module:ident { $($test:ident),* $(,)? })*) => {
        mod conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                mod $module {
                    #[allow(unused_imports)]
                    use super::*;
                    $(
                        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
                        async fn $test() {
                            let (store, guard) = $make;
                            $crate::conformance::$module::$test(store).await;
                            drop(guard);
                        }
                    )*
                }
            )*
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_names {
    (() $($module:ident { $($test:ident),* $(,)? })*) => {
        &[$($(concat!(stringify!($module), "::", stringify!($test)),)*)*]
    };
}

#[cfg(test)]
mod tests {
    /// Every `pub async fn` of the theme files is registered in `__conformance_list!`, and nothing else.
    #[test]
    fn every_test_body_is_registered() {
        let registered: &[&str] = crate::__conformance_list!(__conformance_names;);
        let sources = [
            ("actions", include_str!("actions.rs")),
            ("apps_functions", include_str!("apps_functions.rs")),
            ("intake", include_str!("intake.rs")),
            ("queue", include_str!("queue.rs")),
            ("finish", include_str!("finish.rs")),
            ("reads", include_str!("reads.rs")),
            ("retry_policies", include_str!("retry_policies.rs")),
            ("policy_document", include_str!("policy_document.rs")),
            ("concurrency", include_str!("concurrency.rs")),
        ];
        let mut defined: Vec<String> = sources
            .iter()
            .flat_map(|(module, source)| {
                source.lines().filter_map(move |line| {
                    let name = line.strip_prefix("pub async fn ")?.split('(').next()?;
                    Some(format!("{module}::{name}"))
                })
            })
            .collect();
        let mut registered: Vec<String> = registered.iter().map(|s| (*s).to_owned()).collect();
        defined.sort();
        registered.sort();
        assert_eq!(registered, defined);
    }
}
