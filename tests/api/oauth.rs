//! Sign-in with OpenID Connect and GitHub, and account linking, against the
//! fake providers of `oauth_fakes.rs`; the refusals are in `oauth_checks.rs`.

use serde_json::json;

use crate::account_helpers::{LOGIN, me_or_code, text};
use crate::oauth_fakes::{Knobs, Person, query};
use crate::oauth_support::{LINK, REDIRECT, UNLINK, reset_password, setup, signed_in};
use crate::on_both_databases;
use crate::support::{Backend, PASSWORD, error_code, error_field};

on_both_databases!(
    providers_are_listed_for_buttons,
    a_new_identity_creates_an_account_and_signs_in_again,
    github_signs_in_with_its_user_and_verified_email,
    a_verified_email_joins_a_verified_account,
    an_unverified_provider_email_joins_nothing,
    an_unverified_local_account_is_never_joined,
    linking_while_signed_in_keeps_the_session,
    an_identity_linked_elsewhere_is_a_conflict,
    the_last_way_to_sign_in_is_kept,
);

async fn providers_are_listed_for_buttons(backend: Backend) {
    let env = setup(backend).await;
    let body = env
        .app
        .gql("{ oauthProviders { id name kind } }", json!({}), None)
        .await;
    assert_eq!(
        body["data"]["oauthProviders"],
        json!([
            { "id": "google", "name": "Google", "kind": "GOOGLE" },
            { "id": "github", "name": "GitHub", "kind": "GITHUB" },
            { "id": "corp", "name": "Corp SSO", "kind": "OIDC" },
        ]),
        "{body}"
    );
    let (url, state) = env.start("corp", None).await;
    let params = query(&url);
    assert!(
        url.starts_with(&format!("{}/authorize?", env.oidc.base())),
        "{url}"
    );
    assert_eq!(params["state"], state);
    assert_eq!(params["client_id"], "corp-client");
    assert_eq!(params["redirect_uri"], REDIRECT);
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(params.contains_key("nonce"), "{url}");
    assert!(!url.contains("corp-secret"), "{url}");
}

async fn a_new_identity_creates_an_account_and_signs_in_again(backend: Backend) {
    let env = setup(backend).await;
    let ada = Person::new("ada-sub", "Ada@Example.com", true);
    let body = env.sign_in("google", &ada).await;
    let (token, user_id) = signed_in(&body);
    let user = &body["data"]["completeOAuth"]["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["emailVerified"], true);
    assert_eq!(user["displayName"], "Person ada-sub");
    assert_eq!(me_or_code(&env.app, &token).await, "ada@example.com");
    let sessions = env
        .app
        .gql("{ sessions { deviceName } }", json!({}), Some(&token))
        .await;
    assert_eq!(
        sessions["data"]["sessions"][0]["deviceName"], "Pixel 9",
        "{sessions}"
    );
    let linked = env.identities(&token).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["provider"], "google");
    assert_eq!(linked[0]["email"], "ada@example.com");

    // The same identity later: the same account, whatever its email now.
    let moved = Person::new("ada-sub", "ada@new.example.com", true);
    let again = env.sign_in("google", &moved).await;
    assert_eq!(signed_in(&again).1, user_id);
    // The same subject at another provider is another identity.
    let elsewhere = env
        .sign_in("corp", &Person::new("ada-sub", "ada2@example.com", true))
        .await;
    assert_ne!(signed_in(&elsewhere).1, user_id);

    // No password: a password login is refused like a wrong one.
    let login = env
        .app
        .gql(
            LOGIN,
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
            None,
        )
        .await;
    assert_eq!(error_code(&login), "UNAUTHENTICATED");
    assert_eq!(login["errors"][0]["message"], "Invalid email or password");
}

async fn github_signs_in_with_its_user_and_verified_email(backend: Backend) {
    let env = setup(backend).await;
    let octo = Person::new("583231", "octo@example.com", true);
    let body = env.sign_in("github", &octo).await;
    let (token, _) = signed_in(&body);
    assert_eq!(body["data"]["completeOAuth"]["user"]["emailVerified"], true);
    assert_eq!(me_or_code(&env.app, &token).await, "octo@example.com");
    assert_eq!(env.identities(&token).await[0]["provider"], "github");

    // GitHub's refusal comes with HTTP 200.
    env.github.set(Knobs {
        error_with_200: true,
        ..Knobs::default()
    });
    let refused = env.sign_in("github", &octo).await;
    assert_eq!(error_code(&refused), "OAUTH_PROVIDER_ERROR", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.contains("bad_verification_code"), "{message}");
}

async fn a_verified_email_joins_a_verified_account(backend: Backend) {
    let env = setup(backend).await;
    let local = env.verified_user("grace@example.com").await;
    let me = env.app.gql("{ me { id } }", json!({}), Some(&local)).await;
    let body = env
        .sign_in("corp", &Person::new("g-1", "grace@example.com", true))
        .await;
    let (token, user_id) = signed_in(&body);
    assert_eq!(json!(user_id), me["data"]["me"]["id"]);
    assert_eq!(env.identities(&token).await.len(), 1);
    assert_eq!(
        me_or_code(&env.app, &local).await,
        "grace@example.com",
        "no session ended"
    );
}

async fn an_unverified_provider_email_joins_nothing(backend: Backend) {
    let env = setup(backend).await;
    let local = env.verified_user("linus@example.com").await;
    let body = env
        .sign_in("corp", &Person::new("l-1", "linus@example.com", false))
        .await;
    assert_eq!(error_code(&body), "ACCOUNT_EXISTS", "{body}");
    assert!(env.identities(&local).await.is_empty(), "nothing linked");
    let again = env
        .sign_in("github", &Person::new("77", "linus@example.com", false))
        .await;
    assert_eq!(error_code(&again), "ACCOUNT_EXISTS", "{again}");
    assert!(env.identities(&local).await.is_empty());
}

/// Pre-hijack: someone signs up with the victim's address and never proves
/// it; the victim's provider sign-in must not join that account.
async fn an_unverified_local_account_is_never_joined(backend: Backend) {
    let env = setup(backend).await;
    let attacker = env.app.signup("victim@example.com").await;
    let attacker = text(&attacker["accessToken"], "token").to_owned();
    let body = env
        .sign_in("google", &Person::new("v-1", "victim@example.com", true))
        .await;
    assert_eq!(error_code(&body), "ACCOUNT_EXISTS", "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert!(env.identities(&attacker).await.is_empty(), "nothing joined");

    // The attacker links a provider account of their own; once the owner
    // proves the address (a reset), that link is gone with the sessions.
    let own = Person::new("attacker-sub", "attacker@example.com", true);
    let linked = env.link("corp", &own, &attacker).await;
    assert_eq!(linked["data"]["linkOAuth"]["provider"], "corp", "{linked}");
    let victim = reset_password(&env, "victim@example.com").await;
    assert!(
        env.identities(&victim).await.is_empty(),
        "the attacker's link is gone"
    );
    assert_eq!(me_or_code(&env.app, &attacker).await, "UNAUTHENTICATED");
    let back = env.sign_in("corp", &own).await;
    let victim_id = env.app.gql("{ me { id } }", json!({}), Some(&victim)).await;
    assert_ne!(
        json!(signed_in(&back).1),
        victim_id["data"]["me"]["id"],
        "{back}"
    );
}

async fn linking_while_signed_in_keeps_the_session(backend: Backend) {
    let env = setup(backend).await;
    let user = env.app.signup("mary@example.com").await;
    let token = text(&user["accessToken"], "token").to_owned();
    // A provider address other than the account's: linking is explicit.
    let mary = Person::new("m-1", "mary@work.example.com", false);
    let body = env.link("corp", &mary, &token).await;
    assert_eq!(body["data"]["linkOAuth"]["provider"], "corp", "{body}");
    assert_eq!(body["data"]["linkOAuth"]["email"], "mary@work.example.com");
    assert_eq!(me_or_code(&env.app, &token).await, "mary@example.com");
    assert_eq!(env.identities(&token).await.len(), 1);
    // Linking again is the same link.
    let again = env.link("corp", &mary, &token).await;
    assert_eq!(
        again["data"]["linkOAuth"]["id"], body["data"]["linkOAuth"]["id"],
        "{again}"
    );
    // The identity now signs in to this account.
    let signed = env.sign_in("corp", &mary).await;
    assert_eq!(json!(signed_in(&signed).1), user["user"]["id"]);
    // A link state is not a sign-in state, nor the other way round.
    let (state, code) = env.visit("corp", &mary, Some(&token)).await;
    assert_eq!(
        error_code(&env.complete(&state, &code).await),
        "UNAUTHENTICATED"
    );
    let (state, code) = env.visit("corp", &mary, None).await;
    let body = env
        .app
        .gql(LINK, json!({ "s": state, "c": code }), Some(&token))
        .await;
    assert_eq!(error_code(&body), "UNAUTHENTICATED", "{body}");
}

async fn an_identity_linked_elsewhere_is_a_conflict(backend: Backend) {
    let env = setup(backend).await;
    let owner = env
        .sign_in("google", &Person::new("shared", "first@example.com", true))
        .await;
    let (owner_token, _) = signed_in(&owner);
    let other = env.app.signup("second@example.com").await;
    let other = text(&other["accessToken"], "token").to_owned();
    let body = env
        .link(
            "google",
            &Person::new("shared", "first@example.com", true),
            &other,
        )
        .await;
    assert_eq!(error_code(&body), "CONFLICT", "{body}");
    assert!(env.identities(&other).await.is_empty());
    assert_eq!(env.identities(&owner_token).await.len(), 1);
}

async fn the_last_way_to_sign_in_is_kept(backend: Backend) {
    let env = setup(backend).await;
    let body = env
        .sign_in("corp", &Person::new("solo", "solo@example.com", true))
        .await;
    let (token, _) = signed_in(&body);
    let id = env.identities(&token).await[0]["id"].clone();
    let refused = env.app.gql(UNLINK, json!({ "id": id }), Some(&token)).await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    assert_eq!(error_field(&refused), "id");
    assert_eq!(env.identities(&token).await.len(), 1);
    let unknown = env
        .app
        .gql(
            UNLINK,
            json!({ "id": uuid::Uuid::now_v7().to_string() }),
            Some(&token),
        )
        .await;
    assert_eq!(error_code(&unknown), "NOT_FOUND");

    // A second identity may go, then (with a password set by reset) the last.
    let second = env
        .link(
            "github",
            &Person::new("42", "solo@example.com", true),
            &token,
        )
        .await;
    let second_id = second["data"]["linkOAuth"]["id"].clone();
    let gone = env
        .app
        .gql(UNLINK, json!({ "id": second_id }), Some(&token))
        .await;
    assert_eq!(gone["data"]["unlinkOAuth"], true, "{gone}");
    let token = reset_password(&env, "solo@example.com").await;
    let last = env.app.gql(UNLINK, json!({ "id": id }), Some(&token)).await;
    assert_eq!(last["data"]["unlinkOAuth"], true, "{last}");
    assert!(env.identities(&token).await.is_empty());
    assert_eq!(
        me_or_code(&env.app, &token).await,
        "solo@example.com",
        "no session ended"
    );
}
