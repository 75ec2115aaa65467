//! Each person's own: following titles (a subscription of the person's
//! private chat, so alerts use the same outbox, variants and streams as
//! chats), their own settings, the note of why alerts stopped, and
//! forgetting everything kept about them.

use tracing::warn;

use super::lookup::Resolved;
use super::{App, CommandError};
use crate::core::announce::{ChatSettings, Subscription, Target};
use crate::core::caller::{Caller, ChatRef};
use crate::core::command::{MeChange, SettingsChange, TitleRef};
use crate::core::reply::{Reply, StartPrivately};
use crate::store::{FORGOTTEN, StoreError, Subscribed};

impl App {
    /// The caller's own settings: those stored for their private chat, or
    /// (the first time) those of the chat they follow from.
    fn personal_settings(
        &self,
        caller: &Caller,
        from: Option<&ChatRef>,
    ) -> Result<ChatSettings, StoreError> {
        let personal = caller.personal_chat();
        if let Some(settings) = self.store().chat_settings_if_set(&personal)? {
            return Ok(settings);
        }
        let mut settings = self.store().chat_settings(from.unwrap_or(&caller.chat()))?;
        settings.is_group = false;
        Ok(settings)
    }

    /// `from`: the chat a deep link came from (see [`Command::Follow`]).
    ///
    /// [`Command::Follow`]: crate::core::command::Command::Follow
    pub(super) fn follow(
        &self,
        caller: &Caller,
        title: &TitleRef,
        from: Option<&str>,
    ) -> Result<Reply, CommandError> {
        let entry = match self.resolve_for(caller, title, |id| format!("/anime follow #{id}"))? {
            Resolved::One(entry) => entry,
            Resolved::Choose(picker) => return Ok(Reply::Picker(picker)),
        };
        let name = entry.display_title().to_owned();
        if !caller.reachable_privately() {
            return Ok(Reply::StartPrivately(StartPrivately {
                text: format!(
                    "To follow {name}, open a private chat with me and press Start: I can only message you there."
                ),
                payload: format!("follow-{}_{}", entry.id, caller.chat_id),
            }));
        }
        let personal = caller.personal_chat();
        let from = from.map(|chat_id| ChatRef {
            platform: caller.platform,
            chat_id: chat_id.to_owned(),
        });
        let settings = self.personal_settings(caller, from.as_ref())?;
        let _writer = self.write_lock();
        self.store().set_chat_settings(&personal, &settings)?;
        let sub = Subscription {
            chat: personal,
            target: Target::Entry(entry.id),
            kind: None,
            genre: None,
            active: true,
            inactive_reason: None,
            mention_role: None,
            created_by: caller.key(),
            created_at: self.now(),
        };
        let outcome = self.store().subscribe(&sub)?;
        self.store().flush()?;
        match outcome {
            Subscribed::AlreadyActive => Err(CommandError::BadInput(format!(
                "You already follow {name}. /anime following lists what you follow."
            ))),
            Subscribed::Added | Subscribed::Reactivated => Ok(Reply::done(
                format!(
                    "You follow {name}: I will message you privately when a new episode is out (times in {}; change with /anime me tz <Area/City>).",
                    settings.tz
                ),
                Some(entry.id),
            )),
        }
    }

    pub(super) fn unfollow(
        &self,
        caller: &Caller,
        title: Option<&TitleRef>,
    ) -> Result<Reply, CommandError> {
        let personal = caller.personal_chat();
        let _writer = self.write_lock();
        let Some(title) = title else {
            let mut stopped = 0;
            for sub in self.store().subscriptions_of(&personal)? {
                if let Target::Entry(_) = sub.target
                    && self.store().unsubscribe(&personal, sub.target)?
                {
                    stopped += 1;
                }
            }
            self.store().flush()?;
            return Ok(Reply::done(
                match stopped {
                    0 => "You follow nothing.".to_owned(),
                    1 => "You no longer follow the one title you followed.".to_owned(),
                    n => format!("You no longer follow any of the {n} titles you followed."),
                },
                None,
            ));
        };
        let (id, name) = match title {
            TitleRef::Id(id) => (
                *id,
                self.entry(*id)
                    .map_or_else(|| format!("#{id}"), |e| e.display_title().to_owned()),
            ),
            TitleRef::Query(_) => {
                match self.resolve(title, |id| format!("/anime unfollow #{id}"), false)? {
                    Resolved::One(entry) => (entry.id, entry.display_title().to_owned()),
                    Resolved::Choose(picker) => return Ok(Reply::Picker(picker)),
                }
            }
        };
        if !self.store().unsubscribe(&personal, Target::Entry(id))? {
            return Err(CommandError::BadInput(format!(
                "You do not follow {name}. /anime following lists what you follow."
            )));
        }
        self.store().flush()?;
        Ok(Reply::done(
            format!("You no longer follow {name}."),
            Some(id),
        ))
    }

    pub(super) fn following(&self, caller: &Caller) -> Result<Reply, CommandError> {
        let settings = self.personal_settings(caller, None)?;
        self.subscription_list(
            &caller.personal_chat(),
            format!(
                "What you follow ({})",
                super::announce::describe_settings(&settings)
            ),
            "You follow nothing yet. /anime follow <title> sends you a private message for each new episode.".into(),
        )
    }

    pub(super) fn me(&self, caller: &Caller, change: MeChange) -> Result<Reply, CommandError> {
        let change = match change {
            MeChange::Forget => return self.forget(caller),
            MeChange::Settings(change) => change,
        };
        let mut settings = self.personal_settings(caller, None)?;
        if change == SettingsChange::Show {
            return Ok(Reply::done(
                format!(
                    "Your settings for private alerts: {}.",
                    super::announce::describe_settings(&settings)
                ),
                None,
            ));
        }
        self.change_setting(&mut settings, change)?;
        let _writer = self.write_lock();
        self.store()
            .set_chat_settings(&caller.personal_chat(), &settings)?;
        self.store().flush()?;
        Ok(Reply::done(
            format!(
                "Saved. Your settings for private alerts: {}.",
                super::announce::describe_settings(&settings)
            ),
            None,
        ))
    }

    /// Deletes everything kept about the caller; the audit log keeps only
    /// that it happened.
    fn forget(&self, caller: &Caller) -> Result<Reply, CommandError> {
        let _writer = self.write_lock();
        let forgotten = self
            .store()
            .forget_person(&caller.personal_chat(), &caller.key())?;
        let record = self.audit_record(
            FORGOTTEN,
            "forget",
            "a person's data was deleted at their request".to_owned(),
            None,
            None,
            None,
        );
        self.commit(crate::store::Change {
            audit: vec![record],
            ..crate::store::Change::default()
        })?;
        Ok(Reply::done(
            format!(
                "Done: I deleted everything I kept about you ({} follow{}, {} rating{}, {} private message record{}, your settings); subscriptions and catalog changes you made no longer name you.",
                forgotten.follows,
                plural(forgotten.follows),
                forgotten.ratings,
                plural(forgotten.ratings),
                forgotten.posts,
                plural(forgotten.posts),
            ),
            None,
        ))
    }

    /// The reply with the note of why posting stopped where the caller
    /// writes, or to the caller privately (once; the note is then gone).
    pub(super) fn with_stopped_notice(&self, caller: &Caller, mut reply: Reply) -> Reply {
        let mut places = vec![(caller.personal_chat(), "your private alerts")];
        if caller.chat() != caller.personal_chat() {
            places.push((caller.chat(), "announcements in this chat"));
        }
        for (chat, whose) in places {
            let Ok(Some(stopped)) = self.store().stopped(&chat) else {
                continue;
            };
            let notice = format!(
                "Note: {whose} stopped on {}: {}. Follow or subscribe again once I can post there.",
                stopped.at.format("%Y-%m-%d"),
                stopped.reason
            );
            if reply.add_notice(&notice)
                && let Err(e) = self.store().clear_stopped(&chat)
            {
                // Told again next time.
                warn!(cause = %e, "cannot clear a stop note");
            }
        }
        reply
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
