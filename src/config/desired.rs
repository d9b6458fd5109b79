//! The desired state: `roster.yaml` parsed once into typed values — expressions parsed, scoping
//! regexes compiled, the deactivation threshold a count or a ratio, a mapping's value one enum —
//! which everything downstream reads. `validate::check` builds it from the file's types
//! (`types.rs`, what serde and the JSON Schema see) only when the file has no error, so nothing
//! downstream parses again, and no error is left for anyone to swallow.

use std::collections::BTreeMap;
use std::sync::Arc;

pub(crate) use super::types::{
    AppRolesFrom, Application, ApplyMode, Assignment, AutoApply, Deprovision, Operand, Operator,
    OutOfScope, Ownership, PolicyAction, Protect, Reconcile, RecordId, RecordRef, Source,
    SourceCredential, Target, TargetAuth, WhenRefused,
};
use crate::expr;
use crate::grants::{FeatureLicense, GrantKind};

/// roster's desired state, checked and typed.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) source: Source,
    pub(crate) target: Target,
    pub(crate) scope: Scope,
    /// In precedence order.
    pub(crate) matching: Vec<MatchRule>,
    pub(crate) ownership: Ownership,
    pub(crate) protect: Protect,
    pub(crate) mappings: Vec<Mapping>,
    pub(crate) roles: Roles,
    pub(crate) deprovision: Deprovision,
    pub(crate) safety: Safety,
    /// What `roster apply --policy` may carry out unreviewed.
    pub(crate) reconcile: Option<Reconcile>,
}

/// An Entra attribute-mapping expression: its text, where it stands in the file (a JSON
/// pointer, for messages), and its syntax tree, parsed once.
#[derive(Clone, Debug)]
pub(crate) struct Expression {
    pub(crate) text: String,
    pub(crate) pointer: String,
    pub(crate) parsed: Arc<expr::Expr>,
}

/// Which source users are in scope.
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub(crate) assignment: Assignment,
    /// Clauses AND-ed within a filter, filters OR-ed; none means every assigned user.
    pub(crate) filters: Vec<ScopeFilter>,
}

/// One scoping filter.
#[derive(Clone, Debug)]
pub(crate) struct ScopeFilter {
    pub(crate) name: Option<String>,
    pub(crate) all: Vec<Clause>,
}

/// One scoping clause, its operand the kind its operator takes.
#[derive(Clone, Debug)]
pub(crate) struct Clause {
    pub(crate) attribute: String,
    pub(crate) operator: Operator,
    pub(crate) operand: ClauseOperand,
}

/// A clause's operand, checked against its operator.
#[derive(Clone, Debug)]
pub(crate) enum ClauseOperand {
    /// `is_true`, `is_false`, `is_null`, `is_not_null`.
    None,
    /// `equals`, `not_equals`, `includes`, `ends_with`.
    Text(String),
    /// `greater_than`, `greater_than_or_equals`.
    Integer(i64),
    /// `in`, `not_in`.
    List(Vec<String>),
    /// `regex_match`, `not_regex_match`: the pattern as written, and compiled as .NET reads it
    /// (`expr::dotnet_regex`).
    Regex {
        pattern: String,
        regex: std::sync::Arc<fancy_regex::Regex>,
    },
}

/// One matching rule.
#[derive(Clone, Debug)]
pub(crate) struct MatchRule {
    pub(crate) source: Expression,
    /// A Salesforce User field API name.
    pub(crate) target: String,
}

/// One Salesforce User field and where its value comes from.
#[derive(Clone, Debug)]
pub(crate) struct Mapping {
    /// A Salesforce User field API name.
    pub(crate) target: String,
    pub(crate) value: MappingValue,
    /// Used on create when the value is null.
    pub(crate) default: Option<String>,
    pub(crate) apply: ApplyMode,
}

/// A mapping's value: exactly one kind.
#[derive(Clone, Debug)]
pub(crate) enum MappingValue {
    /// An Entra attribute, copied (Entra's "Direct"); interned, as expressions' attributes are.
    Source(crate::sorted_map::Name),
    Constant(String),
    Expression(Expression),
}

/// Profile, role and grants.
#[derive(Clone, Debug)]
pub(crate) struct Roles {
    /// Ordered.
    pub(crate) rules: Vec<RoleRule>,
    /// Per kind, the only names roster removes (kinds without any are absent).
    pub(crate) managed: BTreeMap<GrantKind, Vec<String>>,
    /// The only feature licences roster turns off.
    pub(crate) managed_feature_licenses: Vec<&'static FeatureLicense>,
    /// Permission set name to the permission set licences it needs without being linked to them.
    pub(crate) requires_licenses: BTreeMap<String, Vec<String>>,
    /// Which profiles the application's app roles follow, if any.
    #[allow(
        clippy::struct_field_names,
        reason = "the key is roles.app_roles in roster.yaml"
    )]
    pub(crate) app_roles: Option<AppRolesFrom>,
}

impl Roles {
    /// The managed names of a kind.
    pub(crate) fn managed(&self, kind: GrantKind) -> &[String] {
        self.managed.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// Every name of a kind the config mentions: granted by a rule, managed, or in
    /// `requires_licenses` (the permission sets and the licences they need).
    pub(crate) fn named(&self, kind: GrantKind) -> std::collections::BTreeSet<&str> {
        let mut names: std::collections::BTreeSet<&str> = self
            .managed(kind)
            .iter()
            .chain(self.rules.iter().flat_map(|r| r.grants(kind)))
            .map(String::as_str)
            .collect();
        match kind {
            GrantKind::PermissionSetLicense => {
                names.extend(
                    self.requires_licenses
                        .values()
                        .flatten()
                        .map(String::as_str),
                );
            }
            // Held, one keeps its licences needed even when no rule grants it.
            GrantKind::PermissionSet => {
                names.extend(self.requires_licenses.keys().map(String::as_str));
            }
            _ => {}
        }
        names
    }

    /// Every feature licence the config mentions (granted or managed).
    pub(crate) fn feature_licenses(&self) -> Vec<&'static FeatureLicense> {
        let mut out: Vec<&'static FeatureLicense> = self.managed_feature_licenses.clone();
        for f in self.rules.iter().flat_map(|r| &r.feature_licenses) {
            if !out.iter().any(|o| o.field == f.field) {
                out.push(f);
            }
        }
        out
    }
}

/// One role rule.
#[derive(Clone, Debug)]
pub(crate) struct RoleRule {
    pub(crate) when: RoleCondition,
    pub(crate) profile: Option<RecordRef>,
    pub(crate) role: Option<RecordRef>,
    /// Per kind, the names granted (kinds without any are absent).
    pub(crate) grants: BTreeMap<GrantKind, Vec<String>>,
    pub(crate) feature_licenses: Vec<&'static FeatureLicense>,
}

impl RoleRule {
    /// The names the rule grants of a kind.
    pub(crate) fn grants(&self, kind: GrantKind) -> &[String] {
        self.grants.get(&kind).map_or(&[], Vec::as_slice)
    }
}

/// When a role rule applies.
#[derive(Clone, Debug)]
pub(crate) enum RoleCondition {
    /// An app role, by display name or value.
    AppRole(String),
    /// A group the user is a direct member of, by display name or object id.
    Group(String),
    /// An expression that evaluates to "True".
    Expression(Expression),
}

/// Safety limits.
#[derive(Clone, Debug)]
pub(crate) struct Safety {
    pub(crate) max_deactivations: Threshold,
    pub(crate) refuse_empty_source: bool,
    pub(crate) sandbox_email_suffix: String,
}

/// The deactivation threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Threshold {
    /// At most this many.
    Count(u32),
    /// At most this share (0 to 1) of the users roster owns, rounded down.
    Ratio(f64),
}

impl Threshold {
    /// The most deactivations allowed when roster owns `owned` users.
    pub(crate) fn allowed(self, owned: usize) -> usize {
        match self {
            Threshold::Count(n) => n as usize,
            // Whole users only: 5% of 30 owned users allows 1.
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "a share of a user count, floored, is a small non-negative count"
            )]
            Threshold::Ratio(ratio) => (owned as f64 * ratio).floor() as usize,
        }
    }
}

/// Entra attributes that stay with a person through a rename: the object id never changes, the
/// employee id comes from HR. Matching on anything else (UPN, mail) relinks a renamed user to
/// nobody: roster would create them again and deactivate the old Salesforce user.
pub(crate) const IMMUTABLE_ATTRIBUTES: &[&str] = &["objectId", "employeeId"];

/// Whether a matching rule's source reads an immutable attribute: the rule is an anchor, and a
/// Salesforce user holding another person's anchor value is theirs, whatever else matches.
pub(crate) fn is_anchor(source: &expr::Expr) -> bool {
    let mut used = Vec::new();
    expr::attributes(source, &mut used);
    used.iter()
        .any(|a| IMMUTABLE_ATTRIBUTES.contains(&a.as_str()))
}

/// The field holding roster's link to each Entra user, when the config keeps one: the first
/// matching rule that is the bare `[objectId]`, whose field a mapping writes from `objectId`
/// (roster writes it on create and on link). A Salesforce user holding an object id there was
/// linked to that Entra user, whether or not Entra still lists them, as Entra's provisioning
/// keeps its link to each user it provisioned and deprovisions them once they leave the scope
/// ("How Application Provisioning works", Microsoft Learn: unassigned or deleted users are
/// disabled in the target).
pub(crate) fn object_id_anchor<'c>(
    matching: &'c [MatchRule],
    mappings: &[Mapping],
) -> Option<&'c str> {
    let object_id =
        |e: &expr::Expr| matches!(&e.kind, expr::ExprKind::Attribute(a) if &**a == "objectId");
    matching
        .iter()
        .find(|rule| {
            object_id(&rule.source.parsed)
                && mappings.iter().any(|m| {
                    m.target.eq_ignore_ascii_case(&rule.target)
                        && match &m.value {
                            MappingValue::Source(attribute) => &**attribute == "objectId",
                            MappingValue::Expression(e) => object_id(&e.parsed),
                            MappingValue::Constant(_) => false,
                        }
                })
        })
        .map(|rule| rule.target.as_str())
}

#[cfg(test)]
mod tests {
    use super::Threshold;

    #[test]
    fn thresholds_allow_whole_users() {
        assert_eq!(Threshold::Count(10).allowed(3), 10);
        assert_eq!(Threshold::Ratio(0.05).allowed(30), 1);
        assert_eq!(Threshold::Ratio(0.05).allowed(19), 0);
        assert_eq!(Threshold::Ratio(1.0).allowed(7), 7);
    }
}
