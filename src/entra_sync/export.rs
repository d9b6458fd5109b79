//! `roster export entra`: a config as the synchronization schema Entra accepts (`PUT
//! /servicePrincipals/{id}/synchronization/jobs/{jobId}/schema`, which replaces the whole
//! schema) and the secrets that carry the rest (`PUT .../synchronization/secrets`). What roster
//! has and Entra cannot express is returned as notes, never dropped silently.
//!
//! The rule is the Salesforce Sandbox template's (`SfSandboxOutDelta`: rule
//! `USER_OUTBOUND_USER`, id `4c5ecfa1-a072-4460-b1c3-4adde3479854`, Microsoft Graph "Configure
//! synchronization with directory extension attributes"); a job of another template keeps its
//! own rule id, which `--base` supplies from the job's current schema.

use serde_json::{Value, json};

use super::{
    AttributeMapping, Filter, FilterClause, FilterGroup, FilterOperand, MappingSource,
    ObjectMapping, RENAMED_ATTRIBUTES, SOURCE_DIRECTORY, Secret, SourceParameter,
    SynchronizationRule, SynchronizationSchema, TARGET_DIRECTORY, entra_operator, quote,
};
use crate::config::{
    ApplyMode, Assignment, ClauseOperand, Config, MappingValue, OutOfScope, RecordRef,
    RoleCondition, Threshold,
};
use crate::grants::GrantKind;

/// The Sandbox template's rule id and name (see the module doc).
const RULE_ID: &str = "4c5ecfa1-a072-4460-b1c3-4adde3479854";
const RULE_NAME: &str = "USER_OUTBOUND_USER";

/// The schema, the secrets, and what could not be carried over.
#[derive(Debug)]
pub(crate) struct Exported {
    pub(crate) schema: SynchronizationSchema,
    /// The body of `PUT .../synchronization/secrets`'s `value` (only the keys roster sets;
    /// Graph's PUT replaces every key, so merge with the job's credentials before sending).
    pub(crate) secrets: Vec<Secret>,
    pub(crate) notes: Vec<String>,
    /// What of `--base` goes back as it was (its other rules and object mappings): Graph's PUT
    /// replaces the whole schema, and would delete what is left out.
    pub(crate) kept: Vec<String>,
    /// Those rules and object mappings, as the base file holds them (not re-serialized: a field
    /// roster does not model, or one absent, stays as it was).
    kept_rules: Vec<Value>,
    kept_object_mappings: Vec<Value>,
}

/// The job's schema `export entra --base` builds on: read (`schema`) and as the file holds it
/// (`raw`), for the parts that go back untouched.
pub(crate) struct Base {
    pub(crate) schema: SynchronizationSchema,
    pub(crate) raw: Value,
}

impl Exported {
    /// The schema as the body of Graph's `PUT .../schema`, pretty-printed: roster's rule first,
    /// then what `--base` keeps, verbatim.
    ///
    /// # Errors
    /// serde_json's, which a schema of strings, numbers and lists never meets.
    pub(crate) fn schema_json(&self) -> Result<String, serde_json::Error> {
        if self.kept_rules.is_empty() && self.kept_object_mappings.is_empty() {
            return serde_json::to_string_pretty(&self.schema);
        }
        let mut schema = serde_json::to_value(&self.schema)?;
        if let Some(mappings) = schema
            .pointer_mut("/synchronizationRules/0/objectMappings")
            .and_then(Value::as_array_mut)
        {
            mappings.extend(self.kept_object_mappings.iter().cloned());
        }
        if let Some(rules) = schema
            .get_mut("synchronizationRules")
            .and_then(Value::as_array_mut)
        {
            rules.extend(self.kept_rules.iter().cloned());
        }
        serde_json::to_string_pretty(&schema)
    }
}

/// Exports `config`; `base` is the job's current schema, whose rule id, metadata and
/// directories are kept.
pub(crate) fn export(config: &Config, base: Option<&Base>) -> Exported {
    let mut notes = Vec::new();
    let mut mappings = attribute_mappings(config, &mut notes);
    mappings.push(AttributeMapping {
        target_attribute_name: "IsActive".to_owned(),
        source: Some(expression_source("Not([IsSoftDeleted])")),
        default_value: Some("True".to_owned()),
        flow_type: Some("Always".to_owned()),
        flow_behavior: Some("FlowWhenChanged".to_owned()),
        matching_priority: 0,
        export_missing_references: Some(false),
    });
    if let Some(profile) = profile_mapping(config, &mut notes) {
        mappings.push(profile);
    }
    not_expressible(config, &mut notes);

    let filter = Filter {
        groups: config
            .scope
            .filters
            .iter()
            .enumerate()
            .map(|(i, f)| FilterGroup {
                name: Some(
                    f.name
                        .clone()
                        .unwrap_or_else(|| format!("filter {}", i + 1)),
                ),
                clauses: f.all.iter().map(clause).collect(),
            })
            .collect(),
        ..Filter::default()
    };
    let object_mapping = ObjectMapping {
        name: Some("Synchronize Azure Active Directory Users to salesforce.com".to_owned()),
        enabled: true,
        flow_types: Some(
            if config.deprovision.out_of_scope == OutOfScope::Ignore {
                "Add, Update"
            } else {
                "Add, Update, Delete"
            }
            .to_owned(),
        ),
        source_object_name: "User".to_owned(),
        target_object_name: "User".to_owned(),
        metadata: Vec::new(),
        scope: (!filter.groups.is_empty()).then_some(filter),
        attribute_mappings: mappings,
    };
    let job = base.and_then(|b| {
        b.schema
            .synchronization_rules
            .iter()
            .position(SynchronizationRule::is_salesforce_job)
    });
    let base_rule = base
        .zip(job)
        .map(|(b, i)| &b.schema.synchronization_rules[i]);
    let raw_rules = base
        .and_then(|b| b.raw.get("synchronizationRules"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut kept = Vec::new();
    let kept_object_mappings = kept_object_mappings(job.and_then(|i| raw_rules.get(i)), &mut kept);
    let kept_rules = kept_rules(raw_rules, job, &mut kept);
    let rule = SynchronizationRule {
        id: Some(
            base_rule
                .and_then(|r| r.id.clone())
                .unwrap_or_else(|| RULE_ID.to_owned()),
        ),
        name: Some(
            base_rule
                .and_then(|r| r.name.clone())
                .unwrap_or_else(|| RULE_NAME.to_owned()),
        ),
        editable: Some(true),
        priority: Some(1),
        source_directory_name: SOURCE_DIRECTORY.to_owned(),
        target_directory_name: TARGET_DIRECTORY.to_owned(),
        metadata: base_rule.map(|r| r.metadata.clone()).unwrap_or_default(),
        object_mappings: vec![object_mapping],
    };
    let schema = SynchronizationSchema {
        id: base.and_then(|b| b.schema.id.clone()),
        version: None,
        synchronization_rules: vec![rule],
        directories: base
            .map(|b| b.schema.directories.clone())
            .unwrap_or_default(),
    };
    Exported {
        schema,
        secrets: secrets(config, &mut notes),
        notes,
        kept,
        kept_rules,
        kept_object_mappings,
    }
}

/// The base's rules other than its Salesforce job's (`job`, an index), as the file holds them,
/// each with a note: Graph's PUT of a schema replaces it whole.
fn kept_rules(raw_rules: &[Value], job: Option<usize>, kept: &mut Vec<String>) -> Vec<Value> {
    raw_rules
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != job)
        .map(|(_, rule)| {
            kept.push(format!("the rule {}", name_of(rule)));
            rule.clone()
        })
        .collect()
}

/// The object mappings of the base's Salesforce rule that are not of users (roster writes the
/// User one), as the file holds them, each with a note: Graph's PUT would delete what is left
/// out.
fn kept_object_mappings(raw_rule: Option<&Value>, kept: &mut Vec<String>) -> Vec<Value> {
    let text = |m: &Value, key: &str| {
        m.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    raw_rule
        .and_then(|r| r.get("objectMappings"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| !text(m, "sourceObjectName").eq_ignore_ascii_case("User"))
        .map(|m| {
            kept.push(format!(
                "the object mapping {} ({} to {})",
                name_of(m),
                crate::render::quoted(&text(m, "sourceObjectName")),
                crate::render::quoted(&text(m, "targetObjectName"))
            ));
            m.clone()
        })
        .collect()
}

/// A rule's or object mapping's `name`, quoted, for a note.
fn name_of(part: &Value) -> String {
    crate::render::quoted(
        part.get("name")
            .and_then(Value::as_str)
            .unwrap_or("(unnamed)"),
    )
}

/// The config's mappings, each a matching attribute when a matching rule sends the same value
/// to the same field (Entra's matching attributes are mappings); other rules are notes.
fn attribute_mappings(config: &Config, notes: &mut Vec<String>) -> Vec<AttributeMapping> {
    let mut mappings: Vec<AttributeMapping> = Vec::new();

    // Matching: a rule is a mapping's matching priority when the mapping sends the same value.
    let mut matched = vec![false; config.matching.len()];
    for mapping in &config.mappings {
        let source = mapping_source(&mapping.value);
        let priority = config
            .matching
            .iter()
            .position(|r| r.target == mapping.target && same_text(&r.source.text, &source.text()))
            .map_or(0, |i| {
                matched[i] = true;
                i64::try_from(i + 1).unwrap_or(i64::MAX)
            });
        mappings.push(AttributeMapping {
            target_attribute_name: mapping.target.clone(),
            source: Some(source),
            default_value: mapping.default.clone(),
            flow_type: Some(
                match mapping.apply {
                    ApplyMode::Always => "Always",
                    ApplyMode::OnCreate => "ObjectAddOnly",
                }
                .to_owned(),
            ),
            flow_behavior: Some("FlowWhenChanged".to_owned()),
            matching_priority: priority,
            export_missing_references: Some(false),
        });
    }
    for (rule, done) in config.matching.iter().zip(&matched) {
        if !done {
            notes.push(format!(
                "matching: {} = {} — Entra's matching attributes are mappings; no mapping of {} \
                 sends that value",
                rule.target, rule.source.text, rule.target
            ));
        }
    }

    mappings
}

/// The secrets that carry assignment mode, out-of-scope handling and the deletion threshold.
fn secrets(config: &Config, notes: &mut Vec<String>) -> Vec<Secret> {
    let mut secrets = vec![
        Secret {
            key: "SyncAll".to_owned(),
            value: Some(
                if config.scope.assignment == Assignment::All {
                    "True"
                } else {
                    "False"
                }
                .to_owned(),
            ),
        },
        Secret {
            key: "SkipOutOfScopeDeletions".to_owned(),
            value: Some(
                if config.deprovision.out_of_scope == OutOfScope::Ignore {
                    "True"
                } else {
                    "False"
                }
                .to_owned(),
            ),
        },
    ];
    match config.safety.max_deactivations {
        Threshold::Count(n) => secrets.push(Secret {
            key: "SyncNotificationSettings".to_owned(),
            value: Some(
                json!({
                    "Enabled": false,
                    "DeleteThresholdEnabled": true,
                    "DeleteThresholdValue": u64::from(n) + 1,
                })
                .to_string(),
            ),
        }),
        Threshold::Ratio(ratio) => notes.push(format!(
            "safety.max_deactivations: {}% — Entra's accidental-deletion threshold is a count",
            ratio * 100.0
        )),
    }
    secrets
}

/// ProfileName from the role rules: every rule must be an app role with a profile by name and
/// nothing else; other rules are notes.
fn profile_mapping(config: &Config, notes: &mut Vec<String>) -> Option<AttributeMapping> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (i, rule) in config.roles.rules.iter().enumerate() {
        let at = format!("roles.rules[{i}]");
        match (&rule.when, &rule.profile) {
            (RoleCondition::AppRole(role), Some(RecordRef::Name(profile))) => {
                if !pairs.iter().any(|(r, _)| r == role) {
                    pairs.push((role.clone(), profile.clone()));
                }
            }
            (RoleCondition::AppRole(_), Some(RecordRef::Id(id))) => notes.push(format!(
                "{at}: profile by id {} — Entra's ProfileName is a profile name",
                id.id
            )),
            (RoleCondition::AppRole(_), None) => {}
            (RoleCondition::Group(group), _) => notes.push(format!(
                "{at}: when group {group} — Entra chooses the profile by app role only"
            )),
            (RoleCondition::Expression(e), _) => notes.push(format!(
                "{at}: when {} — Entra chooses the profile by app role only",
                e.text
            )),
        }
        if let Some(role) = &rule.role {
            notes.push(format!(
                "{at}: role {role} — the Salesforce gallery app's schema maps no UserRole"
            ));
        }
        for kind in &GrantKind::ALL {
            if !rule.grants(*kind).is_empty() {
                notes.push(format!(
                    "{at}: {} {} — Entra's mappings give every user the same values; grants per \
                     app role have no equivalent",
                    kind.spec().rule_key,
                    rule.grants(*kind).join(", ")
                ));
            }
        }
        if !rule.feature_licenses.is_empty() {
            notes.push(format!(
                "{at}: feature_licenses — Entra sets User checkboxes for every user of a mapping, \
                 not per app role"
            ));
        }
    }
    if pairs.is_empty() {
        notes.push(
            "roles: no rule chooses a profile by app role; no ProfileName mapping".to_owned(),
        );
        return None;
    }
    let single = "SingleAppRoleAssignment([appRoleAssignments])";
    let text = if pairs.iter().all(|(role, profile)| role == profile) {
        single.to_owned()
    } else {
        let mut args = vec![single.to_owned(), quote("")];
        for (role, profile) in &pairs {
            args.push(quote(role));
            args.push(quote(profile));
        }
        format!("Switch({})", args.join(", "))
    };
    Some(AttributeMapping {
        target_attribute_name: "ProfileName".to_owned(),
        source: Some(expression_source(&text)),
        default_value: None,
        flow_type: Some("Always".to_owned()),
        flow_behavior: Some("FlowWhenChanged".to_owned()),
        matching_priority: 0,
        export_missing_references: Some(false),
    })
}

/// What roster has that no schema or secret can say.
fn not_expressible(config: &Config, notes: &mut Vec<String>) {
    if let Some(suffix) = &config.ownership.username_suffix {
        notes.push(format!(
            "ownership.username_suffix {suffix} — Entra deprovisions only the users it provisioned"
        ));
    }
    if !config.protect.usernames.is_empty() || !config.protect.profiles.is_empty() {
        notes.push("protect — Entra has no protected users".to_owned());
    }
    if config.deprovision.out_of_scope == OutOfScope::Freeze {
        notes.push(
            "deprovision.out_of_scope: freeze — Entra deactivates (IsActive false), it never freezes"
                .to_owned(),
        );
    }
    for kind in &GrantKind::ALL {
        if !config.roles.managed(*kind).is_empty() {
            notes.push(format!(
                "roles.managed_{} — Entra removes no grants",
                kind.spec().rule_key
            ));
        }
    }
    if !config.roles.managed_feature_licenses.is_empty() {
        notes.push("roles.managed_feature_licenses — Entra turns no checkbox off".to_owned());
    }
    if config.roles.app_roles.is_some() {
        notes.push(
            "roles.app_roles — Entra's connector imports the profiles as app roles itself; the \
             schema has no setting for it"
                .to_owned(),
        );
    }
    if !config.roles.requires_licenses.is_empty() {
        notes.push("roles.requires_licenses — Entra assigns no licences".to_owned());
    }
}

/// A scoping clause as Entra writes it.
fn clause(clause: &crate::config::Clause) -> FilterClause {
    let values = match &clause.operand {
        ClauseOperand::None => Vec::new(),
        ClauseOperand::Text(text) => vec![text.clone()],
        ClauseOperand::Integer(n) => vec![n.to_string()],
        ClauseOperand::List(list) => list.clone(),
        ClauseOperand::Regex { pattern, .. } => vec![pattern.clone()],
    };
    FilterClause {
        operator_name: entra_operator(clause.operator).to_owned(),
        source_operand_name: sync_name(&clause.attribute).to_owned(),
        target_operand: Some(FilterOperand { values }),
    }
}

/// The sync schema's name of a Graph attribute (`mobilePhone` → `mobile`).
fn sync_name(graph: &str) -> &str {
    RENAMED_ATTRIBUTES
        .iter()
        .find(|(_, g)| g.trim_start_matches('[').trim_end_matches(']') == graph)
        .map_or(graph, |(sync, _)| sync)
}

/// `[graph]` attribute references written with the sync schema's names.
fn sync_names(text: &str) -> String {
    let mut out = text.to_owned();
    for (sync, graph) in RENAMED_ATTRIBUTES {
        if graph.starts_with('[') {
            out = out.replace(graph, &format!("[{sync}]"));
        }
    }
    out
}

/// A mapping's value as Entra's source.
fn mapping_source(value: &MappingValue) -> MappingSource {
    match value {
        MappingValue::Source(attribute) => {
            let name = sync_name(attribute);
            MappingSource {
                kind: "Attribute".to_owned(),
                name: Some(name.to_owned()),
                expression: Some(format!("[{name}]")),
                parameters: Vec::new(),
            }
        }
        MappingValue::Constant(text) => constant(text),
        MappingValue::Expression(e) => expression_source(&e.text),
    }
}

fn constant(text: &str) -> MappingSource {
    MappingSource {
        kind: "Constant".to_owned(),
        name: Some(text.to_owned()),
        expression: Some(quote(text)),
        parameters: Vec::new(),
    }
}

/// An expression as Entra's structured source: the text, and its call tree with each argument
/// keyed by the parameter's name in Microsoft's function reference.
fn expression_source(text: &str) -> MappingSource {
    let text = sync_names(text);
    match crate::expr::parse(&text) {
        Ok(parsed) => structured(&parsed, &text),
        Err(_) => MappingSource {
            kind: "Function".to_owned(),
            name: None,
            expression: Some(text),
            parameters: Vec::new(),
        },
    }
}

fn structured(node: &crate::expr::Expr, text: &str) -> MappingSource {
    use crate::expr::ExprKind;
    let own = text[node.span.clone()].to_owned();
    match &node.kind {
        ExprKind::Attribute(name) => MappingSource {
            kind: "Attribute".to_owned(),
            name: Some(name.to_string()),
            expression: Some(own),
            parameters: Vec::new(),
        },
        ExprKind::Str(s) => constant(s),
        ExprKind::Int(n) => constant(&n.to_string()),
        ExprKind::Call { name, args } => {
            let keys = crate::expr::parameter_names(name);
            let last = keys.last().cloned().unwrap_or_else(|| "value".to_owned());
            MappingSource {
                kind: "Function".to_owned(),
                name: Some((*name).to_owned()),
                expression: Some(own),
                parameters: args
                    .iter()
                    .enumerate()
                    .filter_map(|(i, arg)| {
                        let arg = arg.as_ref()?;
                        Some(SourceParameter {
                            key: keys.get(i).cloned().unwrap_or_else(|| last.clone()),
                            value: structured(arg, text),
                        })
                    })
                    .collect(),
            }
        }
        // Keywords and comparisons have no structured form: the text says it.
        _ => MappingSource {
            kind: "Constant".to_owned(),
            name: Some(own.clone()),
            expression: Some(own),
            parameters: Vec::new(),
        },
    }
}

/// Whether two expression texts differ only in spacing.
fn same_text(a: &str, b: &str) -> bool {
    let compact = |t: &str| -> String { t.chars().filter(|c| !c.is_whitespace()).collect() };
    compact(&sync_names(a)) == compact(b)
}
