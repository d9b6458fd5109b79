//! The SOQL the emulator understands: `SELECT fields FROM Object [WHERE ...] [ORDER BY ...]
//! [LIMIT n]`, with `AND`/`OR`/`NOT`, parentheses, `= != <> < <= > >= LIKE IN NOT IN`, and
//! string (with the escapes SOQL defines, `quoted`), number, boolean, null and date-time
//! literals. Keywords and field names are case-insensitive, as in Salesforce. Anything else is
//! `MALFORMED_QUERY`. Each compared field's literal kind is kept (`Query::compared`) for the
//! type checks Salesforce makes.

use std::cmp::Ordering;

use serde_json::Value;

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Query {
    pub(crate) fields: Vec<String>,
    pub(crate) object: String,
    pub(crate) filter: Option<Condition>,
    pub(crate) order: Vec<(String, bool)>,
    pub(crate) limit: Option<usize>,
    /// Each field the filter compares and the kind of literal it is compared with, in order:
    /// Salesforce checks a literal's type against the field's (`query::start`).
    pub(crate) compared: Vec<(String, Literal)>,
}

/// A literal's kind as written: `'quoted'`, a number, `true`/`false`, `null`, or an unquoted
/// date or date-time (`2024-01-31`, `2024-01-31T10:00:00Z`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Literal {
    Quoted,
    Number,
    Boolean,
    Null,
    Date,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Condition {
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
    Not(Box<Condition>),
    Compare(String, Op, Value),
    In(String, Vec<Value>, bool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(Quoted),
    /// An unquoted date or date-time, kept as its text.
    Date(String),
    Num(serde_json::Number),
    Sym(&'static str),
}

/// A quoted string literal, its escape sequences read.
#[derive(Clone, Debug, PartialEq)]
struct Quoted {
    /// The text the literal stands for.
    text: String,
    /// The same as a LIKE pattern reads it: `%` and `_` wildcards unless written `\%` and `\_`,
    /// which (and a backslash) stand escaped here as `\%`, `\_` and `\\`.
    pattern: String,
    /// A `\%` or `\_` as written, which only a LIKE pattern may hold.
    like_only: Option<&'static str>,
}

/// The longest string a WHERE clause may hold, in characters ("Strings in WHERE clauses can't
/// exceed 4,000 characters": SOQL and SOSL Reference, "WHERE"). The error code roster's
/// emulator answers with, MALFORMED_QUERY, and its wording are assumed; the reference gives
/// neither.
const LITERAL_MAX: usize = 4_000;

/// The string literal whose text starts at `chars[start]` (just past its opening quote), and
/// where the token after it starts. The escape sequences SOQL defines: `\n \r \t \b \f` (either
/// case), `\" \' \\`, `\uXXXX` (a surrogate pair as two), and `\% \_` for LIKE; a backslash
/// before anything else is an error. Source: Salesforce, SOQL and SOSL Reference, "Quoted
/// String Escape Sequences". The error's wording is assumed (the reference gives none).
fn quoted(chars: &[char], start: usize) -> Result<(Quoted, usize), String> {
    let illegal = |sequence: &[char]| {
        format!(
            "Illegal character sequence '{}' in string literal",
            sequence.iter().collect::<String>()
        )
    };
    let unicode = |at: usize| -> Option<u32> {
        let hex: String = chars.get(at..at + 4)?.iter().collect();
        hex.chars()
            .all(|c| c.is_ascii_hexdigit())
            .then(|| u32::from_str_radix(&hex, 16).ok())?
    };
    let mut quoted = Quoted {
        text: String::new(),
        pattern: String::new(),
        like_only: None,
    };
    let mut i = start;
    loop {
        let c = match chars.get(i) {
            None => return Err("unterminated string literal".to_owned()),
            Some('\'') => {
                let length = quoted.text.chars().count();
                if length > LITERAL_MAX {
                    return Err(format!(
                        "string literal of {length} characters: strings in WHERE clauses can't \
                         exceed {LITERAL_MAX} characters"
                    ));
                }
                return Ok((quoted, i + 1));
            }
            Some('\\') => {
                let escaped = *chars.get(i + 1).ok_or("unterminated string literal")?;
                i += 2;
                match escaped {
                    'n' | 'N' => '\n',
                    'r' | 'R' => '\r',
                    't' | 'T' => '\t',
                    'b' | 'B' => '\u{8}',
                    'f' | 'F' => '\u{c}',
                    '"' | '\'' => escaped,
                    '\\' => {
                        quoted.text.push('\\');
                        quoted.pattern.push_str("\\\\");
                        continue;
                    }
                    '%' | '_' => {
                        quoted.like_only = Some(if escaped == '%' { "\\%" } else { "\\_" });
                        quoted.text.push(escaped);
                        quoted.pattern.extend(['\\', escaped]);
                        continue;
                    }
                    'u' => {
                        // As written: the hex digits there are, at most four.
                        let digits = chars[i..]
                            .iter()
                            .take(4)
                            .take_while(|c| c.is_ascii_hexdigit())
                            .count();
                        let sequence = &chars[i - 2..i + digits];
                        let code = unicode(i).ok_or_else(|| illegal(sequence))?;
                        i += 4;
                        let c = if (0xD800..0xDC00).contains(&code) {
                            // A high surrogate stands for a character with the low one after it.
                            let low = (chars.get(i..i + 2) == Some(&['\\', 'u'][..]))
                                .then(|| unicode(i + 2))
                                .flatten()
                                .filter(|low| (0xDC00..0xE000).contains(low))
                                .ok_or_else(|| illegal(sequence))?;
                            i += 6;
                            char::from_u32(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
                        } else {
                            char::from_u32(code)
                        };
                        let c = c.ok_or_else(|| illegal(sequence))?;
                        // The character itself in a LIKE pattern, as `\\`, `\%` and `\_` are:
                        // `'%\u005C'` is no escape of what follows. (Assumed: the reference
                        // says nothing of a wildcard or backslash written as `\uXXXX`; this is
                        // the reading that cannot widen a pattern.)
                        if matches!(c, '\\' | '%' | '_') {
                            quoted.pattern.push('\\');
                        }
                        c
                    }
                    _ => return Err(illegal(&[chars[i - 2], escaped])),
                }
            }
            Some(other) => {
                i += 1;
                *other
            }
        };
        quoted.text.push(c);
        quoted.pattern.push(c);
    }
}

/// The tokens of `soql`, each with its column (in characters, from 1); or where and why not.
fn lex(soql: &str) -> Result<(Vec<Token>, Vec<usize>), SyntaxError> {
    let mut columns = Vec::new();
    let mut at = 0;
    let tokens = lex_from(soql, &mut columns, &mut at).map_err(|message| SyntaxError {
        column: at + 1,
        message,
    })?;
    Ok((tokens, columns))
}

/// `lex`'s work: `at` is the character the token being read starts at, and `columns` gets
/// each token's column.
fn lex_from(soql: &str, columns: &mut Vec<usize>, at: &mut usize) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = soql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        *at = i;
        if !c.is_whitespace() {
            columns.push(i + 1);
        }
        match c {
            c if c.is_whitespace() => i += 1,
            '\'' => {
                let (quoted, after) = quoted(&chars, i + 1)?;
                tokens.push(Token::Str(quoted));
                i = after;
            }
            '(' | ')' | ',' => {
                tokens.push(Token::Sym(match c {
                    '(' => "(",
                    ')' => ")",
                    _ => ",",
                }));
                i += 1;
            }
            '=' | '!' | '<' | '>' => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let sym = match two.as_str() {
                    "!=" => "!=",
                    "<>" => "<>",
                    "<=" => "<=",
                    ">=" => ">=",
                    _ => match c {
                        '=' => "=",
                        '<' => "<",
                        '>' => ">",
                        _ => return Err("unexpected `!`".to_owned()),
                    },
                };
                tokens.push(Token::Sym(sym));
                i += sym.len();
            }
            c if c.is_ascii_digit() || c == '-' => {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '.' | ':' | '-' | '+'))
                {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                // Date-time literals (2024-01-31T10:00:00Z) stay text; they compare as text.
                let number = text
                    .parse::<i64>()
                    .map(serde_json::Number::from)
                    .ok()
                    .or_else(|| {
                        text.parse::<f64>()
                            .ok()
                            .and_then(serde_json::Number::from_f64)
                    });
                tokens.push(number.map_or(Token::Date(text), Token::Num));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.'))
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character `{other}`")),
        }
    }
    Ok(tokens)
}

/// Why a query does not parse, and the column (in characters, from 1) where it stopped reading:
/// Salesforce's `MALFORMED_QUERY` points there (`ERROR at Row:1:Column:27`).
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub(crate) column: usize,
    pub(crate) message: String,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) | Token::Date(w) => write!(f, "'{w}'"),
            Token::Str(s) => write!(f, "'{}'", s.text.replace('\'', "\\'")),
            Token::Num(n) => write!(f, "'{n}'"),
            Token::Sym(s) => write!(f, "'{s}'"),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    /// Each token's column.
    columns: Vec<usize>,
    /// The column just past the query, where a query that ends too soon stops.
    end: usize,
    pos: usize,
    compared: Vec<(String, Literal)>,
}

impl Parser {
    /// The column of the token being read.
    fn column(&self) -> usize {
        self.columns.get(self.pos).copied().unwrap_or(self.end)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), String> {
        if self.keyword(word) {
            Ok(())
        } else {
            Err(format!("expected {word}"))
        }
    }

    fn sym(&mut self, sym: &str) -> bool {
        if matches!(self.peek(), Some(Token::Sym(s)) if *s == sym) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> Result<String, String> {
        match self.tokens.get(self.pos) {
            Some(Token::Word(w)) if !is_reserved(w) => {
                self.pos += 1;
                Ok(w.clone())
            }
            Some(other) => Err(format!("unexpected token: {other}, expected a field name")),
            None => Err("unexpected end of query".to_owned()),
        }
    }

    fn literal(&mut self) -> Result<(Value, Literal), String> {
        let token = self
            .tokens
            .get(self.pos)
            .cloned()
            .ok_or("unexpected end of query")?;
        let value = match token {
            Token::Str(Quoted {
                like_only: Some(sequence),
                ..
            }) => {
                return Err(format!(
                    "Illegal character sequence '{sequence}' in string literal: only a LIKE \
                     pattern may hold it"
                ));
            }
            Token::Str(s) => (Value::String(s.text), Literal::Quoted),
            Token::Date(s) => (Value::String(s), Literal::Date),
            Token::Num(n) => (Value::Number(n), Literal::Number),
            Token::Word(w) if w.eq_ignore_ascii_case("true") => {
                (Value::Bool(true), Literal::Boolean)
            }
            Token::Word(w) if w.eq_ignore_ascii_case("false") => {
                (Value::Bool(false), Literal::Boolean)
            }
            Token::Word(w) if w.eq_ignore_ascii_case("null") => (Value::Null, Literal::Null),
            other => return Err(format!("unexpected token: {other}, expected a value")),
        };
        self.pos += 1;
        Ok(value)
    }

    /// A literal compared with `field`, noted in `compared`.
    fn compared(&mut self, field: &str) -> Result<Value, String> {
        let (value, kind) = self.literal()?;
        self.compared.push((field.to_owned(), kind));
        Ok(value)
    }

    /// Conditions joined by AND or by OR: SOQL has no precedence between the two, so mixing
    /// them without parentheses (`a AND b OR c`) is malformed, as Salesforce answers it.
    fn or(&mut self) -> Result<Condition, String> {
        let mut left = self.unary()?;
        let mut joined_by: Option<&str> = None;
        loop {
            let word = if self.keyword("AND") {
                "AND"
            } else if self.keyword("OR") {
                "OR"
            } else {
                return Ok(left);
            };
            if joined_by.is_some_and(|w| w != word) {
                // Pointed at the word itself.
                self.pos -= 1;
                return Err(format!(
                    "unexpected token: '{word}' (AND and OR together need parentheses)"
                ));
            }
            joined_by = Some(word);
            let right = Box::new(self.unary()?);
            left = if word == "AND" {
                Condition::And(Box::new(left), right)
            } else {
                Condition::Or(Box::new(left), right)
            };
        }
    }

    fn unary(&mut self) -> Result<Condition, String> {
        if self.keyword("NOT") {
            return Ok(Condition::Not(Box::new(self.unary()?)));
        }
        if self.sym("(") {
            let inner = self.or()?;
            if !self.sym(")") {
                return Err("expected `)`".to_owned());
            }
            return Ok(inner);
        }
        let field = self.name()?;
        let negated = self.keyword("NOT");
        if self.keyword("IN") {
            if !self.sym("(") {
                return Err("expected `(` after IN".to_owned());
            }
            let mut values = vec![self.compared(&field)?];
            while self.sym(",") {
                values.push(self.compared(&field)?);
            }
            if !self.sym(")") {
                return Err("expected `)` to close IN".to_owned());
            }
            return Ok(Condition::In(field, values, negated));
        }
        if negated {
            return Err("expected IN after NOT".to_owned());
        }
        let op = if self.keyword("LIKE") {
            // The pattern as LIKE reads it (`like`): escaped wildcards stand for themselves.
            if let Some(Token::Str(pattern)) = self.peek() {
                let pattern = Value::String(pattern.pattern.clone());
                self.pos += 1;
                self.compared.push((field.clone(), Literal::Quoted));
                return Ok(Condition::Compare(field, Op::Like, pattern));
            }
            Op::Like
        } else {
            let op = match self.peek() {
                Some(Token::Sym("=")) => Op::Eq,
                Some(Token::Sym("!=" | "<>")) => Op::Ne,
                Some(Token::Sym("<")) => Op::Lt,
                Some(Token::Sym("<=")) => Op::Le,
                Some(Token::Sym(">")) => Op::Gt,
                Some(Token::Sym(">=")) => Op::Ge,
                Some(other) => {
                    return Err(format!(
                        "unexpected token: {other}, expected an operator after {field}"
                    ));
                }
                None => {
                    return Err(format!(
                        "unexpected end of query, expected an operator after {field}"
                    ));
                }
            };
            self.pos += 1;
            op
        };
        let value = self.compared(&field)?;
        Ok(Condition::Compare(field, op, value))
    }
}

fn is_reserved(word: &str) -> bool {
    [
        "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "LIMIT", "ASC",
        "DESC",
    ]
    .iter()
    .any(|r| r.eq_ignore_ascii_case(word))
}

/// Parses a query; the error text becomes the `MALFORMED_QUERY` message.
pub(crate) fn parse(soql: &str) -> Result<Query, SyntaxError> {
    let (tokens, columns) = lex(soql)?;
    let mut p = Parser {
        tokens,
        columns,
        end: soql.chars().count() + 1,
        pos: 0,
        compared: Vec::new(),
    };
    query(&mut p).map_err(|message| SyntaxError {
        column: p.column(),
        message,
    })
}

fn query(p: &mut Parser) -> Result<Query, String> {
    p.expect_keyword("SELECT")?;
    let mut fields = vec![p.name()?];
    while p.sym(",") {
        fields.push(p.name()?);
    }
    p.expect_keyword("FROM")?;
    let object = p.name()?;
    let filter = if p.keyword("WHERE") {
        Some(p.or()?)
    } else {
        None
    };
    let mut order = Vec::new();
    if p.keyword("ORDER") {
        p.expect_keyword("BY")?;
        loop {
            let field = p.name()?;
            let descending = p.keyword("DESC");
            if !descending {
                p.keyword("ASC");
            }
            order.push((field, descending));
            if !p.sym(",") {
                break;
            }
        }
    }
    let limit = if p.keyword("LIMIT") {
        match p.literal()?.0 {
            Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
            _ => None,
        }
        .ok_or("LIMIT takes a whole number")?
        .into()
    } else {
        None
    };
    if let Some(extra) = p.peek() {
        return Err(format!("unexpected token: {extra}"));
    }
    Ok(Query {
        fields,
        object,
        filter,
        order,
        limit,
        compared: std::mem::take(&mut p.compared),
    })
}

/// A record's field, looked up case-insensitively; `Null` when absent.
pub(crate) fn field<'r>(record: &'r serde_json::Map<String, Value>, name: &str) -> &'r Value {
    record
        .get(name)
        .or_else(|| {
            record
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .unwrap_or(&Value::Null)
}

impl Condition {
    /// Calls `visit` with each literal the condition compares a field with, the field's name and
    /// the operator (`None` for `IN`), left to right; `visit` may rewrite the literal (an id to
    /// its 18-character form).
    pub(crate) fn each_literal(&mut self, visit: &mut impl FnMut(&str, Option<Op>, &mut Value)) {
        match self {
            Condition::And(a, b) | Condition::Or(a, b) => {
                a.each_literal(visit);
                b.each_literal(visit);
            }
            Condition::Not(c) => c.each_literal(visit),
            Condition::Compare(name, op, value) => visit(name, Some(*op), value),
            Condition::In(name, values, _) => {
                for value in values {
                    visit(name, None, value);
                }
            }
        }
    }

    /// Whether `record` passes the condition. Text compares without case, as SOQL's does, but
    /// in the fields `exact` names (a unique, case-sensitive custom field): "Comparisons on
    /// strings are case-sensitive for unique case-sensitive fields" (SOQL and SOSL Reference,
    /// "Comparison Operators").
    pub(crate) fn matches(
        &self,
        record: &serde_json::Map<String, Value>,
        exact: &dyn Fn(&str) -> bool,
    ) -> bool {
        match self {
            Condition::And(a, b) => a.matches(record, exact) && b.matches(record, exact),
            Condition::Or(a, b) => a.matches(record, exact) || b.matches(record, exact),
            Condition::Not(c) => !c.matches(record, exact),
            Condition::In(name, values, negated) => {
                let value = field(record, name);
                let exact = exact(name);
                values.iter().any(|v| equal(value, v, exact)) != *negated
            }
            Condition::Compare(name, op, literal) => {
                let value = field(record, name);
                match op {
                    Op::Eq => equal(value, literal, exact(name)),
                    Op::Ne => !equal(value, literal, exact(name)),
                    Op::Like => like(value, literal),
                    Op::Lt => compare(value, literal) == Some(Ordering::Less),
                    Op::Le => matches!(
                        compare(value, literal),
                        Some(Ordering::Less | Ordering::Equal)
                    ),
                    Op::Gt => compare(value, literal) == Some(Ordering::Greater),
                    Op::Ge => matches!(
                        compare(value, literal),
                        Some(Ordering::Greater | Ordering::Equal)
                    ),
                }
            }
        }
    }
}

/// Whether a field's `value` equals `literal`: text without case unless `exact`.
fn equal(value: &Value, literal: &Value, exact: bool) -> bool {
    match (value, literal) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (Value::String(x), Value::String(y)) if exact => x == y,
        _ => compare(value, literal) == Some(Ordering::Equal),
    }
}

/// SOQL compares text case-insensitively.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

fn like(value: &Value, pattern: &Value) -> bool {
    let (Value::String(text), Value::String(pattern)) = (value, pattern) else {
        return false;
    };
    let mut re = String::from("(?is)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            // Written `\%`, `\_` or `\\` (`Quoted::pattern`): the character itself.
            '\\' => {
                if let Some(c) = chars.next() {
                    re.push_str(&regex::escape(&c.to_string()));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(text))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(v: &Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn parses_the_queries_roster_sends() {
        let q = parse("SELECT Id, Username, IsActive FROM User WHERE IsActive = true AND (Username LIKE '%.dev1' OR Id IN ('005A', '005B')) ORDER BY Username DESC, Id LIMIT 10").unwrap();
        assert_eq!(q.fields, ["Id", "Username", "IsActive"]);
        assert_eq!(q.object, "User");
        assert_eq!(
            q.order,
            [("Username".to_owned(), true), ("Id".to_owned(), false)]
        );
        assert_eq!(q.limit, Some(10));
        let hit = record(&json!({"Id": "005A", "Username": "x@y.z", "IsActive": true}));
        let miss = record(&json!({"Id": "005C", "Username": "x@y.z", "IsActive": true}));
        let like = record(&json!({"Id": "005C", "Username": "JO@X.COM.DEV1", "IsActive": true}));
        let filter = q.filter.unwrap();
        assert!(filter.matches(&hit, &|_| false));
        assert!(!filter.matches(&miss, &|_| false));
        assert!(
            filter.matches(&like, &|_| false),
            "LIKE is case-insensitive"
        );
    }

    #[test]
    fn not_in_null_and_escapes() {
        let q = parse("select id from PermissionSetAssignment where PermissionSetId not in ('0PSa') and AssigneeId != null and Name = 'O\\'Brien'").unwrap();
        let r =
            record(&json!({"PermissionSetId": "0PSb", "AssigneeId": "005A", "Name": "o'brien"}));
        assert!(q.filter.unwrap().matches(&r, &|_| false));
    }

    /// Every escape sequence SOQL defines reads as its character, whatever roster's own
    /// `salesforce::soql::quote` writes reads back as the text quoted, and the LIKE-only
    /// escapes make `%` and `_` stand for themselves.
    #[test]
    fn string_escapes_read_as_salesforce_reads_them() {
        let text = |soql: &str| match parse(soql).unwrap().filter.unwrap() {
            Condition::Compare(_, Op::Eq, Value::String(text)) => text,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            text(r#"SELECT Id FROM User WHERE Name = 'a\nb\Nc\rd\Re\tf\Tg\bh\Bi\fj\Fk\"l\'m\\n'"#),
            "a\nb\nc\rd\re\tf\tg\u{8}h\u{8}i\u{c}j\u{c}k\"l'm\\n"
        );
        assert_eq!(
            text(r"SELECT Id FROM User WHERE Name = 'Ren\u00e9e \uD83D\uDE00 \u00E9'"),
            "Renée 😀 é"
        );
        let written = "O'Brien \\ \"x\"\r\n\t\u{8}\u{c} 100% a_b";
        let soql = format!(
            "SELECT Id FROM User WHERE Name = {}",
            crate::salesforce::soql::quote(written)
        );
        assert_eq!(text(&soql), written);

        let like = |pattern: &str, name: &str| {
            let q = parse(&format!("SELECT Id FROM User WHERE Name LIKE '{pattern}'")).unwrap();
            q.filter
                .unwrap()
                .matches(&record(&json!({ "Name": name })), &|_| false)
        };
        assert!(like(r"Ter\%", "Ter%"));
        assert!(!like(r"Ter\%", "Terra"), "an escaped % is no wildcard");
        assert!(like(r"Ter\%%", "Ter%ra"));
        assert!(like(r"a\_b", "a_b"));
        assert!(!like(r"a\_b", "axb"), "an escaped _ is no wildcard");
        assert!(
            like(r"a\\%", r"a\bc"),
            "an escaped backslash, then a wildcard"
        );
        assert!(like("a_b%", "axbyz"));
        // A backslash or wildcard written as `\uXXXX` is the character itself.
        assert!(
            !like(r"%\u005C", "Engineer"),
            "a trailing \\u005C widened the pattern"
        );
        assert!(like(r"%\u005C", r"a\"));
        assert!(!like(r"a\u0025", "abc"));
        assert!(like(r"a\u0025", "a%"));
        assert!(!like(r"a\u005fc", "abc"));
        assert!(like(r"a\u005fc%", "a_cd"));
    }

    /// A backslash before anything SOQL does not define, a `\u` without four hex digits or
    /// with half a surrogate pair, and `\%` or `\_` outside LIKE are malformed, pointed at the
    /// literal's opening quote (or at the literal, for a LIKE-only escape).
    #[test]
    fn undefined_escapes_are_malformed() {
        for (literal, message) in [
            (
                r"'\x'",
                r"Illegal character sequence '\x' in string literal",
            ),
            (
                r"'a\.b'",
                r"Illegal character sequence '\.' in string literal",
            ),
            (
                r"'\u'",
                r"Illegal character sequence '\u' in string literal",
            ),
            (
                r"'\u12'",
                r"Illegal character sequence '\u12' in string literal",
            ),
            (
                r"'\uZZZZ'",
                r"Illegal character sequence '\u' in string literal",
            ),
            (
                r"'\uD83D'",
                r"Illegal character sequence '\uD83D' in string literal",
            ),
            (
                r"'\uDE00'",
                r"Illegal character sequence '\uDE00' in string literal",
            ),
            (
                r"'100\%'",
                r"Illegal character sequence '\%' in string literal: only a LIKE pattern may hold it",
            ),
            (
                r"'a\_b'",
                r"Illegal character sequence '\_' in string literal: only a LIKE pattern may hold it",
            ),
        ] {
            let soql = format!("SELECT Id FROM User WHERE Name = {literal}");
            let error = parse(&soql).unwrap_err();
            assert_eq!(
                (error.column, error.message.as_str()),
                (soql.find('\'').unwrap() + 1, message),
                "{soql}"
            );
        }
    }

    #[test]
    fn malformed_queries_are_errors() {
        for bad in [
            "",
            "SELECT FROM User",
            "SELECT Id User",
            "SELECT Id FROM User WHERE",
            "SELECT Id FROM User WHERE Name = 'x",
            "SELECT Id FROM User LIMIT x",
            "SELECT Id FROM User WHERE Id IN ('a'",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        // A WHERE string of 4,000 characters is taken, one more is not (counted as characters,
        // not bytes).
        let literal = |n: usize| format!("SELECT Id FROM User WHERE Name = '{}'", "é".repeat(n));
        assert!(parse(&literal(4_000)).is_ok());
        let long = parse(&literal(4_001)).unwrap_err();
        assert!(
            long.message.contains("can't exceed 4000"),
            "{}",
            long.message
        );
        // Where reading stopped, in characters from 1: past the end for a query that ends too
        // soon, at the token that does not fit, at the quote of a string never closed.
        for (bad, column) in [
            ("SELECT Id FROM User WHERE", 26),
            ("SELECT Id User", 11),
            ("SELECT Id FROM User WHERE Name = 'x", 34),
            ("SELECT Id FROM User LIMIT x", 27),
            ("SELECT Id FROM Üser WHERE Name = = 'x'", 34),
        ] {
            assert_eq!(parse(bad).unwrap_err().column, column, "{bad}");
        }
        // Tokens as written, never the parser's own forms.
        for (bad, message) in [
            (
                "SELECT Id FROM User WHERE Username Foo",
                "unexpected token: 'Foo', expected an operator after Username",
            ),
            (
                "SELECT Id FROM User WHERE Username",
                "unexpected end of query, expected an operator after Username",
            ),
            (
                "SELECT Id FROM User WHERE Id = (",
                "unexpected token: '(', expected a value",
            ),
        ] {
            assert_eq!(parse(bad).unwrap_err().message, message, "{bad}");
        }
    }
}
