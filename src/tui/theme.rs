//! Colours that read on dark and light terminals alike: the terminal's own foreground and
//! background for plain text, mid-tone tints as chip backgrounds under explicit black text, and
//! reverse/bold for selection.

use ratatui::style::{Color, Modifier, Style};

/// Text drawn on a tinted chip.
const CHIP_FG: Color = Color::Black;

/// Mid-tone tint for a score in [0, 1]: 0 = red (surprising), 0.5 = amber, 1 = green (confident).
pub fn tint(score: f32) -> Color {
    let s = score.clamp(0.0, 1.0);
    let (a, b, t) = if s < 0.5 {
        ((229.0, 115.0, 115.0), (230.0, 190.0, 100.0), s * 2.0)
    } else {
        (
            (230.0, 190.0, 100.0),
            (120.0, 200.0, 130.0),
            (s - 0.5) * 2.0,
        )
    };
    let mix = |x: f32, y: f32| (x + (y - x) * t).round() as u8;
    Color::Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Darken a tint slightly: alternating tokens use it so every token boundary shows.
pub fn shade(color: Color) -> Color {
    match color {
        Color::Rgb(r, g, b) => {
            let d = |x: u8| (x as f32 * 0.84) as u8;
            Color::Rgb(d(r), d(g), d(b))
        }
        c => c,
    }
}

/// Chip style for a token with the given background tint.
pub fn chip(bg: Color) -> Style {
    Style::new().fg(CHIP_FG).bg(bg)
}

/// Neutral chip backgrounds for prompt tokens (alternating).
pub const PROMPT_CHIPS: [Color; 2] = [Color::Rgb(200, 200, 205), Color::Rgb(170, 170, 178)];

/// The selected item (step, knob, list row).
pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
}

/// Secondary text: labels, removed candidates.
pub fn dim() -> Style {
    Style::new().add_modifier(Modifier::DIM)
}

/// Bars of the raw distribution.
pub const RAW: Color = Color::Rgb(100, 150, 220);
/// Bars of the final (processed) distribution.
pub const FINAL: Color = Color::Rgb(225, 150, 70);
/// Cutoff markers and the preview badge.
pub const MARK: Color = Color::Rgb(200, 110, 200);
/// Errors in the status bar.
pub const ERROR: Color = Color::Rgb(220, 90, 90);

/// The border of a panel, highlighted when it has focus.
pub fn border(focused: bool) -> Style {
    if focused {
        Style::new().fg(MARK).add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }
}
