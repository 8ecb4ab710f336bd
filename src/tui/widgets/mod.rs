//! One widget per view. Each takes a plain view struct, built from [`crate::tui::app::App`] by
//! the function beside it, and renders into a buffer.

pub mod beam_tree;
pub mod branches;
pub mod contrast;
pub mod distribution;
pub mod heatmap;
pub mod help;
pub mod knobs;
pub mod loading;
pub mod prompt;
pub mod status;
pub mod temperature;
pub mod too_small;
pub mod transcript;

use ratatui::layout::Rect;

/// A `width`×`height` rectangle centred in `area` (clipped to it).
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}
