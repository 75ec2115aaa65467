//! Any Discord interaction body: decoding it and turning a slash command
//! into a core command never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rouge::adapters::discord;
use serenity::all::Interaction;

fuzz_target!(|data: &[u8]| {
    let Ok(interaction) = serde_json::from_slice::<Interaction>(data) else { return };
    if let Interaction::Command(command_interaction) = interaction {
        let _ = discord::slash_command(&command_interaction.data.name, &command_interaction.data.options);
    }
});
