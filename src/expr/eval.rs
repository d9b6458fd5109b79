//! Evaluates a parsed expression against a source user's attributes. Pure: the clock and the
//! randomness of `Now`, `Guid` and `RandomString`, and the target values `SelectUniqueValue`
//! checks, come from the `Context` the caller builds.

use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;

use super::dates::{self, DateTime, Interval};
use super::dotnet_format;
use super::replace::{ReplaceArgs, replace};
use super::syntax::{CompareOp, Expr, ExprKind};
use super::text;
use super::value::{Attributes, Value};

/// What evaluation may not take from the world itself.
pub(crate) struct Context<'a> {
    /// The current time (UTC) for `Now`.
    pub(crate) now: DateTime,
    rng: Cell<u64>,
    /// Whether a value already exists in the target field, for `SelectUniqueValue`.
    existing: Option<&'a dyn Fn(&str) -> bool>,
}

impl<'a> Context<'a> {
    pub(crate) fn new(now: DateTime, seed: u64) -> Self {
        Context {
            now,
            rng: Cell::new(seed),
            existing: None,
        }
    }

    pub(crate) fn with_existing(mut self, existing: &'a dyn Fn(&str) -> bool) -> Self {
        self.existing = Some(existing);
        self
    }

    /// splitmix64: small, fast, and deterministic for a seed.
    fn next_u64(&self) -> u64 {
        let mut z = self.rng.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        self.rng.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n as u64)).unwrap_or(0)
    }
}

/// An evaluation failure: which function, which part, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{function}: {message}")]
pub(crate) struct EvalError {
    pub(crate) function: &'static str,
    pub(crate) span: Range<usize>,
    pub(crate) message: String,
}

type Result<T> = std::result::Result<T, EvalError>;

/// Evaluates `expr` for one user. `IgnoreObjectFlow` reached anywhere the evaluation goes
/// ends it: the result is `Value::IgnoreObject`, whatever function it was an argument of.
pub(crate) fn evaluate(
    expr: &Expr,
    attributes: &dyn Attributes,
    ctx: &Context<'_>,
) -> Result<Value> {
    match (Evaluator { attributes, ctx }).value(expr) {
        Err(e) if e.function == IGNORE_OBJECT => Ok(Value::IgnoreObject),
        // What flows to an attribute is text: a date-time becomes Entra's general form.
        other => other.map(Value::flowed),
    }
}

/// The marker `IgnoreObjectFlow` travels up as: it skips the object, whatever called it.
const IGNORE_OBJECT: &str = "IgnoreObjectFlow";

struct Evaluator<'e> {
    attributes: &'e dyn Attributes,
    ctx: &'e Context<'e>,
}

/// The arguments of one call, with what errors need.
struct Call<'c> {
    name: &'static str,
    span: Range<usize>,
    args: &'c [Option<Expr>],
    /// The arguments' values once `all` has evaluated them: reading an argument takes its value,
    /// so each is evaluated once (nested calls evaluated twice at every level cost 2^depth).
    /// An argument read a second time is evaluated again.
    evaluated: std::cell::RefCell<Vec<Option<Value>>>,
}

impl Call<'_> {
    fn error(&self, message: impl Into<String>) -> EvalError {
        EvalError {
            function: self.name,
            span: self.span.clone(),
            message: message.into(),
        }
    }

    fn arg_error(&self, index: usize, message: impl Into<String>) -> EvalError {
        let span = self
            .args
            .get(index)
            .and_then(Option::as_ref)
            .map_or(self.span.clone(), |e| e.span.clone());
        EvalError {
            function: self.name,
            span,
            message: format!("argument {}: {}", index + 1, message.into()),
        }
    }
}

impl<'e> Evaluator<'e> {
    fn value(&self, expr: &Expr) -> Result<Value> {
        match &expr.kind {
            ExprKind::Attribute(name) => Ok(self.attributes.attribute(*name)),
            ExprKind::Str(s) => Ok(Value::Str(s.clone())),
            ExprKind::Int(n) => Ok(Value::Str(n.to_string())),
            ExprKind::TextCompare(text) => Ok(Value::Str(
                if *text {
                    "vbTextCompare"
                } else {
                    "vbBinaryCompare"
                }
                .to_owned(),
            )),
            ExprKind::IgnoreFlow { object: false } => Ok(Value::Ignore),
            ExprKind::IgnoreFlow { object: true } => Err(EvalError {
                function: IGNORE_OBJECT,
                span: expr.span.clone(),
                message: "the object is skipped".to_owned(),
            }),
            ExprKind::Compare { .. } => Ok(Value::bool(self.condition(expr)?)),
            ExprKind::Call { name, args } => self.call(&Call {
                name,
                span: expr.span.clone(),
                args,
                evaluated: std::cell::RefCell::default(),
            }),
        }
    }

    /// A condition of IIF: a comparison, or a value that is "True". As documented, a null or
    /// empty operand makes the check fail.
    fn condition(&self, expr: &Expr) -> Result<bool> {
        let ExprKind::Compare { op, left, right } = &expr.kind else {
            return Ok(
                matches!(self.value(expr)?, Value::Str(s) if s.eq_ignore_ascii_case("true")),
            );
        };
        let operand = |side: &Expr| -> Result<Option<Value>> {
            match self.value(side)? {
                // No values is empty; one value is that value.
                Value::Multi(values) if values.is_empty() => Ok(None),
                Value::Multi(mut values) if values.len() == 1 => Ok(values.pop().map(Value::Str)),
                Value::Multi(values) => Err(EvalError {
                    function: "comparison",
                    span: side.span.clone(),
                    message: format!(
                        "compares one value but this has {}; pick one with Item() or combine \
                         them with Join()",
                        values.len()
                    ),
                }),
                Value::Null | Value::Ignore | Value::IgnoreObject => Ok(None),
                Value::Str(s) if s.is_empty() => Ok(None),
                other => Ok(Some(other)),
            }
        };
        // As documented, a null or empty operand makes the comparison false.
        let (Some(a), Some(b)) = (operand(left)?, operand(right)?) else {
            return Ok(false);
        };
        // Date-times compare as instants, also with text that reads as a date; numbers as
        // numbers; anything else as ordinal text.
        let instant = |v: &Value| match v {
            Value::Date(d) => Some(d.to_utc().ticks),
            Value::Str(s) => dates::parse_lenient(s).map(|d| d.to_utc().ticks),
            _ => None,
        };
        let text = |v: Value| match v {
            Value::Str(s) => s,
            Value::Date(d) => dates::format_general(d),
            _ => String::new(),
        };
        let ordering = if matches!(a, Value::Date(_)) || matches!(b, Value::Date(_)) {
            match (instant(&a), instant(&b)) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => Some(text(a).cmp(&text(b))),
            }
        } else {
            let (a, b) = (text(a), text(b));
            // Whole numbers exactly; decimals as floats; "inf" and "NaN" are text.
            let decimal = |t: &str| {
                let t = t.trim();
                t.bytes()
                    .all(|c| c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.' | b'e' | b'E'))
                    .then(|| t.parse::<f64>().ok())
                    .flatten()
                    .filter(|f| f.is_finite())
            };
            match (a.trim().parse::<i128>(), b.trim().parse::<i128>()) {
                (Ok(x), Ok(y)) => Some(x.cmp(&y)),
                _ => match (decimal(&a), decimal(&b)) {
                    (Some(x), Some(y)) => x.partial_cmp(&y),
                    _ => Some(a.cmp(&b)),
                },
            }
        };
        let Some(ordering) = ordering else {
            return Ok(false);
        };
        Ok(match op {
            CompareOp::Eq => ordering.is_eq(),
            CompareOp::Ne => ordering.is_ne(),
            CompareOp::Gt => ordering.is_gt(),
            CompareOp::Ge => ordering.is_ge(),
            CompareOp::Lt => ordering.is_lt(),
            CompareOp::Le => ordering.is_le(),
        })
    }

    /// Evaluates argument `i`; an empty slot is null.
    fn arg(&self, call: &Call<'_>, i: usize) -> Result<Value> {
        if let Some(value) = call
            .evaluated
            .borrow_mut()
            .get_mut(i)
            .and_then(Option::take)
        {
            return Ok(value);
        }
        match call.args.get(i) {
            Some(Some(expr)) => self.value(expr),
            _ => Ok(Value::Null),
        }
    }

    /// Argument `i` as one string; `None` when null. Multi-valued input is an error.
    fn text(&self, call: &Call<'_>, i: usize) -> Result<Option<String>> {
        Self::as_text(call, i, self.arg(call, i)?)
    }

    /// Argument `i` as `text` gives it, but borrowed when it is an attribute holding one
    /// string (`Attributes::text`): no copy of it is made to be read.
    fn text_ref(&self, call: &Call<'_>, i: usize) -> Result<Option<Cow<'e, str>>> {
        if let Some(text) = self.attribute_text(call, i) {
            return Ok(Some(Cow::Borrowed(text)));
        }
        Ok(self.text(call, i)?.map(Cow::Owned))
    }

    /// Argument `i`'s text, borrowed, when it is an attribute holding one string.
    fn attribute_text(&self, call: &Call<'_>, i: usize) -> Option<&'e str> {
        match call.args.get(i) {
            Some(Some(Expr {
                kind: ExprKind::Attribute(name),
                ..
            })) => self.attributes.text(*name),
            _ => None,
        }
    }

    /// Argument `i` as one string, for a parameter that says how the function works rather
    /// than the data it works on (Replace's oldValue, Split's delimiter, DateAdd's interval):
    /// `None` only when the slot is left empty. A slot written with an attribute the user lacks
    /// is an error naming it: a null there is not "not given", and how Entra reads one is not
    /// documented (`../shared/reference/entra-provisioning.md`, the functions' table), so
    /// roster does not guess.
    fn given_text(&self, call: &Call<'_>, i: usize) -> Result<Option<String>> {
        let written = call.args.get(i).is_some_and(Option::is_some);
        match self.text(call, i)? {
            None if written => Err(call.arg_error(
                i,
                "is null for this user (an attribute without a value), and how Entra reads a \
                 null there is not documented",
            )),
            text => Ok(text),
        }
    }

    /// Argument `i`'s value, already evaluated, as one string.
    fn as_text(call: &Call<'_>, i: usize, value: Value) -> Result<Option<String>> {
        match value {
            Value::Null | Value::Ignore | Value::IgnoreObject => Ok(None),
            Value::Str(s) => Ok(Some(s)),
            Value::Date(d) => Ok(Some(dates::format_general(d))),
            Value::Multi(values) => Err(call.arg_error(
                i,
                format!("expects one value but got a multi-valued one ({}); pick one with Item() or combine them with Join()", values.len()),
            )),
        }
    }

    fn int(&self, call: &Call<'_>, i: usize) -> Result<Option<i64>> {
        // A literal needs no round trip through text.
        if let Some(Some(Expr {
            kind: ExprKind::Int(n),
            ..
        })) = call.args.get(i)
        {
            return Ok(Some(*n));
        }
        match self.text(call, i)? {
            None => Ok(None),
            Some(s) => s
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| call.arg_error(i, format!("expects a whole number, got {s:?}"))),
        }
    }

    fn required_int(&self, call: &Call<'_>, i: usize) -> Result<i64> {
        self.int(call, i)?
            .ok_or_else(|| call.arg_error(i, "expects a whole number, got null"))
    }

    /// Argument `i` as a date-time: a date-time value as it is, text parsed.
    fn date(&self, call: &Call<'_>, i: usize) -> Result<Option<DateTime>> {
        let value = self.arg(call, i)?;
        if let Value::Date(d) = value {
            return Ok(Some(d));
        }
        match Self::as_text(call, i, value)? {
            None => Ok(None),
            Some(s) => dates::parse_lenient(&s).map(Some).ok_or_else(|| {
                call.arg_error(i, format!("{s:?} is not a date (expected e.g. 2021-08-31T10:00:00Z or 8/31/2021 10:00:00 AM)"))
            }),
        }
    }

    fn interval(&self, call: &Call<'_>) -> Result<Interval> {
        let text = self.given_text(call, 0)?.unwrap_or_default();
        Interval::parse(&text).ok_or_else(|| {
            call.arg_error(
                0,
                format!("{text:?} is not an interval; use yyyy, m, d, ww, h, n or s"),
            )
        })
    }

    /// Evaluates every argument, in order, for the call's arms to read (`arg`); `Some(Ignore)`
    /// if one of them is Ignore.
    fn all(&self, call: &Call<'_>) -> Result<Option<Value>> {
        // Made when the first argument is evaluated: a call of literals and attributes alone
        // (`Append([userPrincipalName], ".dev1")`) allocates none.
        let mut values: Vec<Option<Value>> = Vec::new();
        for i in 0..call.args.len() {
            // A literal or an attribute is never Ignore: left for `arg` to read if the arm wants
            // it (`int` reads a number without making its text, `text_ref` an attribute's text
            // without a copy).
            if let Some(Some(Expr {
                kind:
                    ExprKind::Str(_)
                    | ExprKind::Int(_)
                    | ExprKind::TextCompare(_)
                    | ExprKind::Attribute(_),
                ..
            })) = call.args.get(i)
            {
                continue;
            }
            match self.arg(call, i)? {
                Value::Ignore => return Ok(Some(Value::Ignore)),
                v => {
                    if values.is_empty() {
                        values.reserve_exact(call.args.len());
                    }
                    // The slots before it left for `arg` stay empty.
                    values.resize_with(i, || None);
                    values.push(Some(v));
                }
            }
        }
        *call.evaluated.borrow_mut() = values;
        Ok(None)
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per documented function reads best as a table"
    )]
    fn call(&self, call: &Call<'_>) -> Result<Value> {
        let str_or_null = |s: Option<String>| s.map_or(Value::Null, Value::Str);
        // Functions whose arguments are evaluated lazily or looked at whole.
        match call.name {
            "IIF" => {
                let Some(Some(condition)) = call.args.first() else {
                    return Ok(Value::Null);
                };
                let chosen = if self.condition(condition)? { 1 } else { 2 };
                return self.arg(call, chosen);
            }
            "Switch" => return self.switch(call),
            "Coalesce" => {
                for i in 0..call.args.len() {
                    match self.arg(call, i)? {
                        Value::Null => {}
                        other => return Ok(other),
                    }
                }
                return Ok(Value::Null);
            }
            "IgnoreFlowIfNullOrEmpty" => {
                let value = self.arg(call, 0)?;
                return Ok(if value.is_null_or_empty() {
                    Value::Ignore
                } else {
                    value
                });
            }
            "IsNull" => {
                return Ok(Value::bool(matches!(
                    self.arg(call, 0)?,
                    Value::Null | Value::Ignore | Value::IgnoreObject
                )));
            }
            "IsNullOrEmpty" => return Ok(Value::bool(self.arg(call, 0)?.is_null_or_empty())),
            "IsPresent" => return Ok(Value::bool(!self.arg(call, 0)?.is_null_or_empty())),
            "IsString" => return Ok(Value::bool(matches!(self.arg(call, 0)?, Value::Str(_)))),
            "SelectUniqueValue" => return self.select_unique(call),
            "CBool" => {
                let Some(Some(expr)) = call.args.first() else {
                    return Ok(Value::Null);
                };
                if matches!(expr.kind, ExprKind::Compare { .. }) {
                    return Ok(Value::bool(self.condition(expr)?));
                }
                return Ok(match self.value(expr)? {
                    Value::Str(s) if s.eq_ignore_ascii_case("true") => Value::bool(true),
                    Value::Str(s) => Value::bool(s.trim().parse::<f64>().is_ok_and(|n| n != 0.0)),
                    Value::Ignore => Value::Ignore,
                    _ => Value::bool(false),
                });
            }
            _ => {}
        }
        if let Some(ignore) = self.all(call)? {
            return Ok(ignore);
        }
        Ok(match call.name {
            "Append" => match (self.text_ref(call, 0)?, self.text_ref(call, 1)?) {
                (Some(a), None) => Value::Str(a.into_owned()),
                // Made at its length: `a` grown in place was a reallocation, which cost more
                // than a new string (an Append per user in most configs).
                (Some(a), Some(b)) => {
                    let mut text = String::with_capacity(a.len() + b.len());
                    text.push_str(&a);
                    text.push_str(&b);
                    Value::Str(text)
                }
                (None, _) => Value::Null,
            },
            name @ ("AppRoleAssignmentsComplex" | "AssertiveAppRoleAssignmentsComplex") => {
                return Err(
                    call.error(super::functions::refused_for_salesforce(name).unwrap_or_default())
                );
            }
            "SingleAppRoleAssignment" => match self.arg(call, 0)? {
                // Entra guarantees nothing with several roles; roster takes the first by name.
                Value::Multi(mut roles) => {
                    roles.sort();
                    roles.into_iter().next().map_or(Value::Null, Value::Str)
                }
                other => other,
            },
            "BitAnd" => match (self.int(call, 0)?, self.int(call, 1)?) {
                (Some(a), Some(b)) => Value::Str((a & b).to_string()),
                _ => Value::Null,
            },
            "CDate" => self
                .date(call, 0)?
                .map_or(Value::Null, |d| Value::Date(d.to_utc())),
            "ConvertToBase64" => str_or_null(self.text(call, 0)?.map(|s| {
                let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                text::base64(&utf16)
            })),
            "ConvertToUTF8Hex" => str_or_null(
                self.text(call, 0)?
                    .map(|s| crate::digest::hex(s.as_bytes(), true)),
            ),
            "Count" => Value::Str(
                match self.arg(call, 0)? {
                    Value::Multi(v) => v.len(),
                    Value::Str(_) | Value::Date(_) => 1,
                    Value::Null | Value::Ignore | Value::IgnoreObject => 0,
                }
                .to_string(),
            ),
            // Redact hides values in Entra's logs only; the value itself flows.
            "CStr" | "Redact" => self.arg(call, 0)?,
            "DateAdd" => {
                let interval = self.interval(call)?;
                let amount = self.required_int(call, 1)?;
                match self.date(call, 2)? {
                    None => Value::Null,
                    Some(d) => {
                        let result = dates::add(interval, amount, d.to_utc())
                            .ok_or_else(|| call.error("the result is outside years 1 to 9999"))?;
                        Value::Date(result)
                    }
                }
            }
            "DateDiff" => {
                let interval = self.interval(call)?;
                match (self.date(call, 1)?, self.date(call, 2)?) {
                    (Some(a), Some(b)) => Value::Str(dates::diff(interval, a, b).to_string()),
                    _ => Value::Null,
                }
            }
            "DateFromNum" => match self.int(call, 0)? {
                None => Value::Null,
                Some(n) => {
                    // Active Directory's dates count from 1601 (.NET's FromFileTimeUtc refuses a
                    // negative count) to the end of year 9999, as DateAdd allows.
                    let ticks = n
                        .checked_add(dates::FILETIME_EPOCH_TICKS)
                        .filter(|t| n >= 0 && (0..dates::MAX_TICKS).contains(t))
                        .ok_or_else(|| {
                            call.arg_error(0, "out of range (0, 1601-01-01, to the end of 9999)")
                        })?;
                    Value::Date(DateTime {
                        ticks,
                        offset: None,
                        local: false,
                    })
                }
            },
            // .NET's ToFileTimeUtc refuses a date before its epoch (1601-01-01), as
            // DateFromNum does a negative number.
            "NumFromDate" => match self.date(call, 0)? {
                None => Value::Null,
                Some(d) => {
                    let filetime = d.to_utc().ticks - dates::FILETIME_EPOCH_TICKS;
                    if filetime < 0 {
                        return Err(call
                            .arg_error(0, "is before 1601-01-01, where Windows file times start"));
                    }
                    Value::Str(filetime.to_string())
                }
            },
            "FormatDateTime" => self.format_date_time(call)?,
            "Guid" => Value::Str(self.guid()),
            "Now" => Value::Date(self.ctx.now),
            "InStr" => self.instr(call)?,
            "Item" => {
                let index = self.required_int(call, 1)?;
                let values = match self.arg(call, 0)? {
                    Value::Multi(v) => v,
                    Value::Str(s) => vec![s],
                    _ => Vec::new(),
                };
                usize::try_from(index.saturating_sub(1))
                    .ok()
                    .and_then(|i| values.into_iter().nth(i))
                    .map_or(Value::Null, Value::Str)
            }
            "Join" => {
                let separator = self.text(call, 0)?.unwrap_or_default();
                // The non-empty parts (an attribute's borrowed), then the text made at its
                // length.
                let mut parts: Vec<Cow<'_, str>> = Vec::with_capacity(call.args.len());
                for i in 1..call.args.len() {
                    if let Some(text) = self.attribute_text(call, i) {
                        parts.push(Cow::Borrowed(text));
                        continue;
                    }
                    match self.arg(call, i)? {
                        Value::Str(s) => parts.push(Cow::Owned(s)),
                        Value::Multi(values) => parts.extend(values.into_iter().map(Cow::Owned)),
                        Value::Date(d) => parts.push(Cow::Owned(dates::format_general(d))),
                        Value::Null | Value::Ignore | Value::IgnoreObject => {}
                    }
                }
                parts.retain(|p| !p.is_empty());
                let length = parts.iter().map(|p| p.len()).sum::<usize>()
                    + separator.len() * parts.len().saturating_sub(1);
                let mut joined = String::with_capacity(length);
                for (n, part) in parts.iter().enumerate() {
                    if n > 0 {
                        joined.push_str(&separator);
                    }
                    joined.push_str(part);
                }
                Value::Str(joined)
            }
            "Left" => {
                let n = self.required_int(call, 1)?;
                // The first characters are the text's start: cut where they end.
                let s = self.text_ref(call, 0)?.unwrap_or_default();
                let end = text::utf16_range(&s, 0, usize::try_from(n).unwrap_or(usize::MAX)).end;
                Value::Str(match s {
                    Cow::Borrowed(s) => s[..end].to_owned(),
                    Cow::Owned(mut s) => {
                        s.truncate(end);
                        s
                    }
                })
            }
            "Mid" => {
                let start = self.required_int(call, 1)?;
                let length = self.required_int(call, 2)?;
                if start < 1 || length < 0 {
                    return Err(call.error(format!(
                        "start must be 1 or more and length 0 or more, got {start} and {length}"
                    )));
                }
                str_or_null(self.text(call, 0)?.map(|s| {
                    text::utf16_slice(
                        &s,
                        usize::try_from(start - 1).unwrap_or(usize::MAX),
                        usize::try_from(length).unwrap_or(0),
                    )
                }))
            }
            "NormalizeDiacritics" => {
                str_or_null(self.text(call, 0)?.map(|s| text::normalize_diacritics(&s)))
            }
            "Not" => Value::bool(
                !matches!(self.text(call, 0)?, Some(s) if s.eq_ignore_ascii_case("true")),
            ),
            "PCase" => {
                let separators = self.text(call, 1)?;
                str_or_null(
                    self.text(call, 0)?
                        .map(|s| text::proper_case(&s, separators.as_deref())),
                )
            }
            "RandomString" => Value::Str(self.random_string(call)?),
            "RemoveDuplicates" => match self.arg(call, 0)? {
                Value::Multi(values) => {
                    let mut seen = std::collections::HashSet::new();
                    Value::Multi(
                        values
                            .into_iter()
                            .filter(|v| seen.insert(v.clone()))
                            .collect(),
                    )
                }
                other => other,
            },
            "Replace" => self.replace(call)?,
            "Split" => {
                let delimiter = self.given_text(call, 1)?.unwrap_or_default();
                match self.text(call, 0)? {
                    None => Value::Null,
                    Some(_) if delimiter.is_empty() => {
                        return Err(call.arg_error(1, "the delimiter is empty"));
                    }
                    // The documented example trims the space after each comma.
                    Some(s) => Value::Multi(
                        s.split(delimiter.as_str())
                            .map(|p| p.trim().to_owned())
                            .collect(),
                    ),
                }
            }
            "StripSpaces" => str_or_null(self.text(call, 0)?.map(|s| s.replace(' ', ""))),
            "ToLower" | "ToUpper" => {
                let culture = self.text(call, 1)?;
                let upper = call.name == "ToUpper";
                str_or_null(
                    self.text(call, 0)?
                        .map(|s| text::change_case(&s, culture.as_deref(), upper)),
                )
            }
            "Word" => {
                let number = self.required_int(call, 1)?;
                let delimiters = self.text(call, 2)?.unwrap_or_default();
                Value::Str(text::word(
                    &self.text(call, 0)?.unwrap_or_default(),
                    number,
                    &delimiters,
                ))
            }
            other => return Err(call.error(format!("{other} cannot be evaluated here"))),
        })
    }

    fn switch(&self, call: &Call<'_>) -> Result<Value> {
        // A null source matches the key "", as the documentation advises.
        let source = match self.arg(call, 0)? {
            Value::Ignore | Value::IgnoreObject => return Ok(Value::Ignore),
            Value::Null => String::new(),
            Value::Str(s) => s,
            Value::Date(d) => dates::format_general(d),
            Value::Multi(v) => {
                return Err(call.arg_error(
                    0,
                    format!("expects one value but got a multi-valued one ({})", v.len()),
                ));
            }
        };
        let mut i = 2;
        while i + 1 < call.args.len() {
            if self.text(call, i)?.unwrap_or_default() == source {
                return self.arg(call, i + 1);
            }
            i += 2;
        }
        self.arg(call, 1)
    }

    fn select_unique(&self, call: &Call<'_>) -> Result<Value> {
        let Some(existing) = self.ctx.existing else {
            return Err(call.error("needs the target's existing values; it can only be evaluated for a mapping of a Salesforce field"));
        };
        let mut any = false;
        for i in 0..call.args.len() {
            if let Some(candidate) = self.text(call, i)?
                && !candidate.is_empty()
            {
                if !existing(&candidate) {
                    return Ok(Value::Str(candidate));
                }
                any = true;
            }
        }
        Err(call.error(if any {
            "every candidate already exists in the target"
        } else {
            "no candidate has a value for this user (each is null or empty)"
        }))
    }

    fn format_date_time(&self, call: &Call<'_>) -> Result<Value> {
        // The older three-argument form has no dateTimeStyles.
        let (input_at, output_at) = if call.args.len() == 3 { (1, 2) } else { (2, 3) };
        let input_format = self
            .given_text(call, input_at)?
            .ok_or_else(|| call.arg_error(input_at, "the input format is required"))?;
        let output_format = self
            .given_text(call, output_at)?
            .ok_or_else(|| call.arg_error(output_at, "the output format is required"))?;
        // A date-time value needs no parsing: the input format describes text only.
        let styles = if call.args.len() == 4 {
            match self.text(call, 1)? {
                Some(text) => {
                    dotnet_format::Styles::parse(&text).map_err(|e| call.arg_error(1, e))?
                }
                None => dotnet_format::Styles::entra_default(),
            }
        } else {
            dotnet_format::Styles::entra_default()
        };
        let date = match self.arg(call, 0)? {
            Value::Date(d) => styles.apply(d),
            other => {
                let Some(source) = Self::as_text(call, 0, other)? else {
                    return Ok(Value::Null);
                };
                let parsed = dotnet_format::parse_any(&source, &input_format)
                    .map_err(|e| call.arg_error(0, e))?;
                // A time read with an offset becomes the service's local time (UTC), of kind
                // Local, under every style but the two that keep it UTC (`Styles::read`): so
                // `2021-06-30+08:00` is 2021-06-29 16:00.
                styles
                    .read(parsed, {
                        // Written `Z` or `GMT`: UTC itself, as .NET's TimeZoneUtc flag says.
                        let end = source.trim_end();
                        end.ends_with(['Z', 'z']) || end.ends_with("GMT")
                    })
                    .map_err(|e| call.arg_error(0, e))?
            }
        };
        dotnet_format::format_any(date, &output_format)
            .map(Value::Str)
            .map_err(|e| call.arg_error(output_at, e))
    }

    fn instr(&self, call: &Call<'_>) -> Result<Value> {
        let start = self.int(call, 2)?.unwrap_or(1);
        if start < 1 {
            return Err(call.arg_error(2, format!("start must be 1 or more, got {start}")));
        }
        let text_compare = match call.args.get(3) {
            Some(Some(Expr {
                kind: ExprKind::TextCompare(t),
                ..
            })) => *t,
            Some(Some(_)) => matches!(self.text(call, 3)?.as_deref(), Some("1" | "vbTextCompare")),
            _ => false,
        };
        let (Some(haystack), Some(needle)) = (self.text(call, 0)?, self.text(call, 1)?) else {
            return Ok(Value::Null);
        };
        let fold = |s: &str| {
            if text_compare {
                s.to_lowercase()
            } else {
                s.to_owned()
            }
        };
        // Positions count UTF-16 units, as .NET's IndexOf does: a character outside the Basic
        // Multilingual Plane (`𠮷`, an emoji) is two.
        let units: Vec<u16> = fold(&haystack).encode_utf16().collect();
        let needle: Vec<u16> = fold(&needle).encode_utf16().collect();
        let from = usize::try_from(start - 1).unwrap_or(usize::MAX);
        let found = (from..=units.len().saturating_sub(needle.len()))
            .find(|&i| i + needle.len() <= units.len() && units[i..i + needle.len()] == needle[..])
            .map_or(0, |i| i + 1);
        Ok(Value::Str(found.to_string()))
    }

    fn replace(&self, call: &Call<'_>) -> Result<Value> {
        // The source and the other attribute of mode 5 are data, null or not; the rest say
        // how to replace (`given_text`).
        let slot = |i| self.given_text(call, i);
        let (source, old_value, pattern, group) =
            (self.text(call, 0)?, slot(1)?, slot(2)?, slot(3)?);
        let (replacement, replacement_attribute, template) =
            (slot(4)?, self.text(call, 5)?, slot(6)?);
        let regex = match &pattern {
            Some(p) => Some(super::dotnet_regex::compile(p).map_err(|problem| {
                let at = problem
                    .offset
                    .map(|at| format!(" (at byte {at} of the pattern)"))
                    .unwrap_or_default();
                call.arg_error(
                    2,
                    format!("invalid regular expression: {}{at}", problem.message),
                )
            })?),
            None => None,
        };
        let args = ReplaceArgs {
            source: source.as_deref(),
            old_value: old_value.as_deref(),
            regex: regex.as_deref(),
            group: group.as_deref(),
            replacement: replacement.as_deref(),
            replacement_attribute: replacement_attribute.as_deref(),
            template: template.as_deref(),
        };
        // Mode 5 reads another attribute; an empty slot there means "not this mode".
        let args =
            if call.args.get(5).is_some_and(Option::is_some) && replacement_attribute.is_none() {
                ReplaceArgs {
                    replacement_attribute: Some(""),
                    ..args
                }
            } else {
                args
            };
        replace(&args)
            .map(|r| r.map_or(Value::Null, Value::Str))
            .map_err(|e| call.error(e))
    }

    fn guid(&self) -> String {
        let (a, b) = (self.ctx.next_u64(), self.ctx.next_u64());
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&a.to_be_bytes());
        bytes[8..].copy_from_slice(&b.to_be_bytes());
        bytes[6] = (bytes[6] & 0x0F) | 0x40;
        bytes[8] = (bytes[8] & 0x3F) | 0x80;
        let hex = crate::digest::hex(&bytes, false);
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    fn random_string(&self, call: &Call<'_>) -> Result<String> {
        const DIGITS: &str = "0123456789";
        const SPECIAL: &str = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/";
        const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
        let mut counts = [0usize; 5];
        for (i, count) in counts.iter_mut().enumerate() {
            let n = self.required_int(call, i)?;
            *count = usize::try_from(n)
                .map_err(|_| call.arg_error(i, format!("must be 0 or more, got {n}")))?;
        }
        let [length, digits, special, upper, lower] = counts;
        if length > 256 {
            return Err(call.arg_error(0, format!("at most 256 characters, got {length}")));
        }
        if digits + special + upper + lower > length {
            return Err(call.error(format!(
                "the minimums add up to {} but Length is {length}",
                digits + special + upper + lower
            )));
        }
        let avoid = self.text(call, 5)?.unwrap_or_default();
        let pool =
            |set: &str| -> Vec<char> { set.chars().filter(|c| !avoid.contains(*c)).collect() };
        let sets = [pool(DIGITS), pool(SPECIAL), pool(UPPER), pool(LOWER)];
        let all: Vec<char> = sets.iter().flatten().copied().collect();
        let mut chars = Vec::with_capacity(length);
        for (set, min) in sets.iter().zip([digits, special, upper, lower]) {
            if min > 0 && set.is_empty() {
                return Err(call.arg_error(5, "avoids every character of a required kind"));
            }
            chars.extend((0..min).map(|_| set[self.ctx.below(set.len())]));
        }
        if all.is_empty() && chars.len() < length {
            return Err(call.arg_error(5, "avoids every character"));
        }
        while chars.len() < length {
            chars.push(all[self.ctx.below(all.len())]);
        }
        for i in (1..chars.len()).rev() {
            chars.swap(i, self.ctx.below(i + 1));
        }
        Ok(chars.into_iter().collect())
    }
}
