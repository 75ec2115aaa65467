//! Counters and health for `/metrics` (Prometheus text format) and
//! `/healthz`. Cheap to update from any thread; rendered on scrape.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Upper bounds of the look-up latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 9] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05,
];

/// A component that stops reporting for this long is unhealthy.
pub const STALE_AFTER: Duration = Duration::from_secs(90);

/// A component's last word: healthy or not, when, and for how long.
type Report = (bool, Instant, Option<Duration>);

/// A gauge measured at scrape time: name, help, and (labels, value) pairs.
pub type Gauge<'a> = (&'a str, &'a str, Vec<(String, f64)>);

#[derive(Default)]
struct Counters {
    commands: BTreeMap<(String, String), u64>,
    deliveries: BTreeMap<(String, String), u64>,
    lookup_buckets: [u64; LATENCY_BUCKETS.len()],
    lookup_count: u64,
    lookup_sum: f64,
}

/// What the process counts.
#[derive(Default)]
pub struct Metrics {
    counters: Mutex<Counters>,
    /// Health per component: whether it works, when it said so, and how
    /// long that stays true without a new report (`None`: until it reports again).
    components: Mutex<BTreeMap<String, Report>>,
}

impl Metrics {
    fn counters(&self) -> std::sync::MutexGuard<'_, Counters> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One command, by name and outcome (`ok`, `bad_input`, `not_found`, …).
    pub fn command(&self, name: &str, outcome: &str) {
        *self
            .counters()
            .commands
            .entry((name.to_owned(), outcome.to_owned()))
            .or_insert(0) += 1;
    }

    /// How long a look-up (a card or scores command) took.
    pub fn lookup(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut c = self.counters();
        c.lookup_count += 1;
        c.lookup_sum += seconds;
        for (bucket, bound) in c.lookup_buckets.iter_mut().zip(LATENCY_BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    /// One send's outcome on a platform (`delivered`, `rate_limited`, `retried`, `dead`, …).
    pub fn delivery(&self, platform: &str, outcome: &str) {
        self.deliveries(platform, outcome, 1);
    }

    /// `count` sends of one outcome (a dispatcher round's posts).
    pub fn deliveries(&self, platform: &str, outcome: &str, count: u64) {
        if count > 0 {
            *self
                .counters()
                .deliveries
                .entry((platform.to_owned(), outcome.to_owned()))
                .or_insert(0) += count;
        }
    }

    /// A component reports whether it is working, until it reports again.
    pub fn report(&self, component: &str, healthy: bool) {
        self.set(component, healthy, None);
    }

    /// A loop's heartbeat: healthy for [`STALE_AFTER`] unless it beats again.
    pub fn heartbeat(&self, component: &str) {
        self.set(component, true, Some(STALE_AFTER));
    }

    fn set(&self, component: &str, healthy: bool, ttl: Option<Duration>) {
        self.components
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(component.to_owned(), (healthy, Instant::now(), ttl));
    }

    /// Each component's health: unhealthy when it said so or went quiet.
    pub fn health(&self) -> BTreeMap<String, bool> {
        self.components
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(name, (healthy, at, ttl))| {
                (
                    name.clone(),
                    *healthy && ttl.is_none_or(|ttl| at.elapsed() < ttl),
                )
            })
            .collect()
    }

    /// The Prometheus text exposition of the counters, plus `gauges`
    /// measured at scrape time.
    pub fn render(&self, gauges: &[Gauge<'_>]) -> String {
        let c = self.counters();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP rouge_commands_total Commands handled, by command and outcome."
        );
        let _ = writeln!(out, "# TYPE rouge_commands_total counter");
        for ((name, outcome), n) in &c.commands {
            let _ = writeln!(
                out,
                "rouge_commands_total{{command=\"{}\",outcome=\"{}\"}} {n}",
                label(name),
                label(outcome)
            );
        }
        let _ = writeln!(
            out,
            "# HELP rouge_lookup_seconds Time to answer a look-up (card or scores)."
        );
        let _ = writeln!(out, "# TYPE rouge_lookup_seconds histogram");
        for (bound, n) in LATENCY_BUCKETS.iter().zip(c.lookup_buckets) {
            let _ = writeln!(out, "rouge_lookup_seconds_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "rouge_lookup_seconds_bucket{{le=\"+Inf\"}} {}",
            c.lookup_count
        );
        let _ = writeln!(out, "rouge_lookup_seconds_sum {}", c.lookup_sum);
        let _ = writeln!(out, "rouge_lookup_seconds_count {}", c.lookup_count);
        let _ = writeln!(
            out,
            "# HELP rouge_deliveries_total Announcement sends, by platform and outcome."
        );
        let _ = writeln!(out, "# TYPE rouge_deliveries_total counter");
        for ((platform, outcome), n) in &c.deliveries {
            let _ = writeln!(
                out,
                "rouge_deliveries_total{{platform=\"{}\",outcome=\"{}\"}} {n}",
                label(platform),
                label(outcome)
            );
        }
        for (name, help, values) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} gauge");
            for (labels, value) in values {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histogram_and_gauges() {
        let m = Metrics::default();
        m.command("info", "ok");
        m.command("info", "ok");
        m.command("rate", "bad_input");
        m.lookup(Duration::from_micros(80));
        m.delivery("telegram", "delivered");
        let text = m.render(&[(
            "rouge_outbox_depth",
            "Queued jobs.",
            vec![("{platform=\"telegram\"}".into(), 3.0)],
        )]);
        assert!(
            text.contains("rouge_commands_total{command=\"info\",outcome=\"ok\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("rouge_lookup_seconds_bucket{le=\"0.0001\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("rouge_lookup_seconds_bucket{le=\"0.00005\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("rouge_deliveries_total{platform=\"telegram\",outcome=\"delivered\"} 1")
        );
        assert!(text.contains("rouge_outbox_depth{platform=\"telegram\"} 3"));
    }

    #[test]
    fn components_report_health() {
        let m = Metrics::default();
        m.report("telegram", true);
        m.report("dispatcher:discord", false);
        m.heartbeat("dispatcher:telegram");
        let health = m.health();
        assert_eq!(health.get("telegram"), Some(&true));
        assert_eq!(health.get("dispatcher:discord"), Some(&false));
        assert_eq!(health.get("dispatcher:telegram"), Some(&true));
    }
}
