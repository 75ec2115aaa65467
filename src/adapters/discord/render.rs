//! Replies as Discord messages: embeds within Discord's limits (title 256,
//! description 4,096, 25 fields of 256/1,024, 6,000 characters in all),
//! markdown and mentions escaped, pickers as a select menu, card actions as
//! buttons whose custom ids carry command lines, and errors ephemeral.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter, CreateSelectMenu,
    CreateSelectMenuKind, CreateSelectMenuOption,
};

use crate::adapters::text::{self, Markdown, Markup};
use crate::core::announce::Announcement;
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

/// Renders a reply for Discord.
pub fn render(reply: &Reply) -> Rendered {
    match reply {
        Reply::Card(card) => Rendered {
            embed: card_embed(card),
            components: card_buttons(card.id),
            ephemeral: false,
        },
        Reply::Announcement(a) => Rendered {
            embed: announcement_embed(a),
            components: Vec::new(),
            ephemeral: false,
        },
        Reply::Picker(picker) => {
            let options: Vec<CreateSelectMenuOption> = picker
                .choices
                .iter()
                .filter(|c| c.command.len() <= CUSTOM_ID_LIMIT)
                .map(|c| {
                    CreateSelectMenuOption::new(
                        cut(&format!("{} ({})", c.title, c.detail), 100),
                        c.command.clone(),
                    )
                })
                .collect();
            let lines = text::lines::<Markdown>(reply);
            let embed = Embed::new("Which one?")
                .description(&lines.join("\n"))
                .embed;
            let components = if options.is_empty() {
                Vec::new()
            } else {
                vec![CreateActionRow::SelectMenu(
                    CreateSelectMenu::new(PICKER_ID, CreateSelectMenuKind::String { options })
                        .placeholder("Choose a title"),
                )]
            };
            Rendered {
                embed,
                components,
                ephemeral: false,
            }
        }
        Reply::Error(_) | Reply::Done(_) => {
            let lines = text::lines::<Markdown>(reply);
            Rendered {
                embed: Embed::new("Rouge").description(&lines.join("\n")).embed,
                components: Vec::new(),
                ephemeral: true,
            }
        }
        Reply::Scores(_) | Reply::List(_) | Reply::Help(_) => {
            let mut lines = text::lines::<Markdown>(reply);
            // The first line is the heading: it becomes the title.
            let title = match reply {
                Reply::Scores(view) => format!("Scores for {}", view.title),
                Reply::List(list) => list.heading.clone(),
                _ => "Rouge commands".to_owned(),
            };
            if !lines.is_empty() && !matches!(reply, Reply::Help(_)) {
                lines.remove(0);
            }
            let pages: Vec<CreateButton> = match reply {
                Reply::List(list) => [("Previous", &list.previous), ("Next", &list.next)]
                    .into_iter()
                    .filter_map(|(label, command)| {
                        command
                            .as_ref()
                            .filter(|c| c.len() <= CUSTOM_ID_LIMIT)
                            .map(|c| {
                                CreateButton::new(c.clone())
                                    .label(label)
                                    .style(ButtonStyle::Secondary)
                            })
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let components = if pages.is_empty() {
                Vec::new()
            } else {
                vec![CreateActionRow::Buttons(pages)]
            };
            Rendered {
                embed: Embed::new(&title).description(&lines.join("\n")).embed,
                components,
                ephemeral: false,
            }
        }
    }
}

fn card_embed(card: &Card) -> CreateEmbed {
    let mut description = Vec::new();
    if !card.other_titles.is_empty() {
        description.push(Markdown::italic(&card.other_titles.join(" · ")));
    }
    if let Some(synopsis) = &card.synopsis {
        description.push(Markdown::text(synopsis));
    }
    let mut embed = Embed::new(&card.title).description(&description.join("\n\n"));
    let list = |v: &[String]| Markdown::text(&v.join(", "));
    embed = embed.field(
        "Type",
        &Markdown::text(card.kind.as_deref().unwrap_or("—")),
        true,
    );
    if let Some(n) = card.episodes {
        let value = match card.duration_min {
            Some(min) => format!("{n} × {min} min"),
            None => n.to_string(),
        };
        embed = embed.field("Episodes", &value, true);
    }
    let when: Vec<String> = card
        .status
        .iter()
        .chain(card.season.iter())
        .cloned()
        .collect();
    embed = embed.field("Status", &Markdown::text(&when.join(" · ")), true);
    embed = embed.field("Genres", &list(&card.genres), false);
    embed = embed.field("Audio", &list(&card.audio), true);
    embed = embed.field("Subtitles", &list(&card.subtitles), true);
    embed = embed.field("Qualities", &list(&card.qualities), true);
    embed = embed.field("Studios", &list(&card.studios), true);
    let scores: Vec<String> = card
        .scores
        .sources
        .iter()
        .map(|s| format!("{} {}", Markdown::text(&s.label), s.value))
        .collect();
    let mut score_text = if scores.is_empty() {
        "none yet".to_owned()
    } else {
        scores.join(" · ")
    };
    if let Some(avg) = card.scores.summary {
        score_text.push_str(&format!(" · average **{avg}**"));
    }
    embed = embed.field("Scores", &score_text, false);
    let community = match (card.community.ratings, card.community.score) {
        (0, _) => format!(
            "No ratings yet — be the first: `/anime rate title:#{} rating:<1-10>`",
            card.id
        ),
        (n, Some(score)) => format!("{score} from {n} ratings"),
        (n, None) => format!("{n} so far (a score shows from 3)"),
    };
    embed = embed.field("Community", &community, false);
    if let Some(next) = &card.next_episode {
        embed = embed.field(
            "Next episode",
            &format!("Episode {} <t:{}:R>", next.number, next.at.timestamp()),
            false,
        );
    }
    let links: Vec<String> = card
        .links
        .iter()
        .take(5)
        .map(|l| Markdown::link(&l.label, &l.url))
        .collect();
    embed = embed
        .field("Links", &links.join(" · "), false)
        .footer(&format!("#{}", card.id));
    let mut out = embed.embed;
    if let Some(url) = card.links.first().map(|l| l.url.clone()) {
        out = out.url(url);
    }
    if let Some(picture) = &card.picture {
        out = out.thumbnail(picture.clone());
    }
    out
}

fn card_buttons(id: u64) -> Vec<CreateActionRow> {
    vec![CreateActionRow::Buttons(vec![
        CreateButton::new(format!("/anime scores #{id}"))
            .label("Scores")
            .style(ButtonStyle::Secondary),
        CreateButton::new(format!("/anime subscribe #{id}"))
            .label("Subscribe this channel")
            .style(ButtonStyle::Primary),
    ])]
}

fn announcement_embed(a: &Announcement) -> CreateEmbed {
    let mut title = format!("New episode: {} — episode {}", a.title, a.episode);
    if let Some(total) = a.episodes_total {
        title.push_str(&format!(" of {total}"));
    }
    let mut lines = Vec::new();
    if let Some(t) = &a.episode_title {
        lines.push(Markdown::italic(t));
    }
    match &a.stream {
        Some(stream) => lines.push(format!(
            "Aired on {} <t:{}:R>",
            Markdown::text(stream),
            a.released_at.timestamp()
        )),
        None => lines.push(format!("Released <t:{}:f>", a.released_at.timestamp())),
    }
    let mut embed = Embed::new(&title).description(&lines.join("\n"));
    if let Some(audio) = &a.audio {
        embed = embed.field("Audio", &Markdown::text(audio), true);
    }
    embed = embed.field("Qualities", &Markdown::text(&a.qualities.join(", ")), true);
    if let Some((n, at)) = a.next_episode {
        embed = embed.field(
            "Next episode",
            &format!("Episode {n} <t:{}:R>", at.timestamp()),
            false,
        );
    }
    let links: Vec<String> = a
        .links
        .iter()
        .map(|l| Markdown::link(&l.label, &l.url))
        .collect();
    let mut out = embed.field("Links", &links.join(" · "), false).embed;
    if let Some(picture) = &a.picture {
        out = out.image(picture.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
