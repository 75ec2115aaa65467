//! `rouge import` of the full bangumi-data file (8,483 anime; data by
//! "bangumi-data", CC BY 4.0): parsing alone, and the whole import into a
//! fresh store (parse, plan, id allocation, a flushed sled write and the
//! catalog and title-index rebuild).
//!
//! Run with `cargo bench --bench import`; BENCHMARKS.md has the figures.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, SamplingMode};
use rouge::app::{App, Settings};
use rouge::core::clock::SystemClock;
use rouge::import::{self, Format};
use rouge::store::Store;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/bangumi-data.json"
);

/// An empty app over a throw-away store, as `rouge import` sees a new
/// installation (without the demo catalog, which would be merged into).
fn fresh_app() -> App {
    let store = Store::temporary().expect("a temporary store should open");
    let settings = Settings {
        seed_demo: false,
        ..Settings::default()
    };
    App::open(store, settings, Arc::new(SystemClock)).expect("an empty store should open")
}

fn main() {
    let bytes = match std::fs::read(DATA) {
        Ok(bytes) => bytes,
        Err(err) => {
            // The data set lives outside the crate; without it there is
            // nothing meaningful to measure, and that is not a failure.
            eprintln!("import bench skipped: cannot read {DATA}: {err}");
            return;
        }
    };
    // Once, outside the timings: the figures mean little if the import did
    // not do the work.
    let summary = fresh_app()
        .import(Format::BangumiData, &bytes, "bench", |_, _| {})
        .expect("bangumi-data.json should import");
    println!("bangumi-data import (bangumi-data, CC BY 4.0): {summary}");

    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("import");
    // Each iteration takes a sizeable fraction of a second; flat sampling
    // gives every sample one iteration rather than criterion's 1..=10 ramp.
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(12));
    group.bench_function("parse_only", |b| {
        // Freeing the parsed records is left out, as in the full import.
        b.iter_with_large_drop(|| {
            import::parse(Format::BangumiData, black_box(&bytes))
                .expect("bangumi-data.json should parse")
        })
    });
    group.bench_function("bangumi_data_full", |b| {
        b.iter_batched(
            // Opening the store is not part of an import.
            fresh_app,
            |app| {
                let summary = app
                    .import(Format::BangumiData, black_box(&bytes), "bench", |_, _| {})
                    .expect("bangumi-data.json should import");
                // Returning the app moves dropping the store (and deleting
                // its files) out of the timed section.
                (app, summary)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
    c.final_summary();
}
