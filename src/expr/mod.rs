//! Entra's attribute-mapping expression language: parse once (with byte spans for errors),
//! evaluate per user. Three outcomes stay distinct to the caller: a value, null, and "ignore
//! this flow".

mod dates;
mod dotnet_format;
pub(crate) mod dotnet_regex;
mod eval;
mod functions;
mod replace;
mod syntax;
#[cfg(test)]
mod tests;
mod text;
mod value;

pub(crate) use dates::{
    DateTime, MAX_TICKS, UNIX_EPOCH_TICKS, days_in_month, format_general,
    parse_lenient as parse_date,
};
pub(crate) use dotnet_format::format as format_date;
pub(crate) use eval::{Context, evaluate};
pub(crate) use syntax::{Expr, ExprKind, parse};
pub(crate) use value::{ARRAY_ITEMS, Attributes, Value, scalar_text};

/// The parameter names of a documented function, from its signature in Microsoft's reference
/// (`Mid(source, start, length)` → `source`, `start`, `length`); empty for an unknown name.
pub(crate) fn parameter_names(function: &str) -> Vec<String> {
    functions::FUNCTIONS
        .iter()
        .find(|f| f.name == function)
        .and_then(|f| {
            let inner = f.signature.split_once('(')?.1.rsplit_once(')')?.0;
            Some(
                inner
                    .split(',')
                    .map(|p| p.trim().trim_matches(|c| c == '[' || c == ']').to_owned())
                    .filter(|p| !p.is_empty() && p != "...")
                    .collect(),
            )
        })
        .unwrap_or_default()
}

/// Whether the expression is a SelectUniqueValue call (which the parser allows only at the top).
pub(crate) fn is_select_unique_value(expr: &syntax::Expr) -> bool {
    matches!(
        expr.kind,
        syntax::ExprKind::Call {
            name: "SelectUniqueValue",
            ..
        }
    )
}

/// Whether evaluating `expr` may draw from its context's random numbers: it calls `Guid` or
/// `RandomString`, at any depth. Only such an expression needs a seed of its own.
pub(crate) fn draws_random(expr: &syntax::Expr) -> bool {
    let mut draws = false;
    walk(expr, &mut |node| {
        draws |= matches!(
            node.kind,
            syntax::ExprKind::Call {
                name: "Guid" | "RandomString",
                ..
            }
        );
    });
    draws
}

/// Constant arguments that would fail for every user: an unknown date-time style or standard
/// format in `FormatDateTime`, an unknown interval in `DateAdd`/`DateDiff`, a literal date
/// `CDate`/`NumFromDate`/`DateAdd`/`DateDiff` cannot read. Each with the literal's span.
pub(crate) fn constant_problems(
    expr: &syntax::Expr,
    out: &mut Vec<(std::ops::Range<usize>, String)>,
) {
    walk(expr, &mut |node| call_constant_problems(node, out));
}

/// `constant_problems` of one call, its arguments not descended into.
fn call_constant_problems(expr: &syntax::Expr, out: &mut Vec<(std::ops::Range<usize>, String)>) {
    let syntax::ExprKind::Call { name, args } = &expr.kind else {
        return;
    };
    let literal = |i: usize| match args.get(i) {
        Some(Some(syntax::Expr {
            kind: syntax::ExprKind::Str(text),
            span,
        })) => Some((text.as_str(), span.clone())),
        _ => None,
    };
    let mut check = |i: usize, problem: &dyn Fn(&str) -> Option<String>| {
        if let Some((text, span)) = literal(i)
            && let Some(why) = problem(text)
        {
            out.push((span, format!("{name}: argument {}: {why}", i + 1)));
        }
    };
    let date = |text: &str| {
        dates::parse_lenient(text)
            .is_none()
            .then(|| format!("{text:?} is not a date"))
    };
    match *name {
        "FormatDateTime" => {
            let (styles, input, output) = if args.len() == 4 {
                (Some(1), 2, 3)
            } else {
                (None, 1, 2)
            };
            if let Some(styles) = styles {
                check(styles, &|t| dotnet_format::Styles::parse(t).err());
            }
            for format in [input, output] {
                check(format, &|t| dotnet_format::standard(t).err());
            }
        }
        "DateAdd" | "DateDiff" => {
            check(0, &|t| {
                dates::Interval::parse(t)
                    .is_none()
                    .then(|| format!("{t:?} is not an interval; use yyyy, m, d, ww, h, n or s"))
            });
            let dates_at: &[usize] = if *name == "DateAdd" { &[2] } else { &[1, 2] };
            for i in dates_at {
                check(*i, &date);
            }
        }
        "CDate" | "NumFromDate" => check(0, &date),
        _ => {}
    }
    // Whole-number parameters given as text that is no whole number.
    let integers: &[usize] = match *name {
        "DateAdd" | "Left" | "Item" | "Word" => &[1],
        "Mid" => &[1, 2],
        "DateFromNum" => &[0],
        "BitAnd" => &[0, 1],
        "RandomString" => &[0, 1, 2, 3, 4],
        "InStr" => &[2],
        _ => &[],
    };
    for i in integers {
        check(*i, &|t| {
            t.trim()
                .parse::<i64>()
                .is_err()
                .then(|| format!("{t:?} is not a whole number"))
        });
    }
    // Whole numbers out of the range a parameter takes: the call fails whatever the user.
    let whole = |i: usize| match args.get(i) {
        Some(Some(syntax::Expr {
            kind: syntax::ExprKind::Int(n),
            span,
        })) => Some((*n, span.clone())),
        Some(Some(syntax::Expr {
            kind: syntax::ExprKind::Str(text),
            span,
        })) => text.trim().parse::<i64>().ok().map(|n| (n, span.clone())),
        _ => None,
    };
    let least: &[(usize, i64, &str)] = match *name {
        "Mid" => &[(1, 1, "start"), (2, 0, "length")],
        "InStr" => &[(2, 1, "start")],
        _ => &[],
    };
    for (i, min, what) in least {
        if let Some((n, span)) = whole(*i)
            && n < *min
        {
            out.push((
                span,
                format!(
                    "{name}: argument {}: {what} must be {min} or more, not {n}",
                    i + 1
                ),
            ));
        }
    }
}

/// Every node of the expression, parents before their arguments, in order of appearance.
fn walk(expr: &syntax::Expr, visit: &mut dyn FnMut(&syntax::Expr)) {
    visit(expr);
    match &expr.kind {
        syntax::ExprKind::Call { args, .. } => {
            for arg in args.iter().flatten() {
                walk(arg, visit);
            }
        }
        syntax::ExprKind::Compare { left, right, .. } => {
            walk(left, visit);
            walk(right, visit);
        }
        syntax::ExprKind::Attribute(_)
        | syntax::ExprKind::Str(_)
        | syntax::ExprKind::Int(_)
        | syntax::ExprKind::TextCompare(_)
        | syntax::ExprKind::IgnoreFlow { .. } => {}
    }
}

/// Every literal pattern of a `Replace` call (its third argument), with the literal's span.
pub(crate) fn regex_literals(expr: &syntax::Expr, out: &mut Vec<(String, std::ops::Range<usize>)>) {
    walk(expr, &mut |node| {
        if let syntax::ExprKind::Call {
            name: "Replace",
            args,
        } = &node.kind
            && let Some(Some(syntax::Expr {
                kind: syntax::ExprKind::Str(pattern),
                span,
            })) = args.get(2)
        {
            out.push((pattern.clone(), span.clone()));
        }
    });
}

/// The first call of a function roster refuses for Salesforce, with its span and the reason.
pub(crate) fn refused_call(
    expr: &syntax::Expr,
) -> Option<(&'static str, std::ops::Range<usize>, &'static str)> {
    let mut first = None;
    walk(expr, &mut |node| {
        if first.is_none()
            && let syntax::ExprKind::Call { name, .. } = &node.kind
            && let Some(why) = functions::refused_for_salesforce(name)
        {
            first = Some((*name, node.span.clone(), why));
        }
    });
    first
}

/// Every `[attribute]` the expression reads with its byte span in the expression's text, in
/// order of appearance (repeats included).
pub(crate) fn attribute_spans(
    expr: &syntax::Expr,
    out: &mut Vec<(String, std::ops::Range<usize>)>,
) {
    walk(expr, &mut |node| {
        if let syntax::ExprKind::Attribute(name) = &node.kind {
            out.push((name.to_string(), node.span.clone()));
        }
    });
}

/// Every `[attribute]` the expression reads, in order of appearance (repeats included).
pub(crate) fn attributes(expr: &syntax::Expr, out: &mut Vec<String>) {
    walk(expr, &mut |node| {
        if let syntax::ExprKind::Attribute(name) = &node.kind {
            out.push(name.to_string());
        }
    });
}
