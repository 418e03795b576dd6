//! ftth-feasibility: can we install fibre at this address, and on which port?

pub mod domain;
pub mod index;
pub mod store;
