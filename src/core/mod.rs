//! The platform-neutral domain: what Rouge knows and decides, with no I/O
//! and nothing outside `core` imported. The store, the importers, the app
//! and the adapters build on it; it never names a chat platform's crate.

pub mod announce;
pub mod caller;
pub mod catalog;
pub mod clock;
pub mod command;
pub mod metrics;
pub mod platform;
pub mod reply;
pub mod source;
