//! Prompt lookup (Hugging Face's `prompt_lookup_num_tokens`): draft by copying what followed an
//! earlier occurrence of the context's last tokens. No model call.

/// Proposes up to `gamma` tokens: for `n` from `max_n` down to 1, finds the latest earlier
/// occurrence of the context's last `n` tokens that has a continuation, and returns that
/// continuation. Empty when nothing matches.
///
/// Hugging Face takes the *earliest* match; the latest one follows the text's most recent
/// pattern, which is what a repeating list or a recited passage continues with.
pub fn ngram_propose(context: &[u32], max_n: usize, gamma: usize) -> Vec<u32> {
    let len = context.len();
    if gamma == 0 || len < 2 {
        return Vec::new();
    }
    for n in (1..=max_n.min(len - 1)).rev() {
        let tail = &context[len - n..];
        // Start `s` of an earlier occurrence: the match must end before the tail itself does.
        for s in (0..len - n).rev() {
            if &context[s..s + n] == tail {
                let from = s + n;
                let to = (from + gamma).min(len);
                if from < to {
                    return context[from..to].to_vec();
                }
            }
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::ngram_propose;

    #[test]
    fn continues_the_latest_occurrence() {
        // "a b c X ... a b c Y ... a b c" -> the latest earlier "a b c" is followed by Y.
        let ctx = [1, 2, 3, 7, 8, 1, 2, 3, 9, 10, 1, 2, 3];
        assert_eq!(ngram_propose(&ctx, 3, 2), vec![9, 10]);
        assert_eq!(ngram_propose(&ctx, 3, 5), vec![9, 10, 1, 2, 3]);
    }

    #[test]
    fn falls_back_to_shorter_ngrams_and_stops_at_the_context_end() {
        // No earlier "5 3" but an earlier "3": its continuation is proposed.
        let ctx = [3, 4, 5, 3];
        assert_eq!(ngram_propose(&ctx, 2, 4), vec![4, 5, 3]);
        assert_eq!(ngram_propose(&[1, 2], 3, 4), Vec::<u32>::new());
        assert_eq!(ngram_propose(&[1, 2, 3, 4], 2, 4), Vec::<u32>::new());
        assert_eq!(ngram_propose(&[5, 5], 1, 4), vec![5]);
        assert_eq!(ngram_propose(&[5, 6, 5], 3, 0), Vec::<u32>::new());
    }
}
