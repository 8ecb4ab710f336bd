//! The attention tab: a query × key heatmap of the captured rows for one layer and one head
//! (or the mean over heads), scrollable over long contexts. Also the transcript overlay that
//! tints every context token by the attention it receives from the selected step. The
//! attention sink shows as the first key's bright column.

use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::Frame;

use crate::tui::ui::Screen;
use crate::bind;
use crate::tui::tabs::TabSpec;
use crate::tui::keys::{self, Binding};
use crate::engine::inspect::AttentionView;
use crate::engine::protocol::Command;
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::theme;
use crate::tui::widgets::heatmap::{HeatRow, HeatmapView, CELL_W, LABEL_W};

/// The attention tab's part of the UI state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttentionState {
    /// The latest captured rows from the engine.
    pub view: Option<Arc<AttentionView>>,
    pub layer: usize,
    /// Selected head; `None` = the mean over heads.
    pub head: Option<usize>,
    /// Whether capture was asked of the engine.
    pub capture: bool,
    /// Tint the transcript by the attention the selected step pays.
    pub overlay: bool,
    /// First key column shown.
    pub left: usize,
    /// Query rows scrolled up from the newest (0 = follow the newest).
    pub up: usize,
}

/// What the attention keys do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttnAction {
    /// Previous / next layer.
    Layer(i32),
    /// Previous / next head (from the mean, the first or last).
    Head(i32),
    /// Show the mean over heads.
    Mean,
    /// Scroll keys (`dx` columns) and queries (`dy` rows).
    Scroll { dx: i32, dy: i32 },
    /// Start or stop capture.
    ToggleCapture,
    /// Turn the transcript overlay on or off (capture starts with it).
    ToggleOverlay,
}

/// Keys of the attention tab.
const KEYS: &[Binding] = &[
    bind!("[ ]", "layer",
        KeyCode::Char('[') => Action::Attention(AttnAction::Layer(-1)),
        KeyCode::Char(']') => Action::Attention(AttnAction::Layer(1))),
    bind!("h H ({ })", "head",
        KeyCode::Char('h') => Action::Attention(AttnAction::Head(-1)),
        KeyCode::Char('H') => Action::Attention(AttnAction::Head(1)),
        KeyCode::Char('{') => Action::Attention(AttnAction::Head(-1)),
        KeyCode::Char('}') => Action::Attention(AttnAction::Head(1))),
    bind!("m", "mean of heads", KeyCode::Char('m') => Action::Attention(AttnAction::Mean)),
    bind!("c", "capture on / off", KeyCode::Char('c') => Action::Attention(AttnAction::ToggleCapture)),
    bind!("o", "attention tint of the transcript",
        KeyCode::Char('o') => Action::Attention(AttnAction::ToggleOverlay)),
    bind!("arrows", "scroll",
        KeyCode::Left => Action::Attention(AttnAction::Scroll { dx: -1, dy: 0 }),
        KeyCode::Right => Action::Attention(AttnAction::Scroll { dx: 1, dy: 0 }),
        KeyCode::Up => Action::Attention(AttnAction::Scroll { dx: 0, dy: -1 }),
        KeyCode::Down => Action::Attention(AttnAction::Scroll { dx: 0, dy: 1 })),
    bind!("pgup pgdn", "scroll by ten",
        KeyCode::PageUp => Action::Attention(AttnAction::Scroll { dx: 0, dy: -10 }),
        KeyCode::PageDown => Action::Attention(AttnAction::Scroll { dx: 0, dy: 10 })),
];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "attention",
    short: "attn",
    keymaps: |_| &[KEYS, keys::COMMON],
    draw,
};

/// Applies an attention action; returns the engine commands.
pub fn update(app: &mut App, action: AttnAction) -> Vec<Command> {
    let st = &mut app.attention;
    let (layers, heads) = st.view.as_ref().map_or((1, 1), |v| (v.layers, v.heads));
    let step = |x: usize, d: i32, n: usize| (x as i64 + d as i64).clamp(0, n as i64 - 1) as usize;
    match action {
        AttnAction::Layer(d) => st.layer = step(st.layer, d, layers.max(1)),
        AttnAction::Head(d) => {
            st.head = Some(match st.head {
                None if d < 0 => heads.saturating_sub(1),
                None => 0,
                Some(h) => step(h, d, heads.max(1)),
            })
        }
        AttnAction::Mean => st.head = None,
        AttnAction::Scroll { dx, dy } => {
            st.left = (st.left as i64 + dx as i64 * 5).max(0) as usize;
            st.up = (st.up as i64 - dy as i64).max(0) as usize;
        }
        AttnAction::ToggleCapture => return set_capture(app, !app.attention.capture),
        AttnAction::ToggleOverlay => {
            st.overlay = !st.overlay;
            if st.overlay {
                return set_capture(app, true);
            }
        }
    }
    Vec::new()
}

/// Asks the engine to start or stop capture (no command when nothing changes).
pub fn set_capture(app: &mut App, on: bool) -> Vec<Command> {
    let st = &mut app.attention;
    if st.capture == on {
        return Vec::new();
    }
    st.capture = on;
    if !on {
        st.view = None;
        st.overlay = false;
    }
    vec![Command::SetAttentionCapture(on)]
}

/// Captured rows from the engine.
pub fn on_view(app: &mut App, view: Arc<AttentionView>) {
    let st = &mut app.attention;
    if st.capture {
        st.layer = st.layer.min(view.layers.saturating_sub(1));
        st.view = Some(view);
    }
}

/// The query row of the selected step, if captured.
fn selected_query(app: &App) -> Option<usize> {
    let view = app.attention.view.as_ref()?;
    let q = view.query_of_step(app.selected?);
    view.row(q).map(|_| q)
}

/// Attention each text position receives from the selected step under the tab's layer and
/// head, when its row is captured.
pub fn overlay_source(app: &App) -> Option<Vec<Option<f32>>> {
    let st = &app.attention;
    let view = st.view.as_ref()?;
    Some(view.received(selected_query(app)?, st.layer, st.head))
}

/// [`overlay_source`] when the transcript overlay is on.
pub fn overlay_scores(app: &App) -> Option<Vec<Option<f32>>> {
    overlay_source(app).filter(|_| app.attention.overlay)
}

/// Tint score of an attention probability (log scale: 0.001 → 0, 1 → 1).
pub fn tint(p: f32) -> f32 {
    ((p.max(1e-3).log10() + 3.0) / 3.0).clamp(0.0, 1.0)
}

/// Short name of the layer/head selection (`L3 mean`, `L3 h2`).
pub fn selection_label(st: &AttentionState) -> String {
    match st.head {
        None => format!("L{} mean", st.layer),
        Some(h) => format!("L{} h{h}", st.layer),
    }
}

/// The heatmap for an area of `width` × `height` (inside the border).
pub fn heatmap_view(app: &App, width: usize, height: usize) -> Option<HeatmapView> {
    let st = &app.attention;
    let view = st.view.as_ref()?;
    let captured: Vec<usize> = (0..view.rows.len())
        .filter(|&q| view.row(q).is_some())
        .collect();
    let shown_rows = height.saturating_sub(2).max(1);
    let end = captured
        .len()
        .saturating_sub(st.up.min(captured.len().saturating_sub(1)));
    let start = end.saturating_sub(shown_rows);
    let columns = width.saturating_sub(LABEL_W) / CELL_W;
    let first_key = st.left.min(view.rows.len().saturating_sub(1));
    let selected = selected_query(app);
    let rows = captured[start..end]
        .iter()
        .map(|&q| {
            let received = view.received(q, st.layer, st.head);
            let reduced = view.row(q).is_some_and(|r| r.is_reduced());
            let token = view.tokens.get(q).map_or("", |s| s.as_str());
            HeatRow {
                label: format!("{q:>4}{}{token}", if reduced { '~' } else { ' ' }),
                cells: received.into_iter().skip(first_key).take(columns).collect(),
                selected: selected == Some(q),
            }
        })
        .collect();
    let head = match st.head {
        None => format!("mean of {} heads", view.heads),
        Some(h) => format!("head {h}/{}", view.heads),
    };
    Some(HeatmapView {
        title: format!(
            " Attention · layer {}/{} · {head} · {} rows, {:.1} MB · [ ] layer  h H head  m mean  ←→↑↓ scroll  o overlay ",
            st.layer,
            view.layers,
            captured.len(),
            view.bytes as f64 / 1e6
        ),
        first_key,
        columns,
        rows,
    })
}

/// Draws the attention tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, _screen: &mut Screen) {
    let [body, help] = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
    let inner = body.inner(ratatui::layout::Margin::new(1, 1));
    match heatmap_view(app, inner.width as usize, inner.height as usize) {
        Some(view) => frame.render_widget(&view, body),
        None => frame.render_widget(
            Line::styled(
                if app.attention.capture {
                    "Capturing attention: waiting for the engine…"
                } else {
                    "Attention capture is off: press c to capture (the cache is rebuilt once)."
                },
                theme::dim(),
            ),
            body,
        ),
    }
    frame.render_widget(
        Line::styled(
            "~ = older row kept as the mean over heads (memory budget) · space step · c capture on/off",
            theme::dim(),
        ),
        help,
    );
}
