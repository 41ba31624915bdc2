//! A GraphQL response written as JSON: byte for byte what `serde_json`
//! writes for it, with less work per value. A page of a nested query is
//! about two thousand short strings (keys, ids, titles, enum values), and
//! `serde_json` escapes each one byte by byte, through its generic
//! serializer and a writer call per piece; here a string is tested for
//! anything to escape eight bytes at a time and, in the usual case of
//! nothing, copied at once. Whatever is rare (a string to escape, numbers,
//! bytes, a response with errors or extensions) is left to `serde_json`
//! itself, so the output is the same.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_graphql::{Response, Value};

/// The size of the last response body: the next one's buffer starts that
/// large (at most `LARGEST`), rather than growing by doubling and copying.
#[derive(Default)]
pub struct SizeHint(AtomicUsize);

impl SizeHint {
    const LARGEST: usize = 1 << 20;

    /// An empty buffer with room for a body like the last one.
    pub fn buffer(&self) -> Vec<u8> {
        Vec::with_capacity(self.0.load(Ordering::Relaxed))
    }

    pub fn record(&self, body: &[u8]) {
        self.0
            .store(body.len().min(Self::LARGEST), Ordering::Relaxed);
    }
}

/// Appends `response` as JSON to `out`.
pub fn write_response(response: &Response, out: &mut Vec<u8>) -> serde_json::Result<()> {
    if !response.errors.is_empty() || !response.extensions.is_empty() {
        return serde_json::to_writer(out, response);
    }
    out.extend_from_slice(b"{\"data\":");
    write_value(&response.data, out)?;
    out.push(b'}');
    Ok(())
}

/// Appends `value` as JSON to `out`.
pub fn write_value(value: &Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::String(text) => write_str(text, out)?,
        Value::Enum(name) => write_str(name, out)?,
        Value::List(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(fields) => {
            out.push(b'{');
            for (i, (key, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out)?;
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
        Value::Number(_) | Value::Binary(_) => serde_json::to_writer(&mut *out, value)?,
    }
    Ok(())
}

fn write_str(text: &str, out: &mut Vec<u8>) -> serde_json::Result<()> {
    if needs_escape(text.as_bytes()) {
        return serde_json::to_writer(out, text);
    }
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
    Ok(())
}

/// Whether JSON must escape a byte of `bytes`: a quote, a backslash or a
/// control character (below 0x20), as `serde_json` does; never wrong when
/// it says no, and a rare yes only costs the slower path.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is zero (below `n`): the classic word-at-a-time tests.
    let any_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let any_below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let x = u64::from_ne_bytes(eight);
        if any_below(x, 0x20)
            || any_zero(x ^ (ONES * u64::from(b'"')))
            || any_zero(x ^ (ONES * u64::from(b'\\')))
        {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use async_graphql::indexmap::IndexMap;
    use async_graphql::{Name, ServerError};

    use super::*;

    fn same(value: &Value) {
        let mut ours = Vec::new();
        write_value(value, &mut ours).expect("writes");
        let theirs = serde_json::to_vec(value).expect("serde_json writes");
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs)
        );
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = [
            "",
            "plain",
            "exactly8",
            "a UUID 74148759-6e78-4a49-9d5b-4e32d022bb85",
            "quote \" inside",
            "back\\slash",
            "tab\tnew\nline\r",
            "\u{0}\u{1}\u{1f} controls",
            "\u{7f} delete is not escaped",
            "naïve ✓ emoji 🎉 and \u{2028} separators",
            "</script><b>markup</b>",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Every position of an escape within and across eight-byte words.
        for at in 0..20 {
            for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', ' ', '~', 'é'] {
                let mut text: String = "x".repeat(20);
                text.insert(at, special);
                texts.push(text);
            }
        }
        for text in texts {
            same(&Value::String(text.clone()));
            same(&Value::Enum(Name::new(&text)));
        }
    }

    #[test]
    fn every_kind_of_value_is_written_as_serde_json_writes_it() {
        let mut inner = IndexMap::new();
        inner.insert(Name::new("id"), Value::from("t-1"));
        inner.insert(Name::new("count"), Value::from(-42));
        inner.insert(Name::new("ratio"), Value::from(0.1 + 0.2));
        inner.insert(Name::new("big"), Value::from(u64::MAX));
        inner.insert(Name::new("done"), Value::Boolean(true));
        inner.insert(Name::new("off"), Value::Boolean(false));
        inner.insert(Name::new("none"), Value::Null);
        inner.insert(
            Name::new("tags"),
            Value::List(vec!["a".into(), "b\"".into()]),
        );
        inner.insert(Name::new("empty"), Value::List(vec![]));
        inner.insert(Name::new("bytes"), Value::Binary(vec![0, 1, 255].into()));
        inner.insert(Name::new("nested"), Value::Object(IndexMap::new()));
        let mut outer = IndexMap::new();
        outer.insert(Name::new("node"), Value::Object(inner));
        outer.insert(Name::new("status"), Value::Enum(Name::new("IN_PROGRESS")));
        same(&Value::List(vec![Value::Object(outer), Value::Null]));
    }

    #[test]
    fn a_response_is_written_as_serde_json_writes_it() {
        let mut data = IndexMap::new();
        data.insert(Name::new("me"), Value::from("x"));
        let ok = Response::new(Value::Object(data.clone()));
        let failed = Response::from_errors(vec![ServerError::new("no \"way\"", None)]);
        let extended = Response::new(Value::Object(data)).extension("cost", Value::from(3));
        for response in [ok, failed, extended, Response::new(Value::Null)] {
            let mut ours = Vec::new();
            write_response(&response, &mut ours).expect("writes");
            assert_eq!(
                ours,
                serde_json::to_vec(&response).expect("serde_json writes")
            );
        }
    }
}
