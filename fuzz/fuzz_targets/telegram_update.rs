//! Any Telegram update body: decoding it, and parsing the command line its
//! text carries, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rouge::core::command;

fuzz_target!(|data: &[u8]| {
    let Ok(update) = serde_json::from_slice::<teloxide::types::Update>(data) else { return };
    if let teloxide::types::UpdateKind::Message(message) = update.kind {
        if let Some(text) = message.text() {
            let _ = command::parse(text);
        }
    }
});
