//! Does the answer's timing tell whether an email has an account?
//!
//! Starts a server (SQLite in a temp directory, or the PostgreSQL database
//! given as the first argument), creates accounts, then sends interleaved
//! failed `login`s and `requestPasswordReset`s for existing and for missing
//! addresses, and prints the median times and their ratio.
//!
//! ```sh
//! cargo run --release --example auth_timing
//! cargo run --release --example auth_timing -- postgres://postgres@127.0.0.1:5432/bench
//! ```
//!
//! Each address is used once per kind of request, so the per-account login
//! delay (after 5 failures) never applies; the per-IP limits are raised.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tasklane::auth::rate_limit::Rate;
use tasklane::config::Config;
use tasklane::mail::MailTransport;

const ROUNDS: usize = 200;
const WARM_UP: usize = 10;
const SECRET: &str = "bench-secret-bench-secret-bench-secret!";
const PASSWORD: &str = "correct horse battery";

const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { accessToken } }";
const RESET: &str = "mutation($e: String!) { requestPasswordReset(email: $e) }";

struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn call(&self, query: &str, variables: Value) -> (Duration, Value) {
        let started = Instant::now();
        let body: Value = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        (started.elapsed(), body)
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn report(what: &str, existing: Vec<Duration>, missing: Vec<Duration>) {
    let (e, m) = (median(existing), median(missing));
    let ratio = m.as_secs_f64() / e.as_secs_f64();
    println!(
        "{what:<22} existing {:>8.3} ms   missing {:>8.3} ms   missing/existing {ratio:.3} ({:+.1} %)",
        e.as_secs_f64() * 1e3,
        m.as_secs_f64() * 1e3,
        (ratio - 1.0) * 100.0
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = std::env::args()
        .nth(1)
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let mut config = Config::with_database(&database, Some(SECRET)).expect("config");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    config.mail = MailTransport::File(dir.path().join("mail"));
    let generous = Rate::parse("1000000/1d").expect("rate");
    config.rate_limits.login_ip = generous;
    config.rate_limits.login_account = generous;
    config.rate_limits.signup_ip = generous;
    config.rate_limits.email_ip = generous;
    config.rate_limits.email_address = generous;
    let server = tasklane::start(config).await.expect("server");
    let client = Client {
        http: reqwest::Client::new(),
        url: format!("http://{}/graphql", server.addr),
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let total = ROUNDS + WARM_UP;
    let existing: Vec<String> = (0..total)
        .map(|i| format!("user{i}-{run}@example.com"))
        .collect();
    let missing: Vec<String> = (0..total)
        .map(|i| format!("nobody{i}-{run}@example.com"))
        .collect();
    println!(
        "creating {total} accounts on {}…",
        database.split('?').next().unwrap_or_default()
    );
    for email in &existing {
        let (_, body) = client
            .call(
                "mutation($input: SignupInput!) { signup(input: $input) { accessToken } }",
                json!({ "input": { "email": email, "password": PASSWORD, "displayName": "Bench" } }),
            )
            .await;
        assert!(body["errors"].is_null(), "signup failed: {body}");
    }

    let mut login_times = (Vec::new(), Vec::new());
    let mut reset_times = (Vec::new(), Vec::new());
    for i in 0..total {
        let login =
            |email: &str| json!({ "input": { "email": email, "password": "not the password" } });
        // Alternate which goes first, so neither gains from going second.
        let order = if i % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for exists in order {
            let email = if exists { &existing[i] } else { &missing[i] };
            let (took, body) = client.call(LOGIN, login(email)).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{body}"
            );
            let (reset_took, reset) = client.call(RESET, json!({ "e": email })).await;
            assert_eq!(reset["data"]["requestPasswordReset"], true, "{reset}");
            if i >= WARM_UP {
                let (l, r) = if exists {
                    (&mut login_times.0, &mut reset_times.0)
                } else {
                    (&mut login_times.1, &mut reset_times.1)
                };
                l.push(took);
                r.push(reset_took);
            }
        }
    }
    println!("{ROUNDS} requests of each kind, interleaved; medians:");
    report("login (failed)", login_times.0, login_times.1);
    report("requestPasswordReset", reset_times.0, reset_times.1);
    server.shutdown().await.expect("shutdown");
}
