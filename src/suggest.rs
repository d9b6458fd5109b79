//! "Did you mean …?": the closest known name to a misspelt one.

/// The candidate closest to `input` by edit distance (case-insensitive), if it is close enough
/// to be a plausible typo: an edit for every three characters, and at least one — rustc's own
/// rule for "a similar name exists" (`max(len, 3) / 3`, `rustc_span::edit_distance`). Two edits
/// in a name of three to five characters change most of it (`Foo` is not a typo of `Not`).
pub(crate) fn closest<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let needle = input.to_lowercase();
    let limit = input.chars().count().max(3) / 3;
    candidates
        .into_iter()
        .map(|c| (distance(&needle, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance over characters, a swap of two neighbours one edit as an insertion, deletion
/// or substitution is (optimal string alignment: `Joni` is one edit from `Join`, `fiel` from
/// `file`).
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows: two back, the last, and the one being filled.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (last[j - 1] + cost).min(last[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before[j - 2] + 1);
            }
            row[j] = best;
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_word() {
        assert_eq!(
            closest("sorce", ["source", "constant", "target"]),
            Some("source")
        );
        assert_eq!(closest("JOIN", ["Join", "Left"]), Some("Join"));
        assert_eq!(closest("zzzzzzzz", ["source"]), None);
        // Short names allow one edit; longer ones one for every three characters.
        assert_eq!(closest("Foo", ["Not", "Len"]), None);
        assert_eq!(closest("Lft", ["Left", "Not"]), Some("Left"));
        assert_eq!(closest("Appnd", ["Append"]), Some("Append"));
        assert_eq!(closest("Tittel", ["Title"]), Some("Title"));
        assert_eq!(closest("Replase", ["Replace"]), Some("Replace"));
        // Two letters swapped are one edit.
        assert_eq!(closest("fiel", ["env", "file"]), Some("file"));
        assert_eq!(closest("Joni", ["Join", "Not"]), Some("Join"));
        assert_eq!(distance("abcd", "badc"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
    }
}
