//! The lifecycle of one user: an update (or reactivation) of a linked user, a create of an
//! unmatched one, and the checks across creates (shared Usernames, licence seats).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value as Json;

use super::compare::differs;
use super::mapping::{Desired, Roles, no_profile, preflight, roles};
use super::matching::unmatched_reason;
use super::reconcile::{Create, State};
use super::source::SourceUser;
use super::target::fingerprint;
use super::{
    Action, Change, PermissionSetChanges, PermissionSetRef, Plan, Problem, ProblemKind, Situation,
};

impl State<'_> {
    /// The fields and the role rules' outcome a user should have, or the first reason it
    /// cannot be computed.
    fn wanted(
        &self,
        user: &SourceUser<'_>,
        creating: bool,
    ) -> Result<(Desired, Roles), (ProblemKind, String)> {
        let wanted = self.desired(user, creating, false);
        if let Some(why) = wanted.skipped {
            return Err((ProblemKind::Skipped, why));
        }
        let roles = roles(self.config, &self.resolved, user, &self.context());
        match wanted.errors.first().or(roles.errors.first()) {
            Some(first) => Err((ProblemKind::Error, first.clone())),
            None => Ok((wanted, roles)),
        }
    }

    /// A linked user: what differs.
    pub(super) fn update(
        &self,
        user: &SourceUser<'_>,
        t: usize,
        by: &str,
    ) -> Result<Option<Change>, Problem> {
        let current = &self.target.users[t];
        if self.org.protected(self.config, current) {
            return Ok(None);
        }
        let (wanted, roles) = self.wanted(user, false).map_err(|(kind, reason)| Problem {
            kind,
            key: user.key.to_owned(),
            reason,
        })?;
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
            cause: None,
            pending_fields: Vec::new(),
            login_id: None,
        };
        for (name, value) in wanted.fields {
            let now = current.field(&name);
            if differs(
                &name,
                value.as_str().unwrap_or_default(),
                now.as_deref(),
                suffix,
            ) {
                change
                    .before
                    .insert(Arc::clone(&name), now.map_or(Json::Null, Cow::into_owned));
                change.after.insert(name, value);
            } else {
                change.unchanged += 1;
            }
        }
        let mut id_change = |field_name: &str,
                             wanted: &Option<(String, String)>,
                             names: &dyn Fn(&str) -> Option<String>| {
            if let Some((name, id)) = wanted {
                let now = current.text(field_name).unwrap_or_default().to_owned();
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
        let reactivate = !current.is_active;
        if reactivate {
            change.action = Action::Reactivate;
            change.before.insert("IsActive".into(), Json::Bool(false));
            change.after.insert("IsActive".into(), Json::Bool(true));
        }
        // A user frozen while out of scope (or by an admin) and in scope again is let back in:
        // the freeze lives on the user's UserLogin, which apply writes.
        if let Some(login) = current.login.as_ref().filter(|l| l.is_frozen) {
            change.before.insert("IsFrozen".into(), Json::Bool(true));
            change.after.insert("IsFrozen".into(), Json::Bool(false));
            change.login_id = Some(login.id.clone());
        }
        if change.after.is_empty() && change.permission_sets.is_empty() {
            return Ok(None);
        }
        self.check_update(&change, user.key, &current.id)?;
        change.reason = update_reason(&change, by, user, &self.compiled);
        Ok(Some(change))
    }

    /// A value the org would refuse fails this user's update at apply: an error item now; a
    /// unique value someone else holds, a conflict.
    fn check_update(&self, change: &Change, key: &str, own: &str) -> Result<(), Problem> {
        let problem = |kind, reason| Problem {
            kind,
            key: key.to_owned(),
            reason,
        };
        for (name, value) in &change.after {
            self.field_rules
                .check(name, value)
                .map_err(|reason| problem(ProblemKind::Error, reason))?;
        }
        self.unique_values
            .claim(change.after.iter().map(|(k, v)| (&**k, v)), key, Some(own))
            .map_err(|(reason, holder)| {
                self.hold_in_conflict(holder.as_deref());
                problem(ProblemKind::Conflict, reason)
            })
    }

    /// Keeps the Salesforce user a conflict names (by id) out of this plan's deprovisioning.
    fn hold_in_conflict(&self, id: Option<&str>) {
        if let Some(t) = id.and_then(|id| self.by_id.get(id)) {
            self.in_conflict.borrow_mut().insert(*t);
        }
    }

    /// Why a create cannot have `username`: another Salesforce user no rule links holds it
    /// (and, when an anchor says so, whose it is).
    fn username_taken(
        &self,
        user: &SourceUser<'_>,
        username: &str,
        username_lower: &str,
    ) -> Option<String> {
        let index = *self.by_username.get(username_lower)?;
        // The account in this conflict may be this person's (a matching rule that failed to
        // link it): it is never deprovisioned in the same plan.
        self.in_conflict.borrow_mut().insert(index);
        let other = &self.target.users[index];
        let why = self.anchor_mismatch(user, other).map_or_else(
            || "that no matching rule links".to_owned(),
            |theirs| {
                format!(
                    "whose {theirs}: roster does not hand one person's account to another (if it \
                     is this person's — rehired, recreated in Entra — correct or clear that field \
                     on it)"
                )
            },
        );
        Some(format!(
            "unmatched, but Username {username:?} already belongs to Salesforce user {} {why}",
            other.id
        ))
    }

    /// `EmployeeNumber holds "E9", not this user's "E1"`: the first anchor rule whose field on
    /// `other` holds a value that is not `user`'s.
    fn anchor_mismatch(
        &self,
        user: &SourceUser<'_>,
        other: &crate::model::TargetUser,
    ) -> Option<String> {
        let suffix = &self.config.safety.sandbox_email_suffix;
        self.compiled
            .matching
            .iter()
            .filter(|r| r.anchor)
            .find_map(|rule| {
                let theirs = other.text(rule.field).filter(|v| !v.trim().is_empty())?;
                let crate::expr::Value::Str(mine) =
                    crate::expr::evaluate(rule.parsed, user, &self.context()).ok()?
                else {
                    return None;
                };
                (rule.key(theirs, suffix) != rule.key(&mine, suffix))
                    .then(|| format!("{} holds {theirs:?}, not this user's {mine:?}", rule.field))
            })
    }

    /// Permission sets to add (wanted, not held) and remove (held, managed, not wanted).
    pub(super) fn permission_sets(
        &self,
        user_id: &str,
        wanted: &[(String, String)],
    ) -> PermissionSetChanges {
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
    pub(super) fn create(
        &self,
        user: &SourceUser<'_>,
        tried: &[(usize, String)],
    ) -> Result<(Change, Create), Problem> {
        let problem = |kind, reason: String| Problem {
            kind,
            key: user.key.to_owned(),
            reason,
        };
        let (wanted, roles) = self
            .wanted(user, true)
            .map_err(|(kind, reason)| problem(kind, reason))?;
        let Some((profile, profile_id)) = roles.profile.clone() else {
            return Err(problem(ProblemKind::Error, no_profile(user)));
        };
        preflight(&wanted.fields, &self.field_rules)
            .map_err(|reason| problem(ProblemKind::Error, reason))?;
        let username = wanted
            .fields
            .get("Username")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned();
        let username_lower = username.to_lowercase();
        if let Some(reason) = self.username_taken(user, &username, &username_lower) {
            return Err(problem(ProblemKind::Conflict, reason));
        }
        self.unique_values
            .claim(wanted.fields.iter().map(|(k, v)| (&**k, v)), user.key, None)
            .map_err(|(reason, holder)| {
                self.hold_in_conflict(holder.as_deref());
                problem(ProblemKind::Conflict, reason)
            })?;
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
            cause: None,
            pending_fields: Vec::new(),
            login_id: None,
        };
        Ok((
            change,
            Create {
                licence,
                username: username_lower,
            },
        ))
    }

    /// Creates that share a Username are conflicts; creates beyond a licence's free seats are
    /// errors (in key order, so the same users get seats every time).
    /// `creates` pairs each create with its index in `plan.changes`.
    pub(super) fn check_creates(&self, creates: &[(usize, Create)], plan: &mut Plan) {
        let mut counts: HashMap<&str, usize> = HashMap::with_capacity(creates.len());
        for (_, create) in creates {
            *counts.entry(create.username.as_str()).or_insert(0) += 1;
        }
        // The keys sharing a Username, only for the (rare) Usernames given twice.
        let mut by_username: HashMap<&str, Vec<&str>> = HashMap::new();
        for (i, create) in creates {
            if counts.get(create.username.as_str()).is_some_and(|n| *n > 1) {
                by_username
                    .entry(create.username.as_str())
                    .or_default()
                    .push(plan.changes[*i].key.as_str());
            }
        }
        for keys in by_username.values_mut() {
            keys.sort_unstable();
        }
        let mut seats = self.free_seats(plan);
        // When a licence runs out, the seats go in key order; when none does, the order does
        // not matter (the plan is sorted at the end).
        let mut demand: HashMap<&str, i64> = HashMap::new();
        for (_, create) in creates {
            *demand.entry(create.licence.as_str()).or_insert(0) += 1;
        }
        let short = demand
            .iter()
            .any(|(licence, n)| seats.get(*licence).is_some_and(|free| free < n));
        let mut order: Vec<usize> = (0..creates.len()).collect();
        if short {
            order.sort_unstable_by(|a, b| {
                plan.changes[creates[*a].0]
                    .key
                    .cmp(&plan.changes[creates[*b].0].key)
            });
        }
        let mut refused: Vec<Problem> = Vec::new();
        let mut dropped = vec![false; plan.changes.len()];
        for k in order {
            let (i, Create { licence, username }) = &creates[k];
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
    pub(super) fn free_seats(&self, plan: &Plan) -> HashMap<String, i64> {
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
                && let Some(licence) = self.licence_of(t.profile_id.as_deref().unwrap_or_default())
                && let Some(free) = seats.get_mut(&licence)
            {
                *free -= 1;
            }
        }
        seats
    }

    pub(super) fn licence_of(&self, profile_id: &str) -> Option<String> {
        self.target
            .profiles
            .iter()
            .find(|p| p.id == profile_id)
            .and_then(|p| p.user_license_id.clone())
    }
}

/// The reason line of an update or reactivation.
/// Fields a reason spells out; the rest are counted.
const REASON_FIELDS: usize = 3;
/// Characters of a value a reason shows.
const REASON_VALUE: usize = 40;

/// Why a linked user is updated, saying what is known: for each differing field, what
/// Salesforce holds and where the wanted value comes from (Entra, or roster.yaml itself for a
/// constant; `roles` for the profile and role) — never "changed in Entra" for what an admin
/// edited in Salesforce or what a new constant in the config asks for.
pub(super) fn update_reason(
    change: &Change,
    by: &str,
    user: &SourceUser<'_>,
    compiled: &super::mapping::Compiled<'_>,
) -> String {
    let shown = |value: &Json| match value {
        Json::String(s) if s.chars().count() > REASON_VALUE => {
            format!(
                "{:?}",
                format!("{}…", s.chars().take(REASON_VALUE).collect::<String>())
            )
        }
        Json::String(s) => format!("{s:?}"),
        Json::Null => "nothing".to_owned(),
        other => other.to_string(),
    };
    let source = |field: &str| -> &str {
        match field {
            "ProfileId" | "UserRoleId" => "the roles rules give",
            _ => match compiled
                .mappings
                .iter()
                .find(|(m, _)| m.target.eq_ignore_ascii_case(field))
                .map(|(m, _)| &m.value)
            {
                Some(crate::config::MappingValue::Constant(_)) => "roster.yaml gives",
                _ => "Entra gives",
            },
        }
    };
    let fields: Vec<(&std::sync::Arc<str>, &Json)> = change
        .after
        .iter()
        .filter(|(k, _)| !matches!(k.as_ref(), "IsActive" | "IsFrozen"))
        .collect();
    let mut what: Vec<String> = fields
        .iter()
        .take(REASON_FIELDS)
        .map(|(field, after)| {
            let before = change.before.get(*field).unwrap_or(&Json::Null);
            let label = |v: &Json| match v.as_str().and_then(|id| change.labels.get(id)) {
                Some(name) => format!("{name:?}"),
                None => shown(v),
            };
            format!(
                "{field}: Salesforce has {}, {} {}",
                label(before),
                source(field),
                label(after)
            )
        })
        .collect();
    if fields.len() > REASON_FIELDS {
        what.push(format!(
            "and {} more field(s)",
            fields.len() - REASON_FIELDS
        ));
    }
    if !change.permission_sets.is_empty() {
        what.push("permission sets differ from what the roles rules give".to_owned());
    }
    if change.after.contains_key("IsFrozen") {
        what.push("the login is frozen".to_owned());
    }
    let what = what.join("; ");
    match (change.action == Action::Reactivate, what.is_empty()) {
        (true, true) => format!(
            "linked by {by}; inactive in Salesforce and in scope again ({})",
            user.assignment_reason()
        ),
        (true, false) => {
            format!("linked by {by}; inactive in Salesforce and in scope again; {what}")
        }
        (false, _) => format!("linked by {by}; {what}"),
    }
}
