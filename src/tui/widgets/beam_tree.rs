//! The beam-search tree widget: one column per step, each node its token and cumulative
//! log-probability; the selected node's next-token distribution beside it, the hypotheses
//! below.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Borders, Widget};

use crate::decode::beam::{BeamConfig, BeamTree, ROOT};
use crate::tui::app::App;
use crate::tui::tabs::beams::{column, position};
use crate::tui::text::{cell, hbar, percent, truncate, visible};
use crate::tui::theme;

/// Columns of one step: marker, token, score.
const TOKEN_W: usize = 9;
const SCORE_W: usize = 6;
const COL_W: u16 = (1 + TOKEN_W + 1 + SCORE_W) as u16;
/// Column stride (a gap between columns).
const STRIDE: u16 = COL_W + 1;
/// Width of the side panel.
const SIDE_W: u16 = 30;
/// What the beam tab shows.
pub struct BeamsView<'a> {
    pub tree: Option<&'a BeamTree>,
    pub vocab: &'a [String],
    pub config: &'a BeamConfig,
    pub selected: Option<usize>,
    pub running: bool,
    /// A status message instead of the key hints.
    pub message: Option<&'a str>,
}

/// The beam tab's view of `app`.
pub fn beams_view(app: &App) -> BeamsView<'_> {
    BeamsView {
        tree: app.beams.tree.as_deref(),
        vocab: app.info.as_ref().map_or(&[], |i| i.vocab.as_slice()),
        config: &app.beams.config,
        selected: app.beams.selected,
        running: app.beams.running,
        message: app.message.as_ref().map(|m| m.text.as_str()),
    }
}

const HINTS: &str =
    "space expand · r run · ←→↑↓ node · +/- beams · l/L length pen. · d/D diversity · 1-4 tabs";

impl BeamsView<'_> {
    fn token(&self, id: u32) -> &str {
        self.vocab.get(id as usize).map_or("?", |s| s.as_str())
    }

    fn header(&self) -> String {
        let c = self.config;
        let mut s = format!(
            "beam search  B={}  length penalty {:.2}  diversity {:.2} ({} group{})",
            c.beams,
            c.length_penalty,
            c.diversity,
            c.groups,
            if c.groups == 1 { "" } else { "s" }
        );
        if let Some(t) = self.tree {
            let max = t.config.as_ref().map_or(0, |c| c.max_new_tokens);
            let state = if t.done {
                "■ done"
            } else if self.running {
                "▶ running"
            } else {
                "⏸ paused"
            };
            s.push_str(&format!("  step {}/{max}  {state}", t.steps.len()));
        }
        s
    }

    fn draw_tree(&self, tree: &BeamTree, area: Rect, buf: &mut Buffer) {
        let visible_cols = (area.width / STRIDE).max(1) as usize;
        let focus = self
            .selected
            .and_then(|id| position(tree, id))
            .map_or(tree.steps.len(), |(c, _)| c);
        let first = (focus + 1).saturating_sub(visible_cols);
        let best: Vec<usize> = tree.best_path();
        let emph = |id: usize, base: Style| {
            let s = if best.contains(&id) {
                base.add_modifier(Modifier::BOLD).fg(theme::FINAL)
            } else {
                base
            };
            if self.selected == Some(id) {
                s.add_modifier(Modifier::REVERSED)
            } else {
                s
            }
        };
        for (i, col) in (first..=tree.steps.len()).take(visible_cols).enumerate() {
            let x = area.x + i as u16 * STRIDE;
            let more = if i == 0 && first > 0 { "◀ " } else { "" };
            let title = if col == 0 {
                "prompt".to_string()
            } else {
                format!("{more}step {col}")
            };
            buf.set_string(x, area.y, cell(&title, COL_W as usize), theme::dim());
            let mut y = area.y + 1;
            let bottom = area.y + area.height;
            let mut put = |y: &mut u16, text: String, style: Style| {
                if *y < bottom {
                    buf.set_string(x, *y, text, style);
                    *y += 1;
                }
            };
            if col == 0 {
                let last = tree.prompt.last().map_or("", |&t| self.token(t));
                put(&mut y, entry(' ', last, 0.0), emph(ROOT, Style::new()));
                continue;
            }
            let step = &tree.steps[col - 1];
            let prev = column(tree, col - 1);
            let row_of = |id: usize| prev.iter().position(|&n| n == id);
            for (row, n) in step.nodes.iter().enumerate() {
                let marker = match (n.finished, row_of(n.parent)) {
                    (Some(_), _) => '✓',
                    (None, Some(p)) if p == row => '→',
                    (None, Some(p)) if p < row => '↘',
                    _ => '↗',
                };
                let (score, base) = match n.finished {
                    Some(f) => (f, Style::new().fg(theme::RAW)),
                    None => (n.score, Style::new()),
                };
                put(
                    &mut y,
                    entry(marker, self.token(n.token_id), score),
                    emph(n.id, base),
                );
            }
            let mut pruned: Vec<_> = step.pruned.iter().collect();
            pruned.sort_by(|a, b| b.score.total_cmp(&a.score));
            for p in pruned {
                put(
                    &mut y,
                    entry('·', self.token(p.token_id), p.score),
                    theme::dim(),
                );
            }
        }
    }

    fn draw_side(&self, tree: Option<&BeamTree>, area: Rect, buf: &mut Buffer) {
        let block = Block::default().borders(Borders::ALL).title(" node ");
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(tree) = tree else { return };
        let id = self.selected.or_else(|| tree.best_path().last().copied());
        let Some(id) = id else { return };
        let w = inner.width as usize;
        let mut lines: Vec<(String, Style)> = Vec::new();
        if id == ROOT {
            lines.push(("the prompt".into(), Style::new()));
        } else if let Some((step, n)) = tree.node(id) {
            let tok = visible(self.token(n.token_id));
            lines.push((
                format!("step {}  {}", step + 1, truncate(&tok, w.saturating_sub(8))),
                Style::new().add_modifier(Modifier::BOLD),
            ));
            lines.push((
                format!("logprob {:.3} ({})", n.logprob, percent(n.logprob.exp())),
                Style::new(),
            ));
            lines.push((format!("cumulative {:.3}", n.score), Style::new()));
            if let Some(f) = n.finished {
                lines.push((
                    format!("✓ finished, score {f:.4}"),
                    Style::new().fg(theme::RAW),
                ));
            }
        }
        lines.push((String::new(), Style::new()));
        match tree.top_of(id) {
            Some(top) => {
                lines.push(("next token".into(), theme::dim()));
                for &(t, lp) in top {
                    let p = lp.exp();
                    let label = cell(self.token(t), w.saturating_sub(15));
                    lines.push((
                        format!("{:>6} {} {label}", percent(p), hbar(p, 6)),
                        Style::new(),
                    ));
                }
            }
            None => lines.push(("not expanded yet".into(), theme::dim())),
        }
        for (i, (text, style)) in lines.into_iter().take(inner.height as usize).enumerate() {
            buf.set_string(inner.x, inner.y + i as u16, truncate(&text, w), style);
        }
    }

    fn draw_hypotheses(&self, tree: Option<&BeamTree>, area: Rect, buf: &mut Buffer) {
        let block = Block::default().borders(Borders::ALL).title(" hypotheses ");
        let inner = block.inner(area);
        block.render(area, buf);
        let hyps = tree.map_or(&[][..], |t| t.hypotheses.as_slice());
        if hyps.is_empty() {
            buf.set_string(inner.x, inner.y, "none finished yet", theme::dim());
        }
        for (i, h) in hyps.iter().take(inner.height as usize).enumerate() {
            let text: String = h.ids.iter().map(|&t| visible(self.token(t))).collect();
            let style = if i == 0 {
                Style::new().add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            let line = format!("{:>2} {:>8.4}  {text}", i + 1, h.score);
            buf.set_string(
                inner.x,
                inner.y + i as u16,
                truncate(&line, inner.width as usize),
                style,
            );
        }
    }
}

/// One tree cell: marker, token, score.
fn entry(marker: char, token: &str, score: f64) -> String {
    let score = format!("{score:.2}");
    format!("{marker}{} {}", cell(token, TOKEN_W), cell(&score, SCORE_W))
}

impl Widget for &BeamsView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let rows = self.config.beams.clamp(1, 4) as u16 + 2;
        let [header, body, hyps, hints] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(rows),
            Constraint::Length(1),
        ])
        .areas(area);
        buf.set_string(
            header.x,
            header.y,
            truncate(&self.header(), header.width as usize),
            Style::new().add_modifier(Modifier::BOLD),
        );
        let [tree_area, side] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(SIDE_W)]).areas(body);
        match self.tree {
            Some(t) => self.draw_tree(t, tree_area, buf),
            None => buf.set_string(
                tree_area.x,
                tree_area.y + 1,
                "space: expand one step · r: run the search to the end",
                theme::dim(),
            ),
        }
        self.draw_side(self.tree, side, buf);
        self.draw_hypotheses(self.tree, hyps, buf);
        let (text, style) = match self.message {
            Some(m) => (m, Style::new().fg(theme::ERROR)),
            None => (HINTS, theme::dim()),
        };
        buf.set_string(
            hints.x,
            hints.y,
            truncate(text, hints.width as usize),
            style,
        );
    }
}
