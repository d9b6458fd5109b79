//! The CSV of Bulk API 2.0 (RFC 4180: comma, LF line endings, `"` quoting with doubled quotes).
//! roster writes its uploads here (quoting also a field with an edge space, which Bulk API
//! would otherwise trim) and reads every CSV — its job results, and the emulator its uploads —
//! with the `csv` crate, so its own writer is checked by an independent reader.

/// Appends one row, quoting the fields that need it.
pub(crate) fn write_row<'a>(out: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // An edge space would be trimmed, and a leading byte-order mark read as the file's.
        if field.contains([',', '"', '\n', '\r'])
            || field.starts_with([' ', '\u{feff}'])
            || field.ends_with(' ')
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

/// Every row of a CSV document (the first is the header), read by the `csv` crate; rows may
/// differ in length.
pub(crate) fn parse(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut rows = Vec::new();
    each_row(text.as_bytes(), |row| {
        rows.push(row.iter().map(str::to_owned).collect());
    })?;
    Ok(rows)
}

/// Each row of a CSV document (the first is the header) given to `f` as it is read, in one
/// reused record: a Bulk API job's 100,000 result rows are never held as strings together.
pub(crate) fn each_row(text: &[u8], mut f: impl FnMut(&csv::StringRecord)) -> Result<(), String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text);
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).map_err(|e| e.to_string())? {
        f(&record);
    }
    Ok(())
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
