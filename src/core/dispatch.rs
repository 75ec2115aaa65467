//! The dispatcher: drains one platform's due outbox jobs through its
//! [`Notifier`] under token-bucket rate limits, honours `retry_after`, backs
//! off with jitter on failures, dead-letters what cannot be sent, and records
//! each post in the same store step that removes its job.
//!
//! The bookkeeping is synchronous ([`Dispatcher::take`] and
//! [`Dispatcher::finish`]), so tests drive it step by step with a manual
//! clock; [`Dispatcher::run`] is the async loop around it.
//!
//! Crash safety: a job leaves the outbox only when its post is recorded, so a
//! crash loses nothing; it can repeat only the jobs that were sent but not
//! yet recorded (in flight). Recording is flushed once per round of sends.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::announce::{DeadKind, Job, Notifier, SendOutcome};
use super::app::App;
use super::caller::ChatRef;
use crate::store::{ReleaseCache, StoreError};

/// `count` sends per `per`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const fn new(count: u32, per: Duration) -> Rate {
        Rate { count, per }
    }
}

/// A platform's posting limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// All sends of the bot.
    pub global: Rate,
    /// Sends to any one chat.
    pub per_chat: Rate,
    /// Sends to any one group or channel, on top of `per_chat`.
    pub per_group: Rate,
}

impl RateLimits {
    /// Telegram's published limits: 30 messages a second overall, one a
    /// second per chat, 20 a minute per group or channel.
    pub const TELEGRAM: RateLimits = RateLimits {
        global: Rate::new(30, Duration::from_secs(1)),
        per_chat: Rate::new(1, Duration::from_secs(1)),
        per_group: Rate::new(20, Duration::from_secs(60)),
    };
    /// Discord's: 50 requests a second overall, 5 per 5 seconds per channel.
    pub const DISCORD: RateLimits = RateLimits {
        global: Rate::new(50, Duration::from_secs(1)),
        per_chat: Rate::new(5, Duration::from_secs(5)),
        per_group: Rate::new(5, Duration::from_secs(5)),
    };
    /// The local console: effectively unlimited.
    pub const LOCAL: RateLimits = RateLimits {
        global: Rate::new(1000, Duration::from_secs(1)),
        per_chat: Rate::new(1000, Duration::from_secs(1)),
        per_group: Rate::new(1000, Duration::from_secs(1)),
    };
}

/// How a dispatcher behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchSettings {
    pub limits: RateLimits,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub send_timeout: Duration,
    pub max_in_flight: usize,
}

impl DispatchSettings {
    /// Defaults with the given limits.
    pub fn with_limits(limits: RateLimits) -> DispatchSettings {
        DispatchSettings {
            limits,
            max_attempts: 8,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(1800),
            send_timeout: Duration::from_secs(30),
            max_in_flight: 16,
        }
    }
}

/// A sliding window: at most `count` sends in any span of `per`. Unlike a
/// token bucket, it never lets a burst exceed the limit over any window.
#[derive(Debug, Clone, Default)]
struct Window {
    sent: std::collections::VecDeque<DateTime<Utc>>,
    /// No sends before this (a 429's `retry_after`).
    paused_until: Option<DateTime<Utc>>,
}

impl Window {
    fn forget_old(&mut self, rate: Rate, now: DateTime<Utc>) {
        let span = chrono::Duration::from_std(rate.per).unwrap_or_default();
        while self.sent.front().is_some_and(|&t| now - t >= span) {
            self.sent.pop_front();
        }
    }

    fn ready(&mut self, rate: Rate, now: DateTime<Utc>) -> bool {
        if self.paused_until.is_some_and(|until| now < until) {
            return false;
        }
        self.forget_old(rate, now);
        self.sent.len() < rate.count as usize
    }

    /// When the window next has room.
    fn next_room(&self, rate: Rate) -> Option<DateTime<Utc>> {
        let span = chrono::Duration::from_std(rate.per).unwrap_or_default();
        let room = (self.sent.len() >= rate.count as usize)
            .then(|| self.sent.front().map(|&t| t + span))
            .flatten();
        match (room, self.paused_until) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn idle(&mut self, rate: Rate, now: DateTime<Utc>) -> bool {
        self.forget_old(rate, now);
        self.sent.is_empty() && self.paused_until.is_none_or(|p| p <= now)
    }
}

/// A fast hasher (the multiply-rotate scheme of rustc's FxHash) for the
/// dispatcher's per-job maps. Their keys are chat ids and job keys the
/// platforms assign, not text a user chooses, so the flooding resistance
/// of the standard hasher buys nothing here.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type Fast = BuildHasherDefault<FastHasher>;

/// The windows of one platform: global, per chat and per group.
struct Limiter {
    limits: RateLimits,
    global: Window,
    chats: HashMap<ChatRef, Window, Fast>,
    groups: HashMap<ChatRef, Window, Fast>,
}

impl Limiter {
    fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            global: Window::default(),
            chats: HashMap::default(),
            groups: HashMap::default(),
        }
    }

    /// Records a send to `chat` if every window that applies has room.
    fn try_acquire(&mut self, chat: &ChatRef, is_group: bool, now: DateTime<Utc>) -> bool {
        let limits = self.limits;
        if !self.global.ready(limits.global, now) {
            return false;
        }
        // A chat seen for the first time has room; it gets its windows
        // only when it is sent to.
        if self
            .chats
            .get_mut(chat)
            .is_some_and(|w| !w.ready(limits.per_chat, now))
        {
            return false;
        }
        if is_group {
            if self
                .groups
                .get_mut(chat)
                .is_some_and(|w| !w.ready(limits.per_group, now))
            {
                return false;
            }
            self.groups
                .entry(chat.clone())
                .or_default()
                .sent
                .push_back(now);
        }
        self.chats
            .entry(chat.clone())
            .or_default()
            .sent
            .push_back(now);
        self.global.sent.push_back(now);
        true
    }

    fn global_ready(&mut self, now: DateTime<Utc>) -> bool {
        self.global.ready(self.limits.global, now)
    }

    fn pause(&mut self, chat: Option<&ChatRef>, until: DateTime<Utc>) {
        let window = match chat {
            Some(chat) => self.chats.entry(chat.clone()).or_default(),
            None => &mut self.global,
        };
        window.paused_until = Some(window.paused_until.map_or(until, |p| p.max(until)));
    }

    /// When the global window next has room, if it is full now.
    fn global_next(&self) -> Option<DateTime<Utc>> {
        self.global.next_room(self.limits.global)
    }

    /// Forgets idle chats so the maps do not grow without bound.
    fn prune(&mut self, now: DateTime<Utc>) {
        let limits = self.limits;
        self.chats.retain(|_, w| !w.idle(limits.per_chat, now));
        self.groups.retain(|_, w| !w.idle(limits.per_group, now));
    }
}

/// A send outcome's name in metrics.
fn outcome_name(outcome: &SendOutcome) -> &'static str {
    match outcome {
        SendOutcome::Delivered { .. } => "delivered",
        SendOutcome::RetryAfter { .. } => "rate_limited",
        SendOutcome::Transient(_) => "failed_will_retry",
        SendOutcome::Forbidden(_) => "forbidden",
        SendOutcome::Rejected(_) => "rejected",
        SendOutcome::Migrated { .. } => "migrated",
    }
}

/// What a round of [`Dispatcher::finish`] did, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

/// Drains one platform's outbox.
pub struct Dispatcher<N: Notifier> {
    app: App,
    notifier: Arc<N>,
    settings: DispatchSettings,
    limiter: Limiter,
    in_flight: HashSet<Vec<u8>, Fast>,
    releases: ReleaseCache,
}

impl<N: Notifier> Dispatcher<N> {
    pub fn new(app: App, notifier: Arc<N>, settings: DispatchSettings) -> Self {
        let limiter = Limiter::new(settings.limits);
        Dispatcher {
            app,
            notifier,
            settings,
            limiter,
            in_flight: HashSet::default(),
            releases: ReleaseCache::default(),
        }
    }

    /// Due jobs that the rate limits allow to send now, marked in flight.
    /// Jobs that came due longer ago than the catch-up window are
    /// dead-lettered as expired instead. The limits are checked on the due
    /// index alone; only the jobs that will be sent are read.
    pub fn take(&mut self, now: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
        let platform = self.notifier.platform();
        let room = self
            .settings
            .max_in_flight
            .saturating_sub(self.in_flight.len());
        if room == 0 || !self.limiter.global_ready(now) {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity(room.min(16));
        let store = self.app.store();
        // Look past rate-limited chats (up to a bound) so one busy chat does
        // not stall the rest, and stop as soon as the round is full.
        for due in store.due_index(platform, now).take(room * 8 + 64) {
            let due = due?;
            if out.len() >= room || !self.limiter.global_ready(now) {
                break;
            }
            if self.in_flight.contains(&due.key) {
                continue;
            }
            let expired = now - due.due_at > self.app.catch_up();
            if !expired && !self.limiter.try_acquire(&due.chat, due.is_group, now) {
                continue;
            }
            let job = match store.due_job(&due, &mut self.releases) {
                Ok(job) => job,
                // A damaged job cannot be sent; it must not hold up the rest.
                Err(StoreError::Corrupt(why)) => {
                    warn!(chat = %due.chat, cause = %why, "a queued announcement is damaged");
                    self.app.metrics().delivery(platform.as_str(), "damaged");
                    store.dead_letter_damaged(&due, &why, now)?;
                    continue;
                }
                Err(err) => return Err(err),
            };
            if expired {
                self.app.metrics().delivery(platform.as_str(), "expired");
                let reason = format!(
                    "came due at {} while the bot was down",
                    job.due_at.format("%Y-%m-%d %H:%M UTC")
                );
                store.dead_letter(&job, DeadKind::Expired, &reason, now)?;
                continue;
            }
            self.in_flight.insert(due.key);
            out.push(job);
        }
        Ok(out)
    }

    /// Records how a send went.
    pub fn finish(
        &mut self,
        job: &Job,
        outcome: SendOutcome,
        now: DateTime<Utc>,
    ) -> Result<Tally, StoreError> {
        self.in_flight.remove(&job.key());
        let store = self.app.store();
        let mut tally = Tally::default();
        self.app
            .metrics()
            .delivery(self.notifier.platform().as_str(), outcome_name(&outcome));
        match outcome {
            SendOutcome::Delivered { message_id } => {
                store.mark_delivered(job, &message_id, now)?;
                tally.delivered += 1;
            }
            SendOutcome::RetryAfter { after, global } => {
                let until = now
                    + chrono::Duration::from_std(after).unwrap_or(chrono::Duration::seconds(60));
                self.limiter.pause((!global).then_some(&job.chat), until);
                let mut next = job.clone();
                next.due_at = until;
                next.last_error = Some(format!("rate-limited for {}s", after.as_secs()));
                store.reschedule(job, &next)?;
                debug!(chat = %job.chat, retry_after_s = after.as_secs(), global, "rate-limited");
                tally.retried += 1;
            }
            SendOutcome::Transient(error) => {
                let attempts = job.attempts + 1;
                if attempts >= self.settings.max_attempts {
                    warn!(chat = %job.chat, attempts, cause = %error, "giving up on an announcement");
                    store.dead_letter(
                        job,
                        DeadKind::Failed,
                        &format!("gave up after {attempts} attempts: {error}"),
                        now,
                    )?;
                    tally.dead += 1;
                } else {
                    let mut next = job.clone();
                    next.attempts = attempts;
                    next.due_at = now
                        + chrono::Duration::from_std(self.backoff(job, attempts))
                            .unwrap_or_default();
                    next.last_error = Some(error);
                    store.reschedule(job, &next)?;
                    tally.retried += 1;
                }
            }
            SendOutcome::Rejected(reason) => {
                warn!(chat = %job.chat, cause = %reason, "the platform refused an announcement");
                store.dead_letter(job, DeadKind::Failed, &format!("refused: {reason}"), now)?;
                tally.dead += 1;
            }
            SendOutcome::Forbidden(reason) => {
                let deactivated = store.deactivate_chat(&job.chat, &reason, now)?;
                info!(chat = %job.chat, deactivated, cause = %reason, "the bot can no longer post to a chat");
                tally.dead += 1;
            }
            SendOutcome::Migrated { to_chat_id } => {
                let to = ChatRef {
                    platform: job.chat.platform,
                    chat_id: to_chat_id,
                };
                store.migrate_chat(&job.chat, &to)?;
                info!(from = %job.chat, to = %to, "chat moved; its subscriptions followed");
                tally.retried += 1;
            }
        }
        Ok(tally)
    }

    /// Records a round of sends: the posts in one store batch, the rest one by one.
    pub fn finish_all(
        &mut self,
        results: Vec<(Job, SendOutcome)>,
        now: DateTime<Utc>,
    ) -> Result<Tally, StoreError> {
        let mut tally = Tally::default();
        let mut posts: Vec<(&Job, &str)> = Vec::new();
        for (job, outcome) in &results {
            match outcome {
                SendOutcome::Delivered { message_id } => {
                    self.in_flight.remove(&job.key());
                    posts.push((job, message_id));
                }
                other => {
                    let t = self.finish(job, other.clone(), now)?;
                    tally.retried += t.retried;
                    tally.dead += t.dead;
                }
            }
        }
        self.app.store().mark_delivered_all(&posts, now)?;
        self.app.metrics().deliveries(
            self.notifier.platform().as_str(),
            "delivered",
            posts.len() as u64,
        );
        tally.delivered += posts.len();
        Ok(tally)
    }

    /// Exponential backoff from the base to the maximum, with ±50 % jitter
    /// derived from the job so retries of many jobs spread out.
    fn backoff(&self, job: &Job, attempts: u32) -> Duration {
        let base = self.settings.backoff_base.as_secs_f64();
        let capped = (base * 2f64.powi(attempts.saturating_sub(1).min(30) as i32))
            .min(self.settings.backoff_max.as_secs_f64());
        let hash = job.key().iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x1000_0000_01b3)
        });
        let jitter = 0.5 + ((hash ^ u64::from(attempts)) % 1000) as f64 / 1000.0;
        Duration::from_secs_f64(capped * jitter)
    }

    /// When there may be something to do next (a job coming due, or a rate
    /// limit lifting), at most `cap` from now.
    fn next_wake(&self, now: DateTime<Utc>, cap: Duration) -> Result<Duration, StoreError> {
        let latest = now + chrono::Duration::from_std(cap).unwrap_or_default();
        let due = self
            .app
            .store()
            .next_due(self.notifier.platform())?
            .unwrap_or(latest);
        let at = self
            .limiter
            .global_next()
            .map_or(due, |room| due.max(room))
            .min(latest)
            .max(now);
        Ok((at - now)
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_millis(5)))
    }

    /// Sends one job, bounded by the send timeout.
    fn spawn_send(&self, set: &mut JoinSet<(Job, SendOutcome)>, job: Job) {
        let notifier = Arc::clone(&self.notifier);
        let timeout = self.settings.send_timeout;
        set.spawn(async move {
            let outcome =
                match tokio::time::timeout(timeout, notifier.send(&job.chat, &job.announcement()))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        SendOutcome::Transient(format!("no answer within {}s", timeout.as_secs()))
                    }
                };
            (job, outcome)
        });
    }

    /// Sends everything due now, once, and waits for the answers; for the
    /// console and one-shot commands. Returns what happened.
    pub async fn drain_once(&mut self) -> Result<Tally, StoreError> {
        let mut set = JoinSet::new();
        for job in self.take(self.app.now())? {
            self.spawn_send(&mut set, job);
        }
        let mut results = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(result) => results.push(result),
                Err(err) => warn!(cause = %err, "a send task failed"),
            }
        }
        let tally = self.finish_all(results, self.app.now())?;
        self.app.store().flush()?;
        Ok(tally)
    }

    /// Runs until `shutdown` is cancelled. On shutdown it stops taking jobs,
    /// waits up to `grace` for sends in flight and records them; a send still
    /// unanswered stays queued and is retried on the next start.
    pub async fn run(mut self, shutdown: CancellationToken, grace: Duration) {
        let platform = self.notifier.platform();
        let signal = self.app.queued_signal();
        let mut set: JoinSet<(Job, SendOutcome)> = JoinSet::new();
        let mut prune_at = self.app.now();
        info!(%platform, "dispatcher started");
        let component = format!("dispatcher:{platform}");
        loop {
            self.app.metrics().heartbeat(&component);
            let now = self.app.now();
            match self.take(now) {
                Ok(jobs) => {
                    for job in jobs {
                        self.spawn_send(&mut set, job);
                    }
                }
                Err(err) => warn!(%platform, cause = %err, "cannot read the outbox"),
            }
            if now >= prune_at {
                self.limiter.prune(now);
                prune_at = now + chrono::Duration::minutes(5);
            }
            let wait = self
                .next_wake(now, Duration::from_secs(1))
                .unwrap_or(Duration::from_secs(1));
            let notified = signal.notified();
            tokio::select! {
                _ = shutdown.cancelled() => break,
                Some(joined) = set.join_next(), if !set.is_empty() => {
                    // Record whatever else finished too, in one batch, then
                    // make it durable once.
                    let mut round = vec![joined];
                    while let Some(joined) = set.try_join_next() {
                        round.push(joined);
                    }
                    self.record(round);
                    if let Err(err) = self.app.store().flush() {
                        warn!(%platform, cause = %err, "cannot flush the store");
                    }
                }
                _ = notified => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let in_flight = set.len();
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                joined = set.join_next() => match joined {
                    Some(joined) => self.record(vec![joined]),
                    None => break,
                },
                _ = &mut deadline => {
                    set.abort_all();
                    break;
                }
            }
        }
        if let Err(err) = self.app.store().flush() {
            warn!(%platform, cause = %err, "cannot flush the store");
        }
        self.app.metrics().report(&component, false);
        info!(%platform, in_flight, left_queued = set.len(), "dispatcher stopped");
    }

    fn record(&mut self, round: Vec<Result<(Job, SendOutcome), tokio::task::JoinError>>) {
        let mut results = Vec::with_capacity(round.len());
        for joined in round {
            match joined {
                Ok(result) => results.push(result),
                Err(err) => warn!(cause = %err, "a send task failed"),
            }
        }
        if let Err(err) = self.finish_all(results, self.app.now()) {
            warn!(cause = %err, "cannot record sends");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_allow_their_rate() {
        let t0 = DateTime::UNIX_EPOCH;
        let mut limiter = Limiter::new(RateLimits::TELEGRAM);
        let chat = ChatRef {
            platform: crate::core::caller::Platform::Telegram,
            chat_id: "1".into(),
        };
        assert!(limiter.try_acquire(&chat, false, t0));
        assert!(
            !limiter.try_acquire(&chat, false, t0),
            "one a second per chat"
        );
        assert!(limiter.try_acquire(&chat, false, t0 + chrono::Duration::seconds(1)));
        // 30 a second overall.
        let sent = (0..100)
            .filter(|i| {
                limiter.try_acquire(
                    &ChatRef {
                        platform: chat.platform,
                        chat_id: format!("c{i}"),
                    },
                    false,
                    t0 + chrono::Duration::seconds(1),
                )
            })
            .count();
        assert_eq!(sent, 29);
        limiter.pause(None, t0 + chrono::Duration::seconds(10));
        assert!(!limiter.try_acquire(&chat, false, t0 + chrono::Duration::seconds(5)));
        assert!(limiter.try_acquire(&chat, false, t0 + chrono::Duration::seconds(10)));
    }

    #[test]
    fn groups_get_twenty_in_any_minute() {
        let t0 = DateTime::UNIX_EPOCH;
        let mut limiter = Limiter::new(RateLimits::TELEGRAM);
        let group = ChatRef {
            platform: crate::core::caller::Platform::Telegram,
            chat_id: "-100".into(),
        };
        let sent: Vec<i64> = (0..120)
            .filter(|s| limiter.try_acquire(&group, true, t0 + chrono::Duration::seconds(*s)))
            .collect();
        assert_eq!(sent.len(), 40);
        for (i, at) in sent.iter().enumerate() {
            let in_minute = sent[i..].iter().take_while(|&&t| t < at + 60).count();
            assert!(
                in_minute <= 20,
                "{in_minute} sends in the minute from {at}s"
            );
        }
    }
}

#[cfg(test)]
mod damaged {
    use std::sync::Arc;

    use super::*;
    use crate::core::announce::{self, Announcement};
    use crate::core::app::Settings;
    use crate::core::caller::Platform;
    use crate::core::clock::ManualClock;
    use crate::store::{Change, Store};

    struct Delivers;

    impl Notifier for Delivers {
        fn platform(&self) -> Platform {
            Platform::Telegram
        }

        async fn send(&self, _: &ChatRef, _: &Announcement) -> SendOutcome {
            SendOutcome::Delivered {
                message_id: "m".into(),
            }
        }
    }

    /// A queued job whose stored records are damaged (here its release's
    /// record is missing, as in a hand-edited backup) is dead-lettered with
    /// the reason, and the jobs behind it are sent.
    #[test]
    fn a_damaged_job_is_dead_lettered_and_the_rest_go_on() {
        let t0 = DateTime::from_timestamp(1_790_000_000, 0).expect("a valid time");
        let job = |episode: u32, chat: &str| Job {
            entry: 1,
            episode,
            variant: "audio:tamil".into(),
            chat: ChatRef {
                platform: Platform::Telegram,
                chat_id: chat.into(),
            },
            is_group: false,
            due_at: t0,
            attempts: 0,
            last_error: None,
            release: Arc::new(Announcement {
                entry: 1,
                title: "Metallic Rouge".into(),
                episode,
                episode_title: None,
                episodes_total: Some(13),
                audio: Some("Tamil".into()),
                qualities: Vec::new(),
                stream: None,
                released_at: t0,
                picture: None,
                links: Vec::new(),
                next_episode: None,
                tz: String::new(),
                mention_role: None,
            }),
            tz: "UTC".into(),
            mention_role: None,
            next_episode: None,
        };
        let original = Store::temporary().expect("a store");
        let change = Change {
            jobs: vec![job(12, "1"), job(13, "2"), job(13, "3")],
            ..Change::default()
        };
        assert_eq!(original.apply(change, t0).expect("queued"), 3);
        // Episode 12's release record goes missing on the way through a backup.
        let mut snapshot = original.snapshot().expect("a snapshot");
        let mut gone = vec![b'r'];
        gone.extend(announce::release_key(1, 12, "audio:tamil"));
        for (name, records) in &mut snapshot.trees {
            if name == "jobs" {
                records.retain(|(key, _)| key != &gone);
            }
        }
        let store = Store::temporary().expect("a store");
        store.restore(&snapshot).expect("restored");
        let app =
            App::open(store, Settings::default(), Arc::new(ManualClock::new(t0))).expect("an app");

        let mut dispatcher = Dispatcher::new(
            app.clone(),
            Arc::new(Delivers),
            DispatchSettings::with_limits(RateLimits::LOCAL),
        );
        let jobs = dispatcher.take(t0).expect("take goes on past the damage");
        let chats: Vec<&str> = jobs.iter().map(|j| j.chat.chat_id.as_str()).collect();
        assert_eq!(chats, ["2", "3"]);
        let dead = app.store().deliveries(None, 10).expect("read").dead;
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].chat.chat_id, "1");
        assert!(dead[0].reason.contains("damaged"), "{}", dead[0].reason);
        assert_eq!(app.store().queued(Platform::Telegram), 2);
    }
}
