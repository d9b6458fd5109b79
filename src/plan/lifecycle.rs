//! The lifecycle of one user: an update (or reactivation) of a linked user, a create of an
//! unmatched one, and the checks across creates (shared Usernames, licence seats).

use crate::hash::{HashMap, HashSet};
use std::borrow::Cow;
use std::hash::BuildHasher as _;
use std::sync::Arc;

use super::compare::differs;
use super::mapping::{Desired, Roles, no_profile, preflight, roles};
use super::reconcile::State;
use super::source::SourceUser;
use super::target::fingerprint;
use super::values::{Sought, UniqueValues};
use super::{Action, Change, GrantChanges, GrantRef, Plan, Problem, ProblemKind, Situation};
use crate::concurrent::lock;
use crate::field_value::FieldValue;
use crate::grants::GrantKind;
use crate::salesforce::id15;
use crate::sorted_map::Name;

impl<'a> State<'a> {
    /// The fields and the role rules' outcome a user should have, or the first reason it
    /// cannot be computed.
    fn wanted(
        &self,
        user: &SourceUser<'_>,
        creating: bool,
    ) -> Result<(Desired, Roles<'_>), (ProblemKind, String)> {
        let wanted = self.desired(user, creating, false);
        if let Some(why) = wanted.skipped {
            return Err((ProblemKind::Skipped, why));
        }
        let roles = roles(self.config, &self.resolved, user, &self.context());
        let mut wanted = wanted;
        // A feature licence is on when a rule grants it; otherwise a mapping of its field
        // decides; otherwise a managed one is off (and nothing is written on a create).
        for feature in self.config.roles.feature_licenses() {
            let granted = roles.features.iter().any(|(f, _)| f.field == feature.field);
            let managed = self
                .config
                .roles
                .managed_feature_licenses
                .iter()
                .any(|f| f.field == feature.field);
            let mapped = wanted.fields.contains_key(feature.field);
            if granted {
                wanted
                    .fields
                    .insert(Name::from(feature.field), FieldValue::from("true"));
            } else if managed && !mapped && !creating {
                wanted
                    .fields
                    .insert(Name::from(feature.field), FieldValue::from("false"));
            }
        }
        match wanted.errors.first().or(roles.errors.first()) {
            Some(first) => Err((ProblemKind::Error, first.clone())),
            None => Ok((wanted, roles)),
        }
    }

    /// A linked user: what differs, before its unique values are claimed (`claim_update`).
    /// Reads nothing another user's planning writes, but for SelectUniqueValue's taken values.
    pub(super) fn update(
        &self,
        user: &SourceUser<'a>,
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
            source_id: Some(user.id.into()),
            target_id: Some(current.id.as_str().into()),
            fingerprint: fingerprint(current),
            ..Change::new(Action::Update, user.key.to_owned(), Situation::Linked)
        };
        for (name, value) in wanted.fields {
            let now = current.field(&name);
            if differs(
                &name,
                value.as_str().unwrap_or_default(),
                now.as_deref(),
                suffix,
            ) {
                // White space alone is stored as null: Salesforce clears the field, and the
                // plan says so (helper-60: it showed `-> "   "`).
                let value = match value.as_str() {
                    Some(t) if crate::user_fields::stored_text(t).is_empty() => FieldValue::Null,
                    _ => value,
                };
                change
                    .before
                    .insert(name, now.map_or(FieldValue::Null, Cow::into_owned));
                change.after.insert(name, value);
            } else {
                change.unchanged += 1;
            }
        }
        let mut id_change = |field_name: &str,
                             wanted: Option<&(Arc<str>, Arc<str>)>,
                             names: &dyn Fn(&str) -> Option<String>| {
            if let Some((name, id)) = wanted {
                // No role (or profile) is null, as every other empty field is.
                let now = current.text(field_name).filter(|t| !t.is_empty());
                if now.is_some_and(|now| now.eq_ignore_ascii_case(id)) {
                    change.unchanged += 1;
                } else {
                    change.before.insert(
                        Name::from(field_name),
                        now.map_or(FieldValue::Null, FieldValue::from),
                    );
                    change
                        .after
                        .insert(Name::from(field_name), FieldValue::from(&**id));
                    if let Some(now) = now
                        && let Some(old) = names(now)
                    {
                        change.labels.insert(now.into(), old.into());
                    }
                    change.labels.insert(Arc::clone(id), Arc::clone(name));
                }
            }
        };
        let profile_name = |id: &str| self.org.profile_names.get(id).map(|n| (*n).to_owned());
        id_change("ProfileId", roles.profile, &profile_name);
        let role_name = |id: &str| {
            self.target
                .roles
                .iter()
                .find(|r| r.id == id)
                .map(|r| r.name.clone())
        };
        id_change("UserRoleId", roles.role, &role_name);
        self.take_rules_role_away(current, &roles, &mut change, &role_name);
        let profile = roles.profile.map(|(_, id)| &**id);
        let licence = profile
            .or(current.profile_id.as_deref())
            .and_then(|p| self.licence_of(p));
        change.grants = self
            .grant_changes(Some(&current.id), licence, &roles)
            .map_err(|reason| problem(user, reason))?;
        let reactivate = !current.is_active;
        if reactivate {
            change.action = Action::Reactivate;
            change.before.insert("IsActive".into(), false.into());
            change.after.insert("IsActive".into(), true.into());
        }
        // A user frozen while out of scope (or by an admin) and in scope again is let back in:
        // the freeze lives on the user's UserLogin, which apply writes.
        if let Some(login) = current.login.as_ref().filter(|l| l.is_frozen) {
            change.before.insert("IsFrozen".into(), true.into());
            change.after.insert("IsFrozen".into(), false.into());
            change.login_id = Some(login.id.as_str().into());
        }
        if change.after.is_empty() && change.grants.is_empty() {
            return Ok(None);
        }
        self.check_update(&change, user.key)?;
        let by = match account_not_named(user.key, &current.username) {
            Some(username) => format!("{by} to Salesforce user {username}"),
            None => by.to_owned(),
        };
        change.reason = update_reason(&change, &by, user, &self.compiled).into();
        Ok(Some(change))
    }

    /// A role a rule gives is roster's: moved to rules that give none, the user loses it, as a
    /// create under those rules gets none (helper-60: a Sales Rep moved to Support kept the
    /// sales role, and its access). A role no rule names was set by hand, and stays.
    fn take_rules_role_away(
        &self,
        current: &crate::model::TargetUser,
        roles: &super::mapping::Roles<'_>,
        change: &mut Change,
        role_name: &dyn Fn(&str) -> Option<String>,
    ) {
        if roles.role.is_some() {
            return;
        }
        let Some(now) = current.text("UserRoleId").filter(|t| !t.is_empty()) else {
            return;
        };
        let given_by_a_rule = self.resolved.iter().any(|r| {
            r.role
                .as_ref()
                .is_some_and(|(_, id)| crate::salesforce::same_id(id, now))
        });
        if given_by_a_rule {
            let field = &self.compiled.user_role_id;
            change
                .before
                .insert(Name::clone(field), FieldValue::from(now));
            change.after.insert(Name::clone(field), FieldValue::Null);
            if let Some(old) = role_name(now) {
                change.labels.insert(now.into(), old.into());
            }
        }
    }

    /// An update's unique values claimed, in the order users are planned: a value another
    /// Salesforce user, or a user planned before, holds is a conflict. The values it replaces
    /// are free for the users claimed after it.
    pub(super) fn claim_update(
        &self,
        change: Change,
        user: &SourceUser<'a>,
        (unique, sought): (&mut UniqueValues<'a>, &Sought<'a>),
    ) -> Result<Change, Problem> {
        self.claim_unique((unique, sought), &change, user, change.target_id.as_deref())?;
        if let Some(own) = change.target_id.as_deref() {
            unique.free(&change.before, &change.after, own);
        }
        Ok(change)
    }

    /// `change`'s values of unique fields (`sought` in `unique`) claimed for `user` (whose
    /// Salesforce user, if any, is `own`): a conflict naming the holder, kept out of this
    /// plan's deprovisioning (`hold_in_conflict`), when another has one.
    fn claim_unique(
        &self,
        (unique, sought): (&mut UniqueValues<'a>, &Sought<'a>),
        change: &Change,
        user: &SourceUser<'a>,
        own: Option<&str>,
    ) -> Result<(), Problem> {
        unique
            .claim(
                sought,
                change.after.iter().map(|(k, v)| (&**k, v)),
                user.key,
                own,
            )
            .map_err(|(reason, holders)| {
                // Each holder is kept out of deprovisioning; the first that is another
                // person's is named.
                let held: Vec<usize> = holders
                    .iter()
                    .filter_map(|id| self.by_id.get(id.as_str()).copied())
                    .collect();
                let theirs: Vec<String> = held
                    .iter()
                    .filter_map(|t| self.hold_in_conflict(user, *t))
                    .collect();
                match theirs.into_iter().next() {
                    // The holder is another person's account (a leaver's, say): what frees the
                    // value is said, as it never frees by itself.
                    Some(theirs) => conflict(
                        user.key,
                        format!(
                            "{reason}; that account is the Entra user {theirs}'s by its {}: the \
                         value is this user's once it is cleared or changed on that account",
                            self.compiled.object_id_anchor.unwrap_or("anchor")
                        ),
                    ),
                    None => conflict(user.key, self.anchored_to_a_stranger(reason, &held, user)),
                }
            })
    }

    /// `reason`, and what to do about the first of `held` (Salesforce users holding the value)
    /// whose object-id anchor holds the object id of no Entra user roster knows. An active one:
    /// Graph looked the id up and found none (deleted, or another tenant's) — held back as it
    /// may be this person's own account, yet if it was a leaver's, whoever signs in with the
    /// value reaches it (helper-89). An inactive one (whose anchor no read looks up): a
    /// leaver's account, or this person's from before Entra deleted and created them again,
    /// which an anchor set to their object id gives back to them (helper-91: the conflict said
    /// only who holds the value).
    fn anchored_to_a_stranger(
        &self,
        reason: String,
        held: &[usize],
        user: &SourceUser<'_>,
    ) -> String {
        let Some(field) = self.compiled.object_id_anchor else {
            return reason;
        };
        // Without the lookup (a snapshot older than it), an active account's id unknown here
        // may still be a tenant user's.
        let looked_up = self.source.unassigned_users.is_some();
        let stranger = held.iter().find_map(|t| {
            let account = &self.target.users[*t];
            let id = self.compiled.anchored_object_id(account)?;
            (crate::graph::looks_like_guid(&id)
                && !id.eq_ignore_ascii_case(user.id)
                && !self.knows(&id)
                && (looked_up || !account.is_active))
                .then_some((account, id))
        });
        let Some((account, id)) = stranger else {
            return reason;
        };
        // As stored, what an admin searches the org for; Graph's form beside it when it
        // differs (braces, capitals: helper-90).
        let stored = account.text(field).unwrap_or_default().trim();
        let held = if stored == id {
            id.to_string()
        } else {
            format!("{} (the object id {id})", crate::render::quoted(stored))
        };
        if account.is_active {
            format!(
                "{reason}; Salesforce user {} is active and its {field} holds {held}, no user \
                 of this tenant (deleted, or another tenant's): if it is this user's own \
                 account, correct that field; if it was a leaver's, whoever signs in with the \
                 value reaches it — deactivate it or clear the value",
                account.username
            )
        } else if self.org.protected(self.config, account) {
            // Never linked, never reactivated: an anchor set to this user's id would not give
            // it to them (helper-93).
            format!(
                "{reason}; Salesforce user {} is inactive and protected, so roster never links \
                 or reactivates it, and its {field} holds {held}, an Entra user roster did not \
                 read: to give this user a new account, clear or change the value on it",
                account.username
            )
        } else {
            // Whose the id is, roster does not know (inactive accounts' anchors are not looked
            // up): perhaps a tenant user's who is not the application's (helper-93), so the
            // anchor is changed only if the account is this user's.
            format!(
                "{reason}; Salesforce user {} is inactive and its {field} holds {held}, an Entra \
                 user roster did not read (a leaver's, this user's from before they were \
                 deleted and created again, or a user's who is not the application's: `roster \
                 explain {id}` says whose): if it is this user's account, set its {field} to \
                 their object id {} and roster links and reactivates it; if not, clear or \
                 change the value on it to give this user a new one",
                account.username, user.id
            )
        }
    }

    /// A value the org would refuse fails this user's update at apply: an error item now.
    fn check_update(&self, change: &Change, key: &'a str) -> Result<(), Problem> {
        let problem = |kind, reason| Problem {
            kind,
            key: key.to_owned(),
            reason,
        };
        for (name, value) in &change.after {
            // A field Salesforce requires cannot be emptied (`update` writes blank text as the
            // null Salesforce stores).
            if value.is_null()
                && crate::user_fields::REQUIRED_ON_CREATE
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(name))
            {
                return Err(problem(
                    ProblemKind::Error,
                    format!(
                        "Salesforce requires {name}, and the mappings would empty it (the \
                         source value is empty or blank)"
                    ),
                ));
            }
            self.field_rules
                .check(*name, value)
                .map_err(|reason| problem(ProblemKind::Error, reason))?;
        }
        Ok(())
    }

    /// Keeps the Salesforce user `user`'s conflict names (`t`) out of this plan's
    /// deprovisioning: it may be this person's own account, which a matching rule failed to
    /// link. Not when its anchor holds the object id of another person roster knows (read, or
    /// deleted in Entra): the account is theirs, and goes as they do (a leaver's account stays
    /// active for no one's conflict): that person's object id is returned then.
    fn hold_in_conflict(&self, user: &SourceUser<'_>, t: usize) -> Option<String> {
        lock(&self.conflicts_over).push((t, user.key.to_owned()));
        let theirs = self.anchored_to_someone_else(&self.target.users[t], user);
        if theirs.is_none() {
            lock(&self.in_conflict).insert(t);
        }
        theirs
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
        let other = &self.target.users[index];
        let _ = self.hold_in_conflict(user, index);
        // The account may be linked, by its anchor, to another person of this plan: named, as
        // clearing the anchor would hand their account over.
        let linked_to = self
            .linked_source
            .get(&index)
            .map(|i| self.users[*i].key)
            .filter(|key| *key != user.key);
        let why = match (self.anchor_mismatch(user, other), linked_to) {
            (None, _) => "that no matching rule links".to_owned(),
            (Some(theirs), Some(owner)) => format!(
                "whose {theirs}: it is linked to the Entra user {owner}, whose account it is by \
                 that anchor (a Username reused after a rename: this person needs another \
                 Username; or an anchor written wrong: correct it on that account)"
            ),
            // Protected: linked or not, roster never changes or reactivates it, so an anchor
            // corrected would give this person nothing (helper-94).
            (Some(theirs), None) if self.org.protected(self.config, other) => format!(
                "whose {theirs}: roster does not hand one person's account to another, and it is \
                 protected, so roster never changes or reactivates it, linked or not (this \
                 person needs another Username; or an admin gives them that account by hand)"
            ),
            (Some(theirs), None) => format!(
                "whose {theirs}: roster does not hand one person's account to another (if it is \
                 this person's — rehired, recreated in Entra — correct or clear that field on it)"
            ),
        };
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

    /// The grants to add (wanted or implied, not held) and remove (held, managed, neither
    /// wanted nor needed), or why the user cannot have what the rules give:
    /// - a permission set group whose status is not `Updated` takes no new assignees;
    /// - a permission set linked to a user licence needs a profile with that licence;
    /// - a permission set linked to a permission set licence brings it along (an implied add);
    /// - a permission set in `roles.requires_licenses` needs its licences held or granted.
    ///
    /// `user_id` is the user's (none for a create); `licence` the user licence of the profile
    /// the user will have.
    pub(super) fn grant_changes(
        &self,
        user_id: Option<&str>,
        licence: Option<&str>,
        roles: &Roles<'_>,
    ) -> Result<GrantChanges, String> {
        let held = user_id.map_or(&[][..], |id| self.org.grants_of(id));
        let holds = |id: &str| held.iter().any(|h| id15(&h.object_id) == id15(id));
        let wants = |id: &str| roles.grants.iter().any(|(_, _, g, _)| id15(g) == id15(id));
        let object = |id: &str| self.org.objects.get(id15(id)).copied();
        let mut out = GrantChanges::default();
        // Room for every grant the rules give, made once: grown from nothing and shrunk when
        // the change is kept, each create's list was allocated three times.
        out.add.reserve_exact(roles.grants.len());
        for (kind, name, id, _) in &roles.grants {
            if holds(id) {
                continue;
            }
            if *kind == GrantKind::PermissionSetGroup {
                let status = object(id)
                    .and_then(|o| o.status.as_deref())
                    .unwrap_or("unknown");
                if status != "Updated" {
                    return Err(format!(
                        "permission set group {name} has the status {status}: Salesforce assigns \
                         only groups whose status is Updated (let its recalculation finish, or \
                         recalculate it in Setup)"
                    ));
                }
            }
            out.add.push(GrantRef {
                kind: *kind,
                name: Arc::clone(name),
                id: Arc::clone(id),
                assignment_id: None,
                implied_by: None,
            });
        }
        let needed = self.licences_needed(held, licence, roles, &mut out)?;
        for h in held {
            let Some(o) = object(&h.object_id) else {
                continue;
            };
            let needed = needed.iter().any(|n| id15(n) == id15(&o.id));
            if self.managed(o) && !wants(&o.id) && !needed {
                out.remove.push(GrantRef {
                    kind: o.kind,
                    name: o.name.as_str().into(),
                    id: o.id.as_str().into(),
                    assignment_id: Some(h.id.as_str().into()),
                    implied_by: None,
                });
            }
        }
        out.add
            .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        out.remove
            .sort_by(|a, b| (a.kind, &a.name).cmp(&(b.kind, &b.name)));
        Ok(out)
    }

    /// The permission set licences the permission sets a user will hold need (which are
    /// never removed): linked ones Salesforce assigns along with a permission set being added
    /// (pushed to `out.add` as implied), required ones (`roles.requires_licenses`) a rule must
    /// give or the user must hold; a permission set for another user licence is refused.
    fn licences_needed<'s>(
        &'s self,
        held: &[&crate::model::GrantAssignment],
        licence: Option<&str>,
        roles: &'s Roles<'_>,
        out: &mut GrantChanges,
    ) -> Result<Vec<&'s str>, String> {
        let holds = |id: &str| held.iter().any(|h| id15(&h.object_id) == id15(id));
        let wants = |id: &str| roles.grants.iter().any(|(_, _, g, _)| id15(g) == id15(id));
        let object = |id: &str| self.org.objects.get(id15(id)).copied();
        // The licences the permission sets the user will hold need: linked ones Salesforce
        // assigns along (implied), required ones a rule must give.
        let staying_sets = roles
            .grants
            .iter()
            .filter(|(k, ..)| *k == GrantKind::PermissionSet)
            .map(|&(_, name, id, _)| (&**name, &**id))
            .chain(held.iter().filter_map(|h| {
                let o = object(&h.object_id)?;
                let managed = self.managed(o);
                (o.kind == GrantKind::PermissionSet && !managed)
                    .then_some((o.name.as_str(), o.id.as_str()))
            }));
        let mut needed: Vec<&str> = Vec::new();
        for (set, set_id) in staying_sets {
            let Some(o) = object(set_id) else { continue };
            if let Some(linked) = o.license_id.as_deref() {
                match object(linked).filter(|l| l.kind == GrantKind::PermissionSetLicense) {
                    Some(psl) => {
                        needed.push(&psl.id);
                        let added = out.add.iter().any(|g| id15(&g.id) == id15(&psl.id));
                        if !holds(&psl.id) && !added {
                            out.add.push(GrantRef {
                                kind: GrantKind::PermissionSetLicense,
                                name: psl.name.as_str().into(),
                                id: psl.id.as_str().into(),
                                assignment_id: None,
                                implied_by: Some(set.to_owned()),
                            });
                        }
                    }
                    None if linked.starts_with(crate::salesforce::USER_LICENSE_PREFIX)
                        && licence.is_some_and(|l| id15(l) != id15(linked)) =>
                    {
                        let name = |id: &str| {
                            self.target
                                .licenses
                                .iter()
                                .find(|l| id15(&l.id) == id15(id))
                                .map_or_else(|| id.to_owned(), |l| l.name.clone())
                        };
                        return Err(format!(
                            "permission set {set} is for the {} user licence, and this user's \
                             profile has the {} licence: Salesforce refuses the assignment (the \
                             user license doesn't allow the permission)",
                            name(linked),
                            name(licence.unwrap_or_default())
                        ));
                    }
                    None => {}
                }
            }
            for required in self
                .config
                .roles
                .requires_licenses
                .get(set)
                .into_iter()
                .flatten()
            {
                let psl = self
                    .target
                    .access_objects
                    .iter()
                    .find(|l| l.kind == GrantKind::PermissionSetLicense && l.name == *required);
                let Some(psl) = psl else { continue };
                needed.push(&psl.id);
                if !holds(&psl.id) && !wants(&psl.id) {
                    return Err(format!(
                        "permission set {set} needs the permission set licence {required} \
                         (roles.requires_licenses), which no rule gives this user and the user \
                         does not hold"
                    ));
                }
            }
        }
        Ok(needed)
    }

    /// Whether roster manages (and so may remove) an access object: the config lists it by
    /// name or alias.
    fn managed(&self, o: &crate::model::AccessObject) -> bool {
        self.config
            .roles
            .managed(o.kind)
            .iter()
            .any(|m| *m == o.name || o.alias.as_deref() == Some(m.as_str()))
    }

    /// An unmatched user: a create with every field, or the reason it cannot be one, before
    /// its Username and unique values are claimed (`claim_create`). Reads nothing another
    /// user's planning writes, but for SelectUniqueValue's taken values.
    pub(super) fn create(
        &self,
        user: &SourceUser<'a>,
        reason: &Arc<str>,
    ) -> Result<Change, Problem> {
        let problem = |kind, reason: String| Problem {
            kind,
            key: user.key.to_owned(),
            reason,
        };
        let (wanted, roles) = self
            .wanted(user, true)
            .map_err(|(kind, reason)| problem(kind, reason))?;
        let Some((profile, profile_id)) = roles.profile else {
            return Err(problem(ProblemKind::Error, no_profile(user)));
        };
        let grants = self
            .grant_changes(None, self.licence_of(profile_id), &roles)
            .map_err(|reason| problem(ProblemKind::Error, reason))?;
        preflight(&wanted.fields, &self.field_rules)
            .map_err(|reason| problem(ProblemKind::Error, reason))?;
        let mut after = wanted.fields;
        // Exactly the room the labels take: a plan keeps every create's.
        let mut labels = super::SortedMap::with_capacity(1 + usize::from(roles.role.is_some()));
        after.insert(self.compiled.profile_id, FieldValue::from(&**profile_id));
        labels.insert(Arc::clone(profile_id), Arc::clone(profile));
        if let Some((role, role_id)) = roles.role {
            after.insert(self.compiled.user_role_id, FieldValue::from(&**role_id));
            labels.insert(Arc::clone(role_id), Arc::clone(role));
        }
        Ok(Change {
            reason: Arc::clone(reason),
            source_id: Some(user.id.into()),
            after,
            labels: labels.into(),
            grants,
            ..Change::new(Action::Create, user.key.to_owned(), Situation::Unmatched)
        })
    }

    /// A create's Username and unique values claimed, in the order users are planned: one
    /// another Salesforce user, or a user planned before, holds is a conflict. What it claims,
    /// SelectUniqueValue sees taken from then on. With the change comes what `check_creates`
    /// weighs of it, read now that the change is in cache: the change goes to `plan.changes`
    /// at `at`.
    pub(super) fn claim_create(
        &self,
        change: Change,
        user: &SourceUser<'a>,
        at: usize,
        unique: (&mut UniqueValues<'a>, &Sought<'a>),
    ) -> Result<(Change, Claimed<'a>), Problem> {
        let username = change
            .after
            .get("Username")
            .and_then(FieldValue::as_str)
            .unwrap_or_default();
        if let Some(reason) =
            self.username_taken(user, username, &super::compare::lowercase(username))
        {
            return Err(conflict(user.key, reason));
        }
        self.claim_unique(unique, &change, user, None)?;
        if self.select_unique_value {
            let mut taken = lock(&self.taken);
            for (name, value) in &change.after {
                if let (Some(set), Some(value)) =
                    (taken.get_mut(&name.to_lowercase()), value.as_str())
                {
                    set.insert(value.to_lowercase());
                }
            }
        }
        let claimed = Claimed {
            at,
            username: self.caseless.hash_one(Caseless(username)),
            licence: change
                .after
                .get("ProfileId")
                .and_then(FieldValue::as_str)
                .and_then(|profile| self.licence_of(profile))
                .unwrap_or_default(),
        };
        Ok((change, claimed))
    }

    /// Creates that share a Username are conflicts; creates beyond a licence's free seats are
    /// errors (in key order, so the same users get seats every time).
    pub(super) fn check_creates(&self, creates: &[Claimed<'a>], plan: &mut Plan) {
        let username = |i: usize| create_username(plan, i);
        let by_username = usernames_given_twice(plan, creates);
        let mut seats = self.free_seats(plan);
        // When a licence runs out, the seats go in key order; when none does, the order does
        // not matter (the plan is sorted at the end).
        let mut demand: HashMap<&str, i64> = HashMap::default();
        for create in creates {
            *demand.entry(create.licence).or_insert(0) += 1;
        }
        let short = demand
            .iter()
            .any(|(licence, n)| seats.get(*licence).is_some_and(|free| free < n));
        let mut order: Vec<usize> = (0..creates.len()).collect();
        if short {
            order.sort_unstable_by(|a, b| {
                plan.changes[creates[*a].at]
                    .key
                    .cmp(&plan.changes[creates[*b].at].key)
            });
        }
        let mut refused: Vec<Problem> = Vec::new();
        let mut dropped = vec![false; plan.changes.len()];
        for k in order {
            let i = &creates[k].at;
            let licence = &creates[k].licence;
            // Nearly always no Username is given twice: nothing to look up.
            let twice = (!by_username.is_empty())
                .then(|| by_username.get(&username(*i)))
                .flatten();
            let reason = if let Some(keys) = twice {
                Some((
                    ProblemKind::Conflict,
                    format!(
                        "{} Entra users would get the Username {:?} ({})",
                        keys.len(),
                        username(*i).0.to_lowercase(),
                        keys.join(", ")
                    ),
                ))
            } else {
                match seats.get_mut(*licence) {
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

    /// Grants of licences beyond their free seats are errors: permission set and package
    /// licences, and feature licences with a known seat count. Users are served in key order,
    /// each only if every limited licence it is given has a seat left: a user refused takes no
    /// seat of any licence, and its change is withheld whole (roster never half-provisions a
    /// user; Salesforce's `LICENSE_LIMIT_EXCEEDED`). The seats the plan frees (apply sends every
    /// removal before any add) count only when the user freeing them is served: rounds start
    /// from every free counted, and each round that refuses a user who frees seats plans again
    /// without that user's frees, until the frees counted are all certain. So two users
    /// swapping licences both get theirs, and nobody counts on a refused user's seat.
    pub(super) fn check_grant_seats(&self, plan: &mut Plan) {
        let limited = self.limited_licences();
        if limited.is_empty() {
            return;
        }
        let uses: Vec<(Vec<&LicenceKey>, Vec<&LicenceKey>)> = plan
            .changes
            .iter()
            .map(|c| self.seat_use(c, &limited))
            .collect();
        let mut takers: Vec<usize> = (0..uses.len()).filter(|i| !uses[*i].0.is_empty()).collect();
        takers.sort_by(|a, b| plan.changes[*a].key.cmp(&plan.changes[*b].key));
        let mut uncounted = vec![false; uses.len()];
        let (refused, frees) = loop {
            let mut available: HashMap<&LicenceKey, i64> =
                limited.iter().map(|(k, l)| (k, l.total - l.used)).collect();
            let mut frees: HashMap<&LicenceKey, i64> = HashMap::default();
            for (_, freeing) in uses.iter().enumerate().filter(|(i, _)| !uncounted[*i]) {
                for l in &freeing.1 {
                    *frees.entry(*l).or_default() += 1;
                    *available.entry(*l).or_default() += 1;
                }
            }
            let mut refused: Vec<(usize, &LicenceKey)> = Vec::new();
            for &i in &takers {
                let taking = &uses[i].0;
                match taking
                    .iter()
                    .find(|l| available.get(**l).copied().unwrap_or(0) < 1)
                {
                    Some(short) => refused.push((i, short)),
                    None => {
                        for l in taking {
                            *available.entry(*l).or_default() -= 1;
                        }
                    }
                }
            }
            let mut again = false;
            for (i, _) in &refused {
                if !uses[*i].1.is_empty() && !uncounted[*i] {
                    uncounted[*i] = true;
                    again = true;
                }
            }
            if !again {
                break (refused, frees);
            }
        };
        if refused.is_empty() {
            return;
        }
        // How many users want a seat of each licence, counted once for every refusal to name.
        let mut wanted: HashMap<&LicenceKey, usize> = HashMap::default();
        for (taking, _) in &uses {
            for l in taking {
                *wanted.entry(*l).or_default() += 1;
            }
        }
        let mut dropped = vec![false; plan.changes.len()];
        let mut problems = Vec::new();
        for (i, short) in refused {
            let licence = &limited[short];
            dropped[i] = true;
            problems.push(Problem {
                kind: ProblemKind::Error,
                key: plan.changes[i].key.clone(),
                reason: format!(
                    "no seat left on the {}: {} in all, {} used, {} freed by this plan; {} users \
                     in it would take one (LICENSE_LIMIT_EXCEEDED)",
                    licence.shown,
                    licence.total,
                    licence.used,
                    frees.get(short).copied().unwrap_or(0),
                    wanted.get(short).copied().unwrap_or(0)
                ),
            });
        }
        let mut i = 0;
        plan.changes.retain(|_| {
            i += 1;
            !dropped[i - 1]
        });
        plan.errors.extend(problems);
    }

    /// The limited licences a change takes a seat of (grants added, feature licences turned on,
    /// or kept on by a user reactivated) and frees (grants removed, feature licences turned
    /// off).
    fn seat_use<'l>(
        &self,
        change: &Change,
        limited: &'l HashMap<LicenceKey, Limited>,
    ) -> (Vec<&'l LicenceKey>, Vec<&'l LicenceKey>) {
        let grant = |g: &GrantRef| {
            limited
                .get_key_value(&LicenceKey::Grant(g.kind, id15(&g.id).to_owned()))
                .map(|(k, _)| k)
        };
        let mut taking: Vec<&LicenceKey> = change.grants.add.iter().filter_map(grant).collect();
        let mut freeing: Vec<&LicenceKey> = change.grants.remove.iter().filter_map(grant).collect();
        let current = change
            .target_id
            .as_deref()
            .and_then(|id| self.by_id.get(id))
            .map(|t| &self.target.users[*t]);
        for key in limited.keys() {
            let LicenceKey::Feature(field) = key else {
                continue;
            };
            let now_on =
                current.is_some_and(|u| crate::grants::checkbox_on(u.field(field).as_deref()));
            let will_be_on = change
                .after
                .get(field)
                .map_or(now_on, |v| crate::grants::checkbox_on(Some(v)));
            // An inactive user holds no seat: reactivated with the box on, it takes one.
            let holds_now = now_on && current.is_some_and(|u| u.is_active);
            let active_after = change.action != Action::Deactivate
                && (change.action == Action::Reactivate || current.is_none_or(|u| u.is_active));
            if will_be_on && active_after && !holds_now {
                taking.push(key);
            } else if holds_now && !will_be_on {
                freeing.push(key);
            }
        }
        (taking, freeing)
    }

    /// The licences with a limited number of seats: permission set and package licences the
    /// org counts, and the feature licences the config names whose seats Salesforce reports
    /// (held by the active users whose checkbox is on).
    fn limited_licences(&self) -> HashMap<LicenceKey, Limited> {
        let mut limited: HashMap<LicenceKey, Limited> = self
            .target
            .access_objects
            .iter()
            .filter(|o| o.kind.is_license())
            .filter_map(|o| {
                let seats = o.seats?;
                seats.free()?;
                Some((
                    LicenceKey::Grant(o.kind, id15(&o.id).to_owned()),
                    Limited {
                        shown: format!("{} {}", o.kind, o.name),
                        total: seats.total,
                        used: seats.used,
                    },
                ))
            })
            .collect();
        for f in self.config.roles.feature_licenses() {
            let Some(total) = self.target.feature_license_seats.get(f.name) else {
                continue;
            };
            let used = self
                .target
                .users
                .iter()
                .filter(|u| u.is_active && crate::grants::checkbox_on(u.field(f.field).as_deref()))
                .count();
            limited.insert(
                LicenceKey::Feature(f.field),
                Limited {
                    shown: format!("feature licence {} ({})", f.name, f.label),
                    total: *total,
                    used: i64::try_from(used).unwrap_or(i64::MAX),
                },
            );
        }
        limited
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
                && let Some(free) = seats.get_mut(licence)
            {
                *free -= 1;
            }
        }
        seats
    }

    /// The user licence of the profile `profile_id`, if the org names one.
    pub(super) fn licence_of(&self, profile_id: &str) -> Option<&'a str> {
        self.org.profile_licences.get(profile_id).copied()
    }
}

/// A licence with seats: an access object (kind, 15-character id) or a feature licence (its
/// User field).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum LicenceKey {
    Grant(GrantKind, String),
    Feature(&'static str),
}

/// A licence's seats, and how messages name it.
struct Limited {
    shown: String,
    total: i64,
    used: i64,
}

/// An error problem for a user.
pub(super) fn problem(user: &SourceUser<'_>, reason: String) -> Problem {
    Problem {
        kind: ProblemKind::Error,
        key: user.key.to_owned(),
        reason,
    }
}

/// A conflict for the user `key`: what it would take another holds.
pub(super) fn conflict(key: &str, reason: String) -> Problem {
    Problem {
        kind: ProblemKind::Conflict,
        key: key.to_owned(),
        reason,
    }
}

/// The reason line of an update or reactivation.
/// Fields a reason spells out; the rest are counted.
const REASON_FIELDS: usize = 3;
/// Characters of a value a reason shows.
const REASON_VALUE: usize = 40;

/// `username`, the Salesforce user linked to the Entra user `key`, when it does not start with
/// `key` (a Username made by hand, a renamed person's, an account an anchor ties to someone
/// else): the plan lists a change under the Entra user's key, and a reviewer must see which
/// account it touches. `None` for the Username roster would give (`key` and a suffix), which
/// names the person already.
pub(super) fn account_not_named<'u>(key: &str, username: &'u str) -> Option<&'u str> {
    let names_them = username
        .get(..key.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(key));
    (!names_them).then_some(username)
}

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
    let shown = |value: &FieldValue| match value {
        FieldValue::Text(s) if s.chars().count() > REASON_VALUE => {
            format!(
                "{:?}",
                format!("{}…", s.chars().take(REASON_VALUE).collect::<String>())
            )
        }
        FieldValue::Text(s) => format!("{:?}", s.as_str()),
        FieldValue::Null => "nothing".to_owned(),
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
                Some(_) => "Entra gives",
                // Not mapped: a feature licence the role rules decide.
                None => "the roles rules give",
            },
        }
    };
    let fields: Vec<(&Name, &FieldValue)> = change
        .after
        .iter()
        .filter(|(k, _)| !matches!(k.as_ref(), "IsActive" | "IsFrozen"))
        .collect();
    let mut what: Vec<String> = fields
        .iter()
        .take(REASON_FIELDS)
        .map(|(field, after)| {
            let before = change.before.get(field).unwrap_or(&FieldValue::Null);
            let label = |v: &FieldValue| match v.as_str().and_then(|id| change.labels.get(id)) {
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
    if !change.grants.is_empty() {
        what.push("grants differ from what the roles rules give".to_owned());
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

/// The Username of the create `plan.changes[i]`, compared without case as Salesforce does (no
/// lower-case copy of 100,000 of them).
fn create_username(plan: &Plan, i: usize) -> Caseless<'_> {
    Caseless(
        plan.changes[i]
            .after
            .get("Username")
            .and_then(FieldValue::as_str)
            .unwrap_or_default(),
    )
}

/// The keys of the creates that share a Username, sorted, by Username: only the (rare)
/// Usernames given twice.
fn usernames_given_twice<'p>(
    plan: &'p Plan,
    creates: &[Claimed<'_>],
) -> HashMap<Caseless<'p>, Vec<&'p str>> {
    use std::collections::hash_map::Entry;
    // Equal Usernames hash equal: only the creates whose hash comes twice can share one, and
    // only their changes (cold by now, 100,000 of them) are read.
    let mut seen: HashSet<u64> =
        HashSet::with_capacity_and_hasher(creates.len(), foldhash::fast::RandomState::default());
    let mut again: HashSet<u64> = HashSet::default();
    for create in creates {
        if !seen.insert(create.username) {
            again.insert(create.username);
        }
    }
    let mut by_username: HashMap<Caseless<'_>, Vec<&str>> = HashMap::default();
    if again.is_empty() {
        return by_username;
    }
    // Each Username hashed once: the first create to give it, and only a Username given again
    // gets its list of keys.
    let mut first: HashMap<Caseless<'_>, usize> = HashMap::default();
    let key = |i: usize| plan.changes[i].key.as_str();
    for i in creates
        .iter()
        .filter(|c| again.contains(&c.username))
        .map(|c| c.at)
    {
        let username = create_username(plan, i);
        match first.entry(username) {
            Entry::Vacant(entry) => {
                entry.insert(i);
            }
            Entry::Occupied(entry) => by_username
                .entry(username)
                .or_insert_with(|| vec![key(*entry.get())])
                .push(key(i)),
        }
    }
    for keys in by_username.values_mut() {
        keys.sort_unstable();
    }
    by_username
}

/// A create, as `check_creates` weighs it (`State::claim_create`).
pub(super) struct Claimed<'a> {
    /// Its index in `plan.changes`.
    at: usize,
    /// Its Username in lower case, hashed (`State::caseless`).
    username: u64,
    /// The user licence its profile needs (empty when the org does not say).
    licence: &'a str,
}

/// Text that hashes and compares as its lower case (character by character), without making it
/// on the heap: a Salesforce Username is at most 80 characters.
#[derive(Clone, Copy, Debug)]
struct Caseless<'a>(&'a str);

impl Caseless<'_> {
    fn lower(self) -> impl Iterator<Item = char> {
        self.0.chars().flat_map(char::to_lowercase)
    }
}

impl PartialEq for Caseless<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.0.is_ascii() && other.0.is_ascii() {
            return self.0.eq_ignore_ascii_case(other.0);
        }
        self.lower().eq(other.lower())
    }
}

impl Eq for Caseless<'_> {}

impl std::hash::Hash for Caseless<'_> {
    /// The lower case's UTF-8 bytes, in one `write` (so text equal without case hashes the
    /// same however it is spelled).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut buffer = [0u8; 512];
        let mut len = 0;
        if self.0.is_ascii() && self.0.len() <= buffer.len() {
            for (to, from) in buffer.iter_mut().zip(self.0.bytes()) {
                *to = from.to_ascii_lowercase();
            }
            len = self.0.len();
        } else {
            for c in self.lower() {
                if len + 4 > buffer.len() {
                    state.write(self.lower().collect::<String>().as_bytes());
                    return;
                }
                len += c.encode_utf8(&mut buffer[len..]).len();
            }
        }
        state.write(&buffer[..len]);
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::Caseless;

    #[test]
    fn caseless_text_is_equal_and_hashes_alike_however_it_is_spelled() {
        let hasher = foldhash::fast::FixedState::with_seed(1);
        let same = [
            ("Ann@Example.com", "ann@example.COM"),
            ("ÄNNE@x.de", "änne@X.de"),
            // The Kelvin sign lower-cases to an ASCII k.
            ("\u{212A}im@x.com", "kim@x.com"),
        ];
        for (a, b) in same {
            assert_eq!(Caseless(a), Caseless(b), "{a} {b}");
            assert_eq!(
                hasher.hash_one(Caseless(a)),
                hasher.hash_one(Caseless(b)),
                "{a} {b}"
            );
        }
        assert_ne!(Caseless("ann@x.com"), Caseless("anne@x.com"));
        assert_ne!(Caseless("änn@x.com"), Caseless("ann@x.com"));
        // Longer than the stack buffer: hashed from a String, alike all the same.
        let long = "Ä".repeat(300);
        assert_eq!(
            hasher.hash_one(Caseless(&long)),
            hasher.hash_one(Caseless(&long.to_lowercase()))
        );
    }
}
