//! Tasks: rows now; store functions and GraphQL follow with the domain.

pub mod model;
