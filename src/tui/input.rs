//! A one-line text input (the prompt editor), edited by characters, never by byte index.

/// An edit applied to a [`TextInput`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEdit {
    Insert(char),
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
}

/// Text being edited, with a cursor counted in characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    chars: Vec<char>,
    cursor: usize,
}

impl TextInput {
    /// An input holding `text` with the cursor at its end.
    pub fn new(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let cursor = chars.len();
        Self { chars, cursor }
    }

    /// Apply one edit.
    pub fn apply(&mut self, edit: TextEdit) {
        match edit {
            TextEdit::Insert(c) => {
                self.chars.insert(self.cursor, c);
                self.cursor += 1;
            }
            TextEdit::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.chars.remove(self.cursor);
            }
            TextEdit::Delete if self.cursor < self.chars.len() => {
                self.chars.remove(self.cursor);
            }
            TextEdit::Left => self.cursor = self.cursor.saturating_sub(1),
            TextEdit::Right => self.cursor = (self.cursor + 1).min(self.chars.len()),
            TextEdit::Home => self.cursor = 0,
            TextEdit::End => self.cursor = self.chars.len(),
            TextEdit::Backspace | TextEdit::Delete => {}
        }
    }

    /// The text.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The text before and from the cursor.
    pub fn split(&self) -> (String, String) {
        (
            self.chars[..self.cursor].iter().collect(),
            self.chars[self.cursor..].iter().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_by_character() {
        let mut t = TextInput::new("héllo");
        t.apply(TextEdit::Left);
        t.apply(TextEdit::Backspace);
        t.apply(TextEdit::Insert('ö'));
        assert_eq!(t.text(), "hélöo");
        t.apply(TextEdit::Home);
        t.apply(TextEdit::Delete);
        assert_eq!(t.split(), (String::new(), "élöo".to_string()));
    }
}
