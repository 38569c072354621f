//! Lexer cases from nginx's own behaviour (verified against nginx 1.22.1 `-t`).

use super::*;
use crate::nginx::diag::Location;

fn statements(src: &str) -> Result<Vec<Statement>, Diag> {
    let mut lx = Lexer::new(src.as_bytes(), Source::File);
    let mut out = Vec::new();
    loop {
        let s = lx.next_statement()?;
        if s == Statement::End {
            return Ok(out);
        }
        out.push(s);
    }
}

fn words(src: &str) -> Vec<Vec<String>> {
    statements(src)
        .unwrap()
        .into_iter()
        .map(|s| match s {
            Statement::Simple { words, .. } | Statement::BlockStart { words, .. } => {
                words.into_iter().map(|w| w.text).collect()
            }
            Statement::BlockEnd { .. } => vec!["}".to_owned()],
            Statement::End => vec![],
        })
        .collect()
}

fn error(src: &str) -> (String, usize) {
    let d = statements(src).unwrap_err();
    match d.location {
        Location::Line(l) => (d.message, l),
        other => panic!("{other:?}"),
    }
}

#[test]
fn splits_directives_blocks_and_comments() {
    assert_eq!(
        words("a b;\nc {\n d; # x ; {\n}\n"),
        vec![vec!["a", "b"], vec!["c"], vec!["d"], vec!["}"]]
    );
    // `#` starts a comment only at the start of a token.
    assert_eq!(words("a b#c;"), vec![vec!["a", "b#c"]]);
    // Comments may sit between the arguments of one directive.
    assert_eq!(
        words("log_format x\n # c\n 'a';"),
        vec![vec!["log_format", "x", "a"]]
    );
}

#[test]
fn quotes_and_escapes_follow_nginx() {
    assert_eq!(
        words(r#"a "b c" 'd;e' "";"#),
        vec![vec!["a", "b c", "d;e", ""]]
    );
    // Quotes count only at a token's start.
    assert_eq!(words(r#"a ab"c";"#), vec![vec!["a", "ab\"c\""]]);
    // Only \" \' \\ \t \r \n are unescaped; other escapes stay verbatim.
    assert_eq!(
        words(r#"a "x\"y" \.z \\ "t\tn";"#),
        vec![vec!["a", "x\"y", "\\.z", "\\", "t\tn"]]
    );
    assert_eq!(
        words("location /\\{\\;\\}\\ #\\ ab {}"),
        vec![vec!["location", "/\\{\\;\\}\\ #\\ ab"], vec!["}"]]
    );
    // A quoted string may span lines.
    assert_eq!(words("a \"x\ny\";"), vec![vec!["a", "x\ny"]]);
    // `(` `)` around if conditions.
    assert_eq!(
        words("if ($a = \"b\") {}"),
        vec![vec!["if", "($a", "=", "b", ")"], vec!["}"]]
    );
}

#[test]
fn variables_keep_braces() {
    assert_eq!(
        words("a /x/${uri}.html;"),
        vec![vec!["a", "/x/${uri}.html"]]
    );
    // Without `$`, `{` ends the token and opens a block.
    assert_eq!(words("a b{}"), vec![vec!["a", "b"], vec!["}"]]);
}

#[test]
fn lexical_errors_carry_nginx_text_and_line() {
    assert_eq!(error("a;\n;"), ("unexpected \";\"".to_owned(), 2));
    assert_eq!(error("{"), ("unexpected \"{\"".to_owned(), 1));
    assert_eq!(error("a {\n b\n}"), ("unexpected \"}\"".to_owned(), 3));
    assert_eq!(error("a \"b\"c;"), ("unexpected \"c\"".to_owned(), 1));
    assert_eq!(
        error("a b"),
        (
            "unexpected end of file, expecting \";\" or \"}\"".to_owned(),
            1
        )
    );
    assert_eq!(
        error("a \"b\n\n"),
        (
            "unexpected end of file, expecting \";\" or \"}\"".to_owned(),
            3
        )
    );
    let long = format!("a {};", "x".repeat(5000));
    assert_eq!(
        error(&long),
        ("too long parameter \"xxxxxxxxxx...\" started".to_owned(), 1)
    );
    let unterminated = format!("a \"{}", "x".repeat(5000));
    assert_eq!(
        error(&unterminated),
        (
            "too long parameter, probably missing terminating \"\"\" character".to_owned(),
            1
        )
    );
}

#[test]
fn reports_the_terminator_line() {
    let s = statements("a\n b\n ;").unwrap();
    assert!(matches!(&s[0], Statement::Simple { line: 3, words } if words[1].line == 2));
}

#[test]
fn param_source_words_end_of_input_differently() {
    let mut lx = Lexer::new(b"pid x", Source::Param);
    let d = lx.next_statement().unwrap_err();
    assert_eq!(d.message, "unexpected end of parameter, expecting \";\"");
}
