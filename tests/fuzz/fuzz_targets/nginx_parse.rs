//! Fuzzes the nginx lexer and parser: any bytes, as a main file that may include itself or a
//! second in-memory file, must give a `Config` or a diagnostic, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::nginx::{parse, MemFs, Options};

fuzz_target!(|data: &[u8]| {
    // The first byte splits the input into the main file and an included one.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let (main, included) = rest.split_at(at);
    let mut fs = MemFs::new();
    fs.add("/f/nginx.conf", main);
    fs.add("/f/inc.conf", included);
    fs.add("/f/conf.d/a.conf", included);
    let _ = parse(&fs, &Options::new("/f/nginx.conf", "/f/", None));
});
