//! Integration tests: a real server over HTTP, on SQLite and on PostgreSQL.
//! One test binary, so the suite links once.

mod support;

mod auth;
mod cli;
mod fixtures;
mod http;
mod inputs;
mod limits;
mod listings;
mod ownership;
mod storage;
mod writes;
