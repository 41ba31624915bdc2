//! Project mutations: checked input in, one transaction per mutation.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use scoped_futures::ScopedFutureExt as _;

use super::Project;
use crate::access::Need;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::events::Outbox;
use crate::events::changes::{Change, ChangeType, stage_change};
use crate::graphql::{ContextExt, write_and_announce};
use crate::projects::model::ProjectRow;
use crate::projects::validate as project_rules;
use crate::projects::writes::{self, NewProject, Reach};
use crate::validate;

#[derive(InputObject)]
pub struct CreateProjectInput {
    /// Chosen by the client (a UUID) for offline creation.
    id: Option<ID>,
    name: String,
    description: Option<String>,
    /// A retried create with the same value returns the first result.
    client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateProjectInput {
    name: MaybeUndefined<String>,
    description: MaybeUndefined<String>,
    expected_version: Option<i32>,
}

#[derive(Default)]
pub struct ProjectsMutation;

/// Runs one project change in its own transaction, and announces it (as
/// `change_type`) when it changed anything.
async fn change(
    ctx: &Context<'_>,
    id: ID,
    expected_version: Option<i32>,
    reach: Reach,
    change_type: ChangeType,
    change: impl FnOnce(&mut ProjectRow, Timestamp) -> AppResult<bool> + Send,
) -> AppResult<Project> {
    let viewer = ctx.viewer()?.clone();
    let id = Id::parse(&id).ok_or_else(writes::not_found)?;
    let need = match change_type {
        ChangeType::Deleted | ChangeType::Restored => Need::Manage,
        _ => Need::Write,
    };
    let changed = Arc::new(AtomicBool::new(false));
    let seen = changed.clone();
    let change = move |row: &mut ProjectRow, now| {
        let did = change(row, now)?;
        seen.store(did, Ordering::Relaxed);
        Ok(did)
    };
    let row = write_and_announce(ctx, |mut conn| {
        async move {
            let row = writes::modify(
                &mut conn,
                &viewer,
                id,
                expected_version,
                (reach, need),
                change,
            )
            .await?;
            let mut outbox = Outbox::default();
            if changed.load(Ordering::Relaxed) {
                let event = Change::project(change_type, &row);
                stage_change(&mut conn, &mut outbox, event).await?;
            }
            Ok((row, outbox))
        }
        .scope_boxed()
    })
    .await?;
    Ok(Project::new(row))
}

#[Object]
impl ProjectsMutation {
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectInput,
    ) -> AppResult<Project> {
        let viewer = ctx.viewer()?.clone();
        let new = NewProject {
            id: input
                .id
                .map(|id| validate::id("input.id", &id))
                .transpose()?,
            name: project_rules::name("input.name", &input.name)?,
            description: validate::description("input.description", input.description)?,
            client_mutation_id: validate::client_mutation_id(
                "input.clientMutationId",
                input.client_mutation_id,
            )?,
        };
        let quotas = ctx.services().config.quotas;
        let row = write_and_announce(ctx, |mut conn| {
            async move {
                let row = writes::create(&mut conn, &viewer, &quotas, new).await?;
                let mut outbox = Outbox::default();
                // A retried create returns the earlier project: not announced again.
                if row.version == 1 {
                    let event = Change::project(ChangeType::Created, &row);
                    stage_change(&mut conn, &mut outbox, event).await?;
                }
                Ok((row, outbox))
            }
            .scope_boxed()
        })
        .await?;
        Ok(Project::new(row))
    }

    async fn update_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateProjectInput,
    ) -> AppResult<Project> {
        ctx.viewer()?;
        let name = match input.name {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => {
                return Err(AppError::bad_input("input.name", "can not be cleared"));
            }
            MaybeUndefined::Value(name) => Some(project_rules::name("input.name", &name)?),
        };
        let description = match input.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(text) => {
                Some(validate::description("input.description", Some(text))?)
            }
        };
        change(
            ctx,
            id,
            input.expected_version,
            Reach::Live,
            ChangeType::Updated,
            move |row, _| {
                if let Some(name) = name {
                    row.name = name;
                }
                if let Some(description) = description {
                    row.description = description;
                }
                Ok(true)
            },
        )
        .await
    }

    async fn archive_project(
        &self,
        ctx: &Context<'_>,
        id: ID,
        archived: bool,
    ) -> AppResult<Project> {
        change(
            ctx,
            id,
            None,
            Reach::Live,
            ChangeType::Updated,
            move |row, now| {
                if row.archived_at.is_some() == archived {
                    return Ok(false);
                }
                row.archived_at = archived.then_some(now);
                Ok(true)
            },
        )
        .await
    }

    /// Soft delete: the project and its tasks disappear until restored.
    async fn delete_project(&self, ctx: &Context<'_>, id: ID) -> AppResult<Project> {
        change(
            ctx,
            id,
            None,
            Reach::Live,
            ChangeType::Deleted,
            |row, now| {
                row.deleted_at = Some(now);
                Ok(true)
            },
        )
        .await
    }

    async fn restore_project(&self, ctx: &Context<'_>, id: ID) -> AppResult<Project> {
        change(ctx, id, None, Reach::Any, ChangeType::Restored, |row, _| {
            Ok(row.deleted_at.take().is_some())
        })
        .await
    }
}
