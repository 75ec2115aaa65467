//! Merging what a file says about a work into its entry. What an owner
//! edited (`Entry::locked`) and what a live source filled
//! (`Entry::provenance`, with its fetch time) stay: a file is a snapshot
//! that is usually older than the source's last answer, so an import never
//! overwrites a fresher source value with an older file's. Scores follow the
//! same idea by date: a score line is replaced only by one at least as recent.

use crate::core::catalog::model::{Entry, Field, SourceScore, TitleLang};

use super::{Incoming, add_fitting_title};

/// Whether an import may write `field` of `entry`: not when an owner edited
/// it, nor when a live source filled it (see the module docs).
pub(super) fn writable(entry: &Entry, field: Field) -> bool {
    !entry.locked.contains(&field) && !entry.provenance.contains_key(&field)
}

/// Puts `score` in `entries`' scores, replacing the line of its source
/// unless that one is more recent (a live source's, or a newer file's); an
/// undated line counts as older than any dated one. Returns whether the
/// scores changed.
pub(super) fn put_score(scores: &mut Vec<SourceScore>, score: &SourceScore) -> bool {
    match scores.iter_mut().find(|s| s.source == score.source) {
        Some(s) if s.as_of > score.as_of || *s == *score => false,
        Some(s) => {
            *s = score.clone();
            true
        }
        None => {
            scores.push(score.clone());
            true
        }
    }
}

/// How a merge treats air dates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Dates {
    /// Listings of one work in one file: the earliest start and latest end.
    Widen,
    /// A work onto its entry: the work's own dates, where it has them, so
    /// that importing a file twice changes nothing the second time.
    Replace,
}

/// Copies what `incoming` knows into `entry`, except fields an owner locked
/// or a live source filled ([`writable`]).
/// (One step per field, in the model's order: long, but flat.)
pub(super) fn merge(entry: &mut Entry, incoming: &Incoming, dates: Dates) {
    let new = &incoming.entry;
    let kept: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|&f| !writable(entry, f))
        .collect();
    let free = |f: Field| !kept.contains(&f);
    if new.title != entry.title {
        let lang = if incoming.title_lang == TitleLang::Main {
            TitleLang::Synonym
        } else {
            incoming.title_lang
        };
        add_fitting_title(entry, &new.title, lang);
    }
    for alt in &new.alt_titles {
        add_fitting_title(entry, &alt.text, alt.lang);
    }
    macro_rules! take {
        ($field:expr, $name:ident, option) => {
            if free($field) && new.$name.is_some() {
                entry.$name = new.$name.clone();
            }
        };
        ($field:expr, $name:ident, list) => {
            if free($field) && !new.$name.is_empty() {
                entry.$name = new.$name.clone();
            }
        };
    }
    take!(Field::Kind, kind, option);
    take!(Field::Genres, genres, list);
    take!(Field::Status, status, option);
    take!(Field::Season, season, option);
    match dates {
        Dates::Replace => {
            take!(Field::Aired, aired_from, option);
            take!(Field::Ended, aired_to, option);
        }
        Dates::Widen => {
            if free(Field::Aired) {
                entry.aired_from = match (entry.aired_from, new.aired_from) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => b.or(a),
                };
            }
            if free(Field::Ended) {
                entry.aired_to = match (entry.aired_to, new.aired_to) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => b.or(a),
                };
            }
        }
    }
    take!(Field::Episodes, episodes, option);
    take!(Field::Duration, duration_min, option);
    take!(Field::Audio, audio, list);
    take!(Field::Subtitles, subtitles, list);
    take!(Field::Qualities, qualities, list);
    take!(Field::Studios, studios, list);
    take!(Field::Synopsis, synopsis, option);
    take!(Field::Picture, picture, option);
    if free(Field::Links) {
        for link in &new.links {
            if !entry.links.iter().any(|l| l.url == link.url) {
                entry.links.push(link.clone());
            }
        }
    }
    for (source, id) in &new.external_ids {
        entry
            .external_ids
            .entry(source.clone())
            .or_insert_with(|| id.clone());
    }
    for score in &new.scores {
        put_score(&mut entry.scores, score);
    }
    for broadcast in &new.broadcasts {
        match entry
            .broadcasts
            .iter_mut()
            .find(|b| b.platform == broadcast.platform)
        {
            Some(b) => *b = broadcast.clone(),
            None => entry.broadcasts.push(broadcast.clone()),
        }
    }
    for release in &new.releases {
        entry.record_release(release.clone());
    }
    entry.locked.extend(new.locked.iter().copied());
}
