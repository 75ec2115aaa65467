//! Adapters connect the core to the outside world; each one only converts
//! input into core commands and renders core replies.

pub mod console;
#[cfg(feature = "discord")]
pub mod discord;
pub mod http;
#[cfg(feature = "telegram")]
pub mod telegram;
pub mod text;
