//! The `/v1` REST API. Each handler carries its OpenAPI description (`#[utoipa::path]`); the router is built
//! from those descriptions (`utoipa_axum::routes!`), so a route and its documentation cannot diverge.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::{Json, Router};
use durin_core::RunStatus;
use durin_engine::Engine;
use durin_store::{EventQuery, RunQuery};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api_error::{ApiError, ErrorBody};
use crate::views::{
    App, Attempt, Checkpointed, Envelope, Event, Function, FunctionRun, Job, PolicyEnvelope, Rerun,
    RerunMany, RetryNow, Step,
};

/// The `/v1` routes with their OpenAPI paths (relative to `/v1`).
pub(crate) fn api() -> OpenApiRouter<Engine> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(get_event))
        .routes(routes!(event_runs))
        .routes(routes!(list_runs))
        .routes(routes!(rerun_many))
        .routes(routes!(get_run, cancel_run))
        .routes(routes!(run_steps))
        .routes(routes!(rerun))
        .routes(routes!(retry_now))
        .routes(routes!(resume_run))
        .routes(routes!(fail_run))
        .routes(routes!(run_attempts))
        .routes(routes!(run_jobs))
        .routes(routes!(list_apps, add_app))
        .routes(routes!(sync_app))
        .routes(routes!(list_functions))
        .routes(routes!(checkpoint))
        .routes(routes!(get_policies, put_policies))
}

pub(crate) fn routes() -> Router<Engine> {
    api().into()
}

type ApiResult<T> = Result<Json<Envelope<T>>, ApiError>;

fn now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn ok<T>(data: T) -> ApiResult<T> {
    Ok(Json(Envelope::new(data, now())))
}

/// Accepts RFC 3339 or Unix milliseconds; names the parameter when neither fits.
fn time_param(name: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if let Ok(ms) = value.parse::<i64>() {
        return Ok(Some(ms));
    }
    value
        .parse::<jiff::Timestamp>()
        .map(|ts| Some(ts.as_millisecond()))
        .map_err(|_| {
            ApiError::bad_request(format!(
                "`{name}` must be an RFC 3339 time or Unix milliseconds"
            ))
        })
}

/// Query parameters that do not parse are a JSON 400 naming the parameter, like every other API error.
fn params<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    query.map(|Query(params)| params).map_err(|rejection| {
        ApiError::bad_request(format!(
            "invalid query parameters: {}",
            rejection.body_text()
        ))
    })
}

type JsonBody<T> = Result<Json<T>, JsonRejection>;

fn body<T>(payload: JsonBody<T>) -> Result<T, ApiError> {
    payload.map(|Json(value)| value).map_err(|rejection| {
        ApiError::bad_request(format!("invalid request body: {}", rejection.body_text()))
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct EventsParams {
    /// Only events with this name.
    name: Option<String>,
    /// The `internal_id` of the last event of the previous page: the page continues after it.
    cursor: Option<String>,
    /// At most this many events (default 100).
    limit: Option<usize>,
    /// Only events received at or after this time (RFC 3339 or Unix milliseconds).
    received_after: Option<String>,
    /// Only events received before this time (RFC 3339 or Unix milliseconds).
    received_before: Option<String>,
}

/// List events
///
/// Events, newest first, filtered by name and time, paged with `cursor`.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(EventsParams),
    responses(
        (status = 200, description = "Events, newest first.", body = Envelope<Vec<Event>>),
        (status = 400, description = "A query parameter is invalid.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn list_events(
    State(engine): State<Engine>,
    query: Result<Query<EventsParams>, QueryRejection>,
) -> ApiResult<Vec<Event>> {
    let params = params(query)?;
    let query = EventQuery {
        name: params.name,
        cursor: params.cursor,
        limit: params.limit.unwrap_or(100),
        received_after: time_param("received_after", params.received_after.as_deref())?,
        received_before: time_param("received_before", params.received_before.as_deref())?,
    };
    let events = engine.store().list_events(query).await?;
    ok(events.iter().map(Event::from).collect())
}

/// Get an event
#[utoipa::path(
    get,
    path = "/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "The event's `internal_id`.")),
    responses(
        (status = 200, description = "The event.", body = Envelope<Event>),
        (status = 404, description = "No such event.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn get_event(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<Event> {
    let event = engine
        .store()
        .get_event(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {id} not found")))?;
    ok(Event::from(&event))
}

/// List an event's runs
#[utoipa::path(
    get,
    path = "/events/{id}/runs",
    tag = "events",
    params(("id" = String, Path, description = "The event's `internal_id`.")),
    responses(
        (
            status = 200,
            description = "The runs the event started (none for an unknown event).",
            body = Envelope<Vec<FunctionRun>>,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn event_runs(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> ApiResult<Vec<FunctionRun>> {
    let runs = engine.store().runs_for_event(&id).await?;
    ok(run_views(&engine, &runs).await?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RunsParams {
    /// Only runs with this status: `Running`, `Paused`, `Completed`, `Failed` or `Cancelled`.
    status: Option<String>,
    /// Only runs of this function.
    function_id: Option<String>,
    /// Only runs started at or after this time (RFC 3339 or Unix milliseconds).
    since: Option<String>,
    /// The `run_id` of the last run of the previous page: the page continues after it.
    cursor: Option<String>,
    /// At most this many runs (default 100).
    limit: Option<usize>,
}

/// List runs
///
/// Runs, newest first, filtered by status, function and start time, paged with `cursor`.
#[utoipa::path(
    get,
    path = "/runs",
    tag = "runs",
    params(RunsParams),
    responses(
        (status = 200, description = "Runs, newest first.", body = Envelope<Vec<FunctionRun>>),
        (status = 400, description = "A query parameter is invalid.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn list_runs(
    State(engine): State<Engine>,
    query: Result<Query<RunsParams>, QueryRejection>,
) -> ApiResult<Vec<FunctionRun>> {
    let params = params(query)?;
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<RunStatus>())
        .transpose()
        .map_err(|_| ApiError::bad_request(STATUS_VALUES))?;
    let query = RunQuery {
        status,
        function_id: params.function_id,
        started_after: time_param("since", params.since.as_deref())?,
        cursor: params.cursor.filter(|c| !c.is_empty()),
        limit: params.limit.unwrap_or(100),
    };
    let runs = engine.store().list_runs(query).await?;
    ok(run_views(&engine, &runs).await?)
}

/// Get a run
///
/// The run with its output: the return value, or the error object for a Failed run; for a Paused run,
/// why it is paused (`paused`).
#[utoipa::path(
    get,
    path = "/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The run.", body = Envelope<FunctionRun>),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn get_run(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<FunctionRun> {
    let run = existing_run(&engine, &id).await?;
    ok(run_view(&engine, &run).await?)
}

/// List a run's attempts
///
/// Every attempt of every step of the run (and of the function body), in order, each failed one with
/// the retry decision's `explanation`.
#[utoipa::path(
    get,
    path = "/runs/{id}/attempts",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The attempts, oldest first.", body = Envelope<Vec<Attempt>>),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn run_attempts(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> ApiResult<Vec<Attempt>> {
    existing_run(&engine, &id).await?;
    let attempts = engine.store().attempts_for_run(&id).await?;
    ok(attempts.iter().map(Attempt::from).collect())
}

/// List a run's pending jobs
#[utoipa::path(
    get,
    path = "/runs/{id}/jobs",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (
            status = 200,
            description = "The run's pending jobs (none for an unknown run).",
            body = Envelope<Vec<Job>>,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn run_jobs(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<Vec<Job>> {
    let jobs = engine.store().jobs_for_run(&id).await?;
    ok(jobs
        .iter()
        .enumerate()
        .map(|(position, job)| Job::new(job, position))
        .collect())
}

/// List apps
#[utoipa::path(
    get,
    path = "/apps",
    tag = "apps",
    responses(
        (
            status = 200,
            description = "Every known app with its sync status.",
            body = Envelope<Vec<App>>,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn list_apps(State(engine): State<Engine>) -> ApiResult<Vec<App>> {
    let apps = engine.store().list_apps().await?;
    ok(apps.iter().map(App::from).collect())
}

/// List functions
#[utoipa::path(
    get,
    path = "/functions",
    tag = "apps",
    responses(
        (
            status = 200,
            description = "The functions of every synced app.",
            body = Envelope<Vec<Function>>,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn list_functions(State(engine): State<Engine>) -> ApiResult<Vec<Function>> {
    let functions = engine.list_functions().await?;
    ok(functions.iter().map(Function::from).collect())
}

/// Checkpoint steps
///
/// An SDK reports steps it finished inside one request (checkpointing), before it answers the call.
#[utoipa::path(
    post,
    path = "/checkpoint/{id}/async",
    tag = "sdk",
    params(("id" = String, Path, description = "The run id.")),
    request_body(content = crate::openapi::CheckpointRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The steps are recorded.", body = Envelope<Checkpointed>),
        (status = 400, description = "The body is not a checkpoint.", body = ErrorBody),
        (
            status = 409,
            description = "The run does not exist, has ended, or is not at this point any more.",
            body = ErrorBody,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn checkpoint(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    payload: JsonBody<durin_protocol::CheckpointRequest>,
) -> ApiResult<Checkpointed> {
    let Json(request) = payload.map_err(|rejection| {
        ApiError::bad_request(format!("invalid checkpoint: {}", rejection.body_text()))
    })?;
    engine.checkpoint(&id, request).await?;
    ok(Checkpointed { ok: true })
}

/// Cancel a run
#[utoipa::path(
    delete,
    path = "/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The run, now Cancelled.", body = Envelope<FunctionRun>),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run has already ended.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn cancel_run(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> ApiResult<FunctionRun> {
    let run = engine.cancel_run(&id).await?;
    ok(FunctionRun::from(&run))
}

/// List a run's steps
///
/// The run's steps in order (the function body as the step with `step_id` `null`), each with its status,
/// output or error, every attempt, and when it is tried next.
#[utoipa::path(
    get,
    path = "/runs/{id}/steps",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The step timeline.", body = Envelope<Vec<Step>>),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn run_steps(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<Vec<Step>> {
    let run = existing_run(&engine, &id).await?;
    let store = engine.store();
    let attempts = store.attempts_for_run(&id).await?;
    let steps = store.steps_for_run(&id).await?;
    let jobs = store.jobs_for_run(&id).await?;
    ok(crate::steps::timeline(&run, &attempts, &steps, &jobs))
}

/// What to rerun: from the start (`{}` or no body), or from a step.
#[derive(Debug, Default, Deserialize, ToSchema)]
struct RerunBody {
    /// The user's id (or the hashed id) of the step to rerun from; the results of the steps before it are
    /// kept.
    from_step: Option<String>,
}

/// Rerun a run
///
/// Starts a new run of the same function for the same event; its `original_run_id` is this run.
#[utoipa::path(
    post,
    path = "/runs/{id}/rerun",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    request_body(content = Option<RerunBody>, content_type = "application/json"),
    responses(
        (status = 200, description = "The new run was started.", body = Envelope<Rerun>),
        (
            status = 400,
            description = "The body is invalid, or the run has no such step.",
            body = ErrorBody,
        ),
        (status = 404, description = "No such run.", body = ErrorBody),
        (
            status = 409,
            description = "The run's function is no longer registered.",
            body = ErrorBody,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn rerun(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    payload: JsonBody<RerunBody>,
) -> ApiResult<Rerun> {
    // An empty body means "from the start".
    let request = match payload {
        Err(JsonRejection::MissingJsonContentType(_)) => RerunBody::default(),
        other => body(other)?,
    };
    let run_id = engine
        .rerun(&id, request.from_step.as_deref().filter(|s| !s.is_empty()))
        .await?;
    ok(Rerun { run_id })
}

/// Which runs to rerun, from the start.
#[derive(Debug, Deserialize, ToSchema)]
struct RerunManyBody {
    /// The function whose runs are rerun.
    function_id: String,
    /// Only runs with this status (default `Failed`).
    status: Option<String>,
    /// Only runs started at or after this time (Unix milliseconds or RFC 3339).
    #[schema(value_type = Option<TimeValue>)]
    since: Option<Value>,
    /// Only runs started at or before this time (Unix milliseconds or RFC 3339).
    #[schema(value_type = Option<TimeValue>)]
    until: Option<Value>,
}

/// A time as Unix milliseconds or as an RFC 3339 string.
#[derive(ToSchema)]
#[serde(untagged)]
#[expect(
    dead_code,
    reason = "documents the `since`/`until` fields, read as JSON values"
)]
enum TimeValue {
    Millis(i64),
    Rfc3339(String),
}

fn time_value(name: &str, value: Option<&Value>) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
            ApiError::bad_request(format!("`{name}` must be Unix milliseconds or RFC 3339"))
        }),
        Some(Value::String(text)) => time_param(name, Some(text)),
        Some(_) => Err(ApiError::bad_request(format!(
            "`{name}` must be Unix milliseconds or RFC 3339"
        ))),
    }
}

/// Rerun runs in bulk
///
/// Reruns, from the start, the runs of a function with a status started in a time range.
#[utoipa::path(
    post,
    path = "/runs/rerun",
    tag = "runs",
    request_body(content = RerunManyBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The new runs were started.", body = Envelope<RerunMany>),
        (status = 400, description = "The body is invalid.", body = ErrorBody),
        (status = 409, description = "The function is no longer registered.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn rerun_many(
    State(engine): State<Engine>,
    payload: JsonBody<RerunManyBody>,
) -> ApiResult<RerunMany> {
    let request = body(payload)?;
    if request.function_id.trim().is_empty() {
        return Err(ApiError::bad_request("`function_id` is required"));
    }
    let status = match request.status.as_deref() {
        None | Some("") => RunStatus::Failed,
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::bad_request(STATUS_VALUES))?,
    };
    let filter = durin_engine::RerunFilter {
        function_id: request.function_id,
        status,
        since: time_value("since", request.since.as_ref())?,
        until: time_value("until", request.until.as_ref())?,
    };
    let run_ids = engine.rerun_many(filter).await?;
    ok(RerunMany { run_ids })
}

/// Retry a run now
///
/// Every job of the run waiting in backoff becomes due now.
#[utoipa::path(
    post,
    path = "/runs/{id}/retry-now",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The jobs are due now.", body = Envelope<RetryNow>),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "No job of the run is waiting in backoff.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn retry_now(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<RetryNow> {
    let jobs = engine.retry_now(&id).await?;
    ok(RetryNow { jobs })
}

/// Resume a paused run
///
/// Each step that paused the run (it ran out of retries under a policy that pauses) starts again as a
/// fresh job, due now: attempt 0, its retry counters reset. The run is Running again.
#[utoipa::path(
    post,
    path = "/runs/{id}/resume",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (status = 200, description = "The run, Running again.", body = Envelope<FunctionRun>),
        (status = 404, description = "No such run.", body = ErrorBody),
        (
            status = 409,
            description = "The run is not paused; the error names its status.",
            body = ErrorBody,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn resume_run(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> ApiResult<FunctionRun> {
    let run = engine.resume_run(&id).await?;
    ok(FunctionRun::from(&run))
}

/// Fail a paused run
///
/// Fails the run with the error its step paused on, as if the policy had not paused it:
/// `inngest/function.failed` is sent and failure handlers run.
#[utoipa::path(
    post,
    path = "/runs/{id}/fail",
    tag = "runs",
    params(("id" = String, Path, description = "The run id.")),
    responses(
        (
            status = 200,
            description = "The run, now Failed, with the step's error as its output.",
            body = Envelope<FunctionRun>,
        ),
        (status = 404, description = "No such run.", body = ErrorBody),
        (
            status = 409,
            description = "The run is not paused; the error names its status.",
            body = ErrorBody,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn fail_run(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult<FunctionRun> {
    let run = engine.fail_paused_run(&id).await?;
    ok(FunctionRun::from(&run))
}

/// Read the retry policies
///
/// The Durin-side retry policy document every instance decides by (the JSON of a `--retry-policies`
/// file, see docs/retry-policies.md), as it was last set, with when. Before one was ever set:
/// `{"policies": []}` and `updated_at` null.
#[utoipa::path(
    get,
    path = "/policies",
    tag = "policies",
    responses(
        (status = 200, description = "The policy document.", body = PolicyEnvelope),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn get_policies(State(engine): State<Engine>) -> Result<Json<PolicyEnvelope>, ApiError> {
    let stored = engine.retry_policy_document().await?;
    Ok(Json(PolicyEnvelope::new(stored, now())))
}

/// Set the retry policies
///
/// Replaces the retry policy document, checked as a `--retry-policies` file is: every instance sharing
/// the store decides by it within moments. A function entry applies to runs started from then on, a step
/// entry to failures from then on. A `--retry-policies` file given to an instance replaces it again when
/// that instance starts.
#[utoipa::path(
    put,
    path = "/policies",
    tag = "policies",
    request_body(
        content = Object,
        content_type = "application/json",
        description = "`{\"policies\": [{\"function\": ..., \"step\": ..., \"retries\": ..., \"backoff\": ...}]}`",
    ),
    responses(
        (status = 200, description = "The document as stored.", body = PolicyEnvelope),
        (
            status = 400,
            description = "The document is refused; the error names the entry and the field, e.g. \
                `policies[0]: backoff `initial_interval_ms`: must be above 0`. The policies in force stay.",
            body = ErrorBody,
        ),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn put_policies(
    State(engine): State<Engine>,
    payload: JsonBody<Value>,
) -> Result<Json<PolicyEnvelope>, ApiError> {
    let document = body(payload)?;
    let stored = engine.set_retry_policies(document).await?;
    Ok(Json(PolicyEnvelope::new(Some(stored), now())))
}

/// An app's serve URL.
#[derive(Debug, Deserialize, ToSchema)]
struct AppBody {
    /// Where the app serves its SDK endpoint, e.g. `http://127.0.0.1:3000/api/inngest`.
    url: String,
}

async fn sync_url(engine: &Engine, payload: JsonBody<AppBody>) -> ApiResult<App> {
    let request = body(payload)?;
    let app = engine.add_app(request.url.trim()).await?;
    ok(App::from(&app))
}

/// Add an app
///
/// Adds the app at a URL and syncs it now. A failed sync still adds the app; its `error` says why.
#[utoipa::path(
    post,
    path = "/apps",
    tag = "apps",
    request_body(content = AppBody, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "The app, with `error` set if the sync failed.",
            body = Envelope<App>,
        ),
        (status = 400, description = "The body or the URL is invalid.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn add_app(State(engine): State<Engine>, payload: JsonBody<AppBody>) -> ApiResult<App> {
    sync_url(&engine, payload).await
}

/// Re-sync an app
#[utoipa::path(
    post,
    path = "/apps/sync",
    tag = "apps",
    request_body(content = AppBody, content_type = "application/json"),
    responses(
        (
            status = 200,
            description = "The app, with `error` set if the sync failed.",
            body = Envelope<App>,
        ),
        (status = 400, description = "The body or the URL is invalid.", body = ErrorBody),
        (status = 503, description = "The store is unavailable.", body = ErrorBody),
    ),
)]
async fn sync_app(State(engine): State<Engine>, payload: JsonBody<AppBody>) -> ApiResult<App> {
    sync_url(&engine, payload).await
}

const STATUS_VALUES: &str = "`status` must be one of Running, Paused, Completed, Failed, Cancelled";

/// A run as the API shows it; a paused one with why it is paused (its attempts are read for that).
async fn run_view(engine: &Engine, run: &durin_store::RunRecord) -> Result<FunctionRun, ApiError> {
    if run.status != RunStatus::Paused {
        return Ok(FunctionRun::from(run));
    }
    let attempts = engine.store().attempts_for_run(&run.run_id).await?;
    Ok(FunctionRun::with_attempts(run, &attempts))
}

/// Runs as the API shows them: only the paused ones cost a read of their attempts.
async fn run_views(
    engine: &Engine,
    runs: &[durin_store::RunRecord],
) -> Result<Vec<FunctionRun>, ApiError> {
    let mut views = Vec::with_capacity(runs.len());
    for run in runs {
        views.push(run_view(engine, run).await?);
    }
    Ok(views)
}

/// The run `id`, or a 404 naming it.
async fn existing_run(engine: &Engine, id: &str) -> Result<durin_store::RunRecord, ApiError> {
    engine
        .store()
        .get_run(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {id} not found")))
}
