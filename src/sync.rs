//! Offline sync: the per-owner change counter now; pull and push follow.

pub mod counter;
pub mod model;
