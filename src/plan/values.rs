//! Values checked against the org's own description of the User fields (`sobjects/User/describe`)
//! before apply sends them: a restricted picklist's active values, a field's length, an email's
//! shape, a value of the field's type (boolean, date, number, reference), and the values of
//! fields describe marks unique, against the org's users and the rest of the plan. A value the org would refuse is an error item for that user, naming the field, the
//! value and what the org allows — not a failure on every create at apply. Without a describe (a
//! hand-made snapshot) the lengths of roster's own table of standard fields stand in.

use crate::hash::{HashMap, HashSet};

use crate::field_value::FieldValue;

use crate::model::TargetSnapshot;
use crate::sorted_map::Name;
use crate::suggest::closest;
use crate::user_fields;

/// What the org accepts in each User field, found by API name in any case.
#[derive(Debug, Default)]
pub(super) struct FieldRules {
    rules: Vec<Rule>,
    /// Lower-case API name → index in `rules`.
    by_name: HashMap<String, usize>,
    /// API name as the org spells it, by its interned `Name`'s address → index in `rules`:
    /// mappings name fields so, and the check of each of 100,000 users' fields then hashes a
    /// number, neither lower-casing nor comparing text.
    by_exact_name: HashMap<usize, usize>,
    /// Values checked once and accepted, by the interned field name's address
    /// (`FieldRules::accepting`): the config's constants, which every create writes alike
    /// (some 400,000 checks of the same four picklist values for 100,000 users).
    accepted: Vec<(usize, String)>,
}

#[derive(Debug)]
struct Rule {
    name: String,
    label: String,
    /// Characters; none where the type has no length.
    max_len: Option<usize>,
    /// A restricted picklist's active values, in the org's order.
    values: Option<Vec<String>>,
    lookup: HashSet<String>,
    email: bool,
    /// describe's `type` where it constrains a text's shape: `boolean`, `date`, `datetime`,
    /// `int`, `double`, `currency`, `percent`, `reference`.
    kind: Option<String>,
}

/// Types whose values roster checks for shape.
const SHAPED_TYPES: &[&str] = &[
    "boolean",
    "date",
    "datetime",
    "int",
    "double",
    "currency",
    "percent",
    "reference",
];

/// Types whose `length` limits the characters of a value.
const TEXT_TYPES: &[&str] = &[
    "string",
    "textarea",
    "email",
    "phone",
    "url",
    "picklist",
    "encryptedstring",
    "combobox",
];

/// Whether a User field takes only an email address: its describe type is `email`, or it is
/// `Username`, which describe types `string` and Salesforce still refuses unless it has an
/// email's shape (`INVALID_EMAIL_ADDRESS`: "Username must be in the form of an email address";
/// reference `salesforce-api.md`). Without a describe, `Email` is the other.
fn is_email_shaped(name: &str, kind: Option<&str>) -> bool {
    name == "Username" || kind.map_or(name == "Email", |kind| kind == "email")
}

impl FieldRules {
    /// The rules of `target`'s describe, or of roster's table when it has none.
    pub(super) fn new(target: &TargetSnapshot) -> FieldRules {
        let mut rules = FieldRules::default();
        if target.user_describe.is_empty() {
            for field in user_fields::USER_FIELDS {
                rules.insert(Rule {
                    name: field.name.to_owned(),
                    label: field.name.to_owned(),
                    max_len: field.max_len,
                    values: None,
                    lookup: HashSet::default(),
                    email: is_email_shaped(field.name, None),
                    kind: None,
                });
            }
        }
        for field in &target.user_describe {
            let restricted = field.restricted_picklist && !field.picklist_values.is_empty();
            rules.insert(Rule {
                name: field.name.clone(),
                label: field.label.clone(),
                max_len: (TEXT_TYPES.contains(&field.kind.as_str()) && field.length > 0)
                    .then_some(field.length),
                values: restricted.then(|| field.picklist_values.clone()),
                lookup: if restricted {
                    field.picklist_values.iter().cloned().collect()
                } else {
                    HashSet::default()
                },
                email: is_email_shaped(&field.name, Some(&field.kind)),
                kind: SHAPED_TYPES
                    .contains(&field.kind.as_str())
                    .then(|| field.kind.clone()),
            });
        }
        rules
    }

    /// These rules, with each of `constants` (a field's name and the one value the config
    /// gives it) checked now: one the org accepts is not checked again for every user.
    pub(super) fn accepting<'c>(
        mut self,
        constants: impl IntoIterator<Item = (&'c str, &'c str)>,
    ) -> FieldRules {
        for (field, value) in constants {
            let name = Name::from(field);
            if self.check(name, &FieldValue::from(value)).is_ok() {
                self.accepted.push((name.address(), value.to_owned()));
            }
        }
        self
    }

    /// Adds `rule`, in place of one of the same name.
    fn insert(&mut self, rule: Rule) {
        let at = self.rules.len();
        self.by_name.insert(rule.name.to_ascii_lowercase(), at);
        self.by_exact_name
            .insert(Name::from(rule.name.as_str()).address(), at);
        self.rules.push(rule);
    }

    /// Whether the org accepts `value` in `field`; the reason when it does not.
    pub(super) fn check(&self, field: Name, value: &FieldValue) -> Result<(), String> {
        let address = field.address();
        if let Some(text) = value.as_str()
            && self
                .accepted
                .iter()
                .any(|(at, accepted)| *at == address && accepted == text)
        {
            return Ok(());
        }
        let Some(&at) = self
            .by_exact_name
            .get(&address)
            .or_else(|| self.by_name.get(&field.to_ascii_lowercase()))
        else {
            return Ok(());
        };
        let rule = &self.rules[at];
        if let (Some(kind), false) = (&rule.kind, value.is_null()) {
            if let Some(expected) = shape_problem(kind, value) {
                return Err(format!(
                    "{} {value} is not {expected}, which the org's {} field ({kind}) takes",
                    rule.name, rule.label
                ));
            }
            return Ok(());
        }
        let Some(text) = value.as_str() else {
            return Ok(());
        };
        if let Some(values) = &rule.values
            && !rule.lookup.contains(text)
        {
            // `de_DE` for a language the org lists as `de`: the language alone.
            let language = values
                .iter()
                .find(|v| text.split('_').next() == Some(v.as_str()))
                .map(String::as_str);
            let hint = match closest(text, values.iter().map(String::as_str)).or(language) {
                Some(near) => format!("did you mean {near:?}?"),
                None => format!(
                    "it has {} values, e.g. {}",
                    values.len(),
                    values
                        .iter()
                        .take(3)
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            return Err(format!(
                "{} {} is not a value of the org's restricted picklist {}; {hint}",
                rule.name,
                quoted(text),
                rule.label
            ));
        }
        // Salesforce counts a field's length in UTF-16 units, as Java does: a character outside
        // the Basic Multilingual Plane (`𠮷`, an emoji) is two ("Surrogate Pair Characters Are
        // Treated as Two Characters", Salesforce Help 005166849).
        // Measured as stored: trimmed.
        if let Some(max) = rule.max_len
            && text.len() > max
            && user_fields::stored_text(text).encode_utf16().count() > max
        {
            let stored = user_fields::stored_text(text);
            let (units, chars) = (stored.encode_utf16().count(), stored.chars().count());
            let counted = if units == chars {
                String::new()
            } else {
                format!(
                    " as Salesforce counts them ({chars} characters, those outside the Basic \
                     Multilingual Plane, such as an emoji, two each)"
                )
            };
            // The value shown is the mapping's, white space and all: say its length is not.
            let trimmed = if stored.len() == text.len() {
                ""
            } else {
                ", trimmed of its leading and trailing white space as Salesforce stores it"
            };
            return Err(format!(
                "{} {} is {units} characters{counted}{trimmed}; Salesforce allows {max}",
                rule.name,
                quoted(text)
            ));
        }
        if rule.email && !text.is_empty() && !user_fields::is_email(text) {
            return Err(format!(
                "{} {} is not an email address Salesforce accepts",
                rule.name,
                quoted(text)
            ));
        }
        Ok(())
    }
}

/// What a value of this describe type must look like, when `value` does not: Salesforce takes
/// booleans as `true`/`false`, dates as `YYYY-MM-DD`, date-times as ISO 8601, numbers as
/// decimals and references as 15- or 18-character record ids (REST API Developer Guide, "Valid
/// Date and DateTime Formats"; Object Reference, "Field Types").
fn shape_problem(kind: &str, value: &FieldValue) -> Option<&'static str> {
    let text = match value {
        FieldValue::Text(s) => s.as_str(),
        FieldValue::Bool(_) => return (kind != "boolean").then_some("a text"),
        FieldValue::Other(number) if number.is_number() => {
            return matches!(kind, "int" | "double" | "currency" | "percent")
                .then_some(())
                .map_or(Some("a number"), |()| None);
        }
        _ => return Some("a single value"),
    };
    let ok = match kind {
        "boolean" => text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false"),
        "date" => user_fields::is_date(text),
        "datetime" => {
            text.len() > 10
                && text.is_char_boundary(10)
                && user_fields::is_date(&text[..10])
                && text.as_bytes()[10] == b'T'
                && crate::expr::parse_date(text).is_some()
        }
        "int" => text.trim().parse::<i64>().is_ok(),
        "double" | "currency" | "percent" => text.trim().parse::<f64>().is_ok_and(f64::is_finite),
        "reference" => {
            matches!(text.len(), 15 | 18) && text.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        _ => true,
    };
    (!ok).then_some(match kind {
        "boolean" => "true or false",
        "date" => "a date (YYYY-MM-DD)",
        "datetime" => "a date and time (ISO 8601, e.g. 2026-01-31T09:00:00Z)",
        "int" => "a whole number",
        "double" | "currency" | "percent" => "a number",
        _ => "a record id (15 or 18 characters)",
    })
}

/// `text` quoted (`{:?}`) for a message, cut after 200 characters with its length said: a
/// value of five million characters is named, not printed whole into the plan.
fn quoted(text: &str) -> String {
    const SHOWN: usize = 200;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!(
            "{:?}… ({} characters in all)",
            &text[..cut],
            text.chars().count()
        ),
        None => format!("{text:?}"),
    }
}

/// A unique value as Salesforce compares it: trimmed, as it stores text (Java's `trim`), and
/// without case unless the field is `case_sensitive` (`FieldDescribe::case_sensitive`).
/// `"zed "` is `"zed"`'s duplicate.
fn stored(text: &str, case_sensitive: bool) -> std::borrow::Cow<'_, str> {
    let text = user_fields::stored_text(text);
    if case_sensitive {
        std::borrow::Cow::Borrowed(text)
    } else {
        super::compare::lowercase(text)
    }
}

/// `Salesforce user a (as "e1", the same value to Salesforce, which compares it without case)`:
/// each of `users` that holds `text` in `field`, with the value it holds where that is not
/// `text` as written — the same to Salesforce, which the reader may not see (`e1` against
/// `E1`; helper-84). Where several hold it in other forms for the same reason, the reason is
/// said once, after them all.
fn held_by(users: &[&crate::model::TargetUser], field: &str, text: &str) -> String {
    let forms: Vec<Option<(&str, &str)>> = users.iter().map(|u| held_as(u, field, text)).collect();
    let whys: Vec<&str> = forms.iter().flatten().map(|(_, why)| *why).collect();
    let once = (whys.len() > 1 && whys.windows(2).all(|w| w[0] == w[1])).then(|| whys[0]);
    let same = |why: &str| format!("the same value to Salesforce, which compares it {why}");
    let mut out = users
        .iter()
        .zip(&forms)
        .map(|(user, form)| match (form, once) {
            (None, _) => format!("Salesforce user {}", user.username),
            (Some((theirs, _)), Some(_)) => {
                format!("Salesforce user {} (as {})", user.username, quoted(theirs))
            }
            (Some((theirs, why)), None) => format!(
                "Salesforce user {} (as {}, {})",
                user.username,
                quoted(theirs),
                same(why)
            ),
        })
        .collect::<Vec<_>>()
        .join(" and ");
    if let Some(why) = once {
        out.push_str(", ");
        out.push_str(&same(why));
    }
    out
}

/// The value of `field` Salesforce user `user` holds, when it is not `text` as written, and why
/// Salesforce takes the two for the same (`without case`, ...).
fn held_as<'u>(
    user: &'u crate::model::TargetUser,
    field: &str,
    text: &str,
) -> Option<(&'u str, &'static str)> {
    let theirs = user.text(field).filter(|theirs| *theirs != text)?;
    let why = match (
        user_fields::stored_text(theirs) == user_fields::stored_text(text),
        user_fields::stored_text(theirs) != theirs || user_fields::stored_text(text) != text,
        field.eq_ignore_ascii_case("FederationIdentifier"),
    ) {
        (true, _, _) => "without the spaces around it",
        // An org may keep Federation IDs case-sensitive (Setup's "Make Federation ID
        // case-insensitive" off): roster holds the value back all the same.
        (false, false, true) => "without case unless the org's Federation IDs are case-sensitive",
        (false, true, true) => {
            "without the spaces around it, and without case unless the org's Federation IDs are \
             case-sensitive"
        }
        (false, false, false) => "without case",
        (false, true, false) => "without case or the spaces around it",
    };
    Some((theirs, why))
}

/// `text`'s `Fingerprint` under `seeds`, as Salesforce compares it (`stored`).
fn fingerprint(seeds: &Seeds, case_sensitive: bool, text: &str) -> Fingerprint {
    use std::hash::BuildHasher as _;
    let compared: &str = &stored(text, case_sensitive);
    Fingerprint(seeds.0.hash_one(compared), seeds.1.hash_one(compared))
}

/// Fields whose describe does not say `unique` but which Salesforce refuses to give two users
/// of one org: a CommunityNickname another user holds fails the write with
/// `DUPLICATE_COMM_NICKNAME` ("Duplicate Nickname. Another user has already selected this
/// nickname."; `salesforce-access.md`, forcedotcom/cli#3142), and a FederationIdentifier with
/// "This Federation ID is already in use" ("A Federation ID must be unique for each user in an
/// org", Trailhead; `salesforce-api.md`). Compared without case, as the other unique text is:
/// that it is case-sensitive is reported by one weak source only, and a conflict planned that
/// Salesforce would not raise holds one user back, where one missed fails the write.
const UNIQUE_IN_THE_ORG: &[&str] = &["CommunityNickname", "FederationIdentifier"];

/// The values of the User fields describe marks unique (and `UNIQUE_IN_THE_ORG`) that roster
/// writes: who holds each, in the org and in the plan so far. Unique text compares without
/// case, as Salesforce's does. Claimed on one thread, in user order (the pass over the users
/// owns it): no lock, whose fence on every user waited for the write into a map far bigger
/// than the cache.
#[derive(Debug, Default)]
pub(super) struct UniqueValues<'a> {
    /// Each unique field roster writes.
    held: Vec<UniqueField<'a>>,
    /// Each name a mapping writes a unique field by (its interned `Name`'s address), with the
    /// field's index in `held`: a change's field names are the mappings' (or ProfileId and
    /// the like, never unique), so `field_of` compares addresses, not each name's text with
    /// every unique field's (API names compare without case).
    spellings: Vec<(usize, usize)>,
    /// The org's users, whom `Holder::Org` indexes.
    users: &'a [crate::model::TargetUser],
    /// The two hashers of `Fingerprint`, seeded apart for this process.
    seeds: Seeds,
    /// A user of the plan (by key) that claimed a value the update of a Salesforce user (by
    /// index in the snapshot) frees.
    pub(super) handed_over: Vec<(&'a str, u32)>,
}

/// A unique field roster writes, and who holds each of its values.
#[derive(Debug)]
struct UniqueField<'a> {
    /// The API name.
    name: String,
    /// Values compare as written, not without case.
    case_sensitive: bool,
    /// Each value's fingerprint → its holder.
    holders: Holders<'a>,
    /// The org's other holders of a value `holders` gives to its first (by index in the
    /// snapshot): one value in several forms (`fed.user@` and `FED.USER@`), which an org whose
    /// Federation ID is case-sensitive keeps. Nearly always empty. Each `true` once this plan's
    /// update of it frees the value, as `Holder::Org`'s `freed`.
    also: HashMap<Fingerprint, Vec<(u32, bool)>>,
}

/// The two hashers of a `Fingerprint`.
type Seeds = (
    foldhash::quality::RandomState,
    foldhash::quality::RandomState,
);

/// A unique value as Salesforce compares it (`stored`: trimmed, without case), as 128 bits of
/// two hashers seeded apart, at random, for each process: a map of 110,000 values per unique
/// field holds no copy of each value's text (some 10 MiB in all at 100,000 users, the price of
/// a third unique field). Two values share one with a chance of at most about 2^-64 a pair
/// (foldhash's per-hasher seeds differ, its process seed is shared), and the seeds are not
/// the tenant's to choose; a shared one would hold a user back as a conflict, never let a
/// duplicate through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Fingerprint(u64, u64);

/// A change's unique values as `UniqueValues::look_up` found them, in the change's field
/// order: the field (index in `held`), the fingerprint, the value's place among the change's
/// fields, and who held it then.
#[derive(Debug, Default)]
pub(super) struct Sought<'a>(Vec<(usize, Fingerprint, usize, Option<Holder<'a>>)>);

/// A value's fingerprint → who holds it.
type Holders<'a> = HashMap<Fingerprint, Holder<'a>>;

/// Who holds a value: 16 bytes, in maps of up to a value per user (a third variant of its own
/// for a freed value would make it 24: some 3 MB more for 100,000 users).
#[derive(Debug, Clone, Copy)]
enum Holder<'a> {
    /// A Salesforce user, by index in the snapshot; `freed` once this plan's update of that
    /// user replaces the value (a rename, an id corrected): then free for another user of the
    /// plan, whose write Salesforce refuses until that update is written.
    Org { index: u32, freed: bool },
    /// A user this plan writes the value to, by key.
    Plan(&'a str),
}

impl<'a> UniqueValues<'a> {
    /// The org's values of each unique field in `written` (the fields mappings write), with
    /// room for as many values as the org holds or `claims` users of the plan may claim,
    /// whichever is more (a map grown a value at a time would be rehashed a dozen times on the
    /// way to 100,000). A user's claim of the value their own account holds adds none: in the
    /// daily plan of an org that size nearly every claim is one, and room for both (198,000)
    /// doubled each map's table (some 3 MB a unique field); a first run's creates add to the
    /// org's few, and at worst the map grows once.
    pub(super) fn new<'n>(
        target: &'a TargetSnapshot,
        written: impl IntoIterator<Item = &'n str>,
        claims: usize,
    ) -> UniqueValues<'a> {
        let written: Vec<Name> = written.into_iter().map(Name::from).collect();
        let spelled = |field: &str| -> Vec<Name> {
            written
                .iter()
                .copied()
                .filter(|name| name.eq_ignore_ascii_case(field))
                .collect()
        };
        let seeds = (
            foldhash::quality::RandomState::default(),
            foldhash::quality::RandomState::default(),
        );
        let held = target
            .user_describe
            .iter()
            .filter(|f| {
                (f.unique || UNIQUE_IN_THE_ORG.contains(&f.name.as_str()))
                    && !spelled(&f.name).is_empty()
            })
            .map(|field| {
                let mut holders: Holders<'a> = HashMap::with_capacity_and_hasher(
                    target.users.len().max(claims),
                    foldhash::fast::RandomState::default(),
                );
                let mut also: HashMap<Fingerprint, Vec<(u32, bool)>> = HashMap::default();
                for (u, index) in target.users.iter().zip(0u32..) {
                    let Some(value) = u.text(&field.name) else {
                        continue;
                    };
                    let print = fingerprint(&seeds, field.case_sensitive, value);
                    // The first holder keeps the entry; the others are named beside it.
                    match holders.entry(print) {
                        std::collections::hash_map::Entry::Vacant(entry) => {
                            entry.insert(Holder::Org {
                                index,
                                freed: false,
                            });
                        }
                        std::collections::hash_map::Entry::Occupied(_) => {
                            also.entry(print).or_default().push((index, false));
                        }
                    }
                }
                UniqueField {
                    name: field.name.clone(),
                    case_sensitive: field.case_sensitive,
                    holders,
                    also,
                }
            })
            .collect::<Vec<_>>();
        let spellings = held
            .iter()
            .enumerate()
            .flat_map(|(at, field)| {
                spelled(&field.name)
                    .into_iter()
                    .map(move |name| (name.address(), at))
            })
            .collect();
        UniqueValues {
            held,
            spellings,
            users: &target.users,
            seeds,
            handed_over: Vec::new(),
        }
    }

    /// The index in `held` of the unique field a change names `name`, if it is one.
    fn field_of(&self, name: Name) -> Option<usize> {
        let address = name.address();
        self.spellings
            .iter()
            .find(|(a, _)| *a == address)
            .map(|&(_, field)| field)
    }

    /// The Salesforce user (by index in the snapshot) other than `own` that holds a value as
    /// `holder` says, unless this plan's update of it frees the value.
    fn other_org_user(&self, holder: Holder<'_>, own: Option<&str>) -> Option<usize> {
        match holder {
            Holder::Org {
                index,
                freed: false,
            } => usize::try_from(index)
                .ok()
                .filter(|&i| Some(self.users[i].id.as_str()) != own),
            Holder::Org { freed: true, .. } | Holder::Plan(_) => None,
        }
    }

    /// `fields`' unique values, each fingerprinted and looked up once, for `org_holder` and
    /// `claim` to read: the two used to look each value up in maps of some 110,000 values
    /// apiece, each time a miss in the cache.
    pub(super) fn look_up<'v>(
        &self,
        fields: impl IntoIterator<Item = (Name, &'v FieldValue)>,
    ) -> Sought<'a> {
        if self.held.is_empty() {
            return Sought::default();
        }
        Sought(
            fields
                .into_iter()
                .enumerate()
                .filter_map(|(at, (name, value))| {
                    let field = self.field_of(name)?;
                    let unique = &self.held[field];
                    let print = fingerprint(&self.seeds, unique.case_sensitive, value.as_str()?);
                    Some((field, print, at, unique.holders.get(&print).copied()))
                })
                .collect(),
        )
    }

    /// Claims the unique values `sought` found among `fields` (`look_up`, nothing claimed
    /// since) for the user `key` (whose Salesforce user, if any, is `own`): an error naming the
    /// holder when another Salesforce user or another user of this plan has one already — with
    /// the ids of the Salesforce users holding it (every one, where the org keeps the value in
    /// several forms), which may be this person's own accounts; nothing is claimed then.
    pub(super) fn claim<'v>(
        &mut self,
        sought: &Sought<'a>,
        fields: impl IntoIterator<Item = (&'v str, &'v FieldValue)>,
        key: &'a str,
        own: Option<&str>,
    ) -> Result<(), (String, Vec<String>)> {
        let taken = sought.0.iter().find_map(|&(field, print, at, holder)| {
            let by = match holder? {
                Holder::Org { index, freed } => {
                    // Every account holding the value in any form, but those this plan's
                    // updates free; none taken from this user when one of them is their own.
                    let also = self.held[field].also.get(&print).into_iter().flatten();
                    let accounts: Vec<(&crate::model::TargetUser, bool)> =
                        std::iter::once(&(index, freed))
                            .chain(also)
                            .filter_map(|&(i, freed)| {
                                Some((self.users.get(usize::try_from(i).ok()?)?, freed))
                            })
                            .collect();
                    if accounts.iter().any(|(u, _)| Some(u.id.as_str()) == own) {
                        return None;
                    }
                    let holders: Vec<&crate::model::TargetUser> = accounts
                        .into_iter()
                        .filter_map(|(u, freed)| (!freed).then_some(u))
                        .collect();
                    if holders.is_empty() {
                        return None;
                    }
                    Ok(holders)
                }
                Holder::Plan(other) if other != key => Err(other),
                Holder::Plan(_) => return None,
            };
            Some((field, at, by))
        });
        if let Some((field, at, by)) = taken {
            let api_name = &self.held[field].name;
            let text = fields
                .into_iter()
                .nth(at)
                .and_then(|(_, value)| value.as_str())
                .unwrap_or_default();
            let (holder, ids) = match by {
                Ok(users) => (
                    held_by(&users, api_name, text),
                    users.iter().map(|u| u.id.to_string()).collect(),
                ),
                Err(other) => (format!("{other}, another user of this plan"), Vec::new()),
            };
            return Err((
                format!(
                    "{api_name} {} is already held by {holder}; the org's {api_name} field is \
                     unique",
                    quoted(text)
                ),
                ids,
            ));
        }
        for &(field, print, _, _) in &sought.0 {
            let holder = self.held[field]
                .holders
                .entry(print)
                .or_insert(Holder::Plan(key));
            if let Holder::Org { index, freed: true } = *holder {
                self.handed_over.push((key, index));
                *holder = Holder::Plan(key);
            }
        }
        Ok(())
    }

    /// The Salesforce users (by index in the snapshot) other than `own` that hold one of the
    /// unique values `sought` found among `fields` (a change's `after`) — every form's holder,
    /// but those this plan's updates freed already — each with that field's name and value as
    /// `fields` gives them: whose own update, planned later, may free it. Empty, without
    /// allocating, when no one does.
    pub(super) fn org_holders<'v>(
        &self,
        sought: &Sought<'a>,
        fields: &'v super::Fields,
        own: Option<&str>,
    ) -> Vec<(usize, &'v str, &'v str)> {
        let mut found = Vec::new();
        for &(field, print, at, holder) in &sought.0 {
            let Some(holder) = holder else { continue };
            let Some((name, Some(value))) = fields.iter().nth(at).map(|(n, v)| (n, v.as_str()))
            else {
                continue;
            };
            let also = self.held[field].also.get(&print).into_iter().flatten();
            let others = also.filter_map(|&(index, freed)| {
                let index = usize::try_from(index).ok()?;
                (!freed && Some(self.users.get(index)?.id.as_str()) != own).then_some(index)
            });
            for index in self.other_org_user(holder, own).into_iter().chain(others) {
                found.push((index, &**name, value));
            }
        }
        found
    }

    /// Whether `before` → `after` (an update's fields) gives up `value` of the field `name`:
    /// it held that value, as Salesforce compares it, and the update writes another or none.
    pub(super) fn replaces(
        &self,
        (before, after): (&super::Fields, &super::Fields),
        name: &str,
        value: &str,
    ) -> bool {
        let case_sensitive = self
            .held
            .iter()
            .any(|f| f.case_sensitive && f.name.eq_ignore_ascii_case(name));
        let print = fingerprint(&self.seeds, case_sensitive, value);
        let held = |fields: &super::Fields| {
            fields
                .iter()
                .find(|(field, _)| field.eq_ignore_ascii_case(name))
                .map(|(_, v)| {
                    v.as_str()
                        .map(|text| fingerprint(&self.seeds, case_sensitive, text))
                })
        };
        held(before) == Some(Some(print)) && held(after).is_some_and(|new| new != Some(print))
    }

    /// Frees the unique values Salesforce user `own` holds in `before` that an update, claimed
    /// already, replaces by `after` (another value, or none): another user of the plan may
    /// take them now.
    pub(super) fn free(&mut self, before: &super::Fields, after: &super::Fields, own: &str) {
        for name in after.keys() {
            let (Some(field), Some(old)) = (
                self.field_of(*name),
                before.get(name).and_then(FieldValue::as_str),
            ) else {
                continue;
            };
            if !self.replaces((before, after), name, old) {
                continue;
            }
            let users = self.users;
            let is_own = |index: u32| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| users.get(i))
                    .is_some_and(|u| u.id == own)
            };
            let unique = &mut self.held[field];
            let print = fingerprint(&self.seeds, unique.case_sensitive, old);
            if let Some(holder) = unique.holders.get_mut(&print)
                && let Holder::Org { index, freed } = holder
                && is_own(*index)
            {
                *freed = true;
            }
            // Where the org holds the value in several forms, the form this user holds.
            for (index, freed) in unique.also.get_mut(&print).into_iter().flatten() {
                if is_own(*index) {
                    *freed = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::FieldDescribe;

    fn rules() -> FieldRules {
        let target = TargetSnapshot {
            user_describe: vec![
                FieldDescribe {
                    name: "TimeZoneSidKey".into(),
                    label: "Time Zone".into(),
                    kind: "picklist".into(),
                    length: 40,
                    restricted_picklist: true,
                    picklist_values: vec!["America/Los_Angeles".into(), "Europe/Berlin".into()],
                    ..FieldDescribe::default()
                },
                FieldDescribe {
                    name: "Email".into(),
                    label: "Email".into(),
                    kind: "email".into(),
                    length: 128,
                    ..FieldDescribe::default()
                },
                FieldDescribe {
                    name: "Cost_Center__c".into(),
                    label: "Cost Center".into(),
                    kind: "string".into(),
                    length: 5,
                    ..FieldDescribe::default()
                },
            ],
            ..TargetSnapshot::default()
        };
        FieldRules::new(&target)
    }

    /// A constant the org accepts is checked once; one it refuses is still refused for every
    /// user, and the accepted text is nothing to another field.
    #[test]
    fn constants_are_checked_once_and_only_for_their_field() {
        let rules = rules().accepting([
            ("TimeZoneSidKey", "Europe/Berlin"),
            ("Cost_Center__c", "CC-123456"),
        ]);
        assert_eq!(rules.accepted.len(), 1);
        assert!(
            rules
                .check("TimeZoneSidKey".into(), &json!("Europe/Berlin").into())
                .is_ok()
        );
        assert!(
            rules
                .check("Cost_Center__c".into(), &json!("CC-123456").into())
                .is_err()
        );
        assert!(
            rules
                .check("Cost_Center__c".into(), &json!("Europe/Berlin").into())
                .is_err()
        );
        assert!(
            rules
                .check("TimeZoneSidKey".into(), &json!("Europe/Berln").into())
                .is_err()
        );
    }

    #[test]
    fn restricted_picklists_lengths_and_emails_are_the_orgs() {
        let rules = rules();
        assert!(
            rules
                .check("TimeZoneSidKey".into(), &json!("Europe/Berlin").into())
                .is_ok()
        );
        let err = rules
            .check("TimeZoneSidKey".into(), &json!("Europe/Berln").into())
            .unwrap_err();
        assert!(err.contains("did you mean \"Europe/Berlin\"?"), "{err}");
        let err = rules
            .check(
                "timezonesidkey".into(),
                &json!("Pacific Standard Time").into(),
            )
            .unwrap_err();
        assert!(
            err.starts_with("TimeZoneSidKey \"Pacific Standard Time\" is not a value of the org's restricted picklist Time Zone")
                && err.contains("it has 2 values"),
            "{err}"
        );
        let languages = FieldRules::new(&TargetSnapshot {
            user_describe: vec![FieldDescribe {
                name: "LanguageLocaleKey".into(),
                label: "Language".into(),
                kind: "picklist".into(),
                length: 40,
                restricted_picklist: true,
                picklist_values: vec!["de".into(), "en_US".into(), "zh_CN".into()],
                ..FieldDescribe::default()
            }],
            ..TargetSnapshot::default()
        });
        let err = languages
            .check("LanguageLocaleKey".into(), &json!("de_DE").into())
            .unwrap_err();
        assert!(err.ends_with("did you mean \"de\"?"), "{err}");
        assert!(
            rules
                .check("Cost_Center__c".into(), &json!("CC-12").into())
                .is_ok()
        );
        assert!(
            rules
                .check("Cost_Center__c".into(), &json!("CC-123").into())
                .is_err()
        );
        assert!(rules.check("Email".into(), &json!("a@b.co").into()).is_ok());
        assert!(rules.check("Email".into(), &json!("a@b").into()).is_err());
        assert!(
            rules
                .check("Email".into(), &json!("a b@c.de").into())
                .is_err()
        );
        assert!(
            rules
                .check("Unknown__c".into(), &json!("anything").into())
                .is_ok()
        );
    }

    fn typed(kind: &str) -> FieldRules {
        FieldRules::new(&TargetSnapshot {
            user_describe: vec![FieldDescribe {
                name: "Field__c".into(),
                label: "Field".into(),
                kind: kind.into(),
                ..FieldDescribe::default()
            }],
            ..TargetSnapshot::default()
        })
    }

    #[test]
    fn values_have_the_shape_of_their_type() {
        let cases: &[(&str, serde_json::Value, bool)] = &[
            ("boolean", json!("true"), true),
            ("boolean", json!("False"), true),
            ("boolean", json!(true), true),
            ("boolean", json!("yes"), false),
            ("date", json!("2026-02-28"), true),
            ("date", json!("2026-02-30"), false),
            ("date", json!("28/02/2026"), false),
            ("date", json!("2026-2-28"), false),
            ("datetime", json!("2026-02-28T09:30:00Z"), true),
            ("datetime", json!("2026-02-28"), false),
            ("int", json!("42"), true),
            ("int", json!(42), true),
            ("int", json!("4.2"), false),
            ("double", json!("4.25"), true),
            ("currency", json!("lots"), false),
            ("reference", json!("005000000000001AAA"), true),
            ("reference", json!("005000000000001"), true),
            ("reference", json!("Jane Doe"), false),
            ("string", json!("anything"), true),
        ];
        for (kind, value, ok) in cases {
            let result = typed(kind).check("Field__c".into(), &value.into());
            assert_eq!(result.is_ok(), *ok, "{kind} {value}: {result:?}");
        }
        let err = typed("date")
            .check("Field__c".into(), &json!("2026-13-01").into())
            .unwrap_err();
        assert_eq!(
            err,
            "Field__c \"2026-13-01\" is not a date (YYYY-MM-DD), which the org's Field field (date) takes"
        );
        assert!(
            typed("date")
                .check("Field__c".into(), &FieldValue::Null)
                .is_ok(),
            "null clears"
        );
    }

    /// A holder stays 16 bytes: three maps of some 110,000 values each at 100,000 users.
    #[test]
    fn a_holder_is_sixteen_bytes() {
        assert_eq!(std::mem::size_of::<Holder<'_>>(), 16);
    }

    /// `fields`' unique values claimed for `user`, looked up first as the planner does.
    fn claim_for<'a>(
        unique: &mut UniqueValues<'a>,
        fields: &[(&str, serde_json::Value)],
        user: &'a str,
        own: Option<&str>,
    ) -> Result<(), (String, Vec<String>)> {
        let fields: Vec<(&str, FieldValue)> = fields.iter().map(|(k, v)| (*k, v.into())).collect();
        let sought = unique.look_up(fields.iter().map(|(k, v)| (Name::from(*k), v)));
        unique.claim(&sought, fields.iter().map(|(k, v)| (*k, v)), user, own)
    }

    #[test]
    fn unique_values_are_claimed_once_against_the_org_and_the_plan() {
        let holder = crate::model::TargetUser {
            id: "005000000000001AAA".into(),
            username: "holder@x.dev1".into(),
            fields: serde_json::from_value(json!({"Badge__c": "B-1"})).unwrap(),
            ..crate::model::TargetUser::default()
        };
        let target = TargetSnapshot {
            user_describe: vec![FieldDescribe {
                name: "Badge__c".into(),
                label: "Badge".into(),
                kind: "string".into(),
                length: 10,
                unique: true,
                ..FieldDescribe::default()
            }],
            users: vec![holder],
            ..TargetSnapshot::default()
        };
        let mut unique = UniqueValues::new(&target, ["Badge__c", "Title"], 2);
        let badge = |v: &str| vec![("Badge__c", json!(v)), ("Title", json!("same title"))];
        let mut claim = |user: &'static str, v: &str, own: Option<&str>| {
            let fields = badge(v);
            claim_for(&mut unique, &fields, user, own)
        };
        // The org's holder keeps its own value; anyone else is refused it, in any case.
        assert!(claim("holder@x", "B-1", Some("005000000000001AAA")).is_ok());
        let (err, holder) = claim("ann@x", "b-1", None).unwrap_err();
        assert_eq!(holder, ["005000000000001AAA"]);
        assert_eq!(
            err,
            "Badge__c \"b-1\" is already held by Salesforce user holder@x.dev1 (as \"B-1\", the \
             same value to Salesforce, which compares it without case); the org's Badge__c field \
             is unique"
        );
        // Within the plan: the first claimant wins, the second is told who.
        assert!(claim("ann@x", "B-2", None).is_ok());
        assert!(
            claim("ann@x", "B-2", None).is_ok(),
            "a user meets its own claim"
        );
        let (err, _) = claim("bob@x", "B-2", None).unwrap_err();
        assert!(
            err.ends_with(
                "held by ann@x, another user of this plan; the org's Badge__c field is unique"
            ),
            "{err}"
        );
        // Fields not unique, or not written, are never compared.
        let mut untracked = UniqueValues::new(&target, ["Title"], 2);
        assert!(claim_for(&mut untracked, &badge("B-1"), "ann@x", None).is_ok());
    }

    /// CommunityNickname's and FederationIdentifier's describes say `unique: false`, yet
    /// Salesforce refuses a value another user holds: each is claimed like a unique field, in
    /// any case.
    #[test]
    fn a_community_nickname_and_a_federation_id_are_unique_in_the_org_whatever_describe_says() {
        for field in ["CommunityNickname", "FederationIdentifier"] {
            let holder = crate::model::TargetUser {
                id: "005000000000001AAA".into(),
                username: "liam@x.dev1".into(),
                fields: serde_json::from_value(json!({field: "liam.chen"})).unwrap(),
                ..crate::model::TargetUser::default()
            };
            let target = TargetSnapshot {
                user_describe: vec![FieldDescribe {
                    name: field.into(),
                    label: field.into(),
                    kind: "string".into(),
                    length: 40,
                    unique: false,
                    ..FieldDescribe::default()
                }],
                users: vec![holder],
                ..TargetSnapshot::default()
            };
            let mut unique = UniqueValues::new(&target, [field], 1);
            let fields = [(field, json!(" Liam.Chen\t"))];
            let (err, holder) = claim_for(&mut unique, &fields, "leo@x", None).unwrap_err();
            assert_eq!(holder, ["005000000000001AAA"]);
            assert!(
                err.starts_with(&format!(
                    "{field} \" Liam.Chen\\t\" is already held by Salesforce user liam@x.dev1"
                )),
                "{err}"
            );
            // Two users of the plan whose values differ only by white space: the second is
            // told.
            let fields = [(field, json!("zed"))];
            assert!(claim_for(&mut unique, &fields, "zed@x", None).is_ok());
            let fields = [(field, json!("zed "))];
            assert!(claim_for(&mut unique, &fields, "zed2@x", None).is_err());
        }
    }
}
