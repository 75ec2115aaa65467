//! The dispatcher: drains one platform's due outbox jobs through its
//! [`Notifier`] under sliding-window rate limits, honours `retry_after`, backs
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

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::App;
use crate::core::announce::limits::{DispatchSettings, Fast, FastHasher, Limiter};
use crate::core::announce::{DeadKind, Job, Notifier, SendOutcome};
use crate::core::caller::ChatRef;
use crate::store::{JobKey, ReleaseCache, StoreError};

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
    in_flight: HashSet<JobKey, Fast>,
    releases: ReleaseCache,
}

impl<N: Notifier> Dispatcher<N> {
    pub fn new(app: App, notifier: Arc<N>, settings: DispatchSettings) -> Self {
        let limiter = Limiter::new(settings.limits);
        let mut dispatcher = Dispatcher {
            app,
            notifier,
            settings,
            limiter,
            in_flight: HashSet::default(),
            releases: ReleaseCache::default(),
        };
        let platform = dispatcher.notifier.platform();
        match dispatcher.resume(dispatcher.app.now()) {
            Ok(recent) => debug!(%platform, recent, "recent posts count against the rate limits"),
            Err(err) => {
                warn!(%platform, cause = %err, "cannot read the recent posts; the rate-limit windows start empty")
            }
        }
        dispatcher
    }

    /// Counts the posts recorded within the longest rate-limit window
    /// against this dispatcher's windows, so that a bot that restarts (or
    /// crash-loops) stays within the platform's limits. Returns how many
    /// posts were counted.
    fn resume(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let memory = chrono::Duration::from_std(self.limiter.memory()).unwrap_or_default();
        // A post is recorded at most the catch-up window after its row came
        // due, plus the time its send and its round took.
        let send = chrono::Duration::from_std(self.settings.send_timeout).unwrap_or_default();
        let lag = self.app.catch_up() + send + send;
        let posts =
            self.app
                .store()
                .recent_posts(self.notifier.platform(), now - memory, lag, now)?;
        for post in &posts {
            self.limiter.count_send(&post.chat, post.is_group, post.at);
        }
        Ok(posts.len())
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
        self.in_flight.remove(&JobKey::of(job));
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
                    self.in_flight.remove(&JobKey::of(job));
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
        let mut hasher = FastHasher::default();
        job.id().hash(&mut hasher);
        let hash = hasher.finish();
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
mod damaged {
    use std::sync::Arc;

    use super::*;
    use crate::app::Settings;
    use crate::core::announce::Announcement;
    use crate::core::announce::limits::RateLimits;
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
                unit: Default::default(),
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
            aired: None,
        };
        let original = Store::temporary().expect("a store");
        let change = Change {
            jobs: vec![job(12, "1"), job(13, "2"), job(13, "3")],
            ..Change::default()
        };
        assert_eq!(original.apply(change, t0).expect("queued"), 3);
        // Episode 12's release record goes missing on the way through a backup.
        let mut snapshot = original.snapshot().expect("a snapshot");
        snapshot.lose_release(1, 12, "audio:tamil");
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
