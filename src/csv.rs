//! The CSV of Bulk API 2.0 (RFC 4180: comma, LF line endings, `"` quoting with doubled quotes),
//! written by `apply` and read back from the job's results — and the same on the emulator side.

/// Appends one row, quoting the fields that need it.
pub(crate) fn write_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if field.contains([',', '"', '\n', '\r']) || field.starts_with(' ') || field.ends_with(' ')
        {
            out.push('"');
            out.push_str(&field.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(field);
        }
    }
    out.push('\n');
}

/// Every row of a CSV document; the first is the header. A quote left open is an error.
pub(crate) fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (_, c) => field.push(c),
        }
    }
    if quoted {
        return Err(format!(
            "a quoted field is not closed (row {})",
            rows.len() + 1
        ));
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        let mut out = String::new();
        write_row(&mut out, ["Id", "a,b", "say \"hi\"", "two\nlines", " pad"]);
        assert_eq!(
            out,
            "Id,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\"\n"
        );
        assert_eq!(
            parse(&out).unwrap(),
            [["Id", "a,b", "say \"hi\"", "two\nlines", " pad"]]
        );
    }

    #[test]
    fn reads_crlf_and_a_last_line_without_newline() {
        assert_eq!(
            parse("\"sf__Id\",\"sf__Error\"\r\n\"\",\"UNABLE_TO_LOCK_ROW:locked:--\"").unwrap(),
            [
                vec!["sf__Id", "sf__Error"],
                vec!["", "UNABLE_TO_LOCK_ROW:locked:--"]
            ]
        );
        assert!(parse("a,\"open\n").is_err());
    }

    proptest! {
        #[test]
        fn round_trips(rows in prop::collection::vec(prop::collection::vec(".{0,12}", 1..5), 1..5)) {
            let mut out = String::new();
            for row in &rows {
                write_row(&mut out, row.iter().map(String::as_str));
            }
            // A row of one empty field is written as an empty line, which reads back as nothing.
            let expected: Vec<Vec<String>> = rows.into_iter().filter(|r| r != &[String::new()]).collect();
            let parsed: Vec<Vec<String>> = parse(&out).unwrap().into_iter().filter(|r| r != &[String::new()]).collect();
            prop_assert_eq!(parsed, expected);
        }
    }
}
