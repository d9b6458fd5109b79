//! Scope, as Entra decides it: assignment (Default Access counts as assigned but grants no
//! role), disabled accounts out, then scoping filters — clauses AND-ed, filters OR-ed, and a
//! clause on a null or empty attribute is false (except `is_null`).

use serde_json::Value;

use crate::config::{Assignment, Clause, ClauseValue, Config, Operator};

use super::source::SourceUser;

/// Whether a user is in scope, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) in_scope: bool,
    /// "assigned via group SF Sales", "disabled in Entra", "no scoping filter matched: ..."
    pub(crate) reason: String,
    /// Each filter's clauses and their results, for `roster explain`.
    pub(crate) clauses: Vec<(String, Vec<(String, bool)>)>,
}

/// Regexes of the scoping filters, compiled once per plan.
pub(crate) type Regexes = std::collections::HashMap<String, regex::Regex>;

pub(crate) fn regexes(config: &Config) -> Regexes {
    config
        .scope
        .filters
        .iter()
        .flat_map(|f| &f.all)
        .filter_map(|c| match &c.value {
            Some(ClauseValue::Text(t))
                if matches!(c.operator, Operator::RegexMatch | Operator::NotRegexMatch) =>
            {
                regex::Regex::new(t).ok().map(|r| (t.clone(), r))
            }
            _ => None,
        })
        .collect()
}

/// With `explain`, the decision also records every clause's result and the in-scope reason.
pub(crate) fn decide(
    config: &Config,
    regexes: &Regexes,
    user: &SourceUser<'_>,
    explain: bool,
) -> Decision {
    let mut decision = Decision {
        in_scope: false,
        reason: String::new(),
        clauses: Vec::new(),
    };
    if config.scope.assignment == Assignment::Assigned && !user.assigned {
        "not assigned to the application".clone_into(&mut decision.reason);
        return decision;
    }
    if user.raw.get("accountEnabled") == Some(&Value::Bool(false)) {
        "disabled in Entra (accountEnabled is false)".clone_into(&mut decision.reason);
        return decision;
    }
    let filters = &config.scope.filters;
    let mut passed = filters.is_empty();
    // Results first; the words only when a reason or `explain` needs them.
    let results: Vec<Vec<bool>> = filters
        .iter()
        .map(|f| {
            f.all
                .iter()
                .map(|c| holds(c, regexes, user.raw.get(&c.attribute)))
                .collect()
        })
        .collect();
    passed |= results.iter().any(|r| r.iter().all(|ok| *ok));
    let name = |i: usize| {
        filters[i]
            .name
            .clone()
            .unwrap_or_else(|| format!("filter {}", i + 1))
    };
    let mut failures = Vec::new();
    if !passed || explain {
        for (i, filter) in filters.iter().enumerate() {
            if let Some(first) = results[i].iter().position(|ok| !ok) {
                failures.push(format!(
                    "{}: {} is false",
                    name(i),
                    describe(&filter.all[first])
                ));
            }
            if explain {
                let clauses = filter
                    .all
                    .iter()
                    .zip(&results[i])
                    .map(|(c, ok)| (describe(c), *ok))
                    .collect();
                decision.clauses.push((name(i), clauses));
            }
        }
    }
    decision.in_scope = passed;
    decision.reason = if passed && !explain {
        String::new()
    } else if passed {
        user.assignment_reason()
    } else {
        format!("no scoping filter matched ({})", failures.join("; "))
    };
    decision
}

/// `department equals "Sales"`.
fn describe(clause: &Clause) -> String {
    match &clause.value {
        None => format!("{} {}", clause.attribute, clause.operator.name()),
        Some(ClauseValue::Text(t)) => {
            format!("{} {} {t:?}", clause.attribute, clause.operator.name())
        }
        Some(ClauseValue::Integer(n)) => {
            format!("{} {} {n}", clause.attribute, clause.operator.name())
        }
        Some(ClauseValue::List(l)) => {
            format!("{} {} {l:?}", clause.attribute, clause.operator.name())
        }
    }
}

/// An attribute as Entra's filters see it: text, or nothing (null, empty, multi-valued).
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One clause's result.
pub(crate) fn holds(clause: &Clause, regexes: &Regexes, value: Option<&Value>) -> bool {
    let value = text(value);
    let operand = |v: &Option<ClauseValue>| match v {
        Some(ClauseValue::Text(t)) => Some(t.clone()),
        Some(ClauseValue::Integer(n)) => Some(n.to_string()),
        _ => None,
    };
    let list = || match &clause.value {
        Some(ClauseValue::List(items)) => items.clone(),
        Some(ClauseValue::Text(t)) => vec![t.clone()],
        Some(ClauseValue::Integer(n)) => vec![n.to_string()],
        None => Vec::new(),
    };
    if clause.operator == Operator::IsNull {
        return value.is_none();
    }
    // Every other operator is false on a null or empty value.
    let Some(value) = value else {
        return false;
    };
    let wanted = operand(&clause.value).unwrap_or_default();
    match clause.operator {
        Operator::IsNull => false,
        Operator::IsNotNull => true,
        Operator::Equals => value == wanted,
        Operator::NotEquals => value != wanted,
        Operator::IsTrue => value.eq_ignore_ascii_case("true"),
        Operator::IsFalse => value.eq_ignore_ascii_case("false"),
        Operator::RegexMatch => regexes.get(&wanted).is_some_and(|r| r.is_match(&value)),
        Operator::NotRegexMatch => regexes.get(&wanted).is_some_and(|r| !r.is_match(&value)),
        Operator::Includes => value.contains(&wanted),
        Operator::EndsWith => value.ends_with(&wanted),
        Operator::GreaterThan | Operator::GreaterThanOrEquals => {
            match (value.trim().parse::<i64>(), wanted.trim().parse::<i64>()) {
                (Ok(v), Ok(w)) if clause.operator == Operator::GreaterThan => v > w,
                (Ok(v), Ok(w)) => v >= w,
                _ => false,
            }
        }
        Operator::In => list().contains(&value),
        Operator::NotIn => !list().contains(&value),
    }
}
