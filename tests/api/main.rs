//! Integration tests: a real server over HTTP, on SQLite and on PostgreSQL.
//! One test binary, so the suite links once.

/// The benchmark examples' GraphQL call, for tests that run servers of their own.
#[path = "../../examples/bench_support/mod.rs"]
mod bench_support;
mod support;

mod account;
mod account_helpers;
mod api_keys;
mod assignees;

mod auth;
mod cli;
mod connections;
mod cost;
mod documents;
mod email_flows;
mod events;
mod fair_operations;
mod fixtures;
mod graphiql;
mod http;
mod input_bounds;
mod inputs;
mod limits;
mod listings;
mod live_fairness;
mod live_versions;
mod oauth;
mod oauth_checks;
mod oauth_fakes;
mod oauth_support;
mod operation_progress;
mod operations;
mod operations_crash;
mod operations_listing;
mod operations_stored;
mod operations_support;
mod ownership;
mod persisted;
mod pg_hang;
mod pg_migrations;
mod pg_pooler;
mod pg_support;
mod pg_tls;
mod quotas;
mod rate_limits;
mod roles;
mod search;
mod search_ranking;
mod search_writes;
mod sessions;
mod settings_doc;
mod sharing;
mod sharing_listings;
mod sharing_live;
mod sharing_operations;
mod sharing_support;
mod sharing_unassign;
mod storage;
mod structure;
mod subscriptions;
mod sync;
mod sync_concurrency;
mod sync_property;
mod sync_sharing;
mod sync_support;
mod takeover;
mod token_attempts;
mod writes;
mod ws_closes;
mod ws_support;
