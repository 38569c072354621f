//! nginx's configuration lexer: a byte-for-byte port of `ngx_conf_read_token` (nginx 1.22.1,
//! `src/core/ngx_conf_file.c`).
//!
//! Owns: splitting one file's bytes into statements (the words of a directive and what ended
//! it: `;`, `{`, `}` or end of input), quoting, escapes, `#` comments, `${var}` and the lexical
//! diagnostics with the line nginx reports. It must not know directives, contexts or files:
//! the parser gives it bytes and decides what a statement means.

use super::diag::Diag;

/// nginx's `NGX_CONF_BUFFER`: a token (or a comment) longer than this is an error.
const CONF_BUFFER: usize = 4096;

/// One argument of a directive, after unescaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text, unescaped the way nginx does it (`\"`, `\'`, `\\`, `\t`, `\r`, `\n` only).
    pub text: String,
    /// True when the word was written in `'...'` or `"..."`.
    pub quoted: bool,
    /// Line where the word starts.
    pub line: usize,
}

/// What ended a statement; `line` is the line nginx reports for errors about the statement
/// (the line of its terminator, since nginx logs the *current* line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// Words followed by `;`.
    Simple { words: Vec<Word>, line: usize },
    /// Words followed by `{`.
    BlockStart { words: Vec<Word>, line: usize },
    /// A `}` with no words before it.
    BlockEnd { line: usize },
    /// End of input with nothing pending.
    End,
}

/// Where the bytes come from: a file, or the `-g` command-line parameter (nginx's
/// `parse_param`, which words its end-of-input error differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    File,
    Param,
}

/// The lexer over one input; call [`Lexer::next_statement`] until [`Statement::End`].
pub struct Lexer<'a> {
    buf: &'a [u8],
    pos: usize,
    line: usize,
    source: Source,
}

/// The per-token state of `ngx_conf_read_token`, kept together so the loop body stays small.
#[derive(Default)]
struct TokenState {
    need_space: bool,
    last_space: bool,
    sharp_comment: bool,
    variable: bool,
    quoted: bool,
    s_quoted: bool,
    d_quoted: bool,
    start: usize,
    start_line: usize,
}

fn is_space(ch: u8) -> bool {
    matches!(ch, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Lexer<'a> {
    /// A lexer over `buf`, starting at line 1.
    pub fn new(buf: &'a [u8], source: Source) -> Self {
        Lexer {
            buf,
            pos: 0,
            line: 1,
            source,
        }
    }

    /// The current line (what nginx reports for an error raised now).
    pub fn line(&self) -> usize {
        self.line
    }

    /// Reads the next statement, or the first lexical error with nginx's text and line.
    pub fn next_statement(&mut self) -> Result<Statement, Diag> {
        let mut words: Vec<Word> = Vec::new();
        let mut st = TokenState {
            last_space: true,
            start: self.pos,
            start_line: self.line,
            ..TokenState::default()
        };
        loop {
            if self.pos >= self.buf.len() {
                return self.end_of_input(&words, &st);
            }
            if self.pos - st.start >= CONF_BUFFER {
                return Err(self.too_long(&st));
            }
            let ch = self.buf[self.pos];
            self.pos += 1;
            if ch == b'\n' {
                self.line += 1;
                st.sharp_comment = false;
            }
            if st.sharp_comment {
                continue;
            }
            if st.quoted {
                st.quoted = false;
                continue;
            }
            if st.need_space {
                if is_space(ch) {
                    st.last_space = true;
                    st.need_space = false;
                    continue;
                }
                match ch {
                    b';' => {
                        return Ok(Statement::Simple {
                            words,
                            line: self.line,
                        })
                    }
                    b'{' => {
                        return Ok(Statement::BlockStart {
                            words,
                            line: self.line,
                        })
                    }
                    b')' => {
                        st.last_space = true;
                        st.need_space = false;
                    }
                    _ => return Err(self.unexpected(ch)),
                }
            }
            if st.last_space {
                if let Some(done) = self.token_start(ch, &mut words, &mut st)? {
                    return Ok(done);
                }
                continue;
            }
            if let Some(done) = self.token_char(ch, &mut words, &mut st) {
                return Ok(done);
            }
        }
    }

    /// Handles a byte read between tokens (nginx's `last_space` branch).
    fn token_start(
        &mut self,
        ch: u8,
        words: &mut Vec<Word>,
        st: &mut TokenState,
    ) -> Result<Option<Statement>, Diag> {
        st.start = self.pos - 1;
        st.start_line = self.line;
        if is_space(ch) {
            return Ok(None);
        }
        match ch {
            b';' | b'{' => {
                if words.is_empty() {
                    return Err(self.unexpected(ch));
                }
                let words = std::mem::take(words);
                let line = self.line;
                return Ok(Some(if ch == b'{' {
                    Statement::BlockStart { words, line }
                } else {
                    Statement::Simple { words, line }
                }));
            }
            b'}' => {
                if !words.is_empty() {
                    return Err(self.unexpected(b'}'));
                }
                return Ok(Some(Statement::BlockEnd { line: self.line }));
            }
            b'#' => st.sharp_comment = true,
            b'\\' => {
                st.quoted = true;
                st.last_space = false;
            }
            b'"' => {
                st.start += 1;
                st.d_quoted = true;
                st.last_space = false;
            }
            b'\'' => {
                st.start += 1;
                st.s_quoted = true;
                st.last_space = false;
            }
            b'$' => {
                st.variable = true;
                st.last_space = false;
            }
            _ => st.last_space = false,
        }
        Ok(None)
    }

    /// Handles a byte inside a token; returns a statement when the token ended one.
    fn token_char(
        &mut self,
        ch: u8,
        words: &mut Vec<Word>,
        st: &mut TokenState,
    ) -> Option<Statement> {
        if ch == b'{' && st.variable {
            return None;
        }
        st.variable = false;
        if ch == b'\\' {
            st.quoted = true;
            return None;
        }
        if ch == b'$' {
            st.variable = true;
            return None;
        }
        let found = if st.d_quoted {
            if ch == b'"' {
                st.d_quoted = false;
                st.need_space = true;
                true
            } else {
                false
            }
        } else if st.s_quoted {
            if ch == b'\'' {
                st.s_quoted = false;
                st.need_space = true;
                true
            } else {
                false
            }
        } else if is_space(ch) || ch == b';' || ch == b'{' {
            st.last_space = true;
            true
        } else {
            false
        };
        if !found {
            return None;
        }
        let quoted = st.need_space;
        words.push(Word {
            text: unescape(&self.buf[st.start..self.pos - 1]),
            quoted,
            line: st.start_line,
        });
        let line = self.line;
        match ch {
            b';' if !quoted => Some(Statement::Simple {
                words: std::mem::take(words),
                line,
            }),
            b'{' if !quoted => Some(Statement::BlockStart {
                words: std::mem::take(words),
                line,
            }),
            _ => None,
        }
    }

    fn end_of_input(&self, words: &[Word], st: &TokenState) -> Result<Statement, Diag> {
        if words.is_empty() && st.last_space {
            return Ok(Statement::End);
        }
        let msg = match self.source {
            Source::Param => "unexpected end of parameter, expecting \";\"",
            Source::File => "unexpected end of file, expecting \";\" or \"}\"",
        };
        Err(Diag::at(msg, self.line))
    }

    fn too_long(&self, st: &TokenState) -> Diag {
        let msg = if st.d_quoted || st.s_quoted {
            let q = if st.d_quoted { '"' } else { '\'' };
            format!("too long parameter, probably missing terminating \"{q}\" character")
        } else {
            let head = &self.buf[st.start..(st.start + 10).min(self.buf.len())];
            format!(
                "too long parameter \"{}...\" started",
                String::from_utf8_lossy(head)
            )
        };
        Diag::at(msg, st.start_line)
    }

    fn unexpected(&self, ch: u8) -> Diag {
        Diag::at(format!("unexpected \"{}\"", char::from(ch)), self.line)
    }
}

/// Materialises a token the way nginx does: only `\"`, `\'`, `\\` lose their backslash and
/// `\t`, `\r`, `\n` become control characters; every other `\x` is kept verbatim (regexes
/// such as `\.` rely on it).
fn unescape(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            match raw.get(i + 1) {
                Some(b'"' | b'\'' | b'\\') => i += 1,
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                _ => {}
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
