-- Sign-in through OAuth / OpenID Connect providers (src/auth/oauth.rs).
-- A started sign-in: only the SHA-256 of its state is kept, with what the
-- completion needs (the PKCE verifier, the OIDC nonce, the redirect URI).
-- A row is deleted when it is used, and expired rows are pruned.
CREATE TABLE oauth_states (
    state_hash    BLOB PRIMARY KEY,
    provider      TEXT NOT NULL,
    purpose       TEXT NOT NULL,
    user_id       BLOB REFERENCES users (id) ON DELETE CASCADE,
    pkce_verifier TEXT NOT NULL,
    nonce         TEXT,
    redirect_uri  TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    CONSTRAINT oauth_states_purpose CHECK (
        (purpose = 'login' AND user_id IS NULL) OR (purpose = 'link' AND user_id IS NOT NULL)
    )
);
CREATE INDEX oauth_states_expires_idx ON oauth_states (expires_at);

-- A provider's account linked to ours: (provider, subject) is the identity
-- (an OIDC `sub`, GitHub's numeric id), never an email.
CREATE TABLE identities (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    email      TEXT,
    created_at INTEGER NOT NULL,
    CONSTRAINT identities_provider_subject_key UNIQUE (provider, subject)
);
CREATE INDEX identities_user_idx ON identities (user_id);
