//! A query × key heatmap: one row per query, two columns per key, shaded and coloured by the
//! attention probability on a log scale, with a key-position axis and a colour legend.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::tui::text;
use crate::tui::theme;

/// Columns per key.
pub const CELL_W: usize = 2;
/// Columns of the row labels.
pub const LABEL_W: usize = 14;
/// Lower bounds of the shade levels and their glyphs.
const LEVELS: [(f32, char); 5] = [(0.0, ' '), (0.01, '░'), (0.05, '▒'), (0.2, '▓'), (0.5, '█')];
/// Glyph of a cell whose key was not in the cache (evicted).
pub const EVICTED: char = '·';

/// The shade glyph of a probability.
pub fn glyph(p: f32) -> char {
    LEVELS
        .iter()
        .rev()
        .find(|(lo, _)| p >= *lo)
        .map_or(' ', |l| l.1)
}

/// Colour of a probability on a log scale (1e-3 dark blue .. 1 yellow).
pub fn heat(p: f32) -> Color {
    let s = ((p.max(1e-3).log10() + 3.0) / 3.0).clamp(0.0, 1.0);
    let stops = [
        (60.0, 70.0, 150.0),
        (200.0, 80.0, 150.0),
        (250.0, 220.0, 70.0),
    ];
    let (a, b, t) = if s < 0.5 {
        (stops[0], stops[1], s * 2.0)
    } else {
        (stops[1], stops[2], (s - 0.5) * 2.0)
    };
    let mix = |x: f32, y: f32| (x + (y - x) * t).round() as u8;
    Color::Rgb(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// A styled cell of `width` columns for a probability (`None`: evicted).
pub fn cell(p: Option<f32>, width: usize) -> Span<'static> {
    match p {
        Some(p) => Span::styled(glyph(p).to_string().repeat(width), Style::new().fg(heat(p))),
        None => Span::styled(EVICTED.to_string().repeat(width), theme::dim()),
    }
}

/// One query row.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatRow {
    pub label: String,
    /// Values of the visible keys; `None` where evicted, and the row stops at its query.
    pub cells: Vec<Option<f32>>,
    pub selected: bool,
}

/// What the heatmap shows.
#[derive(Debug, Clone, PartialEq)]
pub struct HeatmapView {
    pub title: String,
    /// Key position of the first visible column.
    pub first_key: usize,
    /// Visible key columns.
    pub columns: usize,
    pub rows: Vec<HeatRow>,
}

impl Widget for &HeatmapView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut axis = " ".repeat(LABEL_W);
        for c in 0..self.columns {
            let key = self.first_key + c;
            let mark = if key.is_multiple_of(5) {
                text::cell(&key.to_string(), CELL_W * 5)
            } else {
                continue;
            };
            let col = LABEL_W + c * CELL_W;
            while text::width(&axis) < col {
                axis.push(' ');
            }
            axis.push_str(&mark);
        }
        let mut lines = vec![Line::styled(axis, theme::dim())];
        for row in &self.rows {
            let label = Span::styled(
                text::cell(&row.label, LABEL_W - 1) + " ",
                if row.selected {
                    theme::selected()
                } else {
                    Style::new()
                },
            );
            let mut spans = vec![label];
            spans.extend(row.cells.iter().map(|&p| cell(p, CELL_W)));
            lines.push(Line::from(spans));
        }
        let mut legend = vec![Span::styled("  legend: ", theme::dim())];
        for (lo, _) in LEVELS.iter().skip(1) {
            legend.push(cell(Some(*lo), CELL_W));
            legend.push(Span::raw(format!(" ≥{lo}  ")));
        }
        legend.push(Span::styled(
            format!("{EVICTED}{EVICTED} evicted"),
            theme::dim(),
        ));
        let height = area.height.saturating_sub(2) as usize;
        if lines.len() + 1 > height {
            lines.truncate(height.saturating_sub(1));
        }
        lines.push(Line::from(legend));
        Paragraph::new(lines)
            .block(Block::bordered().title(self.title.as_str()))
            .render(area, buf);
    }
}
