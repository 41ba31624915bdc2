//! The database schema, shared by both backends (see `types.rs` for the
//! column types whose storage differs). Kept by hand in step with
//! `migrations/`; the round-trip tests read and write every column.

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    users (id) {
        id -> DbUuid,
        email -> Text,
        username -> Nullable<Text>,
        display_name -> Text,
        password_hash -> Nullable<Text>,
        email_verified_at -> Nullable<DbTime>,
        is_active -> Bool,
        created_at -> DbTime,
        updated_at -> DbTime,
        last_login_at -> Nullable<DbTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    sessions (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        family_id -> DbUuid,
        token_hash -> Binary,
        device_name -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> DbTime,
        last_used_at -> Nullable<DbTime>,
        expires_at -> DbTime,
        revoked_at -> Nullable<DbTime>,
        replaced_by -> Nullable<DbUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    api_keys (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Binary,
        scopes -> DbJson,
        created_at -> DbTime,
        last_used_at -> Nullable<DbTime>,
        expires_at -> Nullable<DbTime>,
        revoked_at -> Nullable<DbTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    one_time_tokens (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        kind -> Text,
        token_hash -> Binary,
        created_at -> DbTime,
        expires_at -> DbTime,
        used_at -> Nullable<DbTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    change_counters (owner_id) {
        owner_id -> DbUuid,
        value -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    projects (id) {
        id -> DbUuid,
        owner_id -> DbUuid,
        name -> Text,
        description -> Nullable<Text>,
        archived_at -> Nullable<DbTime>,
        deleted_at -> Nullable<DbTime>,
        version -> Integer,
        seq -> BigInt,
        client_mutation_id -> Nullable<Text>,
        created_at -> DbTime,
        updated_at -> DbTime,
        last_seq -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    tasks (id) {
        id -> DbUuid,
        project_id -> DbUuid,
        owner_id -> DbUuid,
        title -> Text,
        description -> Nullable<Text>,
        status -> SmallInt,
        priority -> Nullable<SmallInt>,
        tags -> DbJson,
        due_at -> Nullable<DbTime>,
        position -> Nullable<Double>,
        completed_at -> Nullable<DbTime>,
        deleted_at -> Nullable<DbTime>,
        version -> Integer,
        seq -> BigInt,
        client_id -> Nullable<Text>,
        client_mutation_id -> Nullable<Text>,
        created_at -> DbTime,
        updated_at -> DbTime,
        assignee_id -> Nullable<DbUuid>,
        created_by -> Nullable<DbUuid>,
        updated_by -> Nullable<DbUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    project_members (project_id, user_id) {
        project_id -> DbUuid,
        user_id -> DbUuid,
        role -> Text,
        created_at -> DbTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    invitations (id) {
        id -> DbUuid,
        project_id -> DbUuid,
        email -> Text,
        role -> Text,
        invited_by -> DbUuid,
        token_hash -> Binary,
        created_at -> DbTime,
        expires_at -> DbTime,
        accepted_at -> Nullable<DbTime>,
        declined_at -> Nullable<DbTime>,
        revoked_at -> Nullable<DbTime>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    task_departures (project_id, task_id) {
        project_id -> DbUuid,
        task_id -> DbUuid,
        seq -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    operations (id) {
        id -> DbUuid,
        owner_id -> DbUuid,
        kind -> Text,
        status -> Text,
        dry_run -> Bool,
        params -> DbJson,
        total -> Integer,
        processed -> Integer,
        skipped -> Integer,
        failed -> Integer,
        error -> Nullable<Text>,
        rollback_of -> Nullable<DbUuid>,
        created_at -> DbTime,
        started_at -> Nullable<DbTime>,
        finished_at -> Nullable<DbTime>,
        heartbeat_at -> Nullable<DbTime>,
        claimed_by -> Nullable<DbUuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    operation_items (operation_id, idx) {
        operation_id -> DbUuid,
        idx -> Integer,
        entity_type -> Text,
        entity_id -> DbUuid,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    operation_records (operation_id, seq) {
        operation_id -> DbUuid,
        seq -> Integer,
        entity_type -> Text,
        entity_id -> DbUuid,
        action -> Text,
        before -> Nullable<DbJson>,
        after -> Nullable<DbJson>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    /// Running counts for the per-account quotas (`src/quotas.rs`).
    account_usage (owner_id) {
        owner_id -> DbUuid,
        projects -> BigInt,
        tasks -> BigInt,
        operation_records -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    /// Change events too large for a notification (`src/events/spool.rs`).
    event_snapshots (id) {
        id -> DbUuid,
        payload -> Text,
        created_at -> DbTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    /// Started provider sign-ins (`src/auth/oauth/state.rs`).
    oauth_states (state_hash) {
        state_hash -> Binary,
        provider -> Text,
        purpose -> Text,
        user_id -> Nullable<DbUuid>,
        pkce_verifier -> Text,
        nonce -> Nullable<Text>,
        redirect_uri -> Text,
        created_at -> DbTime,
        expires_at -> DbTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    /// Provider accounts linked to users (`src/auth/oauth/identities.rs`).
    identities (id) {
        id -> DbUuid,
        user_id -> DbUuid,
        provider -> Text,
        subject -> Text,
        email -> Nullable<Text>,
        created_at -> DbTime,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    /// Parts of a data export being made, one per batch (`src/export/`).
    data_export_parts (operation_id, idx) {
        operation_id -> DbUuid,
        idx -> Integer,
        body -> Text,
        bytes -> BigInt,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use crate::db::types::*;

    /// Finished data exports, kept until they expire (`src/export/`).
    data_exports (operation_id) {
        operation_id -> DbUuid,
        owner_id -> DbUuid,
        document -> Text,
        bytes -> BigInt,
        created_at -> DbTime,
        expires_at -> DbTime,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(one_time_tokens -> users (user_id));
diesel::joinable!(identities -> users (user_id));
diesel::joinable!(projects -> users (owner_id));
diesel::joinable!(tasks -> projects (project_id));
diesel::joinable!(project_members -> projects (project_id));
diesel::joinable!(invitations -> projects (project_id));
diesel::joinable!(operation_records -> operations (operation_id));
diesel::joinable!(operation_items -> operations (operation_id));
diesel::joinable!(data_export_parts -> operations (operation_id));
diesel::joinable!(data_exports -> operations (operation_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    api_keys,
    one_time_tokens,
    change_counters,
    projects,
    tasks,
    operations,
    operation_records,
    operation_items,
    account_usage,
    identities,
    oauth_states,
    project_members,
    invitations,
    task_departures,
    data_export_parts,
    data_exports,
);
