//! What an expression evaluates to, and what it reads. Entra keeps four outcomes apart: a
//! value, null (nothing flows; a mapping's default may apply on create), "ignore this flow"
//! (`IgnoreFlowIfNullOrEmpty`, `IgnoreAttributeFlow`: the attribute is dropped) and "ignore this
//! object" (`IgnoreObjectFlow`: the user is skipped). Booleans are the strings "True" and
//! "False", as in Entra.

use crate::sorted_map::Name;
use std::collections::BTreeMap;

/// An expression's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Str(String),
    Multi(Vec<String>),
    /// Drop the attribute from the flow.
    Ignore,
    /// Skip the whole user in this run (`IgnoreObjectFlow`).
    IgnoreObject,
    /// A date-time, as `CDate`, `DateAdd`, `DateFromNum` and `Now` give it: `FormatDateTime`,
    /// `DateDiff`, `DateAdd` and `NumFromDate` take it as it is, whatever input format they
    /// name; anywhere else it is its text, `M/d/yyyy h:mm:ss tt` (UTC), as Entra documents.
    Date(super::DateTime),
}

impl Value {
    pub(crate) fn bool(b: bool) -> Value {
        Value::Str(if b { "True" } else { "False" }.to_owned())
    }

    /// Null, an empty string, or no values.
    pub(crate) fn is_null_or_empty(&self) -> bool {
        match self {
            Value::Null | Value::Ignore | Value::IgnoreObject => true,
            Value::Str(s) => s.is_empty(),
            Value::Multi(v) => v.is_empty(),
            Value::Date(_) => false,
        }
    }

    /// A date-time flows as text (`M/d/yyyy h:mm:ss tt`); every other value is itself.
    pub(crate) fn flowed(self) -> Value {
        match self {
            Value::Date(d) => Value::Str(super::dates::format_general(d)),
            other => other,
        }
    }

    /// The value as JSON: a string, an array of strings, or null (null also for both ignores).
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Ignore | Value::IgnoreObject => serde_json::Value::Null,
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Multi(v) => v.iter().cloned().map(serde_json::Value::String).collect(),
            Value::Date(d) => serde_json::Value::String(super::dates::format_general(*d)),
        }
    }

    /// Reads an attribute value from JSON input: a string, an array of strings, or null.
    /// Numbers and booleans are accepted as their text, as Graph values flow as strings.
    pub(crate) fn from_json(json: &serde_json::Value) -> Result<Value, String> {
        match json {
            serde_json::Value::Null => Ok(Value::Null),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|item| scalar_text(item).ok_or_else(|| ARRAY_ITEMS.to_owned()))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Multi),
            other => scalar_text(other)
                .map(Value::Str)
                .ok_or_else(|| "expected a string, an array of strings, or null".to_owned()),
        }
    }
}

/// Why an array's item is refused: a multi-valued attribute's values are text, and a null or
/// a nested value has none.
pub(crate) const ARRAY_ITEMS: &str = "an array's items are strings (a number or a boolean is \
                                      read as its text), never null, an array or an object";

/// A single JSON value as Entra's text: a string as it is, a boolean as Entra writes one
/// (`True`, `False`), a number as serde prints it; none for anything else.
pub(crate) fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Where attribute values come from: a source user, or `roster expr`'s input. Names are the
/// interned ones an expression holds: a source user finds its attribute by the name's one copy.
pub(crate) trait Attributes {
    /// The attribute's value; `Value::Null` when absent. Never `Ignore` or `IgnoreObject`:
    /// those are outcomes of functions, not values an attribute holds.
    fn attribute(&self, name: Name) -> Value;

    /// The attribute's text, borrowed, when it holds one string as it is (`attribute` gives
    /// `Value::Str` of the same text); `None` to let `attribute` say what it holds. Functions
    /// that read an attribute's text (`Append`, `Join`, `Left`) then make no copy of it: a
    /// plan of 100,000 users evaluates hundreds of thousands.
    fn text(&self, _name: Name) -> Option<&str> {
        None
    }
}

impl Attributes for BTreeMap<String, Value> {
    /// Exactly as named: Entra's attribute names are case-sensitive (`roster expr` refuses
    /// `[JobTitle]` as `validate` does, naming Graph's spelling).
    fn attribute(&self, name: Name) -> Value {
        self.get(&*name).cloned().unwrap_or(Value::Null)
    }
}
