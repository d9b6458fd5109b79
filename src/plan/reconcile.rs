//! The pass over every user: for each source user in scope, its link decides an update or a
//! create (`lifecycle.rs`); then the owned or linked Salesforce users whose source left the scope
//! are deprovisioned. `State` holds what the pass shares.

use crate::field_value::FieldValue;
use crate::hash::{HashMap, HashSet};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::concurrent::lock;

use super::lifecycle::{Claimed, conflict, problem};
use super::mapping::{Compiled, Desired, compile, desired};
use super::matching::{Link, candidates, link, match_index};
use super::scope::{self, Scope};
use super::source::{self, SourceUser};
use super::target::{Org, fingerprint, owned};
use super::values::{Sought, UniqueValues};
use super::{Action, Change, Fields, Inputs, Plan, Problem, ProblemKind, Situation, Summary};
use crate::config::{Config, OutOfScope};
use crate::expr::{self, Context};
use crate::model::{SourceSnapshot, TargetSnapshot};
use crate::sorted_map::Name;

/// Users a chunk of the pass plans at once: each chunk's attributes go once it is planned, and
/// the next chunk is prepared while its claims are made, so the plan's peak holds at most two
/// chunks' more than one user at a time would (a few MB); the threads that plan them start some
/// 50 times for 100,000 users.
const CHUNK: usize = 2048;

/// The threads the planner uses: one a core, at most eight. Planning waits on memory more than
/// on instructions, so more threads gain little, and each chunk's share of 2,048 users would
/// shrink below 256 while the threads that plan it start anew for every chunk.
fn threads() -> usize {
    crate::concurrent::cores().min(8)
}

/// A user's update or create, planned but not yet claiming its unique values (`State::prepare`).
pub(super) enum Prepared {
    /// What differs (`None`: nothing), or why it cannot be planned.
    Update(Result<Option<Change>, Problem>),
    Create(Result<Change, Problem>),
}

impl Prepared {
    /// The change made, if any: an update that changes something, or a create.
    fn change(&self) -> Option<&Change> {
        match self {
            Prepared::Update(Ok(Some(change))) | Prepared::Create(Ok(change)) => Some(change),
            Prepared::Update(_) | Prepared::Create(_) => None,
        }
    }

    /// The unique values the change writes, looked up in `unique`.
    fn sought<'a>(&self, unique: &UniqueValues<'a>) -> Sought<'a> {
        unique.look_up(
            self.change()
                .into_iter()
                .flat_map(|c| c.after.iter().map(|(k, v)| (*k, v))),
        )
    }
}

/// Everything reconciled, before `--target` and safety.
#[allow(
    clippy::too_many_lines,
    reason = "the lifecycle reads best as one pass: scope, link, map, decide"
)]
pub(super) fn reconcile(state: &mut State<'_>) -> Plan {
    let (config, target) = (state.config, state.target);
    let mut plan = Plan::default();
    let in_scope = state.decisions.iter().filter(|d| d.in_scope()).count();
    plan.summary = Summary {
        in_scope,
        ..Summary::default()
    };
    if !state.problems.is_empty() {
        plan.refused = Some(format!(
            "the config names {} record(s), app role(s) or group(s) that the org, the application or Entra does \
             not have, or has twice (listed with their places in the file); fix the names, or \
             name records by id",
            state.problems.len()
        ));
        plan.config_problems.clone_from(&state.problems);
        return plan;
    }
    // A config that names a sandbox's login URL and reaches production: the credentials or
    // the URL are wrong, and a plan for production must not be taken for a sandbox's.
    if crate::url_rules::is_sandbox_login(&config.target.login_url) && !target.org.is_sandbox {
        plan.refused = Some(format!(
            "target.login_url ({}) is a sandbox's, but the org roster reached, {} ({}), is a \
             production org: roster refuses to plan for it. Check target.login_url and the \
             credentials (`roster check` says which org they reach); a production org's \
             config names its own login URL (https://login.salesforce.com or its My Domain)",
            config.target.login_url, target.org.name, target.org.id
        ));
        return plan;
    }
    if in_scope == 0 && config.safety.refuse_empty_source {
        plan.refused = Some(format!(
            "no Entra user is in scope ({} read from the application): roster refuses to plan, \
             since that would deactivate every user it manages. Check the assignments and \
             scoping filters, or set safety.refuse_empty_source: false",
            state.users.len()
        ));
        return plan;
    }
    // The unique values are claimed in user order, on the thread that makes the claims.
    let mut pass = Pass {
        unique_values: std::mem::take(&mut state.unique_values),
        ..Pass::default()
    };
    // At most one change per user in scope and per active Salesforce user deprovisioned: a
    // `Vec` that grew past that would double its 100,000 changes.
    plan.changes
        .reserve_exact(in_scope + target.users.iter().filter(|u| u.is_active).count());
    let mut withheld = 0usize;
    // Users are planned a chunk at a time: each user's update or create on every core (it
    // reads nothing another's planning writes), then, in user order on this thread, what one
    // user's plan takes from the next — Usernames and unique values claimed — while the other
    // threads prepare the next chunk (this one joins them when its claims are done), and the
    // chunk's attributes let go. With SelectUniqueValue a create reads what the creates
    // before it took: one thread then, each user in turn.
    let threads = if state.select_unique_value {
        1
    } else {
        threads()
    };
    let count = state.users.len();
    let chunk_at = |start: usize| start..(start + CHUNK).min(count);
    // Two buffers of a chunk's changes, filled in turn (`fill_beside`): one claimed from while
    // the other is prepared. On one thread there are none: each user is prepared as claimed.
    let buffer = || -> Vec<Option<Prepared>> {
        if threads > 1 {
            (0..CHUNK.min(count)).map(|_| None).collect()
        } else {
            Vec::new()
        }
    };
    let (mut prepared, mut next_prepared) = (buffer(), buffer());
    if threads > 1 {
        let (first, shared) = (chunk_at(0), &*state);
        crate::concurrent::fill_beside(
            &mut prepared[..first.len()],
            threads,
            |j| shared.prepare(first.start + j),
            || (),
        );
    }
    for start in (0..count).step_by(CHUNK) {
        let end = chunk_at(start).end;
        let shared: &State<'_> = state;
        let next = if threads > 1 && end < count {
            chunk_at(end)
        } else {
            end..end
        };
        let slots = next_prepared.get_mut(..next.len()).unwrap_or_default();
        crate::concurrent::fill_beside(
            slots,
            threads,
            |j| shared.prepare(next.start + j),
            || {
                for i in start..end {
                    let outcome = match prepared.get_mut(i - start) {
                        Some(done) => done.take(),
                        None => shared.prepare(i),
                    };
                    shared.claim(i, outcome, &mut pass, &mut plan);
                }
            },
        );
        // The chunk is planned: its attributes, if the planner was given them, go.
        crate::concurrent::for_each_mut(&mut state.users[start..end], threads, |user| {
            user.release();
        });
        std::mem::swap(&mut prepared, &mut next_prepared);
    }
    let state: &State<'_> = state;
    state.claim_waiting(&mut pass, &mut plan);
    lock(&state.handed_over).extend(pass.unique_values.handed_over.iter().filter_map(
        |&(taker, holder)| {
            let giver = state.linked_source.get(&usize::try_from(holder).ok()?)?;
            Some((taker.to_owned(), state.users[*giver].key.to_owned()))
        },
    ));
    // Every user is planned: nothing claims a unique value any more. The maps (some 110,000
    // values a unique field for 100,000 users) would otherwise sit beside the finished plan at
    // its peak.
    drop(std::mem::take(&mut pass.unique_values));
    state.check_creates(&pass.creates, &mut plan);
    state.check_grant_seats(&mut plan);
    // Deprovisioning: linked to a source user out of scope (read, or anchored to one the read
    // no longer gives), or owned and linked to nobody.
    let in_conflict = lock(&state.in_conflict);
    let read = ReadIds::new(&state.users);
    // Protected users out of scope, which stay active, and those `out_of_scope: ignore` leaves:
    // named in warnings.
    let mut protected_out: Vec<String> = Vec::new();
    let mut internal_out: Vec<String> = Vec::new();
    let mut ignored: Vec<String> = Vec::new();
    // Accounts no one links whose object-id anchor holds text that is no object id.
    let mut not_ids: Vec<String> = Vec::new();
    for (t, user) in target.users.iter().enumerate() {
        if !user.is_active {
            continue;
        }
        let source_link = state.linked_source.get(&t).copied();
        // Linked to no one: not by this read, nor in a dispute or a conflict.
        let unlinked =
            source_link.is_none() && !pass.linked_targets.contains(&t) && !in_conflict.contains(&t);
        let departed = unlinked.then(|| state.departed(user, &read)).flatten();
        if unlinked
            && departed.is_none()
            && let Some(held) = state.compiled.anchored_object_id(user)
            && !crate::graph::looks_like_guid(&held)
        {
            not_ids.push(format!(
                "{} ({})",
                user.username,
                crate::render::quoted(&held)
            ));
        }
        if state.org.protected(config, user) {
            // An internal user is no person to deprovision by hand: its link is a value to
            // clear (helper-77).
            // (An internal user is never linked: a person whose rules find one is a
            // conflict, `State::with_users`.)
            let protected_out = if state.org.internal(user) {
                &mut internal_out
            } else {
                &mut protected_out
            };
            match (
                source_link.map(|i| (&state.decisions[i], state.users[i].key)),
                departed,
            ) {
                // The account named, where a person acts (helper-79: the Entra user alone).
                (Some((Scope::Out(why), key)), _) => protected_out.push(format!(
                    "{} (linked to the Entra user {key}: {why})",
                    user.username
                )),
                (None, Some((_, id))) => protected_out.push(format!(
                    "{} (anchored to the Entra user {id}, not among the application's users)",
                    user.username
                )),
                _ => {}
            }
            continue;
        }
        let (situation, reason, source_id, key) = match source_link {
            Some(i) => match &state.decisions[i] {
                // In scope, or scope undecided (an error item already): never deprovisioned.
                Scope::In | Scope::Undecided(_) => continue,
                Scope::Out(why) => (
                    Situation::OutOfScope,
                    // The account named in parentheses: the plan's overview groups reasons by
                    // what comes before them.
                    match super::lifecycle::account_not_named(state.users[i].key, &user.username) {
                        Some(username) => {
                            format!("out of scope: {why} (Salesforce user {username})")
                        }
                        None => format!("out of scope: {why}"),
                    },
                    Some(Box::<str>::from(state.users[i].id)),
                    state.users[i].key.to_owned(),
                ),
            },
            None if let Some((field, id)) = departed => (
                Situation::OutOfScope,
                format!("out of scope: {}", anchored(field, &id, state.source, user)),
                Some(Box::<str>::from(id)),
                user.username.clone(),
            ),
            None if unlinked && owned(config, user) && pass.undecided_matching > 0 => {
                withheld += 1;
                continue;
            }
            None if unlinked
                && owned(config, user)
                && let Some(why) = state.held_in_another_case.get(&t) =>
            {
                plan.errors.push(Problem {
                    kind: ProblemKind::Conflict,
                    key: user.username.clone(),
                    reason: why.clone(),
                });
                continue;
            }
            None if unlinked && owned(config, user) => (
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
                user.username.clone(),
            ),
            None => continue,
        };
        let action = match config.deprovision.out_of_scope {
            OutOfScope::Ignore => {
                ignored.push(key);
                continue;
            }
            OutOfScope::Deactivate => Action::Deactivate,
            // Already frozen: nothing to do.
            OutOfScope::Freeze if user.is_frozen() => continue,
            OutOfScope::Freeze if user.login.is_none() => {
                plan.errors.push(Problem {
                    kind: ProblemKind::Error,
                    key,
                    reason: format!(
                        "{reason}, but Salesforce has no UserLogin record for {} to freeze",
                        user.id
                    ),
                });
                continue;
            }
            OutOfScope::Freeze => Action::Freeze,
        };
        let (field, before, after) = match action {
            Action::Freeze => ("IsFrozen", FieldValue::Bool(false), FieldValue::Bool(true)),
            _ => ("IsActive", FieldValue::Bool(true), FieldValue::Bool(false)),
        };
        plan.changes.push(Change {
            reason: reason.into(),
            source_id,
            target_id: Some(user.id.as_str().into()),
            before: Fields::from([(Name::from(field), before)]),
            after: Fields::from([(Name::from(field), after)]),
            fingerprint: fingerprint(user),
            login_id: (action == Action::Freeze)
                .then(|| user.login.as_ref().map(|l| l.id.as_str().into()))
                .flatten(),
            ..Change::new(action, key, situation)
        });
    }
    protected_warnings(config, &pass.protected_linked, &protected_out, &mut plan);
    if !internal_out.is_empty() {
        plan.warnings.push(format!(
            "{} of Salesforce's internal user(s) (on a profile the org does not list, as the \
             Automated Process user is) hold the object id of an Entra user the application \
             does not give: roster never changes them, and they are no people to deprovision; \
             clear the value that links them (their anchor) by hand: {}",
            internal_out.len(),
            some_of(&internal_out)
        ));
    }
    if !ignored.is_empty() {
        plan.warnings.push(format!(
            "{} Salesforce user(s) roster would deprovision stay active, as \
             `deprovision.out_of_scope: ignore` leaves them: {}",
            ignored.len(),
            some_of(&ignored)
        ));
    }
    if let (Some(field), false) = (state.compiled.object_id_anchor, not_ids.is_empty()) {
        plan.warnings.push(format!(
            "{} active Salesforce user(s) no one links hold text that is no Entra object id in \
             {field}, the object-id anchor: roster takes it for no anchor (no one's account), \
             so they are deprovisioned only as orphans; correct or clear it: {}",
            not_ids.len(),
            some_of(&not_ids)
        ));
    }
    if withheld > 0 {
        plan.warnings.push(format!(
            "{} user(s)' matching rules could not be evaluated (see the errors): \
             roster does not deactivate or freeze the {withheld} Salesforce user(s) no one links \
             until they can be, as one may be theirs",
            pass.undecided_matching
        ));
    }
    sort_changes(&mut plan.changes);
    plan.errors
        .sort_by(|a, b| (&a.key, &a.reason).cmp(&(&b.key, &b.reason)));
    plan.skipped.sort_by(|a, b| a.key.cmp(&b.key));
    plan.summary.unchanged = pass.unchanged;
    plan.summary.protected = pass.protected_linked.len();
    plan
}

/// Why a Salesforce user `departed` names is out of scope: the Entra user `id` its anchor
/// `field` holds has left — as far as `source` says how: in the tenant and no longer the
/// application's (`unassigned_users`), deleted with an assignment naming them
/// (`deleted_users`), or not in the tenant at all (an id the read looked up and Graph did not
/// find: `account`, when active, is one whose anchor the read looked up); all three when
/// the snapshot predates the lookup.
pub(super) fn anchored(
    field: &str,
    id: &str,
    source: &SourceSnapshot,
    account: &crate::model::TargetUser,
) -> String {
    let how = match (source.unassigned(id), source.deleted(id)) {
        (Some(user), _) => format!(
            "{}, who is in the tenant but not among the application's users (unassigned, or \
             assigned only through a nested group)",
            user.named()
        ),
        (None, Some(deleted)) => format!(
            "{}, whom Entra has deleted (an assignment still names them)",
            deleted
                .name()
                .map(|name| format!(" ({})", crate::render::visible(name)))
                .unwrap_or_default()
        ),
        (None, None) if source.unassigned_users.is_some() && account.is_active => {
            ", whom the tenant does not have (deleted, or another tenant's user)".to_owned()
        }
        (None, None) => ", whom roster did not read among the application's users (not \
                         assigned, assigned only through a nested group, or deleted in Entra)"
            .to_owned(),
    };
    format!("anchored ({field}) to the Entra user {id}{how}")
}

/// How many users a warning names before it says "and N more".
const NAMED: usize = 10;

/// `names`, the first `NAMED` of them, then how many more.
fn some_of(names: &[impl AsRef<str>]) -> String {
    use std::fmt::Write as _;
    let mut text = names
        .iter()
        .take(NAMED)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > NAMED {
        let _ = write!(text, " and {} more", names.len() - NAMED);
    }
    text
}

/// The warnings that say which users `protect` keeps roster from acting on: linked users in
/// scope it leaves as they are, and users out of scope that stay active (helper-60: a linked
/// administrator who left was counted as in step, and the plan said "No changes").
fn protected_warnings(config: &Config, linked: &[&str], out: &[String], plan: &mut Plan) {
    if !linked.is_empty() {
        plan.warnings.push(format!(
            "{} Entra user(s) in scope are linked to protected Salesforce users, which roster \
             leaves as they are whatever differs (`protect` names them or their profile): {}",
            linked.len(),
            some_of(linked)
        ));
    }
    if !out.is_empty() && config.deprovision.out_of_scope != OutOfScope::Ignore {
        plan.warnings.push(format!(
            "{} protected Salesforce user(s) are out of scope but stay active, as roster never \
             deactivates or freezes a protected user; deprovision them by hand if they left: {}",
            out.len(),
            some_of(out)
        ));
    }
}

/// Orders changes by action, then key (then Salesforce id, for the rare equal keys), moving
/// each change at most once into place (following the permutation's cycles): sorting the
/// changes themselves would move them many times, and a sorted copy would hold them twice.
///
/// Each change is sorted by its action and its key's first 16 bytes, read once into a list of
/// their own; only changes those leave equal are compared whole. Comparing changes themselves,
/// 100,000 of them scattered in memory, missed the cache on every comparison.
fn sort_changes(changes: &mut [Change]) {
    // The key's first bytes, padded with zeros, as a big-endian number: of two keys whose
    // numbers differ, the smaller number's key is the smaller (a key that is a prefix of the
    // other pads with zeros, below any byte that follows), and equal numbers say nothing.
    let prefix = |key: &str| {
        let mut bytes = [0u8; 16];
        let len = key.len().min(16);
        bytes[..len].copy_from_slice(&key.as_bytes()[..len]);
        u128::from_be_bytes(bytes)
    };
    let mut sorting: Vec<(Action, u128, usize)> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.action, prefix(&c.key), i))
        .collect();
    sorting.sort_unstable_by(|a, b| {
        (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
            let (a, b) = (&changes[a.2], &changes[b.2]);
            (&a.key, &a.target_id).cmp(&(&b.key, &b.target_id))
        })
    });
    let mut order: Vec<usize> = sorting.into_iter().map(|(_, _, i)| i).collect();
    // `order[i]` is the change that belongs at `i`; each cycle is rotated with swaps.
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != start {
            let from = order[at];
            changes.swap(at, from);
            order[at] = at;
            at = from;
        }
        order[at] = at;
    }
}

/// The object ids of the Entra users a plan read: searched in place when they are in order
/// (a live read and its snapshot sort them), through a set of their own otherwise.
pub(super) struct ReadIds<'s, 'u> {
    users: &'s [SourceUser<'u>],
    unsorted: Option<HashSet<&'u str>>,
}

impl<'s, 'u> ReadIds<'s, 'u> {
    pub(super) fn new(users: &'s [SourceUser<'u>]) -> ReadIds<'s, 'u> {
        let sorted = users.is_sorted_by(|a, b| a.id <= b.id);
        ReadIds {
            users,
            unsorted: (!sorted).then(|| users.iter().map(|u| u.id).collect()),
        }
    }

    fn contains(&self, id: &str) -> bool {
        match &self.unsorted {
            Some(set) => set.contains(id),
            None => self.users.binary_search_by(|u| u.id.cmp(id)).is_ok(),
        }
    }
}

/// Whether `id` (an object id in Graph's form, any case) is an Entra user roster knows: one of
/// `users` (searched in place when `sorted` by id), or one `source` says has left the
/// application (`SourceSnapshot::left_application`: deleted, or unassigned).
pub(super) fn known_id(
    users: &[SourceUser<'_>],
    sorted: bool,
    source: &SourceSnapshot,
    id: &str,
) -> bool {
    let id = id.to_ascii_lowercase();
    let read = if sorted {
        users.binary_search_by(|u| u.id.cmp(&id)).is_ok()
    } else {
        users.iter().any(|u| u.id.eq_ignore_ascii_case(&id))
    };
    read || source.left_application(&id)
}

/// What the pass over the users gathers besides the plan, in user order.
#[derive(Default)]
struct Pass<'a> {
    /// Salesforce users linked to a source user, or in dispute: no orphans.
    linked_targets: HashSet<usize>,
    /// The creates, where they were pushed: `check_creates` takes back the ones it refuses.
    creates: Vec<Claimed<'a>>,
    /// Linked users that need nothing.
    unchanged: usize,
    /// Users in scope linked to a protected Salesforce user, which roster leaves as it is.
    protected_linked: Vec<&'a str>,
    /// Users whose matching rules failed: any orphan might be theirs.
    undecided_matching: usize,
    /// Who holds each value of the unique fields roster writes, claimed in user order.
    unique_values: UniqueValues<'a>,
    /// The users from here on are not claimed yet (the pass goes in user order).
    next: usize,
    /// Users whose update or create takes a unique value the Salesforce user of someone not
    /// claimed yet holds, whose own update may free it (a value handed over in one plan): what
    /// was prepared for them, claimed again once the pass is done (`claim_waiting`).
    waiting: Vec<(usize, Prepared)>,
    /// The users in `waiting`.
    waiting_users: HashSet<usize>,
    /// Whether those still waiting wait on each other (a swap): claimed, as conflicts, now.
    settling: bool,
    /// Then, each user in a circle of updates that each free the value the one before takes:
    /// the circle, from that user on (`circles`).
    circles: HashMap<usize, Vec<usize>>,
    /// Users whose update or create the plan holds back (an error or a conflict): a value
    /// their account holds stays theirs.
    held_back: HashSet<usize>,
}

impl<'a> State<'a> {
    /// User `i` into `plan`, in user order: its link noted (a dispute or a rule that failed is
    /// a problem), and its update or create, `prepared` (`State::prepare`), making its claims.
    fn claim(&self, i: usize, prepared: Option<Prepared>, pass: &mut Pass<'a>, plan: &mut Plan) {
        pass.next = pass.next.max(i + 1);
        let user = &self.users[i];
        let decision = &self.decisions[i];
        match &self.links[i] {
            Link::Linked { target: t, .. } => {
                pass.linked_targets.insert(*t);
            }
            // A Salesforce user in dispute is never acted on, not even as an orphan.
            Link::Disputed(dispute) => {
                let (reason, targets) = &**dispute;
                pass.linked_targets.extend(targets.iter().copied());
                // Out of scope too: no account in dispute is deprovisioned, and a plan that
                // said nothing would leave a leaver's access unseen.
                let reason = match decision {
                    Scope::In => reason.clone(),
                    Scope::Out(why) => format!(
                        "{reason}; and the user is out of scope ({why}), but roster deactivates \
                         none of the accounts in dispute"
                    ),
                    Scope::Undecided(why) => format!("{reason}; and {why}"),
                };
                plan.errors.push(conflict(user.key, reason));
                return;
            }
            Link::Undecided(reason) => {
                pass.undecided_matching += 1;
                if decision.in_scope() || decision.undecided().is_some() {
                    plan.errors.push(problem(user, reason.to_string()));
                }
                return;
            }
            Link::Unmatched { .. } => {}
        }
        if let Some(why) = decision.undecided() {
            plan.errors.push(problem(user, why.to_owned()));
            return;
        }
        // Where the change goes in the plan.
        let at = plan.changes.len();
        let Some(prepared) = prepared else { return };
        // The user whose account holds a unique value this change takes, and whether they are
        // still to be claimed.
        let sought = prepared.sought(&pass.unique_values);
        let holder = self.holder(i, &prepared, &sought, pass).map(|(j, _, _)| j);
        if holder.is_some_and(|j| pending(j, pass)) && !pass.settling {
            pass.waiting_users.insert(i);
            pass.waiting.push((i, prepared));
            return;
        }
        let claimed = match prepared {
            Prepared::Update(outcome) => {
                match outcome.and_then(|c| {
                    c.map(|c| self.claim_update(c, user, (&mut pass.unique_values, &sought)))
                        .transpose()
                }) {
                    Ok(Some(change)) => Ok(change),
                    // A protected user is left as it is, whatever differs: not "in step".
                    Ok(None) if self.linked_protected(i) => {
                        pass.protected_linked.push(user.key);
                        return;
                    }
                    Ok(None) => {
                        pass.unchanged += 1;
                        return;
                    }
                    Err(problem) => Err(problem),
                }
            }
            Prepared::Create(outcome) => outcome
                .and_then(|c| self.claim_create(c, user, at, (&mut pass.unique_values, &sought)))
                .map(|(change, claimed)| {
                    pass.creates.push(claimed);
                    change
                }),
        };
        match claimed {
            Ok(change) => plan.changes.push(change),
            Err(problem) if problem.kind == ProblemKind::Skipped => plan.skipped.push(problem),
            Err(mut problem) => {
                if problem.kind == ProblemKind::Conflict {
                    self.why_held(i, holder, &mut problem.reason, pass);
                }
                pass.held_back.insert(i);
                plan.errors.push(problem);
            }
        }
    }

    /// What the conflict of user `i` over a unique value (held by the account of user `holder`)
    /// owes to the plan: a circle of users trading values (a swap), or the holder's own update
    /// held back.
    fn why_held(&self, i: usize, holder: Option<usize>, reason: &mut String, pass: &Pass<'a>) {
        if let Some(circle) = pass.circles.get(&i) {
            let names: Vec<&str> = circle
                .iter()
                .chain(circle.first())
                .map(|&k| self.users[k].key)
                .collect();
            let _ = write!(
                reason,
                "; {}'s update gives it up, but the updates of {} users wait on each other's \
                 values in a circle ({}): a swap, which the unique field refuses whichever \
                 account is written first. Set the value aside on one of their Salesforce users \
                 (clear it, or write another), and the next plan writes them all",
                names[1],
                circle.len(),
                names.join(" → ")
            );
        } else if let Some(j) = holder
            && pass.held_back.contains(&j)
        {
            let _ = write!(
                reason,
                "; that account is {}'s, whose own update in this plan is held back by a \
                 problem of its own",
                self.users[j].key
            );
        }
    }

    /// The user in scope, other than `i`, whose Salesforce user holds a unique value that
    /// `prepared` (user `i`'s update or create, its unique values `sought`) takes, with that
    /// field and value.
    fn holder<'p>(
        &self,
        i: usize,
        prepared: &'p Prepared,
        sought: &Sought<'a>,
        pass: &Pass<'a>,
    ) -> Option<(usize, &'p str, &'p str)> {
        let change = prepared.change()?;
        // The first holder whose account another user of this plan updates (an org holding
        // the value in several forms has a holder for each).
        pass.unique_values
            .org_holders(sought, &change.after, change.target_id.as_deref())
            .into_iter()
            .find_map(|(holder, field, value)| {
                let j = *self.linked_source.get(&holder)?;
                (j != i && self.decisions[j].in_scope() && self.decisions[j].undecided().is_none())
                    .then_some((j, field, value))
            })
    }

    /// Among users left waiting on each other (`round`), those in a circle of updates each of
    /// which gives up the value the one before it waits for — a swap — each with its circle
    /// from itself on. A user whose holder's update keeps the value, or who waits on someone
    /// outside a circle, is in none: two Entra users give one value, not a swap.
    fn circles(&self, round: &[(usize, Prepared)], pass: &Pass<'a>) -> HashMap<usize, Vec<usize>> {
        let prepared: HashMap<usize, &Prepared> = round.iter().map(|(i, p)| (*i, p)).collect();
        let next: HashMap<usize, usize> = round
            .iter()
            .filter_map(|(i, p)| {
                // A holder outside the round is claimed already: no circle through them.
                let sought = p.sought(&pass.unique_values);
                let (j, field, value) = self.holder(*i, p, &sought, pass)?;
                let Some(Prepared::Update(Ok(Some(theirs)))) = prepared.get(&j) else {
                    return None;
                };
                pass.unique_values
                    .replaces((&theirs.before, &theirs.after), field, value)
                    .then_some((*i, j))
            })
            .collect();
        next.keys()
            .filter_map(|&i| {
                let mut circle = vec![i];
                let mut at = *next.get(&i)?;
                while at != i {
                    if circle.len() > next.len() {
                        return None;
                    }
                    circle.push(at);
                    at = *next.get(&at)?;
                }
                Some((i, circle))
            })
            .collect()
    }

    /// Claims the users that waited for a value someone after them frees, in user order,
    /// round after round while a round claims someone: a chain of values handed on settles
    /// however its users are ordered. Those left wait on each other — a swap — and are claimed
    /// as conflicts.
    fn claim_waiting(&self, pass: &mut Pass<'a>, plan: &mut Plan) {
        pass.next = self.users.len();
        while !pass.waiting.is_empty() {
            let round = std::mem::take(&mut pass.waiting);
            let waited = round.len();
            if pass.settling {
                pass.circles = self.circles(&round, pass);
            }
            for (i, prepared) in round {
                if !pass.settling {
                    pass.waiting_users.remove(&i);
                }
                self.claim(i, Some(prepared), pass, plan);
            }
            pass.settling = pass.waiting.len() == waited;
        }
    }
}

/// Whether user `j` is still to be claimed: after the pass's place, or waiting.
fn pending(j: usize, pass: &Pass<'_>) -> bool {
    j >= pass.next || pass.waiting_users.contains(&j)
}

/// The planner's working state for one plan.
pub(super) struct State<'a> {
    pub(super) config: &'a Config,
    pub(super) target: &'a TargetSnapshot,
    pub(super) org: Org<'a>,
    pub(super) compiled: Compiled<'a>,
    pub(super) users: Vec<SourceUser<'a>>,
    pub(super) decisions: Vec<Scope>,
    pub(super) links: Vec<Link>,
    pub(super) inputs: &'a Inputs<'a>,
    /// Whether a mapping uses SelectUniqueValue: only then is `taken` kept, and a create's
    /// values depend on the creates planned before it.
    pub(super) select_unique_value: bool,
    /// Values taken per field (lower case for Username), for SelectUniqueValue.
    pub(super) taken: Mutex<HashMap<String, HashSet<String>>>,
    /// Target users by lower-case Username, and by id.
    pub(super) by_username: HashMap<Cow<'a, str>, usize>,
    pub(super) by_id: HashMap<&'a str, usize>,
    /// The source user linked to each linked target user.
    pub(super) linked_source: HashMap<usize, usize>,
    /// Each role rule's org records, resolved once.
    pub(super) resolved: Vec<super::names::Resolved>,
    /// Names in the config the org does not resolve.
    pub(super) problems: Vec<super::names::ConfigProblem>,
    /// What the org accepts in each User field.
    pub(super) field_rules: super::values::FieldRules,
    /// Who holds each value of the unique fields roster writes, in the org: `reconcile` hands
    /// it to the pass over the users, which claims in user order.
    pub(super) unique_values: UniqueValues<'a>,
    /// Salesforce users a create's Username conflict names: never deprovisioned by this plan.
    pub(super) in_conflict: Mutex<HashSet<usize>>,
    /// Each Salesforce user a conflict names (held or not), with the key of the user in
    /// conflict: what `--target` by that account reaches (`reached_by`).
    pub(super) conflicts_over: Mutex<Vec<(usize, String)>>,
    /// (taker, giver), by key: a user whose change takes a unique value another user's update
    /// gives up, which Salesforce refuses until that update is written — what `--target`
    /// keeps along with the taker.
    pub(super) handed_over: Mutex<Vec<(String, String)>>,
    /// Hashes the creates' Usernames in lower case (`Claimed`), for `check_creates`.
    pub(super) caseless: foldhash::fast::RandomState,
    /// The source snapshot, for the users it says have left the application
    /// (`SourceSnapshot::left_application`); its users may be taken (`plan_taking`).
    pub(super) source: &'a SourceSnapshot,
    /// Whether `users` are in object id order (a live read and its snapshot are).
    pub(super) users_sorted: bool,
    /// Salesforce users (by index) whose case-sensitive anchor holds a user's value in another
    /// case, with why they are kept (`matching::held_in_another_case`): no orphans.
    pub(super) held_in_another_case: HashMap<usize, String>,
}

/// What planning looks up in the org, made from the config and the Salesforce snapshot alone,
/// before any source user is looked at: `plan_taking` builds it on a thread of its own while it
/// takes the source snapshot apart (some 15 ms for 10,000 Salesforce users, which waited for
/// that before).
pub(super) struct OrgLookups<'a> {
    compiled: Compiled<'a>,
    /// Per matching rule, the Salesforce users by their value (`match_index`).
    index: Vec<super::matching::MatchIndex<'a>>,
    org: Org<'a>,
    /// The values SelectUniqueValue's fields hold in the org (lower case); empty without it.
    taken: HashMap<String, HashSet<String>>,
    by_username: HashMap<Cow<'a, str>, usize>,
    by_id: HashMap<&'a str, usize>,
    field_rules: super::values::FieldRules,
    unique_values: UniqueValues<'a>,
}

impl<'a> OrgLookups<'a> {
    /// The lookups of `target` for `config`, with room for the unique values `claims` source
    /// users may claim (at most one each a field).
    pub(super) fn new(
        config: &'a Config,
        target: &'a TargetSnapshot,
        claims: usize,
    ) -> OrgLookups<'a> {
        let compiled = compile(config, &target.user_describe);
        let index = match_index(&compiled, target, &config.safety.sandbox_email_suffix);
        // Only SelectUniqueValue asks what is taken: track just its fields.
        let mut taken: HashMap<String, HashSet<String>> = HashMap::default();
        for (mapping, _) in compiled
            .mappings
            .iter()
            .filter(|(m, _)| {
                matches!(&m.value, crate::config::MappingValue::Expression(e) if expr::is_select_unique_value(&e.parsed))
            })
        {
            let set = taken.entry(mapping.target.to_lowercase()).or_default();
            for user in &target.users {
                if let Some(v) = user.text(&mapping.target) {
                    set.insert(v.to_lowercase());
                }
            }
        }
        OrgLookups {
            index,
            org: Org::new(target),
            taken,
            by_username: target
                .users
                .iter()
                .enumerate()
                // Borrowed where the Username is lower-case already, as nearly every one is.
                .map(|(t, u)| (super::compare::lowercase(&u.username), t))
                .collect(),
            by_id: target
                .users
                .iter()
                .enumerate()
                .map(|(t, u)| (u.id.as_str(), t))
                .collect(),
            field_rules: super::values::FieldRules::new(target).accepting(
                config.mappings.iter().filter_map(|m| match &m.value {
                    crate::config::MappingValue::Constant(c) => {
                        Some((m.target.as_str(), c.as_str()))
                    }
                    _ => None,
                }),
            ),
            unique_values: UniqueValues::new(
                target,
                config.mappings.iter().map(|m| m.target.as_str()),
                claims,
            ),
            compiled,
        }
    }
}

impl<'a> State<'a> {
    /// The state for planning `source`, which the caller keeps.
    pub(super) fn new(
        config: &'a Config,
        source: &'a SourceSnapshot,
        target: &'a TargetSnapshot,
        inputs: &'a Inputs<'a>,
    ) -> State<'a> {
        let lookups = OrgLookups::new(config, target, source.users.len());
        State::with_users(
            config,
            source,
            source::users(source),
            lookups,
            target,
            inputs,
        )
    }

    /// The state for planning `users`, the views of `source`'s users (`source::users` or
    /// `source::users_taking`), with `lookups` of `target`.
    pub(super) fn with_users(
        config: &'a Config,
        source: &'a SourceSnapshot,
        users: Vec<SourceUser<'a>>,
        lookups: OrgLookups<'a>,
        target: &'a TargetSnapshot,
        inputs: &'a Inputs<'a>,
    ) -> State<'a> {
        let OrgLookups {
            compiled,
            mut index,
            org,
            taken,
            by_username,
            by_id,
            field_rules,
            unique_values,
        } = lookups;
        let (resolved, problems) = super::names::resolve(config, source, target);
        // Each user's scope and link on every core: neither reads another user's.
        let threads = threads();
        let decisions: Vec<Scope> = crate::concurrent::map_indexed(users.len(), threads, |i| {
            scope::decide(config, &users[i], false).into()
        });
        let suffix = config.safety.sandbox_email_suffix.as_str();
        // A context a user, as `explain` evaluates one user's rules: what a rule draws (a
        // Guid) does not depend on the users linked before.
        let ctx = || Context::new(inputs.now, inputs.seed);
        super::matching::note_read(&compiled, &mut index, &users, &ctx(), suffix);
        let users_sorted = users.is_sorted_by(|a, b| a.id <= b.id);
        let known = |id: &str| known_id(&users, users_sorted, source, id);
        let protected = |t: usize| org.protected(config, &target.users[t]);
        let mut links: Vec<Link> = crate::concurrent::map_indexed(users.len(), threads, |i| {
            link(
                &compiled,
                &index,
                target,
                &users[i],
                &ctx(),
                suffix,
                &known,
                &protected,
                None,
            )
        });
        internal_links_disputed(&mut links, &org, target);
        // Two source users on one target user: neither is linked.
        let mut claims: HashMap<usize, Vec<usize>> = HashMap::default();
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
                    target.users[t].username,
                    sources.len(),
                    keys.join(", ")
                );
                for i in sources {
                    links[i] = Link::Disputed(Box::new((reason.clone(), vec![t])));
                }
            }
        }
        let held_in_another_case =
            super::matching::held_in_another_case(&compiled, &index, target, &users, suffix);
        // Whoever is in a dispute keeps every account a rule finds for them: none is an orphan.
        for (i, l) in links.iter_mut().enumerate() {
            if let Link::Disputed(dispute) = l {
                let targets = &mut dispute.1;
                let found = candidates(&compiled, &index, &users[i], &ctx(), suffix);
                targets.extend(found.iter().map(|(t, _)| *t));
                targets.sort_unstable();
                targets.dedup();
            }
        }
        State {
            config,
            target,
            org,
            compiled,
            users,
            decisions,
            by_username,
            by_id,
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
            select_unique_value: !taken.is_empty(),
            taken: Mutex::new(taken),
            resolved,
            problems,
            field_rules,
            in_conflict: Mutex::new(HashSet::default()),
            conflicts_over: Mutex::new(Vec::new()),
            handed_over: Mutex::new(Vec::new()),
            caseless: foldhash::fast::RandomState::default(),
            unique_values,
            source,
            users_sorted,
            held_in_another_case,
        }
    }

    /// The object id the object-id anchor of `other` holds when it is that of an Entra user
    /// roster knows who is not `user`: one the read gives, or one the assignments name whom
    /// Entra has deleted. `None` otherwise: an id no one known has (another tenant's, a typo)
    /// says nothing of whose the account is.
    pub(super) fn anchored_to_someone_else(
        &self,
        other: &crate::model::TargetUser,
        user: &SourceUser<'_>,
    ) -> Option<String> {
        let id = self.compiled.anchored_object_id(other)?;
        (!id.eq_ignore_ascii_case(user.id) && self.knows(&id)).then(|| id.into_owned())
    }

    /// The keys of the source users `targets` (`--target` values, trimmed, object ids in
    /// Graph's form as `planned` gives them) reach besides by their own key: a user named by
    /// object id, and each
    /// user whose link, dispute or conflict names a Salesforce user a target names by Username
    /// or id. Their errors and conflicts, which carry only the key, are kept in a targeted
    /// plan: a conflict over the account is what the reviewer targeting it must see.
    pub(super) fn reached_by(&self, targets: &[String]) -> Vec<String> {
        let names_account = |t: usize| {
            let account = &self.target.users[t];
            targets.iter().any(|x| {
                account.username.eq_ignore_ascii_case(x)
                    || crate::salesforce::same_id(&account.id, x)
            })
        };
        let mut keys: Vec<String> = Vec::new();
        for (user, link) in self.users.iter().zip(&self.links) {
            let by_id = targets.iter().any(|x| x.eq_ignore_ascii_case(user.id));
            let by_account = match link {
                Link::Linked { target, .. } => names_account(*target),
                Link::Disputed(dispute) => dispute.1.iter().any(|t| names_account(*t)),
                Link::Unmatched { .. } | Link::Undecided(_) => false,
            };
            if by_id || by_account {
                keys.push(user.key.to_owned());
            }
        }
        keys.extend(
            lock(&self.conflicts_over)
                .iter()
                .filter(|(t, _)| names_account(*t))
                .map(|(_, key)| key.clone()),
        );
        keys
    }

    /// Whether `id` is the object id of an Entra user roster knows (`known_id`).
    pub(super) fn knows(&self, id: &str) -> bool {
        known_id(&self.users, self.users_sorted, self.source, id)
    }

    /// User `i`'s update or create, when it is in scope and linked or unmatched: everything
    /// but the claims (`claim_update`, `claim_create`), which go in user order.
    pub(super) fn prepare(&self, i: usize) -> Option<Prepared> {
        let decision = &self.decisions[i];
        if !decision.in_scope() || decision.undecided().is_some() {
            return None;
        }
        let user = &self.users[i];
        let shrunk = |mut change: Change| {
            change.shrink_to_fit();
            change
        };
        match &self.links[i] {
            Link::Linked { target, by } => Some(Prepared::Update(
                self.update(user, *target, by).map(|c| c.map(shrunk)),
            )),
            Link::Unmatched { reason } => {
                Some(Prepared::Create(self.create(user, reason).map(shrunk)))
            }
            Link::Disputed(..) | Link::Undecided(..) => None,
        }
    }

    /// The anchor field and the Entra object id Salesforce user `user` holds in it, when the
    /// config keeps an object-id anchor and no Entra user the plan read has that id: roster
    /// linked the two (it writes the anchor on create and on link), and the person has left
    /// the application's scope since — unassigned, or deleted in Entra. The id is in Graph's
    /// form (lower case, hyphenated, no braces) when the anchor holds a GUID in any form
    /// `graph::object_id_form` reads — what the change's `source_id` and `--target` compare —
    /// and as held otherwise.
    pub(super) fn departed<'u>(
        &self,
        user: &'u crate::model::TargetUser,
        read: &ReadIds<'_, '_>,
    ) -> Option<(&'a str, Cow<'u, str>)> {
        let field = self.compiled.object_id_anchor?;
        let id = self.compiled.anchored_object_id(user)?;
        // Text that is no GUID is no object id, and links no one (helper-89: "TBD" there
        // deactivated an account no one owns).
        (crate::graph::looks_like_guid(&id) && !read.contains(&id)).then_some((field, id))
    }

    /// Whether source user `i` is linked to a protected Salesforce user.
    fn linked_protected(&self, i: usize) -> bool {
        matches!(&self.links[i], Link::Linked { target, .. }
            if self.org.protected(self.config, &self.target.users[*target]))
    }

    /// The source users in scope linked to a protected Salesforce user, with that user.
    pub(super) fn protected_linked(
        &self,
    ) -> impl Iterator<Item = (&SourceUser<'a>, &crate::model::TargetUser)> {
        (0..self.users.len()).filter_map(|i| match &self.links[i] {
            Link::Linked { target, .. }
                if self.decisions[i].in_scope() && self.linked_protected(i) =>
            {
                Some((&self.users[i], &self.target.users[*target]))
            }
            _ => None,
        })
    }

    pub(super) fn context(&self) -> Context<'static> {
        Context::new(self.inputs.now, self.inputs.seed)
    }

    fn is_taken(&self, field: &str, value: &str) -> bool {
        lock(&self.taken)
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
}

/// A user on a profile the org does not list is, as a rule, one of Salesforce's internal users,
/// no person's account (`Org::internal`): a person whose rules find one is a conflict a person
/// settles — never linked to it and so left without an account (helper-79). The account is
/// never deprovisioned for it (a dispute's).
fn internal_links_disputed(links: &mut [Link], org: &Org<'_>, target: &TargetSnapshot) {
    for link in links {
        if let Link::Linked { target: t, by } = link
            && org.internal(&target.users[*t])
        {
            let reason = format!(
                "disputed: this user's {by} matches Salesforce user {}, whose profile the org \
                 does not list (Salesforce's internal users', such as the Automated Process \
                 user's): roster never changes it, and creates no account for this user while \
                 it matches; clear its {by} if it is not theirs",
                target.users[*t].username
            );
            *link = Link::Disputed(Box::new((reason, vec![*t])));
        }
    }
}

#[cfg(test)]
mod sort_tests {
    use super::{Action, Change, Situation, sort_changes};

    /// The changes in the order a plan lists them, whatever order they were planned in: keys
    /// alike in their first 16 bytes, keys that are prefixes of others (and of each other's
    /// zero padding), non-ASCII keys, equal keys told apart by their Salesforce id.
    #[test]
    fn changes_sort_by_action_then_whole_key_then_salesforce_id() {
        let keys = [
            "user000123@synthetic.example",
            "user000123@synthetic.exampla",
            "user000123@synthetic",
            "user000123@synth",
            "user000123@synt",
            "user000123@synth\u{0}",
            "ann@x.com",
            "änn@x.com",
            "Ann@x.com",
            "",
            "0123456789abcdefZ",
            "0123456789abcdef",
        ];
        let mut changes = Vec::new();
        for (n, key) in keys.iter().enumerate() {
            for action in [Action::Update, Action::Create, Action::Deactivate] {
                for id in [Some("005B"), None, Some("005A")] {
                    let mut change = Change::new(action, (*key).to_owned(), Situation::Linked);
                    change.target_id = id.map(Into::into);
                    change.unchanged = n;
                    changes.push(change);
                }
            }
        }
        // Planned in a scrambled order.
        changes.reverse();
        changes.swap(3, 40);
        changes.rotate_left(17);
        let mut expected = changes.clone();
        expected.sort_by(|a, b| {
            (a.action, &a.key, &a.target_id).cmp(&(b.action, &b.key, &b.target_id))
        });
        sort_changes(&mut changes);
        assert_eq!(changes, expected);
    }
}
