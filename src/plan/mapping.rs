//! Mapping: the config's expressions parsed once, the fields a user should have, the role
//! rules that fire, and what Salesforce would refuse on create.

use std::borrow::Cow;
use std::sync::Arc;

use super::source::SourceUser;
use crate::config::{ApplyMode, Config, Mapping, MappingValue, RoleCondition};
use crate::expr::{self, Context, Value};
use crate::field_value::FieldValue;
use crate::grants::{FeatureLicense, GrantKind};
use crate::model::FieldDescribe;
use crate::sorted_map::Name;
use crate::user_fields;

/// What the planner reads of the config on every user, gathered once: the expressions were
/// parsed when the config was loaded.
pub(super) struct Compiled<'c> {
    /// The matching rules, in precedence order.
    pub(super) matching: Vec<MatchRule<'c>>,
    /// Per mapping: the mapping and the target field's shared name.
    pub(super) mappings: Vec<(&'c Mapping, Name)>,
    /// Indexes into `mappings`, in target name order (mapping order among equal names): a
    /// user's fields are gathered in this order without searching.
    pub(super) by_target: Vec<usize>,
    /// Per mapping: its expression draws random values (`Guid`, `RandomString`), so each user
    /// gets a seed of its own; no other mapping's value depends on the seed.
    pub(super) draws_random: Vec<bool>,
    /// The names of the two fields a create adds to what mappings give, shared by every create.
    pub(super) profile_id: Name,
    pub(super) user_role_id: Name,
    /// The field holding each linked Salesforce user's Entra object id, when the config keeps
    /// one (`config::object_id_anchor`).
    pub(super) object_id_anchor: Option<&'c str>,
}

impl Compiled<'_> {
    /// What `user`'s object-id anchor holds, trimmed, when it holds something, as the object id
    /// it is in Graph's form (`graph::object_id_form`: braces, parentheses and a form without
    /// hyphens read as the id), in lower case when it is a GUID; other text as written.
    pub(super) fn anchored_object_id<'u>(
        &self,
        user: &'u crate::model::TargetUser,
    ) -> Option<Cow<'u, str>> {
        crate::graph::anchored_id(user.text(self.object_id_anchor?)?)
    }
}

/// One matching rule.
pub(super) struct MatchRule<'c> {
    /// The parsed source expression.
    pub(super) parsed: &'c expr::Expr,
    /// The Salesforce field it looks up.
    pub(super) field: &'c str,
    /// The expression's text.
    pub(super) source: &'c str,
    /// It reads `objectId` or `employeeId`: an object id written in another form is the id,
    /// and a Salesforce user holding another value in it belongs to someone else.
    pub(super) anchor: bool,
    /// The field is unique and case-sensitive (`FieldDescribe::case_sensitive`): its values
    /// compare as written, every other field's without case.
    pub(super) case_sensitive: bool,
}

impl MatchRule<'_> {
    /// The value as this rule compares it (`compare::match_key`: without case unless the field
    /// is case-sensitive; a value that differs from the person's only in case is theirs, and
    /// the update corrects it, as drift compares with case): borrowed from `value` when that
    /// changes nothing. An anchor's object id written in braces or parentheses
    /// (`{0000000e-...}`, as .NET and PowerShell write GUIDs) or without hyphens is the id
    /// (`graph::object_id_form`), in any case, even in a case-sensitive field: a GUID's case
    /// means nothing.
    pub(super) fn key<'v>(&self, value: &'v str, suffix: &str) -> Cow<'v, str> {
        let key = super::compare::match_key(self.field, value, suffix, self.case_sensitive);
        if !self.anchor {
            return key;
        }
        let id = match key {
            Cow::Borrowed(key) => crate::graph::object_id_form(key),
            Cow::Owned(key) => match crate::graph::object_id_form(&key) {
                // Unchanged: the key itself, not a copy.
                Cow::Borrowed(id) if id.len() == key.len() => Cow::Owned(key),
                id => Cow::Owned(id.into_owned()),
            },
        };
        if self.case_sensitive && crate::graph::looks_like_guid(&id) {
            super::compare::into_lowercase(id)
        } else {
            id
        }
    }
}

/// The config's mappings and matching rules as the planner reads them; `describe` (the org's
/// User fields) tells which matching fields compare with case.
pub(super) fn compile<'c>(config: &'c Config, describe: &[FieldDescribe]) -> Compiled<'c> {
    let mut by_target: Vec<usize> = (0..config.mappings.len()).collect();
    by_target.sort_by(|a, b| config.mappings[*a].target.cmp(&config.mappings[*b].target));
    Compiled {
        by_target,
        draws_random: config
            .mappings
            .iter()
            .map(|m| matches!(&m.value, MappingValue::Expression(e) if expr::draws_random(&e.parsed)))
            .collect(),
        profile_id: Name::from("ProfileId"),
        user_role_id: Name::from("UserRoleId"),
        object_id_anchor: crate::config::object_id_anchor(&config.matching, &config.mappings),
        matching: config
            .matching
            .iter()
            .map(|m| MatchRule {
                parsed: m.source.parsed.as_ref(),
                field: m.target.as_str(),
                source: m.source.text.as_str(),
                anchor: crate::config::is_anchor(&m.source.parsed),
                case_sensitive: describe
                    .iter()
                    .any(|f| f.case_sensitive && f.name.eq_ignore_ascii_case(&m.target)),
            })
            .collect(),
        mappings: config
            .mappings
            .iter()
            .map(|m| (m, Name::from(m.target.as_str())))
            .collect(),
    }
}

/// The fields a user should have, by mapping.
pub(super) struct Desired {
    /// Field name to value (always a JSON string: what a create writes as it is).
    pub(super) fields: super::Fields,
    pub(super) errors: Vec<String>,
    /// Why a mapping expression skipped the user (`IgnoreObjectFlow`): no create, no update.
    pub(super) skipped: Option<String>,
    /// For `roster explain`: each mapping, where it reads from and what it gives.
    pub(super) traces: Vec<FieldTrace>,
}

/// One mapping as `roster explain` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct FieldTrace {
    /// The Salesforce field.
    pub(crate) field: String,
    /// Where the value comes from: `[attribute]`, `constant "..."` or the expression.
    pub(crate) from: String,
    /// The value written; none when nothing flows.
    pub(crate) value: Option<String>,
    /// An `on_create` mapping on an update: not evaluated.
    pub(crate) on_create_only: bool,
}

/// The randomness seed of one user's mapping: the plan's seed mixed with the user's object id
/// and the field (FNV-1a), so that `Guid()` and `RandomString()` differ between users.
fn user_seed(seed: u64, user_id: &str, field: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed;
    for byte in user_id.bytes().chain([0]).chain(field.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The randomness seed of mapping `at` for `user`: each user and mapping draws its own
/// Guid()/RandomString() values, still the same in every plan of the same config (a reviewed
/// plan applies as reviewed), never the same for two users.
fn mapping_seed(compiled: &Compiled<'_>, at: usize, user: &SourceUser<'_>, seed: u64) -> u64 {
    if compiled.draws_random[at] {
        user_seed(seed, user.id, compiled.mappings[at].0.target.as_str())
    } else {
        seed
    }
}

/// A mapping's value before it is a field's: a text read or given as it is, borrowed, or what
/// an attribute of another type or an expression gives.
enum Flow<'t> {
    Text(&'t str),
    Value(Value),
}

impl From<Value> for Flow<'_> {
    fn from(value: Value) -> Self {
        Flow::Value(value)
    }
}

pub(super) fn desired(
    compiled: &Compiled<'_>,
    user: &SourceUser<'_>,
    creating: bool,
    (now, seed): (expr::DateTime, u64),
    existing: &dyn Fn(&str, &str) -> bool,
    explain: bool,
) -> Desired {
    let mut out = Desired {
        // Room for every mapping and the profile and role a create adds: one allocation.
        fields: super::Fields::with_capacity(compiled.mappings.len() + 2),
        errors: Vec::new(),
        skipped: None,
        traces: Vec::new(),
    };
    // Each mapping's value, evaluated in mapping order (errors and traces read in that order),
    // then gathered in name order.
    let mut values: Vec<Option<FieldValue>> = vec![None; compiled.mappings.len()];
    for (at, (mapping, _)) in compiled.mappings.iter().enumerate() {
        // How the mapping reads, for messages only.
        let shown = || match &mapping.value {
            MappingValue::Source(name) => format!("[{name}]"),
            MappingValue::Constant(c) => format!("constant {c:?}"),
            MappingValue::Expression(e) => e.text.clone(),
        };
        if !creating && mapping.apply == ApplyMode::OnCreate {
            if explain {
                out.traces.push(FieldTrace {
                    field: mapping.target.clone(),
                    from: shown(),
                    value: None,
                    on_create_only: true,
                });
            }
            continue;
        }
        let target = mapping.target.as_str();
        // Most mappings name an attribute or a constant: a text among those is the field's
        // value as it is, held without a copy of its own first (one allocation a value less).
        let value = match &mapping.value {
            MappingValue::Constant(c) => Ok(Flow::Text(c)),
            MappingValue::Source(name) => Ok(match expr::Attributes::text(user, *name) {
                Some(text) => Flow::Text(text),
                None => expr::Attributes::attribute(user, *name).into(),
            }),
            MappingValue::Expression(e) => {
                let seed = mapping_seed(compiled, at, user, seed);
                let check = |v: &str| existing(target, v);
                let ctx = Context::new(now, seed).with_existing(&check);
                expr::evaluate(&e.parsed, user, &ctx).map(Flow::from)
            }
        };
        let result = match value {
            Err(e) => {
                out.errors
                    .push(format!("mapping {target} ({}): {}", shown(), e.message));
                continue;
            }
            Ok(Flow::Text(text)) => Some(FieldValue::from(text)),
            Ok(Flow::Value(Value::Str(s))) => Some(FieldValue::from(s)),
            Ok(Flow::Value(Value::Date(d))) => Some(FieldValue::from(expr::format_general(d))),
            Ok(Flow::Value(Value::Multi(values))) => {
                out.errors.push(format!(
                    "mapping {target} ({}) gives {}; a User field holds one value",
                    shown(),
                    match values.len() {
                        1 => "a multi-valued attribute's one value (write Item([...], 1))".to_owned(),
                        n => format!("{n} values"),
                    }
                ));
                None
            }
            Ok(Flow::Value(Value::Null)) if creating => {
                mapping.default.as_deref().map(FieldValue::from)
            }
            Ok(Flow::Value(Value::Null | Value::Ignore)) => None,
            Ok(Flow::Value(Value::IgnoreObject)) => {
                if explain {
                    out.traces.push(FieldTrace {
                        field: target.to_owned(),
                        from: format!("{} returned IgnoreObjectFlow: the user is skipped", shown()),
                        value: None,
                        on_create_only: false,
                    });
                }
                out.skipped = Some(format!(
                    "skipped by expression: mapping {target} ({}) returned IgnoreObjectFlow, so \
                     this user is neither created nor updated in this run",
                    shown()
                ));
                break;
            }
        };
        if explain {
            out.traces.push(FieldTrace {
                field: target.to_owned(),
                from: shown(),
                value: result
                    .as_ref()
                    .and_then(FieldValue::as_str)
                    .map(str::to_owned),
                on_create_only: false,
            });
        }
        values[at] = result;
    }
    for &at in &compiled.by_target {
        if let Some(value) = values[at].take() {
            let key = &compiled.mappings[at].1;
            out.fields.push_in_order(*key, value);
        }
    }
    out
}

/// What the role rules give a user: the records borrowed from the rules' (`names::Resolved`).
/// Every user's rules name the same few records, shared by the planner's threads; a copy of
/// their `Arc`s per user was an atomic count on a cache line both cores write, so a change
/// copies only what it keeps.
#[derive(Default)]
pub(super) struct Roles<'r> {
    /// (name, id).
    pub(super) profile: Option<&'r (Arc<str>, Arc<str>)>,
    pub(super) role: Option<&'r (Arc<str>, Arc<str>)>,
    /// (kind, name, id, index of the first rule that granted it).
    pub(super) grants: Vec<(GrantKind, &'r Arc<str>, &'r Arc<str>, usize)>,
    /// Feature licences the rules turn on, with the first rule that did.
    pub(super) features: Vec<(&'static FeatureLicense, usize)>,
    pub(super) errors: Vec<String>,
    /// Rules that matched (indexes into `roles.rules`).
    pub(super) fired: Vec<usize>,
}

pub(super) fn roles<'r>(
    config: &Config,
    resolved: &'r [super::names::Resolved],
    user: &SourceUser<'_>,
    ctx: &Context<'_>,
) -> Roles<'r> {
    // A rule without records (none resolved for it).
    static NONE: super::names::Resolved = super::names::Resolved {
        profile: None,
        role: None,
        grants: Vec::new(),
    };
    let mut out = Roles::default();
    let mut decided = false;
    for (i, rule) in config.roles.rules.iter().enumerate() {
        let matched = match &rule.when {
            RoleCondition::AppRole(name) => {
                user.roles().contains(name.as_str()) || user.role_names().contains(name.as_str())
            }
            RoleCondition::Group(name) => user.groups().contains(name.as_str()),
            // A condition that cannot be evaluated is an error for the user, never "false".
            RoleCondition::Expression(e) => match expr::evaluate(&e.parsed, user, ctx) {
                Ok(v) => matches!(v, Value::Str(s) if s.eq_ignore_ascii_case("true")),
                Err(err) => {
                    out.errors.push(format!(
                        "role rule {} ({} `{}`): {}",
                        i + 1,
                        e.pointer,
                        e.text,
                        err.message
                    ));
                    false
                }
            },
        };
        if !matched {
            continue;
        }
        out.fired.push(i);
        // The names were resolved once for the plan (`names.rs`), which is refused if any
        // does not resolve.
        let records = resolved.get(i).unwrap_or(&NONE);
        if !decided && rule.profile.is_some() {
            decided = true;
            out.profile = records.profile.as_ref();
            out.role = records.role.as_ref();
        }
        for (kind, name, id) in &records.grants {
            if !out.grants.iter().any(|(k, _, g, _)| k == kind && *g == id) {
                out.grants.push((*kind, name, id, i));
            }
        }
        for feature in &rule.feature_licenses {
            if !out.features.iter().any(|(f, _)| f.field == feature.field) {
                out.features.push((feature, i));
            }
        }
    }
    out
}

/// Why a user without a profile is not created (the Entra tutorial's Default Access pitfall).
pub(super) fn no_profile(user: &SourceUser<'_>) -> String {
    let held = if user.roles().is_empty() {
        "the user holds no app role; Default Access does not count".to_owned()
    } else {
        format!(
            "the user's app roles are {}",
            user.roles().iter().copied().collect::<Vec<_>>().join(", ")
        )
    };
    format!("no valid app role: no roles rule gives this user a profile; {held}")
}

/// What Salesforce would reject on create: a required field without a value, a value the org's
/// describe does not allow (`values::FieldRules`).
pub(super) fn preflight(
    fields: &super::Fields,
    rules: &super::values::FieldRules,
) -> Result<(), String> {
    for required in user_fields::REQUIRED_ON_CREATE {
        if fields
            .get(required)
            .and_then(FieldValue::as_str)
            .is_none_or(|v| user_fields::stored_text(v).is_empty())
        {
            return Err(format!(
                "Salesforce requires {required} on create, and the mappings give it no value"
            ));
        }
    }
    for (name, value) in fields {
        rules.check(*name, value)?;
    }
    Ok(())
}
