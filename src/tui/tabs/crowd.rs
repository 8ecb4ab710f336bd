//! The crowd tab: N samples of the prompt drawn together under the current knobs, how they
//! relate and why one wins — each sample's text, log-probability and answer, the MBR utility
//! matrix with every sample's expected utility, or the vote tally.

use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::ui::Screen;
use crate::bind;
use crate::tui::tabs::TabSpec;
use crate::tui::keys::{self, Binding};
use crate::decode::crowd::{Selection, Utility};
use crate::engine::crowd::{CrowdConfig, CrowdView, MAX_SAMPLES};
use crate::engine::protocol::Command;
use crate::engine::run::{RunKind, RunRequest};
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::text;
use crate::tui::theme;

/// The selection methods `m` cycles through.
const METHODS: [Selection; 5] = [
    Selection::Mbr(Utility::Chrf),
    Selection::Mbr(Utility::Bleu),
    Selection::Mbr(Utility::Embed),
    Selection::Vote { weighted: false },
    Selection::Vote { weighted: true },
];

/// The crowd tab's part of the UI state.
#[derive(Debug, Clone, PartialEq)]
pub struct CrowdState {
    /// The next crowd's settings.
    pub config: CrowdConfig,
    /// The latest crowd from the engine.
    pub view: Option<Arc<CrowdView>>,
    /// Selected sample row.
    pub selected: usize,
}

impl Default for CrowdState {
    fn default() -> Self {
        CrowdState {
            config: CrowdConfig {
                samples: 8,
                max_tokens: 32,
                select: METHODS[0],
                answer_regex: None,
            },
            view: None,
            selected: 0,
        }
    }
}

/// What the crowd keys do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrowdAction {
    /// Draw a new crowd with the tab's settings and run it to the end.
    Run,
    /// One token for every sample (starting a crowd if none is running).
    Step,
    /// Next selection method (re-runs).
    CycleSelect,
    /// More or fewer samples.
    Samples(i32),
    /// More or fewer tokens per sample.
    Tokens(i32),
    /// Move the selected sample.
    Move(i32),
}

/// Keys of the crowd tab.
const KEYS: &[Binding] = &[
    bind!("r enter", "run",
        KeyCode::Char('r') => Action::Crowd(CrowdAction::Run),
        KeyCode::Enter => Action::Crowd(CrowdAction::Run)),
    bind!("space", "step", KeyCode::Char(' ') => Action::Crowd(CrowdAction::Step)),
    bind!("m", "method", KeyCode::Char('m') => Action::Crowd(CrowdAction::CycleSelect)),
    bind!("+ -", "samples",
        KeyCode::Char('+') => Action::Crowd(CrowdAction::Samples(1)),
        KeyCode::Char('=') => Action::Crowd(CrowdAction::Samples(1)),
        KeyCode::Char('-') => Action::Crowd(CrowdAction::Samples(-1))),
    bind!("[ ]", "tokens",
        KeyCode::Char('[') => Action::Crowd(CrowdAction::Tokens(-8)),
        KeyCode::Char(']') => Action::Crowd(CrowdAction::Tokens(8))),
    bind!("↑ ↓", "a sample",
        KeyCode::Up => Action::Crowd(CrowdAction::Move(-1)),
        KeyCode::Down => Action::Crowd(CrowdAction::Move(1))),
];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "crowd",
    short: "crowd",
    keymaps: |_| &[KEYS, keys::COMMON],
    draw,
};

/// Applies a crowd action; returns the engine commands.
pub fn update(app: &mut App, action: CrowdAction) -> Vec<Command> {
    let st = &mut app.crowd;
    match action {
        CrowdAction::Move(d) => {
            let n = st.view.as_ref().map_or(1, |v| v.samples.len().max(1));
            st.selected = (st.selected as i64 + d as i64).clamp(0, n as i64 - 1) as usize;
            return Vec::new();
        }
        CrowdAction::Step => {
            let running =
                app.run == RunKind::Crowd && st.view.as_ref().is_some_and(|v| v.outcome.is_none());
            let mut cmds = if running { Vec::new() } else { start(app) };
            cmds.push(Command::Step);
            return cmds;
        }
        CrowdAction::Run => {}
        CrowdAction::CycleSelect => {
            let i = METHODS.iter().position(|m| *m == st.config.select);
            st.config.select = METHODS[i.map_or(0, |i| (i + 1) % METHODS.len())];
        }
        CrowdAction::Samples(d) => {
            let n = st.config.samples as i64 + d as i64;
            st.config.samples = n.clamp(2, MAX_SAMPLES as i64) as usize;
        }
        CrowdAction::Tokens(d) => {
            let n = st.config.max_tokens as i64 + d as i64;
            st.config.max_tokens = n.clamp(8, 256) as usize;
        }
    }
    let mut cmds = start(app);
    cmds.push(Command::Autoplay(true));
    cmds
}

/// A new crowd with the tab's settings (the engine uses the current prompt and knobs).
fn start(app: &mut App) -> Vec<Command> {
    app.run = RunKind::Crowd;
    app.crowd.selected = 0;
    vec![Command::Start(RunRequest::Crowd(Box::new(
        app.crowd.config.clone(),
    )))]
}

/// A crowd from the engine.
pub fn on_view(app: &mut App, view: Arc<CrowdView>) {
    let st = &mut app.crowd;
    if let Some(o) = &view.outcome {
        if st.view.as_ref().is_none_or(|v| v.outcome.is_none()) {
            st.selected = o.chosen;
        }
    }
    st.selected = st.selected.min(view.samples.len().saturating_sub(1));
    st.view = Some(view);
}

/// Draws the tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, _screen: &mut Screen) {
    let cfg = &app.crowd.config;
    let Some(view) = app.crowd.view.clone() else {
        let lines = vec![
            Line::from(format!(
                "Crowd: {} samples of {} tokens, chosen by {} — r runs it, space steps it",
                cfg.samples, cfg.max_tokens, cfg.select
            )),
            Line::styled(
                "m method · + - samples · [ ] tokens · ↑ ↓ a sample (epsilon sampling makes good MBR candidates)",
                theme::dim(),
            ),
        ];
        frame.render_widget(Paragraph::new(lines), area);
        return;
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let [list, detail] = Layout::vertical([Constraint::Min(6), Constraint::Length(8)]).areas(left);
    frame.render_widget(sample_list(app, &view, list.width), list);
    frame.render_widget(sample_text(app, &view), detail);
    frame.render_widget(reasons(&view, right.width), right);
}

fn sample_list(app: &App, view: &CrowdView, width: u16) -> Paragraph<'static> {
    let outcome = view.outcome.as_ref();
    let state = match outcome {
        Some(o) => format!("chosen #{}", o.chosen),
        None => format!("step {}/{}", view.step, view.config.max_tokens),
    };
    let title = format!(
        " Crowd · {} samples · {} · {} (m) ",
        view.samples.len(),
        view.config.select,
        state
    );
    let best = outcome
        .map(|o| o.expected.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
        .unwrap_or(0.0);
    let worst = outcome
        .map(|o| o.expected.iter().cloned().fold(f64::INFINITY, f64::min))
        .unwrap_or(0.0);
    let text_cols = (width as usize).saturating_sub(40);
    let mut lines = vec![Line::styled(
        "    row  logprob  answer    E[utility]     text",
        theme::dim(),
    )];
    for s in &view.samples {
        let chosen = outcome.is_some_and(|o| o.chosen == s.row);
        let mark = if chosen { "★" } else { " " };
        let eu = outcome.and_then(|o| o.expected.get(s.row)).copied();
        let bar = eu.map_or(String::new(), |e| {
            let f = if best > worst {
                (e - worst) / (best - worst)
            } else {
                1.0
            };
            format!("{:>6.2} {}", e, text::hbar(f as f32, 6))
        });
        let style = if s.row == app.crowd.selected {
            theme::selected()
        } else {
            Style::new()
        };
        lines.push(Line::styled(
            format!(
                "{mark} #{:<3} {:>8.2}  {:<8} {:<14} {}",
                s.row,
                s.logprob,
                text::cell(s.answer.as_deref().unwrap_or("–"), 8),
                bar,
                text::truncate(&text::visible(&s.text), text_cols)
            ),
            style,
        ));
    }
    Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title))
}

fn sample_text(app: &App, view: &CrowdView) -> Paragraph<'static> {
    let s = view.samples.get(app.crowd.selected);
    let title = s.map_or(String::new(), |s| {
        format!(" #{} · seed {} (replays alone with --seed) ", s.row, s.seed)
    });
    let body = s.map_or(String::new(), |s| text::visible(&s.text));
    Paragraph::new(body)
        .wrap(Wrap { trim: false })
        .block(Block::default().borders(Borders::ALL).title(title))
}

/// The utility matrix (MBR) or the tally (a vote).
fn reasons(view: &CrowdView, width: u16) -> Paragraph<'static> {
    let Some(o) = &view.outcome else {
        return Paragraph::new("drawing…")
            .block(Block::default().borders(Borders::ALL).title(" why "));
    };
    let mut lines = Vec::new();
    if o.votes.is_empty() && !o.matrix.is_empty() {
        lines.push(Line::styled(
            "U(row as hypothesis, column as reference)",
            theme::dim(),
        ));
        let n = o.matrix.len();
        let cell = ((width as usize).saturating_sub(6) / n.max(1)).clamp(1, 4);
        let (lo, hi) = o
            .matrix
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.iter().enumerate().filter(move |(j, _)| *j != i))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (_, &v)| {
                (a.min(v), b.max(v))
            });
        for (i, row) in o.matrix.iter().enumerate() {
            let mut spans = vec![Span::raw(format!("#{i:<3} "))];
            for (j, &v) in row.iter().enumerate() {
                let style = if i == j {
                    theme::dim()
                } else {
                    let f = if hi > lo { (v - lo) / (hi - lo) } else { 1.0 };
                    theme::chip(theme::tint(f as f32))
                };
                let label = if cell >= 3 && i != j {
                    format!("{:>w$.0}", v, w = cell - 1)
                } else {
                    " ".repeat(cell - 1)
                };
                spans.push(Span::styled(label, style));
                spans.push(Span::raw(" "));
            }
            if i == o.chosen {
                spans.push(Span::raw("★"));
            }
            lines.push(Line::from(spans));
        }
    } else {
        lines.push(Line::from("answer      votes"));
        for (answer, votes) in &o.votes {
            lines.push(Line::from(format!(
                "{:<10} {votes:>6.3}",
                text::cell(answer, 10)
            )));
        }
        if o.votes.is_empty() {
            lines.push(Line::styled(
                "no sample had an answer: the most probable wins",
                theme::dim(),
            ));
        }
    }
    Paragraph::new(lines).block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" why #{} won ", o.chosen)),
    )
}
