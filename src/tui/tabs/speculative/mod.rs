//! The speculative tab: every round as a row of drafted tokens marked accepted / rejected /
//! resampled / bonus; for the selected drafted token, the target's p and the draft's q side by
//! side over the top candidates with the accept probability and the draw, and at a rejection
//! the residual norm(max(0, p − q)) the replacement came from; the running acceptance rate,
//! mean α, and expected against measured tokens per target call. Draft kind and γ are live.

mod view;

pub use view::{spec_tab_view, BarLine, RoundToken, SpecTabView};

use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::Frame;

use crate::tui::ui::Screen;
use crate::bind;
use crate::tui::tabs::TabSpec;
use crate::tui::keys::{self, Binding};
use crate::decode::speculative::{DraftSpec, GammaSchedule};
use crate::engine::protocol::Command;
use crate::engine::run::{RunRequest, SpecConfig, SpecView};
use crate::tui::action::Action;
use crate::tui::app::App;

/// The speculative tab's part of the UI state.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecState {
    /// Whether stepping the main timeline runs speculative rounds.
    pub enabled: bool,
    pub config: SpecConfig,
    /// The latest view from the engine.
    pub view: Option<Arc<SpecView>>,
    /// Selected round (index into the view's rounds); `None` follows the newest.
    pub round: Option<usize>,
    /// Selected drafted token of the round.
    pub token: usize,
}

impl Default for SpecState {
    fn default() -> Self {
        SpecState {
            enabled: false,
            config: SpecConfig {
                draft: DraftSpec::NGram(3),
                gamma: GammaSchedule {
                    gamma: 4,
                    adaptive: false,
                },
            },
            view: None,
            round: None,
            token: 0,
        }
    }
}

/// What the speculative keys do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecAction {
    /// Speculative rounds on / off for the timeline.
    Toggle,
    /// Next draft kind.
    CycleDraft,
    /// γ by this much.
    Gamma(i32),
    /// Adaptive γ on / off.
    Adaptive,
    /// Select another round / drafted token.
    Round(i32),
    Token(i32),
}

/// Keys of the speculative tab.
const KEYS: &[Binding] = &[
    bind!("s", "on / off", KeyCode::Char('s') => Action::Speculative(SpecAction::Toggle)),
    bind!("d", "draft", KeyCode::Char('d') => Action::Speculative(SpecAction::CycleDraft)),
    bind!("g G", "γ",
        KeyCode::Char('g') => Action::Speculative(SpecAction::Gamma(-1)),
        KeyCode::Char('G') => Action::Speculative(SpecAction::Gamma(1))),
    bind!("A", "adaptive γ", KeyCode::Char('A') => Action::Speculative(SpecAction::Adaptive)),
    bind!("↑ ↓", "round",
        KeyCode::Up => Action::Speculative(SpecAction::Round(-1)),
        KeyCode::Down => Action::Speculative(SpecAction::Round(1))),
    bind!("← →", "token",
        KeyCode::Left => Action::Speculative(SpecAction::Token(-1)),
        KeyCode::Right => Action::Speculative(SpecAction::Token(1))),
];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "speculative",
    short: "spec",
    keymaps: |_| &[KEYS, keys::COMMON],
    draw,
};

/// The drafts `d` cycles through: prompt lookup, three early exits, the loaded draft model.
pub fn draft_cycle(app: &App) -> Vec<DraftSpec> {
    let layers = app.info.as_ref().map_or(0, |i| i.layers);
    let mut out = vec![DraftSpec::NGram(3), DraftSpec::NGram(2)];
    for l in [layers / 4, layers / 2, 3 * layers / 4] {
        if l >= 1 && l < layers && !out.contains(&DraftSpec::SelfLayers(l)) {
            out.push(DraftSpec::SelfLayers(l));
        }
    }
    if let Some(path) = app.info.as_ref().and_then(|i| i.draft_model.clone()) {
        out.push(DraftSpec::Model(path.into()));
    }
    out
}

/// The run stepping the main timeline: speculative when on, else plain sampling.
pub fn timeline_request(app: &App) -> RunRequest {
    if app.spec.enabled {
        RunRequest::Speculative(app.spec.config.clone())
    } else {
        RunRequest::Sample
    }
}

/// Applies a speculative action; returns the engine commands.
pub fn update(app: &mut App, action: SpecAction) -> Vec<Command> {
    let st = &mut app.spec;
    match action {
        SpecAction::Round(d) => {
            let n = st.view.as_ref().map_or(0, |v| v.rounds.len());
            if n > 0 {
                let now = st.round.unwrap_or(n - 1) as i64;
                let next = (now + d as i64).clamp(0, n as i64 - 1) as usize;
                st.round = (next + 1 < n).then_some(next);
                st.token = 0;
            }
            return Vec::new();
        }
        SpecAction::Token(d) => {
            st.token = (st.token as i64 + d as i64).max(0) as usize;
            return Vec::new();
        }
        SpecAction::Toggle => st.enabled = !st.enabled,
        SpecAction::CycleDraft => {
            let cycle = draft_cycle(app);
            let st = &mut app.spec;
            let i = cycle.iter().position(|d| *d == st.config.draft);
            st.config.draft = cycle[i.map_or(0, |i| (i + 1) % cycle.len())].clone();
        }
        SpecAction::Gamma(d) => {
            let g = &mut st.config.gamma.gamma;
            *g = (*g as i64 + d as i64).clamp(1, 16) as usize;
        }
        SpecAction::Adaptive => st.config.gamma.adaptive = !st.config.gamma.adaptive,
    }
    restart(app)
}

/// Starts the timeline's run anew with the tab's knobs.
fn restart(app: &mut App) -> Vec<Command> {
    let req = timeline_request(app);
    app.run = req.kind();
    app.spec.round = None;
    vec![Command::Start(req)]
}

/// A view from the engine.
pub fn on_view(app: &mut App, view: Arc<SpecView>) {
    let st = &mut app.spec;
    if st.round.is_some_and(|r| r >= view.rounds.len()) {
        st.round = None;
    }
    st.view = Some(view);
}

/// Draws the speculative tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, _screen: &mut Screen) {
    let rows = (area.height.saturating_sub(8) / 2).max(1) as usize;
    let view = spec_tab_view(app, rows);
    frame.render_widget(&view, area);
}
