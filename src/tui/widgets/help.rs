//! The `?` overlay: the key map, generated from the tabs' key bindings (so the two cannot
//! drift); the README quotes the same text.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::tui::app::{Focus, Tab};
use crate::tui::keys::{Binding, COMMON};
use crate::tui::tabs::main::KNOB_KEYS;
use crate::tui::widgets::centered;

/// Width the help text is wrapped to.
const WIDTH: usize = 76;

/// Lines that explain more than keys.
const NOTES: [&str; 2] = [
    "Mouse: click a tab, step, candidate or knob; the wheel on a knob adjusts it",
    "Tokens: ↵ newline, → tab, ␀…␟ control chars, \\xNN a byte not UTF-8 alone",
];

/// One section of the help: its heading (`main:`, `beams tab:`, …) and its entries
/// (`keys what-they-do`).
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub head: String,
    pub entries: Vec<String>,
}

fn entries<'a>(maps: impl IntoIterator<Item = &'a Binding>) -> Vec<String> {
    maps.into_iter()
        .map(|b| format!("{} {}", b.names, b.help))
        .collect()
}

/// The help's sections: the keys every tab shares, then each tab's own (the knob panel's
/// under the main tab), read from the tabs' key maps.
pub fn sections() -> Vec<Section> {
    let digits: Vec<String> = (1..=Tab::ALL.len()).map(|i| i.to_string()).collect();
    let labels: Vec<&str> = Tab::ALL.iter().map(|t| t.spec().short).collect();
    let mut everywhere = entries(COMMON);
    everywhere.push(format!("{} tabs: {}", digits.join(" "), labels.join(" ")));
    let mut out = vec![Section {
        head: "everywhere:".into(),
        entries: everywhere,
    }];
    for &tab in Tab::ALL {
        let spec = tab.spec();
        let common = |b: &Binding| {
            COMMON
                .iter()
                .any(|c| (c.names, c.help) == (b.names, b.help))
        };
        let own = (spec.keymaps)(Focus::Main)
            .iter()
            .flat_map(|m| m.iter())
            .filter(|b| !common(b));
        let head = if tab == Tab::default() {
            format!("{}:", spec.short)
        } else {
            format!("{} tab:", spec.short)
        };
        out.push(Section {
            head,
            entries: entries(own),
        });
        if tab == Tab::default() {
            out.push(Section {
                head: "  knob panel (tab focuses it):".into(),
                entries: entries(KNOB_KEYS),
            });
        }
    }
    out
}

/// The help text: every section wrapped to [`WIDTH`] columns, entries joined by ` · `, then
/// the notes.
pub fn help_text() -> String {
    let mut lines: Vec<String> = Vec::new();
    for section in sections() {
        let mut line = section.head.clone();
        for (i, entry) in section.entries.iter().enumerate() {
            let sep = if i == 0 { " " } else { " · " };
            let width = |s: &str| crate::tui::text::width(s);
            if i > 0 && width(&line) + width(sep) + width(entry) > WIDTH {
                lines.push(line);
                line = format!("    {entry}");
            } else {
                line.push_str(sep);
                line.push_str(entry);
            }
        }
        lines.push(line);
    }
    lines.extend(NOTES.iter().map(|s| s.to_string()));
    lines.join("\n") + "\n"
}

/// The help overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct HelpView {
    pub text: String,
}

/// The help overlay's view.
pub fn help_view() -> HelpView {
    HelpView { text: help_text() }
}

impl Widget for &HelpView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let lines = self.text.lines().count() as u16;
        let width = self
            .text
            .lines()
            .map(crate::tui::text::width)
            .max()
            .unwrap_or(0) as u16;
        let popup = centered(area, width + 4, lines + 2);
        Clear.render(popup, buf);
        Paragraph::new(self.text.as_str())
            .block(Block::bordered().title(" Keys (esc closes) "))
            .render(popup, buf);
    }
}
