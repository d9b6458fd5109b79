//! JSON read strictly: a document none of whose objects names a key twice. serde_json keeps a
//! repeated key's last value, other readers its first, so a document that does is read as
//! neither: RFC 8259, section 4 — names "SHOULD be unique", and when they are not, "the
//! behavior of software that receives such an object is unpredictable".

use serde_json::Value;

/// `text` as a JSON value, refused (with the line and column, as any syntax error) where an
/// object names a key twice: `the key "a" is given twice at line 1 column 15`.
///
/// # Errors
/// serde_json's, for text that is not JSON or names a key twice in one object.
pub(crate) fn unambiguous(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<Unambiguous>(text).map(|Unambiguous(value)| value)
}

/// `unambiguous` of text as bytes (an HTTP reply's body).
///
/// # Errors
/// serde_json's, for bytes that are not JSON (or not UTF-8) or name a key twice in one object.
pub(crate) fn unambiguous_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    serde_json::from_slice::<Unambiguous>(bytes).map(|Unambiguous(value)| value)
}

/// serde_json's message for `e` without the " at line L column C" it ends with, for a caller
/// that names the place itself (`file:line:col`, `place`). The last such suffix goes: a key
/// quoted in the message may hold the words too.
/// The refusal of `key` given twice in one object, in the words every reader of roster's uses
/// (the strict reader here, `SortedMap`'s, serde's own "duplicate field" reworded, the
/// import's secrets): `the key "id" is given twice`.
pub(crate) fn given_twice(key: &str) -> String {
    format!("the key {} is given twice", crate::render::quoted(key))
}

/// serde's own "duplicate field `id`" (a struct's field given twice) is put as the strict
/// reader puts any key given twice: `the key "id" is given twice`.
pub(crate) fn reason(e: &serde_json::Error) -> String {
    let message = e.to_string();
    let reason = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(reason, _)| reason);
    match reason
        .strip_prefix("duplicate field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        Some(field) => given_twice(field),
        None => reason.to_owned(),
    }
}

/// Where serde_json stopped in `text`, as (line, column), both from 1, the column in characters
/// as an editor counts them (serde_json counts bytes: `é` is two): at the start of a line (a
/// file that ends early, an empty one), serde counts column 0. Line 0 is an error with no place
/// (I/O). A missing field is found at the end of the object that lacks it; its place is that
/// object's opening brace, where a reader looks for the object.
pub(crate) fn place(text: &[u8], e: &serde_json::Error) -> (usize, usize) {
    if e.line() == 0 {
        return (0, 1);
    }
    let line_start = text
        .split_inclusive(|&b| b == b'\n')
        .take(e.line().saturating_sub(1))
        .map(<[u8]>::len)
        .sum::<usize>();
    let at = (line_start + e.column().saturating_sub(1)).min(text.len());
    let at = match e.classify() {
        serde_json::error::Category::Data if e.to_string().starts_with("missing field `") => {
            opening_brace(text, at).unwrap_or(at)
        }
        _ => at,
    };
    let before = &text[..at];
    let line = before.split(|&b| b == b'\n').count();
    let start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |newline| newline + 1);
    // Every byte that does not continue a UTF-8 sequence begins a character.
    let column = before[start..]
        .iter()
        .filter(|&&b| b & 0xC0 != 0x80)
        .count();
    (line, column + 1)
}

/// The offset of the `{` that the `}` at `close` ends, read from the start (strings and their
/// escapes skipped); `None` when `close` is no closing brace.
fn opening_brace(text: &[u8], close: usize) -> Option<usize> {
    if text.get(close) != Some(&b'}') {
        return None;
    }
    let mut open = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    for (i, &b) in text[..close].iter().enumerate() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') | (false, _, b'"') => in_string = !in_string,
            (false, _, b'{') => open.push(i),
            (false, _, b'}') => {
                open.pop();
            }
            _ => {}
        }
    }
    open.pop()
}

/// A JSON value none of whose objects names a key twice.
pub(crate) struct Unambiguous(pub(crate) Value);

impl<'de> serde::Deserialize<'de> for Unambiguous {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(UnambiguousVisitor)
            .map(Unambiguous)
    }
}

struct UnambiguousVisitor;

impl<'de> serde::de::Visitor<'de> for UnambiguousVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unambiguous(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(given_twice(&key)));
            }
            let Unambiguous(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    /// A key given twice is refused where the second ends; the reason keeps the whole key even
    /// when the key holds the words serde's place starts with, and an empty document's column
    /// counts from 1.
    #[test]
    fn a_key_given_twice_is_refused_at_its_place_with_its_whole_name() {
        let text = "{\"x at line 9\": 1,\n \"x at line 9\": 2}";
        let e = super::unambiguous(text).unwrap_err();
        assert_eq!(super::reason(&e), "the key \"x at line 9\" is given twice");
        assert_eq!(super::place(text.as_bytes(), &e), (2, 14));
        let e = super::unambiguous("").unwrap_err();
        assert_eq!(super::place(b"", &e), (1, 1));
        // Columns count characters, as an editor shows them, not bytes (serde_json's count).
        let text = "{\"é\": 1,\n \"日本\": 1, \"日本\": 2}";
        let e = super::unambiguous(text).unwrap_err();
        assert_eq!(e.column(), 22, "serde_json counts bytes");
        assert_eq!(super::place(text.as_bytes(), &e), (2, 14));
        assert!(super::unambiguous("{\"a\": {\"b\": 1}, \"b\": [{\"a\": 1}]}").is_ok());
    }

    /// A missing field is placed at the opening brace of the object that lacks it, not at its
    /// end (for a plan, the end of a 100 MB file): braces inside strings, escaped quotes
    /// among them, are not counted.
    #[test]
    fn a_missing_field_is_placed_where_its_object_opens() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Inner {
            a: String,
            b: u32,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            items: Vec<Inner>,
            summary: u32,
        }
        let text = "{\n  \"items\": [\n    {\"a\": \"}\", \"b\": 1},\n    {\"a\": \"\\\"{\"\n    }\n  ]\n}";
        let e = serde_json::from_str::<Outer>(text).unwrap_err();
        assert!(e.to_string().starts_with("missing field `b`"), "{e}");
        assert_eq!(super::place(text.as_bytes(), &e), (4, 5));
        let text = "{\n  \"items\": []\n}";
        let e = serde_json::from_str::<Outer>(text).unwrap_err();
        assert!(e.to_string().starts_with("missing field `summary`"), "{e}");
        assert_eq!(super::place(text.as_bytes(), &e), (1, 1));
    }
}
