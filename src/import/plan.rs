//! Planning an import of works (see the [parent module](super) for the
//! rules): folding a file's duplicate listings, deciding for each work which
//! stored entry it is (strongest claim first), placing new entries and
//! splits, and checking every entry the plan would write.

use std::collections::{HashMap, HashSet};

use super::matching::{Claim, IdIndex, by_specificity, claims, decisive};
use super::merge::{Dates, merge};
use super::split::{carries, strip};
use super::{Facts, Incoming, Parsed, Plan, Rules, Skipped, Split, Summary, checked};
use crate::core::catalog::Catalog;
use crate::core::catalog::model::{Entry, EntryId};

/// What becomes of one work of the file.
enum Decision {
    /// It updates this stored entry.
    Merge(EntryId),
    /// It becomes a new entry, split off these stored entries (none: a
    /// plain addition).
    New(Vec<EntryId>),
    Skip(String),
}

/// The entries a plan writes, with what each one was before.
#[derive(Default)]
struct Slots {
    put: Vec<Entry>,
    /// The stored entry a slot updates; `None` for a new entry.
    origin: Vec<Option<EntryId>>,
    /// The work of the file merged into a slot, if any.
    work: Vec<Option<usize>>,
    by_existing: HashMap<EntryId, usize>,
}

impl Slots {
    fn push(&mut self, entry: Entry, origin: Option<EntryId>, work: Option<usize>) -> usize {
        self.put.push(entry);
        self.origin.push(origin);
        self.work.push(work);
        let slot = self.put.len() - 1;
        if let Some(id) = origin {
            self.by_existing.insert(id, slot);
        }
        slot
    }

    /// The slot of a stored entry, made on first use.
    fn of_existing(&mut self, existing: &Catalog, id: EntryId) -> Option<usize> {
        if let Some(&slot) = self.by_existing.get(&id) {
            return Some(slot);
        }
        let entry = existing.get(id)?.clone();
        Some(self.push(entry, Some(id), None))
    }

    /// A stored entry as this plan has it so far.
    fn current<'a>(&'a self, existing: &'a Catalog, id: EntryId) -> Option<&'a Entry> {
        match self.by_existing.get(&id) {
            Some(&slot) => Some(&self.put[slot]),
            None => existing.get(id),
        }
    }

    /// The work of the file already merged into a stored entry.
    fn taker(&self, id: EntryId) -> Option<usize> {
        self.by_existing.get(&id).and_then(|&slot| self.work[slot])
    }
}

/// A work split off a stored entry: the entry, the work, and the slot of
/// the work's new entry.
struct Absorbed {
    from: EntryId,
    work: usize,
    slot: usize,
}

/// Merges `parsed` into the catalog (see the module docs): each work of the
/// file updates the entry it is, becomes a new entry, or is skipped with a
/// reason; entries that had absorbed a work are split. Formats that only
/// annotate entries the catalog has ([`Facts`]) are planned by their own
/// modules. Every record, and every entry the plan writes, passes
/// [`checked`]; one that does not is skipped with its reason.
pub fn plan(existing: &Catalog, parsed: Parsed) -> Plan {
    let Parsed {
        records,
        mut skipped,
        rules,
        data_as_of,
        facts,
    } = parsed;
    match facts {
        Facts::Ratings(ratings) => return super::imdb_ratings::plan(existing, ratings, skipped),
        Facts::Ids(mappings) => return super::anime_lists::plan(existing, mappings, skipped),
        Facts::None => {}
    }
    let records = valid(records, &mut skipped);
    let read = records.len();
    let mut works = works(records);
    let (mut slots, decisions) = decide_all(existing, &works, rules);
    let absorbed = place_new(
        existing,
        &mut slots,
        &mut works,
        decisions,
        rules,
        &mut skipped,
    );
    let splits = split_off(existing, &mut slots, &works, absorbed);
    let summary = Summary {
        merged: read - works.len(),
        data_as_of,
        ..Summary::default()
    };
    finish(existing, slots, splits, &works, summary, skipped)
}

/// The records that pass [`checked`]; the others are skipped with the reason.
fn valid(records: Vec<Incoming>, skipped: &mut Vec<Skipped>) -> Vec<Incoming> {
    records
        .into_iter()
        .filter(|record| match checked(&record.entry) {
            Ok(()) => true,
            Err(reason) => {
                skipped.push(Skipped {
                    position: record.position.clone(),
                    reason,
                });
                false
            }
        })
        .collect()
}

/// Folds the file's duplicate listings (records with the same
/// [`Incoming::listing`] key) into one work each, in file order.
fn works(records: Vec<Incoming>) -> Vec<Incoming> {
    let mut works: Vec<Incoming> = Vec::with_capacity(records.len());
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for record in records {
        if let Some(key) = &record.listing {
            if let Some(&w) = by_key.get(key) {
                merge(&mut works[w].entry, &record, Dates::Widen);
                continue;
            }
            by_key.insert(key.clone(), works.len());
        }
        works.push(record);
    }
    works
}

/// Decides every work, strongest claim first (the file's order only between
/// equal claims), merging each matched work into its entry's slot at once so
/// that later works see what earlier ones made of an entry.
fn decide_all(
    existing: &Catalog,
    works: &[Incoming],
    rules: Rules,
) -> (Slots, Vec<Option<Decision>>) {
    let index = IdIndex::of(existing);
    let claims: Vec<Vec<Claim>> = works
        .iter()
        .map(|w| claims(existing, &index, &w.entry, rules))
        .collect();
    let mut order: Vec<usize> = (0..works.len()).collect();
    order.sort_by_key(|&w| std::cmp::Reverse(claims[w].iter().filter_map(|c| c.strength).max()));
    let mut slots = Slots::default();
    let mut decisions: Vec<Option<Decision>> = works.iter().map(|_| None).collect();
    for w in order {
        let decision = decide(existing, &slots, works, w, &claims[w], rules);
        if let Decision::Merge(id) = decision
            && let Some(slot) = slots.of_existing(existing, id)
        {
            merge(&mut slots.put[slot], &works[w], Dates::Replace);
            slots.work[slot] = Some(w);
        }
        decisions[w] = Some(decision);
    }
    (slots, decisions)
}

/// Gives each new work a slot, in file order so that a fresh import numbers
/// them as the file lists them, and records skipped works. Returns the
/// splits to make.
fn place_new(
    existing: &Catalog,
    slots: &mut Slots,
    works: &mut [Incoming],
    decisions: Vec<Option<Decision>>,
    rules: Rules,
    skipped: &mut Vec<Skipped>,
) -> Vec<Absorbed> {
    let mut taken_ids: HashSet<EntryId> = HashSet::new();
    let mut absorbed = Vec::new();
    for (w, decision) in decisions.into_iter().enumerate() {
        match decision {
            Some(Decision::New(from)) => {
                // Only a split's work is read again (by `strip`); the rest move.
                let mut entry = if from.is_empty() {
                    std::mem::replace(&mut works[w].entry, Entry::new(0, ""))
                } else {
                    works[w].entry.clone()
                };
                let keep = rules.keep_ids
                    && entry.id != 0
                    && existing.get(entry.id).is_none()
                    && taken_ids.insert(entry.id);
                if !keep {
                    entry.id = 0;
                }
                let slot = slots.push(entry, None, Some(w));
                absorbed.extend(from.into_iter().map(|from| Absorbed {
                    from,
                    work: w,
                    slot,
                }));
            }
            Some(Decision::Skip(reason)) => skipped.push(Skipped {
                position: works[w].position.clone(),
                reason,
            }),
            Some(Decision::Merge(_)) | None => {}
        }
    }
    absorbed
}

/// Takes each split work's titles, links and broadcasts back from the entry
/// that had absorbed it. The splits' `put` are still slots here.
fn split_off(
    existing: &Catalog,
    slots: &mut Slots,
    works: &[Incoming],
    absorbed: Vec<Absorbed>,
) -> Vec<Split> {
    let mut splits = Vec::new();
    for Absorbed { from, work, slot } in absorbed {
        let Some(old) = slots.of_existing(existing, from) else {
            continue;
        };
        let keep = slots.work[old].map(|k| &works[k]);
        strip(&mut slots.put[old], &works[work], keep);
        splits.push(Split {
            from,
            from_title: slots.put[old].title.clone(),
            title: works[work].entry.title.clone(),
            put: slot,
        });
    }
    splits
}

/// Checks every slot and counts it: a slot that fails [`checked`] is not
/// written and its work is skipped with the reason, and so are the slots
/// split with it (a split is written whole or not at all, so that no work
/// ends up in two entries). Unchanged entries are not written, so slots and
/// [`Plan::put`] indices differ; splits are renumbered.
fn finish(
    existing: &Catalog,
    slots: Slots,
    mut splits: Vec<Split>,
    works: &[Incoming],
    mut summary: Summary,
    mut skipped: Vec<Skipped>,
) -> Plan {
    let mut failed: Vec<Option<String>> =
        slots.put.iter().map(|entry| checked(entry).err()).collect();
    let slot_of = |id: EntryId| slots.by_existing.get(&id).copied();
    // A failure spreads through splits until nothing changes (splits are few).
    loop {
        let mut spread = false;
        for split in &splits {
            let Some(old) = slot_of(split.from) else {
                continue;
            };
            for (a, b) in [(old, split.put), (split.put, old)] {
                if failed[b].is_none()
                    && let Some(why) = failed[a].clone()
                {
                    failed[b] = Some(format!(
                        "it is split with #{} \"{}\", and one of the two would fail the check ({why})",
                        split.from, split.from_title
                    ));
                    spread = true;
                }
            }
        }
        if !spread {
            break;
        }
    }
    splits.retain(|s| failed[s.put].is_none());
    summary.split = splits.len();
    let mut plan = Plan::default();
    let mut put_index = vec![usize::MAX; slots.put.len()];
    for (slot, (entry, origin)) in slots.put.into_iter().zip(slots.origin).enumerate() {
        if let Some(reason) = failed[slot].take() {
            if let Some(w) = slots.work[slot] {
                skipped.push(Skipped {
                    position: works[w].position.clone(),
                    reason: match origin {
                        Some(id) => format!(
                            "#{id} with this merged in would fail the check ({reason}); #{id} is left as it was"
                        ),
                        None => reason,
                    },
                });
            }
            continue;
        }
        match origin {
            None => summary.added += 1,
            Some(id) if existing.get(id) == Some(&entry) => {
                summary.unchanged += 1;
                continue;
            }
            Some(_) => summary.updated += 1,
        }
        put_index[slot] = plan.put.len();
        plan.put.push(entry);
    }
    for split in &mut splits {
        split.put = put_index[split.put];
    }
    summary.skipped = skipped;
    plan.splits = splits;
    plan.summary = summary;
    plan
}

/// Which stored entry work `w` is, given what the plan has merged so far.
fn decide(
    existing: &Catalog,
    slots: &Slots,
    works: &[Incoming],
    w: usize,
    claims: &[Claim],
    rules: Rules,
) -> Decision {
    let work = &works[w].entry;
    let (live, apart) = sort_claims(existing, slots, work, claims);
    let absorbed_by = |ids: &[EntryId]| -> Vec<EntryId> {
        ids.iter()
            .copied()
            .filter(|&id| {
                rules.split_absorbed
                    && slots
                        .current(existing, id)
                        .is_some_and(|e| carries(e, work))
            })
            .collect()
    };
    let Some(top) = live.iter().filter_map(|(c, _)| c.strength).max() else {
        return Decision::New(absorbed_by(&apart));
    };
    let best: Vec<&(&Claim, Option<usize>)> = live
        .iter()
        .filter(|(c, _)| c.strength == Some(top))
        .collect();
    match best.as_slice() {
        [(claim, None)] => Decision::Merge(claim.entry),
        [(claim, Some(taker))] => {
            let mut from = absorbed_by(&[claim.entry]);
            if !from.is_empty() {
                from.extend(absorbed_by(&apart));
                return Decision::New(from);
            }
            let other = &works[*taker];
            Decision::Skip(format!(
                "matches {} ({}), which {} \"{}\" of this file matched as well or better; \
                 not merged, so that two works do not become one entry (if this one is \
                 missing, add it with /anime admin add)",
                name(existing, slots, claim.entry),
                claim.why,
                other.position,
                other.entry.title
            ))
        }
        _ => Decision::Skip(ambiguous(existing, slots, work, &best)),
    }
}

/// A work's claims as the plan has the entries so far: the candidates (with
/// the work of the file that took each, if any) and the entries told apart.
/// A candidate another work took is re-read as that work made it: once it
/// carries the other work's ids, it may no longer match this one.
fn sort_claims<'c>(
    existing: &Catalog,
    slots: &Slots,
    work: &Entry,
    claims: &'c [Claim],
) -> (Vec<(&'c Claim, Option<usize>)>, Vec<EntryId>) {
    let mut live = Vec::new();
    let mut apart = Vec::new();
    for claim in claims {
        let Some(current) = slots.current(existing, claim.entry) else {
            continue;
        };
        let taker = slots.taker(claim.entry);
        let told_apart = claim.strength.is_none()
            || (taker.is_some()
                && matches!(
                    decisive(&work.external_ids, &current.external_ids),
                    Some((_, _, false))
                ));
        if told_apart {
            apart.push(claim.entry);
        } else {
            live.push((claim, taker));
        }
    }
    (live, apart)
}

/// `#7 "ONE PIECE"`, for messages.
fn name(existing: &Catalog, slots: &Slots, id: EntryId) -> String {
    match slots.current(existing, id) {
        Some(e) => format!("#{id} \"{}\"", e.title),
        None => format!("#{id}"),
    }
}

/// Why a work whose best candidates cannot be told apart is skipped, and
/// the edit that tells them apart: linking the first one by an id of the
/// work's that none of them carries, most specific first.
fn ambiguous(
    existing: &Catalog,
    slots: &Slots,
    work: &Entry,
    best: &[&(&Claim, Option<usize>)],
) -> String {
    let names: Vec<String> = best
        .iter()
        .map(|(c, _)| name(existing, slots, c.entry))
        .collect();
    let first = best[0].0.entry;
    let hint = by_specificity(&work.external_ids)
        .find(|(s, _)| {
            best.iter().all(|(c, _)| {
                slots
                    .current(existing, c.entry)
                    .is_none_or(|e| !e.external_ids.contains_key(*s))
            })
        })
        .map_or_else(
            || "tell them apart with /anime admin edit (an id or the first air date) and import again".to_owned(),
            |(s, id)| format!("link the right one with /anime admin edit #{first} id.{s}={id} and import again"),
        );
    format!(
        "matches {} equally ({}); not merged, so that one record does not update two entries; {hint}",
        and_list(&names),
        best[0].0.why
    )
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
