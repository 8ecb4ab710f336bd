//! Chat templates: the model's own Jinja template (GGUF `tokenizer.chat_template`, or
//! `chat_template` in a Hugging Face directory's `tokenizer_config.json`) rendered with
//! `minijinja` the way Hugging Face's `apply_chat_template(..., add_generation_prompt=True)`
//! renders it (blocks trimmed, leading block whitespace stripped, Python string methods).

use crate::oneline::one_line;
use minijinja::{context, Environment, Error, ErrorKind};

/// A model's chat template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatTemplate {
    source: String,
    bos: String,
    eos: String,
}

impl ChatTemplate {
    /// A template with the model's begin / end-of-sequence token texts (the template may use
    /// them as `bos_token` / `eos_token`).
    pub fn new(source: impl Into<String>, bos: impl Into<String>, eos: impl Into<String>) -> Self {
        ChatTemplate {
            source: source.into(),
            bos: bos.into(),
            eos: eos.into(),
        }
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `content` as one user message followed by the generation prompt, as text (special
    /// tokens spelled out, to be tokenised with them recognised).
    pub fn render_user(&self, content: &str) -> Result<String, String> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |msg: String| -> Result<String, Error> {
            Err(Error::new(ErrorKind::InvalidOperation, msg))
        });
        let one_line = |e: Error| {
            let mut msg = e.to_string();
            if let Some(detail) = e.detail() {
                msg = format!("{msg}: {detail}");
            }
            format!("the chat template failed: {}", one_line(msg))
        };
        env.add_template("chat", &self.source).map_err(one_line)?;
        let tmpl = env.get_template("chat").map_err(one_line)?;
        tmpl.render(context! {
            messages => vec![context! { role => "user", content => content }],
            add_generation_prompt => true,
            bos_token => self.bos,
            eos_token => self.eos,
        })
        .map_err(one_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_template_renders_the_user_turn_and_the_generation_prompt() {
        let t = ChatTemplate::new(
            "{% for m in messages %}<{{ m.role }}>{{ m.content.strip() }}</s>\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}",
            "<s>",
            "</s>",
        );
        assert_eq!(
            t.render_user("  hi  ").unwrap(),
            "<user>hi</s>\n<assistant>"
        );
    }

    #[test]
    fn template_errors_are_one_line() {
        let bad = ChatTemplate::new("{% for %}", "", "");
        let e = bad.render_user("x").unwrap_err();
        assert!(
            e.starts_with("the chat template failed") && !e.contains('\n'),
            "{e}"
        );
        let raising = ChatTemplate::new("{{ raise_exception('only system and user') }}", "", "");
        assert!(raising
            .render_user("x")
            .unwrap_err()
            .contains("only system and user"));
    }
}
