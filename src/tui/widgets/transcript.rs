//! The transcript: prompt and generated tokens as tinted chips, the selected step reversed.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::decode::trace::{StageDetail, StepTrace};
use crate::tui::app::{App, Focus, TintMode};
use crate::tui::tabs::attention;
use crate::tui::theme;
use crate::tui::wrap::Wrap;

/// How one token is drawn.
#[derive(Debug, Clone, PartialEq)]
pub enum ChipKind {
    /// A prompt token; `odd` alternates the shade so boundaries show.
    Prompt { odd: bool },
    /// A generated token with its tint score in [0, 1] (1 = confident).
    Generated {
        score: f32,
        odd: bool,
        selected: bool,
    },
}

/// One token on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct Chip {
    pub text: String,
    pub kind: ChipKind,
}

/// The visible lines of the transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptView {
    pub title: String,
    pub focused: bool,
    pub lines: Vec<Vec<Chip>>,
}

/// The tint score of a step under `mode` (1 = confident / likely, 0 = surprising).
pub fn tint_score(trace: &StepTrace, mode: TintMode) -> f32 {
    let score = match mode {
        TintMode::Probability => 1.0 + trace.chosen.raw_prob.max(1e-6).log10() / 3.0,
        TintMode::Entropy => 1.0 - trace.entropy_raw / 4.0,
        TintMode::Rank => match trace.chosen.rank {
            0 => 1.0,
            1 => 0.75,
            2..=4 => 0.5,
            5..=9 => 0.25,
            _ => 0.0,
        },
        TintMode::Attribute => attribute_score(trace),
    };
    score.clamp(0.0, 1.0)
}

/// The chosen token's score in the step's last steering stage: P(attribute) for FUDGE, the
/// reward for RAD; 0 when none ran.
fn attribute_score(trace: &StepTrace) -> f32 {
    trace
        .stages
        .iter()
        .rev()
        .find_map(|s| match &s.detail {
            Some(StageDetail::Steer { rows }) => {
                let row = rows.iter().find(|r| r.id == trace.chosen.id)?;
                Some(if s.name == "fudge" {
                    row.score.exp()
                } else {
                    row.score
                })
            }
            _ => None,
        })
        .unwrap_or(0.0)
}

/// The visible `height` lines of the transcript; `wrap` must be laid out and scrolled.
pub fn transcript_view(app: &App, wrap: &Wrap, height: usize) -> TranscriptView {
    let steps = &app.snapshot.steps;
    // With the attention overlay, every context token is tinted by what it receives.
    let overlay = attention::overlay_scores(app);
    let selected_pos = app.selected.map(|s| wrap.prompt_len + s);
    let lines = (wrap.scroll..(wrap.scroll + height).min(wrap.lines()))
        .map(|line| {
            wrap.line(line)
                .map(|(i, piece)| {
                    let odd = i % 2 == 1;
                    let attended = overlay.as_ref().map(|o| o.get(i).copied().flatten());
                    let kind = match i.checked_sub(wrap.prompt_len).and_then(|s| steps.get(s)) {
                        _ if attended.is_some() && selected_pos != Some(i) => match attended {
                            Some(Some(p)) => ChipKind::Generated {
                                score: attention::tint(p),
                                odd,
                                selected: false,
                            },
                            _ => ChipKind::Prompt { odd },
                        },
                        None => ChipKind::Prompt { odd },
                        Some(step) => ChipKind::Generated {
                            score: tint_score(&step.trace, app.tint),
                            odd,
                            selected: app.selected == Some(step.index),
                        },
                    };
                    Chip {
                        text: piece.text.clone(),
                        kind,
                    }
                })
                .collect()
        })
        .collect();
    let position = match app.selected {
        Some(s) => format!("step {}/{}", s + 1, steps.len()),
        None => "no steps yet: space generates one".to_string(),
    };
    let tint = match overlay {
        Some(_) => format!(
            "attention {} (o)",
            attention::selection_label(&app.attention)
        ),
        None => format!("{} (t)", app.tint.label()),
    };
    let chat = if app.snapshot.chat {
        " · chat (c)"
    } else {
        ""
    };
    TranscriptView {
        title: format!(
            " Transcript · {position} · tint: {tint} · branch {}{chat} ",
            app.snapshot.current_branch
        ),
        focused: app.focus == Focus::Main,
        lines,
    }
}

fn chip_style(kind: &ChipKind) -> Style {
    match *kind {
        ChipKind::Prompt { odd } => theme::chip(theme::PROMPT_CHIPS[odd as usize]),
        ChipKind::Generated {
            score,
            odd,
            selected,
        } => {
            let bg = theme::tint(score);
            let bg: Color = if odd { theme::shade(bg) } else { bg };
            let style = theme::chip(bg);
            if selected {
                style.add_modifier(Modifier::REVERSED | Modifier::BOLD | Modifier::UNDERLINED)
            } else {
                style
            }
        }
    }
}

impl Widget for &TranscriptView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let lines: Vec<Line> = self
            .lines
            .iter()
            .map(|chips| {
                Line::from(
                    chips
                        .iter()
                        .map(|c| Span::styled(c.text.as_str(), chip_style(&c.kind)))
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        Paragraph::new(lines)
            .block(
                Block::bordered()
                    .title(self.title.as_str())
                    .border_style(theme::border(self.focused)),
            )
            .render(area, buf);
    }
}
