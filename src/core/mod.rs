//! The platform-neutral core: commands in, replies out.

pub mod admin;
pub mod announce;
pub mod app;
pub mod caller;
pub mod catalog;
pub mod clock;
pub mod command;
pub mod demo;
pub mod dispatch;
pub mod metrics;
pub mod model;
pub mod reply;
pub mod schedule;
pub mod scores;
pub mod search;
pub mod text;
