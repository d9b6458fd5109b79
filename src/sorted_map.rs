//! `Fields`: a user's field values by Salesforce API name, in name order, held as one sorted
//! vector. A plan of 100,000 creates holds 100,000 of these: a `BTreeMap` spends about three
//! nodes (some 1.7 KB) on a user's fifteen fields where this spends one allocation of exactly
//! their size. It reads, iterates, compares and serializes as the `BTreeMap<Arc<str>, Value>`
//! it replaces (the same JSON object, keys in the same order).

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Field name to value, unique names in `str` order. Names are shared (`Name`): the plan
/// holds each mapped field's name once.
pub(crate) type Fields = SortedMap<Name, crate::field_value::FieldValue>;

/// A field's name, interned: one pointer (an `Arc<str>` is two), and copied without a
/// reference count. A plan of 100,000 creates holds a million and a half field names; counting
/// each copy was an atomic add and subtract apiece, each waiting for the stores before it (some
/// 3 % of the planner's CPU, measured). Names are never freed: a roster process meets the few
/// dozen its config, org and Entra name, or the keys of the documents it reads, which it holds
/// anyway.
#[derive(Clone, Copy, Eq, PartialOrd, Ord)]
#[expect(
    clippy::borrowed_box,
    reason = "a reference to the box is one pointer; to the `str`, two"
)]
pub(crate) struct Name(&'static Box<str>);

/// Two `Name`s are the same name exactly when they are the one copy (`Name::address`): no
/// text compared. (Ordered by their text, as a `str` is.)
impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

/// Hashed as its text, as `Borrow<str>` asks: a map of `Name`s is looked up by `&str`.
impl std::hash::Hash for Name {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (**self.0).hash(state);
    }
}

impl Name {
    /// The one `Name` of `name` in this process.
    fn interned(name: &str) -> Name {
        static NAMES: std::sync::LazyLock<std::sync::Mutex<crate::hash::HashSet<Name>>> =
            std::sync::LazyLock::new(std::sync::Mutex::default);
        // A panic while the set is locked leaves it whole: no insert is half done.
        let mut names = crate::concurrent::lock(&NAMES);
        if let Some(known) = names.get(name) {
            return *known;
        }
        let made = Name(Box::leak(Box::new(Box::from(name))));
        names.insert(made);
        made
    }

    /// The name's text, which lives as long as the process.
    pub(crate) fn as_str(self) -> &'static str {
        self.0
    }

    /// Where this name's one copy lives: two `Name`s are the same name exactly when their
    /// addresses are equal, so a map keyed by the address hashes a number, not the text.
    pub(crate) fn address(self) -> usize {
        std::ptr::from_ref::<Box<str>>(self.0).addr()
    }
}

impl std::ops::Deref for Name {
    type Target = str;

    fn deref(&self) -> &str {
        self.0
    }
}

impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.0
    }
}

impl AsRef<str> for Name {
    fn as_ref(&self) -> &str {
        self.0
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Name {
        Name::interned(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Name {
        Name::interned(&name)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // As `str` does: width, fill and alignment apply.
        f.pad(self)
    }
}

/// Gives back `items`' spare room when it is more than an eighth of the room: jemalloc's size
/// classes are an eighth to a quarter apart, so less would rarely free a byte, and the
/// reallocation that finds out costs some 400 instructions (two a change, 200,000 for a plan of
/// 100,000 users).
pub(crate) fn shrink_if_loose<T>(items: &mut Vec<T>) {
    if items.capacity() - items.len() > items.capacity() / 8 {
        items.shrink_to_fit();
    }
}

/// A map with text keys as one sorted vector: unique keys in `str` order (a `BTreeMap`'s
/// order), found by binary search. For the small maps a plan holds one of per user.
#[derive(Clone, PartialEq)]
pub(crate) struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Borrow<str>, V> SortedMap<K, V> {
    pub(crate) const fn new() -> Self {
        SortedMap(Vec::new())
    }

    /// An empty map with room for `n` entries.
    pub(crate) fn with_capacity(n: usize) -> Self {
        SortedMap(Vec::with_capacity(n))
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(name))
    }

    /// Where `name` is: a scan comparing lengths first, which for the dozen or so fields of a
    /// user rarely compares bytes at all (a binary search orders every key it meets).
    fn find(&self, name: &str) -> Option<usize> {
        self.0.iter().position(|(k, _)| k.borrow() == name)
    }

    /// The value of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        self.find(name).map(|i| &self.0[i].1)
    }

    /// The value of `name`, to change.
    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut V> {
        self.find(name).map(|i| &mut self.0[i].1)
    }

    pub(crate) fn contains_key(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// Sets `name` to `value`; the value it replaces, if any.
    pub(crate) fn insert(&mut self, name: K, value: V) -> Option<V> {
        match self.position(name.borrow()) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (name, value));
                None
            }
        }
    }

    /// Sets `name`, which sorts at or after every name already here, to `value`: for a map
    /// built in name order, without searching. A name equal to the last replaces its value.
    ///
    /// # Panics
    /// In debug builds, when `name` sorts before the last name.
    pub(crate) fn push_in_order(&mut self, name: K, value: V)
    where
        K: PartialEq,
    {
        match self.0.last_mut() {
            Some((last, v)) if *last == name => *v = value,
            last => {
                debug_assert!(
                    last.is_none_or(|(l, _)| (*l).borrow() < name.borrow()),
                    "{:?} pushed out of order",
                    name.borrow()
                );
                self.0.push((name, value));
            }
        }
    }

    /// Takes `name` out; its value, if it was there.
    pub(crate) fn remove(&mut self, name: &str) -> Option<V> {
        self.find(name).map(|i| self.0.remove(i).1)
    }

    /// The names and values, in name order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> + Clone {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub(crate) fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + Clone {
        self.0.iter().map(|(k, _)| k)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Gives back the room inserts left over (`shrink_if_loose`): for fields kept for the rest
    /// of the plan.
    pub(crate) fn shrink_to_fit(&mut self) {
        shrink_if_loose(&mut self.0);
    }
}

impl<K: Borrow<str>, V> std::ops::Index<&str> for SortedMap<K, V> {
    type Output = V;

    /// As a map indexes: the value of `name`, which must be there.
    fn index(&self, name: &str) -> &V {
        match self.get(name) {
            Some(value) => value,
            None => panic!("no key {name:?} in the map"),
        }
    }
}

impl<'a, K, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<K: Borrow<str>, V> FromIterator<(K, V)> for SortedMap<K, V> {
    /// As a map collects: a later value of a name replaces the earlier. The pairs are gathered,
    /// then ordered once: inserting each in place would move the ones after it, and n names (a
    /// malformed or hostile document can have 100,000) would take n² moves.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut pairs: Vec<(K, V)> = pairs.into_iter().collect();
        if !pairs.is_sorted_by(|a, b| a.0.borrow() < b.0.borrow()) {
            // Reversed, then sorted stably, the last of equal names comes first and stays.
            pairs.reverse();
            pairs.sort_by(|a, b| a.0.borrow().cmp(b.0.borrow()));
            pairs.dedup_by(|later, kept| later.0.borrow() == kept.0.borrow());
        }
        SortedMap(pairs)
    }
}

impl<K: Borrow<str>, V, const N: usize> From<[(K, V); N]> for SortedMap<K, V> {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Borrow<str>, V: Serialize> Serialize for SortedMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.borrow(), v)?;
        }
        map.end()
    }
}

/// A key made from a name read from a document.
pub(crate) trait Key: Borrow<str> {
    /// The key of `name`, copied only when no key of it is shared yet.
    fn from_name(name: &str) -> Self;
}

impl<K: Key, V> SortedMap<K, V> {
    /// A map of `pairs` as a document names them: each name made a key as reading a document
    /// makes it (`Arc<str>` names shared between maps), the room fitted to the entries.
    pub(crate) fn from_names(pairs: impl IntoIterator<Item = (String, V)>) -> Self {
        let mut map: SortedMap<K, V> = pairs
            .into_iter()
            .map(|(name, value)| (K::from_name(&name), value))
            .collect();
        map.shrink_to_fit();
        map
    }
}

impl Key for String {
    fn from_name(name: &str) -> Self {
        name.to_owned()
    }
}

/// The one key for `name` this thread has made so far in `names` (made by `make` the first
/// time): past 4,096 distinct names (a document of arbitrary keys), names are not shared.
fn shared<K: Clone + Eq + std::hash::Hash + Borrow<str>>(
    names: &'static std::thread::LocalKey<std::cell::RefCell<crate::hash::HashSet<K>>>,
    name: &str,
    make: impl FnOnce(&str) -> K,
) -> K {
    const MOST: usize = 4096;
    names.with_borrow_mut(|names| {
        if let Some(shared) = names.get(name) {
            return shared.clone();
        }
        let key = make(name);
        if names.len() < MOST {
            names.insert(key.clone());
        }
        key
    })
}

/// Names read are shared: a saved plan of 100,000 creates names each of its fifteen fields
/// 100,000 times, and a snapshot each Entra attribute as often; each becomes one `Name`.
impl Key for Name {
    fn from_name(name: &str) -> Self {
        thread_local! {
            static NAMES: std::cell::RefCell<crate::hash::HashSet<Name>> =
                std::cell::RefCell::default();
        }
        shared(&NAMES, name, |name| Name::from(name))
    }
}

/// Ids and names read are shared as field names are (a plan's labels name a few profiles and
/// roles 100,000 times).
impl Key for Arc<str> {
    fn from_name(name: &str) -> Self {
        thread_local! {
            static NAMES: std::cell::RefCell<crate::hash::HashSet<Arc<str>>> =
                std::cell::RefCell::default();
        }
        shared(&NAMES, name, |name| Arc::from(name))
    }
}

/// A map's name read as its key straight from the document's text (`Key::from_name`): a name
/// already shared is not copied first into a `String` of its own, as `next_key::<String>` would
/// (a million copies, each made and freed, for a 100,000-user snapshot).
pub(crate) struct KeySeed<K>(pub(crate) std::marker::PhantomData<K>);

impl<'de, K: Key> serde::de::DeserializeSeed<'de> for KeySeed<K> {
    type Value = K;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<K, D::Error> {
        struct KeyVisitor<K>(std::marker::PhantomData<K>);
        impl<K: Key> Visitor<'_> for KeyVisitor<K> {
            type Value = K;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<K, E> {
                Ok(K::from_name(name))
            }
        }
        deserializer.deserialize_str(KeyVisitor(std::marker::PhantomData))
    }
}

impl<'de, K, V> Deserialize<'de> for SortedMap<K, V>
where
    K: Key,
    V: Deserialize<'de>,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K, V> Visitor<'de> for MapVisitor<K, V>
        where
            K: Key,
            V: Deserialize<'de>,
        {
            type Value = SortedMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                // Gathered as they come, each name made a key as any document's are, then
                // ordered once. A name given twice is refused where it is given again:
                // serde_json would keep the last value, other readers the first, so which one
                // a snapshot or a saved plan holds cannot be told (RFC 8259, section 4). A name
                // after the greatest so far repeats none; only the others are compared (in a
                // file roster wrote, names come in order and none is).
                let mut pairs: Vec<(K, V)> = Vec::with_capacity(access.size_hint().unwrap_or(0));
                let mut greatest: Option<usize> = None;
                while let Some(key) =
                    access.next_key_seed(KeySeed::<K>(std::marker::PhantomData))?
                {
                    let name: &str = key.borrow();
                    let after = greatest.is_none_or(|g| pairs[g].0.borrow() < name);
                    if !after && pairs.iter().any(|(k, _)| k.borrow() == name) {
                        return Err(serde::de::Error::custom(crate::json::given_twice(name)));
                    }
                    let value = access.next_value::<V>()?;
                    if after {
                        greatest = Some(pairs.len());
                    }
                    pairs.push((key, value));
                }
                if !pairs.is_sorted_by(|a, b| a.0.borrow() < b.0.borrow()) {
                    pairs.sort_unstable_by(|a, b| a.0.borrow().cmp(b.0.borrow()));
                }
                pairs.shrink_to_fit();
                Ok(SortedMap(pairs))
            }
        }
        deserializer.deserialize_map(MapVisitor(std::marker::PhantomData))
    }
}

impl<K, V: schemars::JsonSchema> schemars::JsonSchema for SortedMap<K, V> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <std::collections::BTreeMap<String, V> as schemars::JsonSchema>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <std::collections::BTreeMap<String, V> as schemars::JsonSchema>::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::{Fields, Name};

    /// Whatever order names come in, `Fields` reads, iterates and serializes as the
    /// `BTreeMap` it replaces, and reads its own JSON back.
    #[test]
    fn behaves_as_the_btree_map_it_replaces() {
        let pairs = [
            ("LastName", json!("Ng")),
            ("Alias", json!("ang")),
            ("Username", json!("a@x")),
            ("Alias", json!("ang2")),
            ("IsActive", json!(true)),
        ];
        let fields: Fields = pairs
            .iter()
            .map(|(k, v)| (super::Name::from(*k), v.into()))
            .collect();
        let map: BTreeMap<Arc<str>, Value> = pairs
            .iter()
            .map(|(k, v)| (Arc::<str>::from(*k), v.clone()))
            .collect();
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            serde_json::to_string(&map).unwrap()
        );
        assert_eq!(format!("{fields:?}"), format!("{map:?}"));
        assert!(
            fields
                .iter()
                .map(|(k, v)| (&**k, v.to_json()))
                .eq(map.iter().map(|(k, v)| (&**k, v.clone())))
        );
        assert_eq!(fields.iter().count(), 4);
        assert_eq!(fields.get("Alias"), Some(&json!("ang2").into()));
        assert_eq!(fields.get("Email"), None);
        let mut again: Fields =
            serde_json::from_str(&serde_json::to_string(&fields).unwrap()).unwrap();
        assert_eq!(again, fields);
        assert_eq!(
            again.insert("Alias".into(), json!("a").into()),
            Some(json!("ang2").into())
        );
        assert!(!again.contains_key("Email"));
        assert_eq!(again.insert("Email".into(), json!("e").into()), None);
        assert_eq!(
            again.keys().map(|k| &**k).collect::<Vec<_>>(),
            ["Alias", "Email", "IsActive", "LastName", "Username"]
        );
    }

    /// Maps read from a document share their names and hold no spare room: a saved plan of
    /// 100,000 creates would otherwise hold each field's name 100,000 times.
    #[test]
    fn maps_read_share_their_names_and_fit_their_entries() {
        let read: Vec<Fields> = serde_json::from_str(
            r#"[{"Alias": "a", "Email": "a@x", "LastName": "A"}, {"Email": "b@x", "Alias": "b"}]"#,
        )
        .unwrap();
        let alias = |fields: &Fields| *fields.keys().next().unwrap();
        assert!(std::ptr::eq(alias(&read[0]).0, alias(&read[1]).0));
        // A name is one pointer, and formats as its text does (padding included).
        assert_eq!(std::mem::size_of::<super::Name>(), 8);
        assert_eq!(
            format!("{:<8}|{:?}", alias(&read[0]), alias(&read[0])),
            "Alias   |\"Alias\""
        );
        assert_eq!(read[0].0.capacity(), 3);
        assert_eq!(read[1].0.capacity(), 2);
        assert_eq!(
            read[1].keys().map(|k| &**k).collect::<Vec<_>>(),
            ["Alias", "Email"]
        );
    }

    /// An object read holds its names in name order, whatever order the document has, as
    /// `serde_json`'s own map reads it; one that names a key twice is refused at its place.
    #[test]
    fn maps_read_are_in_name_order_and_refuse_a_repeated_name() {
        let text = r#"{"b": 1, "a": 2, "c": 3, "d": 7}"#;
        let read: Fields = serde_json::from_str(text).unwrap();
        let expected: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            serde_json::Value::Object(expected)
        );
        assert_eq!(
            read.keys().map(|k| &**k).collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
        assert_eq!(read.0.capacity(), 4);
        for twice in [
            r#"{"b": 1, "a": 2, "c": 3, "a": 4}"#,
            r#"{"a": 1,
 "a": 1}"#,
        ] {
            let e = serde_json::from_str::<Fields>(twice).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("the key \"a\" is given twice at line"),
                "{e}"
            );
        }
        // Many names, last to first: each found where it belongs.
        let many: String = (0..5_000)
            .rev()
            .map(|n| format!("\"k{n:05}\": {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let read: super::SortedMap<String, u32> =
            serde_json::from_str(&format!("{{{many}}}")).unwrap();
        assert_eq!(read.0.len(), 5_000);
        assert!(
            read.0
                .iter()
                .enumerate()
                .all(|(i, (k, v))| *v as usize == i && *k == format!("k{i:05}"))
        );
        assert_eq!(read.get("k04321"), Some(&4321));
    }

    /// A name is equal to itself however it was made, to no other (case counts), and is found
    /// by its text in a map of names.
    #[test]
    fn names_are_one_copy_each_and_hash_as_their_text() {
        let (a, b) = (Name::from("Email"), Name::from(String::from("Email")));
        assert!(a == b && a.address() == b.address());
        assert!(a != Name::from("email"));
        let set: std::collections::HashSet<Name> = [a].into_iter().collect();
        assert!(set.contains("Email") && !set.contains("email"));
    }

    /// `push_in_order` appends, and a name equal to the last replaces its value.
    #[test]
    fn push_in_order_appends_and_replaces_the_last() {
        let mut fields = Fields::new();
        fields.push_in_order("Alias".into(), json!("a").into());
        fields.push_in_order("Email".into(), json!("e").into());
        fields.push_in_order("Email".into(), json!("e2").into());
        assert_eq!(
            serde_json::to_string(&fields).unwrap(),
            r#"{"Alias":"a","Email":"e2"}"#
        );
    }
}
