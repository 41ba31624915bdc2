//! GraphiQL from the binary: the page loads only this server's files, each
//! served with its type, long-lived caching and an ETag, under a
//! Content-Security-Policy naming no other host; production serves none of it.

use reqwest::{Response, StatusCode, header};
use serde_json::Value;

use crate::support::{Backend, TestApp, error_code};
use crate::{on_both_backends, on_both_databases};

on_both_backends!(
    the_page_loads_only_files_of_this_server,
    every_file_is_served_typed_cached_and_revalidated,
    the_policy_allows_no_other_host_and_a_fresh_nonce,
    unknown_file_names_are_404,
);
on_both_databases!(production_serves_neither_page_nor_files);

const ASSETS: &str = "/graphiql/assets/";

async fn page(app: &TestApp) -> Response {
    app.client
        .get(app.url("/graphql"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("sent")
}

async fn fetch(app: &TestApp, path: &str, if_none_match: Option<&str>) -> Response {
    let mut request = app.client.get(app.url(path));
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    request.send().await.expect("sent")
}

fn header_text(response: &Response, name: header::HeaderName) -> &str {
    response
        .headers()
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// The values of every `attribute="…"` of the page.
fn attribute_values<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let marker = format!("{attribute}=\"");
    html.split(&marker)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// The page's `<script src>` and `<link href>` paths under the assets route.
async fn asset_paths(app: &TestApp) -> Vec<String> {
    let html = page(app).await.text().await.expect("text");
    let mut paths: Vec<String> = attribute_values(&html, "src")
        .into_iter()
        .chain(attribute_values(&html, "href"))
        .filter(|url| url.starts_with(ASSETS))
        .map(str::to_owned)
        .collect();
    paths.sort();
    paths
}

async fn the_page_loads_only_files_of_this_server(app: TestApp) {
    let response = page(&app).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header_text(&response, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_text(&response, header::CACHE_CONTROL), "no-cache");
    let html = response.text().await.expect("text");
    assert!(html.contains("<title>Tasklane GraphiQL</title>"), "{html}");
    assert!(
        !html.contains("<script>") && !html.contains("<style"),
        "no inline script or style: {html}"
    );

    let srcs = attribute_values(&html, "src");
    let hrefs = attribute_values(&html, "href");
    assert_eq!(srcs.len(), 5, "React, ReactDOM, graphql-ws, GraphiQL, ours");
    assert_eq!(hrefs.len(), 3, "two stylesheets and the empty icon");
    for url in srcs.iter().chain(&hrefs) {
        assert!(
            !url.starts_with("http:") && !url.starts_with("https:") && !url.starts_with("//"),
            "{url} is not this server's"
        );
        assert!(
            url.starts_with(ASSETS) || *url == "data:,",
            "{url} is neither an asset nor the empty icon"
        );
    }
}

async fn every_file_is_served_typed_cached_and_revalidated(app: TestApp) {
    let paths = asset_paths(&app).await;
    assert_eq!(paths.len(), 7, "{paths:?}");
    for path in paths {
        let response = fetch(&app, &path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let expected_type = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            assert!(path.ends_with(".css"), "{path}");
            "text/css; charset=utf-8"
        };
        assert_eq!(header_text(&response, header::CONTENT_TYPE), expected_type);
        assert_eq!(
            header_text(&response, header::CACHE_CONTROL),
            "public, max-age=31536000, immutable"
        );
        let etag = header_text(&response, header::ETAG).to_owned();
        // The name carries the same hash as the ETag: a new file, a new URL.
        let hash = etag.trim_start_matches("W/").trim_matches('"');
        assert!(path.contains(&format!(".{hash}.")), "{path} {etag}");
        assert!(!response.bytes().await.expect("body").is_empty(), "{path}");

        let again = fetch(&app, &path, Some(&etag)).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(header_text(&again, header::ETAG), etag);
        assert!(again.bytes().await.expect("body").is_empty());
        // If-None-Match compares weakly: the tag quoted alone matches too.
        let among = fetch(&app, &path, Some(&format!("\"other\", \"{hash}\""))).await;
        assert_eq!(among.status(), StatusCode::NOT_MODIFIED, "{path}");
        let other = fetch(&app, &path, Some("\"other\"")).await;
        assert_eq!(other.status(), StatusCode::OK, "{path}");
    }
}

/// The directives of a Content-Security-Policy, each with its sources.
fn directives(policy: &str) -> Vec<(&str, Vec<&str>)> {
    policy
        .split(';')
        .filter_map(|directive| {
            let mut words = directive.split_whitespace();
            Some((words.next()?, words.collect()))
        })
        .collect()
}

async fn the_policy_allows_no_other_host_and_a_fresh_nonce(app: TestApp) {
    let response = page(&app).await;
    let policy = header_text(&response, header::CONTENT_SECURITY_POLICY).to_owned();
    let html = response.text().await.expect("text");
    let nonce = html
        .split("name=\"tasklane-style-nonce\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page carries its nonce");
    let directives = directives(&policy);
    let sources = |name: &str| {
        directives
            .iter()
            .find(|(directive, _)| *directive == name)
            .map(|(_, sources)| sources.clone())
            .unwrap_or_else(|| panic!("no {name} in {policy}"))
    };
    assert_eq!(sources("default-src"), ["'none'"]);
    assert_eq!(sources("script-src"), ["'self'"]);
    let nonce_source = format!("'nonce-{nonce}'");
    assert_eq!(sources("style-src"), ["'self'", nonce_source.as_str()]);
    let ws = format!("ws://{}", app.addr);
    let wss = format!("wss://{}", app.addr);
    assert_eq!(
        sources("connect-src"),
        ["'self'", ws.as_str(), wss.as_str()]
    );
    assert_eq!(sources("frame-ancestors"), ["'none'"]);
    for (directive, sources) in &directives {
        for source in sources {
            let allowed = source.starts_with('\'') && !source.starts_with("'unsafe")
                || *source == "data:"
                || *source == ws
                || *source == wss;
            assert!(allowed, "{directive} allows {source}: {policy}");
        }
    }

    let next = page(&app).await;
    let next_policy = header_text(&next, header::CONTENT_SECURITY_POLICY);
    assert!(!next_policy.contains(&nonce_source), "a nonce serves once");
}

async fn unknown_file_names_are_404(app: TestApp) {
    let known = asset_paths(&app).await;
    let script = known
        .iter()
        .find(|path| path.contains("graphiql.min.") && path.ends_with(".js"))
        .expect("GraphiQL's script");
    // The same file under another hash (an older version's URL) or none.
    let (stem, _) = script.rsplit_once('.').expect("extension");
    let (stem, _) = stem.rsplit_once('.').expect("hash");
    for path in [
        format!("{stem}.0000000000000000.js"),
        format!("{stem}.js"),
        format!("{ASSETS}index.html"),
        format!("{ASSETS}..%2F..%2FCargo.toml"),
        ASSETS.to_owned(),
    ] {
        let response = fetch(&app, &path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

async fn production_serves_neither_page_nor_files(backend: Backend) {
    let development = TestApp::spawn(backend).await.expect("server");
    let paths = asset_paths(&development).await;
    assert_eq!(paths.len(), 7, "{paths:?}");
    let app = TestApp::spawn_with(backend, |config| config.production = true)
        .await
        .expect("server");

    let response = page(&app).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        !response
            .headers()
            .contains_key(header::CONTENT_SECURITY_POLICY)
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(error_code(&body), "BAD_REQUEST", "{body}");
    for path in paths {
        let response = fetch(&app, &path, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}
