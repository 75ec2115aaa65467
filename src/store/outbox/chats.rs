//! The outbox by chat and by entry: moving or stopping a chat's jobs when
//! the platform says it moved or the bot was removed, and the deliveries
//! view (queued, delivered and dead-lettered announcements).

use super::*;

impl Store {
    fn queued_for_chat(&self, floors: &Floors, chat: &ChatRef) -> Result<Vec<Job>, StoreError> {
        // The chat is the end of the job key.
        let wanted = crate::store::keys::chat(chat);
        self.queued_where(floors, |key| {
            release_of(key).is_some_and(|r| key.get(r.len()..) == Some(wanted.as_bytes()))
        })
    }

    /// The bot may no longer post to `chat`: its subscriptions are
    /// deactivated and its queued jobs dead-lettered. Returns how many
    /// subscriptions were deactivated.
    pub fn deactivate_chat(
        &self,
        chat: &ChatRef,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut changed = 0;
        for mut sub in self.subscriptions_of(chat)? {
            if sub.active {
                sub.active = false;
                sub.inactive_reason = Some(reason.to_owned());
                let _gate = self.writing();
                self.subs.insert(
                    sub_key(sub.target, chat),
                    records::encode_subscription(&sub),
                )?;
                changed += 1;
            }
        }
        let _gate = self.writing();
        if changed > 0 {
            self.note_stopped(
                chat,
                &crate::store::Stopped {
                    reason: reason.to_owned(),
                    at,
                },
            )?;
        }
        let floors = self.outbox();
        self.dead_letter_all(
            &self.queued_for_chat(&floors, chat)?,
            DeadKind::Forbidden,
            reason,
            at,
        )?;
        Ok(changed)
    }

    /// The chat moved (a Telegram group became a supergroup): its settings,
    /// subscriptions and queued jobs move to `to`, in one transaction.
    pub fn migrate_chat(&self, from: &ChatRef, to: &ChatRef) -> Result<(), StoreError> {
        let _gate = self.writing();
        let mut floors = self.outbox();
        let jobs = self.queued_for_chat(&floors, from)?;
        let settings = self.chats.get(crate::store::keys::chat(from))?;
        let subs = self.subscriptions_of(from)?;
        let mut sub_rows = Vec::new();
        for sub in &subs {
            let mut moved = sub.clone();
            moved.chat = to.clone();
            sub_rows.push((
                sub_key(sub.target, from),
                chat_sub_key(from, sub.target),
                sub_key(sub.target, to),
                chat_sub_key(to, sub.target),
                records::encode_subscription(&moved),
            ));
        }
        let mut job_rows = Vec::new();
        for job in &jobs {
            let mut moved = job.clone();
            moved.chat = to.clone();
            job_rows.push((due_key(job), due_key(&moved), QueuedRecord::encode(&moved)));
        }
        (&self.chats, &self.subs, &self.chat_subs, &self.jobs).transaction(
            |(chats, subs_t, chat_subs, jobs_t)| -> TxResult<()> {
                if let Some(settings) = &settings {
                    chats.remove(crate::store::keys::chat(from).as_bytes())?;
                    chats.insert(crate::store::keys::chat(to).as_bytes(), settings.as_ref())?;
                }
                for (old, old_index, new, new_index, value) in &sub_rows {
                    subs_t.remove(old.as_slice())?;
                    chat_subs.remove(old_index.as_slice())?;
                    subs_t.insert(new.as_slice(), value.as_slice())?;
                    chat_subs.insert(new_index.as_slice(), &[])?;
                }
                for (old, new, value) in &job_rows {
                    jobs_t.remove(old.as_slice())?;
                    jobs_t.insert(new.as_slice(), value.as_slice())?;
                }
                Ok(())
            },
        )?;
        for (_, new, _) in &job_rows {
            floors.lower(to.platform, new);
        }
        Ok(())
    }

    /// Queued jobs (the first `limit` in due order), delivered posts (the
    /// newest `limit`) and dead letters (the last `limit` in key order), of
    /// one entry or of all. Finding the posts reads every row of the outbox.
    pub fn deliveries(
        &self,
        entry: Option<EntryId>,
        limit: usize,
    ) -> Result<Deliveries, StoreError> {
        let id = entry
            .map(|id| id.to_be_bytes().to_vec())
            .unwrap_or_default();
        let mut queued = self.queued_where(&self.outbox(), |key| key.starts_with(&id))?;
        queued.truncate(limit);
        let mut delivered = Vec::new();
        for read in self.jobs.scan_prefix([DUE]).map(row) {
            let due = read?;
            if due.is_queued() || !due.key.0.starts_with(&id) {
                continue;
            }
            let (entry, episode, variant, chat) =
                crate::store::keys::parse_job(&due.key.0).ok_or_else(corrupt_key)?;
            let record = DeliveredRecord::decode(&due.record).ok_or_else(|| {
                StoreError::Corrupt("a delivered post's record does not decode".into())
            })?;
            delivered.push(Delivered {
                entry,
                episode,
                variant,
                chat,
                message_id: record.message_id,
                at: record.at,
            });
        }
        delivered.sort_by(|a, b| {
            (b.at, b.entry, b.episode, &b.variant, &b.chat)
                .cmp(&(a.at, a.entry, a.episode, &a.variant, &a.chat))
        });
        delivered.truncate(limit);
        let dead = self
            .jobs
            .scan_prefix(prefixed(DEAD, &id))
            .rev()
            .take(limit)
            .map(|read| {
                let (k, v) = read?;
                let (entry, episode, variant, chat) =
                    crate::store::keys::parse_job(k.get(1..).unwrap_or_default())
                        .ok_or_else(corrupt_key)?;
                let record: DeadRecord = decode(&v)?;
                Ok(DeadLetter {
                    entry,
                    episode,
                    variant,
                    chat,
                    attempts: record.attempts,
                    kind: record.kind,
                    reason: record.reason,
                    at: record.at,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Deliveries {
            queued,
            delivered,
            dead,
        })
    }

    /// Number of dead-lettered jobs (failed, forbidden, expired, withdrawn).
    pub fn dead_letters(&self) -> usize {
        self.jobs.scan_prefix([DEAD]).count()
    }
}
