//! `POST /v0/gql`: the part of Inngest's dev-server GraphQL API that the official SDKs' test suites read
//! results through (a run's status and output, its trace of steps and their outputs, the event that started
//! it, an event's runs). Executed by `async-graphql`; the data comes from the same store reads as the REST
//! API. Read-only: there are no mutations.

mod convert;
pub(crate) mod http;
mod output;
mod scalars;
mod schema;
mod trace;
mod types;

pub(crate) use http::routes;
