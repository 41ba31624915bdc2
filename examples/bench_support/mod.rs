//! What the benchmark examples share: one GraphQL call over HTTP and a
//! process's resident memory.

use serde_json::{Value, json};

/// POSTs one operation to `endpoint` (the server's `/graphql`) and returns
/// its `data`; any GraphQL error fails the benchmark.
pub async fn call(
    http: &reqwest::Client,
    endpoint: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Value {
    let mut request = http
        .post(endpoint)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body: Value = request
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("JSON body");
    assert!(body["errors"].is_null(), "{query}: {body}");
    body["data"].clone()
}

/// The resident memory of process `pid` in KiB (`VmRSS`), if it runs.
#[allow(dead_code, reason = "not every example reads memory")]
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time process `pid` has used so far (user and system, all its
/// threads), in milliseconds; Linux counts it in ticks of 1/100 s.
#[allow(dead_code, reason = "not every example reads CPU time")]
pub fn cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The name (field 2) may hold spaces: count from the ")" after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) * 10)
}
