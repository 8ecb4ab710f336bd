//! The tokens tab: the prompt and the transcript split into tokens — each a chip with its
//! piece (invalid UTF-8 as `\xNN`), specials marked, generated tokens tinted by the
//! probability they were drawn with — and the selected token's id, bytes, and its rank and
//! probability when it was generated.

use crossterm::event::KeyCode;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::Frame;

use crate::tui::ui::Screen;
use crate::bind;
use crate::tui::tabs::TabSpec;
use crate::tui::keys::{self, Binding};
use crate::engine::inspect::{token_rows, TokenRow};
use crate::engine::protocol::Command;
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::text;
use crate::tui::theme;

/// Background of special tokens.
const SPECIAL: Color = Color::Rgb(200, 110, 200);

/// What the tokens keys do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokensAction {
    /// Move the selected token by this much (clamped).
    Move(i64),
}

/// Keys of the tokens tab.
const KEYS: &[Binding] = &[bind!(
    "← → ↑ ↓ home end",
    "select a token (id, bytes; rank, p if drawn)",
    KeyCode::Left => Action::Tokens(TokensAction::Move(-1)),
    KeyCode::Right => Action::Tokens(TokensAction::Move(1)),
    KeyCode::Up => Action::Tokens(TokensAction::Move(-10)),
    KeyCode::Down => Action::Tokens(TokensAction::Move(10)),
    KeyCode::Home => Action::Tokens(TokensAction::Move(i64::MIN / 2)),
    KeyCode::End => Action::Tokens(TokensAction::Move(i64::MAX / 2)),
)];

/// The tab's registration.
pub static TAB: TabSpec = TabSpec {
    label: "tokens",
    short: "tokens",
    keymaps: |_| &[KEYS, keys::COMMON],
    draw,
};

/// Applies a tokens action.
pub fn update(app: &mut App, action: TokensAction) -> Vec<Command> {
    let TokensAction::Move(d) = action;
    let n = app.snapshot.prompt_tokens.len() + app.snapshot.steps.len();
    let now = app.token.min(n.saturating_sub(1)) as i64;
    app.token = now.saturating_add(d).clamp(0, n.saturating_sub(1) as i64) as usize;
    Vec::new()
}

/// Draws the tab.
pub fn draw(frame: &mut Frame, app: &App, area: Rect, _screen: &mut Screen) {
    let Some(info) = app.info.clone() else { return };
    let rows = token_rows(&app.snapshot, &info);
    if rows.is_empty() {
        frame.render_widget(Line::styled("no tokens yet", theme::dim()), area);
        return;
    }
    let selected = app.token.min(rows.len() - 1);
    let [flow, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(8)]).areas(area);
    let mut spans = Vec::with_capacity(rows.len() * 2);
    for r in &rows {
        let bg = if r.special {
            SPECIAL
        } else {
            match r.drawn {
                Some(d) => theme::tint(d.prob),
                None => theme::PROMPT_CHIPS[r.index % 2],
            }
        };
        let mut style = theme::chip(bg);
        if r.index == selected {
            style = style.add_modifier(Modifier::REVERSED | Modifier::BOLD);
        }
        spans.push(Span::styled(text::visible(&r.piece), style));
        spans.push(Span::raw(" "));
    }
    let title = format!(
        " Tokens · {} prompt + {} generated · ←→ ↑↓ select · specials in magenta ",
        app.snapshot.prompt_tokens.len(),
        app.snapshot.steps.len()
    );
    frame.render_widget(
        Paragraph::new(Line::from(spans))
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title)),
        flow,
    );
    frame.render_widget(details(&rows[selected]), detail);
}

fn details(r: &TokenRow) -> Paragraph<'static> {
    let hex: Vec<String> = r.piece.bytes().map(|b| format!("{b:02x}")).collect();
    let mut lines = vec![
        Line::from(format!(
            "position {} · id {} · {}",
            r.index,
            r.id,
            if r.special {
                "special token"
            } else {
                "text token"
            }
        )),
        Line::from(format!("piece {:?}", r.piece)),
        if r.piece.contains("\\x") {
            Line::styled(
                "bytes that are not UTF-8 on their own are shown as \\xNN",
                theme::dim(),
            )
        } else {
            Line::styled(format!("bytes {}", hex.join(" ")), theme::dim())
        },
    ];
    lines.push(match r.drawn {
        Some(d) => Line::from(format!(
            "generated at step {} · rank {} · p = {}",
            d.step + 1,
            d.rank,
            text::percent(d.prob)
        )),
        None => Line::styled(
            "part of the prompt",
            Style::new().add_modifier(Modifier::DIM),
        ),
    });
    Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" token "))
}
