//! What an unknown outcome turned out to be. A request that failed as a whole (its answer lost,
//! the connection broken after the retries) may still have been carried out, and a create
//! refused with `DUPLICATE_USERNAME` or `DUPLICATE_VALUE` (a unique anchor field) may be this
//! apply's own, sent twice. Before anything is
//! reported or built upon, each such step is looked up in the org: a create by Username, a user
//! write by reading its fields back, an assignment by its user and access object, a freeze by
//! its `UserLogin`. What the org shows decides `applied` or `failed`; a lookup that fails leaves
//! the step `unknown`, never guessed.

use serde_json::Value;

use crate::field_value::FieldValue;

use super::{Change, ChangeResult, Ctx, Status, Written};
use crate::grants::GrantKind;
use crate::plan::GrantRef;
use crate::salesforce::{id15, soql};

/// A lookup's answer, or `None` when it failed: the steps it was to settle stay `unknown`, and
/// why is logged (a warning: `-v` is not needed to see it).
fn looked_up<T>(what: &str, answer: Result<T, crate::salesforce::SalesforceError>) -> Option<T> {
    answer
        .inspect_err(|e| {
            tracing::warn!(
                target: "roster::apply",
                "looking up {what} failed, so their outcome stays unknown: {e}"
            );
        })
        .ok()
}

/// A step waiting to be looked up: the change, the step's index, its kind.
struct Pending {
    change: usize,
    step: usize,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    UserWrite,
    Add,
    Remove,
    Freeze,
    Unfreeze,
}

/// Looks up every step left unknown, and every create refused as a duplicate of itself.
pub(super) async fn resolve(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult]) {
    let mut pending = Vec::new();
    for (i, result) in results.iter().enumerate() {
        for (k, step) in result.steps.iter().enumerate() {
            let duplicate = step.result == Status::Failed
                && step.failure.as_ref().is_some_and(|f| {
                    matches!(f.code.as_str(), "DUPLICATE_USERNAME" | "DUPLICATE_VALUE")
                });
            if step.result != Status::Unknown && !duplicate {
                continue;
            }
            let kind = match &*step.name {
                "create" => Kind::Create,
                "update" | "reactivate" | "deactivate" => Kind::UserWrite,
                "freeze" => Kind::Freeze,
                "unfreeze" => Kind::Unfreeze,
                name if name.starts_with("add ") => Kind::Add,
                _ => Kind::Remove,
            };
            pending.push(Pending {
                change: i,
                step: k,
                kind,
            });
        }
    }
    if pending.is_empty() {
        return;
    }
    creates(ctx, changes, results, &pending).await;
    user_writes(ctx, changes, results, &pending).await;
    assignments(ctx, changes, results, &pending).await;
    freezes(ctx, changes, results, &pending, Kind::Freeze).await;
    freezes(ctx, changes, results, &pending, Kind::Unfreeze).await;
}

/// Settles a looked-up step: in the org, or not written (keeping why its request failed).
fn settle(result: &mut ChangeResult, step: usize, written: Option<String>) {
    let outcome = if let Some(id) = written {
        Written::Ok(id)
    } else {
        let mut failure = result.steps[step]
            .failure
            .clone()
            .unwrap_or_else(|| super::Failure::new("NOT_WRITTEN", "the request failed"));
        if result.steps[step].result == Status::Unknown {
            failure.message = format!(
                "{}; looking it up showed it was not carried out",
                failure.message
            );
        }
        Written::Failed(failure)
    };
    result.steps[step].failure = None;
    result.settle(step, outcome);
}

fn of_kind(pending: &[Pending], kind: Kind) -> impl Iterator<Item = &Pending> {
    pending.iter().filter(move |p| p.kind == kind)
}

/// Creates, by Username: the org has a user by that Username now, created by the User roster
/// signs in as (`CreatedById`), holding every field the create wrote, so this apply's request
/// created it (its answer lost, or refused as a duplicate of itself when sent again). A user by
/// that Username created by someone else — after the plan, by a person or another tool, even
/// one that copied every value — or holding other values is not roster's, and the create
/// failed: nothing is built on it (no grant is given to someone else's user), and the next plan
/// shows who it is. Only another client signed in as roster's own User could pass for roster.
async fn creates(ctx: &Ctx, changes: &[Change], results: &mut [ChangeResult], pending: &[Pending]) {
    let username = |p: &Pending| {
        changes[p.change]
            .after
            .get("Username")
            .and_then(FieldValue::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let names: Vec<String> = of_kind(pending, Kind::Create).map(username).collect();
    if names.is_empty() {
        return;
    }
    let Some(found) = looked_up(
        "the users created, by Username,",
        soql::ids_by_username(&ctx.salesforce, &names).await,
    ) else {
        return;
    };
    let ids: Vec<String> = found.values().cloned().collect();
    let mut fields = written_fields(of_kind(pending, Kind::Create).map(|p| &changes[p.change]));
    fields.push("CreatedById");
    // Who roster signs in as (the session is open: the creates were sent on it). Without it no
    // create can be told for roster's: each stays as it was, unknown or failed.
    let Some(me) = ctx
        .salesforce
        .session()
        .await
        .ok()
        .and_then(|session| session.user_id.clone())
    else {
        return;
    };
    let rows = if ids.is_empty() {
        std::collections::HashMap::new()
    } else {
        let Some(rows) = looked_up(
            "the users created",
            soql::users_by_id(&ctx.salesforce, &ids, &fields).await,
        ) else {
            return;
        };
        rows
    };
    for p in of_kind(pending, Kind::Create) {
        let id = found.get(&username(p).to_lowercase()).cloned();
        let row = id.as_deref().and_then(|id| rows.get(id15(id)));
        let mine = created_by(row, &me);
        let ours = mine && holds_all(row, &changes[p.change]);
        if ours {
            results[p.change].target_id.clone_from(&id);
            results[p.change].note = Some(
                "the user exists in this org, created by the User roster signs in as and holding \
                 what this create wrote: taken for this create, carried out though its answer \
                 was lost or it was refused when sent again; the next plan compares it"
                    .to_owned(),
            );
        } else if let Some(id) = &id {
            results[p.change].note = Some(if mine {
                format!(
                    "a Salesforce user with this Username ({id}) exists, created by the User \
                     roster signs in as, but it does not hold what this create wrote (another \
                     client with roster's credential, or a flow or trigger, made or changed it): \
                     nothing was given to it; the next plan shows it"
                )
            } else {
                let why = match row
                    .and_then(|r| r.get("CreatedById"))
                    .and_then(Value::as_str)
                {
                    Some(creator) => {
                        format!(
                            "another User created it ({creator}), not the one roster signs in as"
                        )
                    }
                    None => "it does not hold what this create wrote".to_owned(),
                };
                format!(
                    "a Salesforce user with this Username ({id}) was created by someone else \
                     after the plan: {why}, so nothing was given to it; the next plan shows it"
                )
            });
        }
        settle(&mut results[p.change], p.step, id.filter(|_| ours));
    }
}

/// Whether the user read back (`row`, a SOQL row) was created by `me`, the User roster signs in
/// as (the same record in any form of its id: `salesforce::same_id`).
fn created_by(row: Option<&Value>, me: &str) -> bool {
    row.and_then(|r| r.get("CreatedById"))
        .and_then(Value::as_str)
        .is_some_and(|creator| crate::salesforce::same_id(creator, me))
}

/// Every field the changes write, sorted, once each.
fn written_fields<'c>(changes: impl Iterator<Item = &'c Change>) -> Vec<&'c str> {
    let mut fields: Vec<&str> = changes
        .flat_map(|c| c.after.keys().map(AsRef::as_ref))
        .collect();
    fields.sort_unstable();
    fields.dedup();
    fields
}

/// Whether the user read back (`row`, a SOQL row) holds every field `change` writes.
fn holds_all(row: Option<&Value>, change: &Change) -> bool {
    row.is_some_and(|row| {
        change.after.iter().all(|(field, wanted)| {
            let now = row
                .as_object()
                .and_then(|r| r.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)))
                .map(|(_, v)| v);
            holds(field, now, wanted)
        })
    })
}

/// Updates, reactivations and deactivations: the user's fields read back equal what was written.
async fn user_writes(
    ctx: &Ctx,
    changes: &[Change],
    results: &mut [ChangeResult],
    pending: &[Pending],
) {
    let writes: Vec<&Pending> = of_kind(pending, Kind::UserWrite).collect();
    if writes.is_empty() {
        return;
    }
    let ids: Vec<String> = writes
        .iter()
        .filter_map(|p| changes[p.change].target_id.as_deref().map(str::to_owned))
        .collect();
    let fields = written_fields(writes.iter().map(|p| &changes[p.change]));
    let Some(rows) = looked_up(
        "the users written",
        soql::users_by_id(&ctx.salesforce, &ids, &fields).await,
    ) else {
        return;
    };
    for p in writes {
        let change = &changes[p.change];
        let row = change
            .target_id
            .as_deref()
            .and_then(|id| rows.get(id15(id)));
        let written = holds_all(row, change);
        settle(
            &mut results[p.change],
            p.step,
            written.then(|| change.target_id.as_deref().unwrap_or_default().to_owned()),
        );
    }
}

/// Whether Salesforce holds `wanted` in `field` (`now`, as SOQL answers it), compared exactly
/// as the planner compares (`plan::compare::differs`): text as written but for the spaces
/// Salesforce trims, Username and Email without case, empty as null, a checkbox as `true` or
/// `false`. Anything looser would take a write that never landed for one that did.
fn holds(field: &str, now: Option<&Value>, wanted: &FieldValue) -> bool {
    // A reference (`ProfileId`, `UserRoleId`, `ManagerId`) names a record in any form of its
    // id, as roster reads every id (`salesforce::record_id`).
    if field.ends_with("Id")
        && let (Some(Value::String(now)), FieldValue::Text(wanted)) = (now, wanted)
        && let (Some(now), Some(wanted)) = (
            crate::salesforce::canonical_id(now),
            crate::salesforce::canonical_id(wanted),
        )
    {
        return now == wanted;
    }
    let wanted = match wanted {
        FieldValue::Null => std::borrow::Cow::Borrowed(""),
        FieldValue::Text(text) => std::borrow::Cow::Borrowed(text.as_str()),
        other => std::borrow::Cow::Owned(other.to_string()),
    };
    !crate::plan::compare::differs(field, &wanted, now.map(FieldValue::from).as_ref(), "")
}

/// Grants added (the user holds the object now) and removed (the assignment is gone), looked
/// up kind by kind.
async fn assignments(
    ctx: &Ctx,
    changes: &[Change],
    results: &mut [ChangeResult],
    pending: &[Pending],
) {
    for kind in GrantKind::ALL {
        let spec = kind.spec();
        let adds: Vec<(&Pending, &GrantRef)> = of_kind(pending, Kind::Add)
            .filter_map(|p| Some((p, grant_of(&changes[p.change], &results[p.change], p.step)?)))
            .filter(|(_, g)| g.kind == kind)
            .collect();
        if !adds.is_empty() {
            let users: Vec<String> = adds
                .iter()
                .filter_map(|(p, _)| results[p.change].target_id.clone())
                .collect();
            if let Some(held) = looked_up(
                &format!("the {} assignments added", spec.noun),
                soql::assignments_of(&ctx.salesforce, kind, &users).await,
            ) {
                for (p, g) in adds {
                    let user = results[p.change].target_id.clone().unwrap_or_default();
                    let id = held
                        .get(&(id15(&user).to_owned(), id15(&g.id).to_owned()))
                        .cloned();
                    if let Some(id) = &id {
                        results[p.change].assignment_ids.push(id.clone());
                    }
                    settle(&mut results[p.change], p.step, id);
                }
            }
        }
        let removes: Vec<(&Pending, String)> = of_kind(pending, Kind::Remove)
            .filter_map(|p| {
                let g = grant_of(&changes[p.change], &results[p.change], p.step)?;
                (g.kind == kind)
                    .then(|| Some((p, g.assignment_id.clone()?)))
                    .flatten()
            })
            .collect();
        if removes.is_empty() {
            continue;
        }
        let wanted: Vec<String> = removes.iter().map(|(_, id)| id.clone()).collect();
        let Some(still) = looked_up(
            &format!("the {} assignments removed", spec.noun),
            soql::existing(
                &ctx.salesforce,
                spec.assignment,
                spec.ids.assignment,
                &wanted,
            )
            .await,
        ) else {
            continue;
        };
        for (p, id) in removes {
            let gone = !still.contains(id15(&id));
            settle(&mut results[p.change], p.step, gone.then(String::new));
        }
    }
}

/// The grant an add or remove step writes.
fn grant_of<'c>(change: &'c Change, result: &ChangeResult, step: usize) -> Option<&'c GrantRef> {
    let name = result.steps.get(step)?.name.as_ref();
    change
        .grants
        .add
        .iter()
        .find(|g| g.step(true) == name)
        .or_else(|| change.grants.remove.iter().find(|g| g.step(false) == name))
}

/// Freezes (the `UserLogin` is frozen now) and unfreezes (it is not).
async fn freezes(
    ctx: &Ctx,
    changes: &[Change],
    results: &mut [ChangeResult],
    pending: &[Pending],
    kind: Kind,
) {
    let frozen_wanted = kind == Kind::Freeze;
    let freezes: Vec<&Pending> = of_kind(pending, kind).collect();
    if freezes.is_empty() {
        return;
    }
    let logins: Vec<String> = freezes
        .iter()
        .filter_map(|p| changes[p.change].login_id.as_deref().map(str::to_owned))
        .collect();
    let Some(frozen) = looked_up(
        "the logins frozen or unfrozen",
        soql::frozen_logins(&ctx.salesforce, &logins).await,
    ) else {
        return;
    };
    for p in freezes {
        // Without the UserLogin's id (a freeze after a refused deactivation finds it at apply
        // time) nothing was looked up: the outcome stays as it was, never "not carried out".
        let Some(login) = changes[p.change].login_id.as_deref() else {
            continue;
        };
        let done = frozen.get(id15(login)) == Some(&frozen_wanted);
        settle(&mut results[p.change], p.step, done.then(String::new));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    /// The creator read back is roster's own User in any form of its id (Salesforce answers
    /// the canonical one; a 15-character or re-cased one names the same record), and no other.
    #[test]
    fn a_create_is_roster_s_whatever_form_its_creator_id_is_answered_in() {
        let me = "0058c0000000002AAA";
        for creator in [
            "0058c0000000002AAA",
            "0058C0000000002AAA",
            "0058c0000000002",
        ] {
            let row = json!({"CreatedById": creator});
            assert!(super::created_by(Some(&row), me), "{creator}");
        }
        for creator in ["0058C0000000002", "0058c0000000003AAA"] {
            let row = json!({"CreatedById": creator});
            assert!(!super::created_by(Some(&row), me), "{creator}");
        }
        assert!(!super::created_by(Some(&json!({})), me));
    }

    /// A reference field read back holds what was written in any form of the id; text fields
    /// compare as text.
    #[test]
    fn a_reference_read_back_holds_its_id_in_any_form() {
        let wanted = json!("00E8c0000000004EAA");
        for now in [
            "00E8c0000000004EAA",
            "00E8C0000000004EAA",
            "00E8c0000000004",
        ] {
            assert!(
                super::holds("UserRoleId", Some(&json!(now)), &(&wanted).into()),
                "{now}"
            );
        }
        assert!(!super::holds(
            "UserRoleId",
            Some(&json!("00E8c0000000005EAA")),
            &(&wanted).into()
        ));
        assert!(!super::holds(
            "UserRoleId",
            Some(&json!("00E8C0000000004")),
            &(&wanted).into()
        ));
        // Not a reference: a text's case is the text's.
        assert!(!super::holds(
            "EmployeeNumber",
            Some(&json!("00E8C0000000004EAA")),
            &(&wanted).into()
        ));
    }
}
