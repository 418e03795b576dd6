//! ftth-feasibility: can we install fibre at this address, and on which port?
//!
//! `domain` holds the rules, `index` the in-memory R-tree, `store` the database, `service`
//! ties them together, `http` speaks the API, `startup` builds the server.

pub mod auth;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod http;
pub mod index;
pub mod jobs;
pub mod metrics;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
