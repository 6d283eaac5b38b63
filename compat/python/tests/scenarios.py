"""Every scenario the suite runs: one event each, all sent at the start of the session so that they run
concurrently against the same engine. Both apps (Flask and FastAPI) have a function for every event, so
each event starts one run per app; a test reads its own app's run.

name -> (engine, event name, event data). Every event also carries a unique `key` under which the
apps record what they observe.
"""

from __future__ import annotations

SCENARIOS: dict[str, tuple[str, str, dict]] = {
    # The retry documentation's four functions / retries.md worked examples.
    "ex1_click_recorder": ("main", "app/button.clicked", {"button": "signup", "fail_times": 2}),
    "ex2_sync_independent": ("main", "auto/sync.request", {"get_fails": 1, "save_fails": 4}),
    "ex3_sync_save_exhausted": ("main", "auto/sync.request", {"get_fails": 0, "save_fails": 5}),
    "ex4_digest_user_not_found": ("main", "user/weekly.digest.requested", {"userId": "u-404"}),
    "ex4_digest_non_retriable_in_step": (
        "main",
        "user/weekly.digest.requested",
        {"userId": "u-410", "mode": "non_retriable_in_step"},
    ),
    "ex5_welcome_retry_after": (
        "main",
        "app/user.created",
        {"user": {"phoneNumber": "+15550100"}, "rate_limited_times": 1, "retry_after_s": 3},
    ),
    "ex6_retries_zero_uncaught": ("main", "compat/retries.zero", {"mode": "uncaught"}),
    "ex6_retries_zero_caught": ("main", "compat/retries.zero", {"mode": "caught"}),
    "ex6_retries_zero_retry_after": ("main", "compat/retries.zero", {"mode": "retry_after"}),
    # Example 7 runs on a second engine with the real (unscaled) default table.
    "ex7_default_schedule": ("slow", "auto/sync.request", {"get_fails": 2, "save_fails": 0}),
    # Errors raised in the function body (outside steps).
    "body_non_retriable": ("main", "compat/body.errors", {"mode": "non_retriable"}),
    "body_retry_after": ("main", "compat/body.errors", {"mode": "retry_after"}),
    # Protocol coverage.
    "sequence": ("main", "compat/steps.sequence", {}),
    "parallel": ("main", "compat/steps.parallel", {"flaky_part": 1}),
    "sleep": ("main", "compat/steps.sleep", {"sleep_s": 1, "until_s": 1}),
    "loop": ("main", "compat/steps.loop", {}),
    "relay": ("main", "compat/relay.start", {}),
    "on_failure": ("main", "compat/doomed", {}),
    # step.wait_for_event: resumed by the test's approval event (sent once the wait is stored; the long
    # timeout keeps it waiting however late the test runs, e.g. after example 7), or by its timeout.
    "wait_match": ("main", "compat/wait.start", {"timeout_s": 600}),
    "wait_timeout": ("main", "compat/wait.start", {"timeout_s": 2}),
    # step.invoke: of a function that returns, of one that fails (retries=0), of a slow one with a timeout.
    "invoke_ok": ("main", "compat/invoke.start", {"mode": "ok"}),
    "invoke_fail": ("main", "compat/invoke.start", {"mode": "fail"}),
    "invoke_timeout": ("main", "compat/invoke.start", {"mode": "timeout", "timeout_s": 1, "sleep_s": 2}),
    # Two invokes in ctx.group.parallel: a fast one and one that sleeps 1 s.
    "invoke_fanout": ("main", "compat/invoke.fanout", {"sleep_s": 1}),
}
