//! Turning token bytes into text that never breaks: escapes for invalid UTF-8 and an
//! incremental decoder that holds back an incomplete character until it completes.

use std::fmt::Write;

/// Renders bytes as text: valid UTF-8 as is, every invalid byte as `\xNN`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Incremental UTF-8 decoder for streamed token bytes.
///
/// Bytes that may still become a character are held back; bytes that can never be valid are
/// emitted as `\xNN` escapes. No replacement characters are ever produced.
#[derive(Debug, Default, Clone)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds bytes and returns the text that is now complete.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let good = e.valid_up_to();
                    // Safe: the prefix was just validated.
                    out.push_str(std::str::from_utf8(&self.pending[..good]).unwrap_or_default());
                    match e.error_len() {
                        None => {
                            self.pending.drain(..good);
                            return out;
                        }
                        Some(n) => {
                            out.push_str(&escape_bytes(&self.pending[good..good + n]));
                            self.pending.drain(..good + n);
                        }
                    }
                }
            }
        }
    }

    /// Flushes whatever is held back (as escapes: it never completed).
    pub fn finish(&mut self) -> String {
        let out = escape_bytes(&self.pending);
        self.pending.clear();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_multibyte_character_is_held_until_complete() {
        let euro = "€".as_bytes(); // e2 82 ac
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(&euro[..1]), "");
        assert_eq!(s.push(&euro[1..2]), "");
        assert_eq!(s.push(&euro[2..]), "€");
        assert_eq!(s.finish(), "");
    }

    #[test]
    fn invalid_bytes_become_escapes_not_replacement_chars() {
        let mut s = Utf8Stream::default();
        assert_eq!(s.push(&[b'a', 0xff, b'b']), "a\\xffb");
        assert_eq!(s.push(&[0xe4, 0xbd]), "");
        assert_eq!(s.push(b"x"), "\\xe4\\xbdx");
        assert_eq!(s.push(&[0xf0]), "");
        assert_eq!(s.finish(), "\\xf0");
    }

    #[test]
    fn escape_bytes_keeps_valid_text() {
        assert_eq!(escape_bytes("héllo".as_bytes()), "héllo");
        assert_eq!(escape_bytes(&[0xe4, 0xbd]), "\\xe4\\xbd");
    }
}
