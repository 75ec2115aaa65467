//! How announcement jobs end: posted ([`Delivered`]), given up on
//! ([`DeadLetter`]), and what a platform answered a send with
//! ([`SendOutcome`]), through the [`Notifier`] port each platform implements.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::release::Announcement;
use crate::core::caller::{ChatRef, Platform};
use crate::core::catalog::model::EntryId;

/// A job that was posted: what it was, and the platform's message id. The
/// announcement itself is not kept (it was posted).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub entry: EntryId,
    pub episode: u32,
    pub variant: String,
    pub chat: ChatRef,
    pub message_id: String,
    pub at: DateTime<Utc>,
}

/// Why a job ended without a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadKind {
    /// Gave up after the configured number of attempts.
    Failed,
    /// The bot may not post there any more (removed, chat gone).
    Forbidden,
    /// It came due longer ago than the catch-up window (the bot was down).
    Expired,
    /// The entry was deleted before it was sent.
    Withdrawn,
}

/// A job that ended without a post.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub entry: EntryId,
    pub episode: u32,
    pub variant: String,
    pub chat: ChatRef,
    /// Send attempts made before it ended.
    pub attempts: u32,
    pub kind: DeadKind,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// How a send went, as a notifier reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Posted; the platform's message id.
    Delivered { message_id: String },
    /// Rate-limited: try again after this long. `global` when the whole bot
    /// is limited rather than this chat.
    RetryAfter { after: Duration, global: bool },
    /// A server or network error: back off and retry.
    Transient(String),
    /// The bot may not post to this chat (403, chat not found).
    Forbidden(String),
    /// The platform refused this message itself (a 400 for its content):
    /// retrying cannot help, so it is dead-lettered at once.
    Rejected(String),
    /// The chat moved (Telegram's `migrate_to_chat_id`): resend there.
    Migrated { to_chat_id: String },
}

/// A platform's way of posting announcements. Implemented by each adapter
/// and by recording fakes in tests.
pub trait Notifier: Send + Sync + 'static {
    fn platform(&self) -> Platform;
    fn send(
        &self,
        chat: &ChatRef,
        announcement: &Announcement,
    ) -> impl Future<Output = SendOutcome> + Send;
}
