//! The cache tab: the KV cache as a strip of slots coloured by kind (sinks, then the evicted
//! gap as a count, then the recent window), each slot's token, text and cache positions, and
//! the attention it receives from the selected step; the policy and its s / w change live.

use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use ratatui::Frame;

use crate::bind;
use crate::engine::inspect::{CacheView, LayerReach};
use crate::tui::keys::{self, Binding};
use crate::tui::tabs::TabSpec;
use crate::tui::ui::Screen;
use crate::engine::protocol::Command;
use crate::model::cache::{CachePolicy, SlotKind};
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::tabs::attention::{overlay_source, selection_label};
use crate::tui::text;
use crate::tui::theme;
use crate::tui::widgets::heatmap::glyph;

/// Background of sink slots.
const SINK: Color = Color::Rgb(200, 110, 200);
/// Background of recent slots.
const RECENT: Color = Color::Rgb(120, 200, 130);

/// The cache tab's part of the UI state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheState {
    /// The latest cache view from the engine.
    pub view: Option<Arc<CacheView>>,
    /// First slot of the table.
    pub top: usize,
}

/// What the cache keys do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheAction {
    /// Cycle the policy: full → window → sinks.
    CyclePolicy,
    /// Change the number of sinks / the window by this much.
    Sinks(i32),
    Window(i32),
    /// Scroll the slot table.
    Scroll(i32),
}

/// Keys of the cache tab.
const KEYS: &[Binding] = &[
    bind!("p", "policy full / window / sinks", KeyCode::Char('p') => Action::Cache(CacheAction::CyclePolicy)),
    bind!("s S", "sinks",
        KeyCode::Char('s') => Action::Cache(CacheAction::Sinks(-1)),
        KeyCode::Char('S') => Action::Cache(CacheAction::Sinks(1))),
    bind!("w W", "window",
        KeyCode::Char('w') => Action::Cache(CacheAction::Window(-8)),
        KeyCode::Char('W') => Action::Cache(CacheAction::Window(8))),
    bind!("↑ ↓ pgup pgdn", "scroll the slots",
        KeyCode::Up => Action::Cache(CacheAction::Scroll(-1)),
        KeyCode::Down => Action::Cache(CacheAction::Scroll(1)),
        KeyCode::PageUp => Action::Cache(CacheAction::Scroll(-10)),
        KeyCode::PageDown => Action::Cache(CacheAction::Scroll(10))),
    bind!("← →", "previous / next step",
        KeyCode::Left => Action::SelectPrev,
        KeyCode::Right => Action::SelectNext),
];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "cache",
    short: "cache",
    keymaps: |_| &[KEYS, keys::COMMON],
    draw,
};

/// The policy after `action` (`None` when the action is not a policy change).
fn next_policy(p: CachePolicy, action: CacheAction) -> Option<CachePolicy> {
    const W: usize = 64;
    let clamp = |x: usize, d: i32, lo: usize| (x as i64 + d as i64).max(lo as i64) as usize;
    Some(match (action, p) {
        (CacheAction::CyclePolicy, CachePolicy::Full) => CachePolicy::Window { w: W },
        (CacheAction::CyclePolicy, CachePolicy::Window { w }) => CachePolicy::Sinks { s: 4, w },
        (CacheAction::CyclePolicy, CachePolicy::Sinks { .. }) => CachePolicy::Full,
        (CacheAction::Sinks(d), CachePolicy::Sinks { s, w }) => CachePolicy::Sinks {
            s: clamp(s, d, 0),
            w,
        },
        (CacheAction::Window(d), CachePolicy::Window { w }) => {
            CachePolicy::Window { w: clamp(w, d, 1) }
        }
        (CacheAction::Window(d), CachePolicy::Sinks { s, w }) => CachePolicy::Sinks {
            s,
            w: clamp(w, d, 1),
        },
        _ => return None,
    })
}

/// Applies a cache action; returns the engine commands.
pub fn update(app: &mut App, action: CacheAction) -> Vec<Command> {
    let st = &mut app.cache;
    if let CacheAction::Scroll(d) = action {
        let n = st.view.as_ref().map_or(0, |v| v.slots.len());
        st.top = (st.top as i64 + d as i64).clamp(0, n.saturating_sub(1) as i64) as usize;
        return Vec::new();
    }
    let now = st.view.as_ref().map_or(CachePolicy::Full, |v| v.policy);
    match next_policy(now, action) {
        Some(p) if p != now => vec![Command::SetCachePolicy(p)],
        _ => Vec::new(),
    }
}

/// A cache view from the engine.
pub fn on_view(app: &mut App, view: Arc<CacheView>) {
    let st = &mut app.cache;
    st.top = st.top.min(view.slots.len().saturating_sub(1));
    st.view = Some(view);
}

/// One slot as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotLine {
    pub cache_pos: usize,
    pub position: usize,
    pub kind: SlotKind,
    pub token: String,
    /// Attention it receives from the selected step (`None`: not captured).
    pub mass: Option<f32>,
    /// With sliding-window layers: whether the next query's sliding layers still see this
    /// slot (`false`: only the global layers do). `None` when every layer is global.
    pub in_window: Option<bool>,
}

/// The layers line of a model with sliding-window layers: one cell per layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LayersLine {
    /// Per layer: `true` for a sliding layer.
    pub sliding: Vec<bool>,
    /// The window of the sliding layers.
    pub window: usize,
    /// 1-based numbers of the global layers.
    pub global: Vec<usize>,
}

/// What the cache tab shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheTabView {
    pub summary: String,
    /// The strip: sinks, evicted count, recent (every slot, for the overview).
    pub strip: Vec<(SlotKind, Option<f32>)>,
    pub sinks: usize,
    /// Recent slots left out of the strip for want of room.
    pub hidden: usize,
    pub evicted: usize,
    /// The slot table from the scroll position.
    pub lines: Vec<SlotLine>,
    pub attention: String,
    /// Which layers slide and which attend globally (`None`: all global).
    pub layers: Option<LayersLine>,
}

/// The layers line when some layer slides (Gemma 3): the smallest window and the global
/// layers.
fn layers_line(layers: &[LayerReach]) -> Option<LayersLine> {
    let window = layers
        .iter()
        .filter_map(|l| match l {
            LayerReach::Sliding { window } => Some(*window),
            LayerReach::Global => None,
        })
        .min()?;
    Some(LayersLine {
        sliding: layers
            .iter()
            .map(|l| matches!(l, LayerReach::Sliding { .. }))
            .collect(),
        window,
        global: layers
            .iter()
            .enumerate()
            .filter(|(_, l)| **l == LayerReach::Global)
            .map(|(i, _)| i + 1)
            .collect(),
    })
}

/// The tab's view, with `rows` table rows and a strip of at most `strip` slots (the sinks
/// and the most recent).
pub fn cache_tab_view(app: &App, rows: usize, strip: usize) -> Option<CacheTabView> {
    let view = app.cache.view.as_ref()?;
    let received = overlay_source(app);
    let mass = |pos: usize| {
        received
            .as_ref()
            .and_then(|r| r.get(pos).copied().flatten())
    };
    let sinks = view
        .slots
        .iter()
        .filter(|s| s.kind == SlotKind::Sink)
        .count();
    let layers = layers_line(&view.layers);
    // The next token takes slot `n`; a sliding layer sees slots `n - window + 1 ..= n`.
    let n = view.slots.len();
    let lines = view
        .slots
        .iter()
        .zip(&view.tokens)
        .skip(app.cache.top)
        .take(rows)
        .map(|(s, t)| SlotLine {
            cache_pos: s.cache_pos,
            position: s.position,
            kind: s.kind,
            token: t.clone(),
            mass: mass(s.position),
            in_window: layers.as_ref().map(|l| n - s.cache_pos < l.window),
        })
        .collect();
    Some(CacheTabView {
        summary: format!(
            "policy {} · {} slots of {} context · {} evicted · {} KiB · p policy  s S sinks  w W window",
            view.policy,
            view.slots.len(),
            view.context_len,
            view.evicted,
            view.bytes / 1024
        ),
        strip: view
            .slots
            .iter()
            .enumerate()
            .filter(|(i, _)| *i < sinks || *i + strip.saturating_sub(sinks) >= view.slots.len())
            .map(|(_, s)| (s.kind, mass(s.position)))
            .collect(),
        sinks,
        hidden: view.slots.len().saturating_sub(strip.max(sinks)),
        evicted: view.evicted,
        lines,
        attention: match (&received, app.selected) {
            (Some(_), Some(step)) => format!(
                "attention from step {step} ({})",
                selection_label(&app.attention)
            ),
            _ => "attention: capture off (c on the attention tab) or no step selected".into(),
        },
        layers,
    })
}

fn kind_style(kind: SlotKind) -> Style {
    theme::chip(match kind {
        SlotKind::Sink => SINK,
        SlotKind::Recent => RECENT,
    })
}

fn slot_cell(kind: SlotKind, mass: Option<f32>) -> Span<'static> {
    Span::styled(mass.map_or('▪', glyph).to_string(), kind_style(kind))
}

impl Widget for &CacheTabView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut strip: Vec<Span> = vec![Span::raw("slots ")];
        for (i, &(kind, mass)) in self.strip.iter().enumerate() {
            if i == self.sinks && self.evicted > 0 {
                strip.push(Span::styled(
                    format!(" ⋯{} evicted⋯ ", self.evicted),
                    theme::dim(),
                ));
            }
            if i == self.sinks && self.hidden > 0 {
                strip.push(Span::styled(format!(" +{} ", self.hidden), theme::dim()));
            }
            strip.push(slot_cell(kind, mass));
        }
        let legend = Line::from(vec![
            Span::styled(" sink ", kind_style(SlotKind::Sink)),
            Span::raw(" "),
            Span::styled(" recent ", kind_style(SlotKind::Recent)),
            Span::styled(
                format!("  shade = attention received · {}", self.attention),
                theme::dim(),
            ),
        ]);
        let mut lines = vec![Line::raw(self.summary.clone()), Line::from(strip), legend];
        if let Some(layers) = &self.layers {
            lines.push(layers_spans(layers));
        }
        lines.push(Line::styled(
            match self.layers {
                Some(_) => " slot   pos  kind    seen by  token            attention",
                None => " slot   pos  kind    token            attention",
            },
            theme::dim(),
        ));
        for l in &self.lines {
            let kind = match l.kind {
                SlotKind::Sink => "sink  ",
                SlotKind::Recent => "recent",
            };
            let bar = l.mass.map_or(String::from("-"), |m| {
                format!("{} {:.3}", text::hbar(m, 20), m)
            });
            let mut spans = vec![
                Span::raw(format!("{:>5} {:>5}  ", l.cache_pos, l.position)),
                Span::styled(kind, kind_style(l.kind)),
            ];
            match l.in_window {
                Some(true) => spans.push(Span::raw("  all    ")),
                Some(false) => spans.push(Span::styled("  global ", theme::dim())),
                None => {}
            }
            spans.push(Span::raw(format!("  {} {bar}", text::cell(&l.token, 16))));
            lines.push(Line::from(spans));
        }
        Paragraph::new(lines)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(Block::bordered().title(" KV cache "))
            .render(area, buf);
    }
}

/// `layers ▒▒▒▒▒█… ▒ sliding (window W) ×n · █ global ×m (layers a, b, c)`.
fn layers_spans(l: &LayersLine) -> Line<'static> {
    let mut spans = vec![Span::raw("layers ")];
    for &sliding in &l.sliding {
        spans.push(match sliding {
            true => Span::styled("▒", theme::dim()),
            false => Span::styled("█", kind_style(SlotKind::Recent)),
        });
    }
    let global: Vec<String> = l.global.iter().map(usize::to_string).collect();
    spans.push(Span::styled(
        format!(
            "  ▒ sliding (window {}) ×{} · █ global ×{} (layers {}) · sliding layers see slots marked all",
            l.window,
            l.sliding.len() - l.global.len(),
            l.global.len(),
            global.join(", ")
        ),
        theme::dim(),
    ));
    Line::from(spans)
}

/// Draws the cache tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, _screen: &mut Screen) {
    let sliding = app.cache.view.as_ref().is_some_and(|v| {
        v.layers
            .iter()
            .any(|l| matches!(l, LayerReach::Sliding { .. }))
    });
    let rows = area.height.saturating_sub(7 + u16::from(sliding)) as usize;
    let strip = area.width.saturating_sub(40) as usize;
    match cache_tab_view(app, rows, strip) {
        Some(view) => frame.render_widget(&view, area),
        None => frame.render_widget(
            Line::styled("Cache view: waiting for the engine…", theme::dim()),
            area,
        ),
    }
}
