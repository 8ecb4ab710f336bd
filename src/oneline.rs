//! Error text made fit for the one `error: ...` line every failure prints.

use std::fmt::Display;

/// Longest message kept, in characters.
const MAX: usize = 300;

/// `e` on one line: its non-empty lines trimmed and joined by `; `, runs of whitespace
/// collapsed, cut to 300 characters (marked `…`).
pub fn one_line(e: impl Display) -> String {
    let text = e.to_string();
    let joined = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if joined.chars().count() > MAX {
        joined.chars().take(MAX).collect::<String>() + "…"
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_lines_collapses_space_and_caps_length() {
        assert_eq!(one_line("  a\tb \n\n c  \n"), "a b; c");
        let long = "x".repeat(400);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), MAX + 1);
        assert!(cut.ends_with('…'));
    }
}
