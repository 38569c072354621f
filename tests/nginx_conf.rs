//! Differential test of `tollgate -t` / `-T` against the real nginx (Debian's 1.22.1 at
//! /usr/sbin/nginx, installed by `make test`).
//!
//! Every case under `tests/nginx/corpus/ok` and `tests/nginx/corpus/broken` (a `NAME.conf`,
//! or a `NAME/` directory whose main file is `nginx.conf`) is copied with the shared test
//! certificates (`certs/`) into a fresh directory, then both programs test it with the same
//! `-p DIR/ -c DIR/nginx.conf`. They must agree on the verdict, on the first `[emerg]` message
//! with its file and line (program name, timestamps and the directory normalised), and for
//! valid configs on the `-T` dump byte for byte. `ok/` cases must pass and `broken/` ones fail,
//! so a corpus file that stops testing what its folder says is caught too.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{repo_root, TOLLGATE};

const NGINX: &str = "/usr/sbin/nginx";

/// One corpus case: its name, where it lives, and whether nginx should accept it.
struct Case {
    name: String,
    source: PathBuf,
    valid: bool,
}

/// What one program said about one case, normalised for comparison.
#[derive(Debug, PartialEq, Eq)]
struct Verdict {
    ok: bool,
    first_emerg: Option<String>,
    last_line: String,
}

fn cases() -> Vec<Case> {
    let root = repo_root().join("tests/nginx/corpus");
    let mut out = Vec::new();
    for (dir, valid) in [("ok", true), ("broken", false)] {
        let mut entries: Vec<PathBuf> = fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("read {dir}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for source in entries {
            let name = format!("{dir}/{}", source.file_name().unwrap().to_string_lossy());
            out.push(Case {
                name,
                source,
                valid,
            });
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Lays a case out in a fresh directory; returns (directory, main file).
fn materialise(case: &Case) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/nginx/corpus/certs"),
        &dir.path().join("certs"),
    );
    if case.source.is_dir() {
        copy_dir(&case.source, dir.path());
    } else {
        fs::copy(&case.source, dir.path().join("nginx.conf")).unwrap();
    }
    let main = format!("{}/nginx.conf", dir.path().display());
    (dir, main)
}

fn run(program: &str, dump: bool, dir: &Path, main: &str) -> Output {
    let prefix = format!("{}/", dir.display());
    let flag = if dump { "-T" } else { "-t" };
    Command::new(program)
        .args([flag, "-p", &prefix, "-c", main])
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

/// Strips what differs by design: nginx's timestamp and pid (`2026/11/22 01:44:21 [emerg]
/// 29241#29241: `), the program name, and the temporary directory.
fn normalise_line(line: &str, dir: &Path) -> String {
    let mut s = line.replace(&dir.display().to_string(), "$DIR");
    if let Some(rest) = s
        .strip_prefix("nginx: ")
        .or_else(|| s.strip_prefix("tollgate: "))
    {
        s = rest.to_owned();
    }
    let bytes = s.as_bytes();
    if bytes.len() > 20 && bytes[4] == b'/' && bytes[7] == b'/' && bytes[13] == b':' {
        // "YYYY/MM/DD HH:MM:SS [level] PID#TID: message"
        if let (Some(lb), Some(colon)) = (s.find('['), s.find("#")) {
            let level_end = s[lb..].find(']').map(|i| lb + i + 1).unwrap_or(lb);
            let msg_start = s[colon..]
                .find(": ")
                .map(|i| colon + i + 2)
                .unwrap_or(colon);
            s = format!("{} {}", &s[lb..level_end], &s[msg_start..]);
        }
    }
    s
}

fn verdict(out: &Output, dir: &Path) -> Verdict {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<String> = stderr.lines().map(|l| normalise_line(l, dir)).collect();
    Verdict {
        ok: out.status.success(),
        first_emerg: lines.iter().find(|l| l.starts_with("[emerg]")).cloned(),
        last_line: lines.last().cloned().unwrap_or_default(),
    }
}

fn show(out: &Output) -> String {
    format!(
        "status {}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Compares one case; returns a description of every disagreement.
fn compare(case: &Case) -> Vec<String> {
    let (dir, main) = materialise(case);
    let nginx = run(NGINX, false, dir.path(), &main);
    let ours = run(TOLLGATE, false, dir.path(), &main);
    let (n, t) = (verdict(&nginx, dir.path()), verdict(&ours, dir.path()));
    let mut problems = Vec::new();
    if n.ok != case.valid {
        problems.push(format!(
            "{}: nginx says ok={} but the case is filed as valid={}\n{}",
            case.name,
            n.ok,
            case.valid,
            show(&nginx)
        ));
    }
    if n != t {
        problems.push(format!(
            "{}: verdicts differ\n  nginx:    {n:?}\n  tollgate: {t:?}",
            case.name
        ));
    }
    if n.ok && t.ok {
        let nd = run(NGINX, true, dir.path(), &main);
        let td = run(TOLLGATE, true, dir.path(), &main);
        if nd.stdout != td.stdout {
            problems.push(format!(
                "{}: -T dumps differ\n--- nginx ---\n{}\n--- tollgate ---\n{}",
                case.name,
                String::from_utf8_lossy(&nd.stdout),
                String::from_utf8_lossy(&td.stdout)
            ));
        }
    }
    problems
}

#[test]
fn tollgate_t_agrees_with_nginx_t_on_the_corpus() {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} is missing: the nginx differential test needs Debian's nginx \
         (`make test` installs it, or `apt-get install nginx`)"
    );
    let cases = cases();
    let valid = cases.iter().filter(|c| c.valid).count();
    let broken = cases.len() - valid;
    assert!(
        valid >= 20 && broken >= 20,
        "corpus too small: {valid} ok, {broken} broken"
    );
    let mut problems = Vec::new();
    for case in &cases {
        problems.extend(compare(case));
    }
    assert!(
        problems.is_empty(),
        "{} of {} cases disagree:\n\n{}",
        problems.len(),
        cases.len(),
        problems.join("\n\n")
    );
    eprintln!("nginx and tollgate agree on {valid} valid and {broken} broken configs");
}
