//! `UserAttributes`: one Entra user's attributes by Entra name, as a read or a snapshot gives
//! them, held in two allocations — the names with where each value is, then every text value
//! one after another — where a map of JSON values spends one allocation a value. A plan of
//! 100,000 users holds 100,000 of these (some dozen attributes each) until each user is
//! planned: the planner's first touch of a user's attributes is a few cache lines wherever the
//! user sorts, not one line a value scattered through the heap, and letting a user go is two
//! frees, not a dozen. It reads, compares and serializes as the JSON object it stands for.

use std::cell::RefCell;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use crate::field_value::FieldValue;
use crate::json::Unambiguous;
use crate::sorted_map::{KeySeed, Name};

/// An Entra user's attributes: unique names in `str` order, each with its value.
#[derive(Clone, Default)]
pub(crate) struct UserAttributes {
    /// In name order, each name once.
    entries: Box<[(Name, Held)]>,
    /// The text values, one after another: `Held::Text` says where each is.
    text: Box<str>,
}

/// Where an attribute's value is: nearly all are text or a boolean, held without an allocation
/// of their own; 16 bytes (an entry with its name, 24).
#[derive(Clone)]
enum Held {
    /// `text[start..start + len]`.
    Text {
        start: u32,
        len: u32,
    },
    Bool(bool),
    /// Anything else: a number, a list, an object, or null (a snapshot may hold one), or a text
    /// that would take the user's text past 4 GiB.
    Other(Box<Json>),
}

const _: () = assert!(std::mem::size_of::<(Name, Held)>() == 24);

/// One attribute's value, borrowed: a text value as text, anything else as JSON.
#[derive(Clone, Copy, Debug)]
pub(crate) enum AttributeValue<'a> {
    Text(&'a str),
    Json(&'a Json),
}

static TRUE: Json = Json::Bool(true);
static FALSE: Json = Json::Bool(false);

impl<'a> AttributeValue<'a> {
    /// The text, when the value is text.
    pub(crate) fn as_str(self) -> Option<&'a str> {
        match self {
            AttributeValue::Text(text) => Some(text),
            AttributeValue::Json(json) => json.as_str(),
        }
    }

    /// The value as JSON, owned.
    #[cfg(test)]
    pub(crate) fn to_json(self) -> Json {
        match self {
            AttributeValue::Text(text) => Json::String(text.to_owned()),
            AttributeValue::Json(json) => json.clone(),
        }
    }
}

/// Equal when they are the same JSON value.
impl PartialEq for AttributeValue<'_> {
    fn eq(&self, other: &AttributeValue<'_>) -> bool {
        match (self.as_str(), other.as_str()) {
            (Some(a), Some(b)) => a == b,
            (None, None) => match (self, other) {
                (AttributeValue::Json(a), AttributeValue::Json(b)) => a == b,
                _ => false,
            },
            _ => false,
        }
    }
}

impl PartialEq<Json> for AttributeValue<'_> {
    fn eq(&self, other: &Json) -> bool {
        match self {
            AttributeValue::Text(text) => other.as_str() == Some(*text),
            AttributeValue::Json(json) => *json == other,
        }
    }
}

impl Serialize for AttributeValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AttributeValue::Text(text) => serializer.serialize_str(text),
            AttributeValue::Json(json) => json.serialize(serializer),
        }
    }
}

impl UserAttributes {
    /// The value of attribute `name` (exactly as spelled).
    pub(crate) fn get(&self, name: &str) -> Option<AttributeValue<'_>> {
        // A scan comparing lengths first: for a dozen names it rarely compares bytes.
        self.entries
            .iter()
            .find(|(known, _)| **known == *name)
            .map(|(_, held)| self.value(held))
    }

    /// The value of attribute `name`, found by the name's one copy (`Name`'s identity): no
    /// text compared, where `get` compares each name's length and, where that is the same,
    /// its bytes (a plan looks up some sixteen attributes a user).
    pub(crate) fn get_named(&self, name: Name) -> Option<AttributeValue<'_>> {
        self.entries
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, held)| self.value(held))
    }

    /// The text of attribute `name`, when it holds text.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.get(name)?.as_str()
    }

    #[cfg(test)]
    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.entries.iter().any(|(known, _)| **known == *name)
    }

    /// Sets `name` to `value`, as a test changes a user.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, name: Name, value: Json) {
        let others = self
            .iter()
            .filter(|(known, _)| *known != name)
            .map(|(known, held)| (known, held.to_json()));
        *self = others.chain([(name, value)]).collect();
    }

    /// The names and values, in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Name, AttributeValue<'_>)> {
        self.entries
            .iter()
            .map(|(name, held)| (*name, self.value(held)))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn value<'a>(&'a self, held: &'a Held) -> AttributeValue<'a> {
        match held {
            Held::Text { start, len } => {
                let start = *start as usize;
                AttributeValue::Text(&self.text[start..start + *len as usize])
            }
            Held::Bool(true) => AttributeValue::Json(&TRUE),
            Held::Bool(false) => AttributeValue::Json(&FALSE),
            Held::Other(json) => AttributeValue::Json(json),
        }
    }
}

/// What a user's attributes are gathered in before they are made (`Scratch::finish`): one per
/// thread, reused, so that making a user's attributes allocates exactly their two boxes.
#[derive(Default)]
struct Scratch {
    entries: Vec<(Name, Held)>,
    text: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

/// `f` given this thread's scratch, empty (a fresh one should it be in use already). Room past
/// 64 KiB of text or 1,024 entries (a hostile snapshot's user) is not kept for the next user.
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    const TEXT: usize = 64 * 1024;
    const ENTRIES: usize = 1024;
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.entries.clear();
            scratch.text.clear();
            let made = f(&mut scratch);
            scratch.entries.shrink_to(ENTRIES);
            scratch.text.shrink_to(TEXT);
            made
        }
        Err(_) => f(&mut Scratch::default()),
    })
}

impl Scratch {
    /// Where `text`, appended, is held.
    fn text(&mut self, text: &str) -> Held {
        let start = self.text.len();
        match (u32::try_from(start), u32::try_from(start + text.len())) {
            (Ok(at), Ok(end)) => {
                self.text.push_str(text);
                Held::Text {
                    start: at,
                    len: end - at,
                }
            }
            _ => Held::Other(Box::new(Json::String(text.to_owned()))),
        }
    }

    /// Where `value` is held: its text appended when it is text (a null is held as JSON's).
    fn field(&mut self, value: FieldValue) -> Held {
        match value {
            FieldValue::Text(text) => self.text(&text),
            FieldValue::Bool(b) => Held::Bool(b),
            FieldValue::Null => Held::Other(Box::new(Json::Null)),
            FieldValue::Other(other) => Held::Other(other),
        }
    }

    /// The attributes gathered, in name order; of a name given twice, the value given last.
    fn finish(&mut self) -> UserAttributes {
        let entries = &mut self.entries;
        if !entries.is_sorted_by(|a, b| *a.0 < *b.0) {
            // Reversed, then sorted stably, the last of equal names comes first and stays.
            entries.reverse();
            entries.sort_by_key(|entry| entry.0);
            entries.dedup_by(|later, kept| later.0 == kept.0);
        }
        UserAttributes {
            entries: entries.drain(..).collect(),
            text: Box::from(self.text.as_str()),
        }
    }
}

impl FromIterator<(Name, Json)> for UserAttributes {
    /// As a map collects: a later value of a name replaces the earlier.
    fn from_iter<I: IntoIterator<Item = (Name, Json)>>(pairs: I) -> Self {
        pairs
            .into_iter()
            .map(|(name, value)| (name, FieldValue::from(value)))
            .collect()
    }
}

impl FromIterator<(Name, FieldValue)> for UserAttributes {
    /// As a map collects: a later value of a name replaces the earlier. A text is copied from
    /// the value's own room (inline when short), with no `String` of its own on the way.
    fn from_iter<I: IntoIterator<Item = (Name, FieldValue)>>(pairs: I) -> Self {
        with_scratch(|scratch| {
            for (name, value) in pairs {
                let held = scratch.field(value);
                scratch.entries.push((name, held));
            }
            scratch.finish()
        })
    }
}

impl<const N: usize> From<[(Name, Json); N]> for UserAttributes {
    fn from(pairs: [(Name, Json); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// Equal when they hold the same names with the same values (wherever each text is held).
impl PartialEq for UserAttributes {
    fn eq(&self, other: &UserAttributes) -> bool {
        self.entries.len() == other.entries.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for UserAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for UserAttributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (name, value) in self.iter() {
            map.serialize_entry(&*name, &value)?;
        }
        map.end()
    }
}

/// A value read straight into the scratch: text appended to the user's text, a boolean held
/// as one, anything else read as JSON.
struct ValueSeed<'s>(&'s mut Scratch);

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Held;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Held, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Held;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Held, E> {
        Ok(self.0.text(text))
    }

    fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Held, E> {
        Ok(Held::Bool(b))
    }

    fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Held, E> {
        Ok(Held::Other(Box::new(Json::from(n))))
    }

    fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Held, E> {
        Ok(Held::Other(Box::new(Json::from(n))))
    }

    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Held, E> {
        Ok(Held::Other(Box::new(Json::from(n))))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Held, E> {
        Ok(Held::Other(Box::new(Json::Null)))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Held, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Held, D::Error> {
        deserializer.deserialize_any(self)
    }

    // A list or an object is read as JSON none of whose objects names a key twice, as a Graph
    // answer and a Salesforce field value are (helper-81: a snapshot's `identities` kept the
    // last of two `issuer`s).
    fn visit_seq<A: SeqAccess<'de>>(self, items: A) -> Result<Held, A::Error> {
        let list = Unambiguous::deserialize(SeqAccessDeserializer::new(items))?;
        Ok(Held::Other(Box::new(list.0)))
    }

    fn visit_map<A: MapAccess<'de>>(self, entries: A) -> Result<Held, A::Error> {
        let object = Unambiguous::deserialize(MapAccessDeserializer::new(entries))?;
        Ok(Held::Other(Box::new(object.0)))
    }
}

impl<'de> Deserialize<'de> for UserAttributes {
    /// A JSON object, read straight into the two boxes (no `String` a value); a name given
    /// twice is refused where it is given again, as `SortedMap` refuses it.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;
        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = UserAttributes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                with_scratch(|scratch| {
                    // A name after the greatest so far repeats none; only the others are
                    // compared (in a snapshot roster wrote, names come in order).
                    let mut greatest: Option<Name> = None;
                    while let Some(name) =
                        access.next_key_seed(KeySeed::<Name>(std::marker::PhantomData))?
                    {
                        if greatest.is_none_or(|greatest| *greatest < *name) {
                            greatest = Some(name);
                        } else if scratch.entries.iter().any(|(known, _)| *known == name) {
                            return Err(serde::de::Error::custom(crate::json::given_twice(&name)));
                        }
                        let held = access.next_value_seed(ValueSeed(scratch))?;
                        scratch.entries.push((name, held));
                    }
                    Ok(scratch.finish())
                })
            }
        }
        deserializer.deserialize_map(ObjectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{AttributeValue, UserAttributes};
    use crate::sorted_map::{Fields, Name};

    /// Whatever order names come in and whatever they hold, the attributes read, iterate,
    /// compare and serialize as the JSON map they stand for, and read their own JSON back.
    #[test]
    fn behave_as_the_map_of_json_they_replace() {
        let pairs = [
            ("surname", json!("Ng")),
            ("department", json!("Sales")),
            ("accountEnabled", json!(false)),
            ("department", json!("Sales EMEA")),
            ("proxyAddresses", json!(["SMTP:a@x", "smtp:b@x"])),
            ("extension_0123_level", json!(7)),
            ("givenName", json!("")),
            ("mail", json!(null)),
        ];
        let attributes: UserAttributes = pairs
            .iter()
            .map(|(k, v)| (Name::from(*k), v.clone()))
            .collect();
        let map: Fields = pairs
            .iter()
            .map(|(k, v)| (Name::from(*k), v.into()))
            .collect();
        assert_eq!(
            serde_json::to_string(&attributes).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(
            format!("{attributes:?}"),
            r#"{"accountEnabled": Json(Bool(false)), "department": Text("Sales EMEA"), "#
                .to_owned()
                + r#""extension_0123_level": Json(Number(7)), "givenName": Text(""), "mail": Json(Null), "#
                + r#""proxyAddresses": Json(Array [String("SMTP:a@x"), String("smtp:b@x")]), "surname": Text("Ng")}"#
        );
        assert!(
            attributes
                .iter()
                .map(|(k, v)| (k, v.to_json()))
                .eq(map.iter().map(|(k, v)| (*k, v.to_json())))
        );
        assert_eq!(attributes.len(), 7);
        assert_eq!(attributes.text("department"), Some("Sales EMEA"));
        assert_eq!(attributes.text("givenName"), Some(""));
        assert_eq!(attributes.get("accountEnabled").unwrap(), json!(false));
        assert_eq!(attributes.get("extension_0123_level").unwrap(), json!(7));
        assert_eq!(attributes.text("extension_0123_level"), None);
        assert_eq!(attributes.get("Department"), None);
        // Found by the name's one copy, however the name was made (a document's, a config's).
        for (name, value) in attributes.iter() {
            assert_eq!(
                attributes.get_named(Name::from(&*name.to_string())),
                Some(value)
            );
        }
        assert_eq!(attributes.get_named(Name::from("Department")), None);
        assert!(attributes.contains_key("mail"));
        let again: UserAttributes =
            serde_json::from_str(&serde_json::to_string(&attributes).unwrap()).unwrap();
        assert_eq!(again, attributes);
        assert_eq!(again.get("mail"), Some(AttributeValue::Json(&json!(null))));
    }

    /// Two users' attributes are equal exactly when their values are, wherever each text is
    /// held: one read in another order lays its text out otherwise.
    #[test]
    fn equal_by_value_wherever_the_text_is_held() {
        let read = |text: &str| serde_json::from_str::<UserAttributes>(text).unwrap();
        let one = read(r#"{"surname": "Ng", "givenName": "Ann"}"#);
        let other = read(r#"{"givenName": "Ann", "surname": "Ng"}"#);
        assert_eq!(one, other);
        assert_ne!(one, read(r#"{"givenName": "Ann", "surname": "Ngo"}"#));
        assert_ne!(one, read(r#"{"givenName": "Ann"}"#));
        assert_ne!(read(r#"{"surname": "true"}"#), read(r#"{"surname": true}"#));
    }

    /// A name given twice in a snapshot is refused, naming it: which of the two values a reader
    /// keeps is not defined (RFC 8259, section 4).
    #[test]
    fn a_name_given_twice_is_refused() {
        let error = serde_json::from_str::<UserAttributes>(
            r#"{"surname": "Ng", "givenName": "Ann", "surname": "Ngo"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(error.contains("surname"), "{error}");
        assert!(serde_json::from_str::<UserAttributes>(r#"["surname"]"#).is_err());
        // At any depth: a list's object, an object's (helper-81).
        for text in [
            r#"{"identities": [{"issuer": "contoso.com", "issuer": "evil.com"}]}"#,
            r#"{"extension_0123_x": {"a": {"k": 1, "k": 2}}}"#,
        ] {
            let error = serde_json::from_str::<UserAttributes>(text)
                .unwrap_err()
                .to_string();
            assert!(error.contains("is given twice"), "{text}: {error}");
        }
    }
}
