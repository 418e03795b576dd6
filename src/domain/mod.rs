//! Pure types and rules of the service; no I/O.

pub mod alert;
pub mod batch;
pub mod check;
pub mod demand;
pub mod feasibility;
pub mod features;
pub mod geodesy;
pub mod import;
pub mod integration;
pub mod interest;
pub mod network;
pub mod ports;
pub mod region_geometry;
pub mod reservation;
pub mod settings;
pub mod validation;
pub mod webhook;

pub use geodesy::{Coord, CoordError};
