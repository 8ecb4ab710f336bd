//! Sentence-level chrF and BLEU, ports of sacrebleu 2.x (default settings), for MBR utilities.
//!
//! Both return sacrebleu's `sentence_score(hypothesis, [reference]).score` on its 0–100 scale
//! and follow its arithmetic step for step (same statistics, same order of floating-point
//! operations), so they agree with it to rounding; `tests/mbr_metrics.rs` checks 1e-4 against
//! `tests/fixtures/mbr_metrics.json` (made by `scripts/golden/make_mbr_metrics.py`).
//!
//! "Whitespace" is Python's `str.isspace` throughout (what `str.split()` and `str.rstrip()`
//! use): Unicode `White_Space` plus the ASCII separators U+001C–U+001F. Characters are Unicode
//! scalar values, as Python indexes `str`; nothing is normalized or lowercased.

use std::collections::HashMap;
use std::hash::Hash;

/// chrF character n-gram orders 1..=6 (`CHRF.CHAR_ORDER`).
const CHAR_ORDER: usize = 6;
/// chrF recall weight β (`CHRF.BETA`).
const BETA: f64 = 2.0;
/// BLEU word n-gram orders 1..=4 (`MAX_NGRAM_ORDER`).
const MAX_NGRAM_ORDER: usize = 4;

/// sacrebleu `CHRF()` sentence score with every default: char_order 6, word_order 0 (plain
/// chrF, not chrF++), beta 2, case-sensitive, whitespace removed, and `eps_smoothing=False`
/// (the default: signature `eff:yes`).
///
/// All whitespace is deleted first, then for each order n = 1..=6 the character n-grams of
/// both sides are counted; matches are the clipped counts `Σ min(hyp[g], ref[g])`. An order
/// counts only where both sides have n-grams (so the effective order is `min(6, |hyp|, |ref|)`
/// in characters); over those orders precision `match/hyp_total` and recall
/// `match/ref_total` are **averaged**, and the score is `100·(1+β²)·P·R / (β²·P + R)`. No
/// effective order (either side empty or all whitespace) or `P + R = 0` gives 0. (The eps
/// smoothing of chrF++.py, which averages per-order F-scores with 1e-16 for empty orders, is
/// sacrebleu's `eps_smoothing=True`, not the default.)
pub fn chrf(hypothesis: &str, reference: &str) -> f64 {
    let hyp: Vec<char> = hypothesis.chars().filter(|&c| !is_py_space(c)).collect();
    let refr: Vec<char> = reference.chars().filter(|&c| !is_py_space(c)).collect();
    let factor = BETA * BETA;
    let (mut avg_prec, mut avg_rec, mut effective_order) = (0.0f64, 0.0f64, 0usize);
    for n in 1..=CHAR_ORDER {
        let (n_hyp, n_ref, n_match) = match_stats(&hyp, &refr, n);
        if n_hyp > 0 && n_ref > 0 {
            avg_prec += n_match as f64 / n_hyp as f64;
            avg_rec += n_match as f64 / n_ref as f64;
            effective_order += 1;
        }
    }
    if effective_order == 0 {
        return 0.0;
    }
    avg_prec /= effective_order as f64;
    avg_rec /= effective_order as f64;
    if avg_prec + avg_rec == 0.0 {
        return 0.0;
    }
    let mut score = (1.0 + factor) * avg_prec * avg_rec;
    score /= factor * avg_prec + avg_rec;
    100.0 * score
}

/// sacrebleu `BLEU(effective_order=True).sentence_score` with the other defaults: tokenizer
/// `13a`, `smooth_method="exp"`, case-sensitive, max order 4, one reference.
///
/// Both sides are right-stripped of whitespace and tokenized by [`tokenize_13a`]. For n = 1..=4
/// `total[n]` counts the hypothesis word n-grams and `correct[n]` the clipped matches.
/// - **No unigram (or any) match → 0**, before any smoothing (sacrebleu #141).
/// - **Effective order**: orders are used up to the last n with `total[n] > 0`, i.e.
///   `min(4, hyp_len)`; an order whose precision is 0 but whose total is not stays in.
/// - **exp smoothing** (NIST / mteval-v13a, Chen & Cherry method 3): the k-th order with no
///   match (k = 1, 2, ...) gets precision `100 / (2^k · total[n])`; others `100·correct/total`.
/// - **Brevity penalty** `exp(1 − ref_len/hyp_len)` when `hyp_len < ref_len` (lengths in
///   tokens), else 1.
///
/// The score is `BP · exp(Σ ln p_n / eff_order)`, so identical non-empty texts give 100.
pub fn sentence_bleu(hypothesis: &str, reference: &str) -> f64 {
    let hyp_tok = tokenize_13a(hypothesis.trim_end_matches(is_py_space));
    let ref_tok = tokenize_13a(reference.trim_end_matches(is_py_space));
    let hyp: Vec<&str> = py_split(&hyp_tok).collect();
    let refr: Vec<&str> = py_split(&ref_tok).collect();
    let (sys_len, ref_len) = (hyp.len(), refr.len());

    let mut correct = [0usize; MAX_NGRAM_ORDER];
    let mut total = [0usize; MAX_NGRAM_ORDER];
    for n in 1..=MAX_NGRAM_ORDER {
        let (n_hyp, _, n_match) = match_stats(&hyp, &refr, n);
        total[n - 1] = n_hyp;
        correct[n - 1] = n_match;
    }

    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    if correct.iter().all(|&c| c == 0) {
        return 0.0;
    }

    let mut smooth_mteval = 1.0f64;
    let mut eff_order = 0usize;
    let mut log_sum = 0.0f64;
    for n in 1..=MAX_NGRAM_ORDER {
        let (c, t) = (correct[n - 1], total[n - 1]);
        if t == 0 {
            break;
        }
        eff_order = n;
        let precision = if c == 0 {
            smooth_mteval *= 2.0;
            100.0 / (smooth_mteval * t as f64)
        } else {
            100.0 * c as f64 / t as f64
        };
        log_sum += precision.ln();
    }
    // correct[0] > 0 here (a match at any order implies a unigram match), so eff_order >= 1.
    bp * (log_sum / eff_order as f64).exp()
}

/// sacrebleu's `13a` tokenizer (mteval-v13a.pl), returned as single-space-joined tokens.
///
/// 1. Delete `<skipped>`, join `-\n` line-break hyphens, turn `\n` into a space, unescape
///    `&quot;` `&amp;` `&lt;` `&gt;` (in that order, each a plain replace-all).
/// 2. Pad with a space on each side, then (`TokenizerRegexp`, each a left-to-right,
///    non-overlapping substitution):
///    - surround with spaces every ASCII symbol ``{|}~ [\]^_` !"#$%& ()*+ :;<=>?@ /`` —
///      everything ASCII but letters, digits, `'`, `,`, `-` and `.`;
///    - split `.` / `,` off a preceding non-digit: `([^0-9])([.,])` → `\1 \2 `;
///    - split `.` / `,` off a following non-digit: `([.,])([^0-9])` → ` \1 \2`;
///    - split `-` after a digit: `([0-9])(-)` → `\1 \2 `.
///
///    So `1,000.50` and `3.14` stay whole, `42.` and `U.S.A.` come apart, `don't` and
///    `well-known` are kept, and non-ASCII punctuation (`—`, `“`, `。`) stays attached.
/// 3. Collapse whitespace runs to one space and trim.
fn tokenize_13a(line: &str) -> String {
    let line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    let mut chars = Vec::with_capacity(line.len() + 2);
    chars.push(' ');
    for c in line.chars() {
        if is_13a_symbol(c) {
            chars.extend([' ', c, ' ']);
        } else {
            chars.push(c);
        }
    }
    chars.push(' ');
    let period_comma = |c: char| c == '.' || c == ',';
    let digit = |c: char| c.is_ascii_digit();
    let chars = sub_pairs(
        &chars,
        |a, b| !digit(a) && period_comma(b),
        |a, b| [a, ' ', b, ' '],
    );
    let chars = sub_pairs(
        &chars,
        |a, b| period_comma(a) && !digit(b),
        |a, b| [' ', a, ' ', b],
    );
    let chars = sub_pairs(&chars, |a, b| digit(a) && b == '-', |a, b| [a, ' ', b, ' ']);
    let s: String = chars.into_iter().collect();
    py_split(&s).collect::<Vec<_>>().join(" ")
}

/// The first `13a` class `[\{-\~\[-\` -\&\(-\+\:-\@\/]`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// Python `re.sub` of a two-character pattern `(X)(Y)`: scan left to right, replace each
/// match and resume after it (matches never overlap).
fn sub_pairs(
    s: &[char],
    matches: impl Fn(char, char) -> bool,
    repl: impl Fn(char, char) -> [char; 4],
) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() + s.len() / 4);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && matches(s[i], s[i + 1]) {
            out.extend(repl(s[i], s[i + 1]));
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// Python's `str.isspace` (what `str.split()` / `str.rstrip()` split and strip on).
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.split()` with no arguments.
fn py_split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|w| !w.is_empty())
}

/// `(hypothesis n-grams, reference n-grams, clipped matches)` for order `n`.
fn match_stats<T: Eq + Hash>(hyp: &[T], refr: &[T], n: usize) -> (usize, usize, usize) {
    let h = ngram_counts(hyp, n);
    let r = ngram_counts(refr, n);
    let matches = h
        .iter()
        .map(|(g, &c)| r.get(g).map_or(0, |&rc| c.min(rc)))
        .sum();
    (
        hyp.len().saturating_sub(n - 1),
        refr.len().saturating_sub(n - 1),
        matches,
    )
}

fn ngram_counts<T: Eq + Hash>(seq: &[T], n: usize) -> HashMap<&[T], usize> {
    let mut counts = HashMap::new();
    if seq.len() >= n {
        for g in seq.windows(n) {
            *counts.entry(g).or_insert(0) += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn identical_is_100_and_disjoint_is_0() {
        for s in [
            "the cat sat on the mat",
            "x",
            "Hello, world!",
            "東京は日本の首都です",
        ] {
            assert!(close(chrf(s, s), 100.0), "{s}");
            assert!(close(sentence_bleu(s, s), 100.0), "{s}");
        }
        assert_eq!(chrf("xyz qrs", "abc def"), 0.0);
        assert_eq!(sentence_bleu("xyz qrs", "abc def"), 0.0);
        // Case-sensitive: no character in common.
        assert_eq!(chrf("HELLO", "hello"), 0.0);
        assert_eq!(sentence_bleu("HELLO", "hello"), 0.0);
    }

    #[test]
    fn empty_and_whitespace_only_sides_score_0() {
        for (h, r) in [
            ("", "the cat"),
            ("the cat", ""),
            ("", ""),
            ("  \t", "the cat"),
            (" \n", " "),
        ] {
            assert_eq!(chrf(h, r), 0.0, "{h:?} {r:?}");
            assert_eq!(sentence_bleu(h, r), 0.0, "{h:?} {r:?}");
        }
    }

    #[test]
    fn chrf_ignores_whitespace() {
        assert!(close(chrf("the cat", "thecat"), 100.0));
        assert!(close(chrf("a\u{a0}b\u{3000}c\u{1f}d", "abcd"), 100.0));
    }

    #[test]
    fn chrf_hand_checked() {
        // "ab" vs "abc": order 1 P=1 R=2/3, order 2 P=1 R=1/2 (orders 3..6: hyp has none).
        // P=1, R=7/12: 5·P·R/(4P+R) = (35/12)/(55/12) = 7/11.
        assert!(close(chrf("ab", "abc"), 700.0 / 11.0));
    }

    #[test]
    fn bleu_effective_order_and_brevity_penalty() {
        // One unigram, all matched: eff order 1, p1 = 100, BP = exp(1 - 2/1).
        assert!(close(
            sentence_bleu("cat", "the cat"),
            100.0 * (-1.0f64).exp()
        ));
        // "the cat" vs "cat the": p1 = 100, p2 = 0 -> exp-smoothed 100/(2·1) = 50.
        assert!(close(
            sentence_bleu("the cat", "cat the"),
            (100.0f64 * 50.0).sqrt()
        ));
        // "a b c" vs "a b d": p1 = 2/3, p2 = 1/2, p3 = 0 -> 100/(2·1).
        let expect = ((200.0f64 / 3.0).ln() + 50f64.ln() + 50f64.ln()) / 3.0;
        assert!(close(sentence_bleu("a b c", "a b d"), expect.exp()));
        // Longer hypothesis: no brevity penalty; second unmatched order halves again.
        // "a b x y" vs "a b": p1 = 2/4, p2 = 1/3, p3 = 0 -> 100/(2·2), p4 = 0 -> 100/(4·1).
        let expect = (50f64.ln() + (100.0f64 / 3.0).ln() + 25f64.ln() + 25f64.ln()) / 4.0;
        assert!(close(sentence_bleu("a b x y", "a b"), expect.exp()));
    }

    #[test]
    fn bleu_no_match_is_0_not_smoothed() {
        assert_eq!(sentence_bleu("ab", "abc"), 0.0);
    }

    #[test]
    fn tokenizer_13a_rules() {
        let cases = [
            ("Hello, world!", "Hello , world !"),
            ("It costs $1,000.50 today.", "It costs $ 1,000.50 today ."),
            ("Pi is 3.14, roughly.", "Pi is 3.14 , roughly ."),
            ("In 2020-2021, x-y", "In 2020 - 2021 , x-y"),
            ("don't say \"hi\"", "don't say \" hi \""),
            ("U.S.A. e.g.,", "U . S . A . e . g . ,"),
            ("x.y,z 1.2,3 a.1 1.a", "x . y , z 1.2,3 a . 1 1 . a"),
            ("a&amp;lt;b &quot;", "a < b \""),
            ("one <skipped> hy-\nphen\nx", "one hyphen x"),
            ("(see) [x] {y} a/b a:b", "( see ) [ x ] { y } a / b a : b"),
            ("  many \t spaces\u{a0}here ", "many spaces here"),
            ("em—dash “quote” 。", "em—dash “quote” 。"),
        ];
        for (input, want) in cases {
            assert_eq!(tokenize_13a(input), want, "{input:?}");
        }
    }

    #[test]
    fn py_space_matches_python_isspace() {
        // [c for c in range(0x110000) if chr(c).isspace()] under Python 3.11.
        let python: Vec<u32> = [
            0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0,
        ]
        .into_iter()
        .chain([0x1680])
        .chain(0x2000..=0x200a)
        .chain([0x2028, 0x2029, 0x202f, 0x205f, 0x3000])
        .collect();
        let ours: Vec<u32> = (0..=0x10ffffu32)
            .filter_map(char::from_u32)
            .filter(|&c| is_py_space(c))
            .map(|c| c as u32)
            .collect();
        assert_eq!(ours, python);
    }
}
