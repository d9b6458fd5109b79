//! `FieldValue`: one field's value in `Fields` (a Salesforce record's, a Graph object's, a
//! plan change's `before` and `after`), as the JSON value it stands for. Nearly every value is
//! a short text or a boolean: a text of up to 24 bytes is held inline, where a JSON string
//! holds every text in an allocation of its own. A plan of 100,000 creates holds some 1.5
//! million values, most of them as short as a first name, an Alias, an 18-character id or
//! `en_US`; each was an allocation made, and freed again with the plan.

use std::fmt;

use compact_str::CompactString;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::json::Unambiguous;

/// A JSON value as a field holds it: 24 bytes (a JSON value takes 32), a text of up to 24
/// bytes without an allocation. Reads, compares and serializes as the JSON value it stands
/// for; `Other` never holds a string, a boolean or null, so two equal values are always the
/// same variant.
#[derive(Clone, PartialEq, Default)]
pub(crate) enum FieldValue {
    /// JSON's `null`: a field cleared, or one a record does not fill.
    #[default]
    Null,
    Bool(bool),
    Text(CompactString),
    /// A number, a list or an object.
    Other(Box<Json>),
}

const _: () = assert!(std::mem::size_of::<FieldValue>() == 24);

impl FieldValue {
    /// The text, when the value is text.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The boolean, when the value is one.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            FieldValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether the value is JSON's `null`.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, FieldValue::Null)
    }

    /// The JSON value this stands for, owned.
    pub(crate) fn to_json(&self) -> Json {
        match self {
            FieldValue::Null => Json::Null,
            FieldValue::Bool(b) => Json::Bool(*b),
            FieldValue::Text(text) => Json::String(text.as_str().to_owned()),
            FieldValue::Other(json) => (**json).clone(),
        }
    }

    /// The JSON value, borrowed where it is held as one (`Other`): what a number, list or
    /// object is compared and shown as.
    pub(crate) fn as_other(&self) -> Option<&Json> {
        match self {
            FieldValue::Other(json) => Some(json),
            _ => None,
        }
    }
}

impl From<Json> for FieldValue {
    fn from(value: Json) -> FieldValue {
        match value {
            Json::Null => FieldValue::Null,
            Json::Bool(b) => FieldValue::Bool(b),
            Json::String(text) => FieldValue::Text(CompactString::from(text)),
            other => FieldValue::Other(Box::new(other)),
        }
    }
}

impl From<&Json> for FieldValue {
    fn from(value: &Json) -> FieldValue {
        match value {
            Json::Null => FieldValue::Null,
            Json::Bool(b) => FieldValue::Bool(*b),
            Json::String(text) => FieldValue::from(text.as_str()),
            other => FieldValue::Other(Box::new(other.clone())),
        }
    }
}

impl From<String> for FieldValue {
    fn from(text: String) -> FieldValue {
        FieldValue::Text(CompactString::from(text))
    }
}

impl From<&str> for FieldValue {
    fn from(text: &str) -> FieldValue {
        FieldValue::Text(CompactString::from(text))
    }
}

impl From<bool> for FieldValue {
    fn from(b: bool) -> FieldValue {
        FieldValue::Bool(b)
    }
}

impl From<FieldValue> for Json {
    fn from(value: FieldValue) -> Json {
        match value {
            FieldValue::Null => Json::Null,
            FieldValue::Bool(b) => Json::Bool(b),
            FieldValue::Text(text) => Json::String(text.into_string()),
            FieldValue::Other(json) => *json,
        }
    }
}

impl PartialEq<Json> for FieldValue {
    fn eq(&self, other: &Json) -> bool {
        match (self, other) {
            (FieldValue::Null, Json::Null) => true,
            (FieldValue::Bool(a), Json::Bool(b)) => a == b,
            (FieldValue::Text(a), Json::String(b)) => a == b,
            (FieldValue::Other(a), b) => **a == *b,
            _ => false,
        }
    }
}

impl PartialEq<FieldValue> for Json {
    fn eq(&self, other: &FieldValue) -> bool {
        other == self
    }
}

/// Text equals text as `serde_json::Value`'s does (`after["Title"] == "Manager"`).
impl PartialEq<str> for FieldValue {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for FieldValue {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<String> for FieldValue {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl PartialEq<bool> for FieldValue {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

/// As the JSON value's (`String("Ng")`, `Bool(true)`, `Null`, `Number(7)`).
impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Null => f.write_str("Null"),
            FieldValue::Bool(b) => write!(f, "Bool({b})"),
            FieldValue::Text(text) => write!(f, "String({:?})", text.as_str()),
            FieldValue::Other(json) => fmt::Debug::fmt(json, f),
        }
    }
}

/// As the JSON value's: its JSON text (`"Ng"`, `true`, `null`, `7`).
impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Null => f.write_str("null"),
            FieldValue::Bool(b) => write!(f, "{b}"),
            FieldValue::Text(text) => {
                let quoted = serde_json::to_string(text.as_str()).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
            FieldValue::Other(json) => fmt::Display::fmt(json, f),
        }
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            FieldValue::Null => serializer.serialize_unit(),
            FieldValue::Bool(b) => serializer.serialize_bool(*b),
            FieldValue::Text(text) => serializer.serialize_str(text),
            FieldValue::Other(json) => json.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    /// Any JSON value, a text read straight into its inline or heap room (no `String` first
    /// for a short one).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<FieldValue, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = FieldValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<FieldValue, E> {
        Ok(FieldValue::from(text))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<FieldValue, E> {
        Ok(FieldValue::from(text))
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<FieldValue, E> {
        Ok(FieldValue::Bool(b))
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<FieldValue, E> {
        Ok(FieldValue::Other(Box::new(Json::from(n))))
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<FieldValue, E> {
        Ok(FieldValue::Other(Box::new(Json::from(n))))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<FieldValue, E> {
        // As serde_json reads one: a number that is not finite is null.
        Ok(FieldValue::from(Json::from(n)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<FieldValue, E> {
        Ok(FieldValue::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<FieldValue, D::Error> {
        deserializer.deserialize_any(self)
    }

    // A list or an object is read as JSON none of whose objects names a key twice: which of
    // two values was meant cannot be told (a field's own name given twice is refused by the
    // map that holds it).
    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<FieldValue, A::Error> {
        let list = Unambiguous::deserialize(SeqAccessDeserializer::new(items))?;
        Ok(FieldValue::Other(Box::new(list.0)))
    }

    fn visit_map<A: MapAccess<'de>>(self, entries: A) -> Result<FieldValue, A::Error> {
        let object = Unambiguous::deserialize(MapAccessDeserializer::new(entries))?;
        Ok(FieldValue::Other(Box::new(object.0)))
    }
}

/// Any JSON value, as `serde_json::Value`'s schema says.
impl schemars::JsonSchema for FieldValue {
    fn inline_schema() -> bool {
        <Json as schemars::JsonSchema>::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <Json as schemars::JsonSchema>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <Json as schemars::JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value as Json, json};

    use super::FieldValue;

    /// Every kind of JSON value a field holds reads, writes, shows and compares as that JSON
    /// value: texts short enough to be held inline and longer ones, checkboxes, null, numbers
    /// (a `u64` past `i64`, a float), lists and objects.
    #[test]
    fn stands_for_the_json_value_it_holds() {
        let values = [
            json!("Ng"),
            json!(""),
            json!("a text of more than twenty-four bytes, held apart: é"),
            json!(true),
            json!(false),
            json!(null),
            json!(7),
            json!(18_446_744_073_709_551_615u64),
            json!(-2.5),
            json!(["a", 1, null]),
            json!({"b": [true, {"c": "d"}]}),
        ];
        for json in values {
            let text = json.to_string();
            let read: FieldValue = serde_json::from_str(&text).unwrap();
            assert_eq!(read, FieldValue::from(json.clone()), "{text}");
            assert_eq!(read, FieldValue::from(&json), "{text}");
            assert_eq!(read, json, "{text}");
            assert_eq!(read.to_json(), json, "{text}");
            assert_eq!(Json::from(read.clone()), json, "{text}");
            assert_eq!(serde_json::to_string(&read).unwrap(), text);
            assert_eq!(read.to_string(), text);
            assert_eq!(format!("{read:?}"), format!("{json:?}"));
            assert_eq!(read.as_str(), json.as_str(), "{text}");
            assert_eq!(read.as_bool(), json.as_bool(), "{text}");
            assert_eq!(read.is_null(), json.is_null(), "{text}");
            let other = matches!(json, Json::Number(_) | Json::Array(_) | Json::Object(_));
            assert_eq!(read.as_other(), other.then_some(&json), "{text}");
        }
        assert_ne!(FieldValue::from("true"), FieldValue::Bool(true));
        assert_ne!(FieldValue::from("7"), json!(7));
        assert_eq!(FieldValue::from("Ng"), "Ng");
        assert_eq!(FieldValue::Bool(true), true);
    }

    /// A list's or an object's key given twice is refused at any depth: which value was meant
    /// cannot be told.
    #[test]
    fn a_key_given_twice_inside_a_value_is_refused() {
        for text in [r#"{"a": 1, "a": 2}"#, r#"[{"b": {"c": 1, "c": 1}}]"#] {
            let e = serde_json::from_str::<FieldValue>(text).unwrap_err();
            assert!(e.to_string().contains("is given twice"), "{text}: {e}");
        }
    }
}
