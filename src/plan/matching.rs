//! Matching: the target users by each rule's field, and how a source user links to them.

use crate::hash::HashMap;
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use super::mapping::Compiled;
use super::source::SourceUser;
use crate::expr::{self, Context, Value};
use crate::model::TargetSnapshot;

/// One matching rule's Salesforce users by their value of the rule's field, as the rule
/// compares it (`MatchRule::key`): the key borrowed from the user's value where that is the
/// key already (an object id, a lower-case address), and a value one user holds — nearly every
/// value — without a list of its own. Three rules over 98,000 Salesforce users held some
/// 300,000 copied keys and lists of one before.
///
/// A value one user holds maps to that user's index itself (an entry of 32 bytes, where an
/// entry holding a list took 48: some 6 MB for three rules over 98,000 users); a value several
/// hold maps to `MANY` and the place of their list in `many`.
pub(super) struct MatchIndex<'a> {
    map: HashMap<Cow<'a, str>, usize>,
    many: Vec<Vec<usize>>,
    /// For an anchor rule on a case-sensitive field: who holds a person's value in another
    /// case, which no query of the org finds.
    in_any_case: Option<Box<InAnyCase<'a>>>,
}

/// An anchor rule's Salesforce users by their key in lower case, and the keys of the Entra
/// users read (`note_read`): an account holding one of those in any case is that person's
/// value, not another's in another case.
struct InAnyCase<'a> {
    folded: MatchIndex<'a>,
    read: std::collections::HashSet<String>,
    /// The keys of `read` in lower case, each with the user (by index) holding it.
    read_folded: HashMap<String, usize>,
}

/// The bit of a `MatchIndex` entry that says the rest is a place in `many`, not a user.
const MANY: usize = 1 << (usize::BITS - 1);

impl<'a> MatchIndex<'a> {
    fn new() -> Self {
        MatchIndex {
            map: HashMap::default(),
            many: Vec::new(),
            in_any_case: None,
        }
    }

    /// The Salesforce users holding `key` in another case, where the rule keeps them
    /// (`in_any_case`), in snapshot order.
    fn in_another_case(&self, key: &str) -> Vec<usize> {
        let Some(in_any_case) = &self.in_any_case else {
            return Vec::new();
        };
        let exact = self.get(key);
        (in_any_case.folded.get(&key.to_lowercase()).iter())
            .copied()
            .filter(|t| !exact.contains(t))
            .collect()
    }

    /// Whether an Entra user read holds `key` (`note_read`).
    fn read_holds(&self, key: &str) -> bool {
        self.in_any_case
            .as_ref()
            .is_some_and(|in_any_case| in_any_case.read.contains(key))
    }

    /// The Salesforce users (indexes into the snapshot's users) `key` finds, in snapshot order.
    pub(super) fn get(&self, key: &str) -> &[usize] {
        match self.map.get(key) {
            None => &[],
            Some(&at) if at & MANY != 0 => &self.many[at & !MANY],
            Some(one) => std::slice::from_ref(one),
        }
    }

    /// Adds the user `t` (found after any other) under `key`.
    fn insert(&mut self, key: Cow<'a, str>, t: usize) {
        use std::collections::hash_map::Entry;
        match self.map.entry(key) {
            Entry::Vacant(entry) => {
                entry.insert(t);
            }
            Entry::Occupied(mut entry) => {
                let at = *entry.get();
                if at & MANY == 0 {
                    self.many.push(vec![at, t]);
                    *entry.get_mut() = MANY | (self.many.len() - 1);
                } else {
                    self.many[at & !MANY].push(t);
                }
            }
        }
    }

    /// The keys, each with the users it finds.
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = (&Cow<'a, str>, &[usize])> {
        self.map.keys().map(|key| (key, self.get(key)))
    }
}

/// Per matching rule, the target users by their (normalized) value of the rule's field.
pub(super) fn match_index<'a>(
    compiled: &Compiled<'_>,
    target: &'a TargetSnapshot,
    suffix: &str,
) -> Vec<MatchIndex<'a>> {
    compiled
        .matching
        .iter()
        .map(|rule| {
            let mut index = MatchIndex::new();
            let mut folded = (rule.anchor && rule.case_sensitive).then(MatchIndex::new);
            for (t, user) in target.users.iter().enumerate() {
                if let Some(value) = user.text(rule.field)
                    && !value.trim().is_empty()
                {
                    let key = rule.key(value, suffix);
                    if let Some(folded) = &mut folded {
                        folded.insert(Cow::Owned(key.to_lowercase()), t);
                    }
                    index.insert(key, t);
                }
            }
            index.in_any_case = folded.map(|folded| {
                Box::new(InAnyCase {
                    folded,
                    read: std::collections::HashSet::new(),
                    read_folded: HashMap::default(),
                })
            });
            index
        })
        .collect()
}

/// Notes in `index` (`match_index`) each key the case-sensitive anchor rules give the Entra
/// users read (`users`): an account holding one of them is that person's, not another's in
/// another case. Nothing to do, and nothing evaluated, for any other config.
pub(super) fn note_read(
    compiled: &Compiled<'_>,
    index: &mut [MatchIndex<'_>],
    users: &[SourceUser<'_>],
    ctx: &Context<'_>,
    suffix: &str,
) {
    for (rule, index) in compiled.matching.iter().zip(index) {
        let Some(in_any_case) = &mut index.in_any_case else {
            continue;
        };
        for (i, user) in users.iter().enumerate() {
            let value = match held_text(rule.parsed, user) {
                Some(text) => Cow::Borrowed(text),
                None => match expr::evaluate(rule.parsed, user, ctx) {
                    Ok(Value::Str(text)) => Cow::Owned(text),
                    _ => continue,
                },
            };
            if !value.trim().is_empty() {
                let key = rule.key(&value, suffix).into_owned();
                in_any_case.read_folded.insert(key.to_lowercase(), i);
                in_any_case.read.insert(key);
            }
        }
    }
}

/// The Salesforce users (by index) whose case-sensitive anchor (`note_read` done) holds a
/// value no Entra user read holds as written but one holds in another case, each with why it is
/// kept: an owned account no one links is no orphan to deactivate then — likely that
/// person's second account, which a person must settle.
pub(super) fn held_in_another_case(
    compiled: &Compiled<'_>,
    index: &[MatchIndex<'_>],
    target: &TargetSnapshot,
    users: &[SourceUser<'_>],
    suffix: &str,
) -> HashMap<usize, String> {
    let mut held = HashMap::default();
    for (rule, index) in compiled.matching.iter().zip(index) {
        let Some(in_any_case) = &index.in_any_case else {
            continue;
        };
        for (t, account) in target.users.iter().enumerate() {
            let Some(value) = account.text(rule.field).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let key = rule.key(value, suffix);
            if in_any_case.read.contains(key.as_ref()) {
                continue;
            }
            if let Some(&i) = in_any_case.read_folded.get(&key.to_lowercase()) {
                held.entry(t).or_insert_with(|| {
                    format!(
                        "kept: no Entra user links to it, but its {} holds {value:?}, the Entra \
                         user {}'s value in another case; the field is case-sensitive, so it \
                         may be their second account: settle whose it is (correct or clear the \
                         value on it)",
                        rule.field, users[i].key
                    )
                });
            }
        }
    }
    held
}

/// One matching rule tried, for `roster explain`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct Attempt {
    /// The rule's number, from 1.
    pub(crate) rule: usize,
    /// The Salesforce field looked up.
    pub(crate) field: String,
    /// The source expression.
    pub(crate) expression: String,
    /// The value looked up; none when the expression gave nothing to look up.
    pub(crate) value: Option<String>,
    /// Why the expression could not be evaluated.
    pub(crate) error: Option<String>,
    /// Salesforce users with that value.
    pub(crate) found: usize,
    /// Usernames of the Salesforce users with that value that are not counted in `found`: their
    /// anchor holds another person's object id (or employee id).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) anothers: Vec<String>,
}

/// How a source user relates to the target users.
#[derive(Clone, Debug)]
pub(super) enum Link {
    Linked {
        target: usize,
        by: Box<str>,
    },
    Unmatched {
        /// "unmatched: no Salesforce user with ...", naming the rules that gave a value and
        /// the values looked up: a create's reason, shared with it.
        reason: Arc<str>,
    },
    /// The reason, and the Salesforce users in dispute (never deprovisioned for it); boxed, as
    /// few users are (a `Link` is 32 bytes, one per source user).
    Disputed(Box<(String, Vec<usize>)>),
    /// A matching rule could not be evaluated for this user: which account is theirs is not
    /// known, so the user is an error item and no orphan is deprovisioned by this plan.
    Undecided(Box<str>),
}

/// Matching: rules in precedence order; the first rule that finds exactly one target user
/// links; one that finds several is a dispute, and so is a later rule that finds another active
/// Salesforce user than the one a rule other than an anchor linked (two accounts in use for one
/// person: which is theirs is for a person to say, and neither is deprovisioned for it). An
/// anchor's link stands whatever later rules find — unless the account is `protected`
/// (`Org::protection`): roster never writes one, so its anchor is no stamp of roster's, and a
/// later rule finding another account is a dispute too (helper-77: the Automated Process
/// user holding a person's object id took their link, and their own account was deactivated
/// as an orphan).
#[expect(
    clippy::too_many_arguments,
    reason = "the planner's lookups, the user, and what explain collects: one call per user"
)]
pub(super) fn link(
    compiled: &Compiled<'_>,
    index: &[MatchIndex<'_>],
    target: &TargetSnapshot,
    user: &SourceUser<'_>,
    ctx: &Context<'_>,
    suffix: &str,
    known: &dyn Fn(&str) -> bool,
    protected: &dyn Fn(usize) -> bool,
    mut explain: Option<&mut Vec<Attempt>>,
) -> Link {
    let mut tried: Vec<(usize, Cow<'_, str>)> = Vec::with_capacity(compiled.matching.len());
    // The user's own value of each anchor rule tried so far: (rule, key).
    let mut anchors: Vec<(usize, String)> = Vec::new();
    // Salesforce users a rule found whose anchor holds another person's value: (rule, user).
    let mut anothers: Vec<(usize, usize)> = Vec::new();
    // Salesforce users a rule found whose case-sensitive anchor holds this user's value in
    // another case, which may be theirs: (rule, the value it looked up, user).
    let mut in_another_case: Vec<(usize, String, usize)> = Vec::new();
    // The Salesforce user a rule linked, the rule and its value: later rules may find another.
    let mut linked: Option<(usize, usize, Cow<'_, str>)> = None;
    for (i, rule) in compiled.matching.iter().enumerate() {
        let (parsed, field, source) = (rule.parsed, &rule.field, &rule.source);
        // Read as it is held where a rule reads one text attribute, as most do: no copy of it.
        let evaluated = match held_text(parsed, user) {
            Some(text) => Ok(Cow::Borrowed(text)),
            None => expr::evaluate(parsed, user, ctx).map(|v| match v {
                Value::Str(v) => Cow::Owned(v),
                _ => Cow::Borrowed(""),
            }),
        };
        let value = match evaluated {
            Ok(v) if !super::compare::trimmed(&v).is_empty() => v,
            // Linked already: a rule after the link that cannot be evaluated finds no one.
            Err(e) if explain.is_none() && linked.is_none() => {
                return Link::Undecided(
                    format!(
                        "matching rule {} ({field} ← {source}) cannot be evaluated: {}",
                        i + 1,
                        e.message
                    )
                    .into(),
                );
            }
            other => {
                if let Some(attempts) = explain.as_deref_mut() {
                    let error = other.err().map(|e| e.message);
                    attempts.push(Attempt::of(i, rule, None, error, 0, Vec::new()));
                }
                continue;
            }
        };
        let key = rule.key(&value, suffix);
        // A Salesforce user whose anchor holds another person's value is theirs: a later rule
        // (a reused UPN, a shared name) must not hand it to this user. One whose case-sensitive
        // anchor holds this user's value in another case may be theirs or not: disputed.
        let (mut found, theirs, mut cased) =
            finds(compiled, target, (i, &index[i]), &key, &anchors, suffix);
        anothers.extend(theirs.iter().map(|t| (i, *t)));
        in_another_case.extend(cased.iter().map(|t| (i, value.to_string(), *t)));
        if rule.anchor {
            anchors.push((i, key.into_owned()));
        }
        if let Some(attempts) = explain.as_deref_mut() {
            let names = theirs.iter().map(|t| target.users[*t].username.clone());
            let (shown, n) = (Some(value.to_string()), found.len() + cased.len());
            attempts.push(Attempt::of(i, rule, shown, None, n, names.collect()));
        }
        if let Some(linked) = &linked {
            // A protected account's anchor is no stamp of roster's: the person's own account,
            // even an inactive one (which the plan would reactivate), is the other of two
            // (helper-78).
            let on_protected = protected(linked.0);
            if !compiled.matching[linked.1].anchor || on_protected {
                found.append(&mut cased);
                let found = (&found[..], &theirs[..]);
                let others = other_accounts(compiled, target, linked.0, found, known, on_protected);
                if !others.is_empty() {
                    return two_accounts(compiled, target, linked, (i, &value), &others);
                }
            }
            continue;
        }
        match found.as_slice() {
            [] => tried.push((i, value)),
            // An anchor's link stands (roster stamped it): later rules are for `explain` alone.
            [one]
                if rule.anchor
                    && explain.is_none()
                    && !protected(*one)
                    && in_another_case.is_empty() =>
            {
                return Link::Linked {
                    target: *one,
                    by: (*field).into(),
                };
            }
            [one] => linked = Some((*one, i, value)),
            several => return several_found(target, field, &value, several),
        }
    }
    if !in_another_case.is_empty() {
        let linked = linked.as_ref().map(|(t, by, v)| (*t, *by, v.as_ref()));
        return in_another_case_disputed(
            compiled,
            target,
            &anchors,
            &in_another_case,
            linked,
            suffix,
        );
    }
    if let Some((target, by, _)) = linked {
        return Link::Linked {
            target,
            by: compiled.matching[by].field.into(),
        };
    }
    let anothers = anothers
        .first()
        .zip(anchors.first().map(|(anchor, _)| *anchor));
    Link::Unmatched {
        reason: unmatched_reason(compiled, target, &tried, anothers).into(),
    }
}

impl Attempt {
    /// Rule `i` (from 0) tried: the value it looked up, or why there is none, and what it found.
    fn of(
        i: usize,
        rule: &super::mapping::MatchRule<'_>,
        value: Option<String>,
        error: Option<String>,
        found: usize,
        anothers: Vec<String>,
    ) -> Attempt {
        Attempt {
            rule: i + 1,
            field: rule.field.to_owned(),
            expression: rule.source.to_owned(),
            value,
            error,
            found,
            anothers,
        }
    }
}

/// The active Salesforce users (an inactive one is an old account, not a second in use; any,
/// with `inactive_too`) other than `linked` among what a later rule found after a link no
/// anchor made: `found`, and of `theirs` (whose anchor holds another value) those whose
/// object-id anchor holds an id no one roster knows has (`known`; a typo, another tenant's),
/// which may be this person's.
fn other_accounts(
    compiled: &Compiled<'_>,
    target: &TargetSnapshot,
    linked: usize,
    (found, theirs): (&[usize], &[usize]),
    known: &dyn Fn(&str) -> bool,
    inactive_too: bool,
) -> Vec<usize> {
    let unknown = |t: &usize| {
        compiled
            .anchored_object_id(&target.users[*t])
            .is_some_and(|id| !known(&id))
    };
    found
        .iter()
        .chain(theirs.iter().filter(|t| unknown(t)))
        .copied()
        .filter(|t| *t != linked && (inactive_too || target.users[*t].is_active))
        .collect()
}

/// The dispute of a user for whom one rule (`field` = `value`) finds `several` Salesforce
/// users.
fn several_found(target: &TargetSnapshot, field: &str, value: &str, several: &[usize]) -> Link {
    let names: Vec<&str> = several
        .iter()
        .map(|t| target.users[*t].username.as_str())
        .collect();
    Link::Disputed(Box::new((
        format!(
            "disputed: {} Salesforce users have {field} = {value:?} ({})",
            several.len(),
            names.join(", ")
        ),
        several.to_vec(),
    )))
}

/// What a Salesforce user's anchors say of whose it is.
enum Anchored {
    /// No other value in any anchor field: it may be this user's.
    Mine,
    /// Another value in one: another person's.
    Another,
    /// This user's value in another case in a case-sensitive anchor field (and no other
    /// value): two values to Salesforce, and likely one person's.
    InAnotherCase,
}

/// What rule `rule` (its index and `MatchIndex`) finds for `key` (the rule's own key of the
/// user's value), by what their anchors say (`by_anchors`): this user's, another person's,
/// this user's values in another case — among which, for an anchor rule on a case-sensitive
/// field, who holds the key itself in another case (`MatchIndex::in_another_case`), unless an
/// Entra user read holds that value as it is written, or an earlier anchor says another's.
fn finds(
    compiled: &Compiled<'_>,
    target: &TargetSnapshot,
    (rule, index): (usize, &MatchIndex<'_>),
    key: &str,
    anchors: &[(usize, String)],
    suffix: &str,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (found, mut theirs, mut cased) =
        by_anchors(compiled, target, index.get(key), anchors, suffix);
    let anchor = &compiled.matching[rule];
    let (someone_elses, other_case): (Vec<usize>, Vec<usize>) =
        (index.in_another_case(key)).into_iter().partition(|t| {
            (target.users[*t].text(anchor.field))
                .is_some_and(|held| index.read_holds(&anchor.key(held, suffix)))
        });
    theirs.extend(someone_elses);
    if !other_case.is_empty() {
        let (mine, another, also) = by_anchors(compiled, target, &other_case, anchors, suffix);
        theirs.extend(another);
        cased.extend(mine.into_iter().chain(also));
    }
    (found, theirs, cased)
}

/// `hits` (Salesforce users, by index) by what their anchors say (`anchored`): this user's,
/// another person's, this user's values in another case.
fn by_anchors(
    compiled: &Compiled<'_>,
    target: &TargetSnapshot,
    hits: &[usize],
    anchors: &[(usize, String)],
    suffix: &str,
) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut mine, mut another, mut cased) = (Vec::new(), Vec::new(), Vec::new());
    for &t in hits {
        match anchored(compiled, &target.users[t], anchors, suffix) {
            Anchored::Mine => mine.push(t),
            Anchored::Another => another.push(t),
            Anchored::InAnotherCase => cased.push(t),
        }
    }
    (mine, another, cased)
}

/// Whether `other` may be the user whose anchor rules gave `anchors` (rule, key).
fn anchored(
    compiled: &Compiled<'_>,
    other: &crate::model::TargetUser,
    anchors: &[(usize, String)],
    suffix: &str,
) -> Anchored {
    let mut in_another_case = false;
    for (rule, mine) in anchors {
        let anchor = &compiled.matching[*rule];
        let Some(theirs) = other.text(anchor.field).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        // Text that is no GUID in the object-id anchor is no one's id: as if empty
        // (helper-90: "TBD" there kept the person from their own account).
        if compiled
            .object_id_anchor
            .is_some_and(|field| field.eq_ignore_ascii_case(anchor.field))
            && crate::graph::anchored_guid(theirs).is_none()
        {
            continue;
        }
        let theirs = anchor.key(theirs, suffix);
        if theirs == *mine {
            continue;
        }
        if anchor.case_sensitive && theirs.to_lowercase() == mine.to_lowercase() {
            in_another_case = true;
            continue;
        }
        return Anchored::Another;
    }
    if in_another_case {
        Anchored::InAnotherCase
    } else {
        Anchored::Mine
    }
}

/// The dispute of a user for whom rules found Salesforce users whose case-sensitive anchor
/// holds the user's value in another case (`found`: rule, the value it looked up, user), with
/// the account a rule linked, if one did (`linked`: user, rule, value): Salesforce holds the
/// two as different values (an id changed in case, or mistyped), so whose the account is is
/// for a person to say; none is created beside it, linked past it, or deprovisioned.
fn in_another_case_disputed(
    compiled: &Compiled<'_>,
    target: &TargetSnapshot,
    anchors: &[(usize, String)],
    found: &[(usize, String, usize)],
    linked: Option<(usize, usize, &str)>,
    suffix: &str,
) -> Link {
    let (rule, value, t) = &found[0];
    let user = &target.users[*t];
    let (anchor, mine) = anchors
        .iter()
        .map(|(a, mine)| (&compiled.matching[*a], mine))
        .find(|(a, mine)| {
            a.case_sensitive
                && user
                    .text(a.field)
                    .is_some_and(|theirs| a.key(theirs, suffix) != **mine)
        })
        .unwrap_or((&compiled.matching[anchors[0].0], &anchors[0].1));
    let theirs = user.text(anchor.field).unwrap_or_default();
    let finder = &compiled.matching[*rule];
    let mut reason = String::from("disputed: ");
    if let Some((one, by, by_value)) = linked {
        let _ = write!(
            reason,
            "matching rule {} ({} = {by_value:?}) links Salesforce user {}, and ",
            by + 1,
            compiled.matching[by].field,
            target.users[one].username
        );
    }
    if std::ptr::eq(finder, anchor) {
        let _ = write!(
            reason,
            "Salesforce user {}'s {}",
            user.username, anchor.field
        );
    } else {
        let _ = write!(
            reason,
            "Salesforce user {} has {} = {value:?}, and its {}",
            user.username, finder.field, anchor.field
        );
    }
    let _ = write!(
        reason,
        " holds {theirs:?}, this user's {mine:?} in another case: the field is case-sensitive, \
         so Salesforce holds two values; write the right one on the account (or in Entra) to \
         link them, or clear it if the account is not theirs"
    );
    let mut accounts: Vec<usize> = found.iter().map(|(_, _, t)| *t).collect();
    accounts.extend(linked.map(|(one, ..)| one));
    accounts.sort_unstable();
    accounts.dedup();
    Link::Disputed(Box::new((reason, accounts)))
}

/// The dispute of a user whom matching rule `linked.1` linked to Salesforce user `linked.0`
/// (by the value `linked.2`), and rule `later.0` finds `found` by `later.1`, another among them.
fn two_accounts(
    compiled: &Compiled<'_>,
    target: &TargetSnapshot,
    (one, by, linked_value): &(usize, usize, Cow<'_, str>),
    (rule, value): (usize, &str),
    found: &[usize],
) -> Link {
    let others: Vec<usize> = found.iter().copied().filter(|t| t != one).collect();
    let reason = format!(
        "disputed: matching rule {} ({} = {linked_value:?}) links Salesforce user {}, and rule \
         {} ({} = {value:?}) finds Salesforce user {}: two accounts for one person (merge them, \
         or clear the value on the one that is not theirs)",
        by + 1,
        compiled.matching[*by].field,
        target.users[*one].username,
        rule + 1,
        compiled.matching[rule].field,
        others
            .iter()
            .map(|t| target.users[*t].username.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Link::Disputed(Box::new((
        reason,
        std::iter::once(*one).chain(others).collect(),
    )))
}

/// The text a rule that reads one attribute (`[userPrincipalName]`) gives, as the user holds it
/// (`Attributes::text`): what evaluating it gives, without the copy. `None` for any other rule,
/// and for a value that is not held as text under exactly that name, which evaluating reads as
/// the expression language does (a boolean as "True", a name in another case).
fn held_text<'u>(parsed: &crate::expr::Expr, user: &'u SourceUser<'_>) -> Option<&'u str> {
    match &parsed.kind {
        crate::expr::ExprKind::Attribute(name) => expr::Attributes::text(user, *name),
        _ => None,
    }
}

/// Every Salesforce user any of the rules finds for `user`, each with the index of the rule
/// that found it (a user found by two rules is listed twice): in a dispute, none of them is
/// deprovisioned for it (a user who shares an anchor value with another keeps their own account).
pub(super) fn candidates(
    compiled: &Compiled<'_>,
    index: &[MatchIndex<'_>],
    user: &SourceUser<'_>,
    ctx: &Context<'_>,
    suffix: &str,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for (i, rule) in compiled.matching.iter().enumerate() {
        if let Ok(Value::Str(value)) = expr::evaluate(rule.parsed, user, ctx) {
            let hits = index[i].get(&rule.key(&value, suffix));
            out.extend(hits.iter().map(|t| (*t, i)));
        }
    }
    out
}

/// "unmatched: no Salesforce user with FederationIdentifier = "..." or Username = "..."", and
/// when a rule found a Salesforce user whose anchor holds another person's value, `anothers`:
/// (the rule and that user, the anchor rule), that user named (the whole truth).
fn unmatched_reason(
    compiled: &Compiled<'_>,
    target: &TargetSnapshot,
    tried: &[(usize, Cow<'_, str>)],
    anothers: Option<(&(usize, usize), usize)>,
) -> String {
    let mut reason = unmatched_values(compiled, tried);
    if let Some(((rule, t), anchor)) = anothers {
        let field = compiled.matching[*rule].field;
        let _ = write!(
            reason,
            "; {} has {field} = {:?}, but its {} holds another person's value",
            target.users[*t].username,
            target.users[*t].text(field).unwrap_or_default(),
            compiled.matching[anchor].field
        );
    }
    reason
}

fn unmatched_values(compiled: &Compiled<'_>, tried: &[(usize, Cow<'_, str>)]) -> String {
    const START: &str = "unmatched: no Salesforce user with ";
    if tried.is_empty() {
        return "unmatched: no matching rule gave a value to look up".to_owned();
    }
    // Room for the whole reason (without escapes): grown by doubling, each of 88,000 creates'
    // reasons was copied three or four times on the way.
    let room = tried.iter().map(|(rule, value)| {
        " or ".len() + compiled.matching[*rule].field.len() + " = \"\"".len() + value.len()
    });
    let mut reason = String::with_capacity(START.len() + room.sum::<usize>());
    reason.push_str(START);
    for (n, (rule, value)) in tried.iter().enumerate() {
        if n > 0 {
            reason.push_str(" or ");
        }
        reason.push_str(compiled.matching[*rule].field);
        reason.push_str(" = ");
        crate::render::push_quoted(&mut reason, value);
    }
    reason
}
