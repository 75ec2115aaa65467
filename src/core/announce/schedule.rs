//! Broadcast schedules: ISO-8601 repeating intervals such as
//! `R/2024-01-10T16:25:00.000Z/P7D` (bangumi-data's form), turned into
//! numbered episode air times, and time-zone rendering for chats.

use std::str::FromStr;

use chrono::{DateTime, Duration, Months, TimeZone, Utc};
use chrono_tz::Tz;

/// Why a broadcast rule or time zone was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("\"{0}\" is not a repeating interval like R/2024-01-10T16:25:00Z/P7D")]
    Rule(String),
    #[error("\"{0}\" is not a time zone; use an IANA name such as Asia/Kolkata or Europe/Berlin")]
    TimeZone(String),
}

/// A parsed repeating interval: the first air time, the period, and an
/// optional repetition count (`R13/…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub start: DateTime<Utc>,
    months: u32,
    seconds: i64,
    count: Option<u32>,
}

/// Where a schedule stops besides its own count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bounds {
    /// The last air time (bangumi-data's `end`); a little slack allows for a
    /// stream that airs some minutes after the broadcast it ends with.
    pub ends: Option<DateTime<Utc>>,
    /// The entry's episode count.
    pub episodes: Option<u32>,
}

impl FromStr for Rule {
    type Err = ScheduleError;

    fn from_str(text: &str) -> Result<Rule, ScheduleError> {
        let bad = || ScheduleError::Rule(text.to_owned());
        let mut parts = text.trim().split('/');
        let (Some(r), Some(start), Some(period), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let count = match r.strip_prefix('R').ok_or_else(bad)? {
            "" => None,
            n => Some(n.parse::<u32>().map_err(|_| bad())?),
        };
        let start = DateTime::parse_from_rfc3339(start)
            .map_err(|_| bad())?
            .with_timezone(&Utc);
        let (months, seconds) = parse_duration(period).ok_or_else(bad)?;
        // A zero period (bangumi-data's `P0D`) is a single airing.
        let count = if months == 0 && seconds == 0 {
            Some(1)
        } else {
            count
        };
        Ok(Rule {
            start,
            months,
            seconds,
            count,
        })
    }
}

/// `P1M`, `P7D`, `P1W`, `PT12H`, `P1DT2H30M` → (months, seconds).
fn parse_duration(text: &str) -> Option<(u32, i64)> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut months: u32 = 0;
    let mut seconds: i64 = 0;
    for (value, unit) in units(date)? {
        match unit {
            'Y' => months = months.checked_add(value.checked_mul(12)?)?,
            'M' => months = months.checked_add(value)?,
            'W' => seconds = seconds.checked_add(i64::from(value) * 7 * 86_400)?,
            'D' => seconds = seconds.checked_add(i64::from(value) * 86_400)?,
            _ => return None,
        }
    }
    if let Some(time) = time {
        for (value, unit) in units(time)? {
            let scale = match unit {
                'H' => 3_600,
                'M' => 60,
                'S' => 1,
                _ => return None,
            };
            seconds = seconds.checked_add(i64::from(value) * scale)?;
        }
    }
    Some((months, seconds))
}

/// `7D12H` → [(7, 'D'), (12, 'H')].
fn units(text: &str) -> Option<Vec<(u32, char)>> {
    let mut out = Vec::new();
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
        } else {
            out.push((number.parse().ok()?, c));
            number.clear();
        }
    }
    number.is_empty().then_some(out)
}

impl Rule {
    /// A rule that never repeats, starting at `start`: the stand-in primary
    /// of an entry only a source's listing schedules.
    pub fn never(start: DateTime<Utc>) -> Rule {
        Rule {
            start,
            months: 0,
            seconds: 7 * 86_400,
            count: Some(0),
        }
    }

    /// The air time of the `k`-th repetition (0 is the first).
    pub fn nth(&self, k: u32) -> Option<DateTime<Utc>> {
        let shifted = self
            .start
            .checked_add_months(Months::new(self.months.checked_mul(k)?))?;
        shifted.checked_add_signed(Duration::try_seconds(
            self.seconds.checked_mul(i64::from(k))?,
        )?)
    }

    /// How many times it repeats, when the rule says (`R13/…`, or 1 for a
    /// zero period).
    pub fn count(&self) -> Option<u32> {
        self.count
    }

    /// The shortest time between two repetitions.
    pub fn min_period(&self) -> Duration {
        Duration::seconds(i64::from(self.months) * 28 * 86_400 + self.seconds)
    }

    /// The longest time between two repetitions.
    pub fn max_period(&self) -> Duration {
        Duration::seconds(i64::from(self.months) * 31 * 86_400 + self.seconds)
    }

    /// The first repetition that cannot be later than the first one after
    /// `after` (a jump close to it, so a scan needs few steps).
    fn first_candidate(&self, after: DateTime<Utc>) -> u32 {
        if after < self.start {
            return 0;
        }
        let steps = (after - self.start).num_seconds() / self.max_period().num_seconds().max(1);
        u32::try_from(steps).unwrap_or(u32::MAX)
    }

    /// Every repetition after `after`, as (k, air time), earliest first,
    /// to the rule's own count.
    pub fn repetitions_after(
        &self,
        after: DateTime<Utc>,
    ) -> impl Iterator<Item = (u32, DateTime<Utc>)> + '_ {
        let count = self.count.unwrap_or(u32::MAX);
        (self.first_candidate(after)..count)
            .map_while(|k| self.nth(k).map(|at| (k, at)))
            .filter(move |(_, at)| *at > after)
    }

    /// The last repetition airing at or before `at`, if any.
    pub fn index_at_or_before(&self, at: DateTime<Utc>) -> Option<u32> {
        let mut k = self.first_candidate(at);
        while k > 0 && self.nth(k).is_none_or(|t| t > at) {
            k -= 1;
        }
        let count = self.count.unwrap_or(u32::MAX);
        while k + 1 < count && self.nth(k + 1).is_some_and(|t| t <= at) {
            k += 1;
        }
        self.nth(k).filter(|t| *t <= at).map(|_| k)
    }

    /// Numbered episodes (1-based) airing in `(after, until]`, within `bounds`.
    pub fn episodes_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        bounds: Bounds,
    ) -> Vec<(u32, DateTime<Utc>)> {
        let slack = (self.min_period() / 2).min(Duration::days(1));
        let last_episode = [self.count, bounds.episodes].into_iter().flatten().min();
        let mut k = self.first_candidate(after);
        let mut out = Vec::new();
        while let Some(at) = self.nth(k) {
            let episode = k.saturating_add(1);
            if at > until
                || last_episode.is_some_and(|last| episode > last)
                || bounds.ends.is_some_and(|end| at > end + slack)
            {
                break;
            }
            if at > after {
                out.push((episode, at));
            }
            k = match k.checked_add(1) {
                Some(next) => next,
                None => break,
            };
        }
        out
    }

    /// The next episode airing after `now`, if any.
    pub fn next_after(&self, now: DateTime<Utc>, bounds: Bounds) -> Option<(u32, DateTime<Utc>)> {
        let horizon = now + self.max_period() + Duration::days(1);
        self.episodes_between(now, horizon, bounds)
            .into_iter()
            .next()
    }
}

/// Parses an IANA time zone name.
pub fn time_zone(name: &str) -> Result<Tz, ScheduleError> {
    let name = name.trim();
    name.parse::<Tz>()
        .or_else(|_| Tz::from_str_insensitive(name))
        .map_err(|_| ScheduleError::TimeZone(name.to_owned()))
}

/// `2024-01-11 01:25 JST` for a chat in `tz`.
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    tz.from_utc_datetime(&at.naive_utc())
        .format("%Y-%m-%d %H:%M %Z")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn parses_bangumi_data_rules() {
        let rule: Rule = "R/2024-01-10T16:25:00.000Z/P7D".parse().expect("rule");
        assert_eq!(rule.nth(0), Some(utc("2024-01-10T16:25:00Z")));
        assert_eq!(rule.nth(12), Some(utc("2024-04-03T16:25:00Z")));
        let monthly: Rule = "R/2020-01-31T00:00:00Z/P1M".parse().expect("rule");
        assert_eq!(monthly.nth(1), Some(utc("2020-02-29T00:00:00Z")));
        let counted: Rule = "R3/2024-01-01T00:00:00+09:00/PT12H".parse().expect("rule");
        assert_eq!(counted.count, Some(3));
        assert_eq!(counted.nth(1), Some(utc("2024-01-01T03:00:00Z")));
        let once: Rule = "R/2024-01-10T16:25:00.000Z/P0D".parse().expect("rule");
        let all = once.episodes_between(
            utc("2000-01-01T00:00:00Z"),
            utc("2030-01-01T00:00:00Z"),
            Bounds::default(),
        );
        assert_eq!(all, [(1, utc("2024-01-10T16:25:00Z"))]);
        for bad in [
            "",
            "R/",
            "2024-01-10T16:25:00Z/P7D",
            "R/yesterday/P7D",
            "R/2024-01-10T16:25:00Z/7D",
            "Rx/2024-01-10T16:25:00Z/P7D",
            "R/2024-01-10T16:25:00Z/P7D/x",
        ] {
            assert!(bad.parse::<Rule>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_seed_entry_airs_thirteen_weekly_episodes() {
        let rule: Rule = "R/2024-01-10T16:25:00.000Z/P7D".parse().expect("rule");
        let bounds = Bounds {
            ends: Some(utc("2024-04-03T16:25:00Z")),
            episodes: Some(13),
        };
        let all = rule.episodes_between(
            utc("2000-01-01T00:00:00Z"),
            utc("2030-01-01T00:00:00Z"),
            bounds,
        );
        assert_eq!(all.len(), 13);
        assert_eq!(all[12], (13, utc("2024-04-03T16:25:00Z")));
        let window = rule.episodes_between(
            utc("2024-01-17T16:25:00Z"),
            utc("2024-01-31T16:25:00Z"),
            bounds,
        );
        assert_eq!(window.iter().map(|e| e.0).collect::<Vec<_>>(), [3, 4]);
        assert_eq!(
            rule.next_after(utc("2024-02-01T00:00:00Z"), bounds),
            Some((5, utc("2024-02-07T16:25:00Z")))
        );
        assert_eq!(rule.next_after(utc("2024-04-04T00:00:00Z"), bounds), None);
    }

    #[test]
    fn a_stream_a_little_after_the_broadcast_end_keeps_its_last_episode() {
        let rule: Rule = "R/2024-01-10T17:00:09.000Z/P7D".parse().expect("rule");
        let bounds = Bounds {
            ends: Some(utc("2024-04-03T16:25:00Z")),
            episodes: None,
        };
        let all = rule.episodes_between(
            utc("2000-01-01T00:00:00Z"),
            utc("2030-01-01T00:00:00Z"),
            bounds,
        );
        assert_eq!(all.len(), 13);
    }

    #[test]
    fn time_zones_render_local_time_across_daylight_saving() {
        let ny = time_zone("America/New_York").expect("zone");
        // The same UTC slot is 11:25 before the March change and 12:25 after it.
        assert_eq!(
            local_time(utc("2024-03-06T16:25:00Z"), ny),
            "2024-03-06 11:25 EST"
        );
        assert_eq!(
            local_time(utc("2024-03-13T16:25:00Z"), ny),
            "2024-03-13 12:25 EDT"
        );
        assert!(time_zone("Mars/Olympus_Mons").is_err());
        assert!(time_zone("").is_err());
    }
}
