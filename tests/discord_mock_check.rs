#![cfg(feature = "discord")]
//! Exercises tests/support/discord_mock.rs with the real serenity client.

#[path = "support/discord_mock.rs"]
mod discord_mock;

use std::sync::Arc;
use std::time::Duration;

use discord_mock::{DiscordMock, Failure, public_key_hex, sign};
use serde_json::{Value, json};
use serenity::all::{
    ApplicationId, ChannelId, ChannelType, ClientBuilder, Command, CommandDataOptionValue,
    CommandOptionType, ComponentInteractionDataKind, Context, CreateActionRow,
    CreateAutocompleteResponse, CreateButton, CreateCommand, CreateCommandOption, CreateEmbed,
    CreateEmbedAuthor, CreateEmbedFooter, CreateInteractionResponse,
    CreateInteractionResponseFollowup, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, EditMessage, EventHandler, GatewayIntents, GuildId,
    InstallationContext, Interaction, InteractionContext, Permissions, Ready, Timestamp, UserId,
};
use serenity::http::{ErrorResponse, Http, HttpBuilder, HttpError};
use serenity::interactions_endpoint::Verifier;
use serenity::model::ModelError;
use tokio::sync::mpsc;

/// A token whose first segment encodes the bot id 1234567890123456789, like real ones.
const TOKEN: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GmOcK1.rouge-test-secret";
const BOT_ID: u64 = 1_234_567_890_123_456_789;
const APP_ID: u64 = 1_200_000_000_000_000_002;
const GUILD: u64 = 800_000_000_000_000_001;
const CHANNEL: u64 = 900_000_000_000_000_042;
const USER: u64 = 700_000_000_000_000_007;

const MESSAGES: &str = "/channels/{channel_id}/messages";
const CALLBACK: &str = "/interactions/{interaction_id}/{interaction_token}/callback";

macro_rules! require_spec {
    () => {
        if !DiscordMock::spec_available() {
            println!("skipping: ../shared/specs/discord-openapi.json not found");
            return;
        }
    };
}

fn http_for(mock: &DiscordMock) -> Http {
    HttpBuilder::new(TOKEN)
        .proxy(mock.url())
        .ratelimiter_disabled(true)
        .application_id(ApplicationId::new(APP_ID))
        .build()
}

fn unsuccessful(err: serenity::Error) -> ErrorResponse {
    match err {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(r)) => r,
        other => panic!("expected an unsuccessful request, got {other:?}"),
    }
}

/// Sends a raw request to the mock (to exercise validation serenity would never produce).
async fn raw(
    mock: &DiscordMock,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", mock.url()));
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request to mock");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn bot_auth() -> String {
    format!("Bot {TOKEN}")
}

#[tokio::test]
async fn current_user_and_gateway_urls() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    assert_eq!(mock.bot_user_id(), BOT_ID);
    let http = http_for(&mock);

    let me = http.get_current_user().await.expect("GET /users/@me");
    assert_eq!(me.id.get(), BOT_ID);
    assert!(me.bot);

    let gateway = http.get_gateway().await.expect("GET /gateway");
    assert_eq!(gateway.url, mock.gateway_url());
    assert!(gateway.url.starts_with("ws://127.0.0.1:"));
    assert!(gateway.url.ends_with("/gateway-ws"));
    let bot_gateway = http.get_bot_gateway().await.expect("GET /gateway/bot");
    assert_eq!(bot_gateway.shards, 1);
    assert_eq!(bot_gateway.session_start_limit.max_concurrency, 1);

    let requests = mock.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].path, "/api/v10/users/@me");
    assert_eq!(requests[0].route, "/users/@me");
    assert_eq!(mock.requests_to("get", "/gateway/bot").len(), 1);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn send_and_edit_a_channel_message() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    let channel = ChannelId::new(CHANNEL);

    let embed = CreateEmbed::new()
        .title("Sousou no Frieren")
        .url("https://myanimelist.net/anime/52991")
        .description("An elf mage looks back on a ten-year journey.")
        .field("Score", "9.30", true)
        .field("Episodes", "28", true)
        .author(CreateEmbedAuthor::new("MyAnimeList"))
        .footer(CreateEmbedFooter::new("Rouge"))
        .thumbnail("https://cdn.myanimelist.net/images/anime/1015/138006.jpg")
        .timestamp(Timestamp::now())
        .colour(0x2e51a2);
    let buttons = CreateActionRow::Buttons(vec![
        CreateButton::new("more:52991").label("More"),
        CreateButton::new_link("https://myanimelist.net/anime/52991").label("MAL"),
    ]);
    let sent = channel
        .send_message(
            &http,
            CreateMessage::new()
                .content("Top result")
                .embed(embed)
                .components(vec![buttons]),
        )
        .await
        .expect("send_message");
    assert_eq!(sent.content, "Top result");
    assert_eq!(sent.channel_id, channel);
    assert_eq!(sent.author.id.get(), BOT_ID);
    assert_eq!(sent.embeds.len(), 1);
    assert_eq!(sent.embeds[0].title.as_deref(), Some("Sousou no Frieren"));
    assert_eq!(sent.embeds[0].fields.len(), 2);
    assert_eq!(sent.components.len(), 1);
    assert!(sent.edited_timestamp.is_none());

    let posted = mock.requests_to("POST", MESSAGES);
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].path,
        format!("/api/v10/channels/{CHANNEL}/messages")
    );
    assert_eq!(posted[0].param_u64("channel_id"), Some(CHANNEL));
    assert_eq!(posted[0].content(), Some("Top result"));
    assert_eq!(posted[0].embeds()[0]["fields"][0]["name"], "Score");

    let edited = channel
        .edit_message(
            &http,
            sent.id,
            EditMessage::new().content("Top result (edited)"),
        )
        .await
        .expect("edit_message");
    assert_eq!(edited.content, "Top result (edited)");
    assert!(edited.edited_timestamp.is_some());
    let fetched = channel.message(&http, sent.id).await.expect("get message");
    assert_eq!(fetched.content, "Top result (edited)");
    channel
        .delete_message(&http, sent.id)
        .await
        .expect("delete_message");
    assert!(mock.message(sent.id.get()).is_none());
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn oversized_embeds_are_violations() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    let channel = ChannelId::new(CHANNEL);

    // A title over 256: serenity only checks the 6000 total per embed, so it sends this.
    let err = channel
        .send_message(
            &http,
            CreateMessage::new().embed(CreateEmbed::new().title("t".repeat(300))),
        )
        .await
        .expect_err("title over 256");
    let response = unsuccessful(err);
    assert_eq!(response.status_code.as_u16(), 400);
    assert_eq!(response.error.code, 50035);
    assert_eq!(response.error.message, "Invalid Form Body");
    assert_eq!(
        response.error.errors.len(),
        1,
        "{:?}",
        response.error.errors
    );
    assert_eq!(response.error.errors[0].path, "embeds.0.title");
    assert_eq!(response.error.errors[0].code, "BASE_TYPE_MAX_LENGTH");
    let violations = mock.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(
        violations[0].starts_with("POST /channels/{channel_id}/messages: embeds.0.title:"),
        "{violations:?}"
    );
    mock.clear_violations();

    // Two embeds of 3500 characters each: fine one by one, over 6000 together.
    let big = || CreateEmbed::new().description("d".repeat(3500));
    let err = channel
        .send_message(&http, CreateMessage::new().embeds(vec![big(), big()]))
        .await
        .expect_err("7000 characters of embeds");
    let response = unsuccessful(err);
    assert_eq!(response.status_code.as_u16(), 400);
    assert_eq!(response.error.errors[0].path, "embeds");
    assert_eq!(response.error.errors[0].code, "MAX_EMBED_SIZE_EXCEEDED");
    assert_eq!(mock.violations().len(), 1, "{:?}", mock.violations());
    mock.clear_violations();

    // 26 fields and an empty field value.
    let mut embed = CreateEmbed::new().title("fields");
    for i in 0..26 {
        embed = embed.field(format!("f{i}"), if i == 3 { "" } else { "v" }, true);
    }
    let err = channel
        .send_message(&http, CreateMessage::new().embed(embed))
        .await
        .expect_err("26 fields");
    let paths: Vec<String> = unsuccessful(err)
        .error
        .errors
        .iter()
        .map(|e| e.path.clone())
        .collect();
    assert!(paths.contains(&"embeds.0.fields".to_owned()), "{paths:?}");
    assert!(
        paths.contains(&"embeds.0.fields.3.value".to_owned()),
        "{paths:?}"
    );
    assert_eq!(mock.violations().len(), 2, "{:?}", mock.violations());
    mock.clear_violations();

    // serenity refuses content over 2000 characters itself: nothing reaches the mock.
    let before = mock.requests().len();
    let err = channel
        .send_message(&http, CreateMessage::new().content("x".repeat(2001)))
        .await
        .expect_err("content over 2000");
    assert!(
        matches!(err, serenity::Error::Model(ModelError::MessageTooLong(1))),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), before);
    // The mock enforces it for clients that do not check.
    let (status, body) = raw(
        &mock,
        "POST",
        &format!("/api/v10/channels/{CHANNEL}/messages"),
        Some(&bot_auth()),
        Some(json!({ "content": "x".repeat(2001) })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    mock.stop().await;
}

#[tokio::test]
async fn rate_limit_reaches_the_client() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    mock.fail(
        "POST",
        MESSAGES,
        Some(CHANNEL),
        Failure::RateLimited {
            retry_after: 1.5,
            global: false,
        },
        1,
    );

    // Another channel is not affected.
    ChannelId::new(CHANNEL + 1)
        .say(&http, "elsewhere")
        .await
        .expect("other channel");

    let err = ChannelId::new(CHANNEL)
        .say(&http, "hello")
        .await
        .expect_err("429");
    let response = unsuccessful(err);
    // What serenity exposes: status, URL, method and the decoded {code, message}. The
    // retry_after value and the X-RateLimit-* / Retry-After headers are dropped.
    assert_eq!(response.status_code.as_u16(), 429);
    assert_eq!(response.error.message, "You are being rate limited.");
    assert_eq!(response.error.code, 0);
    assert!(
        response
            .url
            .ends_with(&format!("/api/v10/channels/{CHANNEL}/messages"))
    );
    assert_eq!(response.method, reqwest::Method::POST);

    // Only once: the next attempt goes through.
    ChannelId::new(CHANNEL)
        .say(&http, "hello again")
        .await
        .expect("after the 429");

    // The full answer, as a raw client sees it.
    mock.fail(
        "POST",
        "/api/v10/channels/{id}/messages",
        None,
        Failure::RateLimited {
            retry_after: 0.25,
            global: true,
        },
        1,
    );
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v10/channels/{CHANNEL}/messages",
            mock.url()
        ))
        .header("Authorization", bot_auth())
        .json(&json!({ "content": "raw" }))
        .send()
        .await
        .expect("raw request");
    assert_eq!(response.status().as_u16(), 429);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("retry-after").as_deref(), Some("1"));
    assert_eq!(header("x-ratelimit-reset-after").as_deref(), Some("0.250"));
    assert_eq!(header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(header("x-ratelimit-global").as_deref(), Some("true"));
    assert_eq!(header("x-ratelimit-scope").as_deref(), Some("global"));
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(
        body,
        json!({"message": "You are being rate limited.", "retry_after": 0.25, "global": true, "code": 0})
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn forbidden_unknown_channel_and_server_errors() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    let channel = ChannelId::new(CHANNEL);
    mock.fail("POST", MESSAGES, Some(CHANNEL), Failure::Forbidden, 1);
    mock.fail("POST", MESSAGES, Some(CHANNEL), Failure::UnknownChannel, 1);
    mock.fail("POST", MESSAGES, Some(CHANNEL), Failure::ServerError, 1);

    let forbidden = unsuccessful(channel.say(&http, "a").await.expect_err("403"));
    assert_eq!(forbidden.status_code.as_u16(), 403);
    assert_eq!(forbidden.error.code, 50001);
    assert_eq!(forbidden.error.message, "Missing Access");

    let unknown = unsuccessful(channel.say(&http, "b").await.expect_err("404"));
    assert_eq!(unknown.status_code.as_u16(), 404);
    assert_eq!(unknown.error.code, 10003);
    assert_eq!(unknown.error.message, "Unknown Channel");

    let server = unsuccessful(channel.say(&http, "c").await.expect_err("502"));
    assert_eq!(server.status_code.as_u16(), 502);

    channel.say(&http, "d").await.expect("rules used up");
    assert_eq!(mock.requests_to("POST", MESSAGES).len(), 4);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn dm_channels_open_with_a_stable_id_and_can_refuse_posts() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    let user = UserId::new(USER);
    let known = mock.dm_channel(USER);
    let opened = user
        .create_dm_channel(&http)
        .await
        .expect("POST /users/@me/channels");
    assert_eq!(opened.id.get(), known, "the id the mock told");
    assert_eq!(opened.kind, ChannelType::Private);
    assert_eq!(opened.recipient.id, user);
    let again = user.create_dm_channel(&http).await.expect("reopened");
    assert_eq!(again.id, opened.id, "one DM channel per recipient");
    let other = UserId::new(USER + 1)
        .create_dm_channel(&http)
        .await
        .expect("another");
    assert_ne!(other.id, opened.id);
    let fetched = opened
        .id
        .to_channel(&http)
        .await
        .expect("GET /channels/{dm}");
    assert!(
        fetched
            .clone()
            .private()
            .is_some_and(|dm| dm.recipient.id == user),
        "{fetched:?}"
    );
    let requests = mock.requests_to("POST", "/users/@me/channels");
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].body,
        json!({ "recipient_id": USER.to_string() })
    );

    mock.fail("POST", MESSAGES, Some(known), Failure::CannotMessageUser, 1);
    let refused = unsuccessful(opened.id.say(&http, "a").await.expect_err("403"));
    assert_eq!(refused.status_code.as_u16(), 403);
    assert_eq!(refused.error.code, 50007);
    assert_eq!(refused.error.message, "Cannot send messages to this user");
    let sent = opened
        .id
        .say(&http, "b")
        .await
        .expect("the rule is used up");
    assert_eq!(sent.channel_id, opened.id);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    // A bot names the recipient; the document alone would allow leaving it out.
    let (status, body) = raw(
        &mock,
        "POST",
        "/api/v10/users/@me/channels",
        Some(&bot_auth()),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"]["recipient_id"]["_errors"][0]["code"],
        "BASE_TYPE_REQUIRED"
    );
    let (status, _) = raw(
        &mock,
        "POST",
        "/api/v10/users/@me/channels",
        Some(&bot_auth()),
        Some(json!({ "recipient_id": "someone" })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(mock.violations().len(), 2, "{:?}", mock.violations());
    mock.stop().await;
}

fn anime_commands() -> Vec<CreateCommand> {
    vec![
        CreateCommand::new("anime")
            .description("Look up an anime")
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "title", "Title to search")
                    .required(true)
                    .set_autocomplete(true),
            )
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "site", "Where to look")
                    .add_string_choice("MyAnimeList", "mal")
                    .add_string_choice("AniList", "anilist"),
            ),
        CreateCommand::new("announce")
            .description("Configure new-episode announcements")
            .default_member_permissions(Permissions::MANAGE_GUILD)
            .contexts(vec![InteractionContext::Guild])
            .add_option(
                CreateCommandOption::new(CommandOptionType::SubCommand, "add", "Follow a title")
                    .add_sub_option(
                        CreateCommandOption::new(
                            CommandOptionType::Integer,
                            "id",
                            "MyAnimeList id",
                        )
                        .required(true)
                        .min_int_value(1),
                    )
                    .add_sub_option(CreateCommandOption::new(
                        CommandOptionType::Channel,
                        "channel",
                        "Where to post",
                    )),
            )
            .add_option(CreateCommandOption::new(
                CommandOptionType::SubCommand,
                "list",
                "Show followed titles",
            )),
    ]
}

#[tokio::test]
async fn bulk_overwriting_commands_validates() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);

    let commands = Command::set_global_commands(&http, anime_commands())
        .await
        .expect("bulk overwrite");
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[0].name, "anime");
    assert_eq!(commands[0].application_id.get(), APP_ID);
    assert_eq!(commands[0].options.len(), 2);
    assert!(commands[0].options[0].required);
    assert!(commands[0].options[0].autocomplete);
    assert_eq!(commands[0].options[1].choices.len(), 2);
    assert_eq!(
        commands[1].default_member_permissions,
        Some(Permissions::MANAGE_GUILD)
    );
    let put = mock.requests_to("PUT", "/applications/{application_id}/commands");
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].body.as_array().map(Vec::len), Some(2));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    // Re-registering keeps the ids; GET answers the registered set.
    let again = Command::set_global_commands(&http, anime_commands())
        .await
        .expect("second overwrite");
    assert_eq!(again[0].id, commands[0].id);
    let listed = Command::get_global_commands(&http).await.expect("GET");
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        vec!["anime", "announce"]
    );

    // Guild commands go to their own route.
    let guild = GuildId::new(GUILD)
        .set_commands(
            &http,
            vec![CreateCommand::new("debug").description("Debug info")],
        )
        .await
        .expect("guild overwrite");
    assert_eq!(guild[0].guild_id, Some(GuildId::new(GUILD)));
    assert_eq!(mock.guild_commands(GUILD).len(), 1);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    // What Discord refuses: upper case and spaces in a chat input name, no description,
    // a required option after an optional one, duplicate names.
    let bad = vec![
        CreateCommand::new("Anime Search").description("x"),
        CreateCommand::new("nodesc"),
        CreateCommand::new("order")
            .description("x")
            .add_option(CreateCommandOption::new(
                CommandOptionType::String,
                "a",
                "optional",
            ))
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "b", "required").required(true),
            ),
        CreateCommand::new("nodesc").description("duplicate"),
    ];
    let err = Command::set_global_commands(&http, bad)
        .await
        .expect_err("invalid commands");
    let response = unsuccessful(err);
    assert_eq!(response.status_code.as_u16(), 400);
    let mut paths: Vec<String> = response
        .error
        .errors
        .iter()
        .map(|e| e.path.clone())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        vec!["0.name", "1.description", "2.options.1.required", "3.name"],
        "{:?}",
        response.error.errors
    );
    assert_eq!(mock.violations().len(), 4, "{:?}", mock.violations());
    // The rejected set did not replace the registered one.
    assert_eq!(mock.global_commands().len(), 2);
    mock.stop().await;
}

#[tokio::test]
async fn install_and_interaction_contexts_are_validated() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    let everywhere = CreateCommand::new("anime")
        .description("Look up an anime")
        .integration_types(vec![InstallationContext::Guild, InstallationContext::User])
        .contexts(vec![
            InteractionContext::Guild,
            InteractionContext::BotDm,
            InteractionContext::PrivateChannel,
        ]);
    let registered = Command::set_global_commands(&http, vec![everywhere])
        .await
        .expect("bulk overwrite");
    assert_eq!(
        registered[0].integration_types,
        vec![InstallationContext::Guild, InstallationContext::User]
    );
    assert_eq!(
        registered[0].contexts,
        Some(vec![
            InteractionContext::Guild,
            InteractionContext::BotDm,
            InteractionContext::PrivateChannel
        ])
    );
    let put = mock.requests_to("PUT", "/applications/{application_id}/commands");
    assert_eq!(put[0].body[0]["integration_types"], json!([0, 1]));
    assert_eq!(put[0].body[0]["contexts"], json!([0, 1, 2]));
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    // Values the document does not define, even when serenity sends them.
    let unknown = CreateCommand::new("anime")
        .description("x")
        .integration_types(vec![InstallationContext::Unknown(2)])
        .contexts(vec![InteractionContext::Unknown(3)]);
    let response = unsuccessful(
        Command::set_global_commands(&http, vec![unknown])
            .await
            .expect_err("unknown values"),
    );
    assert_eq!(response.status_code.as_u16(), 400);
    let mut paths: Vec<String> = response
        .error
        .errors
        .iter()
        .map(|e| e.path.clone())
        .collect();
    paths.sort();
    assert_eq!(paths, ["0.contexts.0", "0.integration_types.0"]);
    mock.clear_violations();

    // Wrong types and shapes, in a bulk overwrite and in a single create.
    let cases = [
        (
            json!({ "integration_types": [5] }),
            "integration_types/0",
            "BASE_TYPE_CHOICES",
        ),
        (
            json!({ "contexts": [-1] }),
            "contexts/0",
            "BASE_TYPE_CHOICES",
        ),
        (
            json!({ "integration_types": ["1"] }),
            "integration_types/0",
            "NUMBER_TYPE_COERCE",
        ),
        (
            json!({ "contexts": [1.5] }),
            "contexts/0",
            "NUMBER_TYPE_COERCE",
        ),
        (
            json!({ "contexts": [true] }),
            "contexts/0",
            "NUMBER_TYPE_COERCE",
        ),
        (json!({ "contexts": 0 }), "contexts", "LIST_TYPE_CONVERT"),
        (
            json!({ "integration_types": "0,1" }),
            "integration_types",
            "LIST_TYPE_CONVERT",
        ),
        (
            json!({ "contexts": [] }),
            "contexts",
            "BASE_TYPE_MIN_LENGTH",
        ),
        (
            json!({ "integration_types": [1, 1] }),
            "integration_types/1",
            "BASE_TYPE_DUPLICATES",
        ),
    ];
    let auth = bot_auth();
    let commands = format!("/api/v10/applications/{APP_ID}/commands");
    let rejected = 2 * cases.len();
    for (fields, at, code) in cases {
        let mut command = json!({ "name": "anime", "description": "x" });
        if let (Some(command), Some(fields)) = (command.as_object_mut(), fields.as_object()) {
            command.extend(fields.clone());
        }
        for (method, body, pointer) in [
            (
                "PUT",
                json!([command.clone()]),
                format!("/0/{at}/_errors/0/code"),
            ),
            ("POST", command.clone(), format!("/{at}/_errors/0/code")),
        ] {
            let (status, answer) = raw(&mock, method, &commands, Some(&auth), Some(body)).await;
            assert_eq!(
                (status, answer["code"].clone()),
                (400, json!(50035)),
                "{method} {fields}: {answer}"
            );
            assert_eq!(
                answer["errors"].pointer(&pointer),
                Some(&json!(code)),
                "{method} {fields}: {answer}"
            );
        }
    }
    assert_eq!(mock.violations().len(), rejected, "{:?}", mock.violations());
    // Nothing rejected replaced the registered command.
    let kept = mock.global_commands();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["contexts"], json!([0, 1, 2]));
    mock.stop().await;
}

#[tokio::test]
async fn user_installed_and_private_channel_payloads_deserialize_in_serenity() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let options = json!([{ "name": "title", "type": 3, "value": "frieren" }]);
    let in_guild = mock.interaction_command(1, GUILD, CHANNEL, USER, "0", "anime", options.clone());
    let in_dm = mock.interaction_command(2, 0, CHANNEL, USER, "0", "anime", options);
    let cases = [
        (in_guild.clone(), Some(InteractionContext::Guild), true),
        (
            discord_mock::user_installed(in_guild),
            Some(InteractionContext::Guild),
            false,
        ),
        (
            discord_mock::user_installed(in_dm.clone()),
            Some(InteractionContext::BotDm),
            false,
        ),
        (
            discord_mock::in_private_channel(in_dm),
            Some(InteractionContext::PrivateChannel),
            false,
        ),
    ];
    for (payload, context, guild_install) in cases {
        let Interaction::Command(cmd) = serde_json::from_value(payload.clone()).expect("command")
        else {
            panic!("not a command: {payload}");
        };
        assert_eq!(cmd.context, context);
        assert_eq!(cmd.user.id.get(), USER);
        let owners = &cmd.authorizing_integration_owners.0;
        assert_eq!(
            owners.iter().any(|o| matches!(
                o,
                serenity::all::AuthorizingIntegrationOwner::GuildInstall(_)
            )),
            guild_install,
            "{payload}"
        );
        assert!(
            guild_install
                || owners.iter().any(|o| matches!(o, serenity::all::AuthorizingIntegrationOwner::UserInstall(u) if u.get() == USER)),
            "{payload}"
        );
    }
    mock.stop().await;
}

#[tokio::test]
async fn interaction_payloads_deserialize_in_serenity() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let options = json!([
        { "name": "title", "type": 3, "value": "frieren" },
        { "name": "who", "type": 6, "value": USER.to_string() },
    ]);
    let payload = mock.interaction_command(1, GUILD, CHANNEL, USER, "8", "anime", options);
    let Interaction::Command(cmd) = serde_json::from_value(payload).expect("command") else {
        panic!("not a command");
    };
    assert_eq!(cmd.data.name, "anime");
    assert_eq!(cmd.guild_id, Some(GuildId::new(GUILD)));
    assert_eq!(cmd.user.id.get(), USER);
    assert_eq!(
        cmd.member.as_ref().and_then(|m| m.permissions),
        Some(Permissions::ADMINISTRATOR)
    );
    assert_eq!(
        cmd.data.options[0].value,
        CommandDataOptionValue::String("frieren".into())
    );
    assert!(cmd.data.resolved.users.contains_key(&USER.into()));

    // A DM.
    let dm = mock.interaction_command(2, 0, CHANNEL + 5, USER, "0", "anime", Value::Null);
    let Interaction::Command(dm) = serde_json::from_value(dm).expect("dm command") else {
        panic!("not a command");
    };
    assert_eq!(dm.guild_id, None);
    assert_eq!(dm.user.id.get(), USER);

    // Autocomplete with the focused option in a sub-command.
    let auto = mock.interaction_autocomplete(
        3,
        GUILD,
        CHANNEL,
        USER,
        "0",
        "announce",
        json!([{ "name": "add", "type": 1, "options": [{ "name": "id", "type": 4, "value": 52 }] }]),
        "id",
    );
    let Interaction::Autocomplete(auto) = serde_json::from_value(auto).expect("autocomplete")
    else {
        panic!("not autocomplete");
    };
    let focused = auto.data.autocomplete().expect("focused option");
    assert_eq!(focused.name, "id");
    assert_eq!(focused.value, "52");

    // Button and string select.
    let button =
        mock.interaction_component(4, GUILD, CHANNEL, USER, "0", "more:1", 2, Vec::new(), None);
    let Interaction::Component(button) = serde_json::from_value(button).expect("button") else {
        panic!("not a component");
    };
    assert_eq!(button.data.custom_id, "more:1");
    assert!(matches!(
        button.data.kind,
        ComponentInteractionDataKind::Button
    ));
    assert_eq!(button.message.author.id.get(), BOT_ID);
    let select = mock.interaction_component(
        5,
        0,
        CHANNEL,
        USER,
        "0",
        "pick",
        3,
        vec!["mal".into()],
        Some(json!({ "content": "Pick a site" })),
    );
    let Interaction::Component(select) = serde_json::from_value(select).expect("select") else {
        panic!("not a component");
    };
    assert_eq!(select.message.content, "Pick a site");
    match &select.data.kind {
        ComponentInteractionDataKind::StringSelect { values } => assert_eq!(values, &["mal"]),
        other => panic!("not a string select: {other:?}"),
    }
    mock.stop().await;
}

#[tokio::test]
async fn interaction_responses_over_rest() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    Command::set_global_commands(&http, anime_commands())
        .await
        .expect("commands");

    // Respond, then a second response is refused.
    let payload = mock.interaction_command(
        11,
        GUILD,
        CHANNEL,
        USER,
        "0",
        "anime",
        json!([{ "name": "title", "type": 3, "value": "frieren" }]),
    );
    let Interaction::Command(cmd) = serde_json::from_value(payload).expect("command") else {
        panic!("not a command");
    };
    assert_eq!(
        cmd.data.id,
        mock.global_commands()[0]["id"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    );
    cmd.create_response(
        &http,
        CreateInteractionResponse::Message(
            CreateInteractionResponseMessage::new()
                .content("Sousou no Frieren — 9.30")
                .embed(CreateEmbed::new().title("Sousou no Frieren")),
        ),
    )
    .await
    .expect("callback");
    assert_eq!(mock.interaction_callback_type(11), Some(4));
    let callbacks = mock.requests_to("POST", CALLBACK);
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].body["type"], 4);
    assert_eq!(callbacks[0].content(), Some("Sousou no Frieren — 9.30"));
    let original = cmd.get_response(&http).await.expect("GET @original");
    assert_eq!(original.content, "Sousou no Frieren — 9.30");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    let err = cmd
        .create_response(&http, CreateInteractionResponse::Acknowledge)
        .await
        .expect_err("second callback");
    let response = unsuccessful(err);
    assert_eq!(response.status_code.as_u16(), 400);
    assert_eq!(response.error.code, 40060);
    assert_eq!(mock.violations().len(), 1, "{:?}", mock.violations());
    mock.clear_violations();

    // Defer, edit the original, follow up.
    let payload = mock.interaction_command(12, GUILD, CHANNEL, USER, "0", "anime", Value::Null);
    let Interaction::Command(cmd) = serde_json::from_value(payload).expect("command") else {
        panic!("not a command");
    };
    cmd.defer(&http).await.expect("defer");
    let edited = cmd
        .edit_response(
            &http,
            EditInteractionResponse::new().content("Found 3 titles"),
        )
        .await
        .expect("edit original");
    assert_eq!(edited.content, "Found 3 titles");
    let followup = cmd
        .create_followup(
            &http,
            CreateInteractionResponseFollowup::new()
                .content("Page 2")
                .ephemeral(true),
        )
        .await
        .expect("followup");
    assert_eq!(followup.content, "Page 2");
    assert_eq!(
        mock.requests_to(
            "PATCH",
            "/webhooks/{application_id}/{token}/messages/@original"
        )
        .len(),
        1
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    // A follow-up before the callback is refused.
    let payload = mock.interaction_command(13, GUILD, CHANNEL, USER, "0", "anime", Value::Null);
    let Interaction::Command(early) = serde_json::from_value(payload).expect("command") else {
        panic!("not a command");
    };
    let err = early
        .create_followup(
            &http,
            CreateInteractionResponseFollowup::new().content("too early"),
        )
        .await
        .expect_err("followup before callback");
    assert_eq!(unsuccessful(err).error.code, 10015);
    assert_eq!(mock.violations().len(), 1, "{:?}", mock.violations());
    mock.clear_violations();

    // Autocomplete: 25 choices are fine, 26 are not, and a message response is the wrong type.
    let auto = |id: u64| {
        let payload = mock.interaction_autocomplete(
            id,
            GUILD,
            CHANNEL,
            USER,
            "0",
            "anime",
            json!([{ "name": "title", "type": 3, "value": "fri" }]),
            "title",
        );
        match serde_json::from_value(payload).expect("autocomplete") {
            Interaction::Autocomplete(a) => a,
            _ => panic!("not autocomplete"),
        }
    };
    let choices = |n: usize| {
        (0..n).fold(CreateAutocompleteResponse::new(), |r, i| {
            r.add_string_choice(format!("Title {i}"), format!("{i}"))
        })
    };
    auto(21)
        .create_response(&http, CreateInteractionResponse::Autocomplete(choices(25)))
        .await
        .expect("25 choices");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    let err = auto(22)
        .create_response(&http, CreateInteractionResponse::Autocomplete(choices(26)))
        .await
        .expect_err("26 choices");
    assert_eq!(unsuccessful(err).error.errors[0].path, "data.choices");
    let err = auto(23)
        .create_response(
            &http,
            CreateInteractionResponse::Message(
                CreateInteractionResponseMessage::new().content("x"),
            ),
        )
        .await
        .expect_err("message for autocomplete");
    assert_eq!(unsuccessful(err).status_code.as_u16(), 400);
    assert_eq!(mock.violations().len(), 2, "{:?}", mock.violations());
    mock.clear_violations();

    // A button on a message the bot sent: update that message.
    let sent = ChannelId::new(CHANNEL)
        .send_message(
            &http,
            CreateMessage::new()
                .content("Page 1")
                .components(vec![CreateActionRow::Buttons(vec![
                    CreateButton::new("page:2").label("Next"),
                ])]),
        )
        .await
        .expect("message with a button");
    let payload =
        mock.interaction_component(31, GUILD, CHANNEL, USER, "0", "page:2", 2, Vec::new(), None);
    let Interaction::Component(press) = serde_json::from_value(payload).expect("component") else {
        panic!("not a component");
    };
    assert_eq!(press.message.id, sent.id);
    press
        .create_response(
            &http,
            CreateInteractionResponse::UpdateMessage(
                CreateInteractionResponseMessage::new().content("Page 2"),
            ),
        )
        .await
        .expect("update message");
    assert_eq!(mock.message(sent.id.get()).unwrap()["content"], "Page 2");

    // Too late: the deadline passed before the callback.
    mock.set_callback_deadline(Some(Duration::from_millis(50)));
    let payload = mock.interaction_command(41, GUILD, CHANNEL, USER, "0", "anime", Value::Null);
    let Interaction::Command(late) = serde_json::from_value(payload).expect("command") else {
        panic!("not a command");
    };
    tokio::time::sleep(Duration::from_millis(120)).await;
    let err = late.defer(&http).await.expect_err("late callback");
    let response = unsuccessful(err);
    assert_eq!(response.status_code.as_u16(), 404);
    assert_eq!(response.error.code, 10062);
    assert_eq!(mock.violations().len(), 1, "{:?}", mock.violations());
    mock.stop().await;
}

struct Recorder {
    interactions: mpsc::UnboundedSender<Interaction>,
    ready: mpsc::UnboundedSender<Ready>,
}

#[serenity::async_trait]
impl EventHandler for Recorder {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        let _ = self.ready.send(ready);
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        if let Interaction::Command(cmd) = &interaction {
            let _ = cmd
                .create_response(
                    &ctx.http,
                    CreateInteractionResponse::Message(
                        CreateInteractionResponseMessage::new().content("pong"),
                    ),
                )
                .await;
        }
        let _ = self.interactions.send(interaction);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_client_receives_interaction_create() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let (interactions_tx, mut interactions_rx) = mpsc::unbounded_channel();
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let mut client = ClientBuilder::new_with_http(http_for(&mock), GatewayIntents::GUILDS)
        .event_handler(Recorder {
            interactions: interactions_tx,
            ready: ready_tx,
        })
        .await
        .expect("client");
    let shard_manager = client.shard_manager.clone();
    let client_task = tokio::spawn(async move { client.start().await });

    assert!(
        mock.wait_for_session(Duration::from_secs(15)).await,
        "no IDENTIFY; violations: {:?}",
        mock.violations()
    );
    let ready = tokio::time::timeout(Duration::from_secs(10), ready_rx.recv())
        .await
        .expect("READY in time")
        .expect("READY");
    assert_eq!(ready.user.id.get(), BOT_ID);
    assert_eq!(ready.application.id.get(), APP_ID);
    assert_eq!(ready.version, 10);

    let identify = mock
        .gateway_received()
        .into_iter()
        .find(|f| f["op"] == 2)
        .expect("IDENTIFY frame");
    assert_eq!(identify["d"]["token"], format!("Bot {TOKEN}"));
    assert_eq!(identify["d"]["intents"], GatewayIntents::GUILDS.bits());
    assert_eq!(identify["d"]["shard"], json!([0, 1]));
    assert_eq!(mock.requests_to("GET", "/gateway").len(), 1);

    let payload = mock.interaction_command(
        51,
        GUILD,
        CHANNEL,
        USER,
        "0",
        "anime",
        json!([{ "name": "title", "type": 3, "value": "Frieren" }]),
    );
    assert_eq!(mock.dispatch("INTERACTION_CREATE", payload), 1);
    let interaction = tokio::time::timeout(Duration::from_secs(10), interactions_rx.recv())
        .await
        .expect("INTERACTION_CREATE in time")
        .expect("interaction");
    let Interaction::Command(cmd) = interaction else {
        panic!("not a command: {interaction:?}");
    };
    assert_eq!(cmd.id.get(), 51);
    assert_eq!(cmd.data.name, "anime");
    assert_eq!(
        cmd.data.options[0].value,
        CommandDataOptionValue::String("Frieren".into())
    );
    let callbacks = mock
        .wait_for("POST", CALLBACK, 1, Duration::from_secs(10))
        .await;
    assert_eq!(callbacks.len(), 1);
    assert_eq!(callbacks[0].param_u64("interaction_id"), Some(51));
    assert_eq!(callbacks[0].content(), Some("pong"));
    let sent = mock.gateway_sent();
    let dispatched: Vec<&Value> = sent.iter().filter(|f| f["op"] == 0).collect();
    assert_eq!(dispatched[0]["t"], "READY");
    assert_eq!(dispatched[0]["s"], 1);
    assert_eq!(dispatched[1]["t"], "INTERACTION_CREATE");
    assert_eq!(dispatched[1]["s"], 2);

    shard_manager.shutdown_all().await;
    let result = tokio::time::timeout(Duration::from_secs(10), client_task)
        .await
        .expect("client stops after shutdown_all")
        .expect("client task");
    assert!(result.is_ok(), "{result:?}");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn interactions_endpoint_signatures_verify() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let verifier = Verifier::new(&public_key_hex(&key));
    let payload = mock.interaction_command(61, GUILD, CHANNEL, USER, "0", "anime", Value::Null);
    let body = serde_json::to_vec(&payload).expect("JSON");
    let timestamp = "1700000000";
    let signature = sign(&key, timestamp, &body);
    assert_eq!(signature.len(), 128);
    assert!(verifier.verify(&signature, timestamp, &body).is_ok());

    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 1;
    assert!(verifier.verify(&signature, timestamp, &tampered).is_err());
    assert!(verifier.verify(&signature, "1700000001", &body).is_err());
    let other = ed25519_dalek::SigningKey::from_bytes(&[8u8; 32]);
    assert!(
        verifier
            .verify(&sign(&other, timestamp, &body), timestamp, &body)
            .is_err()
    );

    // deliver_interaction() against a minimal endpoint: PING → PONG, bad signature → 401.
    let verifier = Arc::new(verifier);
    let app = axum::Router::new().route(
        "/interactions",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let verifier = verifier.clone();
                async move {
                    let get = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    let ok = verifier
                        .verify(
                            &get("X-Signature-Ed25519"),
                            &get("X-Signature-Timestamp"),
                            &body,
                        )
                        .is_ok();
                    if !ok {
                        return (
                            axum::http::StatusCode::UNAUTHORIZED,
                            "invalid request signature",
                        )
                            .into_response();
                    }
                    axum::Json(json!({ "type": 1 })).into_response()
                }
            },
        ),
    );
    use axum::response::IntoResponse as _;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let url = format!("http://{}/interactions", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let ping = json!({ "id": "62", "application_id": APP_ID.to_string(), "type": 1, "token": "t", "version": 1 });
    let (status, answer) = discord_mock::deliver_interaction(&url, &key, &ping).await;
    assert_eq!((status, answer), (200, json!({ "type": 1 })));
    let (status, _) = discord_mock::deliver_interaction(&url, &other, &ping).await;
    assert_eq!(status, 401);
    server.abort();
    mock.stop().await;
}

#[tokio::test]
async fn spec_validation_of_raw_requests() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let auth = bot_auth();
    let messages = format!("/api/v10/channels/{CHANNEL}/messages");

    // Authorization.
    let (status, body) = raw(&mock, "GET", "/api/v10/users/@me", Some("Bot other"), None).await;
    assert_eq!(
        (status, body),
        (401, json!({"message": "401: Unauthorized", "code": 0}))
    );
    let (status, _) = raw(&mock, "GET", "/api/v10/users/@me", None, None).await;
    assert_eq!(status, 401);
    let (status, _) = raw(&mock, "GET", "/api/v10/users/@me", Some(TOKEN), None).await;
    assert_eq!(status, 401, "a token without the Bot prefix");
    assert_eq!(mock.violations().len(), 3, "{:?}", mock.violations());
    mock.clear_violations();

    // Routes.
    let (status, _) = raw(&mock, "GET", "/api/v10/no/such/route", Some(&auth), None).await;
    assert_eq!(status, 404);
    let (status, _) = raw(&mock, "DELETE", "/api/v10/gateway", Some(&auth), None).await;
    assert_eq!(status, 405);
    let (status, _) = raw(&mock, "GET", "/api/v9/users/@me", Some(&auth), None).await;
    assert_eq!(status, 404);
    assert_eq!(mock.violations().len(), 3, "{:?}", mock.violations());
    mock.clear_violations();

    // Types, path parameters, emptiness.
    let (status, body) = raw(
        &mock,
        "POST",
        &messages,
        Some(&auth),
        Some(json!({ "content": 5 })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], 50035);
    assert_eq!(
        body["errors"]["content"]["_errors"][0]["code"],
        "STRING_TYPE_CONVERT"
    );
    let (status, body) = raw(
        &mock,
        "POST",
        "/api/v10/channels/general/messages",
        Some(&auth),
        Some(json!({ "content": "hi" })),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["errors"]["channel_id"].is_object(), "{body}");
    let (status, body) = raw(
        &mock,
        "POST",
        &messages,
        Some(&auth),
        Some(json!({ "embeds": [{ "title": "x", "color": "red" }] })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"]["embeds"]["0"]["color"]["_errors"][0]["code"],
        "NUMBER_TYPE_COERCE"
    );
    let (status, body) = raw(&mock, "POST", &messages, Some(&auth), Some(json!({}))).await;
    assert_eq!((status, body["code"].clone()), (400, json!(50006)));
    assert_eq!(mock.violations().len(), 4, "{:?}", mock.violations());
    mock.clear_violations();

    // Components: a non-link button needs a custom_id; no more than five rows.
    let row = json!({ "type": 1, "components": [{ "type": 2, "style": 1, "label": "Go" }] });
    let (status, body) = raw(
        &mock,
        "POST",
        &messages,
        Some(&auth),
        Some(json!({ "content": "x", "components": [row] })),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"]["components"]["0"]["components"]["0"]["custom_id"].is_object(),
        "{body}"
    );
    mock.clear_violations();

    // Interaction callbacks: an unknown callback type.
    let (status, body) = raw(
        &mock,
        "POST",
        "/api/v10/interactions/123/sometoken/callback",
        None,
        Some(json!({ "type": 3 })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(!mock.violations().is_empty());
    mock.clear_violations();

    // The union of callback bodies picks the branch the type selects.
    let (status, body) = raw(
        &mock,
        "POST",
        "/api/v10/interactions/124/sometoken/callback",
        None,
        Some(json!({ "type": 4, "data": { "content": 5 } })),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"]["data"]["content"]["_errors"][0]["code"], "STRING_TYPE_CONVERT",
        "{body}"
    );
    let (status, body) = raw(
        &mock,
        "PUT",
        &format!("/api/v10/applications/{APP_ID}/commands"),
        Some(&auth),
        Some(json!([{ "name": "x", "description": "y",
                      "options": [{ "type": 99, "name": "o", "description": "d" }] }])),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["0"]["options"]["0"].is_object(), "{body}");
    mock.clear_violations();

    // Another application's commands.
    let (status, _) = raw(
        &mock,
        "PUT",
        "/api/v10/applications/42/commands",
        Some(&auth),
        Some(json!([])),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(mock.violations().len(), 1, "{:?}", mock.violations());
    mock.clear_violations();

    // Documented routes without special handling answer plausibly and are recorded.
    // (The document gives typing a 200 with a JSON object, pins a 204.)
    let (status, body) = raw(
        &mock,
        "POST",
        &format!("/api/v10/channels/{CHANNEL}/typing"),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!({})));
    let (status, _) = raw(
        &mock,
        "PUT",
        &format!("/api/v10/channels/{CHANNEL}/messages/pins/123"),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, body) = raw(
        &mock,
        "GET",
        &format!("/api/v10/guilds/{GUILD}/channels"),
        Some(&auth),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!([])));
    assert_eq!(
        mock.requests_to("POST", "/channels/{channel_id}/typing")
            .len(),
        1
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

/// A bare-bones websocket client (unfragmented text frames) to poke the gateway directly.
struct RawWs {
    stream: tokio::net::TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    async fn connect(url: &str) -> RawWs {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let rest = url.strip_prefix("ws://").expect("ws:// URL");
        let (host, path) = rest.split_once('/').expect("path");
        let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
        let request = format!(
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("upgrade");
        let mut buf = Vec::new();
        loop {
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed during the upgrade");
            buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                assert!(head.starts_with("HTTP/1.1 101"), "{head}");
                buf.drain(..end + 4);
                return RawWs { stream, buf };
            }
        }
    }

    async fn send(&mut self, value: &Value) {
        use tokio::io::AsyncWriteExt as _;
        let payload = value.to_string().into_bytes();
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        let mut frame = vec![0x81u8];
        if payload.len() < 126 {
            frame.push(0x80 | payload.len() as u8);
        } else {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).await.expect("send frame");
    }

    /// The next text frame as JSON, or `Err(close code)` (0 if the connection just ended).
    async fn recv(&mut self) -> Result<Value, u16> {
        use tokio::io::AsyncReadExt as _;
        loop {
            if let Some((opcode, payload, used)) = parse_frame(&self.buf) {
                self.buf.drain(..used);
                match opcode {
                    1 => return Ok(serde_json::from_slice(&payload).expect("JSON frame")),
                    8 if payload.len() >= 2 => {
                        return Err(u16::from_be_bytes([payload[0], payload[1]]));
                    }
                    8 => return Err(0),
                    _ => continue,
                }
            }
            let mut chunk = [0u8; 8192];
            let n = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
                .await
                .expect("a frame in time")
                .unwrap_or(0);
            if n == 0 {
                return Err(0);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn parse_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let mut len = usize::from(buf[1] & 0x7f);
    let mut pos = 2;
    if len == 126 {
        if buf.len() < 4 {
            return None;
        }
        len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        pos = 4;
    } else if len == 127 {
        if buf.len() < 10 {
            return None;
        }
        len = u64::from_be_bytes(buf[2..10].try_into().ok()?) as usize;
        pos = 10;
    }
    if buf[1] & 0x80 != 0 {
        pos += 4;
    }
    if buf.len() < pos + len {
        return None;
    }
    Some((opcode, buf[pos..pos + len].to_vec(), pos + len))
}

fn identify(token: &str) -> Value {
    json!({
        "op": 2,
        "d": {
            "token": token,
            "intents": GatewayIntents::GUILDS.bits(),
            "properties": { "os": "linux", "browser": "raw", "device": "raw" },
            "shard": [0, 1],
        },
    })
}

#[tokio::test]
async fn gateway_protocol_details() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let url = format!("{}?v=10&encoding=json", mock.gateway_url());

    // HELLO, then heartbeats are acknowledged even before IDENTIFY.
    let mut ws = RawWs::connect(&url).await;
    let hello = ws.recv().await.expect("HELLO");
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 41_250);
    ws.send(&json!({ "op": 1, "d": null })).await;
    assert_eq!(ws.recv().await.expect("ACK")["op"], 11);
    // Anything else before IDENTIFY closes with 4003.
    ws.send(&json!({ "op": 3, "d": { "since": null, "activities": [], "status": "online", "afk": false } }))
        .await;
    assert_eq!(ws.recv().await, Err(4003));

    // A wrong token closes with 4004.
    let mut ws = RawWs::connect(&url).await;
    ws.recv().await.expect("HELLO");
    ws.send(&identify("Bot wrong")).await;
    assert_eq!(ws.recv().await, Err(4004));
    assert_eq!(mock.sessions(), 0);

    // IDENTIFY (the bare token works as well as "Bot <token>") → READY with s = 1.
    let mut ws = RawWs::connect(&url).await;
    ws.recv().await.expect("HELLO");
    ws.send(&identify(TOKEN)).await;
    let ready = ws.recv().await.expect("READY");
    assert_eq!(ready["op"], 0);
    assert_eq!(ready["t"], "READY");
    assert_eq!(ready["s"], 1);
    assert_eq!(ready["d"]["v"], 10);
    assert_eq!(ready["d"]["user"]["id"], BOT_ID.to_string());
    assert_eq!(ready["d"]["shard"], json!([0, 1]));
    assert_eq!(ready["d"]["resume_gateway_url"], mock.gateway_url());
    assert_eq!(ready["d"]["application"]["id"], APP_ID.to_string());
    assert!(mock.wait_for_session(Duration::from_secs(1)).await);
    assert_eq!(mock.identified_total(), 1);

    // Dispatches count up; heartbeats still work.
    let message = json!({ "id": "1", "channel_id": CHANNEL.to_string(), "content": "hi" });
    assert_eq!(mock.dispatch("MESSAGE_CREATE", message.clone()), 1);
    assert_eq!(mock.dispatch("MESSAGE_CREATE", message), 1);
    let first = ws.recv().await.expect("dispatch");
    let second = ws.recv().await.expect("dispatch");
    assert_eq!(
        (first["t"].clone(), first["s"].clone()),
        (json!("MESSAGE_CREATE"), json!(2))
    );
    assert_eq!(second["s"], 3);
    ws.send(&json!({ "op": 1, "d": 3 })).await;
    assert_eq!(ws.recv().await.expect("ACK")["op"], 11);
    // RESUME is answered with a non-resumable INVALID_SESSION.
    ws.send(&json!({ "op": 6, "d": { "token": TOKEN, "session_id": "x", "seq": 3 } }))
        .await;
    assert_eq!(
        ws.recv().await.expect("op 9"),
        json!({ "op": 9, "s": null, "t": null, "d": false })
    );

    // close_sessions() drops the connection with the given code.
    mock.close_sessions(4000, "test reconnect");
    assert_eq!(ws.recv().await, Err(4000));

    // stop() closes what is still connected with 1001.
    let mut ws = RawWs::connect(&url).await;
    ws.recv().await.expect("HELLO");
    let violations = mock.violations();
    assert_eq!(violations.len(), 2, "{violations:?}");
    assert!(
        violations[0].contains("op 3 before IDENTIFY"),
        "{violations:?}"
    );
    assert!(violations[1].contains("wrong token"), "{violations:?}");
    mock.clone().stop().await;
    assert_eq!(ws.recv().await, Err(1001));

    // A connection without ?v=10 is a violation.
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let mut ws = RawWs::connect(&format!("{}?v=9", mock.gateway_url())).await;
    ws.recv().await.expect("HELLO");
    assert_eq!(mock.violations().len(), 1, "{:?}", mock.violations());
    mock.stop().await;
}

/// Rouge's own command set, as the adapter registers it, passes the mock's validation.
#[tokio::test]
async fn rouge_commands_pass_validation() {
    require_spec!();
    let mock = DiscordMock::start(TOKEN, APP_ID).await;
    let http = http_for(&mock);
    let registered =
        Command::set_global_commands(&http, rouge::adapters::discord::global_commands())
            .await
            .expect("bulk overwrite of Rouge's commands");
    assert!(!registered.is_empty());
    let in_guild = GuildId::new(GUILD)
        .set_commands(&http, rouge::adapters::discord::commands())
        .await
        .expect("bulk overwrite of Rouge's guild commands");
    assert_eq!(in_guild.len(), registered.len());
    assert!(mock.violations().is_empty(), "{:#?}", mock.violations());
    mock.stop().await;
}
