//! The title index: every title and alias of every entry, in memory, for
//! exact, prefix, word, substring and typo-tolerant look-ups.
//!
//! Titles are compared in their folded form ([`text::fold`]). Typo tolerance
//! uses a character-bigram inverted index to pick candidates (the q-gram
//! lemma: k edits destroy at most 3k bigrams, counting transpositions) and a
//! bounded optimal-string-alignment distance to confirm them, so a query costs
//! the postings of its own bigrams, not a scan of the catalog.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::model::{Entry, EntryId, TitleLang};
use super::text;

/// Queries longer than this (in folded characters) skip the typo search.
const MAX_FUZZY_CHARS: usize = 160;
/// Most titles whose edit distance one query computes.
const MAX_TYPO_CANDIDATES: usize = 256;

/// How a query matched a title, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    Exact,
    Prefix,
    Typo,
    Words,
    Contains,
}

/// One entry found by a look-up, with the title that matched best.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub entry: EntryId,
    /// The title as written in the catalog.
    pub matched: String,
    pub lang: TitleLang,
    /// Confidence in 0..=1; 1 is an exact title match.
    pub score: f32,
    pub how: MatchKind,
}

struct Slot {
    entry: EntryId,
    text: Box<str>,
    lang: TitleLang,
    key: Box<[char]>,
    alive: bool,
}

/// The in-memory title index. Rebuilt from the store at start-up and kept up
/// to date entry by entry on edits.
#[derive(Default)]
pub struct TitleIndex {
    slots: Vec<Slot>,
    keys: BTreeMap<String, Vec<u32>>,
    words: HashMap<String, Vec<u32>>,
    grams: HashMap<u64, Vec<u32>>,
    by_entry: HashMap<EntryId, (Vec<u32>, u32)>,
    dead: usize,
}

impl TitleIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds an index over `entries`.
    pub fn build<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Self {
        let mut index = Self::new();
        for entry in entries {
            index.insert(entry);
        }
        index
    }

    /// Number of entries indexed.
    pub fn len(&self) -> usize {
        self.by_entry.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_entry.is_empty()
    }

    /// Indexes (or re-indexes) every title of `entry`.
    pub fn insert(&mut self, entry: &Entry) {
        self.remove(entry.id);
        // Better-known titles carry more identifiers and translations; that
        // breaks ties between entries that share a title.
        let weight = (entry.external_ids.len() + entry.alt_titles.len()) as u32;
        let mut tids = Vec::new();
        for (title, lang) in entry.all_titles() {
            let folded = text::fold(title);
            if folded.key.is_empty()
                || tids.iter().any(|&t: &u32| {
                    self.slots[t as usize]
                        .key
                        .iter()
                        .copied()
                        .eq(folded.key.chars())
                })
            {
                continue;
            }
            let tid = self.slots.len() as u32;
            let key: Box<[char]> = folded.key.chars().collect();
            for gram in grams(&key) {
                self.grams.entry(gram).or_default().push(tid);
            }
            let mut seen = Vec::new();
            for word in folded.words {
                if !seen.contains(&word) {
                    self.words.entry(word.clone()).or_default().push(tid);
                    seen.push(word);
                }
            }
            self.keys.entry(folded.key).or_default().push(tid);
            self.slots.push(Slot {
                entry: entry.id,
                text: title.into(),
                lang,
                key,
                alive: true,
            });
            tids.push(tid);
        }
        self.by_entry.insert(entry.id, (tids, weight));
    }

    /// Forgets an entry's titles.
    pub fn remove(&mut self, id: EntryId) {
        let Some((tids, _)) = self.by_entry.remove(&id) else {
            return;
        };
        for tid in tids {
            let slot = &mut self.slots[tid as usize];
            slot.alive = false;
            let folded = text::fold(&slot.text);
            if let Some(list) = self.keys.get_mut(&folded.key) {
                list.retain(|&t| t != tid);
                if list.is_empty() {
                    self.keys.remove(&folded.key);
                }
            }
            for word in folded.words {
                if let Some(list) = self.words.get_mut(&word) {
                    list.retain(|&t| t != tid);
                    if list.is_empty() {
                        self.words.remove(&word);
                    }
                }
            }
            self.dead += 1;
        }
        // Bigram postings keep dead slots until they outnumber live ones.
        if self.dead > 1024 && self.dead > self.slots.len() / 2 {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let mut remap = vec![u32::MAX; self.slots.len()];
        let old = std::mem::take(&mut self.slots);
        for (tid, slot) in old.into_iter().enumerate() {
            if slot.alive {
                remap[tid] = self.slots.len() as u32;
                self.slots.push(slot);
            }
        }
        let fix = |list: &mut Vec<u32>| {
            list.retain(|&t| remap[t as usize] != u32::MAX);
            for t in list.iter_mut() {
                *t = remap[*t as usize];
            }
        };
        self.grams.values_mut().for_each(fix);
        self.grams.retain(|_, l| !l.is_empty());
        self.keys.values_mut().for_each(fix);
        self.words.values_mut().for_each(fix);
        for (tids, _) in self.by_entry.values_mut() {
            fix(tids);
        }
        self.dead = 0;
    }

    /// Entries that have `title` as a title, up to case, width and punctuation.
    pub fn exact(&self, title: &str) -> Vec<EntryId> {
        let mut ids: Vec<EntryId> = self
            .keys
            .get(&text::fold(title).key)
            .into_iter()
            .flatten()
            .map(|&tid| self.slots[tid as usize].entry)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The best `limit` entries for `query`, best first; one hit per entry.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let folded = text::fold(query);
        if folded.key.is_empty() || limit == 0 {
            return Vec::new();
        }
        let q: Vec<char> = folded.key.chars().collect();
        let mut best = Best::default();

        if let Some(tids) = self.keys.get(&folded.key) {
            // Titles that differ only in punctuation ("DUEL MASTERS" and
            // "DUEL MASTERS!") are different series: the one written exactly
            // as asked comes first.
            let asked = text::light(query);
            for &tid in tids {
                let written_alike = text::light(&self.slots[tid as usize].text) == asked;
                best.offer(
                    &self.slots,
                    tid,
                    if written_alike { 1.0 } else { 0.99 },
                    MatchKind::Exact,
                );
            }
        }
        for (key, tids) in self
            .keys
            .range::<str, _>((
                std::ops::Bound::Excluded(folded.key.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(k, _)| k.starts_with(folded.key.as_str()))
            .take(256)
        {
            let ratio = q.len() as f32 / key.chars().count() as f32;
            for &tid in tids {
                best.offer(&self.slots, tid, 0.80 + 0.15 * ratio, MatchKind::Prefix);
            }
        }
        let exact_found = best.0.values().any(|b| b.2 == MatchKind::Exact);

        if folded.words.len() > 1 {
            self.word_matches(&folded.words, q.len(), &mut best);
        }
        // An exact title settles it; substrings and typos are only looked
        // for when there is none (prefixes and words above already offer
        // the longer titles a picker needs).
        if !exact_found && q.len() >= 2 && q.len() <= MAX_FUZZY_CHARS {
            self.gram_matches(&q, &mut best);
        }

        let mut hits: Vec<(f32, u32, EntryId, u32, MatchKind)> = best
            .0
            .into_iter()
            .map(|(entry, (score, tid, how))| {
                let weight = self.by_entry.get(&entry).map_or(0, |e| e.1);
                (score, weight, entry, tid, how)
            })
            .collect();
        hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
        hits.truncate(limit);
        hits.into_iter()
            .map(|(score, _, entry, tid, how)| {
                let slot = &self.slots[tid as usize];
                Hit {
                    entry,
                    matched: slot.text.to_string(),
                    lang: slot.lang,
                    score,
                    how,
                }
            })
            .collect()
    }

    /// Titles that contain every word of the query, in any order.
    fn word_matches(&self, words: &[String], qlen: usize, best: &mut Best) {
        let mut lists: Vec<&Vec<u32>> = Vec::new();
        for word in words {
            match self.words.get(word) {
                Some(list) => lists.push(list),
                None => return,
            }
        }
        lists.sort_by_key(|l| l.len());
        for &tid in lists[0] {
            if lists[1..].iter().all(|l| l.contains(&tid)) {
                let ratio = qlen as f32 / self.slots[tid as usize].key.len() as f32;
                best.offer(&self.slots, tid, 0.60 + 0.25 * ratio, MatchKind::Words);
            }
        }
    }

    /// Substring and typo-tolerant matches, found through shared bigrams.
    fn gram_matches(&self, q: &[char], best: &mut Best) {
        let mut qgrams: Vec<u64> = grams(q).collect();
        qgrams.sort_unstable();
        qgrams.dedup();
        let k = max_typos(q.len());
        let need = qgrams.len().saturating_sub(3 * k).max(1);
        let mut counts = vec![0u8; self.slots.len()];
        let mut touched = Vec::new();
        for gram in &qgrams {
            if let Some(list) = self.grams.get(gram) {
                for &tid in list {
                    let c = &mut counts[tid as usize];
                    if *c == 0 {
                        touched.push(tid);
                    }
                    *c = c.saturating_add(1);
                }
            }
        }
        let mut candidates: Vec<(u8, u32)> = touched
            .into_iter()
            .map(|tid| (counts[tid as usize], tid))
            .filter(|&(shared, tid)| shared as usize >= need && self.slots[tid as usize].alive)
            .collect();
        for &(shared, tid) in &candidates {
            let key = &self.slots[tid as usize].key;
            if shared as usize == qgrams.len()
                && key.len() > q.len()
                && contains(key, q)
                && !key.starts_with(q)
            {
                let ratio = q.len() as f32 / key.len() as f32;
                best.offer(&self.slots, tid, 0.55 + 0.25 * ratio, MatchKind::Contains);
            }
        }
        if k == 0 {
            return;
        }
        // Short queries with typos share a bigram or two with thousands of
        // titles; the edit distance is worth computing only for those that
        // share the most.
        if candidates.len() > MAX_TYPO_CANDIDATES {
            candidates.select_nth_unstable_by(MAX_TYPO_CANDIDATES, |a, b| b.0.cmp(&a.0));
            candidates.truncate(MAX_TYPO_CANDIDATES);
        }
        for (_, tid) in candidates {
            let key = &self.slots[tid as usize].key;
            let Some((full, prefix)) = bounded_distance(q, key, k) else {
                continue;
            };
            if let Some(d) = full.filter(|&d| d > 0) {
                let len = q.len().max(key.len()) as f32;
                best.offer(
                    &self.slots,
                    tid,
                    0.92 - 0.5 * d as f32 / len,
                    MatchKind::Typo,
                );
            }
            if prefix > 0 && key.len() > q.len() {
                let ratio = q.len() as f32 / key.len() as f32;
                let score = 0.75 - 0.4 * prefix as f32 / q.len() as f32 + 0.1 * ratio;
                best.offer(&self.slots, tid, score, MatchKind::Typo);
            }
        }
    }
}

/// The best match found so far for each entry: (score, title slot, how).
#[derive(Default)]
struct Best(HashMap<EntryId, (f32, u32, MatchKind)>);

impl Best {
    fn offer(&mut self, slots: &[Slot], tid: u32, score: f32, how: MatchKind) {
        let slot = &slots[tid as usize];
        if !slot.alive {
            return;
        }
        let e = self.0.entry(slot.entry).or_insert((score, tid, how));
        if score > e.0 {
            *e = (score, tid, how);
        }
    }
}

/// How many typos a query of `len` folded characters may contain.
fn max_typos(len: usize) -> usize {
    match len {
        0..=3 => 0,
        4..=7 => 1,
        8..=13 => 2,
        _ => 3,
    }
}

fn grams(chars: &[char]) -> impl Iterator<Item = u64> + '_ {
    chars
        .windows(2)
        .map(|w| (u64::from(w[0] as u32) << 32) | u64::from(w[1] as u32))
}

fn contains(haystack: &[char], needle: &[char]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The optimal-string-alignment distance from `q` to all of `t` (when it is
/// at most `k`) and to the closest prefix of `t`, or `None` when even the
/// best prefix needs more than `k` edits.
fn bounded_distance(q: &[char], t: &[char], k: usize) -> Option<(Option<usize>, usize)> {
    // Prefixes longer than q + k can never be within k.
    let cols = t.len().min(q.len() + k);
    let mut prev2 = vec![usize::MAX; cols + 1];
    let mut prev: Vec<usize> = (0..=cols).collect();
    let mut row = vec![0; cols + 1];
    for i in 1..=q.len() {
        row[0] = i;
        let mut row_min = row[0];
        for j in 1..=cols {
            let cost = usize::from(q[i - 1] != t[j - 1]);
            let mut v = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && q[i - 1] == t[j - 2] && q[i - 2] == t[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            row[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > k {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut row);
    }
    let prefix = prev.iter().copied().min().unwrap_or(usize::MAX);
    let full = (cols == t.len()).then(|| prev[cols]).filter(|&d| d <= k);
    (prefix <= k).then_some((full, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: EntryId, title: &str, alts: &[(&str, TitleLang)]) -> Entry {
        let mut e = Entry::new(id, title);
        for (text, lang) in alts {
            e.add_alt_title(text, *lang);
        }
        e
    }

    fn index() -> TitleIndex {
        TitleIndex::build(&[
            entry(
                1,
                "メタリックルージュ",
                &[
                    ("Metallic Rouge", TitleLang::En),
                    ("金属口红", TitleLang::ZhHans),
                ],
            ),
            entry(2, "NARUTO -ナルト-", &[("Naruto", TitleLang::En)]),
            entry(
                3,
                "NARUTO -ナルト- 疾風伝",
                &[("Naruto Shippuden", TitleLang::En)],
            ),
            entry(
                4,
                "葬送のフリーレン",
                &[("Frieren: Beyond Journey's End", TitleLang::En)],
            ),
        ])
    }

    #[test]
    fn exact_titles_in_every_script() {
        let idx = index();
        for q in [
            "Metallic Rouge",
            "メタリックルージュ",
            "金属口红",
            "めたりっくるーじゅ",
            "METALLIC-ROUGE",
        ] {
            let hits = idx.search(q, 5);
            assert_eq!(hits[0].entry, 1, "{q}");
            assert_eq!(hits[0].how, MatchKind::Exact, "{q}");
        }
    }

    #[test]
    fn typos_prefixes_and_words() {
        let idx = index();
        assert_eq!(idx.search("metalic rouge", 5)[0].entry, 1);
        assert_eq!(idx.search("metalic rouge", 5)[0].how, MatchKind::Typo);
        assert_eq!(idx.search("frieren", 5)[0].entry, 4);
        assert_eq!(idx.search("freiren", 5)[0].entry, 4);
        assert_eq!(idx.search("journey's end", 5)[0].entry, 4);
        let naruto = idx.search("naruto", 5);
        assert_eq!((naruto[0].entry, naruto[0].how), (2, MatchKind::Exact));
        assert_eq!(naruto[1].entry, 3);
        assert!(naruto[1].score < naruto[0].score);
    }

    #[test]
    fn nothing_for_noise() {
        let idx = index();
        assert!(idx.search("", 5).is_empty());
        assert!(idx.search("   !!! 🔥", 5).is_empty());
        assert!(idx.search("zzzzzzzz", 5).is_empty());
        assert!(idx.search(&"a".repeat(10_000), 5).is_empty());
    }

    #[test]
    fn edits_are_reflected() {
        let mut idx = index();
        let mut e = entry(
            1,
            "メタリックルージュ",
            &[("Rouge Redstar", TitleLang::Synonym)],
        );
        idx.insert(&e);
        assert!(
            idx.search("metallic rouge", 5)
                .iter()
                .all(|h| h.how != MatchKind::Exact)
        );
        assert_eq!(idx.search("rouge redstar", 5)[0].entry, 1);
        e.id = 9;
        idx.insert(&e);
        idx.remove(1);
        assert_eq!(idx.search("rouge redstar", 5)[0].entry, 9);
        assert_eq!(idx.len(), 4);
    }

    #[test]
    fn distance_bounds() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(
            bounded_distance(&c("abcd"), &c("abcd"), 1),
            Some((Some(0), 0))
        );
        assert_eq!(
            bounded_distance(&c("abdc"), &c("abcd"), 1),
            Some((Some(1), 1))
        );
        assert_eq!(
            bounded_distance(&c("abc"), &c("abcdefgh"), 1),
            Some((None, 0))
        );
        assert_eq!(bounded_distance(&c("xyz"), &c("abcdefgh"), 1), None);
    }
}
