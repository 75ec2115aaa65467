//! Which episode airs when: an entry's broadcast rules projected into its
//! episodes, only as far as the evidence goes.
//!
//! - An episode number belongs to the entry. The primary rule (the `tv`
//!   broadcast, else the first one) numbers the episodes; every other
//!   stream only shifts *when* an episode is watchable there (its offset
//!   from the primary), or drops the whole season at once.
//! - A projection stops at the entry's episode count when it is known.
//!   When it is not, it runs at most one cour ([`COUR`] episodes) past the
//!   latest evidence — the first airing, or the latest release an owner,
//!   an import or a source recorded — unless an owner said the show
//!   continues (`airing=ongoing`, with `current=<n>` to anchor the
//!   numbers). A show that continues without an anchor airs unnumbered.
//! - A rule with a zero period (`P0D`) is the whole season at once.

use chrono::{DateTime, Duration, Utc};

use super::schedule::Rule;
use crate::core::catalog::model::{Entry, ListedAiring, Unit};

/// Episodes a season (a cour) runs when nothing says more.
pub const COUR: u32 = 13;

/// A stream whose rule starts this long after the primary's first airing
/// still starts with episode 1 (a delayed simulcast); one that starts
/// later, within the run, picks it up at the episode airing then.
const LATE_START: i64 = 28;

/// How a stream's airings follow the primary's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timing {
    /// Each episode this long after its primary airing (negative: before).
    Offset(Duration),
    /// The whole season at once, at this time.
    WholeSeason(DateTime<Utc>),
}

/// How a primary repetition becomes an episode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Numbering {
    /// Repetition `k` is episode `k + 1`.
    FromStart,
    /// Repetition `k` is episode `episode` (an owner's anchor).
    Anchored { k: u32, episode: u32 },
    /// Episodes air, but nothing vouches for their numbers.
    Unnumbered,
}

/// What a primary repetition is.
enum Step {
    Airs(u32, Unit),
    /// Before episode 1 (an anchor counts back to it).
    Before,
    /// Past the last episode the evidence allows.
    Past,
}

/// One projected airing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Airing {
    /// The episode's number; for an unnumbered one, only an identity (the
    /// primary repetition, counted from 1); 0 for a whole season.
    pub number: u32,
    pub unit: Unit,
    pub at: DateTime<Utc>,
    /// The stream it airs on (`tv`, or a site key).
    pub stream: String,
}

/// An entry's projected schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    rule: Rule,
    /// The primary's stream name.
    primary: String,
    /// The primary's last air time, when the data gives one.
    ends: Option<DateTime<Utc>>,
    numbering: Numbering,
    /// The last episode number projected; `None` when the show continues.
    last: Option<u32>,
    /// The primary rule is a single airing of every episode.
    whole_season: bool,
    /// Every stream but the primary, with its timing.
    streams: Vec<(String, Timing)>,
    /// The primary's airings a source listed, in time order: they decide
    /// numbers and times up to the last of them; the rule goes on after.
    listed: Vec<ListedAiring>,
}

impl Projection {
    /// The projection of `entry`'s broadcasts and listed airings, if it
    /// has a readable rule or a listing.
    pub fn of(entry: &Entry) -> Option<Projection> {
        let mut listed = entry.listed_airings.clone();
        listed.sort_by_key(|a| (a.at, a.episode));
        let broadcast = entry
            .broadcasts
            .iter()
            .find(|b| b.platform == "tv")
            .or_else(|| entry.broadcasts.first());
        let (rule, primary, ends) =
            match broadcast.and_then(|b| Some((b, b.rule.parse::<Rule>().ok()?))) {
                Some((b, rule)) => (rule, b.platform.clone(), b.ends),
                None => (Rule::never(listed.first()?.at), "tv".to_owned(), None),
            };
        let whole_season = rule.count() == Some(1) && entry.episodes != Some(1);
        let (numbering, last) = match (entry.ongoing, entry.episodes) {
            (Some(ongoing), episodes) => {
                let numbering = match ongoing.current {
                    Some(episode) => Numbering::Anchored {
                        k: rule.index_at_or_before(ongoing.as_of).unwrap_or(0),
                        episode,
                    },
                    None => Numbering::Unnumbered,
                };
                (numbering, episodes)
            }
            (None, count) => {
                // The latest release not made by this projection itself (or
                // the latest a source listed); without one, the first
                // airing: the first cour.
                let evidence = entry
                    .releases
                    .iter()
                    .filter(|r| !r.from_schedule && r.unit == Unit::Episode)
                    .map(|r| r.number)
                    .chain(listed.iter().map(|a| a.episode))
                    .max()
                    .unwrap_or(0);
                let numbering = match listed.last() {
                    // The rule goes on from the last listed airing.
                    Some(last) => Numbering::Anchored {
                        k: rule
                            .index_at_or_before(last.at + rule.min_period() / 2)
                            .unwrap_or(0),
                        episode: last.episode,
                    },
                    None => Numbering::FromStart,
                };
                (
                    numbering,
                    Some(count.unwrap_or(evidence.saturating_add(COUR))),
                )
            }
        };
        let rule_count = match numbering {
            Numbering::FromStart => rule.count(),
            _ => None,
        };
        let mut projection = Projection {
            rule,
            primary,
            ends,
            numbering,
            last: [last, rule_count].into_iter().flatten().min(),
            whole_season,
            streams: Vec::new(),
            listed,
        };
        let last_at = projection.last_primary_airing();
        for other in entry.broadcasts.iter().filter(|_| broadcast.is_some()) {
            if other.platform == projection.primary {
                continue;
            }
            let Ok(stream) = other.rule.parse::<Rule>() else {
                continue;
            };
            let timing = projection.timing_of(&stream, last_at);
            projection.streams.push((other.platform.clone(), timing));
        }
        Some(projection)
    }

    /// How a stream's rule follows the primary's.
    fn timing_of(&self, stream: &Rule, last_at: Option<DateTime<Utc>>) -> Timing {
        if stream.count() == Some(1) && !self.whole_season {
            return Timing::WholeSeason(stream.start);
        }
        let since = stream.start - self.rule.start;
        let after_the_run = last_at.is_some_and(|last| stream.start > last);
        if since <= Duration::days(LATE_START) || after_the_run {
            return Timing::Offset(since);
        }
        match self.rule.index_at_or_before(stream.start) {
            Some(k) => Timing::Offset(stream.start - self.rule.nth(k).unwrap_or(stream.start)),
            None => Timing::Offset(since),
        }
    }

    /// What primary repetition `k` is: an episode (its number and unit),
    /// before the first numbered one, or past the last.
    fn number(&self, k: u32) -> Step {
        if self.whole_season {
            return if k == 0 {
                Step::Airs(0, Unit::WholeSeason)
            } else {
                Step::Past
            };
        }
        let (number, unit) = match self.numbering {
            Numbering::FromStart => (i64::from(k) + 1, Unit::Episode),
            Numbering::Anchored { k: at, episode } => (
                i64::from(episode) + i64::from(k) - i64::from(at),
                Unit::Episode,
            ),
            Numbering::Unnumbered => (i64::from(k) + 1, Unit::Unnumbered),
        };
        let Ok(number) = u32::try_from(number) else {
            return if number < 1 { Step::Before } else { Step::Past };
        };
        if number < 1 {
            Step::Before
        } else if unit == Unit::Episode && self.last.is_some_and(|last| number > last) {
            Step::Past
        } else {
            Step::Airs(number, unit)
        }
    }

    /// Whether primary repetition `k`, airing at `at`, is still within the
    /// data's end date.
    fn within_end(&self, at: DateTime<Utc>) -> bool {
        let slack = (self.rule.min_period() / 2).min(Duration::days(1));
        self.ends.is_none_or(|end| at <= end + slack)
    }

    /// When the last projected primary episode airs; `None` when the show
    /// continues without a bound.
    fn last_primary_airing(&self) -> Option<DateTime<Utc>> {
        if self.whole_season {
            return Some(self.rule.start);
        }
        let last = self.last?;
        let k = match self.numbering {
            Numbering::FromStart => last.checked_sub(1)?,
            Numbering::Anchored { k, episode } => {
                u32::try_from(i64::from(k) + i64::from(last) - i64::from(episode)).ok()?
            }
            Numbering::Unnumbered => return None,
        };
        let listed = self
            .listed
            .iter()
            .filter(|a| a.episode <= last)
            .map(|a| a.at)
            .max();
        let ruled = self
            .rule
            .nth(k)
            .and_then(|at| self.within_end(at).then_some(at).or(self.ends))
            .filter(|_| self.rule.count() != Some(0));
        listed.max(ruled)
    }

    /// Where the listing stops deciding: just after its last airing.
    fn listed_until(&self) -> Option<DateTime<Utc>> {
        let last = self.listed.last()?;
        Some(last.at + self.rule.min_period() / 2)
    }

    /// The primary airings in `(after, until]` within the bounds: (k, time).
    fn primary_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<(u32, Unit, DateTime<Utc>)> {
        let in_bound = |n: u32| self.last.is_none_or(|last| n <= last);
        let mut out: Vec<(u32, Unit, DateTime<Utc>)> = self
            .listed
            .iter()
            .filter(|a| a.at > after && a.at <= until && in_bound(a.episode))
            .map(|a| (a.episode, Unit::Episode, a.at))
            .collect();
        let from = self.listed_until().map_or(after, |l| l.max(after));
        for (k, at) in self.rule.repetitions_after(from) {
            if at > until || !self.within_end(at) {
                break;
            }
            match self.number(k) {
                Step::Airs(number, unit) => out.push((number, unit, at)),
                Step::Before => {}
                // Past the last episode: every later one is too.
                Step::Past => break,
            }
        }
        out
    }

    /// The airings on `stream` in `(after, until]`. A stream the entry
    /// does not air on has none.
    pub fn airings_between(
        &self,
        stream: &str,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<Airing> {
        let timing = if stream == self.primary {
            Timing::Offset(Duration::zero())
        } else {
            match self.streams.iter().find(|(s, _)| s == stream) {
                Some((_, timing)) => *timing,
                None => return Vec::new(),
            }
        };
        let airing = |number, unit, at| Airing {
            number,
            unit,
            at,
            stream: stream.to_owned(),
        };
        match timing {
            Timing::WholeSeason(at) => {
                let within = self.last_primary_airing().is_some() || self.whole_season;
                if within && at > after && at <= until {
                    vec![airing(0, Unit::WholeSeason, at)]
                } else {
                    Vec::new()
                }
            }
            Timing::Offset(offset) => self
                .primary_between(after - offset, until - offset)
                .into_iter()
                .map(|(number, unit, at)| airing(number, unit, at + offset))
                .collect(),
        }
    }

    /// Every stream's airings in `(after, until]`, earliest first.
    pub fn all_airings_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Airing> {
        let mut out = self.airings_between(&self.primary, after, until);
        for (stream, _) in &self.streams {
            out.extend(self.airings_between(stream, after, until));
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.number.cmp(&b.number)));
        out
    }

    /// The next airing on `stream` after `now`, if the projection has one.
    pub fn next_after(&self, stream: &str, now: DateTime<Utc>) -> Option<Airing> {
        let horizon = now + self.rule.max_period() + Duration::days(2) + self.offset_span();
        self.airings_between(stream, now, horizon)
            .into_iter()
            .next()
    }

    /// The longest shift of any stream, so a look-ahead covers it.
    fn offset_span(&self) -> Duration {
        self.streams
            .iter()
            .map(|(_, t)| match t {
                Timing::Offset(d) => d.abs(),
                Timing::WholeSeason(_) => Duration::zero(),
            })
            .max()
            .unwrap_or_else(Duration::zero)
    }

    /// Whether the primary has an airing still to come after `now`: the
    /// show is airing as far as the data goes.
    pub fn continues_after(&self, now: DateTime<Utc>) -> bool {
        match self.last_primary_airing() {
            None => true,
            Some(last) => last > now,
        }
    }

    /// Whether every episode comes at once (a zero-period rule).
    pub fn is_whole_season(&self) -> bool {
        self.whole_season
    }

    /// The primary stream's name.
    pub fn primary(&self) -> &str {
        &self.primary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::catalog::model::{Broadcast, Ongoing, Release};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn entry(rules: &[(&str, &str)], episodes: Option<u32>) -> Entry {
        let mut e = Entry::new(1, "Test");
        e.episodes = episodes;
        for (platform, rule) in rules {
            e.broadcasts.push(Broadcast {
                platform: (*platform).into(),
                rule: (*rule).into(),
                ends: None,
            });
        }
        e
    }

    fn numbers(airings: &[Airing]) -> Vec<u32> {
        airings.iter().map(|a| a.number).collect()
    }

    const WEEKLY: &str = "R/2024-01-10T16:25:00Z/P7D";

    #[test]
    fn a_known_count_ends_the_projection() {
        let p = Projection::of(&entry(&[("tv", WEEKLY)], Some(13))).expect("a projection");
        let all = p.airings_between("tv", at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z"));
        assert_eq!(numbers(&all), (1..=13).collect::<Vec<_>>());
        assert!(all.iter().all(|a| a.unit == Unit::Episode));
        assert!(!p.continues_after(at("2024-04-04T00:00:00Z")));
        assert!(p.continues_after(at("2024-03-01T00:00:00Z")));
    }

    #[test]
    fn an_unknown_count_runs_one_cour_past_the_evidence() {
        let mut e = entry(&[("tv", WEEKLY)], None);
        let p = Projection::of(&e).expect("a projection");
        let all = p.airings_between("tv", at("2024-01-01T00:00:00Z"), at("2026-12-01T00:00:00Z"));
        assert_eq!(
            all.last().map(|a| a.number),
            Some(COUR),
            "one cour from the start"
        );
        // An owner's release of episode 20 is evidence: 13 more.
        e.releases.push(Release {
            number: 20,
            unit: Unit::Episode,
            from_schedule: false,
            audio: Some("Tamil".into()),
            qualities: Vec::new(),
            title: None,
            released_at: at("2024-06-01T00:00:00Z"),
        });
        let p = Projection::of(&e).expect("a projection");
        let all = p.airings_between("tv", at("2024-01-01T00:00:00Z"), at("2026-12-01T00:00:00Z"));
        assert_eq!(all.last().map(|a| a.number), Some(33));
        // A release the schedule itself recorded is no evidence.
        e.releases[0].from_schedule = true;
        let p = Projection::of(&e).expect("a projection");
        assert_eq!(
            p.airings_between("tv", at("2024-01-01T00:00:00Z"), at("2026-12-01T00:00:00Z"))
                .len(),
            COUR as usize
        );
    }

    #[test]
    fn long_running_shows_with_and_without_an_anchor() {
        let conan = "R/2009-01-03T09:00:00Z/P7D";
        let mut e = entry(&[("tv", conan)], None);
        let now = at("2026-12-01T00:00:00Z");
        let week = now + Duration::days(7);
        let p = Projection::of(&e).expect("a projection");
        assert!(
            p.airings_between("tv", now, week).is_empty(),
            "no phantom episode 923"
        );
        e.ongoing = Some(Ongoing {
            current: None,
            as_of: now,
        });
        let p = Projection::of(&e).expect("a projection");
        let unnumbered = p.airings_between("tv", now, week);
        assert_eq!(unnumbered.len(), 1);
        assert_eq!(unnumbered[0].unit, Unit::Unnumbered);
        e.ongoing = Some(Ongoing {
            current: Some(1150),
            as_of: now,
        });
        let p = Projection::of(&e).expect("a projection");
        let anchored = p.airings_between("tv", now, week);
        assert_eq!(
            (anchored[0].number, anchored[0].unit),
            (1151, Unit::Episode),
            "the next after the owner's current episode"
        );
    }

    #[test]
    fn a_zero_period_is_the_whole_season() {
        let p = Projection::of(&entry(&[("tv", "R/2024-03-01T08:00:00Z/P0D")], Some(12)))
            .expect("a projection");
        let all = p.airings_between("tv", at("2024-01-01T00:00:00Z"), at("2025-01-01T00:00:00Z"));
        assert_eq!(all.len(), 1);
        assert_eq!((all[0].number, all[0].unit), (0, Unit::WholeSeason));
        // A stream that drops a weekly show at once.
        let p = Projection::of(&entry(
            &[("tv", WEEKLY), ("netflix", "R/2025-02-27T16:00:00Z/P0D")],
            Some(13),
        ))
        .expect("a projection");
        let drop = p.airings_between(
            "netflix",
            at("2025-01-01T00:00:00Z"),
            at("2025-03-01T00:00:00Z"),
        );
        assert_eq!(drop.len(), 1);
        assert_eq!(drop[0].unit, Unit::WholeSeason);
    }

    #[test]
    fn streams_shift_the_time_not_the_number() {
        // Metallic Rouge: U-NEXT five days later, Crunchyroll half an hour
        // earlier, Netflix a year later from episode 1.
        let e = entry(
            &[
                ("tv", WEEKLY),
                ("unext", "R/2024-01-16T03:00:00Z/P7D"),
                ("crunchyroll", "R/2024-01-10T15:55:00Z/P7D"),
                ("netflix", "R/2025-02-27T16:00:00Z/P7D"),
            ],
            Some(13),
        );
        let p = Projection::of(&e).expect("a projection");
        let from = at("2024-01-01T00:00:00Z");
        let to = at("2026-01-01T00:00:00Z");
        for stream in ["tv", "unext", "crunchyroll", "netflix"] {
            assert_eq!(
                numbers(&p.airings_between(stream, from, to)),
                (1..=13).collect::<Vec<_>>(),
                "{stream}"
            );
        }
        let unext = p.airings_between("unext", from, to);
        assert_eq!(unext[0].at, at("2024-01-16T03:00:00Z"));
        assert!(p.airings_between("bilibili", from, to).is_empty());
        // A stream that picks up a long-running show mid-run starts at the
        // episode airing then, not at 1.
        let mut long = entry(
            &[
                ("tv", "R/2020-01-05T00:00:00Z/P7D"),
                ("site", "R/2026-11-01T02:00:00Z/P7D"),
            ],
            None,
        );
        long.ongoing = Some(Ongoing {
            current: Some(300),
            as_of: at("2025-09-28T01:00:00Z"),
        });
        let p = Projection::of(&long).expect("a projection");
        let tv = p.airings_between("tv", at("2026-11-25T00:00:00Z"), at("2026-12-02T00:00:00Z"));
        let site = p.airings_between(
            "site",
            at("2026-11-25T00:00:00Z"),
            at("2026-12-02T00:00:00Z"),
        );
        assert_eq!(numbers(&tv), numbers(&site));
        assert_eq!(site[0].at - tv[0].at, Duration::hours(2));
    }

    #[test]
    fn a_stream_offset_can_cross_midnight_in_the_chats_zone() {
        // 23:30 in Tokyo on tv, 00:30 the next day on the stream: the same episode.
        let e = entry(
            &[
                ("tv", "R/2024-04-02T14:30:00Z/P7D"),
                ("late", "R/2024-04-02T15:30:00Z/P7D"),
            ],
            Some(12),
        );
        let p = Projection::of(&e).expect("a projection");
        let tv = p
            .next_after("tv", at("2024-04-10T00:00:00Z"))
            .expect("next on tv");
        let late = p
            .next_after("late", at("2024-04-10T00:00:00Z"))
            .expect("next on the stream");
        assert_eq!(tv.number, late.number);
        let tokyo = crate::core::announce::schedule::time_zone("Asia/Tokyo").expect("a zone");
        let day = |t: DateTime<Utc>| t.with_timezone(&tokyo).date_naive();
        assert_ne!(
            day(tv.at),
            day(late.at),
            "the stream's day is the next one in Tokyo"
        );
    }

    #[test]
    fn a_sources_listing_decides_numbers_and_times() {
        // The data's rule began long ago (it would say episode 35); AniList
        // lists episode 9 at T, an hour after the rule's slot (a delay).
        let mut e = entry(
            &[
                ("tv", "R/2026-04-02T15:00:00Z/P7D"),
                ("site", "R/2026-04-02T17:00:00Z/P7D"),
            ],
            None,
        );
        let t = at("2026-12-03T16:00:00Z");
        e.listed_airings = vec![
            ListedAiring { episode: 9, at: t },
            // A double episode a week later.
            ListedAiring {
                episode: 10,
                at: t + Duration::days(7),
            },
            ListedAiring {
                episode: 11,
                at: t + Duration::days(7) + Duration::minutes(30),
            },
        ];
        let p = Projection::of(&e).expect("a projection");
        let week = p.airings_between("tv", t - Duration::days(1), t + Duration::days(6));
        assert_eq!(week.len(), 1);
        assert_eq!((week[0].number, week[0].at), (9, t));
        let double = p.airings_between("tv", t + Duration::days(6), t + Duration::days(8));
        assert_eq!(numbers(&double), [10, 11], "two posts, in order");
        // The other stream keeps its offset from the tv rule (two hours).
        let site = p.airings_between("site", t - Duration::days(1), t + Duration::days(6));
        assert_eq!((site[0].number, site[0].at), (9, t + Duration::hours(2)));
        // After the listing the rule goes on from episode 11, a cour at most.
        let later = p.airings_between("tv", t + Duration::days(8), t + Duration::days(400));
        assert_eq!(later.first().map(|a| a.number), Some(12));
        assert_eq!(later.last().map(|a| a.number), Some(11 + COUR));
        // Finished at 12 (the source's count): nothing after 12.
        e.episodes = Some(12);
        let p = Projection::of(&e).expect("a projection");
        let all = p.airings_between("tv", t - Duration::days(1), t + Duration::days(400));
        assert_eq!(numbers(&all), [9, 10, 11, 12]);
        assert!(!p.continues_after(t + Duration::days(30)));
        // An entry only a source schedules.
        let mut discovered = Entry::new(2, "Discovered");
        discovered.listed_airings = vec![ListedAiring { episode: 3, at: t }];
        let p = Projection::of(&discovered).expect("a projection from the listing alone");
        assert_eq!(
            numbers(&p.airings_between("tv", t - Duration::days(1), t + Duration::days(30))),
            [3]
        );
    }
}
