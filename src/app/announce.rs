//! The announcement side of [`App`]: subscriptions, chat settings, the airing
//! view, release events (admin episodes, broadcast schedules, imports) and
//! the deliveries view.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::{App, CommandError, Resolved};
use crate::core::announce::projection::{Airing, Projection};
use crate::core::announce::schedule;
use crate::core::announce::{self, ChatSettings, Job, ReleaseEvent, Subscription, Target, Variant};
use crate::core::caller::{Caller, ChatRef};
use crate::core::catalog::model::{Entry, Release, Unit};
use crate::core::command::{EpisodeInput, SettingsChange, SubTarget, TitleRef};
use crate::core::reply::{ListItem, ListView, Reply, episode_words};
use crate::store::{Change, StoreError, Subscribed};

/// `tv` and the streaming sites bangumi-data gives schedules for (its
/// "onair" sites).
const STREAMS: &[&str] = &[
    "tv",
    "abema",
    "acfun",
    "ani_one",
    "ani_one_asia",
    "bilibili",
    "bilibili_hk_mo",
    "bilibili_hk_mo_tw",
    "bilibili_tw",
    "crunchyroll",
    "danime",
    "disneyplus",
    "gamer",
    "gamer_hk",
    "iqiyi",
    "letv",
    "mgtv",
    "muse_hk",
    "muse_tw",
    "mytv",
    "netflix",
    "nicovideo",
    "prime",
    "qq",
    "tropics",
    "unext",
    "viu",
    "youku",
    "youtube",
];

/// Languages anime is commonly dubbed into, so a chat can ask for one
/// before the catalog has a release in it.
const DUB_LANGUAGES: &[&str] = &[
    "arabic",
    "bengali",
    "cantonese",
    "chinese",
    "dutch",
    "english",
    "filipino",
    "french",
    "german",
    "hindi",
    "indonesian",
    "italian",
    "japanese",
    "kannada",
    "korean",
    "malay",
    "malayalam",
    "mandarin",
    "marathi",
    "polish",
    "portuguese",
    "russian",
    "spanish",
    "swedish",
    "tagalog",
    "tamil",
    "telugu",
    "thai",
    "turkish",
    "ukrainian",
    "urdu",
    "vietnamese",
];

/// Most lines `/anime airing` lists.
const AIRING_LINES: usize = 25;
/// Broadcasts further back than this are not replayed after a long downtime.
const SCHEDULE_LOOKBACK_DAYS: i64 = 60;

impl App {
    pub(super) fn require_chat_admin(&self, caller: &Caller) -> Result<(), CommandError> {
        if caller.is_chat_admin || self.is_owner(caller) {
            Ok(())
        } else {
            Err(CommandError::NotChatAdmin)
        }
    }

    fn chat_zone(settings: &ChatSettings) -> Tz {
        schedule::time_zone(&settings.tz).unwrap_or(Tz::UTC)
    }

    /// The chat's settings, remembering whether it is a group.
    fn settings_for(&self, caller: &Caller) -> Result<ChatSettings, StoreError> {
        let chat = caller.chat();
        let mut settings = self.store().chat_settings(&chat)?;
        if settings.is_group != caller.is_group {
            settings.is_group = caller.is_group;
            self.store().set_chat_settings(&chat, &settings)?;
        }
        Ok(settings)
    }

    pub(super) fn subscribe(
        &self,
        caller: &Caller,
        target: SubTarget,
        mention_role: Option<String>,
    ) -> Result<Reply, CommandError> {
        let settings = self.settings_for(caller)?;
        let (target, kind, genre, name) = match target {
            SubTarget::Title(title) => {
                match self.resolve_for(caller, &title, |id| format!("/anime subscribe #{id}"))? {
                    Resolved::One(entry) => (
                        Target::Entry(entry.id),
                        None,
                        None,
                        entry.display_title().to_owned(),
                    ),
                    Resolved::Choose(picker) => return Ok(Reply::Picker(picker)),
                }
            }
            SubTarget::All { kind, genre } => {
                let name = all_name(kind.map(|k| k.label()), genre.as_deref());
                (Target::All, kind, genre, name)
            }
        };
        let sub = Subscription {
            chat: caller.chat(),
            target,
            kind,
            genre,
            active: true,
            inactive_reason: None,
            mention_role,
            created_by: caller.key(),
            created_at: self.now(),
        };
        let text = match self.store().subscribe(&sub)? {
            Subscribed::AlreadyActive => {
                return Err(CommandError::BadInput(format!(
                    "This chat is already subscribed to {name}."
                )));
            }
            Subscribed::Added | Subscribed::Reactivated => format!(
                "Subscribed this chat to {name}. New episodes will be announced here (times in {}; change with /anime settings tz <Area/City>).",
                settings.tz
            ),
        };
        self.store().flush()?;
        Ok(Reply::done(
            text,
            match target {
                Target::Entry(id) => Some(id),
                Target::All => None,
            },
        ))
    }

    pub(super) fn unsubscribe(
        &self,
        caller: &Caller,
        target: SubTarget,
    ) -> Result<Reply, CommandError> {
        let (target, name) = match target {
            SubTarget::Title(title) => {
                let entry = match title {
                    TitleRef::Id(id) => id,
                    TitleRef::Query(_) => match self.resolve(
                        &title,
                        |id| format!("/anime unsubscribe #{id}"),
                        false,
                    )? {
                        Resolved::One(entry) => entry.id,
                        Resolved::Choose(picker) => return Ok(Reply::Picker(picker)),
                    },
                };
                let name = self
                    .entry(entry)
                    .map_or_else(|| format!("#{entry}"), |e| e.display_title().to_owned());
                (Target::Entry(entry), name)
            }
            SubTarget::All { .. } => (Target::All, "everything".to_owned()),
        };
        if !self.store().unsubscribe(&caller.chat(), target)? {
            return Err(CommandError::BadInput(format!(
                "This chat is not subscribed to {name}. /anime subscriptions lists what it is subscribed to."
            )));
        }
        self.store().flush()?;
        Ok(Reply::done(
            format!("This chat will no longer get announcements for {name}."),
            None,
        ))
    }

    pub(super) fn subscriptions(&self, caller: &Caller) -> Result<Reply, CommandError> {
        let settings = self.store().chat_settings(&caller.chat())?;
        self.subscription_list(
            &caller.chat(),
            format!("Subscriptions of this chat ({})", describe_settings(&settings)),
            "This chat has no subscriptions. A chat admin can add one with /anime subscribe <title>.".into(),
        )
    }

    /// A chat's subscriptions as a list (a person's follows are theirs).
    pub(super) fn subscription_list(
        &self,
        chat: &ChatRef,
        heading: String,
        empty: String,
    ) -> Result<Reply, CommandError> {
        let items = self
            .store()
            .subscriptions_of(chat)?
            .into_iter()
            .map(|sub| {
                let (id, text) = match sub.target {
                    Target::Entry(id) => (
                        Some(id),
                        self.entry(id).map_or_else(
                            || format!("#{id} (deleted)"),
                            |e| e.display_title().to_owned(),
                        ),
                    ),
                    Target::All => (
                        None,
                        all_name(sub.kind.map(|k| k.label()), sub.genre.as_deref()),
                    ),
                };
                let mut detail = match (&sub.active, &sub.inactive_reason) {
                    (true, _) => format!("since {}", sub.created_at.format("%Y-%m-%d")),
                    (false, reason) => {
                        format!("inactive: {}", reason.as_deref().unwrap_or("stopped"))
                    }
                };
                if let Some(role) = &sub.mention_role {
                    detail.push_str(&format!(", mentions role {role}"));
                }
                ListItem {
                    id,
                    text,
                    detail,
                    at: None,
                }
            })
            .collect();
        Ok(Reply::List(ListView {
            note: None,
            previous: None,
            next: None,
            heading,
            items,
            empty,
        }))
    }

    pub(super) fn settings(
        &self,
        caller: &Caller,
        change: SettingsChange,
    ) -> Result<Reply, CommandError> {
        let mut settings = self.settings_for(caller)?;
        if change == SettingsChange::Show {
            return Ok(Reply::done(
                format!("This chat's settings: {}.", describe_settings(&settings)),
                None,
            ));
        }
        self.require_chat_admin(caller)?;
        self.change_setting(&mut settings, change)?;
        self.store().set_chat_settings(&caller.chat(), &settings)?;
        self.store().flush()?;
        Ok(Reply::done(
            format!(
                "Saved. This chat's settings: {}.",
                describe_settings(&settings)
            ),
            None,
        ))
    }

    /// Applies one checked change to a chat's (or a person's) settings.
    pub(super) fn change_setting(
        &self,
        settings: &mut ChatSettings,
        change: SettingsChange,
    ) -> Result<(), CommandError> {
        match change {
            SettingsChange::Show => {}
            SettingsChange::TimeZone(tz) => settings.tz = tz,
            SettingsChange::DelayMinutes(minutes) => settings.delay_min = minutes,
            SettingsChange::Audio(langs) => {
                self.refuse_unknown("audio language", &langs, self.known_audio())?;
                settings.audio = langs;
            }
            SettingsChange::Stream(stream) => {
                if stream != "none" {
                    self.refuse_unknown(
                        "stream",
                        std::slice::from_ref(&stream),
                        self.known_streams(),
                    )?;
                }
                settings.stream = stream;
            }
            SettingsChange::Adult(on) => settings.adult = on,
        }
        Ok(())
    }

    /// Every audio language an announcement can be in: the original, the
    /// languages dubs are commonly made in (a chat may wait for the first),
    /// and every language an entry lists or an owner released (lower case).
    fn known_audio(&self) -> std::collections::BTreeSet<String> {
        let mut known: std::collections::BTreeSet<String> =
            DUB_LANGUAGES.iter().map(|l| (*l).to_owned()).collect();
        known.insert("original".to_owned());
        for entry in self.catalog().entries() {
            known.extend(entry.audio.iter().map(|a| a.to_lowercase()));
            known.extend(
                entry
                    .releases
                    .iter()
                    .filter_map(|r| r.audio.as_ref())
                    .map(|a| a.to_lowercase()),
            );
        }
        known
    }

    /// Every stream a schedule can come from: `tv`, the streaming sites
    /// bangumi-data lists, and every site a broadcast rule names.
    fn known_streams(&self) -> std::collections::BTreeSet<String> {
        let mut known: std::collections::BTreeSet<String> =
            STREAMS.iter().map(|s| (*s).to_owned()).collect();
        for entry in self.catalog().entries() {
            known.extend(entry.broadcasts.iter().map(|b| b.platform.to_lowercase()));
        }
        known
    }

    /// Refuses a setting no announcement could ever match, naming what can.
    fn refuse_unknown(
        &self,
        what: &str,
        wanted: &[String],
        known: std::collections::BTreeSet<String>,
    ) -> Result<(), CommandError> {
        let Some(unknown) = wanted.iter().find(|w| !known.contains(w.as_str())) else {
            return Ok(());
        };
        const SHOWN: usize = 30;
        let mut list: Vec<&str> = known.iter().map(String::as_str).take(SHOWN).collect();
        if known.len() > SHOWN {
            list.push("…");
        }
        Err(CommandError::BadInput(format!(
            "No announcement can match the {what} \"{unknown}\": nothing in the catalog has it. Known: {}.",
            list.join(", ")
        )))
    }

    pub(super) fn airing(
        &self,
        caller: &Caller,
        days: u32,
        page: usize,
    ) -> Result<Reply, CommandError> {
        let settings = self.store().chat_settings(&caller.chat())?;
        let tz = Self::chat_zone(&settings);
        let stream = if settings.stream == "none" {
            "tv".to_owned()
        } else {
            settings.stream.clone()
        };
        let now = self.now();
        let until = now + Duration::days(i64::from(days));
        let mut upcoming: Vec<(Airing, std::sync::Arc<Entry>)> = Vec::new();
        let adult = self.shows_adult(caller)?;
        for entry in self.catalog().entries() {
            if !adult && entry.is_adult_title() {
                continue;
            }
            let Some(projection) = Projection::of(entry) else {
                continue;
            };
            for airing in projection.airings_between(&stream, now, until) {
                upcoming.push((airing, std::sync::Arc::clone(entry)));
            }
        }
        upcoming.sort_by(|a, b| a.0.at.cmp(&b.0.at).then(a.1.id.cmp(&b.1.id)));
        let pages = upcoming.len().div_ceil(AIRING_LINES).max(1);
        let page = page.min(pages);
        let items: Vec<ListItem> = upcoming
            .into_iter()
            .skip((page - 1) * AIRING_LINES)
            .take(AIRING_LINES)
            .map(|(airing, entry)| ListItem {
                id: Some(entry.id),
                text: format!(
                    "{} · {}",
                    schedule::local_time(airing.at, tz),
                    entry.display_title()
                ),
                detail: episode_words(airing.unit, airing.number, entry.episodes),
                at: Some(airing.at),
            })
            .collect();
        let of_pages = super::lookup::of_pages(page, pages);
        Ok(Reply::List(ListView {
            note: self.stale_note(),
            heading: format!(
                "Airing in the next {days} day{} on {stream} ({}){of_pages}",
                if days == 1 { "" } else { "s" },
                tz.name()
            ),
            previous: (page > 1).then(|| format!("/anime airing {days} page={}", page - 1)),
            next: (page < pages).then(|| format!("/anime airing {days} page={}", page + 1)),
            items,
            empty: format!(
                "Nothing in the catalog airs on {stream} in the next {days} day{}.",
                if days == 1 { "" } else { "s" }
            ),
        }))
    }

    /// The announcement jobs of an episode an owner released at `now`
    /// (`entry` as it is with the release recorded): one per subscribed chat that wants
    /// it, none when it was released longer ago than the catch-up window.
    pub(super) fn episode_jobs(
        &self,
        entry: &Entry,
        input: EpisodeInput,
        now: DateTime<Utc>,
    ) -> Result<Vec<Job>, StoreError> {
        let released_at = input.released_at.unwrap_or(now);
        if now - released_at > self.catch_up() {
            return Ok(Vec::new());
        }
        let event = ReleaseEvent {
            entry: entry.id,
            episode: input.number,
            unit: Unit::Episode,
            variant: Variant::audio(input.audio.as_deref()),
            at: released_at,
            stream: None,
            audio: input.audio,
            qualities: input.qualities,
            episode_title: input.title,
        };
        Ok(announce::release::jobs_for(
            entry,
            &event,
            &self.store().subscribers_of(entry.id)?,
        ))
    }

    /// Jobs for releases an import adds (recent ones only).
    pub(super) fn import_jobs(&self, puts: &[Entry]) -> Result<Vec<Job>, StoreError> {
        let now = self.now();
        let mut jobs = Vec::new();
        for entry in puts {
            let before = self.entry(entry.id);
            for release in &entry.releases {
                let known = before
                    .as_ref()
                    .is_some_and(|b| b.releases.iter().any(|r| r.key() == release.key()));
                if known || now - release.released_at > self.catch_up() {
                    continue;
                }
                let event = ReleaseEvent {
                    entry: entry.id,
                    episode: release.number,
                    unit: release.unit,
                    variant: Variant::audio(release.audio.as_deref()),
                    at: release.released_at,
                    stream: None,
                    audio: release.audio.clone(),
                    qualities: release.qualities.clone(),
                    episode_title: release.title.clone(),
                };
                jobs.extend(announce::release::jobs_for(
                    entry,
                    &event,
                    &self.store().subscribers_of(entry.id)?,
                ));
            }
        }
        Ok(jobs)
    }

    /// Turns broadcast schedules that reached their air time since the last
    /// run into releases: each is recorded, and announced to the chats that
    /// follow that stream unless it aired longer ago than the catch-up window.
    /// The first run on a data directory only sets the starting point.
    /// Returns how many jobs were queued.
    pub fn process_schedule(&self) -> Result<usize, StoreError> {
        let _writer = self.write_lock();
        let now = self.now();
        let Some(watermark) = self.store().schedule_watermark()? else {
            self.store().set_schedule_watermark(now)?;
            return Ok(0);
        };
        if now <= watermark {
            return Ok(0);
        }
        let after = watermark.max(now - Duration::days(SCHEDULE_LOOKBACK_DAYS));
        let mut change = Change::default();
        let entries: Vec<std::sync::Arc<Entry>> = self
            .catalog()
            .entries()
            // A broadcast rule, or the airings a source listed (a show found
            // in AniList's schedule may have no rule at all).
            .filter(|e| !e.broadcasts.is_empty() || !e.listed_airings.is_empty())
            .cloned()
            .collect();
        for entry in entries {
            let events = announce::release::broadcast_events(&entry, after, now);
            if events.is_empty() {
                continue;
            }
            let subscribers = self.store().subscribers_of(entry.id)?;
            let mut updated = (*entry).clone();
            for event in &events {
                // One release per episode, when it first aired on any stream.
                if !updated
                    .releases
                    .iter()
                    .any(|r| r.number == event.episode && r.audio.is_none())
                {
                    updated.record_release(Release {
                        number: event.episode,
                        unit: event.unit,
                        from_schedule: true,
                        audio: None,
                        qualities: Vec::new(),
                        title: None,
                        released_at: event.at,
                    });
                }
                if now - event.at <= self.catch_up() {
                    change
                        .jobs
                        .extend(announce::release::jobs_for(&updated, event, &subscribers));
                }
            }
            if updated != *entry {
                change.put.push(updated);
            }
        }
        let queued = self.commit(change)?;
        self.store().set_schedule_watermark(now)?;
        Ok(queued)
    }

    pub(super) fn deliveries_view(&self, entry: Option<u64>) -> Result<Reply, CommandError> {
        let found = self.store().deliveries(entry, 20)?;
        let title = |id: u64| {
            self.entry(id)
                .map_or_else(|| format!("#{id}"), |e| e.display_title().to_owned())
        };
        let mut items = Vec::new();
        for job in &found.queued {
            let mut detail = format!(
                "due {}, {} attempt{}",
                job.due_at.format("%Y-%m-%d %H:%M UTC"),
                job.attempts,
                if job.attempts == 1 { "" } else { "s" }
            );
            if let Some(err) = &job.last_error {
                detail.push_str(&format!(", last error: {err}"));
            }
            items.push(ListItem {
                id: Some(job.entry),
                text: format!(
                    "queued · {} ep {} ({}) → {}",
                    title(job.entry),
                    job.episode,
                    job.variant,
                    job.chat
                ),
                detail,
                at: Some(job.due_at),
            });
        }
        for done in &found.delivered {
            items.push(ListItem {
                id: Some(done.entry),
                text: format!(
                    "delivered · {} ep {} ({}) → {}",
                    title(done.entry),
                    done.episode,
                    done.variant,
                    done.chat
                ),
                detail: format!(
                    "at {}, message {}",
                    done.at.format("%Y-%m-%d %H:%M UTC"),
                    done.message_id
                ),
                at: Some(done.at),
            });
        }
        for dead in &found.dead {
            items.push(ListItem {
                id: Some(dead.entry),
                text: format!(
                    "{:?} · {} ep {} ({}) → {}",
                    dead.kind,
                    title(dead.entry),
                    dead.episode,
                    dead.variant,
                    dead.chat
                )
                .to_lowercase(),
                detail: format!("{} ({})", dead.reason, dead.at.format("%Y-%m-%d %H:%M UTC")),
                at: Some(dead.at),
            });
        }
        Ok(Reply::List(ListView {
            note: None,
            previous: None,
            next: None,
            heading: match entry {
                Some(id) => format!("Announcements of {}", title(id)),
                None => "Recent announcements".into(),
            },
            items,
            empty: "No announcements queued, delivered or failed yet.".into(),
        }))
    }
}

fn all_name(kind: Option<&str>, genre: Option<&str>) -> String {
    match (kind, genre) {
        (None, None) => "everything".into(),
        (Some(k), None) => format!("every {k} title"),
        (None, Some(g)) => format!("every {g} title"),
        (Some(k), Some(g)) => format!("every {g} {k} title"),
    }
}

pub(super) fn describe_settings(s: &ChatSettings) -> String {
    let audio = if s.audio.is_empty() {
        "any".to_owned()
    } else {
        s.audio.join(", ")
    };
    format!(
        "time zone {}, delay {} min, audio {audio}, stream {}, adult titles {}",
        s.tz,
        s.delay_min,
        s.stream,
        if s.adult { "on" } else { "off" }
    )
}
