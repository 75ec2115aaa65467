//! Look-up quality on the full bangumi-data import (8,483 real anime,
//! CC BY 4.0, credit "bangumi-data"): exact English, Japanese and Chinese
//! titles must find their entry first at least 97 times in 100, and English
//! titles with one typo at least 90 times in 100.
//!
//! The query set is drawn from the data with a fixed seed, so a run is
//! repeatable. Skips (and says why) when `../shared` is absent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rouge::app::{App, Settings};
use rouge::core::catalog::model::{Entry, TitleLang};
use rouge::core::catalog::text::fold;
use rouge::core::clock::SystemClock;
use rouge::import::Format;
use rouge::store::Store;

const SAMPLE: usize = 400;

fn data_file() -> Option<PathBuf> {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/bangumi-data.json"
    ));
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipping: {} not found (the ../shared folder is not beside the repository)",
            path.display()
        );
        None
    }
}

/// A small deterministic generator (xorshift64*), so the query set is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn imported() -> Option<(App, Vec<Entry>)> {
    let bytes = std::fs::read(data_file()?).expect("read bangumi-data");
    let settings = Settings {
        seed_demo: false,
        ..Settings::default()
    };
    let app = App::open(
        Store::temporary().expect("store"),
        settings,
        Arc::new(SystemClock),
    )
    .expect("app");
    let summary = app
        .import(Format::BangumiData, &bytes, "test", |_, _| {})
        .expect("import");
    assert!(summary.added > 8000, "{summary}");
    let entries = app.export_entries();
    Some((app, entries))
}

/// A query and the entries it names: the sampled entry, plus every other
/// entry with the same title up to case, width and punctuation, since no
/// look-up can tell those apart by title (the bot offers a picker for them).
struct Query {
    text: String,
    answers: Vec<u64>,
}

/// Runs the queries; returns the share whose first result is one of its answers, and prints the misses.
fn rate(app: &App, label: &str, queries: &[Query]) -> f64 {
    let mut found = 0;
    let shared = queries.iter().filter(|q| q.answers.len() > 1).count();
    for Query {
        text: query,
        answers,
    } in queries
    {
        let expected = answers[0];
        let results = app.search(query, 5);
        if results.first().is_some_and(|r| answers.contains(&r.id)) {
            found += 1;
        } else {
            let got: Vec<String> = results
                .iter()
                .take(2)
                .map(|r| format!("#{} {} ({:.2})", r.id, r.matched, r.score))
                .collect();
            eprintln!("  {label} miss: {query:?} wanted #{expected}, got {got:?}");
        }
    }
    let share = found as f64 / queries.len() as f64;
    eprintln!(
        "{label}: {found}/{} = {:.1}% ({shared} titles shared by several entries)",
        queries.len(),
        share * 100.0
    );
    share
}

fn sample<'a>(
    entries: &'a [Entry],
    rng: &mut Rng,
    pick: impl Fn(&'a Entry) -> Option<&'a str>,
) -> Vec<Query> {
    let mut by_key: HashMap<String, Vec<u64>> = HashMap::new();
    for entry in entries {
        for (title, _) in entry.all_titles() {
            let ids = by_key.entry(fold(title).key).or_default();
            if !ids.contains(&entry.id) {
                ids.push(entry.id);
            }
        }
    }
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < SAMPLE && tries < SAMPLE * 50 {
        tries += 1;
        let entry = &entries[rng.below(entries.len())];
        if let Some(title) = pick(entry) {
            let mut answers = vec![entry.id];
            answers.extend(
                by_key[&fold(title).key]
                    .iter()
                    .filter(|&&id| id != entry.id),
            );
            out.push(Query {
                text: title.to_owned(),
                answers,
            });
        }
    }
    out
}

/// One random edit — substitute, delete, insert or swap — on a letter of `title`.
fn typo(title: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = title.chars().collect();
    let letters: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_ascii_alphabetic())
        .collect();
    let at = letters[rng.below(letters.len())];
    let letter = (b'a' + rng.below(26) as u8) as char;
    match rng.below(4) {
        0 => {
            chars[at] = if chars[at].eq_ignore_ascii_case(&letter) {
                'q'
            } else {
                letter
            }
        }
        1 => {
            chars.remove(at);
        }
        2 => chars.insert(at, letter),
        _ => {
            let next = letters.iter().copied().find(|&j| j > at).unwrap_or(at);
            chars.swap(at, next);
        }
    }
    chars.into_iter().collect()
}

#[test]
fn exact_and_misspelt_titles_find_their_entry() {
    let Some((app, entries)) = imported() else {
        return;
    };
    let mut rng = Rng(0x5EED_0F0A_11CE);

    let english = sample(&entries, &mut rng, |e| e.title_in(TitleLang::En));
    let japanese = sample(&entries, &mut rng, |e| Some(e.title.as_str()));
    let chinese = sample(&entries, &mut rng, |e| e.title_in(TitleLang::ZhHans));
    let mut typos = sample(&entries, &mut rng, |e| {
        e.title_in(TitleLang::En)
            .filter(|t| t.chars().filter(|c| c.is_ascii_alphabetic()).count() >= 6)
    });
    for query in &mut typos {
        query.text = typo(&query.text, &mut rng);
    }

    let results = [
        ("exact English", rate(&app, "exact English", &english), 0.97),
        (
            "exact Japanese",
            rate(&app, "exact Japanese", &japanese),
            0.97,
        ),
        ("exact Chinese", rate(&app, "exact Chinese", &chinese), 0.97),
        (
            "English with one typo",
            rate(&app, "English with one typo", &typos),
            0.90,
        ),
    ];
    for (label, share, target) in results {
        assert!(
            share >= target,
            "{label}: {:.1}% is below the {:.0}% target",
            share * 100.0,
            target * 100.0
        );
    }
}

#[test]
fn the_seed_entry_is_found_in_every_script() {
    let Some((app, _)) = imported() else { return };
    for query in [
        "metalic rouge",
        "金属口红",
        "メタリックルージュ",
        "Metallic Rouge",
        "めたりっくるーじゅ",
    ] {
        let results = app.search(query, 5);
        let top = results
            .first()
            .unwrap_or_else(|| panic!("nothing for {query}"));
        assert_eq!(top.title, "メタリックルージュ", "{query}");
        assert_eq!(
            top.external_ids.get("bangumi").map(String::as_str),
            Some("425595")
        );
        assert_eq!(
            top.external_ids.get("mal").map(String::as_str),
            Some("54794")
        );
    }
}
