//! Any chat line: the parser answers a command or an error, never panics,
//! and the console renders whatever the core replies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rouge::core::command;

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    let _ = command::parse(&line);
    let _ = command::parse(&format!("/anime {line}"));
    let _ = command::parse(&format!("/anime admin edit #1 {line}"));
    let _ = rouge::core::catalog::text::fold(&line);
});
