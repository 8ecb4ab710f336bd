//! The distribution panel: the selected step's top candidates with raw and final probability
//! bars, the chosen token, what removed the others, and where each cutoff fell.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::decode::spec::ThresholdKind;
use crate::decode::stage::spec;
use crate::decode::trace::StepTrace;
use crate::engine::protocol::StepRecord;
use crate::tui::app::{App, Focus};
use crate::tui::text;
use crate::tui::theme;

/// Columns for the token text.
const TOKEN_COLS: usize = 12;
/// Columns for the removal label.
const LABEL_COLS: usize = 12;

/// One candidate row.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateRow {
    /// Index into the trace's candidates (= raw rank).
    pub index: usize,
    pub text: String,
    pub raw_p: f32,
    pub final_p: f32,
    pub chosen: bool,
    pub highlighted: bool,
    /// Name of the stage that removed it.
    pub removed_by: Option<String>,
}

/// A line of the candidate list.
#[derive(Debug, Clone, PartialEq)]
pub enum DistLine {
    Candidate(CandidateRow),
    /// A cutoff marker drawn after the candidate above it (e.g. `top_p p=0.9 · 12 kept`).
    Marker(String),
}

/// What the distribution panel shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionView {
    pub title: String,
    /// The trace is the step re-run under changed knobs.
    pub preview: bool,
    pub focused: bool,
    /// The visible window of the list.
    pub lines: Vec<DistLine>,
    /// Probability drawn as a full bar.
    pub scale: f32,
    /// Entropy, top-1, margin and kept mass.
    pub summary: String,
}

/// The panel for `rows` list rows (panel height minus borders, header and summary).
pub fn distribution_view(app: &App, rows: usize) -> DistributionView {
    let focused = app.focus == Focus::Main;
    let Some((record, preview)) = app.shown_record() else {
        return DistributionView {
            title: " Distribution ".into(),
            preview: false,
            focused,
            lines: Vec::new(),
            scale: 1.0,
            summary: "no step selected: space generates a token".into(),
        };
    };
    let mut view = record_view(app, record, preview, rows);
    if app.knobs_b.is_some() {
        view.title = format!(" A ·{}", view.title);
    }
    view
}

/// The A/B panel's B side: the shown step under the second knob set, with the probability
/// B gives the token A chose (or shows as pending), once the engine has sent it.
pub fn b_view(app: &App, rows: usize) -> Option<DistributionView> {
    let (shown, _) = app.shown_record()?;
    let b = app.preview_b.as_ref().filter(|b| b.index == shown.index)?;
    let mut view = record_view(app, b, false, rows);
    let a_token = shown.trace.chosen.id;
    let p_b = b
        .trace
        .candidates
        .iter()
        .find(|c| c.id == a_token)
        .map_or(0.0, |c| c.final_p);
    view.title = format!(
        " B · kept {} · A's '{}' has p={} under B ",
        b.trace.kept,
        text::truncate(&text::visible(app.token_text(a_token)), TOKEN_COLS),
        text::percent(p_b)
    );
    view.focused = false;
    Some(view)
}

/// The panel for one record.
fn record_view(app: &App, record: &StepRecord, preview: bool, rows: usize) -> DistributionView {
    let focused = app.focus == Focus::Main;
    let trace = &record.trace;
    let all = lines(app, trace);
    let at = all
        .iter()
        .position(|l| matches!(l, DistLine::Candidate(c) if c.highlighted))
        .unwrap_or(0);
    let start = (at + 2)
        .saturating_sub(rows)
        .min(all.len().saturating_sub(rows));
    let lines: Vec<DistLine> = all.into_iter().skip(start).take(rows).collect();
    let scale = lines
        .iter()
        .filter_map(|l| match l {
            DistLine::Candidate(c) => Some(c.raw_p.max(c.final_p)),
            DistLine::Marker(_) => None,
        })
        .fold(0.0f32, f32::max)
        .max(1e-6);
    let c = &trace.chosen;
    let shown = text::truncate(&text::visible(app.token_text(c.id)), TOKEN_COLS);
    let title = if app.shown_pending().is_some() {
        format!(
            " Next token {} · not chosen yet: space draws '{shown}', ↑↓ enter takes another ",
            record.index + 1
        )
    } else {
        format!(
            " Distribution · step {} · '{shown}' p={} rank {} ",
            record.index + 1,
            text::percent(c.raw_prob),
            c.rank
        )
    };
    DistributionView {
        title,
        preview,
        focused,
        lines,
        scale,
        summary: format!(
            "H {:.2}→{:.2} nats · top-1 {} · margin {} · kept {} ({})",
            trace.entropy_raw,
            trace.entropy_final,
            text::percent(trace.top1),
            text::percent(trace.margin),
            text::percent(trace.kept_mass),
            trace.kept
        ),
    }
}

/// Whether stage `name`'s threshold is a probability floor.
fn floor(name: &str) -> bool {
    spec(name).is_some_and(|s| s.threshold == ThresholdKind::ProbabilityFloor)
}

/// Every candidate with the cutoff markers interleaved.
fn lines(app: &App, trace: &StepTrace) -> Vec<DistLine> {
    let mut markers: Vec<(usize, String)> = trace
        .stages
        .iter()
        .enumerate()
        .filter_map(|(s, stage)| {
            let rank = stage.cutoff_rank.or_else(|| {
                let thresholded = floor(&stage.name);
                let first = trace
                    .candidates
                    .iter()
                    .position(|c| c.removed_by == Some(s))?;
                (thresholded && stage.threshold.is_some()).then(|| first.checked_sub(1))?
            })?;
            let threshold = match stage.threshold {
                Some(t) if floor(&stage.name) => format!(" · p≥{}", text::percent(t)),
                _ => String::new(),
            };
            let label = format!(
                "{} {}{threshold} · {} kept",
                stage.name, stage.params, stage.kept
            );
            Some((rank, label))
        })
        .collect();
    markers.sort_by_key(|(rank, _)| *rank);
    let mut out = Vec::with_capacity(trace.candidates.len() + markers.len());
    let mut pending = markers.into_iter().peekable();
    for (i, c) in trace.candidates.iter().enumerate() {
        out.push(DistLine::Candidate(CandidateRow {
            index: i,
            text: app.token_text(c.id).to_string(),
            raw_p: c.raw_p,
            final_p: c.final_p,
            chosen: c.id == trace.chosen.id,
            highlighted: i == app.highlight,
            removed_by: c
                .removed_by
                .map(|s| trace.stages.get(s).map_or("?".into(), |st| st.name.clone())),
        }));
        while let Some((_, label)) = pending.next_if(|(rank, _)| *rank == i) {
            out.push(DistLine::Marker(label));
        }
    }
    out
}

impl DistributionView {
    /// Width of each of the two bars for a panel `inner` columns wide.
    fn bar_cols(inner: usize) -> usize {
        let fixed = 2 + 4 + TOKEN_COLS + 1 + (2 + 6) * 2 + LABEL_COLS;
        (inner.saturating_sub(fixed) / 2).max(3)
    }

    fn row(&self, c: &CandidateRow, bar: usize) -> Line<'_> {
        let base = if c.removed_by.is_some() {
            theme::dim()
        } else {
            Style::new()
        };
        let base = if c.chosen {
            base.add_modifier(Modifier::BOLD)
        } else {
            base
        };
        let select = match (c.highlighted, self.focused) {
            (true, true) => theme::selected(),
            (true, false) => Style::new().add_modifier(Modifier::UNDERLINED),
            _ => Style::new(),
        };
        let label = c
            .removed_by
            .as_deref()
            .map_or(String::new(), |s| format!("✗ {s}"));
        Line::from(vec![
            Span::styled(if c.chosen { "▶ " } else { "  " }, base),
            Span::styled(format!("{:>3} ", c.index), base),
            Span::styled(text::cell(&c.text, TOKEN_COLS), base.patch(select)),
            Span::raw(" "),
            Span::styled(text::hbar(c.raw_p / self.scale, bar), base.fg(theme::RAW)),
            Span::styled(format!(" {:>6} ", text::percent(c.raw_p)), base),
            Span::styled(
                text::hbar(c.final_p / self.scale, bar),
                base.fg(theme::FINAL),
            ),
            Span::styled(format!(" {:>6} ", text::percent(c.final_p)), base),
            Span::styled(label, theme::dim()),
        ])
    }
}

impl Widget for &DistributionView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut title = vec![Span::raw(self.title.as_str())];
        if self.preview {
            title.push(Span::styled(
                " preview: knobs changed ",
                Style::new()
                    .fg(theme::MARK)
                    .add_modifier(Modifier::BOLD | Modifier::REVERSED),
            ));
        }
        let block = Block::bordered()
            .title(Line::from(title))
            .border_style(theme::border(self.focused));
        let inner = block.inner(area);
        block.render(area, buf);
        let bar = DistributionView::bar_cols(inner.width as usize);
        let mut lines = vec![Line::styled(
            format!(
                "{:>w$}{:<b$}{:<b$}",
                "",
                "raw",
                "final",
                w = 2 + 4 + TOKEN_COLS + 1,
                b = bar + 8
            ),
            theme::dim(),
        )];
        for line in &self.lines {
            lines.push(match line {
                DistLine::Candidate(c) => self.row(c, bar),
                DistLine::Marker(label) => {
                    Line::styled(format!("      ┄┄ {label} ┄┄"), Style::new().fg(theme::MARK))
                }
            });
        }
        Paragraph::new(lines).render(inner, buf);
        if inner.height > 1 {
            let y = inner.bottom() - 1;
            buf.set_line(inner.x, y, &Line::raw(self.summary.as_str()), inner.width);
        }
    }
}
