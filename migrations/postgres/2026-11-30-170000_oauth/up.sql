-- Sign-in through OAuth / OpenID Connect providers (src/auth/oauth.rs).
-- A started sign-in: only the SHA-256 of its state is kept, with what the
-- completion needs (the PKCE verifier, the OIDC nonce, the redirect URI).
-- A row is deleted when it is used, and expired rows are pruned.
CREATE TABLE oauth_states (
    state_hash    bytea PRIMARY KEY,
    provider      text NOT NULL,
    purpose       text NOT NULL,
    user_id       uuid REFERENCES users (id) ON DELETE CASCADE,
    pkce_verifier text NOT NULL,
    nonce         text,
    redirect_uri  text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    CONSTRAINT oauth_states_purpose CHECK (
        (purpose = 'login' AND user_id IS NULL) OR (purpose = 'link' AND user_id IS NOT NULL)
    )
);
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);

-- A provider's account linked to ours: (provider, subject) is the identity
-- (an OIDC `sub`, GitHub's numeric id), never an email.
CREATE TABLE identities (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   text NOT NULL,
    subject    text NOT NULL,
    email      text,
    created_at timestamptz NOT NULL,
    CONSTRAINT identities_provider_subject_key UNIQUE (provider, subject)
);
CREATE INDEX identities_user_idx ON identities (user_id);
