//! The Discord adapter (serenity): `/anime` and `/anime-admin` slash commands
//! with autocomplete on every title, embeds, a select-menu picker, buttons,
//! and announcements through [`DiscordNotifier`]. Interactions become the
//! same core command lines as every other adapter's; replies are rendered by
//! [`render`].
//!
//! Discord lets `default_member_permissions` hide whole commands, not
//! subcommands, so the owner-only catalog commands are a second command,
//! `/anime-admin`, visible to members with Manage Server (the core still
//! checks that the caller is an owner).
//!
//! The global commands can be installed to a server or to a user, and used
//! in servers, the bot's DM and other DMs and group DMs. Where a user brought
//! Rouge themselves — a server that never added it, someone else's DM — the
//! bot cannot post ([`Place`]): every answer there is ephemeral, and
//! commands that change the chat (subscriptions, settings) are explained
//! instead of run. Following a title is the person's own, not the chat's:
//! it works everywhere, and its alerts go to the person's DM with Rouge
//! (the chat `dm:<user id>`), which [`DiscordNotifier`] opens when it first
//! posts there.

pub mod endpoint;
pub mod render;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};
use serenity::all::{
    AuthorizingIntegrationOwner, AuthorizingIntegrationOwners, AutocompleteChoice, ChannelId,
    Client, ClientBuilder, CommandDataOption, CommandDataOptionValue, CommandInteraction,
    CommandOptionType, ComponentInteraction, ComponentInteractionDataKind, Context,
    CreateAllowedMentions, CreateAutocompleteResponse, CreateCommand, CreateCommandOption,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, EventHandler, GatewayIntents, GuildId, Http, HttpBuilder,
    InstallationContext, Interaction, InteractionContext, Permissions, Ready, UserId,
};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{StartError, Wiring, joined_reply, keep_connected, run_command, spawn_command};
use crate::app::App;
use crate::config::DiscordConfig;
use crate::core::announce::{Announcement, Notifier, SendOutcome};
use crate::core::caller::{Caller, ChatRef, Personal, Platform};
use crate::core::command::{self, Args, Command, Group, OptionKind, OptionSpec, Value};
use crate::core::reply::{ErrorKind, Reply};

/// Replies slower than this are deferred first (Discord allows 3 s).
const DEFER_AFTER: Duration = Duration::from_millis(1500);

/// The REST client: Discord's API, or `discord.api_base` (a mock in tests,
/// which needs serenity's own rate limiter off to be used as a proxy; the
/// dispatcher paces announcements itself).
pub fn http(token: &SecretString, config: &DiscordConfig) -> Http {
    let builder = HttpBuilder::new(token.expose_secret());
    if config.api_base.is_empty() {
        builder.build()
    } else {
        builder
            .proxy(config.api_base.clone())
            .ratelimiter_disabled(true)
            .build()
    }
}

/// Discord's name for a command group: `/anime`, and the owners' own
/// `/anime-admin` (see the module's note).
fn group_name(group: Group) -> &'static str {
    match group {
        Group::Anime => "anime",
        Group::Admin => "anime-admin",
    }
}

/// One option of the command table as a Discord option.
fn create_option(option: &OptionSpec) -> CreateCommandOption {
    let created = match option.kind {
        OptionKind::Title => {
            CreateCommandOption::new(CommandOptionType::String, option.name, option.about)
                .set_autocomplete(true)
                .max_length(command::MAX_TITLE_CHARS as u16)
        }
        OptionKind::Text { max } => {
            CreateCommandOption::new(CommandOptionType::String, option.name, option.about)
                .max_length(max_len(max))
        }
        OptionKind::Pairs => {
            CreateCommandOption::new(CommandOptionType::String, option.name, option.about)
                .max_length(1000)
        }
        OptionKind::Choice(choices) => choices.iter().fold(
            CreateCommandOption::new(CommandOptionType::String, option.name, option.about),
            |o, (label, value)| o.add_string_choice(*label, *value),
        ),
        OptionKind::Integer { min, max } => {
            CreateCommandOption::new(CommandOptionType::Integer, option.name, option.about)
                .min_int_value(min.max(0) as u64)
                .max_int_value(max.max(0) as u64)
        }
        OptionKind::Role => {
            CreateCommandOption::new(CommandOptionType::Role, option.name, option.about)
        }
    };
    created.required(option.required)
}

/// Discord caps string options at 6,000 characters.
fn max_len(max: usize) -> u16 {
    max.min(6000) as u16
}

/// The commands registered at start-up (a bulk overwrite, so idempotent):
/// every entry of the command table, as a subcommand of its group.
pub fn commands() -> Vec<CreateCommand> {
    [Group::Anime, Group::Admin]
        .into_iter()
        .map(|group| {
            let created = match group {
                Group::Anime => CreateCommand::new(group_name(group))
                    .description("Anime look-ups, scores and new-episode announcements"),
                Group::Admin => CreateCommand::new(group_name(group))
                    .description("Owners: change the catalog")
                    .default_member_permissions(Permissions::MANAGE_GUILD),
            };
            command::spec::COMMANDS
                .iter()
                .filter(|spec| spec.group == group)
                .fold(created, |created, spec| {
                    created.add_option(spec.options.iter().fold(
                        CreateCommandOption::new(
                            CommandOptionType::SubCommand,
                            spec.name,
                            spec.about,
                        ),
                        |sub, option| sub.add_sub_option(create_option(option)),
                    ))
                })
        })
        .collect()
}

/// The commands registered globally: [`commands`], installable to a server
/// and to a user, and usable in servers, the bot's DM and other DMs and
/// group DMs. `/anime-admin` is offered everywhere too: what guards it is
/// the core's owner list, which holds in every context, while Manage
/// Server only tidies the command list in servers that added Rouge
/// (Discord applies command permissions to server installs only, so
/// whoever installs Rouge for themselves sees the command, and non-owners
/// are told it is for owners). Guild commands (`discord.dev_guild`) take
/// neither field: Discord defines both for global commands only.
pub fn global_commands() -> Vec<CreateCommand> {
    commands()
        .into_iter()
        .map(|command| {
            command
                .integration_types(vec![InstallationContext::Guild, InstallationContext::User])
                .contexts(vec![
                    InteractionContext::Guild,
                    InteractionContext::BotDm,
                    InteractionContext::PrivateChannel,
                ])
        })
        .collect()
}

/// The table entry and typed arguments of a slash command: Discord's
/// structured options go straight into [`Args`], never back through text.
pub fn slash_command(
    name: &str,
    options: &[CommandDataOption],
) -> Result<Command, command::ParseError> {
    let group = [Group::Anime, Group::Admin]
        .into_iter()
        .find(|g| group_name(*g) == name)
        .ok_or(command::ParseError::NotACommand)?;
    let sub = options.first().ok_or(command::ParseError::NotACommand)?;
    let CommandDataOptionValue::SubCommand(opts) = &sub.value else {
        return Err(command::ParseError::NotACommand);
    };
    let mut args = Args::new();
    for option in opts {
        let value = match &option.value {
            CommandDataOptionValue::String(s) => Value::Text(s.clone()),
            CommandDataOptionValue::Autocomplete { value, .. } => Value::Text(value.clone()),
            CommandDataOptionValue::Integer(n) => Value::Integer(*n),
            CommandDataOptionValue::Role(role) => Value::Role(role.get()),
            // Kinds the table never registers.
            _ => continue,
        };
        args.set(&option.name, value);
    }
    command::from_args(group, &sub.name, &args)
}

/// Where an interaction comes from, which decides whether Rouge may post
/// there and who administers the chat. Discord says it with the
/// interaction's `context` and `authorizing_integration_owners`: a server
/// that added Rouge is a `GUILD_INSTALL` key ("0") holding that server's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A server that added Rouge.
    Server,
    /// A server that never added Rouge: the user installed it for themselves.
    ServerWithoutRouge,
    /// The user's DM with Rouge's bot.
    BotDm,
    /// A DM or group DM between users, where only a user install reaches.
    PrivateChannel,
}

impl Place {
    fn of(
        guild: Option<GuildId>,
        context: Option<InteractionContext>,
        owners: &AuthorizingIntegrationOwners,
    ) -> Place {
        match (guild, context) {
            (Some(guild), _) => {
                let added = owners.0.iter().any(|owner| {
                    matches!(owner, AuthorizingIntegrationOwner::GuildInstall(Some(id)) if *id == guild)
                });
                if added {
                    Place::Server
                } else {
                    Place::ServerWithoutRouge
                }
            }
            // Discord leaves `context` out only of payloads older than user
            // installs, when every DM was the bot's.
            (None, None | Some(InteractionContext::BotDm)) => Place::BotDm,
            (None, Some(_)) => Place::PrivateChannel,
        }
    }

    /// Whether Rouge can post in the chat; elsewhere only the caller sees
    /// its answers.
    fn can_post(self) -> bool {
        matches!(self, Place::Server | Place::BotDm)
    }

    /// The answer to a command that changes the chat (subscriptions,
    /// settings) where Rouge cannot post: what to do instead. Owners are
    /// refused too — Rouge could not deliver the announcements.
    fn refusal(self, parsed: &Result<Command, command::ParseError>) -> Option<Reply> {
        if !parsed.as_ref().is_ok_and(Command::needs_chat_admin) {
            return None;
        }
        let why = match self {
            Place::Server | Place::BotDm => return None,
            Place::ServerWithoutRouge => {
                "Rouge is not installed in this server, so it cannot post here: subscriptions \
                 and settings need Rouge added to the server by someone with the Manage Server \
                 permission (Rouge's profile → Add App → Add to Server). Until then only you \
                 see Rouge's answers here."
            }
            Place::PrivateChannel => {
                "Rouge cannot post in this conversation (it is installed to your account, not \
                 to this chat), so it cannot subscribe it or keep settings for it. Subscribe in \
                 your DM with Rouge, or in a server that has added Rouge."
            }
        };
        Some(Reply::error(ErrorKind::NotAllowed, why))
    }

    /// A reply as Discord should show it here.
    fn render(self, reply: &Reply) -> render::Rendered {
        let mut rendered = render::render(reply);
        rendered.ephemeral |= !self.can_post();
        rendered
    }
}

/// The caller in `place`. Chat admins: members with Manage Server, or
/// Manage Channels, in a server that added Rouge; the user in their own DM
/// with the bot; nobody where Rouge cannot post (managing a server that
/// never added Rouge does not let anyone subscribe it).
fn caller(user: u64, channel: ChannelId, place: Place, permissions: Option<Permissions>) -> Caller {
    let (is_group, is_chat_admin) = match place {
        Place::Server => (
            true,
            permissions.is_some_and(|p| {
                p.intersects(
                    Permissions::ADMINISTRATOR
                        | Permissions::MANAGE_GUILD
                        | Permissions::MANAGE_CHANNELS,
                )
            }),
        ),
        Place::ServerWithoutRouge | Place::PrivateChannel => (true, false),
        Place::BotDm => (false, true),
    };
    Caller {
        platform: Platform::Discord,
        user_id: user.to_string(),
        chat_id: channel.get().to_string(),
        is_chat_admin,
        is_group,
    }
}

fn message(rendered: render::Rendered) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .embed(rendered.embed)
        .components(rendered.components)
        .ephemeral(rendered.ephemeral)
        .allowed_mentions(CreateAllowedMentions::new())
}

/// A command or component interaction, ready to run: who, where and what.
struct Invocation {
    caller: Caller,
    place: Place,
    parsed: Result<Command, command::ParseError>,
}

impl Invocation {
    /// The whole answer — the command's reply, or the refusal where it
    /// cannot run — as the interactions endpoint returns it.
    async fn response(self, app: &App) -> CreateInteractionResponse {
        let reply = match self.place.refusal(&self.parsed) {
            Some(refusal) => refusal,
            None => run_command(app, self.caller, self.parsed).await,
        };
        CreateInteractionResponse::Message(message(self.place.render(&reply)))
    }
}

/// Who invoked an interaction, from where: the fields command and
/// component interactions share.
struct Origin<'a> {
    user: UserId,
    channel: ChannelId,
    guild: Option<GuildId>,
    context: Option<InteractionContext>,
    owners: &'a AuthorizingIntegrationOwners,
    permissions: Option<Permissions>,
}

impl Origin<'_> {
    fn place(&self) -> Place {
        Place::of(self.guild, self.context, self.owners)
    }

    fn caller(&self) -> Caller {
        caller(
            self.user.get(),
            self.channel,
            self.place(),
            self.permissions,
        )
    }

    fn invocation(&self, parsed: Result<Command, command::ParseError>) -> Invocation {
        Invocation {
            caller: self.caller(),
            place: self.place(),
            parsed,
        }
    }
}

fn command_origin(interaction: &CommandInteraction) -> Origin<'_> {
    Origin {
        user: interaction.user.id,
        channel: interaction.channel_id,
        guild: interaction.guild_id,
        context: interaction.context,
        owners: &interaction.authorizing_integration_owners,
        permissions: interaction.member.as_ref().and_then(|m| m.permissions),
    }
}

/// The caller and command of a slash-command interaction.
fn command_of(interaction: &CommandInteraction) -> Invocation {
    command_origin(interaction).invocation(slash_command(
        &interaction.data.name,
        &interaction.data.options,
    ))
}

/// Title suggestions for the focused option: values are `#id`.
async fn autocomplete_response(
    app: &App,
    interaction: &CommandInteraction,
) -> CreateInteractionResponse {
    let typed = interaction
        .data
        .autocomplete()
        .map(|o| o.value.to_owned())
        .unwrap_or_default();
    let app = app.clone();
    let caller = command_origin(interaction).caller();
    let hits = tokio::task::spawn_blocking(move || {
        if typed.trim().is_empty() {
            Vec::new()
        } else {
            app.suggest(&caller, &typed, 25)
        }
    })
    .await
    .unwrap_or_default();
    let choices = hits
        .into_iter()
        .map(|h| {
            AutocompleteChoice::new(
                render::cut(&format!("{} · #{}", h.matched, h.id), 100),
                format!("#{}", h.id),
            )
        })
        .collect();
    CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new().set_choices(choices))
}

/// The caller and command behind a button or the picker's menu; `None` for
/// tampered data or a component of an older version of the bot.
fn component_of(interaction: &ComponentInteraction) -> Option<Invocation> {
    let line = match &interaction.data.kind {
        ComponentInteractionDataKind::StringSelect { values } => values.first().cloned(),
        ComponentInteractionDataKind::Button => Some(interaction.data.custom_id.clone()),
        _ => None,
    }?;
    let cmd = command::parse(&line).ok().filter(Command::is_button_safe)?;
    let origin = Origin {
        user: interaction.user.id,
        channel: interaction.channel_id,
        guild: interaction.guild_id,
        context: interaction.context,
        owners: &interaction.authorizing_integration_owners,
        permissions: interaction.member.as_ref().and_then(|m| m.permissions),
    };
    Some(origin.invocation(Ok(cmd)))
}

fn stale_component() -> CreateInteractionResponse {
    CreateInteractionResponse::Message(message(render::render(&Reply::stale_button())))
}

/// The whole answer to an interaction, without any REST call: what the
/// interactions endpoint returns in its HTTP response. `None` for kinds the
/// bot does not use.
pub async fn answer(app: &App, interaction: Interaction) -> Option<CreateInteractionResponse> {
    Some(match interaction {
        Interaction::Ping(_) => CreateInteractionResponse::Pong,
        Interaction::Command(command) => command_of(&command).response(app).await,
        Interaction::Autocomplete(autocomplete) => autocomplete_response(app, &autocomplete).await,
        Interaction::Component(component) => match component_of(&component) {
            Some(invocation) => invocation.response(app).await,
            None => stale_component(),
        },
        _ => return None,
    })
}

/// Executes a command for a command or component interaction (their
/// serenity types differ but answer alike): deferred first when slow, then
/// the reply as a message or as the edit of the deferred one. Where Rouge
/// cannot post the deferral is ephemeral, since an edit cannot change that.
macro_rules! respond {
    ($handler:expr, $ctx:expr, $interaction:expr, $invocation:expr, $what:literal) => {{
        let http = Arc::clone(&$ctx.http);
        let invocation: Invocation = $invocation;
        let place = invocation.place;
        let (reply, deferred) = $handler
            .execute(invocation, async {
                let deferral = if place.can_post() {
                    $interaction.defer(&http).await
                } else {
                    $interaction.defer_ephemeral(&http).await
                };
                if let Err(err) = deferral {
                    warn!(cause = %err, concat!("cannot defer ", $what));
                }
            })
            .await;
        let rendered = place.render(&reply);
        let result = if deferred {
            let edit = EditInteractionResponse::new()
                .embed(rendered.embed)
                .components(rendered.components)
                .allowed_mentions(CreateAllowedMentions::new());
            $interaction.edit_response(&$ctx.http, edit).await.map(|_| ())
        } else {
            $interaction.create_response(&$ctx.http, CreateInteractionResponse::Message(message(rendered))).await
        };
        if let Err(err) = result {
            warn!(cause = %err, concat!("cannot answer ", $what));
        }
    }};
}

struct Handler {
    app: App,
    dev_guild: Option<GuildId>,
    registered: AtomicBool,
}

impl Handler {
    /// Executes off the async threads (the store does disk I/O); after
    /// [`DEFER_AFTER`] `on_slow` runs once so the interaction can be deferred.
    /// A refusal ([`Place::refusal`]) needs no work and is never deferred.
    async fn execute(
        &self,
        invocation: Invocation,
        on_slow: impl std::future::Future<Output = ()>,
    ) -> (Reply, bool) {
        if let Some(refusal) = invocation.place.refusal(&invocation.parsed) {
            return (refusal, false);
        }
        let mut work = spawn_command(&self.app, invocation.caller, invocation.parsed);
        let joined = tokio::select! {
            joined = &mut work => return (joined_reply(joined), false),
            _ = tokio::time::sleep(DEFER_AFTER) => {
                on_slow.await;
                work.await
            }
        };
        (joined_reply(joined), true)
    }

    async fn on_command(&self, ctx: &Context, interaction: CommandInteraction) {
        respond!(
            self,
            ctx,
            interaction,
            command_of(&interaction),
            "an interaction"
        );
    }

    async fn on_autocomplete(&self, ctx: &Context, interaction: CommandInteraction) {
        let response = autocomplete_response(&self.app, &interaction).await;
        if let Err(err) = interaction.create_response(&ctx.http, response).await {
            warn!(cause = %err, "cannot answer an autocomplete");
        }
    }

    async fn on_component(&self, ctx: &Context, interaction: ComponentInteraction) {
        let Some(invocation) = component_of(&interaction) else {
            if let Err(err) = interaction
                .create_response(&ctx.http, stale_component())
                .await
            {
                warn!(cause = %err, "cannot answer a component");
            }
            return;
        };
        respond!(self, ctx, interaction, invocation, "a component");
    }
}

#[serenity::async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        info!(bot = %ready.user.name, shard = ?ready.shard, "discord gateway ready");
        self.app.metrics().report("discord", true);
        if self.registered.swap(true, Ordering::SeqCst) {
            return;
        }
        let result = match self.dev_guild {
            Some(guild) => guild.set_commands(&ctx.http, commands()).await,
            None => serenity::all::Command::set_global_commands(&ctx.http, global_commands()).await,
        };
        match result {
            Ok(registered) => info!(commands = registered.len(), "slash commands registered"),
            Err(err) => {
                self.registered.store(false, Ordering::SeqCst);
                warn!(cause = %err, "cannot register the slash commands");
            }
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        match interaction {
            Interaction::Command(command) => self.on_command(&ctx, command).await,
            Interaction::Autocomplete(autocomplete) => {
                self.on_autocomplete(&ctx, autocomplete).await
            }
            Interaction::Component(component) => self.on_component(&ctx, component).await,
            // Pings and modals are not used.
            _ => {}
        }
    }
}

/// Runs the gateway client until `shutdown` is cancelled, reconnecting
/// with backoff when Discord cannot be reached (a rejected token stops it).
pub async fn run(
    app: App,
    token: SecretString,
    config: DiscordConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let range = parse_shards(&config.shards)?;
    keep_connected(&app, "discord", &shutdown, || {
        connect(&app, &token, &config, range.clone(), &shutdown)
    })
    .await?;
    app.metrics().report("discord", false);
    info!("discord adapter stopped");
    Ok(())
}

/// One connection of the gateway client, until it ends or `shutdown`.
async fn connect(
    app: &App,
    token: &SecretString,
    config: &DiscordConfig,
    range: Option<(std::ops::Range<u32>, u32)>,
    shutdown: &CancellationToken,
) -> Result<(), StartError> {
    // GUILDS is all slash commands need; no privileged intents.
    let handler = Handler {
        app: app.clone(),
        dev_guild: (config.dev_guild != 0).then(|| GuildId::new(config.dev_guild)),
        registered: AtomicBool::new(false),
    };
    let mut client: Client =
        ClientBuilder::new_with_http(http(token, config), GatewayIntents::GUILDS)
            .event_handler(handler)
            .await
            .map_err(|e| {
                StartError::Unreachable(
                    anyhow::Error::new(e).context("cannot build the Discord client"),
                )
            })?;
    let shards = Arc::clone(&client.shard_manager);
    let connection = async {
        match range {
            Some((range, total)) => client.start_shard_range(range, total).await,
            None => client.start_autosharded().await,
        }
    };
    // A shutdown can come while shards are still starting, when serenity's
    // shutdown_all does not reach them: stop waiting for the client then.
    let started = tokio::select! {
        started = connection => started,
        _ = shutdown.cancelled() => {
            shards.shutdown_all().await;
            Ok(())
        }
    };
    match started {
        Ok(()) => Ok(()),
        Err(err) if rejected_token(&err) => Err(StartError::Rejected(anyhow::anyhow!(
            "Discord rejected the bot token (DISCORD_TOKEN): {err}. Copy the token again from the Developer Portal"
        ))),
        Err(err) => Err(StartError::Unreachable(
            anyhow::Error::new(err).context("the Discord gateway connection failed"),
        )),
    }
}

/// Whether Discord refused the token itself (not the network, not a
/// server error): retrying cannot help.
fn rejected_token(err: &serenity::Error) -> bool {
    use serenity::all::{GatewayError, HttpError};
    match err {
        serenity::Error::Gateway(GatewayError::InvalidAuthentication) => true,
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            response.status_code.as_u16() == 401
        }
        _ => false,
    }
}

/// `"0..2/4"`: shards 0 and 1 of 4; empty: serenity's recommendation.
fn parse_shards(text: &str) -> anyhow::Result<Option<(std::ops::Range<u32>, u32)>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let bad = || anyhow::anyhow!("discord.shards must look like \"0..2/4\" (shards 0 and 1 of 4)");
    let (range, total) = text.split_once('/').ok_or_else(bad)?;
    let (start, end) = range.split_once("..").ok_or_else(bad)?;
    let (start, end, total): (u32, u32, u32) = (
        start.trim().parse().map_err(|_| bad())?,
        end.trim().parse().map_err(|_| bad())?,
        total.trim().parse().map_err(|_| bad())?,
    );
    if start >= end || end > total {
        return Err(bad());
    }
    Ok(Some((start..end, total)))
}

/// Starts the gateway adapter and its dispatcher when a bot token is set,
/// and the interactions endpoint when `discord.interactions_listen` is.
pub fn start(w: &mut Wiring<'_>) -> anyhow::Result<Option<&'static str>> {
    let endpoint = !w.config.discord.interactions_listen.is_empty();
    if endpoint {
        let key = w
            .secrets
            .get("discord_public_key")
            .context("discord.interactions_listen is set but DISCORD_PUBLIC_KEY is not")?;
        let verifier = endpoint::verifier(key)?;
        let listen = w
            .config
            .discord
            .interactions_listen
            .parse()
            .context("discord.interactions_listen is not an address")?;
        w.tasks.spawn(endpoint::run(
            w.app.clone(),
            listen,
            verifier,
            w.shutdown.clone(),
        ));
    }
    let Some(token) = w.secrets.get("discord_token") else {
        return Ok(endpoint.then_some("discord interactions endpoint"));
    };
    w.tasks.spawn(run(
        w.app.clone(),
        token.clone(),
        w.config.discord.clone(),
        w.shutdown.clone(),
    ));
    let notifier = DiscordNotifier::new(Arc::new(http(token, &w.config.discord)));
    w.spawn_dispatcher(notifier);
    Ok(Some("discord"))
}

/// How many people's DM channels the notifier remembers; past that it
/// forgets one to make room (reopening a DM costs one request).
const DM_CHANNELS_KEPT: usize = 10_000;

/// Why a person's alerts stop when Discord answers 50007 (Cannot send
/// messages to this user), as the stop note tells them.
const DM_REFUSED: &str = "Discord refused a direct message (error 50007: direct messages \
    from Rouge are turned off in Discord's privacy settings, or Rouge is blocked)";

/// Where a chat id points on Discord: a channel, or a person's DM
/// (`dm:<user id>`, the personal chat of the platform table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Destination {
    Channel(ChannelId),
    Dm(UserId),
}

impl Destination {
    fn of(chat_id: &str) -> Option<Destination> {
        let snowflake = |s: &str| s.parse::<u64>().ok().filter(|&id| id != 0);
        if let Personal::Opened { prefix } = Platform::Discord.info().personal
            && let Some(user) = chat_id.strip_prefix(prefix)
        {
            return snowflake(user).map(|id| Destination::Dm(UserId::new(id)));
        }
        snowflake(chat_id).map(|id| Destination::Channel(ChannelId::new(id)))
    }
}

/// Posts announcements to Discord channels, and followers' alerts to their
/// DMs.
pub struct DiscordNotifier {
    http: Arc<Http>,
    /// The DM channel of each person posted to, so it is opened once.
    dms: Mutex<HashMap<UserId, ChannelId>>,
}

impl DiscordNotifier {
    pub fn new(http: Arc<Http>) -> DiscordNotifier {
        DiscordNotifier {
            http,
            dms: Mutex::new(HashMap::new()),
        }
    }

    /// The DM channel with `user`: remembered, or opened now (Discord
    /// answers the same channel every time, so a race only opens it twice).
    async fn dm_channel(&self, user: UserId) -> Result<ChannelId, serenity::Error> {
        let known = self
            .dms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&user)
            .copied();
        if let Some(channel) = known {
            return Ok(channel);
        }
        let channel = user.create_dm_channel(self.http.as_ref()).await?.id;
        let mut dms = self.dms.lock().unwrap_or_else(PoisonError::into_inner);
        if dms.len() >= DM_CHANNELS_KEPT
            && let Some(old) = dms.keys().next().copied()
        {
            dms.remove(&old);
        }
        dms.insert(user, channel);
        Ok(channel)
    }
}

impl Notifier for DiscordNotifier {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn send(&self, chat: &ChatRef, announcement: &Announcement) -> SendOutcome {
        let Some(destination) = Destination::of(&chat.chat_id) else {
            return SendOutcome::Rejected(format!(
                "\"{}\" is not a Discord channel id or dm:<user id>",
                chat.chat_id
            ));
        };
        let channel = match destination {
            Destination::Channel(channel) => channel,
            Destination::Dm(user) => match self.dm_channel(user).await {
                Ok(channel) => channel,
                Err(err) => return outcome(err),
            },
        };
        let rendered =
            render::announcement(announcement, matches!(destination, Destination::Dm(_)));
        let mut message = CreateMessage::new()
            .embed(rendered.embed)
            .components(rendered.components)
            .allowed_mentions(CreateAllowedMentions::new());
        // The one mention the bot ever makes: the role the channel asked for.
        if let Some(role) = announcement
            .mention_role
            .as_deref()
            .and_then(|r| r.parse::<u64>().ok())
            .filter(|&r| r != 0)
        {
            message = message.content(format!("<@&{role}>")).allowed_mentions(
                CreateAllowedMentions::new().roles(vec![serenity::all::RoleId::new(role)]),
            );
        }
        match channel.send_message(&self.http, message).await {
            Ok(sent) => SendOutcome::Delivered {
                message_id: sent.id.get().to_string(),
            },
            Err(err) => outcome(err),
        }
    }
}

/// Discord's JSON error code for a DM the recipient does not accept.
const CANNOT_MESSAGE_USER: isize = 50007;

/// How long to wait after a 429 when the answer does not say (serenity does
/// not pass Discord's `retry_after` on when its own limiter is off).
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

/// How a failed Discord request maps onto the dispatcher's outcomes.
fn outcome(err: serenity::Error) -> SendOutcome {
    use serenity::all::{HttpError, StatusCode};
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let reason = format!(
                "{} {} (code {})",
                response.status_code.as_u16(),
                response.error.message,
                response.error.code
            );
            match response.status_code {
                StatusCode::FORBIDDEN if response.error.code == CANNOT_MESSAGE_USER => {
                    SendOutcome::Forbidden(DM_REFUSED.to_owned())
                }
                StatusCode::TOO_MANY_REQUESTS => SendOutcome::RetryAfter {
                    after: DEFAULT_RETRY_AFTER,
                    global: response.error.message.contains("global"),
                },
                // Missing Access / Missing Permissions, or the channel is gone (Unknown Channel, 10003).
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => SendOutcome::Forbidden(reason),
                status if status.is_server_error() => SendOutcome::Transient(reason),
                _ => SendOutcome::Rejected(reason),
            }
        }
        other => SendOutcome::Transient(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ranges() {
        assert_eq!(parse_shards("").ok().flatten(), None);
        assert_eq!(parse_shards("0..2/4").ok().flatten(), Some((0..2, 4)));
        assert!(parse_shards("2..2/4").is_err());
        assert!(parse_shards("0..5/4").is_err());
        assert!(parse_shards("lots").is_err());
    }

    #[test]
    fn chats_are_channels_or_a_persons_dm() {
        let personal = caller(7, ChannelId::new(9), Place::Server, None).personal_chat();
        assert_eq!(
            Destination::of(&personal.chat_id),
            Some(Destination::Dm(UserId::new(7)))
        );
        assert_eq!(
            Destination::of("9"),
            Some(Destination::Channel(ChannelId::new(9)))
        );
        for malformed in [
            "", "0", "dm:", "dm:0", "dm:abc", "dm:-1", "dm:7x", "dm:dm:7", "x9",
        ] {
            assert_eq!(Destination::of(malformed), None, "{malformed:?}");
        }
    }

    #[test]
    fn places_and_their_callers() {
        use AuthorizingIntegrationOwner::{GuildInstall, UserInstall};
        let guild = GuildId::new(5);
        let user = serenity::all::UserId::new(7);
        let owners = |list| AuthorizingIntegrationOwners(list);
        let cases = [
            (
                Some(guild),
                Some(InteractionContext::Guild),
                vec![GuildInstall(Some(guild))],
                Place::Server,
            ),
            (
                Some(guild),
                Some(InteractionContext::Guild),
                vec![GuildInstall(Some(guild)), UserInstall(user)],
                Place::Server,
            ),
            (
                Some(guild),
                Some(InteractionContext::Guild),
                vec![UserInstall(user)],
                Place::ServerWithoutRouge,
            ),
            (
                Some(guild),
                Some(InteractionContext::Guild),
                vec![GuildInstall(Some(GuildId::new(6)))],
                Place::ServerWithoutRouge,
            ),
            (
                None,
                Some(InteractionContext::BotDm),
                vec![GuildInstall(None), UserInstall(user)],
                Place::BotDm,
            ),
            (
                None,
                Some(InteractionContext::BotDm),
                vec![UserInstall(user)],
                Place::BotDm,
            ),
            (None, None, vec![], Place::BotDm),
            (
                None,
                Some(InteractionContext::PrivateChannel),
                vec![UserInstall(user)],
                Place::PrivateChannel,
            ),
            (
                None,
                Some(InteractionContext::Unknown(9)),
                vec![UserInstall(user)],
                Place::PrivateChannel,
            ),
        ];
        for (guild, context, list, expected) in cases {
            assert_eq!(
                Place::of(guild, context, &owners(list)),
                expected,
                "{guild:?} {context:?}"
            );
        }

        let channel = ChannelId::new(9);
        let manager = Some(Permissions::MANAGE_GUILD);
        let flags = |place, permissions| {
            let c = caller(7, channel, place, permissions);
            assert_eq!((c.user_id.as_str(), c.chat_id.as_str()), ("7", "9"));
            (c.is_group, c.is_chat_admin)
        };
        assert_eq!(flags(Place::Server, manager), (true, true));
        assert_eq!(
            flags(Place::Server, Some(Permissions::SEND_MESSAGES)),
            (true, false)
        );
        assert_eq!(flags(Place::ServerWithoutRouge, manager), (true, false));
        assert_eq!(flags(Place::BotDm, None), (false, true));
        assert_eq!(flags(Place::PrivateChannel, None), (true, false));

        let subscribe = command::parse("/anime subscribe #1");
        let show = command::parse("/anime settings");
        assert!(Place::Server.refusal(&subscribe).is_none());
        assert!(Place::BotDm.refusal(&subscribe).is_none());
        assert!(Place::ServerWithoutRouge.refusal(&show).is_none());
        // Following is the caller's own, never the chat's: it runs everywhere.
        let follow = command::parse("/anime follow #1");
        for place in [
            Place::Server,
            Place::ServerWithoutRouge,
            Place::BotDm,
            Place::PrivateChannel,
        ] {
            assert!(place.refusal(&follow).is_none(), "{place:?}");
        }
        let help = Reply::Help(crate::core::reply::HelpView { lines: Vec::new() });
        assert!(!Place::Server.render(&help).ephemeral);
        assert!(!Place::BotDm.render(&help).ephemeral);
        for place in [Place::ServerWithoutRouge, Place::PrivateChannel] {
            assert!(matches!(place.refusal(&subscribe), Some(Reply::Error(_))));
            assert!(place.render(&help).ephemeral);
        }
    }
}
