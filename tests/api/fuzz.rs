//! A fuzzed schema: random documents and variables, made from the schema
//! itself (valid ones and invalid ones: wrong types, huge numbers, odd and
//! invalid text, deep nesting, unknown enum values and fields, nulls where
//! a value is required, cut-off documents, bodies that are not UTF-8), sent
//! over HTTP (POST and GET) and over WebSocket (both protocols) to a real
//! server with data in it. Whatever the input: never a 5xx, never an
//! `INTERNAL` error, never a dropped connection, and `/health` answers at
//! the end.
//!
//! Cases per run are bounded so the suite stays fast. For a longer run:
//! `TASKLANE_FUZZ_CASES=20000 cargo test --test api fuzz -- --nocapture`
//! (`TASKLANE_FUZZ_SEED=N` repeats a run; a failure prints its seed, case
//! and document).

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::fixtures::{account, project, task};
use crate::support::{Backend, PASSWORD, TestApp};
use crate::ws_support::{LEGACY_WS, TRANSPORT_WS, Ws};

/// Cases per run (each backend), unless `TASKLANE_FUZZ_CASES` says more.
const SQLITE_CASES: u64 = 400;
const POSTGRES_CASES: u64 = 250;
/// `TASKLANE_BODY_LIMIT`'s default: a larger body is refused (413).
const BODY_LIMIT: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_documents_never_fail_the_server_sqlite() {
    run(Backend::Sqlite, SQLITE_CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_documents_never_fail_the_server_postgres() {
    if crate::support::pg_admin_url().is_none() {
        eprintln!("TASKLANE_TEST_DATABASE_URL not set: PostgreSQL not tested");
        return;
    }
    run(Backend::Postgres, POSTGRES_CASES).await;
}

// ---------------------------------------------------------------- schema

struct Field {
    name: String,
    args: Vec<Arg>,
    ty: Type,
}

struct Arg {
    name: String,
    ty: Type,
}

enum Kind {
    /// Objects and interfaces: their fields, and (interfaces) the objects
    /// that implement them.
    Composite(Vec<Field>, Vec<String>),
    Union(Vec<String>),
    Enum(Vec<String>),
    Input(Vec<Arg>),
    Scalar,
}

struct Schema {
    types: HashMap<String, Kind>,
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

impl Schema {
    /// The server's own SDL, parsed.
    fn load() -> Self {
        let document = parse_schema(tasklane::graphql::sdl()).expect("the SDL parses");
        let mut types = HashMap::new();
        let mut implementors: HashMap<String, Vec<String>> = HashMap::new();
        let args = |list: &[async_graphql::Positioned<
            async_graphql::parser::types::InputValueDefinition,
        >]| {
            list.iter()
                .map(|a| Arg {
                    name: a.node.name.node.to_string(),
                    ty: a.node.ty.node.clone(),
                })
                .collect::<Vec<_>>()
        };
        let fields = |list: &[async_graphql::Positioned<
            async_graphql::parser::types::FieldDefinition,
        >]| {
            list.iter()
                .map(|f| Field {
                    name: f.node.name.node.to_string(),
                    args: args(&f.node.arguments),
                    ty: f.node.ty.node.clone(),
                })
                .collect::<Vec<_>>()
        };
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(t) = definition else {
                continue;
            };
            let name = t.node.name.node.to_string();
            let kind = match &t.node.kind {
                TypeKind::Object(o) => {
                    for i in &o.implements {
                        implementors
                            .entry(i.node.to_string())
                            .or_default()
                            .push(name.clone());
                    }
                    Kind::Composite(fields(&o.fields), Vec::new())
                }
                TypeKind::Interface(i) => Kind::Composite(fields(&i.fields), Vec::new()),
                TypeKind::Union(u) => {
                    Kind::Union(u.members.iter().map(|m| m.node.to_string()).collect())
                }
                TypeKind::Enum(e) => Kind::Enum(
                    e.values
                        .iter()
                        .map(|v| v.node.value.node.to_string())
                        .collect(),
                ),
                TypeKind::InputObject(i) => Kind::Input(args(&i.fields)),
                TypeKind::Scalar => Kind::Scalar,
            };
            types.insert(name, kind);
        }
        for (interface, objects) in implementors {
            if let Some(Kind::Composite(_, of)) = types.get_mut(&interface) {
                *of = objects;
            }
        }
        for builtin in ["Int", "Float", "String", "Boolean", "ID"] {
            types.insert(builtin.into(), Kind::Scalar);
        }
        Self { types }
    }

    fn fields(&self, name: &str) -> &[Field] {
        match self.types.get(name) {
            Some(Kind::Composite(fields, _)) => fields,
            _ => &[],
        }
    }

    fn is_leaf(&self, name: &str) -> bool {
        matches!(
            self.types.get(name),
            Some(Kind::Scalar | Kind::Enum(_)) | None
        )
    }
}

// ---------------------------------------------------------------- random

/// splitmix64: small, and the same sequence for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------- values

/// A GraphQL input value, written inline or sent as a variable.
#[derive(Clone)]
enum Val {
    Null,
    Int(i128),
    Float(f64),
    Str(String),
    Bool(bool),
    Enum(String),
    List(Vec<Val>),
    Obj(Vec<(String, Val)>),
}

impl Val {
    fn inline(&self) -> String {
        match self {
            Val::Null => "null".into(),
            Val::Int(n) => n.to_string(),
            Val::Float(f) if f.is_finite() => format!("{f:e}"),
            Val::Float(_) => "1e400".into(),
            Val::Str(s) => serde_json::to_string(s).expect("string"),
            Val::Bool(b) => b.to_string(),
            Val::Enum(e) => e.clone(),
            Val::List(items) => {
                let items: Vec<String> = items.iter().map(Val::inline).collect();
                format!("[{}]", items.join(", "))
            }
            Val::Obj(fields) => {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.inline()))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }

    fn json(&self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Int(n) => i64::try_from(*n)
                .map(Value::from)
                .or_else(|_| u64::try_from(*n).map(Value::from))
                .unwrap_or_else(|_| json!(*n as f64)),
            Val::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Val::Str(s) | Val::Enum(s) => Value::String(s.clone()),
            Val::Bool(b) => Value::Bool(*b),
            Val::List(items) => Value::Array(items.iter().map(Val::json).collect()),
            Val::Obj(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            }
        }
    }
}

const TEXTS: &[&str] = &[
    "",
    "a",
    "Plan the week",
    "ñandú ✓ 😀 中文",
    "\u{0}",
    "nul\u{0}inside",
    "\u{202e}rtl",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%_\\",
    "   ",
    "user@example.com",
    "not an email",
    "P@ssw0rd-but-not-the-one",
    "https://example.com/callback",
    "2026-12-01T10:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-13-45T25:61:61Z",
    "-1",
    "00000000-0000-0000-0000-000000000000",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
    "{\"k\": [1, 2, 3]}",
];

const INTS: &[i128] = &[
    0,
    1,
    2,
    -1,
    10,
    20,
    100,
    500,
    501,
    2_147_483_647,
    2_147_483_648,
    -2_147_483_649,
    i64::MAX as i128,
    i64::MAX as i128 + 1,
    u64::MAX as i128 + 1,
];

const FLOATS: &[f64] = &[0.0, -0.0, 0.5, 1.0e308, -1.0e308, 1.0e-320, 123.456];

// ---------------------------------------------------------------- documents

struct Case {
    operation: &'static str,
    text: String,
    variables: Value,
}

struct Gen<'a> {
    rng: Rng,
    schema: &'a Schema,
    /// Ids of real rows (the viewer's and another user's) and other strings.
    ids: &'a [String],
    variables: Vec<(String, String, Value)>,
    max_depth: usize,
    /// This case sends invalid values more often.
    hostile: bool,
}

impl Gen<'_> {
    fn text(&mut self) -> String {
        if self.rng.chance(3) {
            // Long, but within the body limit.
            return "x".repeat(1 + self.rng.below(100_000));
        }
        (*self.rng.pick(TEXTS)).to_owned()
    }

    fn id(&mut self) -> String {
        if self.rng.chance(70) && !self.ids.is_empty() {
            self.rng.pick(self.ids).clone()
        } else if self.rng.chance(50) {
            uuid::Uuid::new_v4().to_string()
        } else {
            self.text()
        }
    }

    /// Something of the wrong kind for `ty`.
    fn wrong(&mut self, ty: &Type, depth: usize) -> Val {
        match self.rng.below(9) {
            0 => Val::Null,
            1 => Val::Int(*self.rng.pick(INTS)),
            2 => Val::Float(*self.rng.pick(FLOATS)),
            3 => Val::Str(self.text()),
            4 => Val::Bool(self.rng.chance(50)),
            5 => Val::Enum("NOT_A_VALUE".into()),
            6 => Val::Obj(vec![("notAField".into(), Val::Int(1))]),
            7 => {
                // Nested lists, deeper than any type.
                let mut v = Val::Int(1);
                for _ in 0..(1 + self.rng.below(60)) {
                    v = Val::List(vec![v]);
                }
                v
            }
            _ => Val::List(vec![self.value(ty, depth + 1); 1 + self.rng.below(3)]),
        }
    }

    fn value(&mut self, ty: &Type, depth: usize) -> Val {
        let bad = if self.hostile { 25 } else { 4 };
        if depth > 6 || self.rng.chance(bad) {
            return if depth > 6 {
                Val::Null
            } else {
                self.wrong(ty, depth)
            };
        }
        if ty.nullable && self.rng.chance(8) {
            return Val::Null;
        }
        match &ty.base {
            BaseType::List(inner) => {
                let n = if self.rng.chance(5) {
                    self.rng.below(700)
                } else {
                    self.rng.below(4)
                };
                Val::List((0..n).map(|_| self.value(inner, depth + 1)).collect())
            }
            BaseType::Named(name) => match name.as_str() {
                "Int" => Val::Int(if self.rng.chance(70) {
                    self.rng.below(30) as i128
                } else {
                    *self.rng.pick(INTS)
                }),
                "Float" => Val::Float(*self.rng.pick(FLOATS)),
                "Boolean" => Val::Bool(self.rng.chance(50)),
                "ID" => Val::Str(self.id()),
                "JSON" => Val::Str(self.text()),
                "String" | "DateTime" => Val::Str(self.text()),
                other => match self.schema.types.get(other) {
                    Some(Kind::Enum(values)) => Val::Enum(self.rng.pick(values).clone()),
                    Some(Kind::Input(fields)) => {
                        let mut out = Vec::new();
                        for field in fields {
                            if !field.ty.nullable || self.rng.chance(40) {
                                let v = self.value(&field.ty, depth + 1);
                                out.push((field.name.clone(), v));
                            }
                        }
                        Val::Obj(out)
                    }
                    _ => Val::Str(self.text()),
                },
            },
        }
    }

    /// `(name: value, …)` for a field's arguments, or nothing.
    fn arguments(&mut self, args: &[Arg]) -> String {
        let mut out = Vec::new();
        for arg in args {
            let wanted = if arg.ty.nullable { 35 } else { 96 };
            if !self.rng.chance(wanted) {
                continue;
            }
            let value = self.value(&arg.ty, 0);
            if self.rng.chance(40) {
                let name = format!("v{}", self.variables.len());
                let declared = if self.rng.chance(if self.hostile { 20 } else { 3 }) {
                    (*self
                        .rng
                        .pick(&["Int", "String!", "[ID!]!", "Boolean", "TaskFilter"]))
                    .to_owned()
                } else {
                    arg.ty.to_string()
                };
                self.variables.push((name.clone(), declared, value.json()));
                out.push(format!("{}: ${name}", arg.name));
            } else {
                out.push(format!("{}: {}", arg.name, value.inline()));
            }
        }
        if self.rng.chance(2) {
            out.push("notAnArgument: 1".into());
        }
        if out.is_empty() {
            String::new()
        } else {
            format!("({})", out.join(", "))
        }
    }

    /// A selection set on the composite type `name`.
    fn selection(&mut self, name: &str, depth: usize) -> String {
        let mut parts = vec![];
        if let Some(Kind::Union(members)) = self.schema.types.get(name) {
            let members = members.clone();
            parts.push("__typename".to_owned());
            for member in members {
                if self.rng.chance(60) {
                    let inner = self.selection(&member, depth + 1);
                    parts.push(format!("... on {member} {inner}"));
                }
            }
            return format!("{{ {} }}", parts.join(" "));
        }
        let fields = self.schema.fields(name);
        let count = 1 + self.rng.below(4);
        for _ in 0..count {
            if fields.is_empty() {
                break;
            }
            let field = &fields[self.rng.below(fields.len())];
            let target = named(&field.ty).to_owned();
            let leaf = self.schema.is_leaf(&target);
            if !leaf && depth >= self.max_depth {
                continue;
            }
            let alias = if self.rng.chance(5) {
                format!("a{}: ", self.rng.below(1000))
            } else {
                String::new()
            };
            let args = self.arguments(&field.args);
            let sub = if leaf {
                String::new()
            } else {
                format!(" {}", self.selection(&target, depth + 1))
            };
            parts.push(format!("{alias}{}{args}{sub}", field.name));
        }
        if let Some(Kind::Composite(_, implementors)) = self.schema.types.get(name)
            && !implementors.is_empty()
            && self.rng.chance(30)
        {
            let object = self.rng.pick(implementors).clone();
            let inner = self.selection(&object, depth + 1);
            parts.push(format!("... on {object} {inner}"));
        }
        if self.rng.chance(2) {
            parts.push("notAField".into());
        }
        if parts.is_empty() || self.rng.chance(10) {
            parts.push("__typename".into());
        }
        format!("{{ {} }}", parts.join(" "))
    }

    fn case(mut self) -> Case {
        let operation = match self.rng.below(10) {
            0..=5 => "query",
            6..=8 => "mutation",
            _ => "subscription",
        };
        let root = match operation {
            "query" => "Query",
            "mutation" => "Mutation",
            _ => "Subscription",
        };
        // Subscriptions and mutations: one root field, as a client sends.
        if operation != "query" {
            let fields = self.schema.fields(root);
            let field = &fields[self.rng.below(fields.len())];
            let args = self.arguments(&field.args);
            let target = named(&field.ty).to_owned();
            let sub = if self.schema.is_leaf(&target) {
                String::new()
            } else {
                format!(" {}", self.selection(&target, 1))
            };
            let body = format!("{{ {}{args}{sub} }}", field.name);
            return self.finish(operation, body);
        }
        let body = self.selection(root, 0);
        self.finish(operation, body)
    }

    fn finish(self, operation: &'static str, body: String) -> Case {
        let declarations: Vec<String> = self
            .variables
            .iter()
            .map(|(name, ty, _)| format!("${name}: {ty}"))
            .collect();
        let head = if declarations.is_empty() {
            format!("{operation} Fuzz")
        } else {
            format!("{operation} Fuzz({})", declarations.join(", "))
        };
        let variables = Value::Object(
            self.variables
                .into_iter()
                .map(|(name, _, value)| (name, value))
                .collect(),
        );
        let mut rng = self.rng;
        let mut text = format!("{head} {body}");
        if rng.chance(3) {
            // Cut off anywhere (on a character boundary).
            let mut at = rng.below(text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.truncate(at);
        }
        Case {
            operation,
            text,
            variables,
        }
    }
}

// ---------------------------------------------------------------- running

/// A client's data: the signed-in user's ids and another user's.
struct World {
    /// A session's access token: the fuzzing may end its session.
    token: String,
    /// An API key (READ, WRITE), which nothing here revokes.
    key: String,
    email: String,
    ids: Vec<String>,
}

async fn seed_world(app: &TestApp, n: usize) -> World {
    let email = format!("fuzz{n}@example.com");
    let me = account(app, &email).await;
    let other = account(app, &format!("other{n}@example.com")).await;
    let mut ids = vec![me.id.clone(), other.id.clone()];
    for (token, name) in [
        (&me.token, "Mine"),
        (&me.token, "Also mine"),
        (&other.token, "Not mine"),
    ] {
        let p = project(app, token, name).await;
        ids.push(p["id"].as_str().expect("id").to_owned());
        for title in ["one", "two"] {
            let t = task(app, token, &p["id"], title, json!({ "tags": ["a", "b"] })).await;
            ids.push(t["id"].as_str().expect("id").to_owned());
        }
    }
    let created = app
        .gql(
            "mutation { createApiKey(input: { name: \"fuzz\", scopes: [READ, WRITE] }) { secret } }",
            json!({}),
            Some(&me.token),
        )
        .await;
    let key = created["data"]["createApiKey"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("an API key: {created}"))
        .to_owned();
    World {
        token: me.token,
        key,
        email,
        ids,
    }
}

/// Signs in again when the fuzzing ended the session (logout, logoutAll).
async fn keep_signed_in(app: &TestApp, world: &mut World) {
    let me = app
        .gql("{ me { id } }", json!({}), Some(&world.token))
        .await;
    if me["errors"].is_null() {
        return;
    }
    let login = app
        .gql(
            "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
            json!({ "i": { "email": world.email, "password": PASSWORD } }),
            None,
        )
        .await;
    if let Some(token) = login["data"]["login"]["accessToken"].as_str() {
        world.token = token.to_owned();
    }
}

/// The faults a response may show: an INTERNAL error, or a message that
/// gives away the inside.
fn faults(errors: &Value) -> Option<String> {
    let errors = errors.as_array()?;
    for error in errors {
        let code = error["extensions"]["code"].as_str().unwrap_or("");
        let message = error["message"].as_str().unwrap_or("");
        let leak = [
            "SELECT ", "INSERT ", "sqlite", "postgres", "panicked", "/src/",
        ]
        .iter()
        .any(|word| message.contains(word));
        if code == "INTERNAL" || leak {
            return Some(error.to_string());
        }
    }
    None
}

/// Sends `case` over HTTP; `Err` says what went wrong.
async fn over_http(app: &TestApp, rng: &mut Rng, world: &World, case: &Case) -> Result<(), String> {
    let url = app.url("/graphql");
    let auth = match rng.below(10) {
        0 => None,
        1 | 2 => Some(world.token.as_str()),
        _ => Some(world.key.as_str()),
    };
    let mut oversized = false;
    // A GET's address has room for a small document only (as in browsers).
    let small = case.text.len() + case.variables.to_string().len() < 4_000;
    let request = if small && rng.chance(15) {
        let variables = case.variables.to_string();
        app.client
            .get(&url)
            .query(&[("query", case.text.as_str()), ("variables", &variables)])
    } else {
        let mut body = json!({ "query": case.text, "variables": case.variables })
            .to_string()
            .into_bytes();
        if rng.chance(3) {
            // Not UTF-8: a stray byte inside the document's text.
            let at = 10 + rng.below(body.len().saturating_sub(12));
            body.insert(at, 0xFF);
        }
        oversized = body.len() > BODY_LIMIT;
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
    };
    let request = match auth {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = match request.send().await {
        Ok(response) => response,
        // Refused (413) before the whole body was sent.
        Err(_) if oversized => return Ok(()),
        Err(e) => return Err(format!("no answer: {e}")),
    };
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("body: {e}"))?;
    if status.is_server_error() {
        return Err(format!("status {status}: {text}"));
    }
    if let Ok(body) = serde_json::from_str::<Value>(&text)
        && let Some(fault) = faults(&body["errors"])
    {
        return Err(format!("status {status}: {fault}"));
    }
    Ok(())
}

/// Sends `case` over a WebSocket; `Err` says what went wrong.
async fn over_ws(app: &TestApp, rng: &mut Rng, key: &str, case: &Case) -> Result<(), String> {
    let protocol = if rng.chance(50) {
        TRANSPORT_WS
    } else {
        LEGACY_WS
    };
    let mut ws = Ws::connect(app.addr, protocol).await;
    ws.init(json!({ "Authorization": format!("Bearer {key}") }))
        .await;
    let ack = tokio::time::timeout(Duration::from_secs(5), ws.socket.next()).await;
    let answered = match ack {
        Ok(Some(Ok(Message::Text(text)))) if text.contains("connection_ack") => {
            ws.subscribe("f", &case.text, case.variables.clone()).await;
            answer(&mut ws).await
        }
        other => Err(format!("no acknowledgement of connection_init: {other:?}")),
    };
    // Closed both ways before the next case, so that connections of the
    // user never pile up against the per-user limit.
    let _ = ws.socket.close(None).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_secs(2), ws.socket.next()).await {}
    answered
}

/// Reads the answer to the subscribe: its result, or the first events.
async fn answer(ws: &mut Ws) -> Result<(), String> {
    // The answer, or the first events; a subscription may stay silent.
    for _ in 0..3 {
        let frame = match tokio::time::timeout(Duration::from_millis(300), ws.socket.next()).await {
            Err(_) => break,
            Ok(frame) => frame,
        };
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            // A close with a reason (a bad message, a limit) is an answer;
            // 1011 is a server failure.
            Some(Ok(Message::Close(Some(frame)))) => {
                let code = u16::from(frame.code);
                return if code == 1011 {
                    Err(format!("closed 1011: {}", frame.reason))
                } else {
                    Ok(())
                };
            }
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                return Err("the server dropped the WebSocket".into());
            }
            Some(Ok(_)) => continue,
        };
        let message: Value =
            serde_json::from_str(text.as_str()).map_err(|e| format!("not JSON: {e}"))?;
        let payload = &message["payload"];
        let errors = match message["type"].as_str() {
            Some("error") if payload.is_array() => payload.clone(),
            Some("error") => json!([payload]),
            _ => payload["errors"].clone(),
        };
        if let Some(fault) = faults(&errors) {
            return Err(fault);
        }
        if matches!(message["type"].as_str(), Some("complete" | "error")) {
            break;
        }
    }
    Ok(())
}

/// At most 2,000 characters of `text`, for a failure's message.
fn clip(text: &str) -> String {
    match text.char_indices().nth(2_000) {
        Some((at, _)) => format!("{}… ({} bytes)", &text[..at], text.len()),
        None => text.to_owned(),
    }
}

async fn run(backend: Backend, default_cases: u64) {
    let app = TestApp::spawn(backend).await.expect("backend available");
    let cases = std::env::var("TASKLANE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let seed = std::env::var("TASKLANE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0);
    let schema = Schema::load();
    let mut world = seed_world(&app, 0).await;
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for n in 0..cases {
        if n % 10 == 0 {
            keep_signed_in(&app, &mut world).await;
        }
        let mut rng = Rng(seed ^ n.wrapping_mul(0x9E37_79B9));
        let hostile = rng.chance(30);
        let max_depth = if rng.chance(5) { 40 } else { 4 };
        let case = Gen {
            rng: Rng(rng.next()),
            schema: &schema,
            ids: &world.ids,
            variables: Vec::new(),
            max_depth,
            hostile,
        }
        .case();
        let ws_share = if case.operation == "subscription" {
            80
        } else {
            20
        };
        let (transport, result) = if rng.chance(ws_share) {
            ("ws", over_ws(&app, &mut rng, &world.key, &case).await)
        } else {
            ("http", over_http(&app, &mut rng, &world, &case).await)
        };
        if std::env::var_os("TASKLANE_FUZZ_TRACE").is_some() {
            eprintln!(
                "case {n} {transport}: {}",
                clip(&case.text).chars().take(300).collect::<String>()
            );
        }
        *counts.entry(transport).or_default() += 1;
        *counts.entry(case.operation).or_default() += 1;
        if let Err(fault) = result {
            panic!(
                "fuzz case {n} (TASKLANE_FUZZ_SEED={seed}) over {transport}: {}\n\
                 document: {}\nvariables: {}",
                clip(&fault),
                clip(&case.text),
                clip(&case.variables.to_string())
            );
        }
    }
    let health = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("health answers");
    assert_eq!(health.status(), 200);
    // And it still serves (with the key: sign-ins may be rate limited by
    // the fuzzing's failed ones).
    let me = app.gql("{ me { id } }", json!({}), Some(&world.key)).await;
    assert!(me["errors"].is_null(), "{me}");
    eprintln!("fuzz on {backend:?}: {cases} cases, seed {seed}, {counts:?}");
}
