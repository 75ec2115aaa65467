//! Splitting back works that an import by an earlier version merged into
//! another work's entry (see [`Rules::split_absorbed`](super::Rules)): how
//! such an entry is recognised ([`carries`]) and what leaves it ([`strip`]).
//! The old entry keeps its id and main title, so ratings, subscriptions and
//! owners' edits stay with it; the work becomes an entry of its own.

use std::collections::HashSet;

use super::Incoming;
use super::merge::writable;
use crate::core::catalog::model::{Entry, Field};

/// Whether `entry` shows the marks an earlier import left when it merged
/// `work` into it: the work's main title as an alternative title, beside an
/// id or a link of the work's.
pub(super) fn carries(entry: &Entry, work: &Entry) -> bool {
    entry.title != work.title
        && entry.alt_titles.iter().any(|t| t.text == work.title)
        && (work
            .external_ids
            .iter()
            .any(|(s, id)| entry.external_ids.get(s) == Some(id))
            || work
                .links
                .iter()
                .any(|l| entry.links.iter().any(|m| m.url == l.url)))
}

/// Takes back from `entry` what an import by an earlier version merged in
/// from `absorbed`: its titles, links and broadcasts, unless `keep` (the
/// entry's own work in this file, when it has one) has them too. With `keep`,
/// the ids `keep` does not carry go as well and the air dates become
/// `keep`'s, which the earlier merge had widened to span both works; without
/// it, which ids and dates were the entry's own is unknown, and they stay.
/// The main title, locked and source-filled fields, releases and everything stored under the
/// entry's id (ratings, subscriptions) stay.
pub(super) fn strip(entry: &mut Entry, absorbed: &Incoming, keep: Option<&Incoming>) {
    let keep = keep.map(|k| &k.entry);
    let theirs: HashSet<&str> = absorbed.entry.all_titles().map(|(t, _)| t).collect();
    entry.alt_titles.retain(|t| {
        !theirs.contains(t.text.as_str())
            || keep.is_some_and(|k| k.all_titles().any(|(text, _)| text == t.text))
    });
    let free = |f: Field| writable(entry, f);
    let (links, aired, ended) = (free(Field::Links), free(Field::Aired), free(Field::Ended));
    let has_link = |e: &Entry, url: &str| e.links.iter().any(|l| l.url == url);
    if links {
        entry.links.retain(|l| {
            !has_link(&absorbed.entry, &l.url) || keep.is_some_and(|k| has_link(k, &l.url))
        });
    }
    entry.broadcasts.retain(|b| {
        !absorbed.entry.broadcasts.contains(b) || keep.is_some_and(|k| k.broadcasts.contains(b))
    });
    if let Some(keep) = keep {
        entry.external_ids.retain(|s, id| {
            absorbed.entry.external_ids.get(s) != Some(id) || keep.external_ids.get(s) == Some(id)
        });
        if aired {
            entry.aired_from = keep.aired_from;
        }
        if ended {
            entry.aired_to = keep.aired_to;
        }
    }
}
