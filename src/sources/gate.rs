//! A source's gate: its request budget, the pauses a service imposes (429,
//! `X-RateLimit-Remaining: 0`, 403) or that failures call for (backoff), its
//! health, and the one log line per change of health.
//!
//! The budget counts a request from the moment it is sent until its answer is
//! read, and then dates it at the answer: the service saw it at some instant
//! in between, so a request sent a whole window after that date can never
//! land in the service's window with it, however the network delays it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;

use super::SourceSettings;
use crate::core::source::{SourceError, SourceId, SourceStatus};

/// One request counted against the budget.
struct Slot {
    id: u64,
    /// When it was sent, then (once answered) when its answer was read.
    at: Instant,
    in_flight: bool,
}

#[derive(Default)]
struct State {
    slots: Vec<Slot>,
    next_id: u64,
    /// After a 429: no request until then (degraded).
    locked_until: Option<Instant>,
    /// After `X-RateLimit-Remaining: 0`: the service's window is full (not
    /// a fault, the budget simply ran out).
    paused_until: Option<Instant>,
    /// After a 403: refused without sending until then, and why.
    disabled: Option<(Instant, String)>,
    /// After a failure: the next request waits until then.
    backoff_until: Option<Instant>,
    /// Failures in a row (0: the last answer was good).
    failures: u32,
    last_error: Option<String>,
    requests: u64,
    rate_limited: u64,
    errors: u64,
    /// The health last logged, so a change is logged once.
    logged_healthy: bool,
}

/// What holds a call back.
enum Hold {
    Budget,
    Locked,
    Backoff,
}

/// What [`Gate::try_take`] decided.
enum Take<'a> {
    Now(Ticket<'a>),
    After(Duration, Hold),
    Never(SourceError),
}

/// See the module docs. One per source; calls share it concurrently.
pub(super) struct Gate {
    source: SourceId,
    settings: SourceSettings,
    state: Mutex<State>,
}

/// A request's place in the budget. Dropping it dates the request at the
/// moment it is dropped (its answer read, or the call abandoned).
pub(super) struct Ticket<'a> {
    gate: &'a Gate,
    id: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let now = Instant::now();
        let mut st = self.gate.lock();
        if let Some(slot) = st.slots.iter_mut().find(|s| s.id == self.id) {
            slot.at = now;
            slot.in_flight = false;
        }
    }
}

impl Gate {
    pub(super) fn new(source: SourceId, settings: SourceSettings) -> Gate {
        Gate {
            source,
            settings,
            state: Mutex::new(State {
                logged_healthy: true,
                ..State::default()
            }),
        }
    }

    pub(super) fn settings(&self) -> &SourceSettings {
        &self.settings
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for room to send one request, at most `max_wait`; refuses at
    /// once when the wait would be longer or the service is switched off.
    pub(super) async fn acquire(&self) -> Result<Ticket<'_>, SourceError> {
        let deadline = Instant::now() + self.settings.max_wait;
        loop {
            let now = Instant::now();
            let (wait, hold) = match self.try_take(now) {
                Take::Now(ticket) => return Ok(ticket),
                Take::After(wait, hold) => (wait, hold),
                Take::Never(refused) => return Err(refused),
            };
            if now + wait > deadline {
                return Err(self.refusal(wait, hold));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// A ticket now, or how long to wait and why, or a refusal.
    fn try_take(&self, now: Instant) -> Take<'_> {
        let mut st = self.lock();
        let longest = self.longest_window();
        st.slots.retain(|s| s.in_flight || s.at + longest > now);
        if let Some((until, why)) = &st.disabled
            && *until > now
        {
            return Take::Never(SourceError::Disabled(why.clone()));
        }
        let mut held = (Duration::ZERO, Hold::Budget);
        let mut hold = |until: Option<Instant>, kind: Hold| {
            if let Some(until) = until
                && until > now
                && until - now > held.0
            {
                held = (until - now, kind);
            }
        };
        hold(st.locked_until, Hold::Locked);
        hold(st.paused_until, Hold::Budget);
        hold(st.backoff_until, Hold::Backoff);
        hold(self.budget_free_at(&st, now), Hold::Budget);
        if !held.0.is_zero() {
            return Take::After(held.0, held.1);
        }
        let id = st.next_id;
        st.next_id += 1;
        st.requests += 1;
        st.slots.push(Slot {
            id,
            at: now,
            in_flight: true,
        });
        Take::Now(Ticket { gate: self, id })
    }

    fn refusal(&self, wait: Duration, hold: Hold) -> SourceError {
        match hold {
            Hold::Budget | Hold::Locked => SourceError::RateLimited { retry_after: wait },
            Hold::Backoff => {
                let st = self.lock();
                let cause = st.last_error.as_deref().unwrap_or("a failure");
                SourceError::Transient(format!(
                    "backing off for {}s after {cause}",
                    wait.as_secs_f64().ceil()
                ))
            }
        }
    }

    fn longest_window(&self) -> Duration {
        self.settings
            .limits
            .iter()
            .map(|l| l.per)
            .max()
            .unwrap_or_default()
    }

    /// When the budget has room again (`None`: it has room now). A request
    /// in flight counts in every window until its answer dates it.
    fn budget_free_at(&self, st: &State, now: Instant) -> Option<Instant> {
        let mut free_at: Option<Instant> = None;
        for limit in &self.settings.limits {
            let in_flight = st.slots.iter().filter(|s| s.in_flight).count();
            let mut done: Vec<Instant> = st
                .slots
                .iter()
                .filter(|s| !s.in_flight && s.at + limit.per > now)
                .map(|s| s.at)
                .collect();
            let used = in_flight + done.len();
            let allowed = limit.requests as usize;
            if used < allowed {
                continue;
            }
            // The oldest `used - allowed + 1` answered requests must leave the
            // window; while too many are still in flight, look again shortly
            // (their answers will date them).
            done.sort();
            let at = match done.get(used - allowed) {
                Some(at) => *at + limit.per,
                None => now + limit.per.min(Duration::from_millis(50)),
            };
            free_at = Some(free_at.map_or(at, |f| f.max(at)));
        }
        free_at
    }

    /// Budget left in the tightest window.
    fn budget_left(&self, st: &State, now: Instant) -> u32 {
        self.settings
            .limits
            .iter()
            .map(|limit| {
                let used = st
                    .slots
                    .iter()
                    .filter(|s| s.in_flight || s.at + limit.per > now)
                    .count();
                limit.requests.saturating_sub(used as u32)
            })
            .min()
            .unwrap_or(u32::MAX)
    }

    // ----- outcomes -----

    /// A usable answer: failures and backoff are over.
    pub(super) fn succeeded(&self) {
        let mut st = self.lock();
        st.failures = 0;
        st.last_error = None;
        st.backoff_until = None;
        self.log_change(&mut st);
    }

    /// A 5xx, a timeout, a dropped connection or a malformed answer: back
    /// off exponentially, with jitter so that restarts do not synchronise.
    pub(super) fn failed(&self, err: &SourceError) {
        let mut st = self.lock();
        st.errors += 1;
        st.failures = st.failures.saturating_add(1);
        st.last_error = Some(err.to_string());
        let doubling = 2u32.saturating_pow(st.failures.saturating_sub(1).min(20));
        let delay = self
            .settings
            .backoff
            .saturating_mul(doubling)
            .min(self.settings.max_backoff);
        st.backoff_until = Some(Instant::now() + jittered(delay));
        self.log_change(&mut st);
    }

    /// A 429: no request until `retry_after` has passed.
    pub(super) fn rate_limited(&self, retry_after: Duration) {
        let mut st = self.lock();
        st.rate_limited += 1;
        st.locked_until = Some(Instant::now() + retry_after);
        self.log_change(&mut st);
    }

    /// The service's window is full (`X-RateLimit-Remaining: 0`): pause until
    /// the oldest request this gate knows of leaves the longest window.
    pub(super) fn window_full(&self) {
        let mut st = self.lock();
        let now = Instant::now();
        let longest = self.longest_window();
        let oldest = st.slots.iter().map(|s| s.at).min().unwrap_or(now);
        st.paused_until = Some((oldest + longest).max(now));
    }

    /// A 403: refuse without sending for `disabled_for`.
    pub(super) fn disabled(&self, why: &str) {
        let mut st = self.lock();
        st.errors += 1;
        st.disabled = Some((Instant::now() + self.settings.disabled_for, why.to_owned()));
        self.log_change(&mut st);
    }

    // ----- health -----

    pub(super) fn status(&self) -> SourceStatus {
        let mut st = self.lock();
        self.log_change(&mut st);
        let now = Instant::now();
        let detail = detail(&st, now);
        SourceStatus {
            requests: st.requests,
            rate_limited: st.rate_limited,
            errors: st.errors,
            budget_left: self.budget_left(&st, now),
            healthy: detail.is_none(),
            detail,
        }
    }

    /// Logs once per change of health, at warn going down and info coming
    /// back, never per request.
    fn log_change(&self, st: &mut State) {
        let detail = detail(st, Instant::now());
        let healthy = detail.is_none();
        if healthy == st.logged_healthy {
            return;
        }
        st.logged_healthy = healthy;
        let source = self.source.as_str();
        match detail {
            Some(cause) => tracing::warn!(source, cause = %cause, "the source is degraded"),
            None => tracing::info!(source, "the source is healthy again"),
        }
    }
}

/// Why a source is degraded, in a few words; `None` when it is healthy.
fn detail(st: &State, now: Instant) -> Option<String> {
    let secs = |until: Instant| (until - now).as_secs_f64().ceil();
    if let Some((until, why)) = &st.disabled
        && *until > now
    {
        return Some(format!(
            "switched off ({why}); not asking for {}s",
            secs(*until)
        ));
    }
    if let Some(until) = st.locked_until
        && until > now
    {
        return Some(format!("locked out for {}s after a 429", secs(until)));
    }
    if st.failures > 0 {
        let cause = st.last_error.as_deref().unwrap_or("an error");
        return Some(format!("{} failure(s) in a row: {cause}", st.failures));
    }
    None
}

/// `delay` scaled by a random factor in [0.5, 1): "equal jitter", which
/// keeps at least half the backoff while spreading retries apart.
fn jittered(delay: Duration) -> Duration {
    // RandomState is seeded randomly per process and per instance: enough
    // randomness for jitter without a dependency.
    let bits = RandomState::new().hash_one(0u8);
    let fraction = (bits >> 11) as f64 / (1u64 << 53) as f64;
    delay.mul_f64(0.5 + fraction / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::RateLimit;

    fn gate(limits: Vec<RateLimit>, max_wait: Duration) -> Gate {
        Gate::new(
            SourceId::AniList,
            SourceSettings {
                limits,
                max_wait,
                ..SourceSettings::anilist()
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn the_budget_waits_within_max_wait_then_refuses() {
        let limit = RateLimit {
            requests: 2,
            per: Duration::from_secs(1),
        };
        let gate = gate(vec![limit], Duration::from_millis(1500));
        let start = Instant::now();
        drop(gate.acquire().await.expect("first"));
        drop(gate.acquire().await.expect("second"));
        drop(gate.acquire().await.expect("third waits for the window"));
        assert!(start.elapsed() >= Duration::from_secs(1));
        assert_eq!(
            gate.status().budget_left,
            1,
            "the first two left the window"
        );
        let strict = self::gate(vec![limit], Duration::from_millis(100));
        drop(strict.acquire().await.expect("first"));
        drop(strict.acquire().await.expect("second"));
        assert!(matches!(
            strict.acquire().await,
            Err(SourceError::RateLimited { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_holds_its_place() {
        let gate = gate(vec![RateLimit::per_minute(1)], Duration::ZERO);
        let ticket = gate.acquire().await.expect("first");
        tokio::time::advance(Duration::from_secs(120)).await;
        assert!(gate.acquire().await.is_err(), "still in flight");
        drop(ticket);
        assert!(gate.acquire().await.is_err(), "dated at its answer");
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(gate.acquire().await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_and_a_success_heals() {
        let gate = gate(vec![RateLimit::per_minute(30)], Duration::ZERO);
        gate.failed(&SourceError::Transient("HTTP 503".into()));
        let status = gate.status();
        assert!(!status.healthy);
        assert_eq!(status.errors, 1);
        assert!(matches!(
            gate.acquire().await,
            Err(SourceError::Transient(m)) if m.contains("HTTP 503")
        ));
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(gate.acquire().await.expect("the backoff is over"));
        gate.succeeded();
        assert!(gate.status().healthy);
    }

    #[tokio::test(start_paused = true)]
    async fn lock_outs_and_switch_offs_refuse_without_sending() {
        let gate = gate(vec![RateLimit::per_minute(30)], Duration::ZERO);
        gate.rate_limited(Duration::from_secs(60));
        assert!(matches!(
            gate.acquire().await,
            Err(SourceError::RateLimited { retry_after }) if retry_after == Duration::from_secs(60)
        ));
        assert_eq!(gate.status().rate_limited, 1);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(gate.status().healthy);
        gate.disabled("The AniList API has been disabled.");
        assert!(matches!(
            gate.acquire().await,
            Err(SourceError::Disabled(_))
        ));
        assert_eq!(gate.status().requests, 0);
    }

    #[test]
    fn jitter_keeps_at_least_half() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(8));
            assert!(d >= Duration::from_secs(4) && d < Duration::from_secs(8));
        }
    }
}
