//! Catalog files in and out: imports (and the demo seed), the export, and
//! backups of the whole store.

use super::{App, ImportFailure};
use crate::core::catalog::model::Entry;
use crate::import::{self, Format};
use tracing::info;

use crate::store::{Change, StoreError};

impl App {
    /// Imports a file's bytes. A malformed file changes nothing; malformed
    /// records are skipped and listed in the summary. `progress` is called
    /// with (done, total) records while planning.
    pub fn import(
        &self,
        format: Format,
        bytes: &[u8],
        who: &str,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<import::Summary, ImportFailure> {
        let parsed = import::parse(format, bytes)?;
        progress(0, parsed.records.len());
        let _writer = self.write_lock();
        let mut plan = {
            let catalog = self.catalog();
            import::plan(&catalog, parsed, format == Format::Rouge)
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
        let audit = self.audit_record(
            who,
            "import",
            format!("import {format}: {summary}"),
            None,
            None,
            None,
        );
        let jobs = self.import_jobs(&plan.put)?;
        self.commit(Change {
            put: plan.put,
            audit: vec![audit],
            jobs,
            ..Change::default()
        })?;
        progress(total, total);
        info!(%format, added = summary.added, updated = summary.updated, skipped = summary.skipped.len(), "import finished");
        Ok(summary)
    }

    /// Every entry in id order, for `rouge export`.
    pub fn export_entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self.catalog().entries().map(|e| (**e).clone()).collect();
        entries.sort_by_key(|e| e.id);
        entries
    }
}
