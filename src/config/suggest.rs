//! "Did you mean …?" hints for misspelt keys and names.
//!
//! Used when a key, upstream name or enum value is unknown, so a typo in
//! `gateway.yaml` is reported together with the most likely intended word.

/// The candidate closest to `word` by edit distance, if it is close enough to
/// be a plausible typo (at most 2 edits, or a third of the word's length).
pub(crate) fn closest<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (distance(word, candidate), candidate))
        .filter(|(d, candidate)| *d <= limit && *d < candidate.chars().count())
        .min_by_key(|(d, _)| *d)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, ignoring ASCII case (a case slip costs nothing).
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().map(|c| c.to_ascii_lowercase()).collect();
    let b: Vec<char> = b.chars().map(|c| c.to_ascii_lowercase()).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// `" (known: a, b)"`-style list for messages.
pub(crate) fn known_list<'a, I>(candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    candidates.into_iter().collect::<Vec<_>>().join(", ")
}

/// Appends `; did you mean "x"?` to `message` when a close candidate exists.
pub(crate) fn with_hint<'a, I>(message: String, word: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    match closest(word, candidates) {
        Some(candidate) => format!("{message}; did you mean \"{candidate}\"?"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        let keys = ["upstream", "path", "host", "auth"];
        assert_eq!(closest("upstrem", keys), Some("upstream"));
        assert_eq!(closest("Path", keys), Some("path"));
        assert_eq!(closest("cookie_jar", keys), None);
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("portl", "portal"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }
}
