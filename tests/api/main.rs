//! HTTP integration tests: each scenario runs against SQLite and against PostgreSQL.

#[path = "../common/mod.rs"]
mod common;
mod helpers;

/// Defines `$name::sqlite` and `$name::postgres`, each running `$body` on a fresh service.
macro_rules! on_both_engines {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(app) = $crate::helpers::spawn($crate::helpers::Engine::Sqlite).await {
                    ($body)(app).await;
                }
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = $crate::helpers::spawn($crate::helpers::Engine::Postgres).await {
                    ($body)(app).await;
                }
            }
        }
    };
}

mod auth;
mod batch;
mod check;
mod console;
mod demand;
mod events;
mod feasibility;
mod import_dialects;
mod import_validation;
mod integrations;
mod interest;
mod inventory;
mod ogc_features;
mod operations;
mod plans_settings;
mod port_accounting;
mod request_errors;
mod reservations;
mod unstorable_text;
mod webhooks;
