//! The wrapper on a toy vocabulary: masks, completion, incremental and rebuilt matchers.

use super::*;

/// Ids 0..=9: "0".."9"; 10: "12"; 11: "a"; 12: "ab"; 13: EOS; 14: "\"", 15: "{", 16: "}",
/// 17: ":", 18: "x"; 19: empty.
fn space() -> TokenSpace {
    let words: Vec<Vec<u8>> = (0..10)
        .map(|d| format!("{d}").into_bytes())
        .chain(
            ["12", "a", "ab", "</s>", "\"", "{", "}", ":", "x", ""]
                .iter()
                .map(|s| s.as_bytes().to_vec()),
        )
        .collect();
    TokenSpace::new(words.len(), |id| &words[id as usize], &[13], |_| false).unwrap()
}

fn regex(src: &str) -> GrammarSpec {
    GrammarSpec::new(GrammarKind::Regex, src)
}

#[test]
fn regex_mask_allows_exactly_the_matching_tokens() {
    let s = space();
    let c = Arc::new(Constraint::new(&regex("[0-9]{2}"), &s).unwrap());
    let mut m = c.matcher();
    let first = m.mask(&[]);
    assert_eq!(first.allowed_ids(), (0..=10).collect::<Vec<u32>>());
    assert!(!first.complete);
    let second = m.mask(&[1]);
    assert_eq!(second.allowed_ids(), (0..=9).collect::<Vec<u32>>());
    // "12" completes it: only EOS.
    let done = m.mask(&[10]);
    assert!(done.complete);
    assert_eq!(done.allowed_ids(), vec![13]);
}

#[test]
fn accepting_but_extendable_allows_eos_among_others() {
    let s = space();
    let c = Arc::new(Constraint::new(&regex("a[0-9]?"), &s).unwrap());
    let mut m = c.matcher();
    let after_a = m.mask(&[11]);
    assert!(!after_a.complete);
    let mut want: Vec<u32> = (0..=9).collect();
    want.push(13);
    assert_eq!(after_a.allowed_ids(), want);
    // No token extends "ab" (there is no "b"): only EOS, and that is complete.
    let c = Arc::new(Constraint::new(&regex("a|ab"), &s).unwrap());
    let only_eos = c.matcher().mask(&[11]);
    assert!(only_eos.complete);
    assert_eq!(only_eos.allowed_ids(), vec![13]);
}

#[test]
fn a_branch_rebuilds_and_an_extension_advances() {
    let s = space();
    let c = Arc::new(Constraint::new(&regex("[0-9]+x"), &s).unwrap());
    let mut m = c.matcher();
    m.mask(&[1, 2]);
    assert_eq!(m.consumed, vec![1, 2]);
    // Extension: consumes only the new token.
    let a = m.mask(&[1, 2, 3]);
    assert_eq!(m.consumed, vec![1, 2, 3]);
    // Branch: another history, rebuilt; the same as a fresh matcher's.
    let b = m.mask(&[4, 18]);
    let fresh = c.matcher().mask(&[4, 18]);
    assert_eq!(b, fresh);
    assert!(b.complete);
    assert!(a.allows(18) && !a.complete);
}

#[test]
fn a_forbidden_token_in_the_history_leaves_nothing_allowed() {
    let s = space();
    let c = Arc::new(Constraint::new(&regex("[0-9]+"), &s).unwrap());
    let m = c.matcher().mask(&[11]);
    assert_eq!(m.allowed_count(), 0);
    assert!(m.reason.as_deref().unwrap().contains("token 11"), "{m:?}");
}

#[test]
fn json_schema_and_lark_compile_and_mask() {
    let s = space();
    let schema = GrammarSpec::new(
        GrammarKind::JsonSchema,
        r#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}"#,
    );
    let c = Arc::new(Constraint::new(&schema, &s).unwrap());
    let mut m = c.matcher();
    assert!(m.mask(&[]).allows(15));
    // {"a":1}
    let done = m.mask(&[15, 14, 11, 14, 17, 1, 16]);
    assert!(done.complete, "{:?}", done.allowed_ids());
    let lark = GrammarSpec::new(GrammarKind::Lark, "start: \"a\" NUM\nNUM: /[0-9]/");
    let c = Arc::new(Constraint::new(&lark, &s).unwrap());
    let mut m = c.matcher();
    assert_eq!(m.mask(&[]).allowed_ids(), vec![11]);
    assert!(m.mask(&[11, 7]).complete);
}

#[test]
fn bad_specs_are_one_line_errors_naming_the_flag() {
    for (kind, src, flag) in [
        (GrammarKind::Regex, "[0-9", "--regex"),
        (GrammarKind::JsonSchema, "{\"type\": 3}", "--json-schema"),
        (GrammarKind::JsonSchema, "not json", "--json-schema"),
        (GrammarKind::Lark, "start: undefined_rule", "--grammar"),
    ] {
        let e = check(&GrammarSpec::new(kind, src)).unwrap_err();
        assert!(e.starts_with(flag), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }
    check(&regex("[a-z]+")).unwrap();
}

#[test]
fn the_constrainer_recompiles_when_the_spec_changes() {
    let k = Constrainer::default();
    let digits = k.mask(&regex("[0-9]"), || Ok(space()), &[]).unwrap();
    assert!(digits.allows(3) && !digits.allows(11));
    let letters = k
        .mask(&regex("a"), || panic!("the space is built once"), &[])
        .unwrap();
    assert_eq!(letters.allowed_ids(), vec![11]);
}

#[test]
fn eos_needs_to_be_in_the_vocabulary() {
    let words = [b"a".to_vec()];
    let e = TokenSpace::new(1, |i| &words[i as usize], &[5], |_| false)
        .err()
        .unwrap();
    assert!(e.contains("end-of-sequence"), "{e}");
}
