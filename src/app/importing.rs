//! Catalog files in and out: imports (and the demo seed), the export, and
//! backups of the whole store.

use super::{App, ImportFailure};
use crate::core::catalog::model::Entry;
use crate::import::{self, Format};
use tracing::{info, warn};

use crate::store::{Change, StoreError};

impl App {
    /// Imports a file's bytes. A malformed file changes nothing; malformed
    /// records, records that fail the catalog's one check (or would after
    /// merging), and records that cannot be matched to one entry, are
    /// skipped and listed in the summary. Each work split off an entry that an
    /// earlier import had wrongly merged it into gets an audit line of its
    /// own, on the old entry. The summary carries the file's data horizon
    /// (`data_as_of`). `progress` is called with (done, total) records while
    /// planning.
    pub fn import(
        &self,
        format: Format,
        bytes: &[u8],
        who: &str,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<import::Summary, ImportFailure> {
        // What the catalog tells the parser (the IMDb ids imdb-ratings keeps),
        // read before parsing so that writers do not wait for the parse.
        let context = {
            let catalog = self.catalog();
            import::Context::of(&catalog, self.now().date_naive())
        };
        let parsed = import::parse_with(format, bytes, &context)?;
        progress(0, parsed.records.len());
        let _writer = self.write_lock();
        let mut plan = {
            let catalog = self.catalog();
            import::plan(&catalog, parsed)
        };
        let total = plan.put.len();
        progress(total / 2, total);
        let new = plan.put.iter().filter(|e| e.id == 0).count() as u64;
        let mut ids = self.inner.store.allocate_ids(new)?;
        for entry in plan.put.iter_mut().filter(|e| e.id == 0) {
            entry.id = ids
                .next()
                .ok_or_else(|| StoreError::Corrupt("id allocation came up short".into()))?;
        }
        if let Some(max) = plan.put.iter().map(|e| e.id).max() {
            self.inner.store.reserve_through(max)?;
        }
        let summary = plan.summary;
        let mut audit = vec![self.audit_record(
            who,
            "import",
            format!("import {format}: {summary}"),
            None,
            None,
            None,
        )];
        for split in &plan.splits {
            let new = plan.put.get(split.put).map_or(0, |e| e.id);
            audit.push(self.audit_record(
                who,
                "split",
                format!(
                    "split \"{}\" off #{} into #{new} (wrongly merged by an earlier import)",
                    split.title, split.from
                ),
                Some(split.from),
                self.entry(split.from).map(|e| (*e).clone()),
                plan.put.iter().find(|e| e.id == split.from).cloned(),
            ));
        }
        let jobs = self.import_jobs(&plan.put)?;
        self.commit(Change {
            put: plan.put,
            audit,
            jobs,
            ..Change::default()
        })?;
        // How current the catalog's schedules are, for cards, lists and
        // health; the store keeps the newest date any import gave. The
        // import itself is already written, so a failure here only warns.
        if let Some(date) = summary.data_as_of
            && let Err(e) = self.inner.store.note_data_as_of(date)
        {
            warn!(%format, %date, error = %e, "could not record the data's date");
        }
        progress(total, total);
        info!(
            %format,
            added = summary.added,
            merged = summary.merged,
            updated = summary.updated,
            split = summary.split,
            skipped = summary.skipped.len(),
            "import finished"
        );
        Ok(summary)
    }

    /// Every entry in id order, for `rouge export`.
    pub fn export_entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self.catalog().entries().map(|e| (**e).clone()).collect();
        entries.sort_by_key(|e| e.id);
        entries
    }
}
