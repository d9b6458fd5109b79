#![allow(clippy::unwrap_used, reason = "tests fail loudly by design")]

use super::import::{quoted, scalar};
use super::{MappingSource, OPERATORS, entra_operator, graph_names, operator};

#[test]
fn operators_are_read_however_entra_spells_them_and_written_as_the_portal_does() {
    for (op, name) in OPERATORS {
        assert_eq!(operator(name), Some(*op), "{name}");
        assert_eq!(
            operator(&name.to_lowercase()),
            Some(*op),
            "{name} in lower case"
        );
        assert_eq!(
            operator(&name.replace(' ', "_")),
            Some(*op),
            "{name} with underscores"
        );
        assert_eq!(entra_operator(*op), *name);
    }
    assert_eq!(
        operator("  not   equals "),
        Some(crate::config::Operator::NotEquals)
    );
    assert_eq!(operator("Valid Cert Match"), None);
    assert_eq!(operator("Present"), None);
}

#[test]
fn scalars_read_back_as_the_same_string() {
    for text in [
        "Sales",
        "Chatter Free User",
        "yes",
        "No",
        "null",
        "123",
        "0000",
        "a: b",
        "#hash",
        "it's",
        "- dash",
        " leading",
        "trailing ",
        "",
        "tab\there",
        "line\nbreak",
        "@contoso.com",
        "Contoso: \"EMEA\" Ltd",
        "Zoë",
        "a\u{2028}b\u{2029}c",
        "next\u{85}line",
        "bom\u{feff}",
        "del\u{7f} esc\u{1b}[31m \\ \"",
        "cr\ronly",
        "bidi\u{202e}txt\u{200b}",
        "non\u{fffe}char\u{ffff}",
    ] {
        for written in [scalar(text), quoted(text)] {
            // One line, by any YAML reader's count: 1.1's line breaks too.
            assert!(
                !written.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']),
                "{written}"
            );
            // Nothing that would hide what the file says from its reviewer, either.
            assert!(!written.contains(crate::render::acts), "{written:?}");
            let yaml = format!("key: {written}\n");
            let read: std::collections::BTreeMap<String, String> =
                serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{yaml}: {e}"));
            assert_eq!(read["key"], text, "{yaml}");
        }
    }
}

/// A constant written as a literal reads back as itself: a quotation mark and a backslash are
/// escaped with a backslash, as Entra's reference says and roster's parser reads (helper-57:
/// they were doubled, VB style, which the parser refuses).
#[test]
fn a_constant_quoted_reads_back_as_itself() {
    for text in [
        "",
        "plain",
        "He said \"hi\" \\ back",
        "\\\"",
        "ends in \\",
        "\"\"",
    ] {
        let literal = super::quote(text);
        let parsed = crate::expr::parse(&literal).unwrap_or_else(|e| panic!("{literal}: {e:?}"));
        assert!(
            matches!(&parsed.kind, crate::expr::ExprKind::Str(s) if s == text),
            "{text:?} -> {literal} -> {parsed:?}"
        );
    }
}

#[test]
fn a_source_without_its_text_is_rebuilt_from_its_structure() {
    let source: MappingSource = serde_json::from_value(serde_json::json!({
        "type": "Function", "name": "Mid", "parameters": [
            {"key": "source", "value": {"type": "Attribute", "name": "userPrincipalName", "parameters": []}},
            {"key": "start", "value": {"type": "Constant", "name": "1", "parameters": []}},
            {"key": "length", "value": {"type": "Constant", "name": "8", "parameters": []}},
        ]
    }))
    .unwrap();
    assert_eq!(source.text(), "Mid([userPrincipalName], 1, 8)");
    let suffix: MappingSource = serde_json::from_value(serde_json::json!({
        "type": "Function", "name": "Append", "parameters": [
            {"key": "source", "value": {"type": "Attribute", "name": "mail", "parameters": []}},
            {"key": "suffix", "value": {"type": "Constant", "name": "007 \"x\"", "parameters": []}},
        ]
    }))
    .unwrap();
    assert_eq!(suffix.text(), r#"Append([mail], "007 \"x\"")"#);
    // Entra's own text wins when it is there.
    let given: MappingSource = serde_json::from_value(serde_json::json!({
        "type": "Function", "name": "Mid", "expression": " Mid([mail], 1, 3) ", "parameters": []
    }))
    .unwrap();
    assert_eq!(given.text(), "Mid([mail], 1, 3)");
}

#[test]
fn sync_schema_names_become_graph_reads() {
    assert_eq!(
        graph_names("Join(\" \", [mobile], [telephoneNumber], [physicalDeliveryOfficeName])"),
        "Join(\" \", [mobilePhone], Item([businessPhones], 1), [officeLocation])"
    );
    // Only whole attribute references: a constant that says "mobile" stays.
    assert_eq!(
        graph_names("Append(\"mobile\", [mail])"),
        "Append(\"mobile\", [mail])"
    );
}
