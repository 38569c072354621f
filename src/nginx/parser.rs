//! nginx's configuration parser: a port of `ngx_conf_parse` and `ngx_conf_include`.
//!
//! Owns: turning files into a tree of [`Directive`]s in nginx's order of work (each statement
//! is dispatched as soon as it is read, so the *first* diagnostic is the one nginx reports),
//! `include` resolution (relative to the conf prefix, `glob(3)` patterns, recursive), the
//! `-g` parameter, and the list of files read (for `-T`). It must not do I/O except through
//! [`ConfFs`], and must not decide what a directive means: it asks `directives` whether a
//! statement may appear, and `semantics` what it checks and which context a block opens.

use std::rc::Rc;

use super::diag::{Diag, FileName};
use super::directives::{self, Context, Terminator};
use super::fs::{self, ConfFs};
use super::lexer::{Lexer, Source, Statement, Word};
use super::semantics::{self, BlockKind, Frame, State};

/// One directive with its arguments, where it was read, and its block if it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    pub name: String,
    pub args: Vec<Word>,
    /// Index into [`Config::files`].
    pub file: usize,
    /// Line of the directive's first word.
    pub line: usize,
    /// The block's directives (an `include` is followed by the directives it brought in).
    pub block: Option<Vec<Directive>>,
}

/// A file read while parsing, with its bytes (what `-T` prints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfFile {
    pub path: String,
    pub content: Rc<[u8]>,
}

/// A parsed and checked configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The main file first, then every included file in the order nginx opened them.
    pub files: Vec<ConfFile>,
    /// The main context's directives (the `-g` ones first, like nginx).
    pub root: Vec<Directive>,
    /// nginx's prefix (`-p`, with a trailing `/`): relative log and file names start here.
    pub prefix: String,
}

/// What nginx derives from `-c`, `-p` and `-g`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Absolute path of the main file.
    pub conf_file: String,
    /// nginx's prefix (`-p`), with a trailing `/`.
    pub prefix: String,
    /// Where relative `include`s are resolved: the main file's directory, with a trailing `/`.
    pub conf_prefix: String,
    /// The `-g` directives, if any.
    pub globals: Option<String>,
}

impl Options {
    /// nginx's `ngx_process_options`: `conf` is made absolute against `prefix` (tollgate: the
    /// current directory when no `-p` is given, where nginx would use its compiled-in
    /// prefix), and the conf prefix is its directory.
    pub fn new(conf: &str, prefix: &str, globals: Option<String>) -> Self {
        let conf_file = full_name(prefix, conf);
        let conf_prefix = match conf_file.rfind('/') {
            Some(i) => conf_file[..=i].to_owned(),
            None => String::new(),
        };
        Options {
            conf_file,
            prefix: prefix.to_owned(),
            conf_prefix,
            globals,
        }
    }
}

/// `ngx_get_full_name`: absolute names are kept, others are appended to `prefix`.
pub fn full_name(prefix: &str, name: &str) -> String {
    if name.starts_with('/') || prefix.is_empty() {
        return name.to_owned();
    }
    if prefix.ends_with('/') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}/{name}")
    }
}

/// Reads, parses and checks a configuration the way `nginx -t` does, stopping at the first
/// `[emerg]` like nginx.
pub fn parse(fs: &dyn ConfFs, opts: &Options) -> Result<Config, Diag> {
    let mut parser = Parser {
        fs,
        opts,
        files: Vec::new(),
        state: State::new(&opts.prefix, &opts.conf_prefix),
        reading: Vec::new(),
        depth: 0,
    };
    let mut frame = Frame::new(Context::Main, BlockKind::Directives);
    if let Some(globals) = &opts.globals {
        let bytes: Rc<[u8]> = Rc::from(globals.as_bytes());
        let mut lexer = Lexer::new(&bytes, Source::Param);
        parser.statements(&mut lexer, None, Mode::Param, &mut frame)?;
    }
    parser.file(&opts.conf_file, &mut frame, 0)?;
    semantics::end_of_config(&parser.state)?;
    Ok(Config {
        files: parser.files,
        root: frame.directives,
        prefix: opts.prefix.clone(),
    })
}

/// nginx's `parse_file` / `parse_block` / `parse_param`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    File,
    Block,
    Param,
}

struct Parser<'a> {
    fs: &'a dyn ConfFs,
    opts: &'a Options,
    files: Vec<ConfFile>,
    state: State,
    /// Files being read, outermost first (an include of one of them is a cycle).
    reading: Vec<String>,
    /// Blocks open right now.
    depth: usize,
}

/// Deepest block nesting tollgate reads. nginx has no limit (its C stack is the limit); a
/// bound keeps a hostile file from overflowing tollgate's stack. Real configs nest a handful.
const MAX_DEPTH: usize = 200;

impl Parser<'_> {
    /// Opens and parses one file into `frame`; `line` is the including statement's line for
    /// the `open()` diagnostic (0 for the main file, which nginx reports without a place).
    fn file(&mut self, path: &str, frame: &mut Frame, line: usize) -> Result<(), Diag> {
        if self.reading.iter().any(|p| p == path) {
            // nginx would recurse until it runs out of file descriptors; say what happened.
            return Err(Diag::at(
                format!("include cycle: \"{path}\" is already being read"),
                line,
            ));
        }
        let content: Rc<[u8]> = match self.fs.read(path) {
            Ok(bytes) => Rc::from(bytes),
            Err(e) if line == 0 => {
                let d = Diag::open_failed(path, &e, 0);
                return Err(Diag::nowhere(d.message));
            }
            Err(e) => return Err(Diag::open_failed(path, &e, line)),
        };
        let index = self.files.len();
        self.files.push(ConfFile {
            path: path.to_owned(),
            content: Rc::clone(&content),
        });
        let outer = std::mem::replace(&mut self.state.current_file, path.to_owned());
        self.reading.push(path.to_owned());
        let mut lexer = Lexer::new(&content, Source::File);
        let result = self.statements(&mut lexer, Some(index), Mode::File, frame);
        self.reading.pop();
        self.state.current_file = outer;
        result
    }

    /// The `ngx_conf_parse` loop over one file's (or block's) statements.
    fn statements(
        &mut self,
        lexer: &mut Lexer<'_>,
        file: Option<usize>,
        mode: Mode,
        frame: &mut Frame,
    ) -> Result<(), Diag> {
        let name = self.file_name(file);
        self.statements_inner(lexer, file, mode, frame)
            .map_err(|d| d.in_file(&name))
    }

    fn file_name(&self, file: Option<usize>) -> FileName {
        match file.and_then(|i| self.files.get(i)) {
            Some(f) => FileName::Path(f.path.clone()),
            None => FileName::CommandLine,
        }
    }

    fn statements_inner(
        &mut self,
        lexer: &mut Lexer<'_>,
        file: Option<usize>,
        mode: Mode,
        frame: &mut Frame,
    ) -> Result<(), Diag> {
        loop {
            let (words, line, term) = match lexer.next_statement()? {
                Statement::End if mode == Mode::Block => {
                    return Err(Diag::at(
                        "unexpected end of file, expecting \"}\"",
                        lexer.line(),
                    ))
                }
                Statement::End => return Ok(()),
                Statement::BlockEnd { line } if mode != Mode::Block => {
                    return Err(Diag::at("unexpected \"}\"", line))
                }
                Statement::BlockEnd { .. } => return Ok(()),
                Statement::Simple { words, line } => (words, line, Terminator::Semicolon),
                Statement::BlockStart { line, .. } if mode == Mode::Param => {
                    return Err(Diag::at(
                        "block directives are not supported in -g option",
                        line,
                    ))
                }
                Statement::BlockStart { words, line } => (words, line, Terminator::Brace),
            };
            self.statement(lexer, file, words, line, term, frame)?;
        }
    }

    /// Dispatches one statement (`ngx_conf_handler`, or a block's own handler).
    fn statement(
        &mut self,
        lexer: &mut Lexer<'_>,
        file: Option<usize>,
        words: Vec<Word>,
        line: usize,
        term: Terminator,
        frame: &mut Frame,
    ) -> Result<(), Diag> {
        let first_line = words.first().map_or(line, |w| w.line);
        let mut d = Directive {
            name: words.first().map(|w| w.text.clone()).unwrap_or_default(),
            args: words.into_iter().skip(1).collect(),
            file: file.unwrap_or(0),
            line: first_line,
            block: None,
        };
        if let BlockKind::Entries(handler) = frame.kind {
            if term == Terminator::Brace {
                return Err(Diag::at("unexpected \"{\"", line));
            }
            if d.name == "include" && handler.takes_include() {
                return self.include(d, line, frame);
            }
            semantics::entry(handler, &d, line, &mut self.state)?;
            frame.directives.push(d);
            return Ok(());
        }
        let cmd = directives::lookup(&d.name, d.args.len(), frame.context, term, line)?;
        if d.name == "include" {
            return self.include(d, line, frame);
        }
        let child = semantics::directive(cmd, &d, line, frame, &mut self.state, self.fs)?;
        if let Some(mut child) = child {
            if self.depth >= MAX_DEPTH {
                return Err(Diag::at(
                    format!("blocks nested more than {MAX_DEPTH} deep"),
                    line,
                ));
            }
            self.depth += 1;
            let inner = self.statements_inner(lexer, file, Mode::Block, &mut child);
            self.depth -= 1;
            inner?;
            semantics::end_block(frame, &d, &child, lexer.line(), &mut self.state, self.fs)?;
            d.block = Some(child.directives);
        }
        frame.directives.push(d);
        Ok(())
    }

    /// `ngx_conf_include`: a file, or a glob whose matches are parsed in sorted order.
    fn include(&mut self, d: Directive, line: usize, frame: &mut Frame) -> Result<(), Diag> {
        let name = d.args.first().map(|w| w.text.clone()).unwrap_or_default();
        let path = full_name(&self.opts.conf_prefix, &name);
        frame.directives.push(d);
        if !fs::is_glob(&path) {
            return self.file(&path, frame, line);
        }
        for matched in fs::glob(self.fs, &path) {
            self.file(&matched, frame, line)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
