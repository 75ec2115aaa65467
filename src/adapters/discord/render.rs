//! Replies as Discord messages: embeds within Discord's limits (title 256,
//! description 4,096, 25 fields of 256/1,024, 6,000 characters in all),
//! markdown and mentions escaped, pickers as a select menu, card and
//! announcement actions as buttons whose custom ids carry command lines, and
//! errors ephemeral.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter, CreateSelectMenu,
    CreateSelectMenuKind, CreateSelectMenuOption,
};

use crate::adapters::text::{self, Action, Markdown};
use crate::core::announce::Announcement;
use crate::core::command::{self, Command};
use crate::core::reply::{Card, Reply};

pub const TITLE_LIMIT: usize = 256;
pub const DESCRIPTION_LIMIT: usize = 4096;
pub const FIELD_NAME_LIMIT: usize = 256;
pub const FIELD_VALUE_LIMIT: usize = 1024;
pub const EMBED_TOTAL_LIMIT: usize = 6000;
/// Discord's limit on a component's custom id and a select option's value.
pub const CUSTOM_ID_LIMIT: usize = 100;
/// The custom id of the picker's select menu.
pub const PICKER_ID: &str = "rouge:pick";

/// What to answer an interaction with.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub embed: CreateEmbed,
    pub components: Vec<CreateActionRow>,
    /// Only the caller sees it (errors, confirmations).
    pub ephemeral: bool,
}

/// Cuts `s` to `limit` characters, ending with `…` when cut.
pub fn cut(s: &str, limit: usize) -> String {
    if s.chars().count() <= limit {
        return s.to_owned();
    }
    if limit == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(limit.saturating_sub(1)).collect();
    // Never end on a lone escaping backslash.
    if out.ends_with('\\') {
        out.pop();
    }
    out.push('…');
    out
}

/// Builds an embed while keeping the 6,000-character total.
struct Embed {
    embed: CreateEmbed,
    used: usize,
    fields: usize,
}

impl Embed {
    fn new(title: &str) -> Embed {
        let title = cut(title, TITLE_LIMIT);
        Embed {
            used: title.chars().count(),
            embed: CreateEmbed::new().title(title),
            fields: 0,
        }
    }

    fn room(&self) -> usize {
        EMBED_TOTAL_LIMIT.saturating_sub(self.used)
    }

    fn description(mut self, text: &str) -> Embed {
        let text = cut(text, DESCRIPTION_LIMIT.min(self.room()));
        self.used += text.chars().count();
        self.embed = self.embed.description(text);
        self
    }

    fn field(mut self, name: &str, value: &str, inline: bool) -> Embed {
        if self.fields >= 25 || value.trim().is_empty() {
            return self;
        }
        let name = cut(name, FIELD_NAME_LIMIT);
        let available = self.room().saturating_sub(name.chars().count());
        // Too little room left for a useful value: the field is left out.
        if available < 16 {
            return self;
        }
        let value = cut(value, FIELD_VALUE_LIMIT.min(available));
        self.used += name.chars().count() + value.chars().count();
        self.fields += 1;
        self.embed = self.embed.field(name, value, inline);
        self
    }

    fn footer(mut self, text: &str) -> Embed {
        let text = cut(text, 2048.min(self.room()));
        self.used += text.chars().count();
        self.embed = self.embed.footer(CreateEmbedFooter::new(text));
        self
    }
}

/// Renders a reply for Discord: the text module's words laid out as an
/// embed, with the reply's actions as buttons and a picker as a menu.
pub fn render(reply: &Reply) -> Rendered {
    render_with(reply, text::actions(reply))
}

/// An announcement as posted, with its buttons (the card, following the
/// title). A follower's own DM leaves out Follow: they follow it already.
pub fn announcement(announcement: &Announcement, to_follower: bool) -> Rendered {
    let reply = Reply::Announcement(Box::new(announcement.clone()));
    let actions = text::actions(&reply)
        .into_iter()
        .filter(|a| {
            !(to_follower && matches!(command::parse(&a.command), Ok(Command::Follow { .. })))
        })
        .collect();
    render_with(&reply, actions)
}

/// [`render`] with `actions` as its buttons.
fn render_with(reply: &Reply, actions: Vec<Action>) -> Rendered {
    let title = text::heading(reply).unwrap_or_else(|| "Rouge".to_owned());
    let embed = match reply {
        Reply::Card(card) => card_embed(card),
        Reply::Announcement(a) => announcement_embed(a),
        Reply::Picker(_)
        | Reply::Help(_)
        | Reply::Error(_)
        | Reply::Done(_)
        | Reply::StartPrivately(_) => {
            let lines = text::lines::<Markdown>(reply);
            Embed::new(&title).description(&lines.join("\n")).embed
        }
        Reply::Scores(_) | Reply::List(_) => {
            // The first line is the heading, which is the embed's title.
            let lines = text::lines::<Markdown>(reply);
            Embed::new(&title)
                .description(&lines.get(1..).unwrap_or_default().join("\n"))
                .embed
        }
    };
    let mut components = Vec::new();
    if matches!(reply, Reply::Picker(_) | Reply::List(_)) {
        // A picker's choices, or the titles a list names: a menu that opens one.
        // Option values must differ (an airing list may name a title twice).
        let mut seen = std::collections::HashSet::new();
        let options: Vec<CreateSelectMenuOption> = text::item_actions(reply)
            .into_iter()
            .filter(|a| a.command.len() <= CUSTOM_ID_LIMIT && seen.insert(a.command.clone()))
            .map(|a| CreateSelectMenuOption::new(cut(&a.label, 100), a.command))
            .collect();
        if !options.is_empty() {
            components.push(CreateActionRow::SelectMenu(
                CreateSelectMenu::new(PICKER_ID, CreateSelectMenuKind::String { options })
                    .placeholder("Choose a title"),
            ));
        }
    }
    let buttons: Vec<CreateButton> = actions
        .into_iter()
        .filter(|a| a.command.len() <= CUSTOM_ID_LIMIT)
        .map(|a| {
            CreateButton::new(a.command)
                .label(cut(&a.label, 80))
                .style(ButtonStyle::Secondary)
        })
        .collect();
    if !buttons.is_empty() {
        components.push(CreateActionRow::Buttons(buttons));
    }
    Rendered {
        embed,
        components,
        ephemeral: matches!(reply, Reply::Error(_) | Reply::Done(_)),
    }
}

fn card_embed(card: &Card) -> CreateEmbed {
    let t = text::card_text::<Markdown>(card);
    let description: Vec<String> = t
        .other_titles
        .into_iter()
        .chain(t.note)
        .chain(t.synopsis)
        .collect();
    let mut embed = Embed::new(&card.title)
        .description(&description.join("\n\n"))
        .field("Type", t.kind.as_deref().unwrap_or("—"), true);
    if let Some((label, value)) = &t.episodes {
        embed = embed.field(label, value, true);
    }
    embed = embed
        .field("Status", t.when.as_deref().unwrap_or_default(), true)
        .field("Genres", t.genres.as_deref().unwrap_or_default(), false);
    for (label, value) in &t.lists {
        embed = embed.field(label, value, true);
    }
    embed = embed
        .field("Scores", &t.scores, false)
        .field("Community", &t.community, false)
        .field("Released", &t.releases.join("\n"), false);
    if let Some(next) = &t.next {
        embed = embed.field("Next episode", next, false);
    }
    let links: Vec<String> = t.links.into_iter().take(5).collect();
    let mut out = embed
        .field("Links", &links.join(" · "), false)
        .footer(&format!("#{}", card.id))
        .embed;
    if let Some(url) = card.links.first().map(|l| l.url.clone()) {
        out = out.url(url);
    }
    if let Some(picture) = &card.picture {
        out = out.thumbnail(picture.clone());
    }
    out
}

fn announcement_embed(a: &Announcement) -> CreateEmbed {
    let t = text::announcement_text::<Markdown>(a);
    let mut embed = Embed::new(&t.plain_headline).description(&t.when);
    if let Some(what) = &t.what {
        embed = embed.field("Audio and qualities", what, false);
    }
    if let Some(next) = &t.next {
        embed = embed.field("Next episode", next, false);
    }
    let mut out = embed.field("Links", &t.links.join(" · "), false).embed;
    if let Some(picture) = &a.picture {
        out = out.image(picture.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::text::Markup;

    #[test]
    fn cutting_keeps_limits_and_escapes() {
        assert_eq!(cut("abc", 5), "abc");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("ab\\*c", 4), "ab…", "never a lone escaping backslash");
        assert_eq!(
            Markdown::text("@everyone <@&1> *x*"),
            "\\@everyone \\<\\@&1\\> \\*x\\*"
        );
    }

    #[test]
    fn a_list_opens_its_titles_from_a_menu_once_each() {
        use crate::core::reply::{ListItem, ListView};
        let item = |id: u64, text: &str| ListItem {
            id: Some(id),
            text: text.into(),
            detail: "TV · 2024".into(),
            at: None,
        };
        let list = Reply::List(ListView {
            heading: "Related to Tower Saga, in airing order".into(),
            note: None,
            // An airing list may name one title twice.
            items: vec![
                item(3, "Tower Saga"),
                item(4, "Sequel"),
                item(3, "Tower Saga"),
            ],
            empty: String::new(),
            previous: None,
            next: None,
        });
        let rendered = render(&list);
        let rows = serde_json::to_value(&rendered.components).expect("components serialise");
        let values: Vec<&str> = rows[0]["components"][0]["options"]
            .as_array()
            .expect("a select menu")
            .iter()
            .filter_map(|o| o["value"].as_str())
            .collect();
        assert_eq!(values, ["/anime #3", "/anime #4"]);
    }

    #[test]
    fn an_embed_never_exceeds_the_total() {
        let long = "x".repeat(5000);
        let mut e = Embed::new(&long).description(&long);
        for _ in 0..30 {
            e = e.field(&long, &long, false);
        }
        assert!(e.used <= EMBED_TOTAL_LIMIT);
        assert!(e.fields <= 25);
    }
}
