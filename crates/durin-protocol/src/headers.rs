//! Header names of the protocol (lower case, as HTTP/2 and the SDKs send them).

pub const SDK: &str = "x-inngest-sdk";
pub const NO_RETRY: &str = "x-inngest-no-retry";
pub const RETRY_AFTER: &str = "retry-after";
pub const REQ_VERSION: &str = "x-inngest-req-version";
pub const SERVER_KIND: &str = "x-inngest-server-kind";
pub const EXPECTED_SERVER_KIND: &str = "x-inngest-expected-server-kind";
pub const FRAMEWORK: &str = "x-inngest-framework";
pub const RUN_ID: &str = "x-run-id";
pub const STEP_ID: &str = "x-inngest-step-id";
pub const SIGNATURE: &str = "x-inngest-signature";
pub const EVENT_ID_SEED: &str = "x-inngest-event-id-seed";
/// A call's own id, new for every request (the TypeScript SDK's `ctx.requestId`).
pub const REQUEST_ID: &str = "x-request-id";
/// The job a call runs, the same for every attempt of it (the TypeScript SDK's `ctx.jobId`).
pub const JOB_ID: &str = "x-inngest-job-id";

/// The server kind Durin announces in development mode.
pub const SERVER_KIND_DEV: &str = "dev";
/// The server kind `durin serve` announces: the official SDKs in production mode expect `cloud`.
pub const SERVER_KIND_CLOUD: &str = "cloud";
pub const AUTHORIZATION: &str = "authorization";
