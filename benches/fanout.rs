//! The announcement engine under load: one release fanned out to 10,000
//! subscribed Telegram chats (8,000 private chats, 2,000 groups), and to
//! 1,000 chats and 10,000 followers (each a private alert).
//!
//! Two parts:
//!
//! 1. A **simulation** (printed, not a criterion benchmark): the dispatcher
//!    drains the 10,000 jobs in simulated time on a manual clock through a
//!    notifier that enforces Telegram's limits itself (at most 30 messages
//!    in any 1 s overall, 1 per chat in any 1 s, 20 per group in any 60 s)
//!    and answers a 429 to anything over them, counting it as a violation.
//!    It reports the simulated time to deliver everything, the rate achieved
//!    against the 30/s ceiling, the violations, whether every chat got
//!    exactly one post, and the wall-clock time spent inside the engine
//!    (the episode command that queues the jobs, every `take` with the
//!    announcements it hands out put together, and every `finish`), per job.
//! 2. `fanout/engine_per_job` (criterion): the same engine work for 1,000
//!    chats with limits so high that nothing ever waits, so the figure is
//!    pure engine cost; `fanout/enqueue`, `fanout/take` and `fanout/finish`
//!    split it (each still per job queued); `fanout/sled_floor` is the
//!    baseline: the storage engine alone doing the writes and reads a job
//!    needs, without the engine around it.
//!
//! Run with `cargo bench --bench fanout`; BENCHMARKS.md has the figures.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{Criterion, SamplingMode, Throughput};
use rouge::app::dispatch::Dispatcher;
use rouge::app::{App, Settings};
use rouge::core::announce::limits::{DispatchSettings, Rate, RateLimits};
use rouge::core::announce::{Announcement, Job, Notifier, SendOutcome};
use rouge::core::caller::{Caller, ChatRef, Platform};
use rouge::core::clock::{Clock, ManualClock};
use rouge::core::reply::Reply;
use rouge::store::Store;

/// Chats in the simulation; one in five is a group.
const CHATS: usize = 10_000;
/// People following the title in the second simulation (beside a tenth
/// of [`CHATS`] chats).
const FOLLOWERS: usize = 10_000;
/// Chats per iteration of the criterion benchmarks.
const BENCH_CHATS: usize = 1_000;
/// How far the simulated clock moves between rounds of the dispatcher.
const STEP_MS: i64 = 10;
/// The release: entry #1 of the demo catalog (Metallic Rouge, 13 episodes).
const RELEASE: &str = "/anime admin episode #1 ep=13 audio=Tamil qualities=480p/720p/1080p";
/// The variant part of the release's job keys.
const VARIANT: &str = "audio:tamil";

// ---------------------------------------------------------------------------
// Chats and the app
// ---------------------------------------------------------------------------

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0)
        .single()
        .expect("a valid time")
}

/// Whether chat `i` is a group: one in five, spread through the set.
fn is_group(i: usize) -> bool {
    i % 5 == 4
}

/// The admin of chat `i` as the Telegram adapter would describe them:
/// private chats have the user's (positive) id, groups a negative
/// supergroup id.
fn chat_admin(i: usize) -> Caller {
    if is_group(i) {
        Caller {
            platform: Platform::Telegram,
            user_id: format!("{}", 500_000_000 + i),
            chat_id: format!("-100{}", 2_000_000_000 + i),
            is_chat_admin: true,
            is_group: true,
        }
    } else {
        let id = format!("{}", 100_000_000 + i);
        Caller {
            platform: Platform::Telegram,
            user_id: id.clone(),
            chat_id: id,
            is_chat_admin: true,
            is_group: false,
        }
    }
}

fn owner() -> Caller {
    Caller {
        platform: Platform::Telegram,
        user_id: "1".into(),
        chat_id: "1".into(),
        is_chat_admin: true,
        is_group: false,
    }
}

/// Person `j` who follows entry #1 from their private chat (a private
/// alert goes to the chat whose id is their user id).
fn follower(j: usize) -> Caller {
    let id = format!("{}", 300_000_000 + j);
    Caller {
        platform: Platform::Telegram,
        user_id: id.clone(),
        chat_id: id,
        is_chat_admin: true,
        is_group: false,
    }
}

/// Who a release reaches: `chats` subscribed chats and `followers` people.
#[derive(Clone, Copy)]
struct Audience {
    chats: usize,
    followers: usize,
}

impl Audience {
    fn total(self) -> usize {
        self.chats + self.followers
    }

    /// Every chat the release is posted to.
    fn recipients(self) -> impl Iterator<Item = ChatRef> {
        (0..self.chats)
            .map(|i| chat_admin(i).chat())
            .chain((0..self.followers).map(|j| follower(j).personal_chat()))
    }
}

/// An app over a fresh temporary store (with the demo catalog) in which
/// `chats` chats are subscribed to entry #1, each by its admin's command;
/// and that store.
fn subscribed_app(clock: &ManualClock, chats: usize) -> (App, Store) {
    followed_app(
        clock,
        Audience {
            chats,
            followers: 0,
        },
    )
}

/// [`subscribed_app`], and `audience.followers` people following entry #1.
fn followed_app(clock: &ManualClock, audience: Audience) -> (App, Store) {
    let chats = audience.chats;
    let settings = Settings {
        owners: vec!["telegram:1".into()],
        ..Settings::default()
    };
    let store = Store::temporary().expect("a temporary store should open");
    let app =
        App::open(store.clone(), settings, Arc::new(clock.clone())).expect("the app should open");
    for i in 0..chats {
        let reply = app.handle_line(&chat_admin(i), "/anime subscribe #1");
        assert!(
            matches!(reply, Reply::Done(_)),
            "chat {i} cannot subscribe: {reply:?}"
        );
    }
    for j in 0..audience.followers {
        let reply = app.handle_line(&follower(j), "/anime follow #1");
        assert!(
            matches!(reply, Reply::Done(_)),
            "person {j} cannot follow: {reply:?}"
        );
    }
    (app, store)
}

/// The owner's episode command; checks it queued one job per chat.
fn release(app: &App, line: &str, chats: usize) {
    let reply = app.handle_line(&owner(), line);
    let expected = format!("Announcing it in {chats} chats");
    assert!(
        matches!(&reply, Reply::Done(n) if n.text.contains(&expected)),
        "{reply:?}"
    );
}

// ---------------------------------------------------------------------------
// A notifier that enforces Telegram's limits
// ---------------------------------------------------------------------------

/// Posts that broke a limit (and were refused with a 429).
#[derive(Debug, Default, Clone, Copy)]
struct Violations {
    global: usize,
    per_chat: usize,
    per_group: usize,
}

impl Violations {
    fn total(&self) -> usize {
        self.global + self.per_chat + self.per_group
    }
}

#[derive(Default)]
struct Checker {
    /// Delivery times within the last second, oldest first.
    recent: VecDeque<DateTime<Utc>>,
    /// Every delivery per chat.
    per_chat: HashMap<String, Vec<DateTime<Utc>>>,
    /// Every delivery, in order.
    log: Vec<DateTime<Utc>>,
    attempts: usize,
    violations: Violations,
}

/// Plays Telegram: a post within the limits is delivered; one over them is
/// answered `429 Too Many Requests` with a `retry_after`, not delivered,
/// and counted. It decides on its own whether a chat is a group (a negative
/// chat id, as on Telegram) rather than trusting the job's flag.
struct TelegramLimits {
    clock: ManualClock,
    state: Mutex<Checker>,
}

impl TelegramLimits {
    const GLOBAL: usize = 30;
    const GLOBAL_SPAN: chrono::Duration = chrono::Duration::seconds(1);
    const PER_CHAT: usize = 1;
    const PER_CHAT_SPAN: chrono::Duration = chrono::Duration::seconds(1);
    const PER_GROUP: usize = 20;
    const PER_GROUP_SPAN: chrono::Duration = chrono::Duration::seconds(60);

    fn new(clock: ManualClock) -> TelegramLimits {
        TelegramLimits {
            clock,
            state: Mutex::new(Checker::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, Checker> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Delivers a post to `chat` at `now` if that stays within every limit
    /// (counting posts in the half-open span `(now - span, now]`).
    fn check_and_record(&self, chat: &ChatRef, now: DateTime<Utc>) -> SendOutcome {
        let mut state = self.state();
        let state = &mut *state;
        state.attempts += 1;
        while state
            .recent
            .front()
            .is_some_and(|&t| t <= now - Self::GLOBAL_SPAN)
        {
            state.recent.pop_front();
        }
        let sent = state.per_chat.get(&chat.chat_id);
        let within = |span: chrono::Duration| {
            sent.map_or(0, |times| times.iter().filter(|&&t| t > now - span).count())
        };
        let group = chat.chat_id.starts_with('-');
        let mut refusal = None;
        if state.recent.len() >= Self::GLOBAL {
            state.violations.global += 1;
            refusal = Some((1, true));
        }
        if within(Self::PER_CHAT_SPAN) >= Self::PER_CHAT {
            state.violations.per_chat += 1;
            refusal = Some((1, false));
        }
        if group && within(Self::PER_GROUP_SPAN) >= Self::PER_GROUP {
            state.violations.per_group += 1;
            refusal = Some((60, false));
        }
        if let Some((secs, global)) = refusal {
            return SendOutcome::RetryAfter {
                after: Duration::from_secs(secs),
                global,
            };
        }
        state.recent.push_back(now);
        state.log.push(now);
        state
            .per_chat
            .entry(chat.chat_id.clone())
            .or_default()
            .push(now);
        SendOutcome::Delivered {
            message_id: state.log.len().to_string(),
        }
    }
}

impl Notifier for TelegramLimits {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn send(&self, chat: &ChatRef, _: &Announcement) -> SendOutcome {
        self.check_and_record(chat, self.clock.now())
    }
}

/// Delivers everything at once; for the engine benchmarks.
struct AlwaysDelivers;

impl Notifier for AlwaysDelivers {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn send(&self, _: &ChatRef, _: &Announcement) -> SendOutcome {
        delivered()
    }
}

/// Each job with the announcement it sends, put together as the dispatcher
/// does before a send; part of the engine's time.
fn with_announcements(jobs: Vec<Job>) -> Vec<(Job, Announcement)> {
    jobs.into_iter()
        .map(|job| {
            let announcement = job.announcement();
            (job, announcement)
        })
        .collect()
}

fn delivered() -> SendOutcome {
    SendOutcome::Delivered {
        message_id: "m".into(),
    }
}

// ---------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------

/// Wall-clock time inside the engine during the simulation.
#[derive(Default)]
struct EngineTime {
    enqueue: Duration,
    take: Duration,
    takes: usize,
    take_empty: Duration,
    takes_empty: usize,
    finish: Duration,
    finishes: usize,
}

impl EngineTime {
    fn total(&self) -> Duration {
        self.enqueue + self.take + self.finish
    }
}

fn per(d: Duration, n: usize) -> Duration {
    d / u32::try_from(n.max(1)).unwrap_or(u32::MAX)
}

/// Most posts in any span of `span` (sliding), from a sorted log.
fn densest(log: &[DateTime<Utc>], span: chrono::Duration) -> usize {
    let mut from = 0;
    let mut most = 0;
    for (i, &t) in log.iter().enumerate() {
        while log[from] <= t - span {
            from += 1;
        }
        most = most.max(i + 1 - from);
    }
    most
}

/// The checker must catch what it is there to catch, or its zero means
/// nothing: 31 posts in one second, two to a chat within a second, and 21
/// to a group within a minute.
fn check_the_checker() {
    let t0 = start();
    let ms = chrono::Duration::milliseconds;
    let chat = |id: String| ChatRef {
        platform: Platform::Telegram,
        chat_id: id,
    };
    let limits = TelegramLimits::new(ManualClock::new(t0));
    for i in 0..30 {
        assert!(matches!(
            limits.check_and_record(&chat(format!("{i}")), t0 + ms(i * 30)),
            SendOutcome::Delivered { .. }
        ));
    }
    let refused = limits.check_and_record(&chat("30".into()), t0 + ms(999));
    assert!(matches!(
        refused,
        SendOutcome::RetryAfter { global: true, .. }
    ));
    // A second after the first post, there is room for one more.
    let again = limits.check_and_record(&chat("31".into()), t0 + ms(1000));
    assert!(matches!(again, SendOutcome::Delivered { .. }));
    let refused = limits.check_and_record(&chat("31".into()), t0 + ms(1999));
    assert!(matches!(
        refused,
        SendOutcome::RetryAfter { global: false, .. }
    ));
    let group = chat("-1001".into());
    for s in 0..20 {
        let at = t0 + chrono::Duration::seconds(10 + 2 * s);
        assert!(matches!(
            limits.check_and_record(&group, at),
            SendOutcome::Delivered { .. }
        ));
    }
    let refused = limits.check_and_record(&group, t0 + chrono::Duration::seconds(69));
    assert!(matches!(refused, SendOutcome::RetryAfter { .. }));
    let v = limits.state().violations;
    assert_eq!((v.global, v.per_chat, v.per_group), (1, 1, 1));
}

fn simulate(audience: Audience) {
    check_the_checker();
    let t0 = start();
    let clock = ManualClock::new(t0);
    let setup = Instant::now();
    let (app, store) = followed_app(&clock, audience);
    let groups = (0..audience.chats).filter(|&i| is_group(i)).count();
    println!(
        "fan-out simulation: {} chats ({} private, {groups} groups) subscribed and {} followers in {:.1?} (not timed)",
        audience.chats,
        audience.chats - groups,
        audience.followers,
        setup.elapsed()
    );
    // From here on every recipient counts as a chat: a follower's private chat is one.
    let chats = audience.total();

    let mut engine = EngineTime::default();
    let started = Instant::now();
    release(&app, RELEASE, chats);
    engine.enqueue = started.elapsed();
    assert_eq!(store.queued(Platform::Telegram), chats);

    let anatomy = read_anatomy(&store, t0);

    let notifier = Arc::new(TelegramLimits::new(clock.clone()));
    let mut dispatcher = Dispatcher::new(
        app.clone(),
        Arc::clone(&notifier),
        DispatchSettings::with_limits(RateLimits::TELEGRAM),
    );
    let step = chrono::Duration::milliseconds(STEP_MS);
    // Ten times the ideal time is a hang, not a slow run.
    let give_up = t0 + chrono::Duration::seconds((chats as i64 / 30 + 1) * 10);
    let mut outcomes = (0usize, 0usize); // (delivered, retried)
    let mut last_delivery = t0;
    let wall = Instant::now();
    while outcomes.0 < chats {
        let now = clock.now();
        assert!(now < give_up, "the outbox did not drain: {outcomes:?}");
        let started = Instant::now();
        let jobs = with_announcements(dispatcher.take(now).expect("take"));
        let took = started.elapsed();
        engine.take += took;
        engine.takes += 1;
        if jobs.is_empty() {
            engine.take_empty += took;
            engine.takes_empty += 1;
        }
        // Sends are recorded per round, as `Dispatcher::run` does.
        let mut round = Vec::with_capacity(jobs.len());
        for (job, announcement) in jobs {
            std::hint::black_box(&announcement);
            let outcome = notifier.check_and_record(&job.chat, now);
            if matches!(outcome, SendOutcome::Delivered { .. }) {
                last_delivery = now;
            }
            round.push((job, outcome));
        }
        if !round.is_empty() {
            let count = round.len();
            let started = Instant::now();
            let tally = dispatcher.finish_all(round, now).expect("finish");
            engine.finish += started.elapsed();
            engine.finishes += count;
            outcomes.0 += tally.delivered;
            outcomes.1 += tally.retried;
        }
        clock.advance(step);
    }
    let wall = wall.elapsed();

    // Every chat got exactly one post, and the store agrees.
    let state = notifier.state();
    assert_eq!(store.queued(Platform::Telegram), 0);
    let recorded: HashSet<ChatRef> = store
        .deliveries(Some(1), usize::MAX)
        .expect("read")
        .delivered
        .into_iter()
        .filter(|d| d.episode == 13 && d.variant == VARIANT)
        .map(|d| d.chat)
        .collect();
    let mut exactly_once = 0;
    for chat in audience.recipients() {
        let posts = state.per_chat.get(&chat.chat_id).map_or(0, Vec::len);
        if posts == 1 && recorded.contains(&chat) {
            exactly_once += 1;
        }
    }

    let simulated = (last_delivery - t0).to_std().unwrap_or_default();
    let secs = simulated.as_secs_f64();
    let rate = chats as f64 / secs;
    // Under "30 in any second" the n-th post can go out at
    // floor((n - 1) / 30) s at the earliest: 333 s for the 10,000th.
    let ideal = ((chats - 1) / 30) as f64;
    let v = state.violations;
    println!(
        "  posts delivered              {} of {chats}",
        state.log.len()
    );
    println!(
        "  chats with exactly one post  {exactly_once} of {chats} (and recorded as delivered)"
    );
    println!(
        "  send attempts                {} ({} answered 429 and retried)",
        state.attempts, outcomes.1
    );
    println!(
        "  violations                   {} (global {}, per chat {}, per group {})",
        v.total(),
        v.global,
        v.per_chat,
        v.per_group
    );
    println!(
        "  busiest spans                {} posts in 1 s overall; at most {} in 1 s to one chat, {} in 60 s to one group",
        densest(&state.log, TelegramLimits::GLOBAL_SPAN),
        state
            .per_chat
            .values()
            .map(|times| densest(times, TelegramLimits::PER_CHAT_SPAN))
            .max()
            .unwrap_or(0),
        state
            .per_chat
            .iter()
            .filter(|(chat, _)| chat.starts_with('-'))
            .map(|(_, times)| densest(times, TelegramLimits::PER_GROUP_SPAN))
            .max()
            .unwrap_or(0)
    );
    println!(
        "  simulated time to deliver    {secs:.2} s (first post at 0 s; the ceiling allows {ideal:.0} s at best)"
    );
    println!(
        "  achieved rate                {rate:.2} posts/s = {:.1} % of 30/s; {:.1} % of the best possible time",
        rate / 30.0 * 100.0,
        ideal / secs * 100.0
    );
    println!(
        "  wall-clock time of the run   {wall:.2?} (+ {:.2?} enqueue)",
        engine.enqueue
    );
    println!("  engine time (wall clock, excluding the simulated waiting):");
    println!(
        "    enqueue (episode command)  {:>10.2?}  {:>9.2?}/job",
        engine.enqueue,
        per(engine.enqueue, chats)
    );
    println!(
        "    take, {:>6} calls         {:>10.2?}  {:>9.2?}/call ({} calls returned nothing: {:.2?}, {:.2?}/call)",
        engine.takes,
        engine.take,
        per(engine.take, engine.takes),
        engine.takes_empty,
        engine.take_empty,
        per(engine.take_empty, engine.takes_empty)
    );
    println!(
        "    finish, {:>6} calls       {:>10.2?}  {:>9.2?}/call",
        engine.finishes,
        engine.finish,
        per(engine.finish, engine.finishes)
    );
    println!(
        "    total                      {:>10.2?}  {:>9.2?}/job",
        engine.total(),
        per(engine.total(), chats)
    );
    let busy = engine.total() - engine.take_empty;
    println!(
        "    without the empty takes    {:>10.2?}  {:>9.2?}/job",
        busy,
        per(busy, chats)
    );
    let floor = sled_floor(chats, 0);
    println!(
        "  baseline: the storage engine alone (sled: the same number of rows, shaped like the"
    );
    println!("  outbox's, written in one transaction, read in order, rewritten one by one)");
    println!(
        "                               {:>10.2?}  {:>9.2?}/job; the engine adds {:.2?}/job above it",
        floor,
        per(floor, chats),
        per(engine.total().saturating_sub(floor), chats)
    );
    println!("  where take's time goes: reading due jobs from the store (queue rows + decoding),");
    for (limit, time) in anatomy {
        println!(
            "    due_jobs(limit {limit:>3})         {time:>9.2?}/call  {:>9.2?}/job read",
            per(time, limit)
        );
    }
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!("  targets:");
    println!(
        "    rate >= 95 % of 30/s       {:.1} %: {}",
        rate / 30.0 * 100.0,
        verdict(rate >= 0.95 * 30.0)
    );
    println!(
        "    0 violations               {}: {}",
        v.total(),
        verdict(v.total() == 0)
    );
    println!(
        "    engine < 20 µs per job     {:.2?}: {}",
        per(engine.total(), chats),
        verdict(per(engine.total(), chats) < Duration::from_micros(20))
    );
    assert_eq!(
        exactly_once, chats,
        "some chat did not get exactly one post"
    );
}

/// What one `take` pays before it looks at the rate limits: the store read
/// of up to `room * 8 + 64` due jobs (192 with the default 16 in flight),
/// against the 16 it can hand out at most. Median of 21 reads each, with
/// the whole outbox queued (the read does not change the store).
fn read_anatomy(store: &Store, now: DateTime<Utc>) -> Vec<(usize, Duration)> {
    [192, 16, 1]
        .into_iter()
        .map(|limit| {
            let mut times: Vec<Duration> = (0..21)
                .map(|_| {
                    let started = Instant::now();
                    let jobs = store
                        .due_jobs(Platform::Telegram, now, limit)
                        .expect("read");
                    let took = started.elapsed();
                    assert_eq!(jobs.len(), limit);
                    took
                })
                .collect();
            times.sort();
            (limit, times[times.len() / 2])
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Criterion: engine cost per job, nothing waiting
// ---------------------------------------------------------------------------

/// Limits no fan-out reaches, so the dispatcher never waits.
const UNLIMITED: RateLimits = RateLimits {
    global: Rate::new(1_000_000, Duration::from_secs(1)),
    per_chat: Rate::new(1_000_000, Duration::from_secs(1)),
    per_group: Rate::new(1_000_000, Duration::from_secs(1)),
};

#[derive(Clone, Copy)]
enum Timed {
    /// The episode command, then take + finish until the outbox is empty.
    All,
    /// The episode command alone.
    Enqueue,
    /// The `take` calls alone.
    Take,
    /// The `finish` calls alone.
    Finish,
}

/// `iters` fan-outs of a release to [`BENCH_CHATS`] chats over one app
/// (set up untimed); returns the time spent in the `timed` part. Each
/// iteration releases a new variant (another episode or audio language),
/// so each queues a full set of new jobs.
fn fanouts(iters: u64, timed: Timed) -> Duration {
    let clock = ManualClock::new(start());
    let (app, _store) = subscribed_app(&clock, BENCH_CHATS);
    let notifier = Arc::new(AlwaysDelivers);
    let mut dispatcher = Dispatcher::new(
        app.clone(),
        notifier,
        DispatchSettings::with_limits(UNLIMITED),
    );
    let mut total = Duration::ZERO;
    for i in 0..iters {
        clock.advance(chrono::Duration::seconds(1));
        let line = format!(
            "/anime admin episode #1 ep={} audio=L{} qualities=1080p",
            i % 13 + 1,
            i / 13
        );
        let started = Instant::now();
        release(&app, &line, BENCH_CHATS);
        let enqueued = started.elapsed();
        let now = clock.now();
        let (mut took, mut finished) = (Duration::ZERO, Duration::ZERO);
        let mut sent = 0;
        loop {
            let started = Instant::now();
            let jobs = with_announcements(dispatcher.take(now).expect("take"));
            took += started.elapsed();
            if jobs.is_empty() {
                break;
            }
            let round: Vec<_> = jobs
                .into_iter()
                .map(|(job, announcement)| {
                    std::hint::black_box(&announcement);
                    (job, delivered())
                })
                .collect();
            let started = Instant::now();
            let tally = dispatcher.finish_all(round, now).expect("finish");
            finished += started.elapsed();
            sent += tally.delivered;
        }
        assert_eq!(sent, BENCH_CHATS);
        total += match timed {
            Timed::All => enqueued + took + finished,
            Timed::Enqueue => enqueued,
            Timed::Take => took,
            Timed::Finish => finished,
        };
    }
    total
}

/// The baseline: what the storage engine alone costs for `jobs` jobs. The
/// rows a fan-out needs, with the outbox's key and record sizes (a 53-byte
/// queue key, 16-byte records), in a temporary sled database of their own:
/// written in one transaction (queueing), read in key order (taking), and
/// each overwritten by a delivered record (finishing). No engine logic,
/// no look-ups, no encoding. `batch` makes the keys of each call distinct,
/// so one database can take many calls, as the engine's store does.
fn sled_floor_in(tree: &sled::Tree, jobs: usize, batch: u64) -> Duration {
    let key = |i: usize| -> Vec<u8> {
        let mut key = vec![b'd', 1];
        key.extend_from_slice(&(1_790_000_000_000 + batch).to_be_bytes());
        key.extend_from_slice(&1u64.to_be_bytes());
        key.extend_from_slice(&13u32.to_be_bytes());
        key.extend_from_slice(format!("audio:tamil\0telegram:{:09}", 100_000_000 + i).as_bytes());
        key.push(0);
        key
    };
    let queued = [1u8; 16];
    let delivered = [2u8; 16];
    let started = Instant::now();
    tree.transaction(|tx| {
        for i in 0..jobs {
            tx.insert(key(i), &queued[..])?;
        }
        Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
    })
    .expect("the transaction should commit");
    let mut start = vec![b'd', 1];
    start.extend_from_slice(&(1_790_000_000_000 + batch).to_be_bytes());
    let read = tree.range(start..).take(jobs).count();
    assert_eq!(read, jobs);
    for i in 0..jobs {
        tree.insert(key(i), &delivered[..])
            .expect("the overwrite should land");
    }
    started.elapsed()
}

fn sled_floor(jobs: usize, batch: u64) -> Duration {
    let db = sled::Config::new()
        .temporary(true)
        .open()
        .expect("a temporary sled database should open");
    let tree = db.open_tree("jobs").expect("a tree should open");
    sled_floor_in(&tree, jobs, batch)
}

/// `iters` rounds of [`sled_floor_in`] for [`BENCH_CHATS`] jobs over one
/// database, as [`fanouts`] does over one app.
fn sled_floors(iters: u64) -> Duration {
    let db = sled::Config::new()
        .temporary(true)
        .open()
        .expect("a temporary sled database should open");
    let tree = db.open_tree("jobs").expect("a tree should open");
    (0..iters)
        .map(|i| sled_floor_in(&tree, BENCH_CHATS, i))
        .sum()
}

/// True under `cargo bench`; false under `cargo test --benches`, where
/// criterion runs each benchmark once and the simulation is made small.
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

fn main() {
    let listing = std::env::args().any(|a| a == "--list");
    if !listing {
        // 10,000 chats; then 1,000 chats and 10,000 people following the title.
        let (chats, followers) = if benchmarking() {
            (CHATS, FOLLOWERS)
        } else {
            (300, 300)
        };
        simulate(Audience {
            chats,
            followers: 0,
        });
        simulate(Audience {
            chats: chats / 10,
            followers,
        });
    }

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("fanout");
    // One iteration fans out to 1,000 chats: throughput reads as jobs/s,
    // and the time per element is the engine's cost per job.
    group
        .throughput(Throughput::Elements(BENCH_CHATS as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    for (name, timed) in [
        ("engine_per_job", Timed::All),
        ("enqueue", Timed::Enqueue),
        ("take", Timed::Take),
        ("finish", Timed::Finish),
    ] {
        group.bench_function(name, |b| b.iter_custom(|iters| fanouts(iters, timed)));
    }
    group.bench_function("sled_floor", |b| b.iter_custom(sled_floors));
    group.finish();
    c.final_summary();
}
