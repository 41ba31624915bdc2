//! GraphiQL, served from the binary: its page answers a browser's `GET
//! /graphql`, its files `GET /graphiql/assets/{name}`. Nothing is loaded
//! from anywhere else, so it works offline and under the page's own
//! Content-Security-Policy. Off in production.
//!
//! The files are those of `assets/graphiql/` (its README gives the
//! packages, versions and hashes, and how to fetch them again). A file's
//! name in its URL carries a hash of its content, so it is cached for good
//! and a new version is a new URL; the page itself is never cached
//! without asking again.

use std::sync::{Arc, LazyLock};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use headers::{ETag, HeaderMapExt as _, IfNoneMatch};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use super::AppState;

/// Where the files are served.
pub const ASSETS_ROUTE: &str = "/graphiql/assets/{name}";
const ASSETS_PATH: &str = "/graphiql/assets/";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Stands in the page for the nonce of its style elements.
const NONCE: &str = "{nonce}";

/// The files of `assets/graphiql/` a browser loads, by their path there.
macro_rules! embedded {
    ($($path:literal),+ $(,)?) => {
        [$(($path, include_bytes!(concat!("../../assets/graphiql/", $path)) as &[u8])),+]
    };
}
const FILES: [(&str, &[u8]); 7] = embedded![
    "vendor/react/react.production.min.js",
    "vendor/react-dom/react-dom.production.min.js",
    "vendor/graphql-ws/graphql-ws.min.js",
    "vendor/graphiql/graphiql.min.js",
    "vendor/graphiql/graphiql.min.css",
    "tasklane-graphiql.js",
    "tasklane-graphiql.css",
];
const PAGE: &str = include_str!("../../assets/graphiql/index.html");

/// One file, under its name with the content's hash.
struct Asset {
    /// Its name in `assets/graphiql/`, as the page names it.
    file: &'static str,
    /// Its name in its URL.
    name: String,
    content_type: &'static str,
    etag: ETag,
    bytes: &'static [u8],
}

impl Asset {
    /// `dir/react.production.min.js` is served as `react.production.min.HASH.js`.
    fn new(path: &'static str, bytes: &'static [u8]) -> Self {
        let file = path.rsplit('/').next().unwrap_or(path);
        let (stem, extension) = file.rsplit_once('.').unwrap_or((file, ""));
        let hash = hex::encode(&Sha256::digest(bytes)[..8]);
        let content_type = match extension {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            other => panic!("no content type for the embedded .{other} file {path}"),
        };
        // Weak: the compression layer may send the same tag with gzip's
        // bytes, and a strong tag would promise the same bytes.
        let etag = format!("W/\"{hash}\"");
        Self {
            file,
            name: format!("{stem}.{hash}.{extension}"),
            content_type,
            etag: etag.parse().expect("a weak quoted hex hash is an ETag"),
            bytes,
        }
    }

    /// The file, or 304 when the client's copy (`If-None-Match`) is this one.
    fn response(&self, request: &HeaderMap) -> Response {
        let unchanged = request
            .typed_get::<IfNoneMatch>()
            .is_some_and(|tags| !tags.precondition_passes(&self.etag));
        let mut response = if unchanged {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, self.content_type)], self.bytes).into_response()
        };
        let headers = response.headers_mut();
        headers.typed_insert(self.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// The page and its files, hashed once per process.
pub struct GraphiQL {
    assets: Vec<Asset>,
    /// The page, its files named with their hashes.
    page: String,
}

static GRAPHIQL: LazyLock<GraphiQL> = LazyLock::new(|| {
    let assets: Vec<Asset> = FILES
        .iter()
        .map(|(path, bytes)| Asset::new(path, bytes))
        .collect();
    let page = assets.iter().fold(PAGE.to_owned(), |page, asset| {
        page.replace(
            &format!("\"{ASSETS_PATH}{}\"", asset.file),
            &format!("\"{ASSETS_PATH}{}\"", asset.name),
        )
    });
    GraphiQL { assets, page }
});

impl GraphiQL {
    pub fn get() -> &'static Self {
        &GRAPHIQL
    }

    fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.iter().find(|asset| asset.name == name)
    }

    /// The page, with a fresh nonce for the style elements GraphiQL adds.
    pub fn page(&self, request: &HeaderMap) -> Response {
        let nonce = STANDARD.encode(rand::random::<[u8; 16]>());
        let host = request
            .get(header::HOST)
            .and_then(|host| host.to_str().ok());
        let policy = content_security_policy(&nonce, host);
        let headers = [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ];
        let policy = HeaderValue::from_str(&policy).map(|p| [(header::CONTENT_SECURITY_POLICY, p)]);
        match policy {
            Ok(policy) => (headers, policy, self.page.replace(NONCE, &nonce)).into_response(),
            // Not reached: the host was checked and the nonce is base64.
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

/// `GET /graphiql/assets/{name}`: 404 for a name not served (or in production).
pub async fn asset(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    request: HeaderMap,
) -> Response {
    match state.graphiql.and_then(|graphiql| graphiql.asset(&name)) {
        Some(asset) => asset.response(&request),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// What the page may load: its own files and nothing else.
/// - scripts: only this server's files, no inline script, no `eval`;
/// - styles: this server's stylesheets, and the `<style>` element GraphiQL
///   adds when a dialog opens (react-remove-scroll), which carries the
///   page's nonce (set by `tasklane-graphiql.js`): no `'unsafe-inline'`;
///   inline `style` properties that scripts set are not governed by CSP;
/// - fonts: GraphiQL's stylesheet embeds its fonts (Roboto, Fira Code) as
///   `data:` URLs;
/// - images: the stylesheet's few icons are `data:` PNGs, and the page's
///   icon is an empty `data:,` (which spares a request for a favicon);
/// - connections: `/graphql` over HTTP and `/graphql/ws` over WebSocket on
///   this host (`'self'` covers `ws:` and `wss:` in CSP level 3 only, so
///   they are named when the `Host` header is a plain host);
/// - nothing may frame the page, nor a form or `<base>` send it elsewhere.
fn content_security_policy(nonce: &str, host: Option<&str>) -> String {
    let sockets = host
        .filter(|host| is_plain_host(host))
        .map(|host| format!(" ws://{host} wss://{host}"))
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; \
         font-src data:; img-src 'self' data:; connect-src 'self'{sockets}; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// A host name or address with an optional port, nothing that could end
/// a CSP source or directive.
fn is_plain_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_page_names_is_served_under_its_hash() {
        let graphiql = GraphiQL::get();
        let named: Vec<&str> = graphiql
            .page
            .split(ASSETS_PATH)
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert_eq!(named.len(), FILES.len(), "{}", graphiql.page);
        for name in named {
            assert!(graphiql.asset(name).is_some(), "{name} is not served");
            let hash = name.split('.').rev().nth(1).expect("a hash");
            assert_eq!(hash.len(), 16, "{name}");
        }
    }

    #[test]
    fn only_a_plain_host_is_named_in_the_policy() {
        let policy = |host| content_security_policy("n", Some(host));
        assert!(policy("127.0.0.1:8080").contains("ws://127.0.0.1:8080 wss://127.0.0.1:8080;"));
        assert!(policy("[::1]:8080").contains("wss://[::1]:8080;"));
        for bad in ["", "a.example; script-src *", "a b", "user@host", "*"] {
            assert!(
                policy(bad).contains("connect-src 'self'; "),
                "{bad}: {}",
                policy(bad)
            );
        }
    }
}
