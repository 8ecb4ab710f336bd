//! The transcript's wrap layout: where every prompt and generated token sits, computed once per
//! timeline change or width change (not per frame), so long sessions render only visible lines.

use crate::engine::protocol::Snapshot;
use crate::tui::text;

/// One token of the transcript, laid out.
#[derive(Debug, Clone, PartialEq)]
pub struct Piece {
    /// Visible text (see [`text::visible`]), cut to the line width if it is wider.
    pub text: String,
    pub line: usize,
    pub col: u16,
    pub width: u16,
}

/// The laid-out transcript plus its scroll position.
#[derive(Debug, Clone, Default)]
pub struct Wrap {
    key: Option<(u16, u64)>,
    /// Prompt tokens first, then generated steps.
    pub pieces: Vec<Piece>,
    pub prompt_len: usize,
    /// Index of the first piece of every line.
    line_starts: Vec<usize>,
    /// First visible line.
    pub scroll: usize,
}

impl Wrap {
    /// Lay out `snap` for `width` columns unless it already is for this `(width, version)`.
    pub fn ensure(&mut self, snap: &Snapshot, version: u64, width: u16) {
        if self.key == Some((width, version)) {
            return;
        }
        self.key = Some((width, version));
        self.pieces.clear();
        self.line_starts = vec![0];
        self.prompt_len = snap.prompt_tokens.len();
        let width = width.max(1) as usize;
        let texts = snap
            .prompt_tokens
            .iter()
            .map(|(_, t)| t.as_str())
            .chain(snap.steps.iter().map(|s| s.text.as_str()));
        let (mut line, mut col) = (0usize, 0usize);
        for raw in texts {
            let shown = text::truncate(&text::visible(raw), width);
            let w = text::width(&shown).max(1);
            if col > 0 && col + w > width {
                line += 1;
                col = 0;
                self.line_starts.push(self.pieces.len());
            }
            let shown = if shown.is_empty() {
                " ".to_string()
            } else {
                shown
            };
            self.pieces.push(Piece {
                text: shown,
                line,
                col: col as u16,
                width: w as u16,
            });
            col += w;
            if raw.contains('\n') {
                line += 1;
                col = 0;
                self.line_starts.push(self.pieces.len());
            }
        }
    }

    /// Number of lines.
    pub fn lines(&self) -> usize {
        self.line_starts.len()
    }

    /// The pieces on `line`, with their indices.
    pub fn line(&self, line: usize) -> impl Iterator<Item = (usize, &Piece)> {
        let start = self
            .line_starts
            .get(line)
            .copied()
            .unwrap_or(self.pieces.len());
        let end = self
            .line_starts
            .get(line + 1)
            .copied()
            .unwrap_or(self.pieces.len());
        (start..end).map(move |i| (i, &self.pieces[i]))
    }

    /// Scroll so that `step` (or the end, when `None`) is visible in `height` lines.
    pub fn scroll_to(&mut self, step: Option<usize>, height: usize) {
        let height = height.max(1);
        let target = match step.and_then(|s| self.pieces.get(self.prompt_len + s)) {
            Some(p) => p.line,
            None => self.lines().saturating_sub(1),
        };
        if target < self.scroll {
            self.scroll = target;
        } else if target >= self.scroll + height {
            self.scroll = target + 1 - height;
        }
        self.scroll = self.scroll.min(self.lines().saturating_sub(1));
    }

    /// The generated step under visible row `row`, column `col` (both relative to the panel).
    pub fn step_at(&self, row: usize, col: u16) -> Option<usize> {
        self.line(self.scroll + row)
            .find(|(_, p)| col >= p.col && col < p.col + p.width)
            .and_then(|(i, _)| i.checked_sub(self.prompt_len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::session::RecordedSession;

    fn snap(texts: &[&str]) -> Snapshot {
        let mut s = crate::tui::synthetic::demo_session(texts.len(), 1);
        for (step, t) in s.steps.iter_mut().zip(texts) {
            step.text = t.to_string();
        }
        s.prompt_tokens = vec![(0, "P:".into())];
        RecordedSession::to_snapshot(&s)
    }

    #[test]
    fn wraps_and_breaks_after_newlines() {
        let mut w = Wrap::default();
        w.ensure(&snap(&[" ab", "\n", "日本", "cdefgh"]), 1, 6);
        let at: Vec<(usize, u16)> = w.pieces.iter().map(|p| (p.line, p.col)).collect();
        assert_eq!(at, vec![(0, 0), (0, 2), (0, 5), (1, 0), (2, 0)]);
        assert_eq!(w.pieces[2].text, "↵");
        assert_eq!(w.step_at(1, 3), Some(2));
        assert_eq!(w.step_at(0, 0), None);
    }

    #[test]
    fn scroll_keeps_the_step_visible() {
        let mut w = Wrap::default();
        w.ensure(&snap(&["aaaa"; 10]), 1, 4);
        w.scroll_to(Some(9), 3);
        assert_eq!(w.scroll, 8);
        w.scroll_to(Some(0), 3);
        assert_eq!(w.scroll, 1);
    }
}
