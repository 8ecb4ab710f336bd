//! The lens tab: the logit lens of the selected step and the few before it — a layer ×
//! step grid of what the model would predict if it stopped after each layer (top-1 token per
//! cell, shaded by its probability or by its KL divergence from the final layer), the
//! selected cell's top candidates beside it, and DoLa's premature layer and divergences when
//! the step ran DoLa.

use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::tui::ui::Screen;
use crate::bind;
use crate::tui::tabs::TabSpec;
use crate::tui::keys::{self, Binding};
use crate::decode::trace::StageDetail;
use crate::engine::inspect::LensView;
use crate::engine::protocol::Command;
use crate::tui::action::Action;
use crate::tui::app::{App, Tab};
use crate::tui::text;
use crate::tui::theme;

/// Width of one grid cell.
const CELL: usize = 9;
/// KL (nats) drawn as the least confident shade.
const KL_SCALE: f32 = 5.0;

/// What the grid's shading encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shade {
    /// The cell's top-1 probability (green = confident).
    #[default]
    Probability,
    /// KL(final ‖ layer) (green = already agrees with the final layer).
    Kl,
}

/// The lens tab's part of the UI state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LensState {
    /// The latest lens view from the engine.
    pub view: Option<Arc<LensView>>,
    /// The (step, steps in the timeline, branch) last asked for.
    pub requested: Option<(usize, usize, usize)>,
    pub shade: Shade,
    /// Selected layer row (0-based).
    pub row: usize,
}

/// What the lens keys do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LensAction {
    /// Switch the shading between probability and KL.
    ToggleShade,
    /// Move the selected layer.
    Layer(i32),
}

/// Keys of the lens tab.
const KEYS: &[Binding] = &[
    bind!("k", "shade by probability / KL", KeyCode::Char('k') => Action::Lens(LensAction::ToggleShade)),
    bind!("↑ ↓ pgup pgdn", "layer",
        KeyCode::Up => Action::Lens(LensAction::Layer(-1)),
        KeyCode::Down => Action::Lens(LensAction::Layer(1)),
        KeyCode::PageUp => Action::Lens(LensAction::Layer(-8)),
        KeyCode::PageDown => Action::Lens(LensAction::Layer(8))),
    bind!("← →", "step",
        KeyCode::Left => Action::SelectPrev,
        KeyCode::Right => Action::SelectNext),
];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "lens",
    short: "lens",
    keymaps: |_| &[KEYS, keys::COMMON],
    draw,
};

/// Applies a lens action.
pub fn update(app: &mut App, action: LensAction) -> Vec<Command> {
    let st = &mut app.lens;
    match action {
        LensAction::ToggleShade => {
            st.shade = match st.shade {
                Shade::Probability => Shade::Kl,
                Shade::Kl => Shade::Probability,
            }
        }
        LensAction::Layer(d) => {
            let n = st.view.as_ref().map_or(1, |v| v.grid.layers.len().max(1));
            st.row = (st.row as i64 + d as i64).clamp(0, n as i64 - 1) as usize;
        }
    }
    Vec::new()
}

/// The step the lens should show: the pending next token when the panels show it, else the
/// selected step, else the newest.
fn wanted(app: &App) -> Option<usize> {
    let n = app.snapshot.steps.len();
    match app.shown_pending() {
        Some(_) => Some(n),
        None => app.selected.or_else(|| n.checked_sub(1)),
    }
}

/// Asks the engine for the lens of the wanted step when the tab is open and it changed.
pub fn request(app: &mut App) -> Vec<Command> {
    if app.tab != Tab::Lens {
        return Vec::new();
    }
    let Some(step) = wanted(app) else {
        return Vec::new();
    };
    let key = (step, app.snapshot.steps.len(), app.snapshot.current_branch);
    if app.lens.requested == Some(key) {
        return Vec::new();
    }
    app.lens.requested = Some(key);
    vec![Command::Lens { step }]
}

/// A lens view from the engine.
pub fn on_view(app: &mut App, view: Arc<LensView>) {
    let st = &mut app.lens;
    if st.view.is_none() {
        // Start on the last layer but one: the final row is the step's own distribution.
        st.row = view.grid.layers.len().saturating_sub(1);
    }
    st.row = st.row.min(view.grid.layers.len().saturating_sub(1));
    st.view = Some(view);
}

/// DoLa's choice at `step`: the premature layer and every candidate's divergence.
fn dola_of(app: &App, step: usize) -> Option<(usize, Vec<(usize, f32)>)> {
    let rec = app.snapshot.steps.get(step)?;
    rec.trace.stages.iter().find_map(|s| match &s.detail {
        Some(StageDetail::Contrast {
            premature_layer: Some(l),
            divergence,
            ..
        }) => Some((*l, divergence.clone())),
        _ => None,
    })
}

/// Draws the tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, _screen: &mut Screen) {
    let Some(view) = app.lens.view.clone() else {
        frame.render_widget(
            Line::styled(
                "Lens: generate a step (space) to see what every layer predicts",
                theme::dim(),
            ),
            area,
        );
        return;
    };
    let [grid_area, side] =
        Layout::horizontal([Constraint::Min(20), Constraint::Length(34)]).areas(area);
    let dola = dola_of(app, view.step);
    frame.render_widget(grid(app, &view, dola.as_ref(), grid_area), grid_area);
    frame.render_widget(side_panel(app, &view, dola.as_ref()), side);
}

fn grid(
    app: &App,
    view: &LensView,
    dola: Option<&(usize, Vec<(usize, f32)>)>,
    area: Rect,
) -> Paragraph<'static> {
    let st = &app.lens;
    let g = &view.grid;
    let shade_name = match st.shade {
        Shade::Probability => "top-1 probability",
        Shade::Kl => "KL to final",
    };
    let title = format!(
        " Logit lens · step {} · shade: {shade_name} (k) ",
        view.step
    );
    let cols = g.positions.len();
    let fit = (area.width.saturating_sub(9) as usize / CELL).max(1);
    let first_col = cols.saturating_sub(fit);
    let mut lines = Vec::new();
    let mut head = vec![Span::styled(format!("{:>7} ", "layer"), theme::dim())];
    for c in first_col..cols {
        let label = format!("#{} {}", view.steps[c], view.chosen[c]);
        let style = if view.steps[c] == view.step {
            theme::selected()
        } else {
            theme::dim()
        };
        head.push(Span::styled(pad(&label), style));
    }
    lines.push(Line::from(head));
    let rows = area.height.saturating_sub(3) as usize;
    let top = (st.row + 1).saturating_sub(rows.max(1));
    for (r, layer) in g.layers.iter().enumerate().skip(top).take(rows) {
        let mark = match dola {
            Some((l, _)) if l == layer => "◆",
            Some((_, d)) if d.iter().any(|(l, _)| l == layer) => "·",
            _ => " ",
        };
        let label = format!("{mark}{layer:>5} ");
        let style = if r == st.row {
            theme::selected()
        } else {
            Style::new()
        };
        let mut spans = vec![Span::styled(format!("{label:>8}"), style)];
        for cell in &g.cells[r][first_col..] {
            let (id, lp) = cell.top.first().copied().unwrap_or((0, f32::NEG_INFINITY));
            let score = match st.shade {
                Shade::Probability => lp.exp(),
                Shade::Kl => 1.0 - (cell.kl_to_final / KL_SCALE).min(1.0),
            };
            spans.push(Span::styled(
                pad(app.token_text(id)),
                theme::chip(theme::tint(score)),
            ));
        }
        lines.push(Line::from(spans));
    }
    Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title))
}

fn side_panel(
    app: &App,
    view: &LensView,
    dola: Option<&(usize, Vec<(usize, f32)>)>,
) -> Paragraph<'static> {
    let g = &view.grid;
    let row = app.lens.row.min(g.layers.len().saturating_sub(1));
    let mut lines = Vec::new();
    if let Some(cell) = g.cells.get(row).and_then(|r| r.last()) {
        let layer = g.layers[row];
        let what = if row + 1 == g.layers.len() {
            "the model's output".to_string()
        } else {
            format!("after block {layer}")
        };
        lines.push(Line::from(format!("layer {layer}: {what}")));
        lines.push(Line::styled(
            format!(
                "entropy {:.2} nats · KL {:.3}",
                cell.entropy, cell.kl_to_final
            ),
            theme::dim(),
        ));
        for &(id, lp) in &cell.top {
            lines.push(Line::from(format!(
                "{:>6.1}%  {}",
                lp.exp() * 100.0,
                text::visible(app.token_text(id))
            )));
        }
    }
    if let Some((chosen, divs)) = dola {
        lines.push(Line::from(""));
        lines.push(Line::from(format!("DoLa: premature layer {chosen}")));
        for (l, d) in divs {
            let mark = if l == chosen { "◆" } else { " " };
            lines.push(Line::styled(
                format!("{mark} layer {l:>3}  JSD {d:.3e}"),
                if l == chosen {
                    Style::new()
                } else {
                    theme::dim()
                },
            ));
        }
    }
    Paragraph::new(lines).block(
        Block::default()
            .borders(Borders::ALL)
            .title(" selected cell "),
    )
}

/// `s` cut or padded to one cell, with a gap after it; a blank token shows as `␣`.
fn pad(s: &str) -> String {
    let s = if s.trim().is_empty() && !s.is_empty() {
        "␣"
    } else {
        s
    };
    format!("{} ", text::cell(s, CELL - 1))
}
