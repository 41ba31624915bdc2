//! `inviteToProject`, `acceptInvitation`, `declineInvitation` and
//! `revokeInvitation`.
//!
//! An invitation is mailed as a single-use link whose token is kept only
//! as its SHA-256 (as the email flows keep theirs). Inviting answers the
//! same whether or not the address has an account: the mail goes to the
//! address either way, after the response, and a failure to send is
//! logged, never shown. A pending invitation to the same address of the
//! same project is replaced (revoked: its link stops working), so inviting
//! again resends the link, with the new role.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use scoped_futures::ScopedFutureExt as _;

use super::{Invitation, take};
use crate::access::{self, Need, ProjectRole};
use crate::auth::Viewer;
use crate::auth::oauth::identities;
use crate::auth::revocation::{self, Revoked};
use crate::auth::tokens::{random_token, token_hash};
use crate::db::Conn;
use crate::db::types::{Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::events::Outbox;
use crate::events::changes::{Change, ChangeType, MemberChange, stage_change};
use crate::graphql::{ContextExt, Services, write_and_announce};
use crate::mail;
use crate::members::invitations::{self as invitation_store, Outcome, Shown};
use crate::members::model::{InvitationRow, MemberRow};
use crate::members::store;
use crate::projects::graphql::Project;
use crate::projects::store as project_store;
use crate::projects::writes::{self, Reach};
use crate::users::{store as user_store, validate as user_rules};

/// A token that can not be used, said as the email flows say it.
const BAD_TOKEN: &str = "is invalid, expired or already used";

#[derive(InputObject)]
pub struct InviteToProjectInput {
    project_id: ID,
    /// The address the link is mailed to.
    email: String,
    /// EDITOR or VIEWER.
    role: ProjectRole,
}

/// NOT_FOUND for an invitation that is missing, not the viewer's, or no
/// longer pending (the same answer for each).
fn invitation_not_found() -> AppError {
    AppError::NotFound(
        "Invitation not found (or no longer pending: accepted, declined, revoked or expired)"
            .into(),
    )
}

/// How the viewer shows that an invitation is theirs.
enum Proof {
    /// The mailed token.
    Token(String),
    /// The id of a pending invitation to the viewer's verified address.
    Id(Id),
}

impl Proof {
    /// The argument a refusal names.
    fn field(&self) -> &'static str {
        match self {
            Self::Token(_) => "token",
            Self::Id(_) => "id",
        }
    }

    /// The answer for an invitation that is missing, not the viewer's or
    /// no longer pending.
    fn refused(&self) -> AppError {
        match self {
            Self::Token(_) => AppError::bad_input("token", BAD_TOKEN),
            Self::Id(_) => invitation_not_found(),
        }
    }

    /// The pending invitation this proof stands for.
    async fn find(&self, conn: &mut Conn<'_>, viewer: &Viewer) -> AppResult<Shown> {
        let found = match self {
            Self::Token(token) => {
                invitation_store::pending_by_token(conn, &token_hash(token)).await?
            }
            Self::Id(id) => match access::verified_email(conn, viewer.user_id).await? {
                Some(email) => invitation_store::pending_by_id_to(conn, *id, &email).await?,
                None => None,
            },
        };
        found.ok_or_else(|| self.refused())
    }
}

/// Mails the invitation's link, off the request's path; a failure is
/// logged, never shown.
fn mail_in_background(services: Arc<Services>, shown: &Shown, token: String) {
    let (row, project, inviter) = shown;
    let hours = services.config.sharing.invitation_ttl.as_secs() / 3600;
    let (subject, body) = mail::invitation_letter(
        &services.config.public_url,
        project,
        &inviter.display_name,
        &token,
        hours,
    );
    let to = row.email.clone();
    tokio::spawn(async move {
        if let Err(AppError::Internal(detail)) = services.mailer.send(&to, subject, body).await {
            tracing::error!(error = %detail, "could not send an invitation");
        }
    });
}

/// Accepts the invitation `proof` stands for: the viewer becomes a member
/// with its role, announced as MEMBER_ADDED. Accepting by token with the
/// account's own address, still unverified, verifies it: that first proof
/// ends every session and API key made before it and unlinks provider
/// accounts, as `verifyEmail` does.
async fn accept(ctx: &Context<'_>, proof: Proof) -> AppResult<Project> {
    let viewer = ctx.viewer()?.clone();
    let max_members = ctx.services().config.sharing.max_members;
    let (row, revoked) = write_and_announce(ctx, |mut conn| {
        async move {
            let (invitation, _, _) = proof.find(&mut conn, &viewer).await?;
            let project = invitation.project_id;
            if !store::lock_project(&mut conn, project).await? {
                return Err(proof.refused());
            }
            if access::role(&mut conn, &viewer, project).await?.is_some() {
                return Err(AppError::bad_input(
                    proof.field(),
                    "is for a project you are already a member of",
                ));
            }
            let members = store::count(&mut conn, project).await?;
            if members >= max_members {
                return Err(AppError::bad_input(
                    proof.field(),
                    format!(
                        "is for a project that has {members} members, the most it may have \
                         (TASKLANE_PROJECT_MAX_MEMBERS)"
                    ),
                ));
            }
            let now = Timestamp::now();
            if !invitation_store::finish(&mut conn, invitation.id, Outcome::Accepted, now).await? {
                return Err(proof.refused());
            }
            let member = MemberRow {
                project_id: project,
                user_id: viewer.user_id,
                role: invitation.role,
                created_at: now,
            };
            store::insert(&mut conn, &member).await?;
            let mut revoked = Revoked::default();
            if let Proof::Token(_) = proof {
                verify_by_invitation(&mut conn, &viewer, &invitation, now, &mut revoked).await?;
            }
            let row = project_store::find_project(&mut conn, &viewer, project)
                .await?
                .ok_or_else(|| proof.refused())?;
            let mut outbox = Outbox::default();
            let change = MemberChange {
                user_id: viewer.user_id,
                role: member.role,
                since: now,
            };
            let event = Change::membership(ChangeType::MemberAdded, &row, change);
            stage_change(&mut conn, &mut outbox, event).await?;
            Ok(((row, revoked), outbox))
        }
        .scope_boxed()
    })
    .await?;
    ctx.services().auth.apply(revoked);
    Ok(Project::new(row))
}

/// The mailed token reached the invited address: when that is the
/// account's own, still unverified, it is verified now (the first proof,
/// which voids what was made before it, as `verifyEmail` does). Not for
/// an API key, which may not touch the account's address
/// (`auth::key_scope`): its acceptance joins the project only.
async fn verify_by_invitation(
    conn: &mut Conn<'_>,
    viewer: &Viewer,
    invitation: &InvitationRow,
    now: Timestamp,
    revoked: &mut Revoked,
) -> AppResult<()> {
    if viewer.api_key_id.is_some() {
        return Ok(());
    }
    let Some(user) = user_store::find_active(conn, viewer.user_id).await? else {
        return Ok(());
    };
    if user.email_verified_at.is_some() || user.email.to_lowercase() != invitation.email {
        return Ok(());
    }
    if user_store::mark_verified(conn, user.id, now).await? {
        revocation::end_every_credential(conn, user.id, revoked).await?;
        identities::delete_all(conn, user.id).await?;
    }
    Ok(())
}

#[derive(Default)]
pub struct InvitationsMutation;

#[Object]
impl InvitationsMutation {
    /// Invites `email` to the project as EDITOR or VIEWER (OWNER only) and
    /// mails it a single-use link, valid `TASKLANE_INVITATION_TTL_HOURS`.
    /// Answers the same whether or not the address has an account; a
    /// pending invitation of the same address is replaced. Counted per
    /// inviter (`TASKLANE_RATE_INVITE_USER`).
    async fn invite_to_project(
        &self,
        ctx: &Context<'_>,
        input: InviteToProjectInput,
    ) -> AppResult<Invitation> {
        let viewer = ctx.viewer()?.clone();
        let project = Id::parse(&input.project_id).ok_or_else(writes::not_found)?;
        let email = user_rules::email("input.email", &input.email)?;
        if input.role == ProjectRole::Owner {
            return Err(AppError::bad_input(
                "input.role",
                "can not be OWNER: invite an EDITOR or a VIEWER, then use transferOwnership",
            ));
        }
        let services = ctx.services();
        {
            // Checked before the invitation counts against the inviter.
            let mut pooled = services.db.read().await?;
            access::require(
                &mut pooled.conn(),
                &viewer,
                project,
                Need::Manage,
                writes::not_found,
            )
            .await?;
        }
        services
            .limiter
            .hit(
                &format!("invite:user:{}", viewer.user_id),
                services.config.invite_rate,
            )
            .await?;
        let sharing = services.config.sharing;
        let token = random_token();
        let hash = token_hash(&token);
        let role = input.role;
        let shown = write_and_announce(ctx, |mut conn| {
            async move {
                take(&mut conn, &viewer, project, Reach::Live, Need::Manage).await?;
                if store::has_member_with_email(&mut conn, project, &email).await? {
                    return Err(AppError::bad_input("input.email", "is already a member"));
                }
                let now = Timestamp::now();
                invitation_store::revoke_pending_to(&mut conn, project, &email, now).await?;
                let members = store::count(&mut conn, project).await?;
                if members >= sharing.max_members {
                    return Err(AppError::bad_input(
                        "input.projectId",
                        format!(
                            "has {members} members, the most a project may have \
                             (TASKLANE_PROJECT_MAX_MEMBERS)"
                        ),
                    ));
                }
                let pending = invitation_store::count_pending(&mut conn, project, now).await?;
                if pending >= sharing.max_pending_invitations {
                    return Err(AppError::bad_input(
                        "input.projectId",
                        format!(
                            "has {pending} pending invitations, the most a project may have \
                             (TASKLANE_PROJECT_MAX_PENDING_INVITATIONS)"
                        ),
                    ));
                }
                let lifetime = chrono::Duration::from_std(sharing.invitation_ttl)
                    .map_err(|_| AppError::internal("invitation lifetime out of range"))?;
                let row = InvitationRow {
                    id: Id::new(),
                    project_id: project,
                    email,
                    role,
                    invited_by: viewer.user_id,
                    token_hash: hash.clone(),
                    created_at: now,
                    expires_at: now + lifetime,
                    accepted_at: None,
                    declined_at: None,
                    revoked_at: None,
                };
                invitation_store::insert(&mut conn, &row).await?;
                let shown = invitation_store::pending_by_token(&mut conn, &hash)
                    .await?
                    .ok_or_else(|| AppError::internal("a new invitation is not pending"))?;
                Ok((shown, Outbox::default()))
            }
            .scope_boxed()
        })
        .await?;
        mail_in_background(ctx.data_unchecked::<Arc<Services>>().clone(), &shown, token);
        Ok(Invitation(shown))
    }

    /// Joins a project with the role of an invitation: by the mailed
    /// `token` (whichever account is signed in; it verifies the account's
    /// address when that is the invited one), or by the `id` of one of
    /// `myInvitations` (the viewer's verified address must be the invited
    /// one). Exactly one of them. A token presented counts against the
    /// client IP's token attempts (`TASKLANE_RATE_TOKEN_IP`).
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        token: Option<String>,
        id: Option<ID>,
    ) -> AppResult<Project> {
        ctx.viewer()?;
        match (token, id) {
            (Some(_), Some(_)) => Err(AppError::bad_input(
                "id",
                "can not be combined with token: give one of them",
            )),
            (None, None) => Err(AppError::bad_input(
                "token",
                "or id is required: the token from the invitation mail, or the id of one of myInvitations",
            )),
            (Some(token), None) => {
                let limiter = &ctx.services().limiter;
                let attempt = limiter.token_attempt(ctx.meta().client_ip).await?;
                let project = accept(ctx, Proof::Token(token)).await?;
                limiter.token_accepted(attempt).await?;
                Ok(project)
            }
            (None, Some(id)) => {
                let id = Id::parse(&id).ok_or_else(invitation_not_found)?;
                accept(ctx, Proof::Id(id)).await
            }
        }
    }

    /// Declines a pending invitation to the viewer's verified address.
    async fn decline_invitation(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let viewer = ctx.viewer()?.clone();
        let id = Id::parse(&id).ok_or_else(invitation_not_found)?;
        write_and_announce(ctx, |mut conn| {
            async move {
                let (invitation, _, _) = Proof::Id(id).find(&mut conn, &viewer).await?;
                let now = Timestamp::now();
                if !invitation_store::finish(&mut conn, invitation.id, Outcome::Declined, now)
                    .await?
                {
                    return Err(invitation_not_found());
                }
                Ok((true, Outbox::default()))
            }
            .scope_boxed()
        })
        .await
    }

    /// Revokes a pending invitation of a project the viewer owns: its link
    /// stops working.
    async fn revoke_invitation(&self, ctx: &Context<'_>, id: ID) -> AppResult<bool> {
        let viewer = ctx.viewer()?.clone();
        let id = Id::parse(&id).ok_or_else(invitation_not_found)?;
        write_and_announce(ctx, |mut conn| {
            async move {
                let project = invitation_store::project_of(&mut conn, id)
                    .await?
                    .ok_or_else(invitation_not_found)?;
                access::require(
                    &mut conn,
                    &viewer,
                    project,
                    Need::Manage,
                    invitation_not_found,
                )
                .await?;
                let invitation = invitation_store::find_managed(&mut conn, &viewer, id)
                    .await?
                    .ok_or_else(invitation_not_found)?;
                let now = Timestamp::now();
                if !invitation_store::finish(&mut conn, invitation.id, Outcome::Revoked, now)
                    .await?
                {
                    return Err(AppError::bad_input(
                        "id",
                        "is no longer pending: it was accepted, declined, revoked or has expired",
                    ));
                }
                Ok((true, Outbox::default()))
            }
            .scope_boxed()
        })
        .await
    }
}
