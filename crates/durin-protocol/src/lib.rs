//! Durin's wire vocabulary: the Inngest SDK protocol as the official SDKs speak it.
//!
//! Serializable types here are a compatibility boundary: field names and shapes follow the real SDKs'
//! captures (`shared/spec/probe/`). This crate does no I/O and holds no engine logic; the engine and the
//! Rust SDK both depend on it, and on nothing of each other.

pub mod call;
pub mod event;
pub mod function_uuid;
pub mod headers;
pub mod jcs;
pub mod ops;
pub mod register;
pub mod signing;
pub mod step_id;

pub use call::{CallContext, CallRequest, CheckpointRequest, StepStack};
pub use event::{EventPayload, SendEventsResponse};
pub use function_uuid::function_uuid;
pub use ops::{OpCode, Operation, SerializedError, UserlandId};
pub use register::{
    FunctionDef, RegisterRequest, RegisterResponse, RetriesDef, StepDef, TriggerDef,
};
pub use signing::{KeyError, SignatureError, SigningKey};
pub use step_id::hashed_step_id;

/// The `stepId` query value of a discovery request (run the function body, maybe execute one new step).
pub const DISCOVERY_STEP_ID: &str = "step";
