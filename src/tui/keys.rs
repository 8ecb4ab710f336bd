//! Key maps as data: each context (the main screen, the knob panel, every tab) lists its
//! [`Binding`]s once, and both the key handling ([`lookup`]) and the help overlay
//! ([`crate::tui::widgets::help::help_text`]) are read from that list, so they cannot drift.

use crossterm::event::KeyCode;

use crate::tui::action::Action;

/// A key and the action it makes.
pub type KeyAction = (KeyCode, fn() -> Action);

/// One row of a key map: the keys, how the help names them, and what each key does.
#[derive(Clone, Copy)]
pub struct Binding {
    /// The keys as the help writes them, e.g. `← →`.
    pub names: &'static str,
    /// What they do, for the help.
    pub help: &'static str,
    /// Each key with the action it makes.
    pub keys: &'static [KeyAction],
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.names, self.help)
    }
}

/// A [`Binding`] literal: `bind!("← →", "previous / next step", Left => SelectPrev, ...)`
/// where each action is an expression of type [`Action`].
#[macro_export]
macro_rules! bind {
    ($names:literal, $help:literal, $($key:expr => $action:expr),+ $(,)?) => {
        $crate::tui::keys::Binding {
            names: $names,
            help: $help,
            keys: &[$(($key, || $action)),+],
        }
    };
}

/// The action of `code` in the first binding of `maps` (searched in order) that has it.
pub fn lookup(maps: &[&[Binding]], code: KeyCode) -> Option<Action> {
    maps.iter()
        .flat_map(|m| m.iter())
        .flat_map(|b| b.keys.iter())
        .find(|(k, _)| *k == code)
        .map(|(_, action)| action())
}

/// Keys that mean the same on every tab as on the main screen.
pub const COMMON: &[Binding] = &[
    bind!("space", "generate one token", KeyCode::Char(' ') => Action::Step),
    bind!("a", "autoplay on / off", KeyCode::Char('a') => Action::ToggleAutoplay),
    bind!("?", "this help", KeyCode::Char('?') => Action::ToggleHelp),
    bind!("esc", "close a popup", KeyCode::Esc => Action::Cancel),
    bind!("q", "quit (also ctrl-c)", KeyCode::Char('q') => Action::Quit),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_map_that_has_a_key_wins() {
        const A: &[Binding] = &[bind!("x", "a", KeyCode::Char('x') => Action::Reroll)];
        const B: &[Binding] = &[
            bind!("x y", "b", KeyCode::Char('x') => Action::Quit, KeyCode::Char('y') => Action::Save),
        ];
        assert!(matches!(
            lookup(&[A, B], KeyCode::Char('x')),
            Some(Action::Reroll)
        ));
        assert!(matches!(
            lookup(&[A, B], KeyCode::Char('y')),
            Some(Action::Save)
        ));
        assert!(lookup(&[A, B], KeyCode::Char('z')).is_none());
    }
}
