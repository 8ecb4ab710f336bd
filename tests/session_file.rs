//! Recorded session files are written atomically, and a truncated or corrupt one gets a
//! one-line error naming the file.

use logitscope::tui::synthetic::demo_session;
use logitscope::tui::RecordedSession;
use tempfile::TempDir;

#[test]
fn save_replaces_the_file_whole_and_leaves_no_temporary() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, "an older file").unwrap();
    let s = demo_session(6, 3);
    s.save(&path).unwrap();
    let back = RecordedSession::load(&path).unwrap();
    assert_eq!(back.prompt, s.prompt);
    let ids = |r: &RecordedSession| r.steps.iter().map(|x| x.token_id).collect::<Vec<_>>();
    assert_eq!(ids(&back), ids(&s));
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["s.json"]);
}

#[test]
fn a_failed_save_keeps_the_old_file() {
    let dir = TempDir::new().unwrap();
    // A directory where the file should be: the rename fails, nothing is half-written.
    let path = dir.path().join("taken");
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("inside"), "kept").unwrap();
    let err = demo_session(3, 1).save(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: ", path.display())), "{err}");
    assert!(!err.contains('\n'), "{err}");
    assert_eq!(
        std::fs::read_to_string(path.join("inside")).unwrap(),
        "kept"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["taken"], "the temporary file was removed");
}

#[test]
fn truncated_or_corrupt_files_get_one_line() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("s.json");
    demo_session(6, 3).save(&path).unwrap();
    let full = std::fs::read(&path).unwrap();
    let mut corrupt = full.clone();
    corrupt[full.len() / 3] = b'}';
    for (what, bytes) in [
        ("half", full[..full.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("corrupt", corrupt),
        ("not JSON", b"\x00\x01binary".to_vec()),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let err = RecordedSession::load(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "{}: not a recorded session (truncated or corrupt): ",
                path.display()
            )),
            "{what}: {err}"
        );
        assert!(!err.contains('\n'), "{what}: {err}");
    }
    let missing = dir.path().join("gone.json");
    let err = RecordedSession::load(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: ", missing.display())),
        "{err}"
    );
}
