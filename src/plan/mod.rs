//! The reconciler: a pure, deterministic function from the desired state and the two live
//! snapshots to a `Plan`, specific enough that `apply` decides nothing. No IO, clock,
//! randomness or environment: the time and seed expressions may use come in `Inputs`.
//!
//! In order: the source users' assignments (`source.rs`), scope (`scope.rs`), matching
//! (`matching.rs`), mapping and roles (`mapping.rs`), then per user an update or a create
//! (`lifecycle.rs`) and deprovisioning, driven by `reconcile.rs` over the Salesforce side
//! (`target.rs`), with value comparison that does not invent drift (`compare.rs`), then safety.

mod app_roles;
pub(crate) mod compare;
mod explain;
mod lifecycle;
mod managers;
mod mapping;
mod matching;
mod names;
pub(crate) mod policy;
mod reconcile;
mod scope;
mod source;
mod target;
#[cfg(test)]
mod tests;
mod values;

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::expr::DateTime;
use crate::field_value::FieldValue;
use crate::grants::GrantKind;
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::user_attributes::UserAttributes;

pub(crate) use crate::sorted_map::{Fields, SortedMap};
pub(crate) use explain::{Explanation, NotRead, explain, not_read, plan_and_why_not};

/// What `config` names that the org, the application or Entra does not have (or has twice),
/// each at a JSON pointer into the file: a plan's `config_problems`, without planning.
pub(crate) fn config_problems(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
) -> Vec<ConfigProblem> {
    names::resolve(config, source, target).1
}
pub(crate) use names::ConfigProblem;
pub(crate) use target::protection;

/// The version of the plan document; `show` and `apply` refuse others.
pub(crate) const PLAN_FORMAT: u32 = 2;

/// What the planner needs besides the config and the snapshots.
#[derive(Clone, Debug)]
pub(crate) struct Inputs<'a> {
    /// SHA-256 of the config file's bytes, carried into the plan for `apply`'s staleness check.
    pub(crate) config_sha256: String,
    /// The clock expressions see (`Now()`, `DateAdd`...).
    pub(crate) now: DateTime,
    /// The seed of `RandomString` and `SelectUniqueValue`'s choices.
    pub(crate) seed: u64,
    /// `--target` keys: only these users' changes are kept.
    pub(crate) targets: &'a [String],
}

/// A plan: every change, every item roster refuses to act on, and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "roster plan")]
pub(crate) struct Plan {
    /// Always 1.
    pub(crate) format_version: u32,
    /// SHA-256 of the config file the plan was made from.
    pub(crate) config_sha256: String,
    /// Where the plan applies.
    pub(crate) target: TargetInfo,
    pub(crate) summary: Summary,
    /// The summary in one line, as the text plan ends: `Plan: 2 to create, ...`, `No changes.
    /// ...`, or `No changes to make; N users need attention.`
    #[serde(default)]
    pub(crate) headline: String,
    /// The changes, in a stable order: creates, updates, reactivations, deactivations, freezes;
    /// each by key.
    pub(crate) changes: Vec<Change>,
    /// Users roster will not act on until the config or the data is fixed: errors and
    /// conflicts.
    pub(crate) errors: Vec<Problem>,
    /// Users a mapping expression skipped in this run (`IgnoreObjectFlow`), each with the
    /// mapping named: the config's own choice, listed so that it is never silent.
    #[serde(default)]
    pub(crate) skipped: Vec<Problem>,
    /// Things a reviewer should know that do not block anything.
    pub(crate) warnings: Vec<String>,
    /// Users assigned to the application whom Entra no longer has ("assigned, but deleted in
    /// Entra"): no Entra user links their Salesforce user any more, so it is deprovisioned like
    /// any user out of scope, and counts against the threshold.
    #[serde(default)]
    pub(crate) deleted_in_entra: Vec<crate::model::DeletedUser>,
    pub(crate) safety: SafetyCheck,
    /// When set, the plan was refused as a whole (e.g. no source user in scope) and carries no
    /// changes.
    pub(crate) refused: Option<String>,
    /// What `roster.yaml` names that the org does not have (or has twice), each at its place
    /// in the file; the plan is refused until they are fixed.
    #[serde(default)]
    pub(crate) config_problems: Vec<ConfigProblem>,
    /// `--target` keys the plan was limited to.
    pub(crate) targeted: Vec<String>,
    /// With `--baseline-config`: what the plan was compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) baseline: Option<Baseline>,
    /// With `roles.app_roles`: the enterprise application's app roles to add, update, disable
    /// or remove, by display name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) app_roles: Vec<AppRoleChange>,
}

/// What happens to one of the application's app roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum AppRoleAction {
    Add,
    /// A new display name, or enabled again.
    Update,
    /// `isEnabled: false`: Graph removes only a disabled role.
    Disable,
    /// Dropped from `appRoles`: a disabled role nobody is assigned.
    Remove,
}

/// An app role, as far as roster writes it (Microsoft Graph `appRole`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppRoleState {
    pub(crate) display_name: String,
    /// What the `roles` claim carries; roster's roles carry the profile's id.
    pub(crate) value: Option<String>,
    pub(crate) is_enabled: bool,
}

/// One change to the application's app roles (`entra_app_role["Sales Manager"]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppRoleChange {
    pub(crate) action: AppRoleAction,
    /// The role's id; for an add, a GUID derived from the org and the profile (a plan made again
    /// is the same plan).
    pub(crate) id: String,
    /// The Salesforce profile the role follows.
    pub(crate) profile_id: Option<String>,
    /// One line a reviewer understands.
    pub(crate) reason: String,
    /// The role now (none for an add).
    pub(crate) before: Option<AppRoleState>,
    /// The role after (none for a removal).
    pub(crate) after: Option<AppRoleState>,
    /// Users and groups assigned the role.
    pub(crate) assignments: usize,
}

impl AppRoleAction {
    /// The verb, as plans, reports and the schema (`snake_case`) name it.
    pub(crate) fn verb(self) -> &'static str {
        match self {
            AppRoleAction::Add => "add",
            AppRoleAction::Update => "update",
            AppRoleAction::Disable => "disable",
            AppRoleAction::Remove => "remove",
        }
    }
}

impl AppRoleChange {
    /// The display name it is known by: the new one, else the old.
    pub(crate) fn name(&self) -> &str {
        self.after
            .as_ref()
            .or(self.before.as_ref())
            .map_or("", |r| r.display_name.as_str())
    }
}

/// The org the plan was made against.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TargetInfo {
    pub(crate) instance_url: String,
    pub(crate) org_id: String,
    pub(crate) is_sandbox: bool,
}

/// Counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Summary {
    pub(crate) create: usize,
    pub(crate) update: usize,
    pub(crate) reactivate: usize,
    pub(crate) deactivate: usize,
    pub(crate) freeze: usize,
    pub(crate) errors: usize,
    pub(crate) conflicts: usize,
    /// Users a mapping expression skipped (`IgnoreObjectFlow`).
    #[serde(default)]
    pub(crate) skipped: usize,
    /// Source users in scope.
    pub(crate) in_scope: usize,
    /// Linked users that need nothing.
    pub(crate) unchanged: usize,
    /// Changes to the application's app roles (`roles.app_roles`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) app_roles: usize,
    /// Users in scope linked to a protected Salesforce user (`protect`), which roster leaves
    /// as it is whatever differs: neither a change nor unchanged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) protected: usize,
}

/// For `skip_serializing_if`: a count of nothing is left out of a document.
#[allow(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
pub(crate) fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    pub(crate) fn changes(&self) -> usize {
        self.create + self.update + self.reactivate + self.deactivate + self.freeze + self.app_roles
    }

    /// Users the plan does not act on until they are fixed: errors and conflicts.
    pub(crate) fn needing_attention(&self) -> usize {
        self.errors + self.conflicts
    }

    /// The `Plan: ...` line, or the no-changes sentence; either says how many users need
    /// attention (errors and conflicts) when any do: a plan with them is never "No changes".
    pub(crate) fn headline(&self) -> String {
        let s = self;
        let mut attention = match s.needing_attention() {
            0 => String::new(),
            1 => "1 user needs attention".to_owned(),
            n => format!("{n} users need attention"),
        };
        if s.skipped > 0 {
            let skipped = format!(
                "{} skipped by expression",
                match s.skipped {
                    1 => "1 user".to_owned(),
                    n => format!("{n} users"),
                }
            );
            attention = if attention.is_empty() {
                skipped
            } else {
                format!("{attention}, {skipped}")
            };
        }
        if s.changes() == 0 {
            return match (attention.is_empty(), s.protected) {
                (true, 0) => "No changes. Salesforce matches the configuration.".to_owned(),
                // Not "matches": a protected user is left as it is whatever differs
                // (helper-77: `--target` of one said Salesforce matched).
                (true, 1) => "No changes. 1 user is linked to a protected Salesforce user, \
                              which roster leaves as it is; the rest matches the configuration."
                    .to_owned(),
                (true, n) => format!(
                    "No changes. {n} users are linked to protected Salesforce users, which \
                     roster leaves as they are; the rest matches the configuration."
                ),
                (false, _) => format!("No changes to make; {attention}."),
            };
        }
        let mut parts = vec![
            format!("{} to create", s.create),
            format!("{} to update", s.update),
        ];
        if s.reactivate > 0 {
            parts.push(format!("{} to reactivate", s.reactivate));
        }
        parts.push(format!("{} to deactivate", s.deactivate));
        if s.freeze > 0 {
            parts.push(format!("{} to freeze", s.freeze));
        }
        if s.app_roles > 0 {
            parts.push(format!(
                "{} app role change{}",
                s.app_roles,
                if s.app_roles == 1 { "" } else { "s" }
            ));
        }
        if attention.is_empty() {
            format!("Plan: {}.", parts.join(", "))
        } else {
            format!("Plan: {}; {attention}.", parts.join(", "))
        }
    }
}

/// The deactivation guard.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SafetyCheck {
    /// Deactivations and freezes in this plan.
    pub(crate) deactivations: usize,
    /// With `--target`: the deactivations and freezes the whole plan has beyond the targets.
    /// They count against the threshold whenever this plan deactivates anyone, so splitting
    /// deactivations into targeted applies never gets around it.
    #[serde(default)]
    pub(crate) outside_target: usize,
    /// Of `deactivations`, the freezes.
    #[serde(default)]
    pub(crate) freezes: usize,
    /// The most the config allows (a percentage already turned into a number).
    pub(crate) max_deactivations: usize,
    /// How that number comes about: `10`, or `25% of 12 active owned users = 3`.
    #[serde(default)]
    pub(crate) allowance: String,
    /// `apply` refuses unless `--allow-deactivations` covers `counted()`.
    pub(crate) exceeded: bool,
}

impl SafetyCheck {
    /// "3 deactivations", "2 deactivations and 1 freeze", "1 freeze": what the plan does, by
    /// its name.
    pub(crate) fn what(&self) -> String {
        let deactivations = self.deactivations - self.freezes;
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        match (deactivations, self.freezes) {
            (d, 0) => plural(d, "deactivation", "deactivations"),
            (0, f) => plural(f, "freeze", "freezes"),
            (d, f) => format!(
                "{} and {}",
                plural(d, "deactivation", "deactivations"),
                plural(f, "freeze", "freezes")
            ),
        }
    }

    /// The deactivations the threshold weighs: this plan's, and when it has any, those waiting
    /// outside its `--target`.
    /// Counts the plan's deactivations and freezes from its `summary`, and whether they exceed
    /// the threshold.
    fn count(&mut self, summary: &Summary) {
        self.deactivations = summary.deactivate + summary.freeze;
        self.freezes = summary.freeze;
        self.exceeded = self.counted() > self.max_deactivations;
    }

    pub(crate) fn counted(&self) -> usize {
        if self.deactivations == 0 {
            0
        } else {
            self.deactivations + self.outside_target
        }
    }
}

/// What happens to one Salesforce user.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Action {
    Create,
    Update,
    Reactivate,
    Deactivate,
    Freeze,
}

/// How the source and target relate (midPoint's synchronization situations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Situation {
    /// In scope, no Salesforce user found by any matching rule.
    Unmatched,
    /// In scope and linked to a Salesforce user.
    Linked,
    /// The linked source user left the scope.
    OutOfScope,
    /// Owned by roster (Username suffix) and linked to no source user.
    Orphaned,
    /// Several candidates in either direction.
    Disputed,
}

/// One change to one Salesforce user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Change {
    pub(crate) action: Action,
    /// The source user's userPrincipalName, or the Salesforce Username when no source user is
    /// linked.
    pub(crate) key: String,
    pub(crate) situation: Situation,
    // Shared: a create's reason is the one its matching found (`Link::Unmatched`), not a copy.
    /// One line a reviewer understands.
    pub(crate) reason: Arc<str>,
    /// Entra object id.
    pub(crate) source_id: Option<Box<str>>,
    /// Salesforce User id (none for a create).
    pub(crate) target_id: Option<Box<str>>,
    // Field names are shared, not copied per user: a plan of 100,000 creates holds each once.
    /// The changed fields' current values (empty for a create).
    pub(crate) before: Fields,
    /// The fields to write.
    pub(crate) after: Fields,
    /// Names of the ids in `before`/`after` (profiles, roles), for people.
    pub(crate) labels: Labels,
    /// Fields compared and found equal.
    pub(crate) unchanged: usize,
    /// Access granted and taken away: permission sets, groups, licences, queues.
    pub(crate) grants: GrantChanges,
    /// The target user's `SystemModstamp` when planned: `apply` refuses if it moved.
    pub(crate) fingerprint: Option<Box<str>>,
    /// With `--baseline-config`: whether the change to the config causes this change, or it is
    /// pending regardless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cause: Option<Cause>,
    /// With `--baseline-config`, for a change the config change alters: the attributes and
    /// grants (`+ permission set X`, `- queue Y`) the baseline changes the same way — pending regardless of the edit (an Entra change, Salesforce drift).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) pending_fields: Vec<String>,
    /// For a freeze: the user's `UserLogin` id, whose `IsFrozen` is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) login_id: Option<Box<str>>,
}

impl Change {
    /// A change of `action` to the user `key` in `situation`, with nothing in it yet: no
    /// reason, ids, fields or grants.
    pub(crate) fn new(action: Action, key: String, situation: Situation) -> Change {
        Change {
            action,
            key,
            situation,
            reason: Arc::from(""),
            source_id: None,
            target_id: None,
            before: Fields::new(),
            after: Fields::new(),
            labels: Labels::default(),
            unchanged: 0,
            grants: GrantChanges::default(),
            fingerprint: None,
            cause: None,
            pending_fields: Vec::new(),
            login_id: None,
        }
    }

    /// Gives back the room building the change left over in its lists, where it is more than
    /// an eighth of theirs (`sorted_map::shrink_if_loose`): a plan keeps every change until it
    /// is rendered, 100,000 of them for a large tenant.
    pub(crate) fn shrink_to_fit(&mut self) {
        self.before.shrink_to_fit();
        self.after.shrink_to_fit();
        self.labels.share();
        crate::sorted_map::shrink_if_loose(&mut self.grants.add);
        crate::sorted_map::shrink_if_loose(&mut self.grants.remove);
    }
}

/// A change's names of ids (profile and role id to name), shared between the changes that
/// name the same: 88,000 creates of a large tenant name the same profile and role, and each
/// holding its own pair was a list and four shared names counted, some 80 bytes a change. Reads,
/// compares and serializes as the map it holds (`{}` when empty).
#[derive(Clone, Default)]
pub(crate) struct Labels(Option<Arc<IdNames>>);

/// Names by id, as `Labels` holds them.
type IdNames = SortedMap<Arc<str>, Arc<str>>;

impl Labels {
    /// The name of `id`.
    pub(crate) fn get(&self, id: &str) -> Option<&Arc<str>> {
        self.map().get(id)
    }

    /// Names `id` as `name` (the names of this change only: shared ones are copied first).
    pub(crate) fn insert(&mut self, id: Arc<str>, name: Arc<str>) {
        Arc::make_mut(self.0.get_or_insert_with(Arc::default)).insert(id, name);
    }

    /// The names, by id.
    pub(crate) fn map(&self) -> &IdNames {
        static EMPTY: IdNames = SortedMap::new();
        self.0.as_deref().unwrap_or(&EMPTY)
    }

    /// Shares these names with an earlier change of this thread that has the same (one of the
    /// last eight seen), or keeps them for the next: called once a change is made.
    fn share(&mut self) {
        const RECENT: usize = 8;
        thread_local! {
            static SEEN: std::cell::RefCell<Vec<Arc<IdNames>>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        let Some(own) = &mut self.0 else {
            return;
        };
        if own.is_empty() {
            self.0 = None;
            return;
        }
        SEEN.with_borrow_mut(|seen| {
            if let Some(at) = seen.iter().position(|known| **known == **own) {
                *own = Arc::clone(&seen[at]);
                seen[..=at].rotate_right(1);
            } else {
                Arc::make_mut(own).shrink_to_fit();
                seen.insert(0, Arc::clone(own));
                seen.truncate(RECENT);
            }
        });
    }
}

impl From<IdNames> for Labels {
    fn from(map: IdNames) -> Labels {
        Labels((!map.is_empty()).then(|| Arc::new(map)))
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        self.map() == other.map()
    }
}

impl std::fmt::Debug for Labels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map().fmt(f)
    }
}

impl std::ops::Index<&str> for Labels {
    type Output = Arc<str>;

    /// As a map indexes: the name of `id`, which must be there.
    fn index(&self, id: &str) -> &Arc<str> {
        &self.map()[id]
    }
}

impl Serialize for Labels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.map().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A saved plan's changes share their labels as a planned one's do.
        let mut labels = Labels::from(IdNames::deserialize(deserializer)?);
        labels.share();
        Ok(labels)
    }
}

impl JsonSchema for Labels {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        <IdNames as JsonSchema>::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        <IdNames as JsonSchema>::json_schema(generator)
    }
}

/// Why a change is in the plan, against the baseline config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Cause {
    /// The baseline config would not make it (or not so): this change to `roster.yaml` does.
    ConfigChange,
    /// The baseline config makes it too: Entra changed, or Salesforce drifted.
    Pending,
}

/// What the plan was compared with (`--baseline-config`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Baseline {
    /// SHA-256 of the baseline config.
    pub(crate) config_sha256: String,
    /// Users the baseline config would change and this config leaves alone.
    pub(crate) no_longer_changed: Vec<String>,
}

/// Marks each change of `plan` as caused by the config change or pending regardless, against
/// `baseline`, a plan of the same world from the config before the change.
pub(crate) fn compare_with_baseline(plan: &mut Plan, baseline: &Plan, baseline_sha256: &str) {
    let key = |c: &Change| c.key.to_lowercase();
    let before: std::collections::HashMap<String, &Change> =
        baseline.changes.iter().map(|c| (key(c), c)).collect();
    let same = |a: &Change, b: &Change| {
        a.action == b.action
            && a.target_id == b.target_id
            && a.before == b.before
            && a.after == b.after
            && a.grants == b.grants
    };
    for change in &mut plan.changes {
        let baseline_change = before.get(&key(change));
        let pending = baseline_change.is_some_and(|b| same(change, b));
        change.cause = Some(if pending {
            Cause::Pending
        } else {
            Cause::ConfigChange
        });
        // Partly pending: what the baseline would change the same way.
        if let Some(b) = baseline_change.filter(|b| !pending && b.action == change.action) {
            let mut fields: Vec<String> = change
                .after
                .iter()
                .filter(|(name, value)| b.after.get(name) == Some(*value))
                .map(|(name, _)| name.to_string())
                .collect();
            let grants = |mine: &[GrantRef], theirs: &[GrantRef], sign: char| {
                mine.iter()
                    .filter(|g| theirs.iter().any(|t| t.kind == g.kind && t.id == g.id))
                    .map(|g| format!("{sign} {g}"))
                    .collect::<Vec<_>>()
            };
            fields.extend(grants(&change.grants.add, &b.grants.add, '+'));
            fields.extend(grants(&change.grants.remove, &b.grants.remove, '-'));
            change.pending_fields = fields;
        }
    }
    let now: std::collections::HashSet<String> = plan.changes.iter().map(key).collect();
    plan.baseline = Some(Baseline {
        config_sha256: baseline_sha256.to_owned(),
        no_longer_changed: baseline
            .changes
            .iter()
            .filter(|c| !now.contains(&key(c)))
            .map(|c| c.key.clone())
            .collect(),
    });
}

/// Grants to add and remove, each list in apply's order (by kind, then name).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantChanges {
    pub(crate) add: Vec<GrantRef>,
    pub(crate) remove: Vec<GrantRef>,
}

impl GrantChanges {
    pub(crate) fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// The adds roster writes: all but the licences Salesforce assigns with a permission set.
    pub(crate) fn written_adds(&self) -> impl Iterator<Item = &GrantRef> {
        self.add.iter().filter(|g| g.implied_by.is_none())
    }
}

/// One grant: the kind, the access object by name and id, and for a removal the assignment
/// record's id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantRef {
    pub(crate) kind: GrantKind,
    // Name and id shared by every change that grants the same record.
    pub(crate) name: Arc<str>,
    pub(crate) id: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) assignment_id: Option<String>,
    /// A permission set licence Salesforce assigns itself with this permission set, which is
    /// linked to it (`PermissionSet.LicenseId`): shown and counted against the seats, never
    /// written by roster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) implied_by: Option<String>,
}

impl GrantRef {
    /// The name of the apply step that writes it: `add queue Support_Tier_1`.
    pub(crate) fn step(&self, adding: bool) -> String {
        format!("{} {self}", if adding { "add" } else { "remove" })
    }
}

/// The grant as people read it: `queue Support_Tier_1`.
impl std::fmt::Display for GrantRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// A user roster will not act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Problem {
    pub(crate) kind: ProblemKind,
    pub(crate) key: String,
    pub(crate) reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ProblemKind {
    /// Something Salesforce would reject, or the config cannot decide.
    Error,
    /// Ambiguity between source and target users: never acted on.
    Conflict,
    /// A mapping expression returned `IgnoreObjectFlow`: the config itself skips the user in
    /// this run. Not a fault; listed so that it is never silent.
    Skipped,
}

/// The JSON Schema of saved plans (`roster schema --plan`; committed as
/// `schemas/plan.schema.json`).
pub(crate) fn plan_schema_text() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Computes the plan.
pub(crate) fn plan(
    config: &Config,
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    inputs: &Inputs<'_>,
) -> Plan {
    planned(
        &mut reconcile::State::new(config, source, target, inputs),
        source,
    )
}

/// Computes the plan, taking `source` apart as it goes: the groups' member lists go once every
/// user's groups are known, and each user's attributes once the user is planned, so the plan's
/// peak does not hold them beside the users already in it (some 75 MB for 100,000 users). The
/// same plan as `plan`.
pub(crate) fn plan_taking(
    config: &Config,
    mut source: SourceSnapshot,
    target: &TargetSnapshot,
    inputs: &Inputs<'_>,
) -> Plan {
    let claims = source.users.len();
    // The strings every user's key and object id are kept in (filled below), and the snapshot,
    // borrowed from out here: the plan's state borrows them while the scope's thread runs.
    let (mut all_keys, mut all_ids) = (String::new(), String::new());
    let (all_keys, all_ids, source) = (&mut all_keys, &mut all_ids, &mut source);
    std::thread::scope(move |scope| {
        // The org's lookups need no source user: made on a thread of their own meanwhile, as
        // this one takes the source apart and makes its users' views.
        let lookups = (crate::concurrent::cores() > 1)
            .then(|| scope.spawn(move || reconcile::OrgLookups::new(config, target, claims)));
        // The snapshot's users are taken apart here and let go: every key and every object id in
        // one string each (a `String` each costs 24 bytes and an allocation more), the attributes
        // apart — some 8 MB less at the plan's peak for 100,000 users.
        let taken = std::mem::take(&mut source.users);
        // Each string made at its final size: grown by doubling, it copied itself over and over
        // (some 10 ms for 100,000 users).
        let (keys_len, ids_len) = taken.iter().fold((0, 0), |(keys, ids), user| {
            (keys + source::key_of(user).len(), ids + user.id.len())
        });
        all_keys.reserve_exact(keys_len);
        all_ids.reserve_exact(ids_len);
        let mut ends: Vec<(usize, usize)> = Vec::with_capacity(taken.len());
        let mut attributes: Vec<UserAttributes> = Vec::with_capacity(taken.len());
        for mut user in taken {
            all_keys.push_str(source::key_of(&user));
            all_ids.push_str(&user.id);
            ends.push((all_keys.len(), all_ids.len()));
            attributes.push(std::mem::take(&mut user.attributes));
        }
        let members: Vec<Vec<String>> = source
            .groups
            .iter_mut()
            .map(|group| std::mem::take(&mut group.members))
            .collect();
        let (source, all_keys, all_ids): (&SourceSnapshot, &str, &str) =
            (source, all_keys, all_ids);
        let names = (0..ends.len()).map(|i| {
            let ((key, id), (key_end, id_end)) =
                (i.checked_sub(1).map_or((0, 0), |p| ends[p]), ends[i]);
            (&all_ids[id..id_end], &all_keys[key..key_end])
        });
        let users = source::users_taking(source, attributes, names, &members);
        drop(ends);
        drop(members);
        let lookups = lookups.map_or_else(
            || reconcile::OrgLookups::new(config, target, claims),
            crate::concurrent::joined,
        );
        planned(
            &mut reconcile::State::with_users(config, source, users, lookups, target, inputs),
            source,
        )
    })
}

/// The plan from the planner's state: reconciled, then labelled, limited to `--target` keys,
/// summarized and checked against the threshold.
fn planned(state: &mut reconcile::State<'_>, source: &SourceSnapshot) -> Plan {
    let (config, target, inputs) = (state.config, state.target, state.inputs);
    let mut plan = reconcile::reconcile(state);
    plan.format_version = PLAN_FORMAT;
    plan.config_sha256.clone_from(&inputs.config_sha256);
    plan.target = TargetInfo {
        instance_url: target.instance_url.clone(),
        org_id: target.org.id.clone(),
        is_sandbox: target.org.is_sandbox,
    };
    let deactivations = |plan: &Plan| {
        plan.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Deactivate | Action::Freeze))
            .count()
    };
    // Counted before `--target` keeps some: the rest wait outside it. Without targets, the
    // summary counts them (one pass over 100,000 changes cold by now, not three).
    let all_deactivations = (!inputs.targets.is_empty()).then(|| deactivations(&plan));
    plan.warnings.extend(source.warnings.iter().cloned());
    plan.deleted_in_entra.clone_from(&source.deleted_users);
    plan.warnings.extend(target.warnings.iter().cloned());
    if !inputs.targets.is_empty() {
        let usernames: std::collections::HashMap<&str, &str> = target
            .users
            .iter()
            .map(|u| (crate::salesforce::id15(&u.id), u.username.as_str()))
            .collect();
        // A target is a change's key, its Entra object id, its Salesforce id, or the Salesforce
        // Username of the user it touches (or creates); an error or a conflict is kept for the
        // users a target reaches by object id or through the accounts it names.
        let targets = target_forms(inputs.targets, source);
        let reached = state.reached_by(&targets);
        let wanted = |key: &str, ids: [Option<&str>; 2], username: Option<&str>| {
            reached.iter().any(|k| k.eq_ignore_ascii_case(key))
                || targets.iter().any(|t| {
                    t.eq_ignore_ascii_case(key)
                        || ids
                            .iter()
                            .flatten()
                            .any(|id| crate::salesforce::same_id(id, t))
                        || username.is_some_and(|u| u.eq_ignore_ascii_case(t))
                })
        };
        let wanted_change = |c: &Change| {
            let username = c
                .target_id
                .as_deref()
                .and_then(|id| usernames.get(crate::salesforce::id15(id)).copied())
                .or_else(|| c.after.get("Username").and_then(FieldValue::as_str));
            wanted(
                &c.key,
                [c.source_id.as_deref(), c.target_id.as_deref()],
                username,
            )
        };
        let handed_over = std::mem::take(&mut *crate::concurrent::lock(&state.handed_over));
        let (givers, warnings) = givers_kept(&plan, &wanted_change, &handed_over);
        plan.changes
            .retain(|c| wanted_change(c) || givers.contains(c.key.as_str()));
        plan.warnings.extend(warnings);
        plan.errors.retain(|p| wanted(&p.key, [None, None], None));
        plan.skipped.retain(|p| wanted(&p.key, [None, None], None));
        // The protected users counted are the targeted ones (reconcile counted all).
        plan.summary.protected = state
            .protected_linked()
            .filter(|&(user, account)| {
                !plan.errors.iter().any(|p| p.key == user.key)
                    && wanted(
                        user.key,
                        [Some(user.id), Some(account.id.as_str())],
                        Some(&account.username),
                    )
            })
            .count();
        plan.targeted = inputs.targets.to_vec();
    }
    // App roles belong to no user: a plan limited to --target users leaves them alone.
    if plan.refused.is_none() && config.roles.app_roles.is_some() && inputs.targets.is_empty() {
        let wanted = app_roles::wanted_profiles(config, target, &mut Vec::new());
        plan.app_roles = app_roles::changes(&wanted, source, target);
        plan.warnings
            .extend(app_roles::kept(&wanted, source, target));
        plan.warnings
            .extend(app_roles::duplicate_names(config, target));
    }
    // A user made an administrator is what a reviewer must not miss among 100,000 lines.
    let standing = policy::Standing::read(&plan, target);
    plan.warnings
        .extend(administrators_warnings(&plan, &standing));
    plan.warnings.extend(managers::warnings(
        &plan,
        target,
        config.deprovision.when_refused,
    ));
    plan.summary = summarize(&plan, &plan.summary);
    plan.headline = plan.summary.headline();
    let kept = plan.summary.deactivate + plan.summary.freeze;
    plan.safety = safety(
        config,
        target,
        &plan,
        all_deactivations.map_or(0, |all| all - kept),
    );
    plan
}

/// Each of `targets` (`--target` values) as pasted, spaces around it gone, and as the object
/// ids it stands for: in Graph's form when it is one in another (braces, no hyphens), and a
/// leaver's, when it is the userPrincipalName of one the read looked up by their account's
/// anchor (`unassigned_users`) — what a change's `source_id` holds.
fn target_forms(targets: &[String], source: &SourceSnapshot) -> Vec<String> {
    targets
        .iter()
        .flat_map(|t| {
            let t = t.trim();
            let leaver = source.unassigned_named(t).map(|u| u.id.clone());
            [t.to_owned(), crate::graph::object_id_form(t).into_owned()]
                .into_iter()
                .chain(leaver)
        })
        .collect()
}

/// The users (by key) whose updates a plan limited by `--target` keeps beside the changes it
/// wants (`wanted`), with a warning each: each gives up a unique value a kept change takes
/// (`handed_over`: taker, giver), which Salesforce refuses until the giver's update is written
/// — along a chain.
fn givers_kept<'h>(
    plan: &Plan,
    wanted: &dyn Fn(&Change) -> bool,
    handed_over: &'h [(String, String)],
) -> (std::collections::HashSet<&'h str>, Vec<String>) {
    let mut givers = std::collections::HashSet::new();
    let mut warnings = Vec::new();
    if handed_over.is_empty() {
        return (givers, warnings);
    }
    let kept: std::collections::HashSet<&str> = plan
        .changes
        .iter()
        .filter(|c| wanted(c))
        .map(|c| c.key.as_str())
        .collect();
    while let Some((taker, giver)) = handed_over.iter().find(|(taker, giver)| {
        (kept.contains(taker.as_str()) || givers.contains(taker.as_str()))
            && !kept.contains(giver.as_str())
            && !givers.contains(giver.as_str())
    }) {
        givers.insert(giver.as_str());
        warnings.push(format!(
            "{giver}'s update is in this plan though --target does not name it: {taker}'s \
             change takes a unique value that update gives up, which Salesforce refuses until \
             it is written"
        ));
    }
    (givers, warnings)
}

/// A warning per profile with administrative permissions (`model::Profile::administrative`)
/// that `plan` leaves users able to sign in with, by a create, a move, a reactivation or an
/// unfreeze (`policy::administrators_made`): how many, the permissions, and the first ten users.
fn administrators_warnings(plan: &Plan, standing: &policy::Standing) -> Vec<String> {
    /// Users named in a warning; the rest are counted.
    const NAMED: usize = 10;
    let mut by_profile: std::collections::BTreeMap<&str, (&crate::model::Profile, Vec<String>)> =
        std::collections::BTreeMap::new();
    for (change, profile, made) in policy::administrators_made(plan, standing) {
        let Some(profile) = profile else { continue };
        by_profile
            .entry(profile.name.as_str())
            .or_insert((profile, Vec::new()))
            .1
            .push(format!("{} ({})", change.key, made.word()));
    }
    by_profile
        .into_values()
        .map(|(profile, users)| {
            let more = users.len().saturating_sub(NAMED);
            format!(
                "{} user(s) get the profile {}, which has administrative permissions ({}): {}{}",
                users.len(),
                profile.name,
                profile.administrative.join(", "),
                users[..users.len().min(NAMED)].join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

/// The `--target` values that name no user roster read: not an Entra user's userPrincipalName or
/// object id, nor a Salesforce user's Username or id, nor an object id the assignments name
/// whom Entra has deleted or that the object-id anchor (`anchor`, a User field) of a Salesforce
/// user holds (someone who left, whose account the plan deprovisions). Each comes with the
/// closest key, to suggest; never for an object id, as the id closest to one is another
/// person's.
pub(crate) fn unknown_targets(
    source: &SourceSnapshot,
    target: &TargetSnapshot,
    anchor: Option<&str>,
    targets: &[String],
) -> Vec<(String, Option<String>)> {
    // No `--target`: nothing to look for among 100,000 users' keys.
    if targets.is_empty() {
        return Vec::new();
    }
    let mut keys: Vec<&str> = Vec::new();
    for user in &source.users {
        keys.push(&user.id);
        if let Some(upn) = user.attributes.text("userPrincipalName") {
            keys.push(upn);
        }
    }
    for leaver in source.unassigned_users.iter().flatten() {
        keys.push(&leaver.id);
        keys.extend(leaver.user_principal_name.as_deref());
    }
    let mut object_ids: Vec<std::borrow::Cow<'_, str>> = source
        .deleted_users
        .iter()
        .map(|d| std::borrow::Cow::Borrowed(d.id.as_str()))
        .collect();
    for user in &target.users {
        keys.push(&user.id);
        keys.push(&user.username);
        if let Some(held) = anchor.and_then(|field| user.text(field)) {
            object_ids.push(crate::graph::object_id_form(held.trim()));
        }
    }
    targets
        .iter()
        .filter(|t| {
            let id = crate::graph::object_id_form(t.trim());
            !keys.iter().any(|k| {
                k.eq_ignore_ascii_case(t)
                    || k.eq_ignore_ascii_case(&id)
                    || crate::salesforce::same_id(k, t)
            }) && !object_ids.iter().any(|held| held.eq_ignore_ascii_case(&id))
        })
        .map(|t| {
            let hint = (!guid_like(t))
                .then(|| {
                    account_carrying(t, target)
                        .map(|(username, _)| username)
                        .or_else(|| crate::suggest::closest(t, keys.iter().copied()))
                        .map(str::to_owned)
                })
                .flatten();
            (t.clone(), hint)
        })
        .collect()
}

/// The Salesforce user that carries `upn`, a userPrincipalName roster did not read (someone
/// unassigned or deleted since), and the field it carries it in: as its Username with a suffix
/// (`ann@contoso.com.dev1`), its FederationIdentifier or its Email — preferred in that order,
/// and active accounts before inactive ones, so that of two accounts carrying the name the
/// person's own (the Username roster made from it, their sign-in) is named, not one whose
/// Email an admin set to it (helper-93). What `--target` names that person by, rather than the
/// closest key roster read, which is another person's.
pub(crate) fn account_carrying<'t>(
    upn: &str,
    target: &'t TargetSnapshot,
) -> Option<(&'t str, &'static str)> {
    let upn = upn.trim();
    let carries = |text: &str| {
        text.get(..upn.len()).is_some_and(|head| {
            head.eq_ignore_ascii_case(upn)
                && matches!(text.as_bytes().get(upn.len()), None | Some(b'.'))
        })
    };
    if !upn.contains('@') {
        return None;
    }
    target
        .users
        .iter()
        .filter_map(|user| {
            let field = if carries(&user.username) {
                "Username"
            } else {
                ["FederationIdentifier", "Email"]
                    .into_iter()
                    .find(|field| user.text(field).is_some_and(carries))?
            };
            Some((user, field))
        })
        .min_by_key(|(user, field)| {
            let rank = ["Username", "FederationIdentifier", "Email"]
                .iter()
                .position(|f| f == field);
            (rank, !user.is_active)
        })
        .map(|(user, field)| (user.username.as_str(), field))
}

/// Whether `text` reads as an object id, whole or mistyped: hex digits (24 or more), hyphens,
/// braces and parentheses only. The key closest to it is another person's id, never a hint.
fn guid_like(text: &str) -> bool {
    let text = text.trim();
    text.chars()
        .all(|c| c.is_ascii_hexdigit() || "-{}()".contains(c))
        && text.chars().filter(char::is_ascii_hexdigit).count() >= 24
}

fn summarize(plan: &Plan, kept: &Summary) -> Summary {
    let mut summary = Summary {
        in_scope: kept.in_scope,
        unchanged: kept.unchanged,
        protected: kept.protected,
        ..Summary::default()
    };
    for change in &plan.changes {
        match change.action {
            Action::Create => summary.create += 1,
            Action::Update => summary.update += 1,
            Action::Reactivate => summary.reactivate += 1,
            Action::Deactivate => summary.deactivate += 1,
            Action::Freeze => summary.freeze += 1,
        }
    }
    summary.app_roles = plan.app_roles.len();
    for problem in plan.errors.iter().chain(&plan.skipped) {
        match problem.kind {
            ProblemKind::Error => summary.errors += 1,
            ProblemKind::Conflict => summary.conflicts += 1,
            ProblemKind::Skipped => summary.skipped += 1,
        }
    }
    summary
}

impl Plan {
    /// Counts the summary, the headline and the deactivations against the threshold again from
    /// the plan's own changes and problems: a saved plan is a file anyone can edit, and what
    /// `show` tells a reviewer must be what the changes listed below it do. The users in scope,
    /// unchanged and protected, and the threshold the config set, are kept as saved (the
    /// changes cannot tell them). Whether anything differed.
    pub(crate) fn recount(&mut self) -> bool {
        let summary = summarize(self, &self.summary);
        let headline = summary.headline();
        let mut safety = self.safety.clone();
        safety.count(&summary);
        let differed =
            summary != self.summary || headline != self.headline || safety != self.safety;
        (self.summary, self.headline, self.safety) = (summary, headline, safety);
        differed
    }
}

/// The deactivation threshold: a number, or a percentage of the active users roster owns
/// (`target::owned_count`).
fn safety(
    config: &Config,
    target: &TargetSnapshot,
    plan: &Plan,
    outside_target: usize,
) -> SafetyCheck {
    let owned = target::owned_count(config, target);
    let threshold = config.safety.max_deactivations;
    let max = threshold.allowed(owned);
    let allowance = match threshold {
        crate::config::Threshold::Count(n) => n.to_string(),
        crate::config::Threshold::Ratio(ratio) => {
            // The percentage as written: 7% is stored as 0.07, and 0.07 * 100 is 7.000000000000001.
            let percent = format!("{:.6}", ratio * 100.0);
            let percent = percent.trim_end_matches('0').trim_end_matches('.');
            format!("{percent}% of {owned} active owned users = {max}")
        }
    };
    let mut check = SafetyCheck {
        deactivations: 0,
        outside_target,
        freezes: 0,
        max_deactivations: max,
        allowance,
        exceeded: false,
    };
    check.count(&plan.summary);
    check
}
