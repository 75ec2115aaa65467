//! The in-memory catalog: every entry, the title index and the external-id
//! map, rebuilt from the store at start-up and updated after each write.

use std::collections::HashMap;
use std::sync::Arc;

use super::model::{Entry, EntryId};
use super::search::{Hit, TitleIndex};

#[derive(Default)]
pub struct Catalog {
    entries: HashMap<EntryId, Arc<Entry>>,
    index: TitleIndex,
    external: HashMap<(String, String), EntryId>,
}

impl Catalog {
    /// Builds the catalog from stored entries.
    pub fn build(entries: Vec<Entry>) -> Catalog {
        let mut catalog = Catalog {
            index: TitleIndex::build(&entries),
            ..Catalog::default()
        };
        for entry in entries {
            catalog.link_external(&entry);
            catalog.entries.insert(entry.id, Arc::new(entry));
        }
        catalog
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entry(&self, id: EntryId) -> Option<Arc<Entry>> {
        self.entries.get(&id).cloned()
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.entries.values()
    }

    /// The entry that carries `id` from `source`, if any.
    pub fn by_external(&self, source: &str, id: &str) -> Option<EntryId> {
        self.external
            .get(&(source.to_owned(), id.to_owned()))
            .copied()
    }

    /// Entries with `title` as one of their titles (up to case, width and punctuation).
    pub fn by_title(&self, title: &str) -> Vec<EntryId> {
        self.index.exact(title)
    }

    /// An entry, borrowed.
    pub fn get(&self, id: EntryId) -> Option<&Entry> {
        self.entries.get(&id).map(|e| e.as_ref())
    }

    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        self.index.search(query, limit)
    }

    /// The best `limit` hits among entries that pass `keep` (a chat's
    /// filter): the index is asked for more until enough pass or it has no
    /// more.
    pub fn search_where(
        &self,
        query: &str,
        limit: usize,
        keep: impl Fn(&Entry) -> bool,
    ) -> Vec<Hit> {
        let mut asked = limit;
        loop {
            let hits = self.index.search(query, asked);
            let exhausted = hits.len() < asked;
            let kept: Vec<Hit> = hits
                .into_iter()
                .filter(|h| self.get(h.entry).is_some_and(&keep))
                .take(limit)
                .collect();
            if kept.len() == limit || exhausted || asked >= 64 * limit.max(1) {
                return kept;
            }
            asked *= 4;
        }
    }

    /// Adds or replaces an entry.
    pub fn upsert(&mut self, entry: Entry) {
        if let Some(old) = self.entries.get(&entry.id).cloned() {
            self.unlink_external(&old);
        }
        self.index.insert(&entry);
        self.link_external(&entry);
        self.entries.insert(entry.id, Arc::new(entry));
    }

    pub fn remove(&mut self, id: EntryId) {
        if let Some(old) = self.entries.remove(&id) {
            self.unlink_external(&old);
            self.index.remove(id);
        }
    }

    fn link_external(&mut self, entry: &Entry) {
        for (source, id) in &entry.external_ids {
            self.external
                .entry((source.clone(), id.clone()))
                .or_insert(entry.id);
        }
    }

    fn unlink_external(&mut self, entry: &Entry) {
        for (source, id) in &entry.external_ids {
            let key = (source.clone(), id.clone());
            if self.external.get(&key) == Some(&entry.id) {
                self.external.remove(&key);
            }
        }
    }
}
