//! Owners' catalog edits: add, edit, delete, aliases, scores and released
//! episodes, each written with an audit record, and the audit view.

use std::sync::Arc;

use super::{App, CommandError, Resolved};
use crate::core::announce::Job;
use crate::core::caller::Caller;
use crate::core::catalog::edit::{self as admin, FieldValue};
use crate::core::catalog::model::{Entry, EntryId, Field, Release, SourceScore, Unit};
use crate::core::catalog::search::MatchKind;
use crate::core::catalog::{scores, text};
use crate::core::command::{AdminCommand, EpisodeInput, ScoreInput, TitleRef};
use crate::core::reply::{ListItem, ListView, Reply};
use crate::store::Change;

/// One entry before and after an edit, and what the edit did.
pub(super) struct Edit {
    pub before: Arc<Entry>,
    pub after: Entry,
    pub description: String,
}

impl App {
    pub(super) fn admin(&self, caller: &Caller, cmd: AdminCommand) -> Result<Reply, CommandError> {
        let who = caller.key();
        let _writer = self.write_lock();
        match cmd {
            AdminCommand::Add { title, fields } => self.add(&who, title, fields),
            AdminCommand::Edit { target, fields } => self.modify(&who, &target, "edit", |entry| {
                let before = entry.clone();
                let now = self.now();
                for value in fields {
                    if let Some(field) = value.field() {
                        entry.locked.insert(field);
                    }
                    value.apply(entry, now);
                }
                Ok(admin::describe_changes(&before, entry))
            }),
            AdminCommand::Delete { target } => self.delete(&who, &target),
            AdminCommand::Alias {
                target,
                add,
                remove,
            } => self.modify(&who, &target, "alias", |entry| {
                let mut done = Vec::new();
                for alias in remove {
                    let key = text::fold(&alias).key;
                    let before = entry.alt_titles.len();
                    entry.alt_titles.retain(|t| text::fold(&t.text).key != key);
                    if entry.alt_titles.len() == before {
                        return Err(CommandError::BadInput(format!(
                            "\"{alias}\" is not an alternative title of {}.",
                            entry.display_title()
                        )));
                    }
                    done.push(format!("removed \"{alias}\""));
                }
                for (alias, lang) in add {
                    if !entry.add_alt_title(&alias, lang) {
                        return Err(CommandError::BadInput(format!(
                            "{} already has the title \"{alias}\".",
                            entry.display_title()
                        )));
                    }
                    done.push(format!("added \"{alias}\" ({})", lang.as_str()));
                }
                Ok(done.join("; "))
            }),
            AdminCommand::Score {
                target,
                set,
                remove,
            } => self.modify(&who, &target, "score", |entry| {
                set_scores(entry, set, remove, self.now().date_naive())
            }),
            AdminCommand::Episode { target, episode } => {
                // Recorded on the entry and announced in the same transaction.
                let now = self.now();
                let edit = self
                    .prepare_edit(&target, |entry| record_episode(entry, episode.clone(), now))?;
                let jobs = self.episode_jobs(&edit.after, episode, now)?;
                self.commit_edit(&who, "episode", edit, jobs)
            }
            AdminCommand::Deliveries { target } => {
                let entry = match target {
                    None => None,
                    Some(t) => match self.resolve(
                        &t,
                        |id| format!("/anime admin deliveries #{id}"),
                        false,
                    )? {
                        Resolved::One(e) => Some(e.id),
                        Resolved::Choose(p) => return Ok(Reply::Picker(p)),
                    },
                };
                self.deliveries_view(entry)
            }
            AdminCommand::Audit { target } => {
                let entry = match target {
                    None => None,
                    Some(t) => {
                        match self.resolve(&t, |id| format!("/anime admin audit #{id}"), false)? {
                            Resolved::One(e) => Some(e.id),
                            Resolved::Choose(p) => return Ok(Reply::Picker(p)),
                        }
                    }
                };
                Ok(self.audit_view(entry)?)
            }
        }
    }

    pub(super) fn add(
        &self,
        who: &str,
        title: String,
        fields: Vec<FieldValue>,
    ) -> Result<Reply, CommandError> {
        let title = admin::checked_title(&title).map_err(CommandError::BadInput)?;
        self.refuse_duplicate_title(&title, None)?;
        let id = self.inner.store.allocate_ids(1)?.start;
        let mut entry = Entry::new(id, title);
        entry.locked.insert(Field::Title);
        for value in fields {
            if let Some(field) = value.field() {
                entry.locked.insert(field);
            }
            value.apply(&mut entry, self.now());
        }
        self.refuse_clashes(&entry, None)?;
        let reply = Reply::done(format!("Added #{id} {}.", entry.display_title()), Some(id));
        self.commit(Change {
            audit: vec![self.audit_record(
                who,
                "add",
                format!("added \"{}\"", entry.title),
                Some(id),
                None,
                Some(entry.clone()),
            )],
            put: vec![entry],
            ..Change::default()
        })?;
        Ok(reply)
    }

    pub(super) fn delete(&self, who: &str, target: &TitleRef) -> Result<Reply, CommandError> {
        let entry = self.resolve_strict(target)?;
        let reply = Reply::done(
            format!(
                "Deleted #{} {} and its ratings.",
                entry.id,
                entry.display_title()
            ),
            Some(entry.id),
        );
        self.commit(Change {
            delete: vec![entry.id],
            audit: vec![self.audit_record(
                who,
                "delete",
                format!("deleted \"{}\"", entry.title),
                Some(entry.id),
                Some((*entry).clone()),
                None,
            )],
            ..Change::default()
        })?;
        Ok(reply)
    }

    /// Applies `edit` to a copy of the target entry and commits it with an
    /// audit record; `edit` returns the change's description.
    pub(super) fn modify(
        &self,
        who: &str,
        target: &TitleRef,
        action: &str,
        edit: impl FnOnce(&mut Entry) -> Result<String, CommandError>,
    ) -> Result<Reply, CommandError> {
        let edit = self.prepare_edit(target, edit)?;
        self.commit_edit(who, action, edit, Vec::new())
    }

    /// An edit of the entry `target` names, made on a copy and described by
    /// `edit`; nothing is written yet.
    pub(super) fn prepare_edit(
        &self,
        target: &TitleRef,
        edit: impl FnOnce(&mut Entry) -> Result<String, CommandError>,
    ) -> Result<Edit, CommandError> {
        let before = self.resolve_strict(target)?;
        let mut after = (*before).clone();
        let description = edit(&mut after)?;
        Ok(Edit {
            before,
            after,
            description,
        })
    }

    /// Writes a prepared edit with its audit record and the announcement
    /// jobs it queues, in one transaction; an edit that changed nothing
    /// writes nothing.
    pub(super) fn commit_edit(
        &self,
        who: &str,
        action: &str,
        edit: Edit,
        jobs: Vec<Job>,
    ) -> Result<Reply, CommandError> {
        let Edit {
            before,
            after,
            description,
        } = edit;
        if after == *before {
            return Ok(Reply::done(
                format!(
                    "Nothing changed for #{} {}.",
                    after.id,
                    after.display_title()
                ),
                Some(after.id),
            ));
        }
        self.refuse_clashes(&after, Some(&before))?;
        let mut text = format!(
            "Updated #{} {}: {description}.",
            after.id,
            after.display_title()
        );
        let queued = self.commit(Change {
            audit: vec![self.audit_record(
                who,
                action,
                description,
                Some(after.id),
                Some((*before).clone()),
                Some(after.clone()),
            )],
            put: vec![after],
            jobs,
            ..Change::default()
        })?;
        if queued > 0 {
            text.push_str(&format!(
                " Announcing it in {queued} chat{}.",
                if queued == 1 { "" } else { "s" }
            ));
        }
        Ok(Reply::done(text, Some(before.id)))
    }

    pub(super) fn resolve_strict(&self, target: &TitleRef) -> Result<Arc<Entry>, CommandError> {
        match self.resolve(target, |id| format!("/anime #{id}"), true)? {
            Resolved::One(entry) => Ok(entry),
            Resolved::Choose(picker) => {
                let options = picker
                    .choices
                    .iter()
                    .map(|c| format!("#{} {} ({})", c.id, c.title, c.detail))
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(CommandError::BadInput(format!(
                    "\"{}\" does not name one entry exactly. Use its #id: {options}",
                    picker.query
                )))
            }
        }
    }

    /// What an edited (or new) entry may not be: invalid (the one check
    /// every write passes), titled like another entry, or carrying an
    /// external id another entry has.
    fn refuse_clashes(&self, after: &Entry, before: Option<&Entry>) -> Result<(), CommandError> {
        admin::check(after).map_err(|why| {
            CommandError::BadInput(format!("That would not be a valid entry: {why}."))
        })?;
        let new_titles = after
            .all_titles()
            .map(|(t, _)| t)
            .filter(|t| before.is_none_or(|b| !b.all_titles().any(|(old, _)| old == *t)));
        for title in new_titles {
            self.refuse_duplicate_title(title, Some(after.id))?;
        }
        let catalog = self.catalog();
        for (source, id) in &after.external_ids {
            if let Some(other) = catalog.by_external(source, id).filter(|&o| o != after.id) {
                return Err(CommandError::BadInput(format!(
                    "#{other} already has id.{source}={id}; one work has one id. Remove it there first (/anime admin edit #{other} id.{source}=)."
                )));
            }
        }
        Ok(())
    }

    pub(super) fn refuse_duplicate_title(
        &self,
        title: &str,
        except: Option<EntryId>,
    ) -> Result<(), CommandError> {
        let key = text::fold(title).key;
        let catalog = self.catalog();
        let clash = catalog.search(title, 10).into_iter().find(|h| {
            h.how == MatchKind::Exact
                && Some(h.entry) != except
                && text::fold(&h.matched).key == key
        });
        match clash {
            Some(hit) => Err(CommandError::BadInput(format!(
                "#{} already has the title \"{}\". Edit that entry with /anime admin edit #{} …, or choose a different title.",
                hit.entry, hit.matched, hit.entry
            ))),
            None => Ok(()),
        }
    }

    pub(super) fn audit_view(&self, entry: Option<EntryId>) -> Result<Reply, CommandError> {
        let records = self.inner.store.audit(entry, 20)?;
        let heading = match entry.and_then(|id| self.entry(id)) {
            Some(e) => format!("Changes to #{} {}", e.id, e.display_title()),
            None => "Recent catalog changes".into(),
        };
        Ok(Reply::List(ListView {
            note: None,
            previous: None,
            next: None,
            heading,
            empty: "No changes recorded yet.".into(),
            items: records
                .into_iter()
                .map(|r| ListItem {
                    at: Some(r.at),
                    id: r.entry,
                    text: format!(
                        "{} · {} · {}",
                        r.at.format("%Y-%m-%d %H:%M UTC"),
                        r.who,
                        r.action
                    ),
                    detail: r.summary,
                })
                .collect(),
        }))
    }
}

fn set_scores(
    entry: &mut Entry,
    set: Vec<ScoreInput>,
    remove: Vec<String>,
    today: chrono::NaiveDate,
) -> Result<String, CommandError> {
    let mut done = Vec::new();
    for source in remove {
        let key = scores::source(&source).map_or(source.clone(), |s| s.key.to_owned());
        let before = entry.scores.len();
        entry.scores.retain(|s| s.source != key);
        if entry.scores.len() == before {
            return Err(CommandError::BadInput(format!(
                "{} has no {} score.",
                entry.display_title(),
                scores::label(&key)
            )));
        }
        done.push(format!("removed {}", scores::label(&key)));
    }
    for input in set {
        done.push(format!("{} {}", scores::label(&input.source), input.value));
        let score = SourceScore {
            source: input.source,
            value: input.value,
            scale_max: input.scale_max,
            votes: input.votes,
            as_of: Some(input.as_of.unwrap_or(today)),
        };
        match entry.scores.iter_mut().find(|s| s.source == score.source) {
            Some(s) => *s = score,
            None => entry.scores.push(score),
        }
    }
    Ok(done.join("; "))
}

/// Records a released episode, and the language and qualities it adds.
fn record_episode(
    entry: &mut Entry,
    input: EpisodeInput,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, CommandError> {
    if let Some(at) = input.released_at
        && at > now + chrono::Duration::minutes(1)
    {
        return Err(CommandError::BadInput(format!(
            "at={} is in the future: record an episode once it is out (a release counts from its time).",
            at.to_rfc3339()
        )));
    }
    if let Some(total) = entry.episodes
        && input.number > total
    {
        return Err(CommandError::BadInput(format!(
            "{} has {total} episodes; set episodes= with /anime admin edit first if that changed.",
            entry.display_title()
        )));
    }
    let release = Release {
        number: input.number,
        unit: Unit::Episode,
        from_schedule: false,
        audio: input.audio.clone(),
        qualities: input.qualities.clone(),
        title: input.title,
        released_at: input.released_at.unwrap_or(now),
    };
    if let Some(audio) = &input.audio
        && !entry.audio.iter().any(|a| a.eq_ignore_ascii_case(audio))
    {
        entry.audio.push(audio.clone());
    }
    for q in &input.qualities {
        if !entry
            .qualities
            .iter()
            .any(|have| have.eq_ignore_ascii_case(q))
        {
            entry.qualities.push(q.clone());
        }
    }
    let mut what = format!("episode {}", input.number);
    if let Some(audio) = &input.audio {
        what.push_str(&format!(", {audio} audio"));
    }
    if !input.qualities.is_empty() {
        what.push_str(&format!(", {}", input.qualities.join("/")));
    }
    Ok(if entry.record_release(release) {
        format!("released {what}")
    } else {
        format!("updated {what}")
    })
}
