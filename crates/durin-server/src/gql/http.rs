//! The HTTP side of `/v0/gql`: read a GraphQL request, run it with the engine in its context, answer
//! GraphQL's JSON. A body that is not a GraphQL request is answered in GraphQL's error shape too, so
//! clients that only read `errors` see why.

use async_graphql::ParseRequestError;
use async_graphql_axum::GraphQLRequest;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use durin_engine::Engine;
use serde::Serialize;
use serde_json::Value;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::ToSchema;

use super::schema::SCHEMA;

/// Queries are small; this bounds what the extractor reads (it reads the body stream itself, so axum's
/// default body limit does not apply).
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub(crate) fn routes() -> Router<Engine> {
    Router::new().route(
        "/v0/gql",
        post(graphql).layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES)),
    )
}

/// Run a GraphQL query
///
/// Inngest's dev-server GraphQL API, the part its SDKs' test suites use: `run` (status, output, `trace`
/// with `childrenSpans`), `runTrigger`, `runTraceSpanOutputByID`, `event`, `eventV2`. Errors in the query
/// (syntax, validation, an unknown run) are answered with 200 and `errors`, as GraphQL does.
#[utoipa::path(
    post,
    path = "/v0/gql",
    tag = "sdk",
    request_body(content = GraphqlRequestBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The result, with `errors` for a query that failed.", body = GraphqlResponseBody),
        (status = 400, description = "The body is not a GraphQL request.", body = GraphqlResponseBody),
        (status = 413, description = "The body is over 1 MiB.", body = String, content_type = "text/plain"),
    ),
)]
pub(crate) async fn graphql(
    State(engine): State<Engine>,
    request: GraphQLRequest<Rejection>,
) -> Json<async_graphql::Response> {
    // Plain `application/json`, as Inngest's server answers (the crate's own responder names GraphQL's
    // newer media type, which some clients do not take for JSON).
    Json(SCHEMA.execute(request.into_inner().data(engine)).await)
}

/// A body the GraphQL extractor could not read.
pub(crate) struct Rejection(ParseRequestError);

impl From<ParseRequestError> for Rejection {
    fn from(error: ParseRequestError) -> Self {
        Self(error)
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = match self.0 {
            ParseRequestError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = GraphqlResponseBody {
            data: None,
            errors: vec![GraphqlError {
                message: self.0.to_string(),
                locations: None,
                path: None,
                extensions: None,
            }],
        };
        (status, Json(body)).into_response()
    }
}

/// A GraphQL request.
#[derive(ToSchema)]
#[expect(
    dead_code,
    reason = "the schema of the body `async_graphql::Request` reads"
)]
pub(crate) struct GraphqlRequestBody {
    query: String,
    /// The values of the query's variables.
    #[schema(value_type = Option<Object>)]
    variables: Option<Value>,
    /// Which operation of the query to run, when it has several.
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

/// A GraphQL answer: `data`, and `errors` when something failed.
#[derive(Serialize, ToSchema)]
pub(crate) struct GraphqlResponseBody {
    /// The result, shaped like the query; `null` when the query could not run.
    #[schema(value_type = Option<Object>)]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<GraphqlError>,
}

/// One error, as GraphQL reports it.
#[derive(Serialize, ToSchema)]
pub(crate) struct GraphqlError {
    message: String,
    /// Where in the query the error is.
    #[serde(skip_serializing_if = "Option::is_none")]
    locations: Option<Vec<GraphqlLocation>>,
    /// The field that failed, as names and list indexes from the root.
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<Vec<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    extensions: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct GraphqlLocation {
    line: u32,
    column: u32,
}
