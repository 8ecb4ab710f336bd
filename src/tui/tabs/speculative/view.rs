//! What the speculative tab shows: the view built from the app state (round rows, the
//! selected token's detail and bars) and its rendering.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::decode::speculative::Round;
use crate::tui::app::App;
use crate::tui::text;
use crate::tui::theme;

/// Chip of an accepted drafted token.
const ACCEPTED: Color = Color::Rgb(120, 200, 130);
/// Chip of a rejected drafted token.
const REJECTED: Color = Color::Rgb(229, 115, 115);
/// Chip of a resampled or bonus token.
const DRAWN: Color = Color::Rgb(230, 190, 100);

/// One token of a round row.
#[derive(Debug, Clone, PartialEq)]
pub struct RoundToken {
    pub text: String,
    /// `✓` accepted, `✗` rejected, `·` not verified, `↻` resampled, `+` bonus.
    pub mark: char,
    pub selected: bool,
}

/// One candidate of the side-by-side bars.
#[derive(Debug, Clone, PartialEq)]
pub struct BarLine {
    pub token: String,
    pub p: f32,
    pub q: f32,
    /// Residual probability (at a rejection).
    pub r: Option<f32>,
    pub drafted: bool,
}

/// What the speculative tab shows.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecTabView {
    pub title: String,
    pub figures: String,
    /// Round rows: index and tokens.
    pub rounds: Vec<(usize, Vec<RoundToken>)>,
    pub selected_round: Option<usize>,
    pub detail: String,
    pub bars: Vec<BarLine>,
}

/// The tab's view with at most `rows` round rows (ending at the selected round).
pub fn spec_tab_view(app: &App, rows: usize) -> SpecTabView {
    let st = &app.spec;
    let on = if st.enabled { "on" } else { "off (s)" };
    let title = format!(
        " Speculative · {on} · draft {} · γ {}{} · s on/off  d draft  g G γ  A adaptive  ↑↓ round  ←→ token ",
        st.config.draft,
        st.config.gamma.gamma,
        if st.config.gamma.adaptive { " adaptive" } else { "" },
    );
    let Some(view) = st.view.as_ref().filter(|v| !v.rounds.is_empty()) else {
        return SpecTabView {
            title,
            figures: "no rounds yet: s turns speculative decoding on, space runs a round".into(),
            rounds: Vec::new(),
            selected_round: None,
            detail: String::new(),
            bars: Vec::new(),
        };
    };
    let s = &view.stats;
    let figures = format!(
        "{} rounds · drafted {} · accepted {} ({:.1}%) · mean α {:.3} · tokens per target call {:.2} measured, {:.2} expected (1−α^(γ+1))/(1−α) · draft {} γ {}",
        s.rounds,
        s.drafted,
        s.accepted,
        100.0 * s.acceptance_rate(),
        s.mean_alpha(),
        s.tokens_per_target_call(),
        view.expected_tokens_per_call,
        view.draft,
        view.gamma,
    );
    let sel = st.round.unwrap_or(view.rounds.len() - 1);
    let first = (sel + 1).saturating_sub(rows.max(1));
    let round = &view.rounds[sel];
    let token = st.token.min(round.drafted.len().saturating_sub(1));
    let rounds = view
        .rounds
        .iter()
        .enumerate()
        .skip(first)
        .take(rows.max(1))
        .map(|(i, r)| (r.round, round_tokens(app, r, (i == sel).then_some(token))))
        .collect();
    let (detail, bars) = detail(app, round, token);
    SpecTabView {
        title,
        figures,
        rounds,
        selected_round: Some(sel - first),
        detail,
        bars,
    }
}

fn round_tokens(app: &App, r: &Round, selected: Option<usize>) -> Vec<RoundToken> {
    let mut out: Vec<RoundToken> = r
        .drafted
        .iter()
        .enumerate()
        .map(|(j, d)| RoundToken {
            text: app.token_text(d.id).to_string(),
            mark: match (d.verified, d.accepted) {
                (_, true) => '✓',
                (true, false) => '✗',
                (false, _) => '·',
            },
            selected: selected == Some(j),
        })
        .collect();
    if let Some(x) = &r.resampled {
        out.push(RoundToken {
            text: app.token_text(x.id).to_string(),
            mark: '↻',
            selected: false,
        });
    }
    if let Some(b) = &r.bonus {
        out.push(RoundToken {
            text: app.token_text(b.id).to_string(),
            mark: '+',
            selected: false,
        });
    }
    out
}

/// The selected drafted token's line and bars.
fn detail(app: &App, r: &Round, j: usize) -> (String, Vec<BarLine>) {
    let Some(d) = r.drafted.get(j) else {
        let line = match &r.bonus {
            Some(b) => format!(
                "round {}: nothing drafted; '{}' drawn from p (p {:.3})",
                r.round,
                app.token_text(b.id),
                b.p
            ),
            None => format!("round {}: nothing drafted", r.round),
        };
        return (line, Vec::new());
    };
    let draw = d
        .draw
        .map_or("greedy".to_string(), |u| format!("draw {u:.4}"));
    let verdict = match (d.verified, d.accepted) {
        (true, true) => "accepted",
        (true, false) => "rejected",
        _ => "not verified (after a rejection)",
    };
    let mut line = format!(
        "round {} α {:.3} · '{}' p {:.4} q {:.4} · accept min(1, p/q) = {:.4} · {draw} → {verdict}",
        r.round,
        r.alpha,
        app.token_text(d.id),
        d.p,
        d.q,
        d.accept_prob
    );
    let rejected_here = d.verified && !d.accepted;
    let residual = r.resampled.as_ref().filter(|_| rejected_here);
    if let Some(x) = residual {
        line.push_str(&format!(
            " · resampled '{}' from norm(max(0, p − q)) (r {:.3})",
            app.token_text(x.id),
            x.r
        ));
    }
    let bars = d
        .top
        .iter()
        .map(|c| BarLine {
            token: app.token_text(c.id).to_string(),
            p: c.p,
            q: c.q,
            r: residual.map(|x| {
                x.residual_top
                    .iter()
                    .find(|(id, _)| *id == c.id)
                    .map_or(0.0, |&(_, r)| r)
            }),
            drafted: c.id == d.id,
        })
        .collect();
    (line, bars)
}

impl Widget for &SpecTabView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = Block::bordered().title(self.title.clone());
        let inner = block.inner(area);
        block.render(area, buf);
        let n = self.rounds.len() as u16;
        let [figures, rounds, detail, bars] = Layout::vertical([
            Constraint::Length(2),
            Constraint::Length(n.max(1)),
            Constraint::Length(2),
            Constraint::Min(0),
        ])
        .areas(inner);
        Paragraph::new(self.figures.clone())
            .wrap(ratatui::widgets::Wrap { trim: false })
            .render(figures, buf);
        let lines: Vec<Line> = self
            .rounds
            .iter()
            .enumerate()
            .map(|(i, (idx, toks))| {
                let head = if Some(i) == self.selected_round {
                    "▶"
                } else {
                    " "
                };
                let mut spans = vec![Span::raw(format!("{head}{idx:>4}  "))];
                for t in toks {
                    let bg = match t.mark {
                        '✓' => ACCEPTED,
                        '✗' => REJECTED,
                        '·' => Color::Rgb(170, 170, 178),
                        _ => DRAWN,
                    };
                    let mut style = theme::chip(bg);
                    if t.selected {
                        style = style.patch(theme::selected());
                    }
                    spans.push(Span::styled(
                        format!("{}{}", t.mark, text::cell(&t.text, 10).trim_end()),
                        style,
                    ));
                    spans.push(Span::raw(" "));
                }
                Line::from(spans)
            })
            .collect();
        Paragraph::new(lines).render(rounds, buf);
        Paragraph::new(self.detail.clone())
            .wrap(ratatui::widgets::Wrap { trim: false })
            .render(detail, buf);
        let width = (bars.width.saturating_sub(20) / 3).clamp(4, 30) as usize;
        let mut lines = vec![Line::styled(
            format!(
                " {:<12} {:<w$} {:<w$} {}",
                "candidate",
                "p (target)",
                "q (draft)",
                if self.bars.iter().any(|b| b.r.is_some()) {
                    "residual"
                } else {
                    ""
                },
                w = width + 7
            ),
            theme::dim(),
        )];
        for b in &self.bars {
            let bar = |x: f32, c: Color| {
                vec![
                    Span::styled(text::hbar(x, width), Style::new().fg(c)),
                    Span::raw(format!(" {:>5.1}% ", 100.0 * x)),
                ]
            };
            let mark = if b.drafted { "▶" } else { " " };
            let mut spans = vec![Span::raw(format!("{mark}{} ", text::cell(&b.token, 12)))];
            spans.extend(bar(b.p, theme::FINAL));
            spans.extend(bar(b.q, theme::RAW));
            if let Some(r) = b.r {
                spans.extend(bar(r, theme::MARK));
            }
            lines.push(Line::from(spans));
        }
        Paragraph::new(lines).render(bars, buf);
    }
}
