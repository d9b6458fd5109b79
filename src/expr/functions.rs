//! The catalogue of Entra's documented functions: names (case-sensitive), signatures and
//! argument counts. The parser checks calls against it; `eval` implements each one.

/// How many arguments a function takes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Arity {
    Exactly(usize),
    Between(usize, usize),
    AtLeast(usize),
    /// `Switch(source, defaultValue, key1, value1, ...)`: an even count of at least four.
    SwitchPairs,
}

/// One documented function.
#[derive(Debug)]
pub(crate) struct Function {
    pub(crate) name: &'static str,
    pub(crate) signature: &'static str,
    pub(crate) arity: Arity,
    /// Positions that may not be empty slots.
    required: &'static [usize],
}

impl Function {
    /// Whether argument `index` must be given.
    pub(crate) fn required(&self, index: usize) -> bool {
        self.required.contains(&index)
    }
}

const fn f(
    name: &'static str,
    signature: &'static str,
    arity: Arity,
    required: &'static [usize],
) -> Function {
    Function {
        name,
        signature,
        arity,
        required,
    }
}

use Arity::{AtLeast, Between, Exactly, SwitchPairs};

/// Every function of Microsoft's reference, in its order.
pub(crate) const FUNCTIONS: &[Function] = &[
    f("Append", "Append(source, suffix)", Exactly(2), &[0, 1]),
    f(
        "AppRoleAssignmentsComplex",
        "AppRoleAssignmentsComplex([appRoleAssignments])",
        Exactly(1),
        &[0],
    ),
    f(
        "AssertiveAppRoleAssignmentsComplex",
        "AssertiveAppRoleAssignmentsComplex([appRoleAssignments])",
        Exactly(1),
        &[0],
    ),
    f("BitAnd", "BitAnd(value1, value2)", Exactly(2), &[0, 1]),
    f("CBool", "CBool(Expression)", Exactly(1), &[0]),
    f("CDate", "CDate(expression)", Exactly(1), &[0]),
    f(
        "Coalesce",
        "Coalesce(source1, source2, ..., defaultValue)",
        AtLeast(1),
        &[0],
    ),
    f(
        "ConvertToBase64",
        "ConvertToBase64(source)",
        Exactly(1),
        &[0],
    ),
    f(
        "ConvertToUTF8Hex",
        "ConvertToUTF8Hex(source)",
        Exactly(1),
        &[0],
    ),
    f("Count", "Count(attribute)", Exactly(1), &[0]),
    f("CStr", "CStr(value)", Exactly(1), &[0]),
    f(
        "DateAdd",
        "DateAdd(interval, value, dateTime)",
        Exactly(3),
        &[0, 1, 2],
    ),
    f(
        "DateDiff",
        "DateDiff(interval, date1, date2)",
        Exactly(3),
        &[0, 1, 2],
    ),
    f("DateFromNum", "DateFromNum(value)", Exactly(1), &[0]),
    f(
        "FormatDateTime",
        "FormatDateTime(source, dateTimeStyles, inputFormat, outputFormat)",
        Between(3, 4),
        &[0, 2],
    ),
    f("Guid", "Guid()", Exactly(0), &[]),
    f(
        "IgnoreFlowIfNullOrEmpty",
        "IgnoreFlowIfNullOrEmpty(expression)",
        Exactly(1),
        &[0],
    ),
    f(
        "IIF",
        "IIF(condition, valueIfTrue, valueIfFalse)",
        Exactly(3),
        &[0],
    ),
    f(
        "InStr",
        "InStr(value1, value2, start, compareType)",
        Between(2, 4),
        &[0, 1],
    ),
    f("IsNull", "IsNull(Expression)", Exactly(1), &[0]),
    f(
        "IsNullOrEmpty",
        "IsNullOrEmpty(Expression)",
        Exactly(1),
        &[0],
    ),
    f("IsPresent", "IsPresent(Expression)", Exactly(1), &[0]),
    f("IsString", "IsString(Expression)", Exactly(1), &[0]),
    f("Item", "Item(attribute, index)", Exactly(2), &[0, 1]),
    f(
        "Join",
        "Join(separator, source1, source2, ...)",
        AtLeast(2),
        &[],
    ),
    f("Left", "Left(String, NumChars)", Exactly(2), &[0, 1]),
    f("Mid", "Mid(source, start, length)", Exactly(3), &[0, 1, 2]),
    f(
        "NormalizeDiacritics",
        "NormalizeDiacritics(source)",
        Exactly(1),
        &[0],
    ),
    f("Not", "Not(source)", Exactly(1), &[0]),
    f("Now", "Now()", Exactly(0), &[]),
    f("NumFromDate", "NumFromDate(value)", Exactly(1), &[0]),
    f(
        "PCase",
        "PCase(source, wordSeparators)",
        Between(1, 2),
        &[0],
    ),
    f(
        "RandomString",
        "RandomString(Length, MinimumNumbers, MinimumSpecialCharacters, MinimumCapital, MinimumLowerCase, CharactersToAvoid)",
        Between(5, 6),
        &[0, 1, 2, 3, 4],
    ),
    f("Redact", "Redact(attribute/value)", Exactly(1), &[0]),
    f(
        "RemoveDuplicates",
        "RemoveDuplicates(attribute)",
        Exactly(1),
        &[0],
    ),
    f(
        "Replace",
        "Replace(source, oldValue, regexPattern, regexGroupName, replacementValue, replacementAttributeName, template)",
        Exactly(7),
        &[0],
    ),
    f(
        "SelectUniqueValue",
        "SelectUniqueValue(uniqueValueRule1, uniqueValueRule2, ...)",
        AtLeast(2),
        &[0, 1],
    ),
    f(
        "SingleAppRoleAssignment",
        "SingleAppRoleAssignment([appRoleAssignments])",
        Exactly(1),
        &[0],
    ),
    f("Split", "Split(source, delimiter)", Exactly(2), &[0, 1]),
    f("StripSpaces", "StripSpaces(source)", Exactly(1), &[0]),
    f(
        "Switch",
        "Switch(source, defaultValue, key1, value1, key2, value2, ...)",
        SwitchPairs,
        &[0],
    ),
    f("ToLower", "ToLower(source, culture)", Between(1, 2), &[0]),
    f("ToUpper", "ToUpper(source, culture)", Between(1, 2), &[0]),
    f(
        "Word",
        "Word(String, WordNumber, Delimiters)",
        Exactly(3),
        &[0, 1, 2],
    ),
];

/// The function with exactly this name (names are case-sensitive, as Entra's).
pub(crate) fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Why roster refuses a documented function for Salesforce, when it does: the complex app-role
/// functions give every role as an object for apps that take several (SCIM `roles`), and a
/// Salesforce user has one profile.
pub(crate) fn refused_for_salesforce(name: &str) -> Option<&'static str> {
    matches!(
        name,
        "AppRoleAssignmentsComplex" | "AssertiveAppRoleAssignmentsComplex"
    )
    .then_some(
        "gives every app role as an object, for apps that take several roles; a Salesforce \
         user has one profile: use SingleAppRoleAssignment([appRoleAssignments]), or a \
         `roles` rule per app role",
    )
}

/// All function names, for suggestions.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|f| f.name)
}
