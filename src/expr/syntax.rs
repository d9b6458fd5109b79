//! The expression grammar: a hand-written lexer and recursive-descent parser producing an AST
//! with byte spans, as Entra's documentation and its examples use the language.
//!
//! ```text
//! expr   := operand (("=" | "<>" | ">" | ">=" | "<" | "<=") operand)?
//! operand:= call | "[" attribute "]" | "string" | integer | &Hhex | vbTextCompare | vbBinaryCompare
//!          | IgnoreAttributeFlow | IgnoreObjectFlow
//! call   := Name "(" [slot ("," slot)*] ")"        slot := expr | <empty>
//! ```
//! Comparisons are only allowed as IIF's condition and CBool's argument, as documented.

use std::ops::Range;

use super::functions::{self, Arity};
use crate::sorted_map::Name;
use crate::suggest::closest;

/// Entra's documented limit on an expression's length.
pub(crate) const MAX_LEN: usize = 10_000;
/// Deeper nesting than this is refused instead of risking the stack.
const MAX_DEPTH: usize = 64;

/// One node of a parsed expression.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expr {
    pub(crate) kind: ExprKind,
    pub(crate) span: Range<usize>,
}

impl Expr {
    /// Whether `self` and `other` are one expression, however spaced (spans set aside: `[mail]`
    /// is `[ mail ]`), every node on both sides first passed through `seen` (what the
    /// comparison sets aside: a wrapping call, say), and two nodes that are neither calls nor
    /// comparisons compared by `leaf`.
    pub(crate) fn same_as(
        &self,
        other: &Expr,
        seen: &dyn Fn(&Expr) -> &Expr,
        leaf: &dyn Fn(&ExprKind, &ExprKind) -> bool,
    ) -> bool {
        let same = |mine: &Expr, theirs: &Expr| mine.same_as(theirs, seen, leaf);
        match (&seen(self).kind, &seen(other).kind) {
            (ExprKind::Call { name, args }, ExprKind::Call { name: n, args: a }) => {
                name == n
                    && args.len() == a.len()
                    && args.iter().zip(a).all(|pair| match pair {
                        (Some(x), Some(y)) => same(x, y),
                        (x, y) => x.is_none() && y.is_none(),
                    })
            }
            (
                ExprKind::Compare { op, left, right },
                ExprKind::Compare {
                    op: o,
                    left: l,
                    right: r,
                },
            ) => op == o && same(left, l) && same(right, r),
            (kind, other) => leaf(kind, other),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum ExprKind {
    /// Interned: a source user's attributes are found by the name's one copy, not its text.
    Attribute(Name),
    Str(String),
    Int(i64),
    /// `vbTextCompare` (true) or `vbBinaryCompare` (false).
    TextCompare(bool),
    /// `IgnoreAttributeFlow` (false: drop this attribute from the flow) or `IgnoreObjectFlow`
    /// (true: skip the whole user), the keywords Microsoft's provisioning guides return from
    /// `IIF` and `Switch`.
    IgnoreFlow {
        object: bool,
    },
    Call {
        name: &'static str,
        /// `None` is an empty argument slot.
        args: Vec<Option<Expr>>,
    },
    Compare {
        op: CompareOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// The bare words the language knows besides function names.
fn keyword(name: &str) -> Option<ExprKind> {
    Some(match name {
        "vbTextCompare" => ExprKind::TextCompare(true),
        "vbBinaryCompare" => ExprKind::TextCompare(false),
        "IgnoreAttributeFlow" => ExprKind::IgnoreFlow { object: false },
        "IgnoreObjectFlow" => ExprKind::IgnoreFlow { object: true },
        _ => return None,
    })
}

/// A syntax error at a byte offset of the expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ParseError {
    pub(crate) span: Range<usize>,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
}

impl ParseError {
    fn new(span: Range<usize>, message: impl Into<String>) -> Self {
        ParseError {
            span,
            message: message.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// An expression's length as Entra counts it: .NET strings, so in UTF-16 code units (a character
/// outside the Basic Multilingual Plane, an emoji, counts 2). Microsoft says only "characters";
/// the unit is our assumption from the service's platform.
fn length(source: &str) -> usize {
    source.chars().map(char::len_utf16).sum()
}

/// Parses a whole expression.
pub(crate) fn parse(source: &str) -> Result<Expr, ParseError> {
    // No more UTF-16 units than bytes, so a short source needs no counting.
    if source.len() > MAX_LEN && length(source) > MAX_LEN {
        // The place is the first character past the limit.
        let mut units = 0;
        let past = source
            .char_indices()
            .find(|(_, c)| {
                units += c.len_utf16();
                units > MAX_LEN
            })
            .map_or(source.len(), |(at, _)| at);
        let (units, characters) = (length(source), source.chars().count());
        // Said in Entra's count, and in characters too when the two differ (an emoji is two).
        let counted = if units == characters {
            format!("{units} characters long")
        } else {
            format!(
                "{units} UTF-16 units long ({characters} characters: as Entra counts, an emoji \
                 or any character outside the Basic Multilingual Plane is 2)"
            )
        };
        return Err(ParseError::new(
            past..past,
            format!("the expression is {counted}; Entra allows at most {MAX_LEN}"),
        ));
    }
    let mut parser = Parser {
        src: source,
        pos: 0,
        depth: 0,
    };
    parser.skip_ws();
    if parser.pos == source.len() {
        return Err(ParseError::new(0..0, "the expression is empty"));
    }
    let expr = parser.expr(Place::TopLevel)?;
    parser.skip_ws();
    if parser.pos < source.len() {
        let at = parser.pos;
        return Err(ParseError::new(
            at..at + parser.peek_char_len(),
            "unexpected text after the end of the expression",
        )
        .help(
            "an expression is one function call, attribute or string; nest calls to combine them",
        ));
    }
    Ok(expr)
}

/// Where a sub-expression sits, for the rules that depend on it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    TopLevel,
    Argument,
    /// IIF's condition or CBool's argument: comparisons allowed.
    Condition,
}

struct Parser<'s> {
    src: &'s str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.src[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_char_len(&self) -> usize {
        self.peek().map_or(0, char::len_utf8)
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.src.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn here(&self) -> Range<usize> {
        self.pos..self.pos + self.peek_char_len()
    }

    fn expr(&mut self, place: Place) -> Result<Expr, ParseError> {
        let left = self.operand()?;
        self.skip_ws();
        let start = self.pos;
        let Some(op) = self.compare_op() else {
            return Ok(left);
        };
        if place != Place::Condition {
            return Err(ParseError::new(
                start..self.pos,
                "comparison operators are only allowed in the condition of IIF or inside CBool",
            )
            .help("e.g. IIF([country] = \"US\", \"Yes\", \"No\")"));
        }
        let right = self.operand()?;
        let span = left.span.start..right.span.end;
        Ok(Expr {
            kind: ExprKind::Compare {
                op,
                left: Box::new(left),
                right: Box::new(right),
            },
            span,
        })
    }

    fn compare_op(&mut self) -> Option<CompareOp> {
        let ops = [
            ("<>", CompareOp::Ne),
            (">=", CompareOp::Ge),
            ("<=", CompareOp::Le),
            ("=", CompareOp::Eq),
            (">", CompareOp::Gt),
            ("<", CompareOp::Lt),
        ];
        let (text, op) = ops.into_iter().find(|(t, _)| self.rest().starts_with(t))?;
        self.pos += text.len();
        Some(op)
    }

    fn operand(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some('[') => self.attribute(),
            Some('"') => self.string(),
            Some('&') => self.hex(),
            Some(c) if c.is_ascii_digit() || c == '-' => self.integer(),
            Some(c) if c.is_alphabetic() || c == '_' => self.name(),
            Some(c) => Err(ParseError::new(
                start..start + c.len_utf8(),
                format!("expected a function call, [attribute], \"string\" or number, found `{c}`"),
            )),
            None => Err(ParseError::new(
                start..start,
                "the expression ends too early: expected a value",
            )),
        }
    }

    fn attribute(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let Some(len) = self.rest().find([']', '[', '\n']) else {
            return Err(ParseError::new(start..start + 1, "`[` is never closed")
                .help("attributes are written [attributeName]"));
        };
        if !self.rest()[len..].starts_with(']') {
            return Err(ParseError::new(start..start + 1, "`[` is never closed")
                .help("attributes are written [attributeName]"));
        }
        let name = self.rest()[..len].trim().to_owned();
        self.pos += len + 1;
        if name.is_empty() {
            return Err(ParseError::new(start..self.pos, "empty attribute name"));
        }
        Ok(Expr {
            kind: ExprKind::Attribute(Name::from(name)),
            span: start..self.pos,
        })
    }

    fn string(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        self.pos += 1;
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos += i + 1;
                    return Ok(Expr {
                        kind: ExprKind::Str(value),
                        span: start..self.pos,
                    });
                }
                // `\"` and `\\` are escapes; any other backslash stays as written, which is
                // how the documentation's regex examples read.
                '\\' => match chars.clone().next() {
                    Some((_, next @ ('"' | '\\'))) => {
                        chars.next();
                        value.push(next);
                    }
                    _ => value.push('\\'),
                },
                c => value.push(c),
            }
        }
        Err(
            ParseError::new(start..start + 1, "the string is never closed")
                .help("strings end with `\"`; write `\\\"` for a quote inside a string"),
        )
    }

    fn integer(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let negative = self.rest().starts_with('-');
        let digits_start = start + usize::from(negative);
        let len = self.src[digits_start..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(self.src.len() - digits_start);
        if len == 0 {
            return Err(ParseError::new(
                start..start + 1,
                "expected digits after `-`",
            ));
        }
        self.pos = digits_start + len;
        let value = self.src[start..self.pos]
            .parse::<i64>()
            .map_err(|_| ParseError::new(start..self.pos, "the number is too large"))?;
        Ok(Expr {
            kind: ExprKind::Int(value),
            span: start..self.pos,
        })
    }

    fn hex(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        if !self.rest().starts_with("&H") && !self.rest().starts_with("&h") {
            return Err(ParseError::new(
                start..start + 1,
                "expected a hex number such as &HFF",
            ));
        }
        let digits_start = start + 2;
        let len = self.src[digits_start..]
            .find(|c: char| !c.is_ascii_hexdigit())
            .unwrap_or(self.src.len() - digits_start);
        self.pos = digits_start + len;
        let digits = &self.src[digits_start..self.pos];
        let value = i64::from_str_radix(digits, 16).map_err(|_| {
            ParseError::new(
                start..self.pos,
                if digits.is_empty() {
                    "expected a hex number such as &HFF"
                } else {
                    "the hex number is too large (at most &H7FFFFFFFFFFFFFFF)"
                },
            )
        })?;
        Ok(Expr {
            kind: ExprKind::Int(value),
            span: start..self.pos,
        })
    }

    fn name(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        let len = self
            .rest()
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        let name = &self.src[start..start + len];
        self.pos += len;
        if let Some(kind) = keyword(name) {
            return Ok(Expr {
                kind,
                span: start..self.pos,
            });
        }
        let name_span = start..self.pos;
        let Some(function) = functions::lookup(name) else {
            let mut err = ParseError::new(name_span, format!("unknown function `{name}`"));
            if let Some(best) = closest(name, functions::names()) {
                // The case is worth a word only when it is all that differs.
                err = err.help(if best.eq_ignore_ascii_case(name) {
                    format!("Did you mean {best}? Function names are case-sensitive.")
                } else {
                    format!("Did you mean {best}?")
                });
            }
            return Err(err);
        };
        if !self.eat('(') {
            return Err(ParseError::new(
                self.here(),
                format!("expected `(` after `{}`", function.name),
            ));
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::new(
                name_span,
                format!("calls are nested more than {MAX_DEPTH} deep"),
            ));
        }
        let condition_first = matches!(function.name, "IIF" | "CBool");
        let mut args = Vec::new();
        self.skip_ws();
        if !self.eat(')') {
            loop {
                self.skip_ws();
                let slot = if matches!(self.peek(), Some(',' | ')')) {
                    None
                } else {
                    let place = if condition_first && args.is_empty() {
                        Place::Condition
                    } else {
                        Place::Argument
                    };
                    Some(self.expr(place)?)
                };
                args.push(slot);
                if self.eat(',') {
                    continue;
                }
                if self.eat(')') {
                    break;
                }
                let message = if self.pos >= self.src.len() {
                    format!("`{}(` is never closed: expected `,` or `)`", function.name)
                } else {
                    "expected `,` or `)` after an argument".to_owned()
                };
                return Err(ParseError::new(self.here(), message));
            }
        }
        self.depth -= 1;
        let span = start..self.pos;
        check_arity(function, &args, &span)?;
        if function.name == "IIF" {
            check_iif_condition(self.src, &args)?;
        }
        for arg in args.iter().flatten() {
            if let ExprKind::Call {
                name: "SelectUniqueValue",
                ..
            } = arg.kind
            {
                return Err(ParseError::new(
                    arg.span.clone(),
                    "SelectUniqueValue must be the whole expression; it cannot be nested",
                ));
            }
        }
        Ok(Expr {
            kind: ExprKind::Call {
                name: function.name,
                args,
            },
            span,
        })
    }
}

/// Refuses the conditions Entra documents as unsupported in `IIF`, because "if the source
/// attribute used within the IIF function is empty or null, the condition check fails": a test
/// for null or empty (`IsNull`, `IsNullOrEmpty`, `IsPresent`, also under `Not`) and a
/// comparison with `""`. Each would give what the author did not mean (Microsoft, "Reference
/// for writing expressions for attribute mappings", IIF: "Unsupported IIF expression
/// examples"; the workaround it gives is `Switch`).
fn check_iif_condition(source: &str, args: &[Option<Expr>]) -> Result<(), ParseError> {
    let Some(Some(condition)) = args.first() else {
        return Ok(());
    };
    // `Not`, `= "False"` and `<> "True"` flip what the test asks; `CBool` and `= "True"` ask
    // the same (either way round).
    let boolean = |e: &Expr| match &e.kind {
        ExprKind::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
        ExprKind::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    let (mut test, mut negated) = (condition, false);
    loop {
        match &test.kind {
            ExprKind::Call { name, args } if matches!(*name, "Not" | "CBool") => {
                let Some(Some(inner)) = args.first() else {
                    break;
                };
                negated ^= *name == "Not";
                test = inner;
            }
            ExprKind::Compare {
                op: op @ (CompareOp::Eq | CompareOp::Ne),
                left,
                right,
            } => {
                let (inner, value) = match (boolean(left), boolean(right)) {
                    (None, Some(value)) if matches!(left.kind, ExprKind::Call { .. }) => {
                        (left, value)
                    }
                    (Some(value), None) if matches!(right.kind, ExprKind::Call { .. }) => {
                        (right, value)
                    }
                    _ => break,
                };
                negated ^= value == (*op == CompareOp::Ne);
                test = inner;
            }
            _ => break,
        }
    }
    // What the test looks at, and whether it is true when that is null or empty.
    let (what, subject, true_when_empty) = match &test.kind {
        ExprKind::Call {
            name: name @ ("IsNull" | "IsNullOrEmpty" | "IsPresent"),
            args,
        } => (
            format!("{name}(...)"),
            args.first().and_then(Option::as_ref),
            *name != "IsPresent",
        ),
        ExprKind::Compare { op, left, right } => {
            let empty = |e: &Expr| matches!(&e.kind, ExprKind::Str(s) if s.is_empty());
            let subject = match (empty(left), empty(right)) {
                (true, _) => Some(&**right),
                (_, true) => Some(&**left),
                _ => return Ok(()),
            };
            // `<`, `>=` and the like against "" test no emptiness a Switch could say.
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(ParseError::new(
                    test.span.clone(),
                    "Entra does not support a comparison with \"\" as IIF's condition: when \
                     the attribute is null or empty, the condition check fails",
                )
                .help(
                    "compare with a value that is not empty, or test for emptiness with Switch",
                ));
            }
            (
                "a comparison with \"\"".to_owned(),
                subject,
                *op == CompareOp::Eq,
            )
        }
        _ => return Ok(()),
    };
    let written = |e: Option<&Expr>| e.map_or("\"\"", |e| &source[e.span.clone()]);
    let branch = |i: usize| written(args.get(i).and_then(Option::as_ref));
    let (when_empty, otherwise) = if true_when_empty == negated {
        (branch(2), branch(1))
    } else {
        (branch(1), branch(2))
    };
    let subject = written(subject);
    Err(ParseError::new(
        test.span.clone(),
        format!(
            "Entra does not support {what} as IIF's condition: when the attribute is null or \
             empty, the condition check fails"
        ),
    )
    .help(format!(
        "test for null or empty with Switch, as Microsoft advises: \
         Switch({subject}, {otherwise}, \"\", {when_empty}) gives {when_empty} when {subject} \
         is null or empty, else {otherwise}"
    )))
}

fn check_arity(
    function: &functions::Function,
    args: &[Option<Expr>],
    span: &Range<usize>,
) -> Result<(), ParseError> {
    // `F()` is zero arguments, not one empty slot.
    let count = args.len();
    let ok = match function.arity {
        Arity::Exactly(n) => count == n,
        Arity::Between(min, max) => (min..=max).contains(&count),
        Arity::AtLeast(min) => count >= min,
        Arity::SwitchPairs => count >= 4 && count.is_multiple_of(2),
    };
    let signature = function.signature;
    if !ok {
        let expected = match function.arity {
            Arity::Exactly(n) => plural(n),
            Arity::Between(min, max) => format!("{min} to {max} arguments"),
            Arity::AtLeast(min) => format!("at least {}", plural(min)),
            Arity::SwitchPairs => "a source, a default and key/value pairs".to_owned(),
        };
        return Err(ParseError::new(
            span.clone(),
            format!("{} takes {expected}, got {count}", function.name),
        )
        .help(format!("signature: {signature}")));
    }
    for (i, slot) in args.iter().enumerate() {
        if slot.is_none() && function.required(i) {
            return Err(ParseError::new(
                span.clone(),
                format!(
                    "{}: argument {} is required but the slot is empty",
                    function.name,
                    i + 1
                ),
            )
            .help(format!("signature: {signature}")));
        }
    }
    Ok(())
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 argument".to_owned()
    } else {
        format!("{n} arguments")
    }
}
