//! Title look-up over the full bangumi-data catalog (8,483 anime; data by
//! "bangumi-data", CC BY 4.0): the title index against a naive linear
//! Levenshtein scan, the index's build time, and the memory it keeps.
//!
//! Run with `cargo bench --bench lookup`; BENCHMARKS.md has the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, Throughput};
use rouge::core::catalog::model::{Entry, EntryId, TitleLang};
use rouge::core::catalog::search::TitleIndex;
use rouge::core::catalog::text;
use rouge::import::{self, Format};

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/bangumi-data.json"
);
/// What a chat look-up asks for: the picker's default size.
const LIMIT: usize = 5;
/// Queries per kind; five kinds make the 200-query set.
const PER_KIND: usize = 40;

// ---------------------------------------------------------------------------
// Memory accounting
// ---------------------------------------------------------------------------

/// Counts heap bytes, but only while [`TRACKING`] is set, so the timed
/// benchmarks pay one relaxed load per allocation rather than two atomic
/// read-modify-writes. While tracking, `CURRENT` is the net number of bytes
/// allocated since tracking began and `PEAK` its high-water mark; the build
/// being measured frees nothing it did not allocate, so the net figure is
/// exactly what it keeps.
struct CountingAlloc;

static TRACKING: AtomicBool = AtomicBool::new(false);
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grew(bytes: usize) {
    if TRACKING.load(Ordering::Relaxed) {
        let now = CURRENT.fetch_add(bytes as isize, Ordering::Relaxed) + bytes as isize;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

fn shrank(bytes: usize) {
    if TRACKING.load(Ordering::Relaxed) {
        CURRENT.fetch_sub(bytes as isize, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters never
// affect what is allocated.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as our caller's.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // Count the new block before releasing the old one: the peak
            // should include the moment both exist.
            grew(new_size);
            shrank(layout.size());
        }
        new
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the bytes it retained and the peak
/// bytes it held at once (allocator payload sizes, without malloc overhead).
fn measure_memory<T>(f: impl FnOnce() -> T) -> (T, isize, isize) {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    TRACKING.store(true, Ordering::SeqCst);
    let value = f();
    TRACKING.store(false, Ordering::SeqCst);
    (
        value,
        CURRENT.load(Ordering::Relaxed),
        PEAK.load(Ordering::Relaxed),
    )
}

// ---------------------------------------------------------------------------
// Query set
// ---------------------------------------------------------------------------

/// A fixed-seed xorshift64*: the query set must be the same on every run
/// (and no `rand` dependency is wanted for that).
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryKind {
    ExactEn,
    ExactJa,
    ExactZh,
    TypoEn,
    Prefix,
}

impl QueryKind {
    const ALL: [QueryKind; 5] = [
        QueryKind::ExactEn,
        QueryKind::ExactJa,
        QueryKind::ExactZh,
        QueryKind::TypoEn,
        QueryKind::Prefix,
    ];

    fn name(self) -> &'static str {
        match self {
            QueryKind::ExactEn => "exact_en",
            QueryKind::ExactJa => "exact_ja",
            QueryKind::ExactZh => "exact_zh",
            QueryKind::TypoEn => "typo_en",
            QueryKind::Prefix => "prefix",
        }
    }
}

struct Query {
    text: String,
    kind: QueryKind,
    /// The entry the query was made from.
    source: EntryId,
}

/// 40 queries of each kind, drawn from random entries, then shuffled so the
/// kinds are interleaved as they would be in real traffic.
fn query_set(entries: &[Entry]) -> Vec<Query> {
    let mut rng = Rng(0x5EED_B0A7_CAFE);
    let mut queries = Vec::new();
    for kind in QueryKind::ALL {
        let mut made = 0;
        let mut attempts = 0;
        while made < PER_KIND {
            attempts += 1;
            assert!(
                attempts < 100_000,
                "the data has too few titles for {}",
                kind.name()
            );
            let entry = &entries[rng.below(entries.len())];
            if let Some(text) = make_query(kind, entry, &mut rng) {
                queries.push(Query {
                    text,
                    kind,
                    source: entry.id,
                });
                made += 1;
            }
        }
    }
    // Fisher–Yates.
    for i in (1..queries.len()).rev() {
        queries.swap(i, rng.below(i + 1));
    }
    queries
}

fn make_query(kind: QueryKind, entry: &Entry, rng: &mut Rng) -> Option<String> {
    // bangumi-data's main title is the original one, Japanese for all but a
    // few dozen items; those few are left out of the Japanese queries.
    let japanese = || {
        entry
            .title_in(TitleLang::Ja)
            .or_else(|| has_kana_or_kanji(&entry.title).then_some(entry.title.as_str()))
    };
    match kind {
        QueryKind::ExactEn => entry.title_in(TitleLang::En).map(str::to_owned),
        QueryKind::ExactJa => japanese().map(str::to_owned),
        QueryKind::ExactZh => entry.title_in(TitleLang::ZhHans).map(str::to_owned),
        QueryKind::TypoEn => typo(entry.title_in(TitleLang::En)?, rng),
        QueryKind::Prefix => {
            // Half from English titles, half from Japanese ones.
            let title = if rng.below(2) == 0 {
                entry.title_in(TitleLang::En)?
            } else {
                japanese()?
            };
            prefix(title, 3 + rng.below(4))
        }
    }
}

fn has_kana_or_kanji(s: &str) -> bool {
    s.chars()
        .any(|c| matches!(c, '\u{3040}'..='\u{30FF}' | '\u{4E00}'..='\u{9FFF}'))
}

/// `title` with one edit (substitution, deletion, insertion or transposition)
/// at a letter or digit, so that the folded key changes. Titles whose keys
/// are shorter than 5 characters are refused: the index tolerates no typo
/// under 4 characters, and one edit in a 4-character key leaves too little
/// of the title to stand for a real misspelt look-up.
fn typo(title: &str, rng: &mut Rng) -> Option<String> {
    let original = text::fold(title).key;
    if original.chars().count() < 5 {
        return None;
    }
    let mut chars: Vec<char> = title.chars().collect();
    let spots: Vec<usize> = (0..chars.len())
        .filter(|&i| chars[i].is_alphanumeric())
        .collect();
    if spots.is_empty() {
        return None;
    }
    let at = spots[rng.below(spots.len())];
    let letter = char::from(b'a' + rng.below(26) as u8);
    match rng.below(4) {
        0 => chars[at] = letter,
        1 => {
            chars.remove(at);
        }
        2 => chars.insert(at, letter),
        _ => {
            if at + 1 >= chars.len() || !chars[at + 1].is_alphanumeric() {
                return None;
            }
            chars.swap(at, at + 1);
        }
    }
    let typo: String = chars.into_iter().collect();
    (text::fold(&typo).key != original).then_some(typo)
}

/// The first `n` characters of `title`, when that is a proper prefix with at
/// least one letter or digit.
fn prefix(title: &str, n: usize) -> Option<String> {
    let head: String = title.chars().take(n).collect();
    let head = head.trim();
    let key = text::fold(head).key;
    (!key.is_empty() && key != text::fold(title).key).then(|| head.to_owned())
}

// ---------------------------------------------------------------------------
// Naive baseline
// ---------------------------------------------------------------------------

/// What a look-up costs without an index: every title's key folded once up
/// front, then per query a plain Levenshtein distance to every key.
struct Naive {
    keys: Vec<(Vec<char>, EntryId)>,
}

impl Naive {
    fn build(entries: &[Entry]) -> Naive {
        let keys = entries
            .iter()
            .flat_map(|e| {
                e.all_titles()
                    .map(move |(t, _)| (text::fold(t).key.chars().collect(), e.id))
            })
            .filter(|(key, _): &(Vec<char>, EntryId)| !key.is_empty())
            .collect();
        Naive { keys }
    }

    /// The entry with the closest title key (the first of equals).
    fn search(&self, query: &str) -> Option<EntryId> {
        let q: Vec<char> = text::fold(query).key.chars().collect();
        let mut row = Vec::new();
        let mut best: Option<(usize, EntryId)> = None;
        for (key, id) in &self.keys {
            let d = levenshtein(&q, key, &mut row);
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, *id));
            }
        }
        best.map(|(_, id)| id)
    }
}

/// The textbook single-row dynamic programme; `row` is reused across calls.
fn levenshtein(a: &[char], b: &[char], row: &mut Vec<usize>) -> usize {
    row.clear();
    row.extend(0..=b.len());
    for (i, &ca) in a.iter().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != cb));
            diag = above;
        }
    }
    row[b.len()]
}

// ---------------------------------------------------------------------------
// Reports printed before criterion runs
// ---------------------------------------------------------------------------

/// Criterion's numbers are per pass over the whole set; this breaks them
/// down per query and per kind (each indexed query's median of a few
/// rounds, to shed scheduler noise; the naive scan once), checks the set
/// finds what it should, and names the slowest queries.
fn report_per_kind(index: &TitleIndex, naive: &Naive, queries: &[Query]) {
    const RUNS: usize = 15;
    let mut timed: Vec<(Duration, &Query)> = Vec::new();
    let mut naive_all = Vec::new();
    println!(
        "per-query look-up time by kind (indexed: median of {RUNS} runs per query; naive: one run)"
    );
    println!(
        "{:<9} {:>3} {:>9} {:>9} {:>9} {:>9} {:>6} {:>6} {:>10} {:>7}",
        "kind", "n", "median", "mean", "p90", "max", "top1", "top5", "naive med", "naive1"
    );
    // Each query timed alone, but in the order of the set, round after
    // round, as criterion runs them: timing one query many times in a row
    // would leave its postings in cache and flatter the index.
    let mut rounds: Vec<Vec<Duration>> = vec![Vec::with_capacity(RUNS); queries.len()];
    for _ in 0..RUNS {
        for (q, runs) in queries.iter().zip(&mut rounds) {
            let start = Instant::now();
            black_box(index.search(black_box(&q.text), LIMIT));
            runs.push(start.elapsed());
        }
    }
    let medians: Vec<Duration> = rounds
        .iter_mut()
        .map(|runs| {
            runs.sort();
            runs[RUNS / 2]
        })
        .collect();
    for kind in QueryKind::ALL {
        let mut times = Vec::new();
        let mut naive_times = Vec::new();
        let (mut top1, mut top5, mut naive_top1) = (0, 0, 0);
        for (q, &time) in queries.iter().zip(&medians).filter(|(q, _)| q.kind == kind) {
            times.push(time);
            timed.push((time, q));
            let hits = index.search(&q.text, LIMIT);
            top1 += usize::from(hits.first().is_some_and(|h| h.entry == q.source));
            top5 += usize::from(hits.iter().any(|h| h.entry == q.source));
            let start = Instant::now();
            let found = naive.search(&q.text);
            naive_times.push(start.elapsed());
            naive_top1 += usize::from(found == Some(q.source));
        }
        naive_all.extend_from_slice(&naive_times);
        let n = times.len();
        let s = Spread::of(&mut times);
        println!(
            "{:<9} {n:>3} {:>9.1?} {:>9.1?} {:>9.1?} {:>9.1?} {:>6} {:>6} {:>10.2?} {:>7}",
            kind.name(),
            s.median,
            s.mean,
            s.p90,
            s.max,
            format!("{top1}/{n}"),
            format!("{top5}/{n}"),
            Spread::of(&mut naive_times).median,
            format!("{naive_top1}/{n}"),
        );
    }
    let mut all: Vec<Duration> = timed.iter().map(|(t, _)| *t).collect();
    let s = Spread::of(&mut all);
    println!(
        "{:<9} {:>3} {:>9.1?} {:>9.1?} {:>9.1?} {:>9.1?} {:>6} {:>6} {:>10.2?}",
        "all",
        all.len(),
        s.median,
        s.mean,
        s.p90,
        s.max,
        "",
        "",
        Spread::of(&mut naive_all).median,
    );
    println!("(top1/top5: the query's source entry is the first hit / among the {LIMIT} hits;");
    println!(" prefixes are ambiguous by nature, and sequels often share a title)");

    timed.sort_by_key(|t| std::cmp::Reverse(t.0));
    println!("slowest indexed queries:");
    for (time, q) in timed.iter().take(10) {
        let hits = index.search(&q.text, LIMIT);
        let how = hits
            .first()
            .map(|h| format!("{:?}", h.how))
            .unwrap_or_default();
        let key = text::fold(&q.text).key.chars().count();
        println!(
            "  {time:>9.1?}  {:<9} {key:>3} chars  first hit {how:<8} {:?}",
            q.kind.name(),
            q.text
        );
    }
}

/// Summary statistics of a set of timings.
struct Spread {
    median: Duration,
    mean: Duration,
    p90: Duration,
    max: Duration,
}

impl Spread {
    fn of(times: &mut [Duration]) -> Spread {
        times.sort();
        let at = |p: usize| times[(times.len() - 1) * p / 100];
        let total: Duration = times.iter().sum();
        Spread {
            median: at(50),
            mean: total / times.len() as u32,
            p90: at(90),
            max: at(100),
        }
    }
}

fn mib(bytes: isize) -> String {
    format!(
        "{:.1} MiB ({bytes} bytes)",
        bytes as f64 / (1024.0 * 1024.0)
    )
}

/// True under `cargo bench`; false under `cargo test --benches`, where
/// criterion runs each benchmark once and the slow reports are skipped.
fn benchmarking() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test" || a == "--list")
}

fn main() {
    let bytes = match std::fs::read(DATA) {
        Ok(bytes) => bytes,
        Err(err) => {
            // The data set lives outside the crate; without it there is
            // nothing meaningful to measure, and that is not a failure.
            eprintln!("lookup bench skipped: cannot read {DATA}: {err}");
            return;
        }
    };
    let parsed =
        import::parse(Format::BangumiData, &bytes).expect("bangumi-data.json should parse");
    // Parsed records all have id 0; the index keys hits by id.
    let entries: Vec<Entry> = parsed
        .records
        .into_iter()
        .zip(1..)
        .map(|(incoming, id)| Entry {
            id,
            ..incoming.entry
        })
        .collect();
    drop(bytes);
    let titles: usize = entries.iter().map(|e| e.all_titles().count()).sum();

    let (index, retained, peak) = measure_memory(|| TitleIndex::build(&entries));
    println!(
        "data: {} entries, {titles} titles (bangumi-data, CC BY 4.0)",
        entries.len()
    );
    println!(
        "index memory: retained {}, peak during build {}",
        mib(retained),
        mib(peak)
    );

    let queries = query_set(&entries);
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let naive = Naive::build(&entries);
    if benchmarking() {
        report_per_kind(&index, &naive, &queries);
    }

    let mut c = Criterion::default().configure_from_args();
    let n = texts.len() as u64;

    {
        let mut group = c.benchmark_group("lookup");
        // One iteration is a pass over the whole set, so criterion's
        // throughput line reads directly as queries per second.
        group.throughput(Throughput::Elements(n));
        group.bench_function("indexed", |b| {
            b.iter(|| {
                for q in &texts {
                    black_box(index.search(black_box(q), LIMIT));
                }
            })
        });
        group.finish();
    }
    {
        // The same, one kind at a time, to show which kind is slow.
        let mut group = c.benchmark_group("lookup/indexed_by_kind");
        group
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        for kind in QueryKind::ALL {
            let subset: Vec<&str> = queries
                .iter()
                .filter(|q| q.kind == kind)
                .map(|q| q.text.as_str())
                .collect();
            group.throughput(Throughput::Elements(subset.len() as u64));
            group.bench_function(kind.name(), |b| {
                b.iter(|| {
                    for q in &subset {
                        black_box(index.search(black_box(q), LIMIT));
                    }
                })
            });
        }
        group.finish();
    }
    {
        let mut group = c.benchmark_group("lookup");
        // A pass takes around a second: flat sampling runs every sample for
        // the same single iteration instead of criterion's default 1..=10
        // ramp, which would take ten times as long.
        group
            .throughput(Throughput::Elements(n))
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(18));
        group.bench_function("naive_baseline", |b| {
            b.iter(|| {
                for q in &texts {
                    black_box(naive.search(black_box(q)));
                }
            })
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("lookup");
        group.sample_size(20).sampling_mode(SamplingMode::Flat);
        group.bench_function("build_index", |b| {
            b.iter(|| TitleIndex::build(black_box(&entries)))
        });
        group.finish();
    }

    c.final_summary();
}
