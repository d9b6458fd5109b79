//! Matching, mapping, roles and lifecycle: for every source user in scope, find its Salesforce
//! user (or decide to create one), compute the fields and permission sets it should have, and
//! compare; then deprovision the owned or linked Salesforce users whose source left the scope.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use serde_json::Value as Json;

use super::compare::{differs, match_key};
use super::scope::{self, Decision};
use super::source::{self, SourceUser};
use super::{
    Action, Change, Inputs, PermissionSetChanges, PermissionSetRef, Plan, Problem, ProblemKind,
    Situation, Summary,
};
use crate::config::{ApplyMode, Config, Mapping, MappingValue, OutOfScope, RoleCondition};
use crate::expr::{self, Context, Value};
use crate::model::{SourceSnapshot, TargetSnapshot, TargetUser};
use crate::salesforce::user_fields;
use crate::suggest::closest;

/// The config's expressions, parsed once.
pub(super) struct Compiled<'c> {
    matching: Vec<(Option<expr::Expr>, &'c str, String)>,
    mappings: Vec<(&'c Mapping, Option<expr::Expr>, Arc<str>)>,
    role_conditions: Vec<Option<expr::Expr>>,
    /// Salesforce's length limit of each mapped field.
    pub(super) max_len: HashMap<&'c str, usize>,
}

fn compile(config: &Config) -> Compiled<'_> {
    Compiled {
        matching: config
            .matching
            .iter()
            .map(|m| {
                (
                    expr::parse(&m.source).ok(),
                    m.target.as_str(),
                    m.source.clone(),
                )
            })
            .collect(),
        mappings: config
            .mappings
            .iter()
            .map(|m| match m.value() {
                Some(MappingValue::Expression(e)) => {
                    (m, expr::parse(e).ok(), Arc::from(m.target.as_str()))
                }
                _ => (m, None, Arc::from(m.target.as_str())),
            })
            .collect(),
        max_len: config
            .mappings
            .iter()
            .filter_map(|m| {
                let max = user_fields::user_field(&m.target)?.max_len?;
                Some((m.target.as_str(), max))
            })
            .collect(),
        role_conditions: config
            .roles
            .rules
            .iter()
            .map(|r| match &r.when {
                RoleCondition::Expression(e) => expr::parse(e).ok(),
                _ => None,
            })
            .collect(),
    }
}

/// A field of a target user (Salesforce field names are case-insensitive).
fn field<'t>(user: &'t TargetUser, name: &str) -> Option<&'t Json> {
    user.fields.get(name).or_else(|| {
        user.fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

pub(super) fn text(user: &TargetUser, name: &str) -> String {
    field(user, name)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn is_active(user: &TargetUser) -> bool {
    field(user, "IsActive") != Some(&Json::Bool(false))
}

/// The org's names and ids, and the rules about which users roster may touch.
pub(super) struct Org<'t> {
    profiles: HashMap<&'t str, &'t str>,
    profile_names: HashMap<&'t str, &'t str>,
    roles: HashMap<&'t str, &'t str>,
    sets: HashMap<&'t str, &'t str>,
    /// Current assignments of the sets the config names, by user id.
    assignments: HashMap<&'t str, Vec<(&'t str, &'t str)>>,
}

impl<'t> Org<'t> {
    fn new(target: &'t TargetSnapshot) -> Org<'t> {
        let mut roles: HashMap<&str, &str> = HashMap::new();
        for r in &target.roles {
            roles.insert(&r.name, &r.id);
            if let Some(dev) = &r.developer_name {
                roles.entry(dev).or_insert(&r.id);
            }
        }
        let mut assignments: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
        for a in &target.permission_set_assignments {
            assignments
                .entry(&a.assignee_id)
                .or_default()
                .push((&a.permission_set_id, &a.id));
        }
        Org {
            profiles: target
                .profiles
                .iter()
                .map(|p| (p.name.as_str(), p.id.as_str()))
                .collect(),
            profile_names: target
                .profiles
                .iter()
                .map(|p| (p.id.as_str(), p.name.as_str()))
                .collect(),
            roles,
            sets: target
                .permission_sets
                .iter()
                .map(|s| (s.name.as_str(), s.id.as_str()))
                .collect(),
            assignments,
        }
    }

    fn protected(&self, config: &Config, user: &TargetUser) -> bool {
        let username = text(user, "Username");
        let profile = self
            .profile_names
            .get(text(user, "ProfileId").as_str())
            .copied()
            .unwrap_or_default();
        config
            .protect
            .usernames
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&username))
            || config.protect.profiles.iter().any(|p| p == profile)
    }
}

fn owned(config: &Config, user: &TargetUser) -> bool {
    config
        .ownership
        .username_suffix
        .as_deref()
        .is_some_and(|suffix| {
            text(user, "Username")
                .to_lowercase()
                .ends_with(&suffix.to_lowercase())
        })
}

/// Users a percentage threshold counts against: owned ones, or all when no suffix is set.
pub(super) fn owned_count(config: &Config, target: &TargetSnapshot) -> usize {
    if config.ownership.username_suffix.is_none() {
        return target.users.len();
    }
    target.users.iter().filter(|u| owned(config, u)).count()
}

/// Per matching rule, the target users by their (normalized) value of the rule's field.
pub(super) fn match_index(
    compiled: &Compiled<'_>,
    target: &TargetSnapshot,
    suffix: &str,
) -> Vec<HashMap<String, Vec<usize>>> {
    compiled
        .matching
        .iter()
        .map(|(_, field_name, _)| {
            let mut map: HashMap<String, Vec<usize>> = HashMap::new();
            for (t, user) in target.users.iter().enumerate() {
                if let Some(value) = field(user, field_name).and_then(Json::as_str)
                    && !value.trim().is_empty()
                {
                    map.entry(match_key(field_name, value, suffix))
                        .or_default()
                        .push(t);
                }
            }
            map
        })
        .collect()
}

/// How a source user relates to the target users.
#[derive(Clone, Debug)]
pub(super) enum Link {
    Linked {
        target: usize,
        by: String,
    },
    Unmatched {
        /// The rules that gave a value, with the value looked up.
        tried: Vec<(usize, String)>,
    },
    /// The reason, and the Salesforce users in dispute (never deprovisioned for it).
    Disputed(String, Vec<usize>),
}

/// Matching: rules in precedence order; the first rule that finds exactly one target user
/// links; one that finds several is a dispute.
pub(super) fn link(
    compiled: &Compiled<'_>,
    index: &[HashMap<String, Vec<usize>>],
    target: &TargetSnapshot,
    user: &SourceUser<'_>,
    ctx: &Context<'_>,
    suffix: &str,
    mut explain: Option<&mut Vec<String>>,
) -> Link {
    let mut tried = Vec::new();
    for (i, (parsed, field, source)) in compiled.matching.iter().enumerate() {
        let value = match parsed.as_ref().map(|e| expr::evaluate(e, user, ctx)) {
            Some(Ok(Value::Str(v))) if !v.trim().is_empty() => v,
            Some(Err(e)) => {
                if let Some(lines) = explain.as_deref_mut() {
                    lines.push(format!(
                        "rule {}: {field} <- {source}: error: {}",
                        i + 1,
                        e.message
                    ));
                }
                continue;
            }
            _ => {
                if let Some(lines) = explain.as_deref_mut() {
                    lines.push(format!("rule {}: {field} <- {source}: no value", i + 1));
                }
                continue;
            }
        };
        let found = index[i]
            .get(&match_key(field, &value, suffix))
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Some(lines) = explain.as_deref_mut() {
            lines.push(format!(
                "rule {}: {field} = {value:?}: {} Salesforce user(s)",
                i + 1,
                found.len()
            ));
        }
        match found {
            [] => tried.push((i, value)),
            [one] => {
                return Link::Linked {
                    target: *one,
                    by: (*field).to_owned(),
                };
            }
            several => {
                let names: Vec<String> = several
                    .iter()
                    .map(|t| text(&target.users[*t], "Username"))
                    .collect();
                return Link::Disputed(
                    format!(
                        "disputed: {} Salesforce users have {field} = {value:?} ({})",
                        several.len(),
                        names.join(", ")
                    ),
                    several.to_vec(),
                );
            }
        }
    }
    Link::Unmatched { tried }
}

/// The fields a user should have, by mapping.
pub(super) struct Desired {
    /// Field name to value (always a JSON string: what a create writes as it is).
    pub(super) fields: BTreeMap<Arc<str>, Json>,
    pub(super) errors: Vec<String>,
    /// For `roster explain`: mapping, source value, result.
    pub(super) lines: Vec<String>,
}

fn desired(
    compiled: &Compiled<'_>,
    user: &SourceUser<'_>,
    creating: bool,
    (now, seed): (expr::DateTime, u64),
    existing: &dyn Fn(&str, &str) -> bool,
    explain: bool,
) -> Desired {
    let mut out = Desired {
        fields: BTreeMap::new(),
        errors: Vec::new(),
        lines: Vec::new(),
    };
    for (mapping, parsed, key) in &compiled.mappings {
        if !creating && mapping.apply == ApplyMode::OnCreate {
            if explain {
                out.lines
                    .push(format!("{}: on_create only, not updated", mapping.target));
            }
            continue;
        }
        let target = mapping.target.as_str();
        let check = |v: &str| existing(target, v);
        let ctx = Context::new(now, seed).with_existing(&check);
        // How the mapping reads, for messages only.
        let shown = || match mapping.value() {
            Some(MappingValue::Source(name)) => format!("[{name}]"),
            Some(MappingValue::Constant(c)) => format!("constant {c:?}"),
            Some(MappingValue::Expression(e)) => e.to_owned(),
            None => String::new(),
        };
        let value = match mapping.value() {
            Some(MappingValue::Source(name)) => Ok(expr::Attributes::attribute(user, name)),
            Some(MappingValue::Constant(c)) => Ok(Value::Str(c.to_owned())),
            Some(MappingValue::Expression(_)) => parsed
                .as_ref()
                .map_or(Ok(Value::Null), |p| expr::evaluate(p, user, &ctx)),
            None => continue,
        };
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                out.errors
                    .push(format!("mapping {target} ({}): {}", shown(), e.message));
                continue;
            }
        };
        let result = match value {
            Value::Str(s) => Some(s),
            Value::Multi(values) => {
                out.errors.push(format!(
                    "mapping {target} ({}) gives {} values; a User field holds one",
                    shown(),
                    values.len()
                ));
                None
            }
            Value::Null if creating => mapping.default.clone(),
            Value::Null | Value::Ignore => None,
        };
        if explain {
            out.lines.push(format!(
                "{target} <- {}: {}",
                shown(),
                result
                    .as_deref()
                    .map_or_else(|| "null (nothing flows)".to_owned(), |r| format!("{r:?}"))
            ));
        }
        if let Some(result) = result {
            out.fields.insert(Arc::clone(key), Json::String(result));
        }
    }
    out
}

/// What the role rules give a user.
#[derive(Default)]
pub(super) struct Roles {
    pub(super) profile: Option<(String, String)>,
    pub(super) role: Option<(String, String)>,
    pub(super) sets: Vec<(String, String)>,
    pub(super) errors: Vec<String>,
    /// Rules that matched (indexes into `roles.rules`).
    pub(super) fired: Vec<usize>,
}

pub(super) fn roles(
    config: &Config,
    compiled: &Compiled<'_>,
    org: &Org<'_>,
    user: &SourceUser<'_>,
    ctx: &Context<'_>,
) -> Roles {
    let mut out = Roles::default();
    let mut decided = false;
    for (i, rule) in config.roles.rules.iter().enumerate() {
        let matched = match &rule.when {
            RoleCondition::AppRole(name) => {
                user.roles.contains(name.as_str()) || user.role_names.contains(name.as_str())
            }
            RoleCondition::Group(name) => user.groups.contains(name.as_str()),
            RoleCondition::Expression(_) => compiled.role_conditions[i]
                .as_ref()
                .and_then(|e| expr::evaluate(e, user, ctx).ok())
                .is_some_and(|v| matches!(v, Value::Str(s) if s.eq_ignore_ascii_case("true"))),
        };
        if !matched {
            continue;
        }
        out.fired.push(i);
        if !decided && rule.profile.is_some() {
            decided = true;
            if let Some(name) = &rule.profile {
                match org.profiles.get(name.as_str()) {
                    Some(id) => out.profile = Some((name.clone(), (*id).to_owned())),
                    None => out
                        .errors
                        .push(unknown("profile", name, org.profiles.keys())),
                }
            }
            if let Some(name) = &rule.role {
                match org.roles.get(name.as_str()) {
                    Some(id) => out.role = Some((name.clone(), (*id).to_owned())),
                    None => out.errors.push(unknown("role", name, org.roles.keys())),
                }
            }
        }
        for set in &rule.permission_sets {
            match org.sets.get(set.as_str()) {
                Some(id) if !out.sets.iter().any(|(n, _)| n == set) => {
                    out.sets.push((set.clone(), (*id).to_owned()));
                }
                Some(_) => {}
                None => out
                    .errors
                    .push(unknown("permission set", set, org.sets.keys())),
            }
        }
    }
    out
}

fn unknown<'a>(what: &str, name: &str, known: impl Iterator<Item = &'a &'a str>) -> String {
    let known: Vec<&str> = known.copied().collect();
    let hint = closest(name, known.iter().copied())
        .map(|c| format!("; did you mean {c:?}?"))
        .unwrap_or_default();
    format!("the org has no {what} named {name:?}{hint}")
}

/// Everything reconciled, before `--target` and safety.
#[allow(
    clippy::too_many_lines,
    reason = "the lifecycle reads best as one pass: scope, link, map, decide"
)]
pub(super) fn reconcile(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    inputs: &Inputs<'_>,
) -> Plan {
    let mut plan = Plan::default();
    let state = State::new(config, source, target, inputs);
    let in_scope = state.decisions.iter().filter(|d| d.in_scope).count();
    plan.summary = Summary {
        in_scope,
        ..Summary::default()
    };
    if in_scope == 0 && config.safety.refuse_empty_source {
        plan.refused = Some(format!(
            "no Entra user is in scope ({} read from the application): roster refuses to plan, \
             since that would deactivate every user it manages. Check the assignments and \
             scoping filters, or set safety.refuse_empty_source: false",
            state.users.len()
        ));
        return plan;
    }
    let mut linked_targets: HashSet<usize> = HashSet::new();
    // Creates stay where they are pushed; `check_creates` takes back the ones it refuses.
    let mut creates: Vec<Create> = Vec::new();
    plan.changes.reserve(in_scope);
    let mut unchanged = 0;
    for (i, user) in state.users.iter().enumerate() {
        let decision = &state.decisions[i];
        match &state.links[i] {
            Link::Linked { target: t, .. } => {
                linked_targets.insert(*t);
            }
            // A Salesforce user in dispute is never acted on, not even as an orphan.
            Link::Disputed(reason, targets) => {
                linked_targets.extend(targets.iter().copied());
                if decision.in_scope {
                    plan.errors.push(Problem {
                        kind: ProblemKind::Conflict,
                        key: user.key.to_owned(),
                        reason: reason.clone(),
                    });
                }
                continue;
            }
            Link::Unmatched { .. } => {}
        }
        if !decision.in_scope {
            continue;
        }
        match &state.links[i] {
            Link::Linked { target: t, by } => match state.update(user, *t, by) {
                Ok(Some(change)) => plan.changes.push(change),
                Ok(None) => unchanged += 1,
                Err(problem) => plan.errors.push(problem),
            },
            Link::Unmatched { tried } => match state.create(user, tried) {
                Ok((change, create)) => {
                    creates.push(Create {
                        index: plan.changes.len(),
                        ..create
                    });
                    plan.changes.push(change);
                }
                Err(problem) => plan.errors.push(problem),
            },
            Link::Disputed(..) => {}
        }
    }
    state.check_creates(&creates, &mut plan);
    // Deprovisioning: linked to a source user out of scope, or owned and linked to nobody.
    for (t, user) in target.users.iter().enumerate() {
        if !is_active(user) || state.org.protected(config, user) {
            continue;
        }
        let source_link = state.linked_source.get(&t).copied();
        let (situation, reason, source_id, key) = match source_link {
            Some(i) if state.decisions[i].in_scope => continue,
            Some(i) => (
                Situation::OutOfScope,
                format!("out of scope: {}", state.decisions[i].reason),
                Some(state.users[i].id.to_owned()),
                state.users[i].key.to_owned(),
            ),
            None if owned(config, user) && !linked_targets.contains(&t) => (
                Situation::Orphaned,
                format!(
                    "orphaned: owned (Username ends with {}) and no Entra user of the application links to it",
                    config
                        .ownership
                        .username_suffix
                        .as_deref()
                        .unwrap_or_default()
                ),
                None,
                text(user, "Username"),
            ),
            None => continue,
        };
        let action = match config.deprovision.out_of_scope {
            OutOfScope::Ignore => continue,
            OutOfScope::Deactivate => Action::Deactivate,
            // Already frozen (the reader marks frozen users): nothing to do.
            OutOfScope::Freeze if field(user, "IsFrozen") == Some(&Json::Bool(true)) => continue,
            OutOfScope::Freeze => Action::Freeze,
        };
        let (field, before, after) = match action {
            Action::Freeze => ("IsFrozen", Json::Bool(false), Json::Bool(true)),
            _ => ("IsActive", Json::Bool(true), Json::Bool(false)),
        };
        plan.changes.push(Change {
            action,
            key,
            situation,
            reason,
            source_id,
            target_id: Some(user.id.clone()),
            before: BTreeMap::from([(Arc::from(field), before)]),
            after: BTreeMap::from([(Arc::from(field), after)]),
            labels: BTreeMap::new(),
            unchanged: 0,
            permission_sets: PermissionSetChanges::default(),
            fingerprint: fingerprint(user),
        });
    }
    sort_changes(&mut plan.changes);
    plan.errors
        .sort_by(|a, b| (&a.key, &a.reason).cmp(&(&b.key, &b.reason)));
    plan.summary.unchanged = unchanged;
    plan
}

/// A create waiting for the checks across creates.
pub(super) struct Create {
    /// Where it is in `plan.changes`.
    index: usize,
    /// The licence its profile needs.
    licence: String,
    /// Its Username, lower case.
    username: String,
}

/// Orders changes by action, then key (then Salesforce id, for the rare equal keys), moving
/// each change once: sorting the changes themselves would move them many times.
fn sort_changes(changes: &mut Vec<Change>) {
    let mut order: Vec<usize> = (0..changes.len()).collect();
    order.sort_unstable_by(|a, b| {
        let (a, b) = (&changes[*a], &changes[*b]);
        (a.action, &a.key, &a.target_id).cmp(&(b.action, &b.key, &b.target_id))
    });
    let mut slots: Vec<Option<Change>> = changes.drain(..).map(Some).collect();
    changes.extend(order.into_iter().filter_map(|i| slots[i].take()));
}

/// "unmatched: no Salesforce user with FederationIdentifier = "..." or Username = "..."".
fn unmatched_reason(compiled: &Compiled<'_>, tried: &[(usize, String)]) -> String {
    if tried.is_empty() {
        return "unmatched: no matching rule gave a value to look up".to_owned();
    }
    let mut reason = String::from("unmatched: no Salesforce user with ");
    for (n, (rule, value)) in tried.iter().enumerate() {
        if n > 0 {
            reason.push_str(" or ");
        }
        let _ = write!(reason, "{} = {value:?}", compiled.matching[*rule].1);
    }
    reason
}

fn fingerprint(user: &TargetUser) -> Option<String> {
    field(user, "SystemModstamp")
        .or_else(|| field(user, "LastModifiedDate"))
        .and_then(Json::as_str)
        .map(str::to_owned)
}

/// The planner's working state for one plan.
pub(super) struct State<'a> {
    pub(super) config: &'a Config,
    pub(super) target: &'a TargetSnapshot,
    pub(super) org: Org<'a>,
    pub(super) compiled: Compiled<'a>,
    pub(super) users: Vec<SourceUser<'a>>,
    pub(super) decisions: Vec<Decision>,
    pub(super) links: Vec<Link>,
    pub(super) inputs: &'a Inputs<'a>,
    /// Values taken per field (lower case for Username), for SelectUniqueValue.
    pub(super) taken: RefCell<HashMap<String, HashSet<String>>>,
    /// Target users by lower-case Username, and by id.
    pub(super) by_username: HashMap<String, usize>,
    pub(super) by_id: HashMap<&'a str, usize>,
    /// The source user linked to each linked target user.
    pub(super) linked_source: HashMap<usize, usize>,
}

impl<'a> State<'a> {
    pub(super) fn new(
        config: &'a Config,
        source: &'a SourceSnapshot,
        target: &'a TargetSnapshot,
        inputs: &'a Inputs<'a>,
    ) -> State<'a> {
        let compiled = compile(config);
        let users = source::users(source);
        let regexes = scope::regexes(config);
        let decisions: Vec<Decision> = users
            .iter()
            .map(|u| scope::decide(config, &regexes, u, false))
            .collect();
        let suffix = config.safety.sandbox_email_suffix.as_str();
        let index = match_index(&compiled, target, suffix);
        let ctx = Context::new(inputs.now, inputs.seed);
        let mut links: Vec<Link> = users
            .iter()
            .map(|u| link(&compiled, &index, target, u, &ctx, suffix, None))
            .collect();
        // Two source users on one target user: neither is linked.
        let mut claims: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, l) in links.iter().enumerate() {
            if let Link::Linked { target: t, .. } = l {
                claims.entry(*t).or_default().push(i);
            }
        }
        for (t, sources) in claims {
            if sources.len() > 1 {
                let keys: Vec<&str> = sources.iter().map(|i| users[*i].key).collect();
                let reason = format!(
                    "disputed: Salesforce user {} is matched by {} Entra users ({})",
                    text(&target.users[t], "Username"),
                    sources.len(),
                    keys.join(", ")
                );
                for i in sources {
                    links[i] = Link::Disputed(reason.clone(), vec![t]);
                }
            }
        }
        // Only SelectUniqueValue asks what is taken: track just its fields.
        let mut taken: HashMap<String, HashSet<String>> = HashMap::new();
        for (mapping, _, _) in compiled
            .mappings
            .iter()
            .filter(|(_, e, _)| e.as_ref().is_some_and(expr::is_select_unique_value))
        {
            let set = taken.entry(mapping.target.to_lowercase()).or_default();
            for user in &target.users {
                if let Some(v) = field(user, &mapping.target).and_then(Json::as_str) {
                    set.insert(v.to_lowercase());
                }
            }
        }
        State {
            config,
            target,
            org: Org::new(target),
            compiled,
            users,
            decisions,
            by_username: target
                .users
                .iter()
                .enumerate()
                .map(|(t, u)| (text(u, "Username").to_lowercase(), t))
                .collect(),
            by_id: target
                .users
                .iter()
                .enumerate()
                .map(|(t, u)| (u.id.as_str(), t))
                .collect(),
            linked_source: links
                .iter()
                .enumerate()
                .filter_map(|(i, l)| match l {
                    Link::Linked { target, .. } => Some((*target, i)),
                    _ => None,
                })
                .collect(),
            links,
            inputs,
            taken: RefCell::new(taken),
        }
    }

    pub(super) fn context(&self) -> Context<'static> {
        Context::new(self.inputs.now, self.inputs.seed)
    }

    fn is_taken(&self, field: &str, value: &str) -> bool {
        self.taken
            .borrow()
            .get(&field.to_lowercase())
            .is_some_and(|s| s.contains(&value.to_lowercase()))
    }

    pub(super) fn desired(&self, user: &SourceUser<'_>, creating: bool, explain: bool) -> Desired {
        let existing = |field: &str, value: &str| self.is_taken(field, value);
        desired(
            &self.compiled,
            user,
            creating,
            (self.inputs.now, self.inputs.seed),
            &existing,
            explain,
        )
    }

    /// A linked user: what differs.
    fn update(&self, user: &SourceUser<'_>, t: usize, by: &str) -> Result<Option<Change>, Problem> {
        let current = &self.target.users[t];
        if self.org.protected(self.config, current) {
            return Ok(None);
        }
        let problem = |reason: String| Problem {
            kind: ProblemKind::Error,
            key: user.key.to_owned(),
            reason,
        };
        let wanted = self.desired(user, false, false);
        let roles = roles(
            self.config,
            &self.compiled,
            &self.org,
            user,
            &self.context(),
        );
        if let Some(first) = wanted.errors.first().or(roles.errors.first()) {
            return Err(problem(first.clone()));
        }
        let suffix = &self.config.safety.sandbox_email_suffix;
        let mut change = Change {
            action: Action::Update,
            key: user.key.to_owned(),
            situation: Situation::Linked,
            reason: String::new(),
            source_id: Some(user.id.to_owned()),
            target_id: Some(current.id.clone()),
            before: BTreeMap::new(),
            after: BTreeMap::new(),
            labels: BTreeMap::new(),
            unchanged: 0,
            permission_sets: PermissionSetChanges::default(),
            fingerprint: fingerprint(current),
        };
        for (name, value) in wanted.fields {
            let now = field(current, &name);
            if differs(&name, value.as_str().unwrap_or_default(), now, suffix) {
                change
                    .before
                    .insert(Arc::clone(&name), now.cloned().unwrap_or(Json::Null));
                change.after.insert(name, value);
            } else {
                change.unchanged += 1;
            }
        }
        let mut id_change = |field_name: &str,
                             wanted: &Option<(String, String)>,
                             names: &dyn Fn(&str) -> Option<String>| {
            if let Some((name, id)) = wanted {
                let now = text(current, field_name);
                if now.eq_ignore_ascii_case(id) {
                    change.unchanged += 1;
                } else {
                    change
                        .before
                        .insert(Arc::from(field_name), Json::String(now.clone()));
                    change
                        .after
                        .insert(Arc::from(field_name), Json::String(id.clone()));
                    if let Some(old) = names(&now) {
                        change.labels.insert(now, old);
                    }
                    change.labels.insert(id.clone(), name.clone());
                }
            }
        };
        let profile_name = |id: &str| self.org.profile_names.get(id).map(|n| (*n).to_owned());
        id_change("ProfileId", &roles.profile, &profile_name);
        let role_name = |id: &str| {
            self.target
                .roles
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.name.clone())
        };
        id_change("UserRoleId", &roles.role, &role_name);
        change.permission_sets = self.permission_sets(&current.id, &roles.sets);
        let reactivate = !is_active(current);
        if reactivate {
            change.action = Action::Reactivate;
            change.before.insert("IsActive".into(), Json::Bool(false));
            change.after.insert("IsActive".into(), Json::Bool(true));
        }
        if change.after.is_empty() && change.permission_sets.is_empty() {
            return Ok(None);
        }
        change.reason = update_reason(&change, by, user);
        Ok(Some(change))
    }

    /// Permission sets to add (wanted, not held) and remove (held, managed, not wanted).
    fn permission_sets(&self, user_id: &str, wanted: &[(String, String)]) -> PermissionSetChanges {
        let held = self
            .org
            .assignments
            .get(user_id)
            .cloned()
            .unwrap_or_default();
        let name_of = |set_id: &str| {
            self.target
                .permission_sets
                .iter()
                .find(|s| s.id == set_id)
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        let mut out = PermissionSetChanges::default();
        for (name, id) in wanted {
            if !held.iter().any(|(set, _)| set == id) {
                out.add.push(PermissionSetRef {
                    name: name.clone(),
                    id: id.clone(),
                    assignment_id: None,
                });
            }
        }
        for (set, assignment) in held {
            let name = name_of(set);
            let managed = self.config.roles.managed_permission_sets.contains(&name);
            if managed && !wanted.iter().any(|(_, id)| id == set) {
                out.remove.push(PermissionSetRef {
                    name,
                    id: set.to_owned(),
                    assignment_id: Some(assignment.to_owned()),
                });
            }
        }
        out.add.sort_by(|a, b| a.name.cmp(&b.name));
        out.remove.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// An unmatched user: a create with every field, or the reason it cannot be one. Returns the
    /// licence the profile needs.
    fn create(
        &self,
        user: &SourceUser<'_>,
        tried: &[(usize, String)],
    ) -> Result<(Change, Create), Problem> {
        let problem = |kind, reason: String| Problem {
            kind,
            key: user.key.to_owned(),
            reason,
        };
        let wanted = self.desired(user, true, false);
        let roles = roles(
            self.config,
            &self.compiled,
            &self.org,
            user,
            &self.context(),
        );
        if let Some(first) = wanted.errors.first().or(roles.errors.first()) {
            return Err(problem(ProblemKind::Error, first.clone()));
        }
        let Some((profile, profile_id)) = roles.profile.clone() else {
            return Err(problem(ProblemKind::Error, no_profile(user)));
        };
        preflight(&wanted.fields, &self.compiled.max_len)
            .map_err(|reason| problem(ProblemKind::Error, reason))?;
        let username = wanted
            .fields
            .get("Username")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        let username_lower = username.to_lowercase();
        if let Some(other) = self
            .by_username
            .get(&username_lower)
            .map(|t| &self.target.users[*t])
        {
            return Err(problem(
                ProblemKind::Conflict,
                format!(
                    "unmatched, but Username {username:?} already belongs to Salesforce user {} that no matching rule links",
                    other.id
                ),
            ));
        }
        {
            let mut taken = self.taken.borrow_mut();
            let tracked = !taken.is_empty();
            for (name, value) in wanted.fields.iter().filter(|_| tracked) {
                if let (Some(set), Some(value)) =
                    (taken.get_mut(&name.to_lowercase()), value.as_str())
                {
                    set.insert(value.to_lowercase());
                }
            }
        }
        let mut after = wanted.fields;
        let mut labels = BTreeMap::new();
        after.insert("ProfileId".into(), Json::String(profile_id.clone()));
        labels.insert(profile_id.clone(), profile);
        if let Some((role, role_id)) = roles.role {
            after.insert("UserRoleId".into(), Json::String(role_id.clone()));
            labels.insert(role_id, role);
        }
        let licence = self
            .target
            .profiles
            .iter()
            .find(|p| p.id == profile_id)
            .and_then(|p| p.user_license_id.clone())
            .unwrap_or_default();
        let change = Change {
            action: Action::Create,
            key: user.key.to_owned(),
            situation: Situation::Unmatched,
            reason: unmatched_reason(&self.compiled, tried),
            source_id: Some(user.id.to_owned()),
            target_id: None,
            before: BTreeMap::new(),
            after,
            labels,
            unchanged: 0,
            permission_sets: PermissionSetChanges {
                add: roles
                    .sets
                    .into_iter()
                    .map(|(name, id)| PermissionSetRef {
                        name,
                        id,
                        assignment_id: None,
                    })
                    .collect(),
                remove: Vec::new(),
            },
            fingerprint: None,
        };
        Ok((
            change,
            Create {
                index: 0,
                licence,
                username: username_lower,
            },
        ))
    }

    /// Creates that share a Username are conflicts; creates beyond a licence's free seats are
    /// errors (in key order, so the same users get seats every time).
    fn check_creates(&self, creates: &[Create], plan: &mut Plan) {
        let mut counts: HashMap<&str, usize> = HashMap::with_capacity(creates.len());
        for create in creates {
            *counts.entry(create.username.as_str()).or_insert(0) += 1;
        }
        // The keys sharing a Username, only for the (rare) Usernames given twice.
        let mut by_username: HashMap<&str, Vec<&str>> = HashMap::new();
        for create in creates {
            if counts.get(create.username.as_str()).is_some_and(|n| *n > 1) {
                by_username
                    .entry(create.username.as_str())
                    .or_default()
                    .push(plan.changes[create.index].key.as_str());
            }
        }
        for keys in by_username.values_mut() {
            keys.sort_unstable();
        }
        let mut seats = self.free_seats(plan);
        // When a licence runs out, the seats go in key order; when none does, the order does
        // not matter (the plan is sorted at the end).
        let mut demand: HashMap<&str, i64> = HashMap::new();
        for create in creates {
            *demand.entry(create.licence.as_str()).or_insert(0) += 1;
        }
        let short = demand
            .iter()
            .any(|(licence, n)| seats.get(*licence).is_some_and(|free| free < n));
        let mut order: Vec<usize> = (0..creates.len()).collect();
        if short {
            order.sort_unstable_by(|a, b| {
                plan.changes[creates[*a].index]
                    .key
                    .cmp(&plan.changes[creates[*b].index].key)
            });
        }
        let mut refused: Vec<Problem> = Vec::new();
        let mut dropped = vec![false; plan.changes.len()];
        for k in order {
            let Create {
                index: i,
                licence,
                username,
            } = &creates[k];
            let reason = if let Some(keys) = by_username.get(username.as_str()) {
                Some((
                    ProblemKind::Conflict,
                    format!(
                        "{} Entra users would get the Username {username:?} ({})",
                        keys.len(),
                        keys.join(", ")
                    ),
                ))
            } else {
                match seats.get_mut(licence) {
                    Some(free) if *free <= 0 => {
                        let name = self
                            .target
                            .licenses
                            .iter()
                            .find(|l| &l.id == licence)
                            .map_or(String::new(), |l| l.name.clone());
                        Some((
                            ProblemKind::Error,
                            format!(
                                "no {name} licence left for this create (LICENSE_LIMIT_EXCEEDED)"
                            ),
                        ))
                    }
                    Some(free) => {
                        *free -= 1;
                        None
                    }
                    None => None,
                }
            };
            if let Some((kind, reason)) = reason {
                refused.push(Problem {
                    kind,
                    key: plan.changes[*i].key.clone(),
                    reason,
                });
                dropped[*i] = true;
            }
        }
        drop(by_username);
        if !refused.is_empty() {
            let mut i = 0;
            plan.changes.retain(|_| {
                i += 1;
                !dropped[i - 1]
            });
            plan.errors.extend(refused);
        }
    }

    /// Free seats per licence, less those the plan's reactivations take.
    fn free_seats(&self, plan: &Plan) -> HashMap<String, i64> {
        let mut seats: HashMap<String, i64> = self
            .target
            .licenses
            .iter()
            .map(|l| (l.id.clone(), l.total - l.used))
            .collect();
        for change in &plan.changes {
            if change.action == Action::Reactivate
                && let Some(t) = change
                    .target_id
                    .as_deref()
                    .and_then(|id| self.by_id.get(id))
                    .map(|t| &self.target.users[*t])
                && let Some(licence) = self.licence_of(&text(t, "ProfileId"))
                && let Some(free) = seats.get_mut(&licence)
            {
                *free -= 1;
            }
        }
        seats
    }

    fn licence_of(&self, profile_id: &str) -> Option<String> {
        self.target
            .profiles
            .iter()
            .find(|p| p.id == profile_id)
            .and_then(|p| p.user_license_id.clone())
    }
}

/// Why a user without a profile is not created (the Entra tutorial's Default Access pitfall).
fn no_profile(user: &SourceUser<'_>) -> String {
    let held = if user.roles.is_empty() {
        "the user holds no app role; Default Access does not count".to_owned()
    } else {
        format!(
            "the user's app roles are {}",
            user.roles.iter().copied().collect::<Vec<_>>().join(", ")
        )
    };
    format!("no valid app role: no roles rule gives this user a profile; {held}")
}

/// What Salesforce would reject on create: a required field without a value, a value longer
/// than its field.
fn preflight(
    fields: &BTreeMap<Arc<str>, Json>,
    max_len: &HashMap<&str, usize>,
) -> Result<(), String> {
    for required in user_fields::REQUIRED_ON_CREATE {
        if fields
            .get(*required)
            .and_then(Json::as_str)
            .is_none_or(|v| v.trim().is_empty())
        {
            return Err(format!(
                "Salesforce requires {required} on create, and the mappings give it no value"
            ));
        }
    }
    for (name, value) in fields {
        let value = value.as_str().unwrap_or_default();
        if let Some(&max) = max_len.get(name.as_ref())
            && value.len() > max
            && value.chars().count() > max
        {
            return Err(format!(
                "{name} {value:?} is {} characters; Salesforce allows {max}",
                value.chars().count()
            ));
        }
    }
    Ok(())
}

/// The reason line of an update or reactivation.
fn update_reason(change: &Change, by: &str, user: &SourceUser<'_>) -> String {
    let mut what: Vec<String> = change
        .after
        .keys()
        .filter(|k| k.as_ref() != "IsActive")
        .map(ToString::to_string)
        .collect();
    if !change.permission_sets.is_empty() {
        what.push("permission sets".to_owned());
    }
    match (change.action == Action::Reactivate, what.is_empty()) {
        (true, true) => format!(
            "linked by {by}; inactive in Salesforce and in scope again ({})",
            user.assignment_reason()
        ),
        (true, false) => format!(
            "linked by {by}; inactive in Salesforce and in scope again; {} changed",
            what.join(", ")
        ),
        (false, _) => format!("linked by {by}; {} changed in Entra", what.join(", ")),
    }
}
