//! A word lexicon as a reward: the sentiment of a text as the sum of its words' valences.
//!
//! The `sentiment` lexicon is VADER's (C.J. Hutto, MIT licence; `assets/lexicons/`), its
//! valences (-4..4) divided by 4. A text's words are its maximal runs of ASCII letters and
//! apostrophes, lower-cased; a word not in the lexicon scores 0. A candidate token is scored by
//! the text of the generated tokens with it appended, so a token that starts a word is scored
//! by the word as it stands so far, and one that continues a word re-scores the whole word
//! (" happ" + "iness" is "happiness"); the words before it are common to every candidate.

use std::collections::HashMap;

/// The committed sentiment lexicon: `word<TAB>valence` lines.
const SENTIMENT_TSV: &str = include_str!("../../assets/lexicons/vader_valence.tsv");

/// A word → valence table.
#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    valence: HashMap<String, f32>,
}

impl Lexicon {
    /// The lexicon `name` (see [`crate::decode::steer::LEXICONS`]).
    pub fn named(name: &str) -> Result<Lexicon, String> {
        match name {
            "sentiment" => Ok(Lexicon::from_tsv(SENTIMENT_TSV, 4.0)),
            other => Err(format!("unknown lexicon {other:?}")),
        }
    }

    /// Parses `word<TAB>value` lines, dividing each value by `scale`; other lines are skipped.
    pub fn from_tsv(text: &str, scale: f32) -> Lexicon {
        let valence = text
            .lines()
            .filter_map(|l| {
                let (w, v) = l.split_once('\t')?;
                Some((w.to_string(), v.trim().parse::<f32>().ok()? / scale))
            })
            .collect();
        Lexicon { valence }
    }

    /// The valence of one word (0 when unknown).
    pub fn word(&self, w: &str) -> f32 {
        self.valence.get(w).copied().unwrap_or(0.0)
    }

    /// The summed valence of `text`'s words.
    pub fn score(&self, text: &str) -> f32 {
        words(text).map(|w| self.word(&w)).sum()
    }
}

/// The words of `text`: maximal runs of ASCII letters and apostrophes, lower-cased.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_alphabetic() || c == '\''))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .map(|w| w.trim_matches('\'').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_and_lower() {
        let w: Vec<String> = words("I'm HAPPY, not sad!! 42 'ok'").collect();
        assert_eq!(w, ["i'm", "happy", "not", "sad", "ok"]);
    }

    #[test]
    fn the_sentiment_lexicon_scores_words() {
        let lex = Lexicon::named("sentiment").unwrap();
        assert!(lex.word("happy") > 0.5 && lex.word("terrible") < -0.5);
        let s = lex.score("a happy, terrible day");
        assert!((s - (lex.word("happy") + lex.word("terrible"))).abs() < 1e-6);
        assert_eq!(lex.score("the table"), 0.0);
    }
}
