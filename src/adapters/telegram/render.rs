//! Replies as Telegram messages: HTML parse mode with every catalog and user
//! string escaped, a photo with a caption of at most 1,024 characters when a
//! card has a picture (the rest follows as text), messages of at most 4,096
//! characters, and inline keyboards whose buttons carry command lines.

use crate::adapters::text::{self, Html};
use crate::core::announce::Announcement;
use crate::core::command::{self, Command};
use crate::core::reply::Reply;

/// Telegram's limits, in characters after entity parsing.
pub const CAPTION_LIMIT: usize = 1024;
pub const TEXT_LIMIT: usize = 4096;
/// Telegram's limit on callback data, in bytes.
pub const CALLBACK_LIMIT: usize = 64;
/// Button labels are cut to this many characters.
const LABEL_CHARS: usize = 48;

/// An inline-keyboard button that runs a command line when pressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    pub command: String,
}

/// What to send for one reply, in order: the photo (if any), then the
/// messages; the buttons go on the last thing sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    pub photo: Option<Photo>,
    pub messages: Vec<String>,
    pub buttons: Vec<Vec<Button>>,
    /// A button that opens a link, `(label, url)`, below the others.
    pub link: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    pub url: String,
    pub caption: String,
}

/// Renders a reply for Telegram.
pub fn render(reply: &Reply) -> Rendered {
    let lines = text::lines::<Html>(reply);
    let picture = match reply {
        Reply::Card(card) => card.picture.clone(),
        Reply::Announcement(a) => a.picture.clone(),
        _ => None,
    };
    let (photo, rest) = match picture {
        Some(url) => {
            let (caption, rest) = take_fitting(&lines, CAPTION_LIMIT);
            (Some(Photo { url, caption }), rest)
        }
        None => (None, lines),
    };
    Rendered {
        photo,
        messages: pack(&rest, TEXT_LIMIT),
        buttons: buttons(reply),
        link: None,
    }
}

/// An announcement as posted. In a private chat (a follower's, or a
/// person's own subscription) it leaves out Follow: it already comes there.
pub fn announcement(announcement: &Announcement, private: bool) -> Rendered {
    let mut rendered = render(&Reply::Announcement(Box::new(announcement.clone())));
    if private {
        for row in &mut rendered.buttons {
            row.retain(|b| !matches!(command::parse(&b.command), Ok(Command::Follow { .. })));
        }
        rendered.buttons.retain(|row| !row.is_empty());
    }
    rendered
}

/// The reply's buttons from the text module: each listed title on a row of
/// its own, then the reply's own actions in one row.
fn buttons(reply: &Reply) -> Vec<Vec<Button>> {
    let rows = text::item_actions(reply)
        .into_iter()
        .map(|a| vec![a])
        .chain(std::iter::once(text::actions(reply)));
    // A button whose command would not fit in callback data is left out.
    rows.map(|row| {
        row.into_iter()
            .filter(|a| a.command.len() <= CALLBACK_LIMIT)
            .map(|a| button(&a.label, a.command))
            .collect::<Vec<_>>()
    })
    .filter(|row| !row.is_empty())
    .collect()
}

fn button(label: &str, command: String) -> Button {
    let mut label: String = label.chars().take(LABEL_CHARS).collect();
    if label.chars().count() == LABEL_CHARS {
        label.push('…');
    }
    Button { label, command }
}

/// Characters Telegram counts for `html`: tags removed, entities as one.
pub fn visible_len(html: &str) -> usize {
    let mut count = 0;
    let mut chars = html.chars();
    while let Some(c) = chars.next() {
        match c {
            '<' => {
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                }
            }
            '&' => {
                for c in chars.by_ref() {
                    if c == ';' {
                        break;
                    }
                }
                count += 1;
            }
            _ => count += 1,
        }
    }
    count
}

/// The leading lines that fit in `limit` (joined by newlines), and the rest.
fn take_fitting(lines: &[String], limit: usize) -> (String, Vec<String>) {
    let mut used = 0;
    let mut taken = 0;
    for line in lines {
        let cost = visible_len(line) + usize::from(taken > 0);
        if used + cost > limit {
            break;
        }
        used += cost;
        taken += 1;
    }
    let mut head = lines[..taken].join("\n");
    let mut rest = lines[taken..].to_vec();
    if head.trim().is_empty() {
        // Not even the first line fits: it is split.
        let mut parts = split_line(&lines[0], limit);
        head = parts.remove(0);
        rest = parts
            .into_iter()
            .chain(lines[1..].iter().cloned())
            .collect();
    }
    while rest.first().is_some_and(|l| l.is_empty()) {
        rest.remove(0);
    }
    (head, rest)
}

/// Packs lines into messages of at most `limit` visible characters.
fn pack(lines: &[String], limit: usize) -> Vec<String> {
    let mut messages = Vec::new();
    let mut rest: Vec<String> = lines.to_vec();
    while !rest.is_empty() {
        let (head, tail) = take_fitting(&rest, limit);
        if !head.trim().is_empty() {
            messages.push(head);
        }
        rest = tail;
    }
    messages
}

/// Splits one long line of escaped text into pieces of at most `limit`
/// visible characters, never inside a tag or an entity.
fn split_line(line: &str, limit: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut piece = String::new();
    let mut visible = 0;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let mut unit = String::from(c);
        let close = match c {
            '<' => Some('>'),
            '&' => Some(';'),
            _ => None,
        };
        if let Some(close) = close {
            for c in chars.by_ref() {
                unit.push(c);
                if c == close {
                    break;
                }
            }
        }
        let width = usize::from(c != '<');
        if visible + width > limit {
            pieces.push(std::mem::take(&mut piece));
            visible = 0;
        }
        piece.push_str(&unit);
        visible += width;
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::reply::{ErrorKind, Notice};

    #[test]
    fn user_text_is_escaped() {
        let reply = Reply::error(ErrorKind::NotFound, "Nothing matches \"<b>&x</b>\".");
        let r = render(&reply);
        assert_eq!(
            r.messages,
            ["Nothing matches &quot;&lt;b&gt;&amp;x&lt;/b&gt;&quot;."]
        );
        assert_eq!(
            visible_len(&r.messages[0]),
            "Nothing matches \"<b>&x</b>\".".chars().count()
        );
    }

    #[test]
    fn long_text_is_split_within_the_limit() {
        let text = "word &amp; ".repeat(1000);
        let r = render(&Reply::Done(Notice {
            text: text.clone(),
            id: None,
        }));
        assert!(r.messages.len() >= 3);
        assert!(r.messages.iter().all(|m| visible_len(m) <= TEXT_LIMIT));
        assert!(
            r.messages
                .iter()
                .all(|m| !m.ends_with('&') && !m.contains("&am "))
        );
    }

    #[test]
    fn visible_length_counts_what_telegram_counts() {
        assert_eq!(visible_len("<b>Tom &amp; Jerry</b>"), 11);
        assert_eq!(
            visible_len("<a href=\"https://x.y/?a=1&amp;b=2\">link</a>"),
            4
        );
    }
}
