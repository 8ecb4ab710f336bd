//! `draw`: lays out the screen, builds each panel's view from the app and renders it, and
//! records where things are for the mouse.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use crate::tui::app::{App, Hits, Popup, Tab};
use crate::tui::tabs;
use crate::tui::widgets::branches::branches_view;
use crate::tui::widgets::contrast::contrast_view;
use crate::tui::widgets::distribution::{b_view, distribution_view, DistLine};
use crate::tui::widgets::help::HelpView;
use crate::tui::widgets::knobs::knobs_view;
use crate::tui::widgets::loading::loading_view;
use crate::tui::widgets::prompt::prompt_view;
use crate::tui::widgets::status::status_view;
use crate::tui::widgets::temperature::temperature_view;
use crate::tui::widgets::too_small::TooSmallView;
use crate::tui::widgets::transcript::transcript_view;

/// The smallest terminal the main screen is drawn in.
pub const MIN_SIZE: (u16, u16) = (80, 24);
/// Width of the knob panel.
const KNOBS_WIDTH: u16 = 34;

/// The panels' areas for a terminal of `area`.
pub struct Panels {
    pub transcript: Rect,
    pub distribution: Rect,
    pub temperature: Rect,
    pub knobs: Rect,
    pub status: Rect,
}

impl Panels {
    /// Split the screen: transcript on top, distribution over temperature beside the knobs,
    /// status bar at the bottom.
    pub fn new(area: Rect) -> Self {
        let [main, status] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(area);
        let top = (main.height * 3 / 10).max(6);
        let [transcript, bottom] =
            Layout::vertical([Constraint::Length(top), Constraint::Min(0)]).areas(main);
        let [left, knobs] =
            Layout::horizontal([Constraint::Min(0), Constraint::Length(KNOBS_WIDTH)]).areas(bottom);
        let [distribution, temperature] =
            Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(left);
        Self {
            transcript,
            distribution,
            temperature,
            knobs,
            status,
        }
    }
}

/// Draw the whole screen for `app`, updating its transcript layout and mouse regions.
pub fn draw(frame: &mut Frame, app: &mut App) {
    let area = frame.area();
    app.hits = Hits::default();
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let view = TooSmallView {
            size: (area.width, area.height),
            min: MIN_SIZE,
        };
        frame.render_widget(&view, area);
        return;
    }
    if app.info.is_none() {
        frame.render_widget(&loading_view(app), area);
        return;
    }
    let body = tabs::draw_bar(frame, app, area);
    if app.tab == Tab::Main {
        draw_main(frame, app, body);
    } else {
        tabs::draw(frame, app, body);
    }
    match &app.popup {
        Popup::None => {}
        Popup::Help => frame.render_widget(&HelpView, area),
        Popup::Branches { .. } => {
            if let Some(view) = branches_view(app) {
                frame.render_widget(&view, area);
            }
        }
        Popup::Prompt(_) => {
            if let Some(view) = prompt_view(app) {
                frame.render_widget(&view, area);
            }
        }
    }
}

/// The main tab: transcript, distribution, temperatures, knobs and the status bar.
fn draw_main(frame: &mut Frame, app: &mut App, area: Rect) {
    let p = Panels::new(area);
    draw_transcript(frame, app, p.transcript);
    draw_distribution(frame, app, p.distribution);
    let temp_rows = p.temperature.height.saturating_sub(3) as usize;
    match contrast_view(app, temp_rows) {
        Some(view) => frame.render_widget(&view, p.temperature),
        None => frame.render_widget(&temperature_view(app, temp_rows), p.temperature),
    }
    // Rows for knobs: the panel less its borders and two lines of hint.
    let knob_rows = p.knobs.height.saturating_sub(4) as usize;
    let knobs = knobs_view(app, knob_rows);
    frame.render_widget(&knobs, p.knobs);
    app.hits.knobs = inner(p.knobs);
    app.hits.knob_first = knobs.first;
    frame.render_widget(&status_view(app), p.status);
}

fn draw_transcript(frame: &mut Frame, app: &mut App, area: Rect) {
    let text = inner(area);
    app.transcript
        .ensure(&app.snapshot, app.version, text.width);
    app.transcript.scroll_to(app.selected, text.height as usize);
    frame.render_widget(&transcript_view(app, text.height as usize), area);
    app.hits.transcript = text;
}

fn draw_distribution(frame: &mut Frame, app: &mut App, area: Rect) {
    // A/B: the second knob set's panel on the right half.
    let area = if app.knobs_b.is_some() {
        let [a, b] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(area);
        let rows = inner(b).height.saturating_sub(2) as usize;
        match b_view(app, rows) {
            Some(view) => frame.render_widget(&view, b),
            None => frame.render_widget(
                Paragraph::new("B: asking the engine…").block(Block::bordered().title(" B ")),
                b,
            ),
        }
        a
    } else {
        area
    };
    let list = inner(area);
    let view = distribution_view(app, list.height.saturating_sub(2) as usize);
    frame.render_widget(&view, area);
    app.hits.distribution = list;
    app.hits.candidates = view
        .lines
        .iter()
        .enumerate()
        .filter_map(|(row, line)| match line {
            DistLine::Candidate(c) => Some((list.y + 1 + row as u16, c.index)),
            DistLine::Marker(_) => None,
        })
        .collect();
}

/// The area inside a bordered block.
fn inner(area: Rect) -> Rect {
    area.inner(ratatui::layout::Margin::new(1, 1))
}
