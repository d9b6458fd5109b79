//! Every worked example of Microsoft's function reference (tests/fixtures/expr-examples.json,
//! shared with the CLI tests), evaluated through the library; plus error messages and a
//! property test that no input makes the parser or evaluator panic.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const EXAMPLES: &str = include_str!("../../tests/fixtures/expr-examples.json");

fn now(text: Option<&str>) -> DateTime {
    text.and_then(parse_date).map_or(
        DateTime {
            ticks: UNIX_EPOCH_TICKS,
            offset: None,
            local: false,
        },
        DateTime::to_utc,
    )
}

fn attributes(example: &serde_json::Value) -> BTreeMap<String, Value> {
    let mut attrs = BTreeMap::new();
    for key in ["input", "set"] {
        if let Some(object) = example.get(key).and_then(serde_json::Value::as_object) {
            for (name, value) in object {
                attrs.insert(name.clone(), Value::from_json(value).unwrap());
            }
        }
    }
    attrs
}

/// The help for an unsupported IIF is the Switch that does what it meant, made of its own
/// attribute and branches (`Not` swaps them).
#[test]
fn an_unsupported_iif_is_answered_with_its_own_switch() {
    let help = |source: &str| parse(source).unwrap_err().help.unwrap();
    assert!(
        help("IIF(IsNullOrEmpty([department]), \"None\", [department])")
            .contains("Switch([department], [department], \"\", \"None\")"),
    );
    assert!(help("IIF(Not(IsPresent([c])), \"x\", [c])").contains("Switch([c], [c], \"\", \"x\")"),);
    assert!(help("IIF([c] <> \"\", [c], \"none\")").contains("Switch([c], [c], \"\", \"none\")"));
    // Compared with "False" or "True", either way round: the same test, or its opposite.
    assert!(
        help("IIF(IsPresent([c]) = \"False\", \"x\", [c])")
            .contains("Switch([c], [c], \"\", \"x\")")
    );
    assert!(
        help("IIF(\"True\" = IsPresent([c]), [c], \"x\")")
            .contains("Switch([c], [c], \"\", \"x\")")
    );
    // An ordering against "" is refused with no Switch to offer.
    assert!(!help("IIF([c] >= \"\", [c], \"x\")").contains("Switch("));
}

#[test]
fn documented_examples_evaluate_as_documented() {
    let examples: Vec<serde_json::Value> = serde_json::from_str(EXAMPLES).unwrap();
    assert!(examples.len() > 80);
    let mut failures = Vec::new();
    for example in &examples {
        let doc = example["doc"].as_str().unwrap();
        let source = example["expression"].as_str().unwrap();
        // Documented as unsupported: refused with this message, at the expression's place.
        if let Some(refused) = example.get("refused").and_then(serde_json::Value::as_str) {
            match parse(source) {
                Err(err) if err.message.contains(refused) => {}
                other => failures.push(format!("{doc}: expected refused, got {other:?}")),
            }
            continue;
        }
        let parsed = match parse(source) {
            Ok(parsed) => parsed,
            Err(err) => {
                failures.push(format!("{doc}: parse error {err:?}"));
                continue;
            }
        };
        let existing: Vec<String> = example
            .get("existing")
            .and_then(serde_json::Value::as_array)
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        // Salesforce compares Username, Email and unique text without case, as the planner does.
        let is_existing = |v: &str| {
            existing
                .iter()
                .any(|e| e.to_lowercase() == v.to_lowercase())
        };
        let ctx = Context::new(now(example["now"].as_str()), 7).with_existing(&is_existing);
        match evaluate(&parsed, &attributes(example), &ctx) {
            Ok(value) => {
                if value.to_json() != example["expected"] {
                    failures.push(format!(
                        "{doc}: got {value:?}, expected {}",
                        example["expected"]
                    ));
                }
                let ignored = example.get("ignored").is_some_and(|v| v == true);
                if ignored != (value == Value::Ignore) {
                    failures.push(format!("{doc}: ignore flag {ignored} but got {value:?}"));
                }
            }
            Err(err) => failures.push(format!("{doc}: {err}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn eval(source: &str, attrs: &[(&str, &str)]) -> Result<Value, String> {
    let parsed = parse(source).map_err(|e| format!("parse: {} at {:?}", e.message, e.span))?;
    let attrs: BTreeMap<String, Value> = attrs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::Str((*v).to_owned())))
        .collect();
    evaluate(&parsed, &attrs, &Context::new(now(None), 1)).map_err(|e| e.to_string())
}

#[test]
fn parse_errors_name_the_spot_and_what_was_expected() {
    let err = parse("Join(\" \", [a] [b])").unwrap_err();
    assert_eq!(
        (err.message.as_str(), err.span.start),
        ("expected `,` or `)` after an argument", 14)
    );
    let err = parse("join(\" \", [a])").unwrap_err();
    assert_eq!(err.message, "unknown function `join`");
    assert_eq!(
        err.help.as_deref(),
        Some("Did you mean Join? Function names are case-sensitive.")
    );
    // A typo is suggested without the word on case; a name too far from any is not.
    let err = parse("Appnd([a], \"x\")").unwrap_err();
    assert_eq!(err.help.as_deref(), Some("Did you mean Append?"));
    let err = parse("Foo([a])").unwrap_err();
    assert_eq!(err.help, None);
    let err = parse("Left([a])").unwrap_err();
    assert_eq!(err.message, "Left takes 2 arguments, got 1");
    assert_eq!(
        err.help.as_deref(),
        Some("signature: Left(String, NumChars)")
    );
    let err = parse("Append([a], \"x)").unwrap_err();
    assert_eq!(
        (err.message.as_str(), err.span.start),
        ("the string is never closed", 12)
    );
    let err = parse("Append([a] = \"x\", \"y\")").unwrap_err();
    assert!(
        err.message
            .starts_with("comparison operators are only allowed"),
        "{err:?}"
    );
    assert!(
        parse("Switch([a], \"d\", \"k\")").is_err(),
        "Switch keys and values come in pairs"
    );
    assert!(parse("Join(\",\", SelectUniqueValue([a], [b]))").is_err());
    assert!(parse(&format!("Append([a], \"{}\")", "x".repeat(10_000))).is_err());
}

/// Entra's 10,000-character limit counts characters (UTF-16 units, as .NET does), not UTF-8
/// bytes, and the error points at the first character past it.
#[test]
fn the_length_limit_counts_characters_not_bytes() {
    // 9,995 two-byte letters: 19,990 bytes, within the limit.
    let cyrillic = format!("\"{}\"", "Ж".repeat(9_995));
    assert!(parse(&cyrillic).is_ok());
    let err = parse(&format!("\"{}\"", "Ж".repeat(9_999))).unwrap_err();
    assert_eq!(
        err.message,
        "the expression is 10001 characters long; Entra allows at most 10000"
    );
    // Past 10,000 characters: the closing quote, after 9,999 letters of two bytes.
    assert_eq!(err.span.start, 1 + 9_999 * 2);
    // An emoji is two UTF-16 units: 5,000 of them and the quotes are past the limit.
    let err = parse(&format!("\"{}\"", "😀".repeat(5_000))).unwrap_err();
    assert_eq!(
        err.message,
        "the expression is 10002 UTF-16 units long (5002 characters: as Entra counts, an emoji \
         or any character outside the Basic Multilingual Plane is 2); Entra allows at most 10000"
    );
    assert!(
        parse(&"Not(".repeat(100)).is_err(),
        "deep nesting is refused, not a stack overflow"
    );
    assert_eq!(parse("").unwrap_err().message, "the expression is empty");
}

#[test]
fn a_comparison_of_several_values_is_an_error_not_false() {
    let parsed = parse("IIF([p] = \"a\", \"t\", \"f\")").unwrap();
    let attrs: BTreeMap<String, Value> =
        [("p".to_owned(), Value::Multi(vec!["a".into(), "b".into()]))]
            .into_iter()
            .collect();
    let err = evaluate(&parsed, &attrs, &Context::new(now(None), 1)).unwrap_err();
    assert_eq!(err.span, 4..7);
    assert!(
        err.message.starts_with("compares one value but this has 2"),
        "{err}"
    );
}

#[test]
fn unknown_date_formats_and_styles_are_errors_not_silently_wrong() {
    let err = eval(
        "FormatDateTime(\"2026-03-05\", , \"yyyy-MM-dd\", \"x\")",
        &[],
    )
    .unwrap_err();
    assert!(
        err.starts_with(
            "FormatDateTime: argument 4: 'x' is not a .NET standard date and time format"
        ),
        "{err}"
    );
    let err = eval(
        "FormatDateTime(\"2026-03-05\", \"Utc\", \"yyyy-MM-dd\", \"d\")",
        &[],
    )
    .unwrap_err();
    assert!(
        err.starts_with("FormatDateTime: argument 2: \"Utc\" is not a DateTimeStyles value"),
        "{err}"
    );
    assert!(eval("CDate(\"next Tuesday\")", &[]).is_err());
    assert!(
        eval("FormatDateTime(\"2026-03-05\", \"AssumeLocal, AssumeUniversal\", \"yyyy-MM-dd\", \"d\")", &[])
            .unwrap_err()
            .contains("cannot be combined")
    );
    assert!(
        eval("DateFromNum(2650467744000000000)", &[])
            .unwrap_err()
            .contains("out of range")
    );
    assert!(
        eval(
            "FormatDateTime(\"2026-03-05\", \"RoundtripKind, AdjustToUniversal\", \"yyyy-MM-dd\", \"d\")",
            &[]
        )
        .unwrap_err()
        .contains("RoundtripKind cannot be combined")
    );
    // An empty output format is .NET's general format, G.
    assert_eq!(
        eval(
            "FormatDateTime(\"2026-03-05\", , \"yyyy-MM-dd\", \"\")",
            &[]
        )
        .unwrap(),
        Value::Str("03/05/2026 00:00:00".into())
    );
}

#[test]
fn evaluation_errors_name_the_function_and_argument() {
    assert_eq!(
        eval(
            "FormatDateTime([d], , \"yyyy-MM-dd\", \"dd.MM.yyyy\")",
            &[("d", "2021/01/02")]
        )
        .unwrap_err(),
        "FormatDateTime: argument 1: \"2021/01/02\" does not match the format \"yyyy-MM-dd\" (expected \"-\")"
    );
    assert!(
        eval("Replace([a], , \"(\", , \"x\", , )", &[("a", "b")])
            .unwrap_err()
            .starts_with("Replace: argument 3: invalid regular expression")
    );
    assert!(
        eval("DateAdd(\"q\", 1, Now())", &[])
            .unwrap_err()
            .starts_with("DateAdd: argument 1: \"q\" is not an interval")
    );
    assert!(
        eval("Left([a], \"x\")", &[("a", "b")])
            .unwrap_err()
            .contains("expects a whole number")
    );
}

/// A parameter that says how a function works, written with an attribute the user lacks, is
/// named as null (helper-57: "give replacementValue" when it was given; "the delimiter is
/// empty"; `"" is not an interval`); the data a function works on may be null as ever.
#[test]
fn a_null_attribute_in_a_parameter_is_named_as_null() {
    let null = "is null for this user (an attribute without a value), and how Entra reads a \
                null there is not documented";
    for (expression, argument) in [
        ("Replace([a], \"S\", , , [n], , )", 5),
        ("Replace(\"abc\", [n], , , \"x\", , )", 2),
        ("Split(\"a,b\", [n])", 2),
        ("DateAdd([n], 1, Now())", 1),
        ("FormatDateTime(\"2021\", , [n], \"yyyy\")", 3),
    ] {
        assert_eq!(
            eval(expression, &[("a", "Sales")]).unwrap_err(),
            format!(
                "{}: argument {argument}: {null}",
                &expression[..expression.find('(').unwrap()]
            ),
            "{expression}"
        );
    }
    // The data: a null source gives null; mode 5's other attribute may be null.
    assert_eq!(
        eval("Replace([n], \"S\", , , \"x\", , )", &[]).unwrap(),
        Value::Null
    );
    assert_eq!(eval("Split([n], \",\")", &[]).unwrap(), Value::Null);
    // SelectUniqueValue whose candidates all lack a value says so, not "already exists".
    let parsed = parse("SelectUniqueValue([n], [m])").unwrap();
    let attrs: BTreeMap<String, Value> = BTreeMap::new();
    let taken = |_: &str| true;
    let ctx = Context::new(now(None), 1).with_existing(&taken);
    assert_eq!(
        evaluate(&parsed, &attrs, &ctx).unwrap_err().to_string(),
        "SelectUniqueValue: no candidate has a value for this user (each is null or empty)"
    );
}

/// What .NET refuses is refused, with words that say why (helper-57): a date before Windows
/// file times start, and a hex number too large for 64 bits (not "expected a hex number").
#[test]
fn what_dotnet_refuses_is_named() {
    assert_eq!(
        eval("NumFromDate(\"1600-12-31T00:00:00Z\")", &[]).unwrap_err(),
        "NumFromDate: argument 1: is before 1601-01-01, where Windows file times start"
    );
    assert_eq!(
        eval("NumFromDate(\"1601-01-01T00:00:00Z\")", &[]).unwrap(),
        Value::Str("0".to_owned())
    );
    assert_eq!(
        eval("BitAnd(&HFFFFFFFFFFFFFFFFF, 1)", &[]).unwrap_err(),
        "parse: the hex number is too large (at most &H7FFFFFFFFFFFFFFF) at 7..26"
    );
}

#[test]
fn three_outcomes_stay_distinct() {
    assert_eq!(eval("Coalesce([a], [b])", &[]).unwrap(), Value::Null);
    assert_eq!(
        eval("IgnoreFlowIfNullOrEmpty([a])", &[]).unwrap(),
        Value::Ignore
    );
    assert_eq!(
        eval("Join(\"\", IgnoreFlowIfNullOrEmpty([a]), \"x\")", &[]).unwrap(),
        Value::Ignore
    );
    assert_eq!(
        eval("Coalesce([a], \"\")", &[]).unwrap(),
        Value::Str(String::new())
    );
}

#[test]
fn randomness_comes_from_the_context() {
    let parsed = parse("Join(\"|\", Guid(), RandomString(10,2,2,2,1,\"?,\"))").unwrap();
    let attrs = BTreeMap::new();
    let run = |seed| evaluate(&parsed, &attrs, &Context::new(now(None), seed)).unwrap();
    assert_eq!(run(42), run(42), "same seed, same result");
    assert_ne!(run(42), run(43));
    let Value::Str(s) = run(42) else { panic!() };
    let (guid, random) = s.split_once('|').unwrap();
    assert_eq!(guid.len(), 36);
    assert_eq!(&guid[14..15], "4", "a version 4 GUID");
    assert_eq!(random.chars().count(), 10);
    assert!(random.chars().filter(char::is_ascii_digit).count() >= 2);
    assert!(random.chars().filter(char::is_ascii_uppercase).count() >= 2);
    assert!(!random.contains(['?', ',']));
}

#[test]
fn an_expression_draws_random_values_only_through_guid_or_random_string() {
    let draws = |source: &str| draws_random(&parse(source).unwrap());
    assert!(draws("Guid()"));
    assert!(draws(
        "Left(Join(\"\", [givenName], RandomString(4, 1, 1, 1, 1)), 8)"
    ));
    assert!(draws("IIF([a] = Guid(), \"x\", \"y\")"));
    assert!(draws(
        "SelectUniqueValue(Join(\"@\", [mailNickname], \"x\"), Join(\"@\", Left(Guid(), 8), \"x\"))"
    ));
    assert!(!draws("Append([userPrincipalName], \".dev1\")"));
    assert!(!draws("IIF([department] = \"Guid\", Now(), [Guid])"));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parser_never_panics(source in "\\PC{0,80}") {
        let _ = parse(&source);
    }

    #[test]
    fn grammar_shaped_input_never_panics(source in "[A-Za-z\\[\\]\"(), =<>&\\\\0-9-]{0,60}") {
        let _ = parse(&source);
    }

    #[test]
    fn evaluator_never_panics_on_any_attribute_values(
        a in "\\PC{0,30}", b in "\\PC{0,12}", n in prop_oneof!["-?[0-9]{1,4}", "-?[0-9]{15,19}"],
        index in 0..FUNCTION_SAMPLES.len(),
    ) {
        let parsed = parse(FUNCTION_SAMPLES[index]).unwrap();
        let attrs: BTreeMap<String, Value> = [("a", a), ("b", b), ("n", n)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::Str(v)))
            .collect();
        let existing = |_: &str| false;
        let _ = evaluate(&parsed, &attrs, &Context::new(now(None), 3).with_existing(&existing));
    }
}

/// One call of every function over the attributes a, b, n.
const FUNCTION_SAMPLES: &[&str] = &[
    "Append([a], [b])",
    "AppRoleAssignmentsComplex([a])",
    "BitAnd([n], [n])",
    "CBool([a] > [n])",
    "CDate([a])",
    "Coalesce([x], [a], [b])",
    "ConvertToBase64([a])",
    "ConvertToUTF8Hex([a])",
    "Count([a])",
    "CStr([a])",
    "DateAdd([b], [n], [a])",
    "DateDiff([b], [a], Now())",
    "DateFromNum([n])",
    "FormatDateTime([a], , [b], [b])",
    "Guid()",
    "IgnoreFlowIfNullOrEmpty([a])",
    "IIF([a] <= [b], [a], [b])",
    "InStr([a], [b], [n], vbTextCompare)",
    "IsNull([a])",
    "IsNullOrEmpty([a])",
    "IsPresent([a])",
    "IsString([a])",
    "Item(Split([a], \",\"), [n])",
    "Join([b], [a], Split([a], \" \"))",
    "Left([a], [n])",
    "Mid([a], [n], [n])",
    "NormalizeDiacritics([a])",
    "Not([a])",
    "Now()",
    "NumFromDate([a])",
    "PCase([a], [b])",
    "RandomString([n], 0, 0, 0, 0, [b])",
    "Redact([a])",
    "RemoveDuplicates(Split([a], \"a\"))",
    "Replace([a], [b], , , [a], , )",
    "Replace([a], , [b], , [a], , )",
    "Replace([a], , [b], [b], [a], , )",
    "Replace([a], , [b], [b], , [b], )",
    "Replace([a], [b], , , , , [a])",
    "SelectUniqueValue([a], [b])",
    "SingleAppRoleAssignment([a])",
    "Split([a], [b])",
    "StripSpaces([a])",
    "Switch([a], [b], [b], [a], \"\", [n])",
    "ToLower([a], [b])",
    "ToUpper([a], \"tr-TR\")",
    "Word([a], [n], [b])",
    "DateAdd(\"m\", [n], Now())",
    "DateAdd(\"yyyy\", [n], Now())",
    "DateAdd(\"s\", [n], Now())",
    "DateAdd(\"ww\", [n], [a])",
    "Mid([a], [n], 2)",
    "Left([a], [n])",
];

#[test]
fn the_ignore_keywords_are_outcomes_not_functions() {
    let eval = |source: &str, attrs: &[(&str, &str)]| {
        let attrs: BTreeMap<String, Value> = attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::Str((*v).to_owned())))
            .collect();
        let ctx = Context::new(now(Some("2026-06-01T00:00:00Z")), 1);
        evaluate(&parse(source).unwrap(), &attrs, &ctx).unwrap()
    };
    // Microsoft's hire-date example: a start in the future flows, one in the past is dropped.
    let hire =
        r#"IIF(DateDiff("d", Now(), CDate([hireDate])) >= 0, [department], IgnoreAttributeFlow)"#;
    assert_eq!(
        eval(
            hire,
            &[
                ("hireDate", "2026-09-01T00:00:00Z"),
                ("department", "Sales")
            ]
        ),
        Value::Str("Sales".into())
    );
    assert_eq!(
        eval(
            hire,
            &[
                ("hireDate", "2026-01-01T00:00:00Z"),
                ("department", "Sales")
            ]
        ),
        Value::Ignore
    );
    // IgnoreObjectFlow skips the object from wherever it is reached, and only when reached.
    let switch = r#"Switch([employeeType], [department], "Contractor", IgnoreObjectFlow)"#;
    assert_eq!(
        eval(switch, &[("employeeType", "Contractor")]),
        Value::IgnoreObject
    );
    assert_eq!(
        eval(
            switch,
            &[("employeeType", "Employee"), ("department", "Ops")]
        ),
        Value::Str("Ops".into())
    );
    assert_eq!(
        eval(r#"Join(",", "a", IgnoreObjectFlow)"#, &[]),
        Value::IgnoreObject
    );
    assert_eq!(eval("IgnoreAttributeFlow", &[]), Value::Ignore);
    // Both are null in JSON, and neither is a function.
    assert_eq!(Value::IgnoreObject.to_json(), serde_json::Value::Null);
    let err = parse("IgnoreObjectFlow()").unwrap_err();
    assert!(!err.message.contains("unknown function"), "{err:?}");
}

/// Attributes that count how often each is read.
struct Counted(std::cell::RefCell<BTreeMap<String, usize>>);

impl Attributes for Counted {
    fn attribute(&self, name: crate::sorted_map::Name) -> Value {
        *self.0.borrow_mut().entry(name.to_string()).or_default() += 1;
        Value::Str(format!("{name}-value"))
    }
}

#[test]
fn each_argument_is_evaluated_once_however_deep_the_nesting() {
    // Evaluating a call's arguments once to look for Ignore and again to use them read the
    // innermost attribute 2^depth times: 8 here.
    let parsed = parse(r#"Left(Join("", Left([givenName], 1), [surname]), 8)"#).unwrap();
    let attributes = Counted(std::cell::RefCell::default());
    let value = evaluate(&parsed, &attributes, &Context::new(now(None), 1)).unwrap();
    assert_eq!(value, Value::Str("gsurname".to_owned()));
    let reads = attributes.0.into_inner();
    assert_eq!(reads.get("givenName"), Some(&1), "{reads:?}");
    assert_eq!(reads.get("surname"), Some(&1), "{reads:?}");
}

/// Attributes that lend their text (`Attributes::text`), as a source user's do.
struct Lending(BTreeMap<String, Value>);

impl Attributes for Lending {
    fn attribute(&self, name: crate::sorted_map::Name) -> Value {
        self.0.attribute(name)
    }

    fn text(&self, name: crate::sorted_map::Name) -> Option<&str> {
        match self.0.get(&*name)? {
            Value::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// The functions that read an attribute's text without a copy (Append, Join, Left) give what
/// they give reading its value: the same text, null, errors and Unicode cuts.
#[test]
fn an_attribute_read_without_a_copy_is_read_as_its_value() {
    let mut attrs: BTreeMap<String, Value> = [
        ("given", "Émile"),
        ("sur", "Zola"),
        ("empty", ""),
        ("kanji", "\u{20bb7}田"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), Value::Str(v.to_owned())))
    .collect();
    attrs.insert("multi".into(), Value::Multi(vec!["a".into(), "b".into()]));
    let ctx = Context::new(now(None), 1);
    for source in [
        "Append([given], [sur])",
        r#"Append([sur], ".dev1")"#,
        "Append([missing], [sur])",
        "Append([given], [missing])",
        "Append([multi], [sur])",
        "Append([given], [multi])",
        r#"Join(" ", [given], [empty], [missing], [sur], [multi])"#,
        r#"Join("", Left([given], 1), [sur])"#,
        r#"Left(Join("", Left([given], 1), [sur]), 8)"#,
        "Left([kanji], 1)",
        "Left([kanji], 2)",
        "Left([given], 0)",
        "Left([given], -1)",
        "Left([missing], 3)",
        "Left([multi], 3)",
    ] {
        let parsed = parse(source).unwrap();
        assert_eq!(
            evaluate(&parsed, &Lending(attrs.clone()), &ctx),
            evaluate(&parsed, &attrs, &ctx),
            "{source}"
        );
    }
    let lent = |source: &str| evaluate(&parse(source).unwrap(), &Lending(attrs.clone()), &ctx);
    assert_eq!(
        lent(r#"Join(" ", [given], [empty], [sur], [multi])"#),
        Ok(Value::Str("Émile Zola a b".to_owned()))
    );
    assert_eq!(lent("Left([kanji], 1)"), Ok(Value::Str(String::new())));
    assert_eq!(
        lent(r#"Append([sur], ".dev1")"#),
        Ok(Value::Str("Zola.dev1".to_owned()))
    );
}

/// What evaluation refuses for every user, `constant_problems` names before any user is read:
/// a start before the first character, a negative length.
#[test]
fn out_of_range_whole_numbers_are_constant_problems() {
    for (text, expected) in [
        (
            "Mid([a], 0, 8)",
            "Mid: argument 2: start must be 1 or more, not 0",
        ),
        (
            "Mid([a], \"1\", -2)",
            "Mid: argument 3: length must be 0 or more, not -2",
        ),
        (
            "InStr([a], \"x\", 0)",
            "InStr: argument 3: start must be 1 or more, not 0",
        ),
    ] {
        let parsed = super::parse(text).unwrap();
        let mut found = Vec::new();
        super::constant_problems(&parsed, &mut found);
        let said: Vec<&str> = found.iter().map(|(_, why)| why.as_str()).collect();
        assert_eq!(said, [expected], "{text}");
        // Evaluation fails too: the check says nothing the run would not.
        assert!(eval(text, &[("a", "abc")]).is_err(), "{text}");
    }
    for fine in ["Mid([a], 1, 0)", "InStr([a], \"x\", 1)", "Mid([a], [b], 2)"] {
        let mut found = Vec::new();
        super::constant_problems(&super::parse(fine).unwrap(), &mut found);
        assert!(found.is_empty(), "{fine}: {found:?}");
    }
}
