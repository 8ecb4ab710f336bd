//! The screens, one file each, registered once in [`tabs!`]: that line gives a tab its number
//! key, its place and label in the tab bar (clickable), its key map and its section of the
//! help. A tab file exports `pub static TAB: TabSpec`.

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use crate::tui::action::Action;
use crate::tui::app::{App, Focus};
use crate::tui::keys::{self, Binding};
use crate::tui::theme;
use crate::tui::ui::{Hits, Screen};

/// What the registry knows of a tab.
pub struct TabSpec {
    /// Name in the tab bar.
    pub label: &'static str,
    /// Name of its help section (`<short> tab:`).
    pub short: &'static str,
    /// The key maps in force, first match wins: the tab's own, then usually [`keys::COMMON`].
    pub keymaps: fn(Focus) -> &'static [&'static [Binding]],
    /// Draws the tab into the area below the tab bar, recording mouse regions in the screen.
    pub draw: fn(&mut Frame, &App, Rect, &mut Screen),
}

/// Declares the tab modules and the [`Tab`] enum, in key order (`1`, `2`, …).
macro_rules! tabs {
    ($($variant:ident => $module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        /// The screen shown, chosen with its number key or a click on the tab bar.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Tab {
            $($variant),+
        }

        impl Tab {
            /// Every tab, in key order.
            pub const ALL: &'static [Tab] = &[$(Tab::$variant),+];

            /// The tab's registration.
            pub fn spec(self) -> &'static TabSpec {
                match self {
                    $(Tab::$variant => &$module::TAB),+
                }
            }
        }
    };
}

tabs! {
    Main => main,
    Beams => beams,
    Attention => attention,
    Cache => cache,
    Speculative => speculative,
    Lens => lens,
    Crowd => crowd,
    Tokens => tokens,
}

impl Default for Tab {
    fn default() -> Self {
        Tab::ALL[0]
    }
}

impl Tab {
    /// Name in the tab bar.
    pub fn label(self) -> &'static str {
        self.spec().label
    }

    /// The tab whose number key is `c`.
    pub fn for_digit(c: char) -> Option<Tab> {
        let i = c.to_digit(10)? as usize;
        Tab::ALL.get(i.checked_sub(1)?).copied()
    }
}

/// The action of `code` on `tab` with `focus`, from the tab's key maps.
pub fn map_key(tab: Tab, focus: Focus, code: KeyCode) -> Option<Action> {
    keys::lookup((tab.spec().keymaps)(focus), code)
}

/// Draws the tab line at the top of `area` (recording where each tab is, for clicks);
/// returns the area below it.
pub fn draw_bar(frame: &mut Frame, app: &App, area: Rect, hits: &mut Hits) -> Rect {
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(area);
    let mut spans = Vec::new();
    let mut x = bar.x;
    for (i, &tab) in Tab::ALL.iter().enumerate() {
        let style = if tab == app.tab {
            theme::selected()
        } else {
            theme::dim()
        };
        let label = format!(" {} {} ", i + 1, tab.label());
        let w = label.chars().count() as u16;
        hits.tabs.push((Rect::new(x, bar.y, w, 1), tab));
        x += w + 1;
        spans.push(Span::styled(label, style));
        spans.push(Span::styled(" ", Style::new()));
    }
    frame.render_widget(Line::from(spans), bar);
    body
}

/// Draws the current tab into `area`.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, screen: &mut Screen) {
    (app.tab.spec().draw)(frame, app, area, screen)
}
