//! Response helpers shared by the emulated APIs: JSON bodies and each API's error shape.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    json_text_response(status, body.to_string())
}

/// A response of JSON already written as text (keys in the order the API writes them).
pub(crate) fn json_text_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    response
}

/// Salesforce's error body: a JSON array of `{message, errorCode, fields?}`.
pub(crate) fn salesforce_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(status, &json!([{"message": message, "errorCode": code}]))
}

/// Microsoft Graph's error body.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message, "innerError": {"date": "2026-01-01T00:00:00", "request-id": "00000000-0000-0000-0000-000000000000", "client-request-id": "00000000-0000-0000-0000-000000000000"}}}),
    )
}

/// An OAuth token endpoint error (both Entra and Salesforce use this shape).
pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// Form fields of an `application/x-www-form-urlencoded` body.
pub(crate) fn form(body: &[u8]) -> Vec<(String, String)> {
    url_pairs(&String::from_utf8_lossy(body))
}

/// Decodes `a=b&c=d` pairs (`+` is a space).
pub(crate) fn url_pairs(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub(crate) fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 3 <= bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        let pairs = url_pairs("q=SELECT+Id%2C+Name+FROM+User&x=%zz&y=%4");
        assert_eq!(param(&pairs, "q"), Some("SELECT Id, Name FROM User"));
        assert_eq!(param(&pairs, "x"), Some("%zz"));
        assert_eq!(param(&pairs, "y"), Some("%4"));
    }
}
