//! The `/v1` REST API.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use durin_core::RunStatus;
use durin_engine::Engine;
use durin_store::{EventQuery, RunQuery};
use serde::Deserialize;
use serde_json::Value;

use crate::api_error::ApiError;
use crate::views;

pub(crate) fn routes() -> Router<Engine> {
    Router::new()
        .route("/events", get(list_events))
        .route("/events/{id}", get(get_event))
        .route("/events/{id}/runs", get(event_runs))
        .route("/runs", get(list_runs))
        .route("/runs/rerun", post(rerun_many))
        .route("/runs/{id}", get(get_run).delete(cancel_run))
        .route("/runs/{id}/steps", get(run_steps))
        .route("/runs/{id}/rerun", post(rerun))
        .route("/runs/{id}/retry-now", post(retry_now))
        .route("/runs/{id}/attempts", get(run_attempts))
        .route("/runs/{id}/jobs", get(run_jobs))
        .route("/apps", get(list_apps).post(add_app))
        .route("/apps/sync", post(add_app))
        .route("/functions", get(list_functions))
        .route("/checkpoint/{id}/async", post(checkpoint))
}

type ApiResult = Result<Json<Value>, ApiError>;

fn now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn ok(data: impl serde::Serialize) -> ApiResult {
    Ok(Json(views::wrapped(data, now())))
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

#[derive(Debug, Deserialize)]
struct EventsParams {
    name: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
    received_after: Option<String>,
    received_before: Option<String>,
}

async fn list_events(
    State(engine): State<Engine>,
    query: Result<Query<EventsParams>, QueryRejection>,
) -> ApiResult {
    let params = params(query)?;
    let query = EventQuery {
        name: params.name,
        cursor: params.cursor,
        limit: params.limit.unwrap_or(100),
        received_after: time_param("received_after", params.received_after.as_deref())?,
        received_before: time_param("received_before", params.received_before.as_deref())?,
    };
    let events = engine.store().list_events(query).await?;
    ok(events.iter().map(views::event).collect::<Vec<_>>())
}

async fn get_event(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    let event = engine
        .store()
        .get_event(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("event {id} not found")))?;
    ok(views::event(&event))
}

async fn event_runs(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    let runs = engine.store().runs_for_event(&id).await?;
    ok(runs.iter().map(views::run).collect::<Vec<_>>())
}

#[derive(Debug, Deserialize)]
struct RunsParams {
    status: Option<String>,
    function_id: Option<String>,
    since: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

async fn list_runs(
    State(engine): State<Engine>,
    query: Result<Query<RunsParams>, QueryRejection>,
) -> ApiResult {
    let params = params(query)?;
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<RunStatus>())
        .transpose()
        .map_err(|_| {
            ApiError::bad_request("`status` must be one of Running, Completed, Failed, Cancelled")
        })?;
    let query = RunQuery {
        status,
        function_id: params.function_id,
        started_after: time_param("since", params.since.as_deref())?,
        cursor: params.cursor.filter(|c| !c.is_empty()),
        limit: params.limit.unwrap_or(100),
    };
    let runs = engine.store().list_runs(query).await?;
    ok(runs.iter().map(views::run).collect::<Vec<_>>())
}

async fn get_run(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    let run = engine
        .store()
        .get_run(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {id} not found")))?;
    ok(views::run(&run))
}

async fn run_attempts(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    if engine.store().get_run(&id).await?.is_none() {
        return Err(ApiError::not_found(format!("run {id} not found")));
    }
    let attempts = engine.store().attempts_for_run(&id).await?;
    ok(attempts.iter().map(views::attempt).collect::<Vec<_>>())
}

async fn run_jobs(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    let jobs = engine.store().jobs_for_run(&id).await?;
    ok(jobs
        .iter()
        .enumerate()
        .map(|(i, j)| views::job(j, i))
        .collect::<Vec<_>>())
}

async fn list_apps(State(engine): State<Engine>) -> ApiResult {
    let apps = engine.store().list_apps().await?;
    ok(apps.iter().map(views::app).collect::<Vec<_>>())
}

async fn list_functions(State(engine): State<Engine>) -> ApiResult {
    let functions = engine.store().list_functions().await?;
    ok(functions.iter().map(views::function).collect::<Vec<_>>())
}

async fn checkpoint(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    payload: Result<
        Json<durin_protocol::CheckpointRequest>,
        axum::extract::rejection::JsonRejection,
    >,
) -> ApiResult {
    let Json(request) = payload.map_err(|rejection| {
        ApiError::bad_request(format!("invalid checkpoint: {}", rejection.body_text()))
    })?;
    engine.checkpoint(&id, request).await?;
    ok(serde_json::json!({ "ok": true }))
}

type JsonBody<T> = Result<Json<T>, axum::extract::rejection::JsonRejection>;

fn body<T>(payload: JsonBody<T>) -> Result<T, ApiError> {
    payload.map(|Json(value)| value).map_err(|rejection| {
        ApiError::bad_request(format!("invalid request body: {}", rejection.body_text()))
    })
}

async fn cancel_run(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    let run = engine.cancel_run(&id).await?;
    ok(views::run(&run))
}

async fn run_steps(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    let store = engine.store();
    let run = store
        .get_run(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("run {id} not found")))?;
    let attempts = store.attempts_for_run(&id).await?;
    let steps = store.steps_for_run(&id).await?;
    let jobs = store.jobs_for_run(&id).await?;
    ok(crate::steps::timeline(&run, &attempts, &steps, &jobs))
}

#[derive(Debug, Default, Deserialize)]
struct RerunBody {
    from_step: Option<String>,
}

async fn rerun(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    payload: JsonBody<RerunBody>,
) -> ApiResult {
    // An empty body means "from the start".
    let request = match payload {
        Err(axum::extract::rejection::JsonRejection::MissingJsonContentType(_)) => {
            RerunBody::default()
        }
        other => body(other)?,
    };
    let run_id = engine
        .rerun(&id, request.from_step.as_deref().filter(|s| !s.is_empty()))
        .await?;
    ok(serde_json::json!({ "run_id": run_id }))
}

#[derive(Debug, Deserialize)]
struct RerunManyBody {
    function_id: String,
    status: Option<String>,
    since: Option<Value>,
    until: Option<Value>,
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

async fn rerun_many(State(engine): State<Engine>, payload: JsonBody<RerunManyBody>) -> ApiResult {
    let request = body(payload)?;
    if request.function_id.trim().is_empty() {
        return Err(ApiError::bad_request("`function_id` is required"));
    }
    let status = match request.status.as_deref() {
        None | Some("") => RunStatus::Failed,
        Some(text) => text.parse().map_err(|_| {
            ApiError::bad_request("`status` must be one of Running, Completed, Failed, Cancelled")
        })?,
    };
    let filter = durin_engine::RerunFilter {
        function_id: request.function_id,
        status,
        since: time_value("since", request.since.as_ref())?,
        until: time_value("until", request.until.as_ref())?,
    };
    let run_ids = engine.rerun_many(filter).await?;
    ok(serde_json::json!({ "run_ids": run_ids }))
}

async fn retry_now(State(engine): State<Engine>, Path(id): Path<String>) -> ApiResult {
    let jobs = engine.retry_now(&id).await?;
    ok(serde_json::json!({ "jobs": jobs }))
}

#[derive(Debug, Deserialize)]
struct AppBody {
    url: String,
}

async fn add_app(State(engine): State<Engine>, payload: JsonBody<AppBody>) -> ApiResult {
    let request = body(payload)?;
    let app = engine.add_app(request.url.trim()).await?;
    ok(views::app(&app))
}
