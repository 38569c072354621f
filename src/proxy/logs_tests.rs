use super::*;

fn wait_for(path: &std::path::Path, want: &str) -> String {
    for _ in 0..200 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(want) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{want:?} never reached {}", path.display());
}

#[test]
fn lines_are_appended_and_reopen_follows_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    std::fs::write(&a, "old\n").unwrap();
    let targets = LogTargets {
        access: vec![a.display().to_string(), b.display().to_string()],
        error: None,
    };
    let logs = Logs::open(&targets).unwrap();
    logs.line(0, "one".into());
    logs.line(1, "two".into());
    assert_eq!(wait_for(&a, "one"), "old\none\n");
    assert_eq!(wait_for(&b, "two"), "two\n");
    let rotated = dir.path().join("a.log.1");
    std::fs::rename(&a, &rotated).unwrap();
    logs.line(0, "before".into());
    wait_for(&rotated, "before");
    reopen_logs();
    // The reopen is seen after the queued lines; keep writing until a line lands anew.
    let mut n = 0;
    while !a.exists() || !std::fs::read_to_string(&a).unwrap().contains("after") {
        logs.line(0, format!("after {n}"));
        n += 1;
        assert!(n < 200, "reopen never created a new file");
        std::thread::sleep(Duration::from_millis(10));
    }
    let new = std::fs::read_to_string(&a).unwrap();
    assert!(!new.contains("before") && !new.contains("old"), "{new}");
    assert!(std::fs::read_to_string(&rotated)
        .unwrap()
        .contains("before"));
}

#[test]
fn an_unopenable_file_fails_like_nginx() {
    let targets = LogTargets {
        access: vec!["/nonexistent-dir/x.log".into()],
        error: None,
    };
    let e = Logs::open(&targets).unwrap_err();
    assert!(
        e.starts_with("open() \"/nonexistent-dir/x.log\" failed (2: "),
        "{e}"
    );
}
