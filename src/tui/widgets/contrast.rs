//! The contrast panel: for a step that ran contrastive decoding, DoLa, contrastive search or
//! an ensemble, the candidates with the views side by side and the score that combined them
//! (expert, amateur, contrast; confidence, degeneration penalty, score; every member and the
//! combination). It takes the temperature panel's place on such steps.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::decode::trace::{StageDetail, SteerRow};
use crate::tui::app::App;
use crate::tui::text;
use crate::tui::theme;

/// Columns for the token text.
const TOKEN_COLS: usize = 12;

/// One candidate: three values, each with the fraction of a full bar it draws.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastLine {
    pub text: String,
    pub chosen: bool,
    /// `(shown value, bar fraction)` per column.
    pub cols: Vec<(String, f32)>,
}

/// What the contrast panel shows.
#[derive(Debug, Clone, PartialEq)]
pub struct ContrastView {
    pub title: String,
    pub headers: Vec<String>,
    pub lines: Vec<ContrastLine>,
    pub note: String,
}

/// The panel for the shown step's last contrast stage, if it ran one (`rows` list rows).
pub fn contrast_view(app: &App, rows: usize) -> Option<ContrastView> {
    let (record, _) = app.shown_record()?;
    let trace = &record.trace;
    let (stage, detail) = trace
        .stages
        .iter()
        .rev()
        .find_map(|s| s.detail.as_ref().map(|d| (s, d)))?;
    let chosen = trace.chosen.id;
    let pct = |lp: f32| (format!("{:>5.1}%", lp.exp() * 100.0), lp.exp());
    Some(match detail {
        StageDetail::Contrast {
            rows: r,
            premature_layer,
            ..
        } => {
            let top = r.iter().map(|x| x.contrast.abs()).fold(1e-6, f32::max);
            let (title, names) = match premature_layer {
                Some(l) => (
                    format!(" DoLa: final vs layer {l} "),
                    ["final", "premature", "contrast"],
                ),
                None => (
                    " Contrastive decoding ".to_string(),
                    ["expert", "amateur", "contrast"],
                ),
            };
            let headers = names.iter().map(|h| h.to_string()).collect();
            ContrastView {
                title,
                headers,
                lines: r
                    .iter()
                    .take(rows)
                    .map(|x| ContrastLine {
                        text: app.token_text(x.id).to_string(),
                        chosen: x.id == chosen,
                        cols: vec![
                            pct(x.expert),
                            pct(x.amateur),
                            (format!("{:>+6.2}", x.contrast), x.contrast.abs() / top),
                        ],
                    })
                    .collect(),
                note: format!(
                    "{} plausible (p ≥ {:.3}); contrast = log p − log p'",
                    stage.kept,
                    stage.threshold.unwrap_or(0.0)
                ),
            }
        }
        StageDetail::Search { rows: r } => ContrastView {
            title: format!(" Contrastive search ({}) ", stage.params),
            headers: ["confidence", "penalty", "score"]
                .map(String::from)
                .to_vec(),
            lines: r
                .iter()
                .take(rows)
                .map(|x| ContrastLine {
                    text: app.token_text(x.id).to_string(),
                    chosen: x.id == chosen,
                    cols: vec![
                        (format!("{:>5.1}%", x.prob * 100.0), x.prob),
                        (format!("{:>+6.3}", x.penalty), x.penalty.abs()),
                        (format!("{:>+6.3}", x.score), x.score.abs()),
                    ],
                })
                .collect(),
            note: "score = (1 − α)·confidence − α·max cosine to the context".into(),
        },
        StageDetail::Ensemble { rows: r } => {
            let members = r.first().map_or(0, |x| x.members.len());
            let mut headers: Vec<String> = (0..members)
                .map(|m| {
                    if m == 0 {
                        "own".into()
                    } else {
                        format!("member {m}")
                    }
                })
                .collect();
            headers.push("combined".into());
            ContrastView {
                title: format!(" Ensemble ({}) ", stage.params),
                headers,
                lines: r
                    .iter()
                    .take(rows)
                    .map(|x| ContrastLine {
                        text: app.token_text(x.id).to_string(),
                        chosen: x.id == chosen,
                        cols: x
                            .members
                            .iter()
                            .map(|&p| (format!("{:>5.1}%", p * 100.0), p))
                            .chain(std::iter::once(pct(x.combined)))
                            .collect(),
                    })
                    .collect(),
                note: "combined: log of the mean probability, or the mean log-probability".into(),
            }
        }
        StageDetail::Steer { rows: r } => steer_view(app, stage, r, rows, chosen),
    })
}

/// FUDGE or RAD: per candidate the model's probability, the attribute score and the
/// combined result (its probability among the kept candidates).
fn steer_view(
    app: &App,
    stage: &crate::decode::trace::StageTrace,
    r: &[SteerRow],
    rows: usize,
    chosen: u32,
) -> ContrastView {
    let fudge = stage.name == "fudge";
    let lse = r
        .iter()
        .map(|x| x.combined as f64)
        .fold(f64::NEG_INFINITY, |m, v| m.max(v));
    let z: f64 = r.iter().map(|x| (x.combined as f64 - lse).exp()).sum();
    let top = r.iter().map(|x| x.score.abs()).fold(1e-6, f32::max);
    let score = |s: f32| {
        if fudge {
            (format!("{:>5.1}%", s.exp() * 100.0), s.exp())
        } else {
            (format!("{s:>+6.2}"), s.abs() / top)
        }
    };
    ContrastView {
        title: format!(
            " {} ({}) ",
            if fudge { "FUDGE" } else { "RAD" },
            stage.params
        ),
        headers: ["LM p", if fudge { "P(attr)" } else { "reward" }, "combined"]
            .map(String::from)
            .to_vec(),
        lines: r
            .iter()
            .take(rows)
            .map(|x| {
                let p = ((x.combined as f64 - lse).exp() / z) as f32;
                ContrastLine {
                    text: app.token_text(x.id).to_string(),
                    chosen: x.id == chosen,
                    cols: vec![
                        (
                            format!("{:>5.1}%", x.lm_logprob.exp() * 100.0),
                            x.lm_logprob.exp(),
                        ),
                        score(x.score),
                        (format!("{:>5.1}%", p * 100.0), p),
                    ],
                }
            })
            .collect(),
        note: if fudge {
            format!("{} scored; combined ∝ p · P(attr)^λ", r.len())
        } else {
            format!("{} scored; combined ∝ p · exp(β·r)", r.len())
        },
    }
}

impl Widget for &ContrastView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered().title(self.title.as_str());
        let inner = block.inner(area);
        block.render(area, buf);
        let ncols = self.headers.len().max(1);
        let col = (inner.width as usize).saturating_sub(TOKEN_COLS + 3) / ncols;
        let bar = col.saturating_sub(9);
        let mut head = format!("{:<w$}", "", w = TOKEN_COLS + 2);
        for h in &self.headers {
            head.push_str(&format!(" {:<w$}", text::cell(h, col - 1), w = col - 1));
        }
        let mut lines = vec![Line::styled(head, theme::dim())];
        let colors = |i: usize| {
            if i + 1 == ncols {
                theme::FINAL
            } else if i == 0 {
                theme::RAW
            } else {
                theme::MARK
            }
        };
        for l in &self.lines {
            let mark = if l.chosen { "▶ " } else { "  " };
            let mut spans = vec![Span::raw(format!(
                "{mark}{}",
                text::cell(&l.text, TOKEN_COLS)
            ))];
            for (i, (value, frac)) in l.cols.iter().enumerate() {
                let color = colors(i);
                spans.push(Span::raw(format!(" {value:>7} ")));
                spans.push(Span::styled(
                    format!("{:<bar$}", text::hbar(*frac, bar)),
                    Style::new().fg(color),
                ));
            }
            lines.push(Line::from(spans));
        }
        Paragraph::new(lines).render(inner, buf);
        if inner.height > 1 {
            let y = inner.bottom() - 1;
            buf.set_line(
                inner.x,
                y,
                &Line::styled(self.note.as_str(), theme::dim()),
                inner.width,
            );
        }
    }
}
