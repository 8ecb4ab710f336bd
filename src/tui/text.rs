//! Display forms of token text: control characters made visible, widths by terminal columns.
//!
//! Token pieces are shown exactly as the model's vocabulary spells them (invalid UTF-8 already
//! arrives as `\xNN`), except for control characters: `\n` → `↵`, `\t` → `→`, `\r` → `␍`, other
//! C0 controls → their Unicode control pictures (`␀`…`␟`), DEL → `␡`. Nothing is ever cut at a
//! byte index; truncation works on characters and their display widths.

use unicode_width::UnicodeWidthChar;

/// The visible form of a token's text (see the module docs for the mapping).
pub fn visible(text: &str) -> String {
    text.chars().map(visible_char).collect()
}

fn visible_char(c: char) -> char {
    match c {
        '\n' => '↵',
        '\t' => '→',
        '\r' => '␍',
        '\u{7f}' => '␡',
        c if (c as u32) < 0x20 => char::from_u32(0x2400 + c as u32).unwrap_or('?'),
        c if c.is_control() => '·',
        c => c,
    }
}

/// Display width of one character in terminal columns (zero-width characters count 0).
pub fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Display width of a string in terminal columns.
pub fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// `text` cut to at most `max` columns, ending in `…` when something was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = char_width(c);
        if used + w + 1 > max {
            break;
        }
        used += w;
        out.push(c);
    }
    if max > 0 {
        out.push('…');
    }
    out
}

/// `text` made visible, truncated to `max` columns and padded with spaces to exactly `max`.
pub fn cell(text: &str, max: usize) -> String {
    let mut s = truncate(&visible(text), max);
    let w = width(&s);
    s.extend(std::iter::repeat_n(' ', max.saturating_sub(w)));
    s
}

/// A horizontal bar of `fraction` (0..=1) of `cells` columns, with eighth-block precision.
pub fn hbar(fraction: f32, cells: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (fraction.clamp(0.0, 1.0) * (cells * 8) as f32).round() as usize;
    let full = eighths / 8;
    let mut s: String = std::iter::repeat_n('█', full).collect();
    if full < cells {
        s.push(EIGHTHS[eighths % 8]);
        s.extend(std::iter::repeat_n(' ', cells - full - 1));
    }
    s
}

/// A probability as a short percentage (`45.2%`, `0.3%`, `<0.1%`).
pub fn percent(p: f32) -> String {
    if p > 0.0 && p < 0.001 {
        "<0.1%".to_string()
    } else {
        format!("{:.1}%", p * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        assert_eq!(visible("a\nb\tc\r\u{0}\u{7f}"), "a↵b→c␍␀␡");
        assert_eq!(visible("\\xe4"), "\\xe4");
    }

    #[test]
    fn truncation_respects_wide_characters() {
        assert_eq!(truncate("日本語です", 5), "日本…");
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(width(&cell("日本語", 4)), 4);
    }

    #[test]
    fn bars_have_exact_width() {
        for f in [0.0, 0.07, 0.5, 0.99, 1.0] {
            assert_eq!(hbar(f, 10).chars().count(), 10);
        }
        assert_eq!(hbar(1.0, 4), "████");
    }
}
