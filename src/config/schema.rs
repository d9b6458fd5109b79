//! The config file's JSON Schema, generated from the types in `types.rs`. The committed
//! `schemas/roster.schema.json` is exactly this output; a test fails when they differ.

use schemars::generate::SchemaSettings;

use super::types::Config;

/// The schema as a JSON value.
pub(crate) fn config_schema() -> serde_json::Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<Config>().to_value()
}

/// The schema as pretty JSON with a trailing newline, as committed.
pub(crate) fn config_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&config_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema of a file that extends a base (`extends: ../base.yaml`), for editors: the same
/// keys and types with none required but `extends`, since the base gives the rest, and each
/// key's value may be null, which takes the base's setting away (`roster validate` checks the
/// merged config against the whole schema). Committed as `schemas/roster-extends.schema.json`.
pub(crate) fn extends_schema_text() -> String {
    fn optional(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("required");
                map.values_mut().for_each(optional);
                if let Some(serde_json::Value::Object(properties)) = map.get_mut("properties") {
                    for property in properties.values_mut() {
                        let given = property.take();
                        *property = serde_json::json!({"anyOf": [given, {"type": "null"}]});
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(optional),
            _ => {}
        }
    }
    let mut schema = config_schema();
    optional(&mut schema);
    schema["title"] = "roster config that extends a base".into();
    schema["description"] = "A roster.yaml that names a base in `extends` and gives only what \
        differs: every key but `extends` is optional here; `roster validate` checks the merged \
        config."
        .into();
    schema["required"] = serde_json::json!(["extends"]);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_schema_matches_the_types() {
        let committed = include_str!("../../schemas/roster.schema.json");
        assert!(
            committed == config_schema_text(),
            "schemas/roster.schema.json is stale: run `cargo run -- schema > schemas/roster.schema.json`"
        );
    }
}
