//! The Telegram adapter (teloxide): `/anime …` commands, `/start` and
//! `/help`, buttons, inline mode, and announcements through
//! [`TelegramNotifier`]. It holds no business logic: updates become core
//! commands with a [`Caller`], and core replies are rendered by [`render`].

pub mod render;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use teloxide::dispatching::{Dispatcher, UpdateFilterExt};
use teloxide::error_handlers::LoggingErrorHandler;
use teloxide::payloads::{
    AnswerCallbackQuerySetters, AnswerInlineQuerySetters, SendMessageSetters, SendPhotoSetters,
};
use teloxide::prelude::{Bot, CallbackQuery, InlineQuery, Message, Requester, Update};
use teloxide::types::{
    BotCommand, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResult,
    InlineQueryResultArticle, InputFile, InputMessageContent, InputMessageContentText, ParseMode,
    UserId,
};
use teloxide::{ApiError, RequestError, dptree};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use self::render::Rendered;
use super::text::{self, Plain};
use super::{StartError, Wiring, keep_connected};
use crate::app::App;
use crate::config::TelegramConfig;
use crate::core::announce::{Announcement, Notifier, SendOutcome};
use crate::core::caller::{Caller, ChatRef, Platform};
use crate::core::command::{self, Command, Group, TitleRef, spec};
use crate::core::reply::Reply;

/// Results an inline query answers with.
const INLINE_RESULTS: usize = 10;

/// Builds the bot client: Telegram's Bot API, or `api_url` when set.
pub fn bot(token: &SecretString, config: &TelegramConfig) -> anyhow::Result<Bot> {
    let bot = Bot::new(token.expose_secret());
    if config.api_url.is_empty() {
        return Ok(bot);
    }
    let url = reqwest::Url::parse(&config.api_url).context("telegram.api_url is not a URL")?;
    Ok(bot.set_api_url(url))
}

/// What every handler shares.
struct Ctx {
    app: App,
    /// The bot's own username, for `/anime@username` in groups.
    username: String,
    admins: Mutex<HashMap<(ChatId, UserId), (bool, Instant)>>,
    admin_ttl: Duration,
}

impl Ctx {
    /// The core command line a message holds, if it is for this bot:
    /// `/anime …` (or `/anime@thisbot …`), `/start` and `/help`; in a private
    /// chat plain text is a look-up.
    fn command_line(&self, text: &str, private: bool) -> Option<String> {
        let text = text.trim();
        let (head, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let Some(command) = head.strip_prefix('/') else {
            return (private && !text.is_empty()).then(|| format!("/anime {text}"));
        };
        let (name, addressee) = command.split_once('@').unwrap_or((command, ""));
        if !addressee.is_empty() && !addressee.eq_ignore_ascii_case(&self.username) {
            return None;
        }
        match name.to_ascii_lowercase().as_str() {
            "anime" => Some(format!("/anime {rest}")),
            // A deep link's payload comes with /start (`follow-<id>`).
            "start" => Some(format!("/start {rest}")),
            "help" => Some("/anime help".to_owned()),
            // Another bot's command, or one this bot does not have.
            _ => None,
        }
    }

    /// Renders a reply; one that asks the person to open a private chat
    /// gets a button that opens it with the action's deep link.
    fn render(&self, reply: &Reply) -> Rendered {
        let mut rendered = render::render(reply);
        if let Reply::StartPrivately(start) = reply {
            rendered.link = Some((
                "Open a private chat".to_owned(),
                format!("https://t.me/{}?start={}", self.username, start.payload),
            ));
        }
        rendered
    }

    /// Whether `user` administers `chat`, from getChatMember, cached briefly.
    async fn is_admin(&self, bot: &Bot, chat: ChatId, user: UserId) -> bool {
        let key = (chat, user);
        if let Some(&(admin, at)) = self
            .admins
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            && at.elapsed() < self.admin_ttl
        {
            return admin;
        }
        let admin = match bot.get_chat_member(chat, user).await {
            Ok(member) => member.is_privileged(),
            Err(err) => {
                warn!(cause = %err, "getChatMember failed; treating the user as a member");
                return false;
            }
        };
        let mut cache = self.admins.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 10_000 {
            cache.retain(|_, (_, at)| at.elapsed() < self.admin_ttl);
        }
        cache.insert(key, (admin, Instant::now()));
        admin
    }

    /// Parses, checks chat-admin status when the command needs it, and
    /// executes on a blocking thread (the core writes to disk).
    async fn execute(
        &self,
        bot: &Bot,
        mut caller: Caller,
        parsed: Result<Command, command::ParseError>,
    ) -> Reply {
        if let Ok(cmd) = &parsed
            && cmd.needs_chat_admin()
            && caller.is_group
            && !caller.is_chat_admin
            && let (Ok(chat), Ok(user)) =
                (caller.chat_id.parse::<i64>(), caller.user_id.parse::<u64>())
        {
            caller.is_chat_admin = self.is_admin(bot, ChatId(chat), UserId(user)).await;
        }
        super::run_command(&self.app, caller, parsed).await
    }
}

/// The caller behind a message: its sender (or, for channel posts, the
/// channel itself, whose posters are its admins).
fn message_caller(msg: &Message) -> Caller {
    let private = msg.chat.is_private();
    let (user_id, channel_post) = match (&msg.from, &msg.sender_chat) {
        (Some(user), _) => (user.id.0.to_string(), false),
        (None, Some(chat)) => (chat.id.0.to_string(), true),
        (None, None) => (msg.chat.id.0.to_string(), true),
    };
    Caller {
        platform: Platform::Telegram,
        user_id,
        chat_id: msg.chat.id.0.to_string(),
        // In a private chat the user is its only admin.
        is_chat_admin: private || channel_post,
        is_group: !private,
    }
}

fn keyboard(
    rows: &[Vec<render::Button>],
    link: Option<&(String, String)>,
) -> Option<InlineKeyboardMarkup> {
    let mut keyboard: Vec<Vec<InlineKeyboardButton>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|b| InlineKeyboardButton::callback(b.label.clone(), b.command.clone()))
                .collect()
        })
        .collect();
    if let Some((label, url)) = link
        && let Ok(url) = reqwest::Url::parse(url)
    {
        keyboard.push(vec![InlineKeyboardButton::url(label.clone(), url)]);
    }
    (!keyboard.is_empty()).then(|| InlineKeyboardMarkup::new(keyboard))
}

/// Sends a rendered reply: the photo (falling back to text if Telegram
/// cannot fetch it), then the messages; the keyboard goes on the last one.
/// Returns the id of the last message sent.
async fn send(bot: &Bot, chat: ChatId, rendered: Rendered) -> Result<String, RequestError> {
    let Rendered {
        photo,
        mut messages,
        buttons,
        link,
    } = rendered;
    let markup = keyboard(&buttons, link.as_ref());
    let mut last = None;
    if let Some(photo) = photo {
        match reqwest::Url::parse(&photo.url) {
            Ok(url) => {
                let mut request = bot
                    .send_photo(chat, InputFile::url(url))
                    .caption(photo.caption.clone())
                    .parse_mode(ParseMode::Html);
                if messages.is_empty()
                    && let Some(markup) = markup.clone()
                {
                    request = request.reply_markup(markup);
                }
                match request.await {
                    Ok(message) => last = Some(message.id.0.to_string()),
                    Err(err @ (RequestError::RetryAfter(_) | RequestError::MigrateToChatId(_))) => {
                        return Err(err);
                    }
                    Err(err) => {
                        debug!(cause = %err, "the picture could not be sent; sending text");
                        messages.insert(0, photo.caption);
                    }
                }
            }
            Err(_) => messages.insert(0, photo.caption),
        }
    }
    let count = messages.len();
    for (i, text) in messages.into_iter().enumerate() {
        let mut request = bot.send_message(chat, text).parse_mode(ParseMode::Html);
        if i + 1 == count
            && let Some(markup) = markup.clone()
        {
            request = request.reply_markup(markup);
        }
        last = Some(request.await?.id.0.to_string());
    }
    Ok(last.unwrap_or_default())
}

async fn on_message(bot: Bot, msg: Message, ctx: Arc<Ctx>) -> Result<(), RequestError> {
    // Messages without text (stickers, photos, joins) are not for us.
    let Some(text) = msg.text() else {
        return Ok(());
    };
    let Some(line) = ctx.command_line(text, msg.chat.is_private()) else {
        return Ok(());
    };
    let reply = ctx
        .execute(&bot, message_caller(&msg), command::parse(&line))
        .await;
    send(&bot, msg.chat.id, ctx.render(&reply))
        .await
        .map(|_| ())
}

async fn on_callback(bot: Bot, query: CallbackQuery, ctx: Arc<Ctx>) -> Result<(), RequestError> {
    let parsed = query.data.as_deref().map(command::parse);
    let Some(Ok(cmd)) = parsed.filter(|p| p.as_ref().is_ok_and(Command::is_button_safe)) else {
        // Tampered, foreign or outdated button data.
        let text = text::lines::<Plain>(&Reply::stale_button()).join(" ");
        bot.answer_callback_query(query.id.clone())
            .text(text)
            .await?;
        return Ok(());
    };
    let (chat, is_group) = match &query.message {
        Some(message) => (message.chat().id, !message.chat().is_private()),
        // A button on an inline-mode message: answer in the user's own chat.
        None => (ChatId(query.from.id.0 as i64), false),
    };
    let caller = Caller {
        platform: Platform::Telegram,
        user_id: query.from.id.0.to_string(),
        chat_id: chat.0.to_string(),
        is_chat_admin: !is_group,
        is_group,
    };
    let reply = ctx.execute(&bot, caller, Ok(cmd)).await;
    match &reply {
        // A confirmation or an error is the button's own pop-up (at most 200 characters).
        Reply::Error(_) | Reply::Done(_) => {
            let text: String = text::lines::<Plain>(&reply)
                .join(" ")
                .chars()
                .take(190)
                .collect();
            bot.answer_callback_query(query.id.clone())
                .text(text)
                .await?;
        }
        _ => {
            bot.answer_callback_query(query.id.clone()).await?;
            send(&bot, chat, ctx.render(&reply)).await?;
        }
    }
    Ok(())
}

async fn on_inline_query(bot: Bot, query: InlineQuery, ctx: Arc<Ctx>) -> Result<(), RequestError> {
    let app = ctx.app.clone();
    let text = query.query.clone();
    let user = query.from.id;
    let results = tokio::task::spawn_blocking(move || inline_results(&app, user, &text))
        .await
        .unwrap_or_default();
    // Personal: what one person may see (adult titles) is not another's.
    bot.answer_inline_query(query.id.clone(), results)
        .cache_time(30)
        .is_personal(true)
        .await?;
    Ok(())
}

/// Up to ten articles for an inline query, each a card.
/// The person's own settings decide what they see (adult titles), as in
/// their private chat with the bot.
fn inline_results(app: &App, user: UserId, query: &str) -> Vec<InlineQueryResult> {
    if query.trim().is_empty() || query.chars().count() > command::MAX_TITLE_CHARS {
        return Vec::new();
    }
    let viewer = Caller {
        platform: Platform::Telegram,
        user_id: user.0.to_string(),
        chat_id: user.0.to_string(),
        is_chat_admin: false,
        is_group: false,
    };
    app.suggest(&viewer, query, INLINE_RESULTS)
        .into_iter()
        .filter_map(|hit| {
            let Reply::Card(card) = app.execute(&viewer, Command::Info(TitleRef::Id(hit.id)))
            else {
                return None;
            };
            let text = render::render(&Reply::Card(card.clone()))
                .messages
                .into_iter()
                .next()
                .unwrap_or_default();
            let content = InputMessageContent::Text(
                InputMessageContentText::new(text).parse_mode(ParseMode::Html),
            );
            let mut summary: Vec<String> = Vec::new();
            summary.extend(card.kind.clone());
            summary.extend(card.season.clone());
            summary.extend(card.episodes.map(|n| format!("{n} episodes")));
            summary.extend(card.scores.summary.map(|s| format!("★ {s}")));
            let mut article =
                InlineQueryResultArticle::new(hit.id.to_string(), card.title.clone(), content)
                    .description(summary.join(" · "));
            if let Some(url) = card
                .picture
                .as_deref()
                .and_then(|u| reqwest::Url::parse(u).ok())
            {
                article = article.thumbnail_url(url);
            }
            Some(InlineQueryResult::Article(article))
        })
        .collect()
}

/// The command menu published at start-up, from the command table:
/// `/anime` with its subcommands, and `/help`.
fn commands() -> Vec<BotCommand> {
    let subcommands: Vec<&str> = spec::COMMANDS
        .iter()
        .filter(|c| c.group == Group::Anime && c.name != "info")
        .map(|c| c.name)
        .collect();
    let help = spec::find(Group::Anime, "help").map_or("", |c| c.about);
    vec![
        BotCommand::new(
            "anime",
            format!(
                "Look up an anime: /anime <title>; also {}",
                subcommands.join(", ")
            ),
        ),
        BotCommand::new("help", help),
    ]
}

/// Runs the adapter until `shutdown` is cancelled: long polling, or a
/// webhook server when `telegram.webhook_url` is set.
pub async fn run(
    app: App,
    bot: Bot,
    config: TelegramConfig,
    webhook_secret: Option<SecretString>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Reach the Bot API first, retrying while it cannot be reached; a
    // token it refuses stops the process with a clear message.
    let me = std::sync::OnceLock::new();
    keep_connected(&app, "telegram", &shutdown, || {
        let (bot, me) = (&bot, &me);
        async move {
            match bot.get_me().await {
                Ok(found) => {
                    let _ = me.set(found);
                    Ok(())
                }
                Err(RequestError::Api(api))
                    if matches!(&api, ApiError::InvalidToken)
                        || matches!(&api, ApiError::Unknown(t) if t.contains("Unauthorized") || t.contains("Not Found")) =>
                {
                    Err(StartError::Rejected(anyhow::anyhow!(
                        "Telegram rejected the bot token (TELEGRAM_BOT_TOKEN); copy it again from @BotFather"
                    )))
                }
                Err(err) => Err(StartError::Unreachable(anyhow::Error::new(err).context(
                    "cannot reach the Telegram Bot API (getMe failed); check telegram.api_url",
                ))),
            }
        }
    })
    .await?;
    let Some(me) = me.into_inner() else {
        // Shut down before Telegram could be reached.
        return Ok(());
    };
    let username = me.username().to_owned();
    app.metrics().report("telegram", true);
    let metrics_app = app.clone();
    if let Err(err) = bot.set_my_commands(commands()).await {
        warn!(cause = %err, "cannot publish the command menu");
    }
    info!(bot = %username, webhook = !config.webhook_url.is_empty(), "telegram adapter started");
    let ctx = Arc::new(Ctx {
        app,
        username,
        admins: Mutex::new(HashMap::new()),
        admin_ttl: Duration::from_secs(config.admin_cache_secs),
    });
    let handler = dptree::entry()
        .branch(Update::filter_message().endpoint(on_message))
        .branch(Update::filter_callback_query().endpoint(on_callback))
        .branch(Update::filter_inline_query().endpoint(on_inline_query));
    let mut dispatcher = Dispatcher::builder(bot.clone(), handler)
        .dependencies(dptree::deps![ctx])
        // Edited messages and other update kinds are ignored.
        .default_handler(|_| async {})
        .error_handler(LoggingErrorHandler::with_custom_text(
            "a telegram handler failed",
        ))
        .build();
    let token = dispatcher.shutdown_token();
    let stopper = tokio::spawn(async move {
        shutdown.cancelled().await;
        // The dispatcher refuses a shutdown until it is running.
        loop {
            match token.shutdown() {
                Ok(done) => {
                    done.await;
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    if config.webhook_url.is_empty() {
        dispatcher.dispatch().await;
    } else {
        dispatch_webhook(&mut dispatcher, bot, &config, webhook_secret).await?;
    }
    stopper.abort();
    metrics_app.metrics().report("telegram", false);
    info!("telegram adapter stopped");
    Ok(())
}

/// Serves Telegram's webhook on `telegram.webhook_listen` and dispatches
/// what it receives until the dispatcher is shut down.
async fn dispatch_webhook(
    dispatcher: &mut Dispatcher<Bot, RequestError, teloxide::dispatching::DefaultKey>,
    bot: Bot,
    config: &TelegramConfig,
    webhook_secret: Option<SecretString>,
) -> anyhow::Result<()> {
    let url =
        reqwest::Url::parse(&config.webhook_url).context("telegram.webhook_url is not a URL")?;
    let address: SocketAddr = config
        .webhook_listen
        .parse()
        .context("telegram.webhook_listen is not an address")?;
    let mut options = teloxide::update_listeners::webhooks::Options::new(address, url);
    options.secret_token = webhook_secret.map(|s| s.expose_secret().to_owned());
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address}"))?;
    let (updates, stopped, router) =
        teloxide::update_listeners::webhooks::axum_to_router(bot.clone(), options)
            .await
            .context("cannot set the Telegram webhook")?;
    let server = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
    });
    dispatcher
        .dispatch_with_listener(
            updates,
            LoggingErrorHandler::with_custom_text("the webhook listener failed"),
        )
        .await;
    if let Ok(Err(err)) = server.await {
        warn!(cause = %err, "the webhook server failed");
    }
    Ok(())
}

/// Starts the adapter and its dispatcher, when a bot token is set.
pub fn start(w: &mut Wiring<'_>) -> anyhow::Result<Option<&'static str>> {
    let Some(token) = w.secrets.get("telegram_bot_token") else {
        return Ok(None);
    };
    let bot = bot(token, &w.config.telegram)?;
    w.tasks.spawn(run(
        w.app.clone(),
        bot.clone(),
        w.config.telegram.clone(),
        w.secrets.get("telegram_webhook_secret").cloned(),
        w.shutdown.clone(),
    ));
    w.spawn_dispatcher(TelegramNotifier::new(bot));
    Ok(Some("telegram"))
}

/// Posts announcements to Telegram chats and channels.
pub struct TelegramNotifier {
    bot: Bot,
}

impl TelegramNotifier {
    pub fn new(bot: Bot) -> TelegramNotifier {
        TelegramNotifier { bot }
    }
}

impl Notifier for TelegramNotifier {
    fn platform(&self) -> Platform {
        Platform::Telegram
    }

    async fn send(&self, chat: &ChatRef, announcement: &Announcement) -> SendOutcome {
        let Ok(id) = chat.chat_id.parse::<i64>() else {
            return SendOutcome::Rejected(format!(
                "\"{}\" is not a Telegram chat id",
                chat.chat_id
            ));
        };
        // Private chats have positive ids; groups and channels negative ones.
        let rendered = render::announcement(announcement, id > 0);
        match send(&self.bot, ChatId(id), rendered).await {
            Ok(message_id) => SendOutcome::Delivered { message_id },
            Err(err) => outcome(err),
        }
    }
}

/// How a failed Telegram request maps onto the dispatcher's outcomes.
fn outcome(err: RequestError) -> SendOutcome {
    match err {
        RequestError::RetryAfter(wait) => SendOutcome::RetryAfter {
            after: wait.duration(),
            global: false,
        },
        RequestError::MigrateToChatId(to) => SendOutcome::Migrated {
            to_chat_id: to.0.to_string(),
        },
        RequestError::Api(api) => match api {
            ApiError::BotBlocked
            | ApiError::ChatNotFound
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::UserDeactivated
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
            | ApiError::NotEnoughRightsToPostMessages => SendOutcome::Forbidden(api.to_string()),
            ApiError::Unknown(text) if text.starts_with("Forbidden") => {
                SendOutcome::Forbidden(text)
            }
            ApiError::Unknown(text) if text.starts_with("Bad Request") => {
                SendOutcome::Rejected(text)
            }
            other => SendOutcome::Transient(other.to_string()),
        },
        other => SendOutcome::Transient(other.to_string()),
    }
}
