//! Queueing a fan-out: which of a change's jobs are new (never queued,
//! delivered or dead-lettered), grouped by release with each release's
//! shared record, and the floors lowered under the rows written.

use std::collections::HashSet;

use chrono::DateTime;

use super::{
    Floors, ReleaseRecord, dead_key, due_key_of, platform_end, platform_of, platform_until,
    release_of, release_record_key,
};
use crate::core::announce::Job;
use crate::core::platform::Platform;
use crate::store::records::QueuedRecord;
use crate::store::{Store, StoreError, decode, encode};

/// One release's share of a change.
pub(in crate::store) struct ReleaseRows<'a> {
    /// The release record's key, and what to write there (if anything).
    pub key: Vec<u8>,
    pub record: Option<Vec<u8>>,
    /// The stored record: `None` for a release never seen.
    stored: Option<Option<ReleaseRecord>>,
    /// The jobs asked for, by job key.
    candidates: Vec<(Vec<u8>, &'a Job)>,
    /// Row key and record of each job to queue.
    pub jobs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Store {
    /// The rows that queue `jobs`, grouped by release, leaving out every job
    /// that was ever queued (and a job given twice), and each release's
    /// record to write. The caller holds the outbox lock until the rows are
    /// written and handed to [`Store::queued_rows_written`].
    pub(in crate::store) fn new_jobs<'a>(
        &self,
        jobs: &'a [Job],
    ) -> Result<Vec<ReleaseRows<'a>>, StoreError> {
        // A job given twice is queued once, as first given.
        let mut keyed: Vec<(Vec<u8>, &'a Job)> = jobs
            .iter()
            .map(|job| (crate::store::keys::job(job), job))
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        keyed.dedup_by(|later, first| later.0 == first.0);
        let mut releases: Vec<ReleaseRows<'a>> = Vec::new();
        for (key, job) in keyed {
            let release = release_of(&key)
                .ok_or_else(|| StoreError::Corrupt("a job key without a release".into()))?;
            let record_key = release_record_key(release);
            let i = match releases.iter().position(|r| r.key == record_key) {
                Some(i) => i,
                None => {
                    let stored = match self.jobs.get(&record_key)? {
                        None => None,
                        Some(v) if v.is_empty() => Some(None),
                        Some(v) => Some(Some(decode::<ReleaseRecord>(&v)?)),
                    };
                    releases.push(ReleaseRows {
                        key: record_key,
                        record: None,
                        stored,
                        candidates: Vec::new(),
                        jobs: Vec::new(),
                    });
                    releases.len() - 1
                }
            };
            releases[i].candidates.push((key, job));
        }
        for release in &mut releases {
            self.select_new(release)?;
        }
        Ok(releases)
    }

    /// Keeps the candidates of `release` that were never queued, delivered
    /// or dead-lettered, as rows to write, and decides its record.
    fn select_new(&self, release: &mut ReleaseRows<'_>) -> Result<(), StoreError> {
        let candidates = std::mem::take(&mut release.candidates);
        let earliest_new = candidates.iter().map(|(_, job)| job.due_at).min();
        let first = candidates.first().map(|(_, job)| *job);
        // A release seen before: its jobs are among the rows due since its
        // earliest job (since the start for one migrated without a record).
        let mut existing = HashSet::new();
        if let Some(stored) = &release.stored {
            let since = stored
                .as_ref()
                .map_or(DateTime::UNIX_EPOCH, |r| r.earliest_due);
            let prefix = release.key.get(1..).unwrap_or_default();
            let platforms: HashSet<Platform> =
                candidates.iter().map(|(_, j)| j.chat.platform).collect();
            for platform in platforms {
                let from = platform_until(platform, since - chrono::Duration::milliseconds(1));
                for read in self.rows_from(from, platform_end(platform)) {
                    let due = read?;
                    if due.key.0.starts_with(prefix) {
                        existing.insert(due.key.0);
                    }
                }
            }
        }
        for (key, job) in candidates {
            let seen = release.stored.is_some()
                && (existing.contains(&key) || self.jobs.contains_key(dead_key(&key))?);
            if !seen {
                let row = due_key_of(job.chat.platform, job.due_at, &key, job.is_group);
                release.jobs.push((row, QueuedRecord::encode(job)));
            }
        }
        // The record: written for a new release (or one that had none),
        // rewritten when a job is due earlier than any before.
        let (Some(earliest_new), Some(first)) = (earliest_new, first) else {
            return Ok(());
        };
        let shared = || Ok::<_, StoreError>(first.release.shared());
        release.record = match &release.stored {
            None => Some(encode(&ReleaseRecord {
                earliest_due: earliest_new,
                announcement: shared()?,
            })?),
            Some(None) => Some(encode(&ReleaseRecord {
                earliest_due: DateTime::UNIX_EPOCH,
                announcement: shared()?,
            })?),
            Some(Some(r)) if !release.jobs.is_empty() && earliest_new < r.earliest_due => {
                Some(encode(&ReleaseRecord {
                    earliest_due: earliest_new,
                    announcement: r.announcement.clone(),
                })?)
            }
            Some(Some(_)) => None,
        };
        Ok(())
    }

    /// Lowers the floors below the rows just queued; the caller still holds
    /// the outbox lock it took before [`Store::new_jobs`].
    pub(in crate::store) fn queued_rows_written(
        &self,
        floors: &mut Floors,
        releases: &[ReleaseRows<'_>],
    ) {
        for (row, _) in releases.iter().flat_map(|r| &r.jobs) {
            if let Some(platform) = row.get(1).copied().and_then(platform_of) {
                floors.lower(platform, row);
            }
        }
    }
}
