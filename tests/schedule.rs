//! Property-style checks of broadcast schedules over every rule in
//! bangumi-data (CC BY 4.0, credit "bangumi-data"): computed air times are
//! start + k·period, stop at the end date and the episode count, shift by the
//! chat's delay, and render in the chat's time zone across daylight saving.

use chrono::{DateTime, Duration, Months, TimeZone, Utc};
use rouge::core::announce::schedule::{self, Bounds, Rule};
use rouge::core::announce::{self, ChatSettings, Subscription, Target};
use rouge::core::caller::{ChatRef, Platform};
use rouge::import::{self, Format};

fn entries() -> Option<Vec<rouge::core::catalog::model::Entry>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bangumi-data.json"
    );
    let Ok(bytes) = std::fs::read(path) else {
        eprintln!("skipping: {path} not found (the ../shared folder is not beside the repository)");
        return None;
    };
    let parsed = import::parse(Format::BangumiData, &bytes).expect("bangumi-data parses");
    Some(
        parsed
            .records
            .into_iter()
            .enumerate()
            .map(|(i, r)| rouge::core::catalog::model::Entry {
                id: i as u64 + 1,
                ..r.entry
            })
            .collect(),
    )
}

/// The period of a rule as months and seconds, read independently of the parser.
fn period(rule: &str) -> (u32, i64) {
    let p = rule.rsplit('/').next().unwrap_or_default();
    match p {
        "P7D" | "P1W" => (0, 7 * 86_400),
        "P1D" => (0, 86_400),
        "P1M" => (1, 0),
        "P14D" | "P2W" => (0, 14 * 86_400),
        _ => (0, 0),
    }
}

#[test]
fn every_bangumi_data_rule_repeats_from_its_start_and_stops_at_its_end() {
    let Some(entries) = entries() else { return };
    let far_past = Utc
        .with_ymd_and_hms(1900, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let far_future = Utc
        .with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let (mut rules, mut unparsed, mut checked_periods) = (0, 0, 0);
    for entry in &entries {
        for broadcast in &entry.broadcasts {
            rules += 1;
            let Ok(rule) = broadcast.rule.parse::<Rule>() else {
                unparsed += 1;
                continue;
            };
            let (months, seconds) = period(&broadcast.rule);
            if months + seconds as u32 > 0 {
                checked_periods += 1;
                for k in [0u32, 1, 2, 12, 25] {
                    let expected = rule
                        .start
                        .checked_add_months(Months::new(months * k))
                        .expect("date")
                        + Duration::seconds(seconds * i64::from(k));
                    assert_eq!(rule.nth(k), Some(expected), "{} k={k}", broadcast.rule);
                }
            }
            let bounds = Bounds {
                ends: broadcast.ends,
                episodes: entry.episodes,
            };
            // Bounded by the end date, one search for all of history stays small.
            let all = if broadcast.ends.is_some() {
                rule.episodes_between(far_past, far_future, bounds)
            } else {
                rule.episodes_between(far_past, rule.start + Duration::days(400), bounds)
            };
            for (i, (episode, at)) in all.iter().enumerate() {
                assert_eq!(
                    *episode as usize,
                    i + 1,
                    "{}: episodes are numbered from 1",
                    broadcast.rule
                );
                assert_eq!(Some(*at), rule.nth(i as u32));
                if let Some(end) = broadcast.ends {
                    assert!(
                        *at <= end + Duration::days(1),
                        "{}: {at} is after the end {end}",
                        broadcast.rule
                    );
                }
            }
            if let Some(end) = broadcast.ends {
                // Nothing is left out before the end either.
                if let Some(&(n, last)) = all.last()
                    && let Some(next) = rule.nth(n)
                {
                    let capped = [entry.episodes, rule.count()]
                        .into_iter()
                        .flatten()
                        .any(|cap| n >= cap);
                    assert!(
                        next > end || capped,
                        "{}: stopped early at {last}",
                        broadcast.rule
                    );
                }
            }
        }
    }
    println!("{rules} rules, {unparsed} unparsed, {checked_periods} periods checked");
    assert!(
        rules > 10_000,
        "bangumi-data has many broadcast rules ({rules})"
    );
    assert_eq!(unparsed, 0, "every rule parses");
}

#[test]
fn jobs_are_due_after_each_chats_delay_and_render_in_its_zone() {
    let mut entry = rouge::core::catalog::model::Entry::new(1, "Metallic Rouge");
    entry.episodes = Some(13);
    entry
        .broadcasts
        .push(rouge::core::catalog::model::Broadcast {
            platform: "tv".into(),
            rule: "R/2024-01-10T16:25:00.000Z/P7D".into(),
            ends: Some(
                Utc.with_ymd_and_hms(2024, 4, 3, 16, 25, 0)
                    .single()
                    .expect("time"),
            ),
        });
    let sub = |chat: &str| Subscription {
        chat: ChatRef {
            platform: Platform::Telegram,
            chat_id: chat.into(),
        },
        target: Target::Entry(1),
        kind: None,
        genre: None,
        active: true,
        inactive_reason: None,
        mention_role: None,
        created_by: "t".into(),
        created_at: DateTime::UNIX_EPOCH,
    };
    let zones = [
        "UTC",
        "America/New_York",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Australia/Sydney",
    ];
    for (i, delay) in [0u32, 1, 29, 60, 1440, 10_080].into_iter().enumerate() {
        let settings = ChatSettings {
            delay_min: delay,
            tz: zones[i % zones.len()].into(),
            ..ChatSettings::default()
        };
        let from = Utc
            .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
            .single()
            .expect("time");
        let to = Utc
            .with_ymd_and_hms(2024, 5, 1, 0, 0, 0)
            .single()
            .expect("time");
        let events = announce::release::broadcast_events(&entry, from, to);
        assert_eq!(events.len(), 13);
        for event in &events {
            let jobs = announce::release::jobs_for(&entry, event, &[(sub("c"), settings.clone())]);
            assert_eq!(jobs.len(), 1);
            assert_eq!(
                jobs[0].due_at - event.at,
                Duration::minutes(i64::from(delay))
            );
            assert_eq!(jobs[0].tz, settings.tz);
        }
    }
    // New York switches to daylight saving time on 10 March 2024: the same
    // UTC slot moves an hour later on the local clock, and no episode is lost.
    let ny = schedule::time_zone("America/New_York").expect("zone");
    let events = announce::release::broadcast_events(
        &entry,
        Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0)
            .single()
            .expect("time"),
        Utc.with_ymd_and_hms(2024, 3, 20, 0, 0, 0)
            .single()
            .expect("time"),
    );
    let local: Vec<String> = events
        .iter()
        .map(|e| schedule::local_time(e.at, ny))
        .collect();
    assert_eq!(local, ["2024-03-06 11:25 EST", "2024-03-13 12:25 EDT"]);
    assert_eq!(
        events.iter().map(|e| e.episode).collect::<Vec<_>>(),
        [9, 10]
    );
}
