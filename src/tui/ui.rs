//! `draw`: the tab bar, the current tab and any popup, from the app's state; what drawing
//! produces besides pixels (mouse regions, the transcript's layout) goes to the [`Screen`],
//! never into the [`App`].

use ratatui::layout::Rect;
use ratatui::Frame;

use crate::tui::app::{App, Popup, Tab};
use crate::tui::tabs;
use crate::tui::widgets::branches::branches_view;
use crate::tui::widgets::help::help_view;
use crate::tui::widgets::loading::loading_view;
use crate::tui::widgets::prompt::prompt_view;
use crate::tui::widgets::too_small::TooSmallView;
use crate::tui::wrap::Wrap;

/// The smallest terminal the main screen is drawn in.
pub const MIN_SIZE: (u16, u16) = (80, 24);

/// What the mouse can hit, recorded by the last draw.
#[derive(Debug, Clone, Default)]
pub struct Hits {
    /// The transcript's text area.
    pub transcript: Rect,
    /// The distribution panel and its candidate rows (row, candidate index).
    pub distribution: Rect,
    pub candidates: Vec<(u16, usize)>,
    /// Each tab's label in the tab bar.
    pub tabs: Vec<(Rect, Tab)>,
    /// The knob panel's rows (first row y; row i is knob `knob_first + i`).
    pub knobs: Rect,
    pub knob_first: usize,
}

/// The renderer's own state, kept between frames: the mouse regions of the last frame and the
/// transcript's layout and scroll position (a cache of the timeline at the panel's width).
#[derive(Debug, Clone, Default)]
pub struct Screen {
    pub hits: Hits,
    pub transcript: Wrap,
}

/// Draw the whole screen for `app`.
pub fn draw(frame: &mut Frame, app: &App, screen: &mut Screen) {
    let area = frame.area();
    screen.hits = Hits::default();
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
    let body = tabs::draw_bar(frame, app, area, &mut screen.hits);
    tabs::draw(frame, app, body, screen);
    match &app.popup {
        Popup::None => {}
        Popup::Help => frame.render_widget(&help_view(), area),
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

/// The area inside a bordered block.
pub fn inner(area: Rect) -> Rect {
    area.inner(ratatui::layout::Margin::new(1, 1))
}
