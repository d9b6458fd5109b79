//! Entra's own provisioning configuration, as Microsoft Graph's synchronization API holds it: the
//! job's schema (rules, object mappings, attribute mappings, scoping filters) and its secrets.
//! `import.rs` turns it into a `roster.yaml` that means the same thing; `export.rs` turns a
//! config back into a schema Entra accepts (`PUT .../jobs/{id}/schema`).
//!
//! Shapes: Microsoft Graph v1.0 `synchronizationSchema`, `synchronizationRule`, `objectMapping`,
//! `attributeMapping`, `attributeMappingSource`, `filter`, `filterGroup`, `filterClause`
//! (learn.microsoft.com/graph/api/resources/synchronization-*; the CSDL of
//! microsoftgraph/msgraph-metadata). Only the fields roster reads or writes are typed; the
//! rest (`directories`, `metadata`) is carried through as JSON.

pub(crate) mod export;
pub(crate) mod import;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::Operator;

/// The directory names of the Salesforce templates' rule (Graph: `sourceDirectoryName`,
/// `targetDirectoryName` of `synchronizationRule`; `SfSandboxOutDelta`).
pub(crate) const SOURCE_DIRECTORY: &str = "Azure Active Directory";
pub(crate) const TARGET_DIRECTORY: &str = "salesforce.com";

/// `synchronizationSchema`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SynchronizationSchema {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) synchronization_rules: Vec<SynchronizationRule>,
    /// Carried through untouched: PUT replaces the whole schema.
    #[serde(default)]
    pub(crate) directories: Vec<Value>,
}

impl SynchronizationRule {
    /// Whether the rule provisions Entra users into Salesforce: from `Azure Active Directory` to
    /// `salesforce.com` (directory names compare without case).
    pub(crate) fn is_salesforce_job(&self) -> bool {
        self.source_directory_name
            .eq_ignore_ascii_case(SOURCE_DIRECTORY)
            && self
                .target_directory_name
                .eq_ignore_ascii_case(TARGET_DIRECTORY)
    }
}

/// `synchronizationRule`: one source directory to one target directory.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SynchronizationRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) editable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) priority: Option<i64>,
    #[serde(default)]
    pub(crate) source_directory_name: String,
    #[serde(default)]
    pub(crate) target_directory_name: String,
    #[serde(default)]
    pub(crate) metadata: Vec<Value>,
    #[serde(default)]
    pub(crate) object_mappings: Vec<ObjectMapping>,
}

/// `objectMapping`: source object type to target object type.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ObjectMapping {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default = "enabled")]
    pub(crate) enabled: bool,
    /// Flags over `Add`, `Update`, `Delete`, joined with ", " (Cloud Sync writes them without
    /// spaces); absent means all three.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flow_types: Option<String>,
    #[serde(default)]
    pub(crate) source_object_name: String,
    #[serde(default)]
    pub(crate) target_object_name: String,
    #[serde(default)]
    pub(crate) metadata: Vec<Value>,
    #[serde(default)]
    pub(crate) scope: Option<Filter>,
    #[serde(default)]
    pub(crate) attribute_mappings: Vec<AttributeMapping>,
}

fn enabled() -> bool {
    true
}

impl ObjectMapping {
    /// Whether `flowTypes` holds `flow` (`Add`, `Update`, `Delete`).
    pub(crate) fn flows(&self, flow: &str) -> bool {
        self.flow_types.as_deref().is_none_or(|types| {
            types
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case(flow))
        })
    }
}

/// `filter`: the object mapping's scoping filters.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Filter {
    /// OR-ed; an object that stops matching is deprovisioned.
    #[serde(default)]
    pub(crate) groups: Vec<FilterGroup>,
    /// Experimental pre-filters (an object that stops matching is not deprovisioned).
    #[serde(default)]
    pub(crate) input_filter_groups: Vec<FilterGroup>,
    /// Experimental membership filters.
    #[serde(default)]
    pub(crate) category_filter_groups: Vec<FilterGroup>,
}

/// `filterGroup`: clauses AND-ed.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) clauses: Vec<FilterClause>,
}

/// `filterClause`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FilterClause {
    pub(crate) operator_name: String,
    pub(crate) source_operand_name: String,
    #[serde(default)]
    pub(crate) target_operand: Option<FilterOperand>,
}

/// `filterOperand`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub(crate) struct FilterOperand {
    #[serde(default)]
    pub(crate) values: Vec<String>,
}

/// `attributeMapping`: one target attribute and where its value comes from.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AttributeMapping {
    pub(crate) target_attribute_name: String,
    #[serde(default)]
    pub(crate) source: Option<MappingSource>,
    /// Used when the source is null, on create only.
    #[serde(default)]
    pub(crate) default_value: Option<String>,
    /// `Always`, `ObjectAddOnly` (the portal's "Only during creation"), `MultiValueAddOnly`,
    /// `ValueAddOnly`, `AttributeAddOnly`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flow_type: Option<String>,
    /// `FlowWhenChanged` or `FlowAlways`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) flow_behavior: Option<String>,
    /// 0: not a matching attribute; otherwise the lowest is tried first.
    #[serde(default)]
    pub(crate) matching_priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) export_missing_references: Option<bool>,
}

/// `attributeMappingSource`: `type` is `Attribute`, `Constant` or `Function`; `name` the
/// attribute, the constant or the function; `expression` the whole as text.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MappingSource {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expression: Option<String>,
    #[serde(default)]
    pub(crate) parameters: Vec<SourceParameter>,
}

/// `stringKeyAttributeMappingSourceValuePair`: a function's argument.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct SourceParameter {
    pub(crate) key: String,
    pub(crate) value: MappingSource,
}

impl MappingSource {
    /// The source as expression text: `expression` when Entra sent it, else rebuilt from the
    /// structure (`[name]`, `"constant"`, `Name(arg, ...)`).
    pub(crate) fn text(&self) -> String {
        if let Some(text) = self.expression.as_deref().filter(|t| !t.trim().is_empty()) {
            return text.trim().to_owned();
        }
        let name = self.name.clone().unwrap_or_default();
        match self.kind.as_str() {
            "Attribute" => format!("[{name}]"),
            // Graph stores the numbers of `Mid([x], 1, 8)` as Constants "1" and "8".
            "Constant" if is_number(&name) => name,
            "Constant" => quote(&name),
            _ => {
                let args: Vec<String> = self.parameters.iter().map(|p| p.value.text()).collect();
                format!("{name}({})", args.join(", "))
            }
        }
    }
}

/// A canonical integer literal: digits without a leading zero.
fn is_number(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
        && text.len() <= 18
}

/// A string literal of the expression language: a backslash or a quotation mark inside is
/// escaped with a backslash (Microsoft Learn, "Reference for writing expressions for attribute
/// mappings in Microsoft Entra ID": "a backslash ( \\ ) or quotation mark ( \" ) ... must be
/// escaped with the backslash"), as roster's parser reads it.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// One secret of the job (`synchronizationSecretKeyStringValuePair`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct Secret {
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: Option<String>,
}

/// Scoping operators: roster's name and Entra's. Graph confirms only `EQUALS` in JSON; the others
/// are the portal's labels (Microsoft Learn, "Scoping users or groups to be provisioned with
/// scoping filters"), which `import` also accepts with `_` for spaces and in any case.
pub(crate) const OPERATORS: &[(Operator, &str)] = &[
    (Operator::Equals, "EQUALS"),
    (Operator::NotEquals, "NOT EQUALS"),
    (Operator::IsTrue, "IS TRUE"),
    (Operator::IsFalse, "IS FALSE"),
    (Operator::IsNull, "IS NULL"),
    (Operator::IsNotNull, "IS NOT NULL"),
    (Operator::RegexMatch, "REGEX MATCH"),
    (Operator::NotRegexMatch, "NOT REGEX MATCH"),
    (Operator::Includes, "Includes"),
    (Operator::EndsWith, "ENDS_WITH"),
    (Operator::GreaterThan, "Greater_Than"),
    (Operator::GreaterThanOrEquals, "Greater_Than_OR_EQUALS"),
    (Operator::In, "&"),
    (Operator::NotIn, "!&"),
];

/// roster's operator for an Entra operator name, however spaced or cased.
pub(crate) fn operator(entra: &str) -> Option<Operator> {
    let normal = |name: &str| {
        name.replace('_', " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_ascii_uppercase()
    };
    let wanted = normal(entra);
    OPERATORS
        .iter()
        .find(|(_, name)| normal(name) == wanted)
        .map(|(op, _)| *op)
}

/// Entra's name of a roster operator.
pub(crate) fn entra_operator(op: Operator) -> &'static str {
    OPERATORS
        .iter()
        .find(|(o, _)| *o == op)
        .map_or("EQUALS", |(_, name)| name)
}

/// Source attributes the sync schema names differently from Microsoft Graph, and what roster
/// reads instead (an attribute, or an expression for the multi-valued `businessPhones`).
pub(crate) const RENAMED_ATTRIBUTES: &[(&str, &str)] = &[
    ("mobile", "[mobilePhone]"),
    ("facsimileTelephoneNumber", "[faxNumber]"),
    ("physicalDeliveryOfficeName", "[officeLocation]"),
    ("telephoneNumber", "Item([businessPhones], 1)"),
];

/// `text` with every `[attribute]` the sync schema names differently written as roster reads it.
pub(crate) fn graph_names(text: &str) -> String {
    let mut out = text.to_owned();
    for (sync, graph) in RENAMED_ATTRIBUTES {
        out = out.replace(&format!("[{sync}]"), graph);
    }
    out
}

/// The salesforce rule's User → User object mapping of a schema, and its rule.
pub(crate) fn user_mapping(
    schema: &SynchronizationSchema,
) -> Result<(&SynchronizationRule, &ObjectMapping), String> {
    let rules: Vec<&SynchronizationRule> = schema
        .synchronization_rules
        .iter()
        .filter(|r| {
            r.target_directory_name
                .eq_ignore_ascii_case(TARGET_DIRECTORY)
        })
        .collect();
    let [rule] = rules.as_slice() else {
        return Err(format!(
            "the schema has {} rules into the `{TARGET_DIRECTORY}` directory; roster reads exactly one \
             (rules: {})",
            rules.len(),
            schema
                .synchronization_rules
                .iter()
                .map(|r| format!("{} -> {}", r.source_directory_name, r.target_directory_name))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    let mapping = rule
        .object_mappings
        .iter()
        .find(|m| m.source_object_name == "User" && m.target_object_name == "User")
        .ok_or_else(|| {
            format!(
                "the rule into `{TARGET_DIRECTORY}` has no User -> User object mapping (it maps {})",
                rule.object_mappings
                    .iter()
                    .map(|m| format!("{} -> {}", m.source_object_name, m.target_object_name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    Ok((rule, mapping))
}

#[cfg(test)]
mod tests;
