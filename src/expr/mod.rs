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
    DateTime, UNIX_EPOCH_TICKS, days_in_month, format_general, parse_lenient as parse_date,
};
pub(crate) use dotnet_format::format as format_date;
pub(crate) use eval::{Context, evaluate};
pub(crate) use syntax::{Expr, parse};
pub(crate) use value::{Attributes, Value};

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

/// Every literal pattern of a `Replace` call (its third argument), with the literal's span.
pub(crate) fn regex_literals(expr: &syntax::Expr, out: &mut Vec<(String, std::ops::Range<usize>)>) {
    match &expr.kind {
        syntax::ExprKind::Call { name, args } => {
            if *name == "Replace"
                && let Some(Some(syntax::Expr {
                    kind: syntax::ExprKind::Str(pattern),
                    span,
                })) = args.get(2)
            {
                out.push((pattern.clone(), span.clone()));
            }
            for arg in args.iter().flatten() {
                regex_literals(arg, out);
            }
        }
        syntax::ExprKind::Compare { left, right, .. } => {
            regex_literals(left, out);
            regex_literals(right, out);
        }
        _ => {}
    }
}

/// The first call of a function roster refuses for Salesforce, with its span and the reason.
pub(crate) fn refused_call(
    expr: &syntax::Expr,
) -> Option<(&'static str, std::ops::Range<usize>, &'static str)> {
    match &expr.kind {
        syntax::ExprKind::Call { name, args } => functions::refused_for_salesforce(name)
            .map(|why| (*name, expr.span.clone(), why))
            .or_else(|| args.iter().flatten().find_map(refused_call)),
        syntax::ExprKind::Compare { left, right, .. } => {
            refused_call(left).or_else(|| refused_call(right))
        }
        _ => None,
    }
}

/// Every `[attribute]` the expression reads with its byte span in the expression's text, in
/// order of appearance (repeats included).
pub(crate) fn attribute_spans(
    expr: &syntax::Expr,
    out: &mut Vec<(String, std::ops::Range<usize>)>,
) {
    match &expr.kind {
        syntax::ExprKind::Attribute(name) => out.push((name.clone(), expr.span.clone())),
        syntax::ExprKind::Call { args, .. } => {
            for arg in args.iter().flatten() {
                attribute_spans(arg, out);
            }
        }
        syntax::ExprKind::Compare { left, right, .. } => {
            attribute_spans(left, out);
            attribute_spans(right, out);
        }
        syntax::ExprKind::Str(_)
        | syntax::ExprKind::Int(_)
        | syntax::ExprKind::TextCompare(_)
        | syntax::ExprKind::IgnoreFlow { .. } => {}
    }
}

/// Every `[attribute]` the expression reads, in order of appearance (repeats included).
pub(crate) fn attributes(expr: &syntax::Expr, out: &mut Vec<String>) {
    match &expr.kind {
        syntax::ExprKind::Attribute(name) => out.push(name.clone()),
        syntax::ExprKind::Call { args, .. } => {
            for arg in args.iter().flatten() {
                attributes(arg, out);
            }
        }
        syntax::ExprKind::Compare { left, right, .. } => {
            attributes(left, out);
            attributes(right, out);
        }
        syntax::ExprKind::Str(_)
        | syntax::ExprKind::Int(_)
        | syntax::ExprKind::TextCompare(_)
        | syntax::ExprKind::IgnoreFlow { .. } => {}
    }
}
