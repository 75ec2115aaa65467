//! Any Discord interaction body: decoding it, turning a slash command into
//! a command line and parsing that line never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rouge::adapters::discord;
use rouge::core::command;
use serenity::all::Interaction;

fuzz_target!(|data: &[u8]| {
    let Ok(interaction) = serde_json::from_slice::<Interaction>(data) else { return };
    if let Interaction::Command(command_interaction) = interaction {
        if let Some(line) = discord::command_line(&command_interaction.data.name, &command_interaction.data.options) {
            let _ = command::parse(&line);
        }
    }
});
