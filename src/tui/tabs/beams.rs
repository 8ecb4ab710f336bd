//! The beam tab: the search as a tree from the prompt, one column per step. Running beams are
//! bright, the best pruned candidates of each expanded beam dim, finished hypotheses marked
//! `✓` with their final score, the best path bold. A side panel shows the selected node's
//! next-token distribution; the hypotheses are listed below.

use std::sync::Arc;

use crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::Frame;

use crate::tui::ui::Screen;
use crate::bind;
use crate::tui::tabs::TabSpec;
use crate::tui::keys::{self, Binding};
use crate::decode::beam::{BeamConfig, BeamTree, ROOT};
use crate::engine::protocol::Command;
use crate::engine::run::{RunKind, RunRequest};
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::widgets::beam_tree::beams_view;

/// Widest search the `+` key allows.
pub const MAX_BEAMS: usize = 8;

/// The beam tab's part of the UI state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BeamsState {
    /// The latest tree from the engine.
    pub tree: Option<Arc<BeamTree>>,
    /// The knobs the next search uses.
    pub config: BeamConfig,
    /// Knobs and prompt of the search last started.
    pub started: Option<(BeamConfig, String)>,
    /// Selected node id (`None`: follow the newest step).
    pub selected: Option<usize>,
    /// A run-to-end is in progress.
    pub running: bool,
}

/// What the beam tab's keys do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BeamAction {
    /// One expansion (starting a search when needed).
    Expand,
    /// Expand to the end (starting a search when needed).
    RunToEnd,
    /// Move the node selection by columns (steps) and rows.
    Select {
        dx: i32,
        dy: i32,
    },
    /// Change the beam width, the length penalty or the diversity penalty by steps; a search
    /// on screen is re-run with the new knobs.
    Width(i32),
    LengthPenalty(i32),
    Diversity(i32),
}

/// Keys of the beam tab (its own space: one expansion of the search).
const KEYS: &[Binding] = &[
    bind!("space", "expand a step", KeyCode::Char(' ') => Action::Beam(BeamAction::Expand)),
    bind!("r enter", "run to the end",
        KeyCode::Char('r') => Action::Beam(BeamAction::RunToEnd),
        KeyCode::Enter => Action::Beam(BeamAction::RunToEnd)),
    bind!("arrows", "select a node",
        KeyCode::Left => Action::Beam(BeamAction::Select { dx: -1, dy: 0 }),
        KeyCode::Right => Action::Beam(BeamAction::Select { dx: 1, dy: 0 }),
        KeyCode::Up => Action::Beam(BeamAction::Select { dx: 0, dy: -1 }),
        KeyCode::Down => Action::Beam(BeamAction::Select { dx: 0, dy: 1 })),
    bind!("+ -", "beam width",
        KeyCode::Char('+') => Action::Beam(BeamAction::Width(1)),
        KeyCode::Char('=') => Action::Beam(BeamAction::Width(1)),
        KeyCode::Char('-') => Action::Beam(BeamAction::Width(-1)),
        KeyCode::Char('_') => Action::Beam(BeamAction::Width(-1))),
    bind!("l L", "length penalty",
        KeyCode::Char('l') => Action::Beam(BeamAction::LengthPenalty(-1)),
        KeyCode::Char('L') => Action::Beam(BeamAction::LengthPenalty(1))),
    bind!("d D", "diversity (re-runs)",
        KeyCode::Char('d') => Action::Beam(BeamAction::Diversity(-1)),
        KeyCode::Char('D') => Action::Beam(BeamAction::Diversity(1))),
    bind!("e", "edit the prompt", KeyCode::Char('e') => Action::EditPrompt),
];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "beams",
    short: "beams",
    keymaps: |_| &[KEYS, keys::COMMON],
    draw,
};

/// Applies a beam action; returns the engine commands.
pub fn update(app: &mut App, action: BeamAction) -> Vec<Command> {
    let st = &mut app.beams;
    match action {
        BeamAction::Expand => {
            let mut cmds = start_if_stale(app);
            cmds.push(Command::Step);
            return cmds;
        }
        BeamAction::RunToEnd => {
            let mut cmds = start_if_stale(app);
            app.beams.running = true;
            cmds.push(Command::Autoplay(true));
            return cmds;
        }
        BeamAction::Select { dx, dy } => select(st, dx, dy),
        BeamAction::Width(d) => {
            let c = &mut st.config;
            c.beams = (c.beams as i64 + d as i64).clamp(1, MAX_BEAMS as i64) as usize;
            return retune(app);
        }
        BeamAction::LengthPenalty(d) => {
            let c = &mut st.config;
            c.length_penalty = (c.length_penalty + 0.25 * d as f32).clamp(-2.0, 4.0);
            return retune(app);
        }
        BeamAction::Diversity(d) => {
            let c = &mut st.config;
            c.diversity = (c.diversity + 0.25 * d as f32).clamp(0.0, 5.0);
            return retune(app);
        }
    }
    Vec::new()
}

/// A tree from the engine.
pub fn on_tree(app: &mut App, tree: Arc<BeamTree>) {
    let st = &mut app.beams;
    if tree.done {
        st.running = false;
    }
    if st
        .selected
        .is_some_and(|id| id != ROOT && tree.node(id).is_none())
    {
        st.selected = None;
    }
    st.tree = Some(tree);
}

/// Keeps the knobs consistent (groups follow diversity, every beam returned) and re-runs a
/// search already on screen.
fn retune(app: &mut App) -> Vec<Command> {
    let c = &mut app.beams.config;
    if c.beams < 2 {
        c.diversity = 0.0;
    }
    c.groups = match (c.diversity > 0.0, c.beams % 2) {
        (false, _) => 1,
        (true, 0) => 2,
        (true, _) => c.beams,
    };
    c.num_return = c.beams;
    if app.beams.tree.is_none() {
        return Vec::new();
    }
    app.beams.running = true;
    let mut cmds = start_if_stale(app);
    cmds.push(Command::Autoplay(true));
    cmds
}

/// A beam run's start when another run is active, the knobs or the prompt changed since the last start, or it finished.
fn start_if_stale(app: &mut App) -> Vec<Command> {
    let st = &mut app.beams;
    let key = (st.config.clone(), app.snapshot.prompt.clone());
    let fresh = app.run == RunKind::Beam
        && st.started.as_ref() == Some(&key)
        && st.tree.as_ref().is_some_and(|t| !t.done);
    if fresh {
        return Vec::new();
    }
    st.started = Some(key);
    st.selected = None;
    let mut cfg = st.config.clone();
    cfg.knobs = app.config.clone();
    app.run = RunKind::Beam;
    vec![Command::Start(RunRequest::Beam(Box::new(cfg)))]
}

/// Node ids of column `col` (0 = the prompt, `s + 1` = step `s`): running, then finished.
pub(crate) fn column(tree: &BeamTree, col: usize) -> Vec<usize> {
    match col {
        0 => vec![ROOT],
        c => tree
            .steps
            .get(c - 1)
            .map_or_else(Vec::new, |s| s.nodes.iter().map(|n| n.id).collect()),
    }
}

/// Column and row of node `id`.
pub(crate) fn position(tree: &BeamTree, id: usize) -> Option<(usize, usize)> {
    if id == ROOT {
        return Some((0, 0));
    }
    let (step, _) = tree.node(id)?;
    let row = column(tree, step + 1).iter().position(|&n| n == id)?;
    Some((step + 1, row))
}

fn select(st: &mut BeamsState, dx: i32, dy: i32) {
    let Some(tree) = &st.tree else { return };
    let last = tree.steps.len();
    let (col, row) = st
        .selected
        .and_then(|id| position(tree, id))
        .unwrap_or((last, 0));
    let col = (col as i64 + dx as i64).clamp(0, last as i64) as usize;
    let nodes = column(tree, col);
    if nodes.is_empty() {
        return;
    }
    let row = (row as i64 + dy as i64).clamp(0, nodes.len() as i64 - 1) as usize;
    st.selected = Some(nodes[row]);
}

/// Draws the beam tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, _screen: &mut Screen) {
    frame.render_widget(&beams_view(app), area);
}
