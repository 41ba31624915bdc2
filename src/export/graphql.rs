//! `exportMyData` (a mutation that starts an EXPORT_DATA operation) and
//! `myDataExport` (the finished document).

use async_graphql::{Context, ID, Json, Object};

use super::store;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::graphql::ContextExt;
use crate::operations::graphql::{Operation, start_job};
use crate::operations::kinds::Params;

#[derive(Default)]
pub struct ExportMutation;

#[Object]
impl ExportMutation {
    /// Starts a copy of everything the viewer owns (profile, projects,
    /// tasks with deleted ones, memberships, sessions, API key names,
    /// linked providers, operations) as one JSON document: an EXPORT_DATA
    /// operation whose progress counts the tasks copied. When it is
    /// COMPLETED, `myDataExport(id:)` gives the document for 24 hours.
    /// Needs a signed-in session (FORBIDDEN for an API key); counted per
    /// user (`TASKLANE_RATE_EXPORT_USER`).
    async fn export_my_data(&self, ctx: &Context<'_>) -> AppResult<Operation> {
        let viewer = ctx.viewer()?.clone();
        viewer.require_session()?;
        let services = ctx.services();
        services
            .limiter
            .hit(
                &format!("export:user:{}", viewer.user_id),
                services.config.export_rate,
            )
            .await?;
        {
            let mut pooled = services.db.write().await?;
            store::prune(&mut pooled.conn(), &viewer, Timestamp::now()).await?;
            pooled.commit().await?;
        }
        let params = Params::ExportData {
            max_bytes: services.config.operations.export_max_bytes,
        };
        start_job(ctx, &viewer, params, false, None).await
    }
}

/// Export documents read (and parsed) at once, in the whole process.
static DOCUMENT_READS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

#[derive(Default)]
pub struct ExportQuery;

#[Object]
impl ExportQuery {
    /// The document of the viewer's export `id` (the EXPORT_DATA
    /// operation's id): null until it is COMPLETED, after 24 hours, and for
    /// an id that is not the viewer's export.
    async fn my_data_export(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> AppResult<Option<Json<serde_json::Value>>> {
        let viewer = ctx.viewer()?;
        let Some(id) = Id::parse(&id) else {
            return Ok(None);
        };
        // A document may be `TASKLANE_EXPORT_MAX_BYTES` long, and its
        // value tree several times that: one is read and parsed at a time,
        // off the async runtime.
        let _turn = DOCUMENT_READS
            .acquire()
            .await
            .map_err(|_| AppError::internal("the export reads' semaphore is closed"))?;
        let text = {
            let mut pooled = ctx.services().db.read().await?;
            store::document(&mut pooled.conn(), viewer, id, Timestamp::now()).await?
        };
        let Some(text) = text else {
            return Ok(None);
        };
        let document = tokio::task::spawn_blocking(move || serde_json::from_str(&text))
            .await
            .map_err(|e| AppError::internal(format!("parsing stored export {id}: {e}")))?
            .map_err(|e| AppError::internal(format!("stored export {id}: {e}")))?;
        Ok(Some(Json(document)))
    }
}
