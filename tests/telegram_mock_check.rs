#![cfg(feature = "telegram")]
//! Exercises tests/support/telegram_mock.rs with the real teloxide client.

#[path = "support/telegram_mock.rs"]
mod telegram_mock;

use std::time::Duration;

use serde_json::{Value, json};
use telegram_mock::{Failure, TelegramMock};
use teloxide::prelude::*;
use teloxide::types::{
    BotCommand, CallbackQueryId, ChatMemberKind, InlineKeyboardButton, InlineKeyboardMarkup,
    InlineQueryId, InlineQueryResult, InlineQueryResultArticle, InputFile, InputMessageContent,
    InputMessageContentText, MessageId, ParseMode, UpdateKind,
};
use teloxide::{ApiError, RequestError};

const TOKEN: &str = "123456:TEST-token";

macro_rules! require_spec {
    () => {
        if !TelegramMock::spec_available() {
            println!("skipping: ../shared/specs/telegram-bot-api.json not found");
            return;
        }
    };
}

fn bot_for(mock: &TelegramMock) -> Bot {
    Bot::new(TOKEN).set_api_url(reqwest::Url::parse(&mock.url()).expect("mock url"))
}

/// Posts a raw JSON body to the mock (to exercise validation teloxide would never produce).
async fn raw(mock: &TelegramMock, token: &str, method: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}bot{token}/{method}", mock.url()))
        .json(&body)
        .send()
        .await
        .expect("request to mock");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON answer"))
}

#[tokio::test]
async fn get_me_works() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let me = bot.get_me().await.expect("getMe");
    assert_eq!(me.id.0 as i64, mock.bot_user_id());
    assert_eq!(mock.bot_user_id(), 123456);
    assert_eq!(me.username(), mock.bot_username());
    assert!(me.is_bot);
    assert!(me.supports_inline_queries);
    assert_eq!(mock.requests_to("getMe").len(), 1);
    assert_eq!(mock.requests()[0].method, "getme");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());

    let info = bot.get_webhook_info().await.expect("getWebhookInfo");
    assert!(info.url.is_none());
    bot.delete_webhook().await.expect("deleteWebhook");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn wrong_token_is_unauthorized() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let (status, body) = raw(&mock, "999:other", "getMe", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(
        body,
        json!({"ok": false, "error_code": 401, "description": "Unauthorized"})
    );
    let err = Bot::new("999:other")
        .set_api_url(reqwest::Url::parse(&mock.url()).unwrap())
        .get_me()
        .await
        .expect_err("wrong token must fail");
    assert!(matches!(err, RequestError::Api(_)), "{err:?}");
    assert!(mock.requests().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn send_message_with_valid_html_passes() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let keyboard = InlineKeyboardMarkup::new(vec![vec![
        InlineKeyboardButton::callback("More", "more:42"),
        InlineKeyboardButton::url(
            "MAL",
            reqwest::Url::parse("https://myanimelist.net/").unwrap(),
        ),
    ]]);
    let html = "<b>Naruto</b> &amp; <i>Boruto</i> &lt;3 &#128512; <a href=\"https://example.org/?a=1&amp;b=2\">link</a>\n\
                <span class=\"tg-spoiler\">s</span><tg-spoiler>t</tg-spoiler><blockquote expandable>q</blockquote><code>x</code><pre><code class=\"language-rust\">fn</code></pre>";
    let sent = bot
        .send_message(ChatId(42), html)
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard)
        .await
        .expect("sendMessage");
    assert_eq!(
        sent.text(),
        Some("Naruto & Boruto <3 \u{1F600} link\nstqxfn")
    );
    assert!(sent.chat.is_private());
    assert_eq!(
        sent.from.as_ref().map(|u| u.id.0 as i64),
        Some(mock.bot_user_id())
    );
    assert!(sent.reply_markup().is_some());

    let requests = mock.requests_to("sendMessage");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].chat_id(), Some(42));
    assert_eq!(requests[0].str_field("parse_mode"), Some("HTML"));
    assert_eq!(requests[0].text(), Some(html));

    // Group and supergroup chats come back with the right type.
    let sent = bot.send_message(ChatId(-42), "hi").await.expect("group");
    assert!(sent.chat.is_group());
    let sent = bot
        .send_message(ChatId(-1_001_234_567_890), "hi")
        .await
        .expect("supergroup");
    assert!(sent.chat.is_supergroup());
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn raw_less_than_in_html_is_a_violation() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let err = bot
        .send_message(ChatId(42), "score < 9 & rising")
        .parse_mode(ParseMode::Html)
        .await
        .expect_err("unescaped < must be rejected");
    assert!(
        matches!(err, RequestError::Api(ApiError::CantParseEntities(_))),
        "{err:?}"
    );
    let violations = mock.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].starts_with("sendMessage: can't parse entities in text"));
    // The request is still recorded.
    assert_eq!(mock.requests_to("sendmessage").len(), 1);

    // Unsupported tags, unclosed tags, bad entities, misnesting.
    for bad in [
        "<br>",
        "<b>bold",
        "<b><i>x</b></i>",
        "Tom &amp Jerry",
        "&nbsp;",
        "a > b",
        "<a>no href</a>",
        "<span>x</span>",
    ] {
        let before = mock.violations().len();
        let result = bot
            .send_message(ChatId(42), bad)
            .parse_mode(ParseMode::Html)
            .await;
        assert!(result.is_err(), "{bad:?} should be rejected");
        assert_eq!(mock.violations().len(), before + 1, "{bad:?}");
    }
    // Without a parse mode the same text is fine.
    bot.send_message(ChatId(42), "score < 9 & rising")
        .await
        .expect("plain text");
    assert_eq!(mock.violations().len(), 9);
    mock.stop().await;
}

#[tokio::test]
async fn caption_over_1024_characters_is_a_violation() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let photo =
        || InputFile::url(reqwest::Url::parse("https://cdn.example.org/cover.jpg").unwrap());

    // 1024 visible characters plus markup is fine: the limit is after entity parsing.
    let caption = format!("<b>{}</b>&amp;", "x".repeat(1023));
    let sent = bot
        .send_photo(ChatId(42), photo())
        .caption(caption)
        .parse_mode(ParseMode::Html)
        .await
        .expect("sendPhoto with a 1024-character caption");
    assert_eq!(sent.caption().map(|c| c.chars().count()), Some(1024));
    assert!(sent.photo().is_some());
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    let request = &mock.requests_to("sendPhoto")[0];
    assert_eq!(request.chat_id(), Some(42));
    assert_eq!(
        request.str_field("photo"),
        Some("https://cdn.example.org/cover.jpg")
    );

    let err = bot
        .send_photo(ChatId(42), photo())
        .caption("é".repeat(1025))
        .await
        .expect_err("1025 characters must be rejected");
    assert!(matches!(err, RequestError::Api(_)), "{err:?}");
    let violations = mock.violations();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("caption"), "{violations:?}");
    assert!(violations[0].contains("1025"), "{violations:?}");
    mock.stop().await;
}

#[tokio::test]
async fn message_text_limits() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    bot.send_message(ChatId(42), "ж".repeat(4096))
        .await
        .expect("4096 characters are allowed");
    assert!(mock.violations().is_empty());
    assert!(
        bot.send_message(ChatId(42), "a".repeat(4097))
            .await
            .is_err()
    );
    assert!(
        bot.send_message(ChatId(42), "<b></b>")
            .parse_mode(ParseMode::Html)
            .await
            .is_err()
    );
    assert!(bot.send_message(ChatId(42), "").await.is_err());
    assert_eq!(mock.violations().len(), 3, "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn markdown_v2_reserved_characters_are_violations() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    bot.send_message(
        ChatId(42),
        "*Naruto* \\(2002\\) score 8\\.0 [MAL](https://myanimelist.net/anime/20) `a.b`",
    )
    .parse_mode(ParseMode::MarkdownV2)
    .await
    .expect("valid MarkdownV2");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    assert!(
        bot.send_message(ChatId(42), "score 8.0")
            .parse_mode(ParseMode::MarkdownV2)
            .await
            .is_err()
    );
    assert_eq!(mock.violations().len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn retry_after_reaches_the_client() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    mock.fail("sendMessage", None, Failure::RetryAfter(7), 1);
    let err = bot
        .send_message(ChatId(42), "hi")
        .await
        .expect_err("429 expected");
    match err {
        RequestError::RetryAfter(secs) => assert_eq!(secs.seconds(), 7),
        other => panic!("expected RetryAfter, got {other:?}"),
    }
    // Only once.
    bot.send_message(ChatId(42), "hi")
        .await
        .expect("second try");
    assert!(mock.violations().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn migrate_to_chat_id_reaches_the_client() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    mock.fail(
        "sendMessage",
        Some(-42),
        Failure::MigrateTo(-1_000_000_000_042),
        1,
    );
    // Another chat is not affected.
    bot.send_message(ChatId(-43), "hi")
        .await
        .expect("other chat");
    let err = bot
        .send_message(ChatId(-42), "hi")
        .await
        .expect_err("migration expected");
    match err {
        RequestError::MigrateToChatId(chat) => assert_eq!(chat, ChatId(-1_000_000_000_042)),
        other => panic!("expected MigrateToChatId, got {other:?}"),
    }
    bot.send_message(ChatId(-42), "hi")
        .await
        .expect("only once");
    mock.stop().await;
}

#[tokio::test]
async fn forbidden_and_chat_not_found_are_api_errors() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    mock.fail("sendmessage", Some(-42), Failure::Forbidden, 2);
    mock.fail("sendPhoto", None, Failure::ChatNotFound, 1);
    for _ in 0..2 {
        let err = bot
            .send_message(ChatId(-42), "hi")
            .await
            .expect_err("403 expected");
        match err {
            RequestError::Api(ApiError::Unknown(description)) => {
                assert_eq!(description, "Forbidden: bot was kicked from the group chat")
            }
            other => panic!("expected an Api error, got {other:?}"),
        }
    }
    bot.send_message(ChatId(-42), "hi")
        .await
        .expect("only twice");
    let err = bot
        .send_photo(
            ChatId(5),
            InputFile::url(reqwest::Url::parse("https://x.org/a.jpg").unwrap()),
        )
        .await
        .expect_err("400 expected");
    assert!(
        matches!(err, RequestError::Api(ApiError::ChatNotFound)),
        "{err:?}"
    );
    assert!(mock.violations().is_empty());
    mock.stop().await;
}

#[tokio::test]
async fn get_updates_returns_pushed_updates_and_respects_offset() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let first = mock.push_update(TelegramMock::text_message(
        42,
        "private",
        42,
        "/anime naruto",
    ));
    let second = mock.push_update(TelegramMock::callback_query(-100, 42, 7, "page:2"));
    let third = mock.push_update(TelegramMock::inline_query(42, "bleach"));
    let fourth = mock.push_update(TelegramMock::text_message(
        -1_001_234_567_890,
        "supergroup",
        43,
        "/anime@rouge_test_bot one piece",
    ));
    assert!(first < second && second < third && third < fourth);

    let updates = bot.get_updates().timeout(0).await.expect("getUpdates");
    assert_eq!(updates.len(), 4);
    assert_eq!(updates[0].id.0 as i64, first);
    match &updates[0].kind {
        UpdateKind::Message(m) => {
            assert_eq!(m.text(), Some("/anime naruto"));
            assert!(m.chat.is_private());
            assert_eq!(m.from.as_ref().map(|u| u.id.0), Some(42));
            let entities = m.entities().expect("entities");
            assert_eq!(entities.len(), 1);
            assert_eq!(entities[0].length, 6);
        }
        other => panic!("expected a message, got {other:?}"),
    }
    match &updates[1].kind {
        UpdateKind::CallbackQuery(q) => {
            assert_eq!(q.data.as_deref(), Some("page:2"));
            let message = q.regular_message().expect("accessible message");
            assert_eq!(message.id, MessageId(7));
            assert!(message.chat.is_group());
            assert_eq!(
                message.from.as_ref().map(|u| u.id.0 as i64),
                Some(mock.bot_user_id())
            );
        }
        other => panic!("expected a callback query, got {other:?}"),
    }
    match &updates[2].kind {
        UpdateKind::InlineQuery(q) => assert_eq!(q.query, "bleach"),
        other => panic!("expected an inline query, got {other:?}"),
    }
    match &updates[3].kind {
        UpdateKind::Message(m) => assert!(m.chat.is_supergroup()),
        other => panic!("expected a message, got {other:?}"),
    }

    // Without a new offset the same updates come back; with one, older ones are dropped.
    let again = bot.get_updates().timeout(0).await.expect("getUpdates");
    assert_eq!(again.len(), 4);
    let rest = bot
        .get_updates()
        .offset(third as i32)
        .timeout(0)
        .await
        .expect("getUpdates");
    assert_eq!(
        rest.iter().map(|u| u.id.0 as i64).collect::<Vec<_>>(),
        vec![third, fourth]
    );
    assert_eq!(mock.pending_updates(), 2);
    let limited = bot.get_updates().limit(1).timeout(0).await.expect("limit");
    assert_eq!(limited.len(), 1);
    let none = bot
        .get_updates()
        .offset(fourth as i32 + 1)
        .timeout(5)
        .await
        .expect("getUpdates");
    assert!(none.is_empty());
    assert_eq!(mock.pending_updates(), 0);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn empty_long_poll_waits_briefly_and_wakes_on_push() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let started = std::time::Instant::now();
    let none = bot.get_updates().timeout(30).await.expect("getUpdates");
    assert!(none.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(80) && waited < Duration::from_secs(2),
        "{waited:?}"
    );

    let pusher = mock.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        pusher.push_update(TelegramMock::text_message(1, "private", 1, "hello"));
    });
    let mut got = Vec::new();
    for _ in 0..10 {
        got = bot.get_updates().timeout(30).await.expect("getUpdates");
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got.len(), 1);
    mock.stop().await;
}

#[tokio::test]
async fn allowed_updates_filters_like_telegram() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    mock.push_update(TelegramMock::inline_query(42, "x"));
    let message = mock.push_update(TelegramMock::text_message(42, "private", 42, "hi"));
    let updates = bot
        .get_updates()
        .allowed_updates(vec![teloxide::types::AllowedUpdate::Message])
        .timeout(0)
        .await
        .expect("getUpdates");
    assert_eq!(
        updates.iter().map(|u| u.id.0 as i64).collect::<Vec<_>>(),
        vec![message]
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatcher_with_long_polling_receives_a_pushed_message() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let handler = Update::filter_message().endpoint(
        |bot: Bot, msg: Message, tx: tokio::sync::mpsc::UnboundedSender<String>| async move {
            let text = msg.text().unwrap_or_default().to_owned();
            bot.send_message(msg.chat.id, format!("<b>got</b> {}", text.len()))
                .parse_mode(ParseMode::Html)
                .await?;
            let _ = tx.send(text);
            respond(())
        },
    );
    let mut dispatcher = Dispatcher::builder(bot, handler)
        .dependencies(dptree::deps![tx])
        .build();
    let shutdown = dispatcher.shutdown_token();
    let running = tokio::spawn(async move { dispatcher.dispatch().await });

    mock.push_update(TelegramMock::text_message(
        42,
        "private",
        42,
        "/anime naruto",
    ));
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the handler ran in time")
        .expect("a message");
    assert_eq!(got, "/anime naruto");
    let replies = mock
        .wait_for("sendMessage", 1, Duration::from_secs(5))
        .await;
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].chat_id(), Some(42));

    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match shutdown.shutdown() {
            Ok(done) => {
                // teloxide's "shutdown done" notification can fire before this
                // future first waits for it; the dispatcher task ending below
                // is the real signal.
                let _ = tokio::time::timeout(Duration::from_secs(2), done).await;
                break;
            }
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("dispatcher never became stoppable: {e:?}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("dispatcher stopped")
        .expect("dispatcher task");

    let methods: Vec<String> = mock.requests().into_iter().map(|r| r.method).collect();
    assert!(methods.contains(&"getme".to_owned()), "{methods:?}");
    assert!(methods.contains(&"getupdates".to_owned()), "{methods:?}");
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    assert_eq!(mock.pending_updates(), 0);
    mock.stop().await;
}

#[tokio::test]
async fn chat_member_statuses_deserialize() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let chat = ChatId(-1_001_000_000_001);
    for (user, status) in [
        (1, "creator"),
        (2, "administrator"),
        (3, "member"),
        (4, "restricted"),
        (5, "left"),
        (6, "kicked"),
    ] {
        mock.set_member_status(chat.0, user, status);
    }
    let kind = |user: u64| {
        let bot = bot.clone();
        async move {
            bot.get_chat_member(chat, UserId(user))
                .await
                .expect("getChatMember")
                .kind
        }
    };
    assert!(matches!(kind(1).await, ChatMemberKind::Owner(_)));
    assert!(matches!(kind(2).await, ChatMemberKind::Administrator(_)));
    assert!(kind(2).await.can_manage_chat());
    assert!(matches!(kind(3).await, ChatMemberKind::Member(_)));
    assert!(matches!(kind(4).await, ChatMemberKind::Restricted(_)));
    assert!(matches!(kind(5).await, ChatMemberKind::Left));
    assert!(matches!(kind(6).await, ChatMemberKind::Banned(_)));
    // Default.
    assert!(matches!(kind(99).await, ChatMemberKind::Member(_)));
    assert_eq!(
        mock.requests_to("getChatMember")[0].i64_field("user_id"),
        Some(1)
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn edits_answers_and_commands_work() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let keyboard = |data: &str| {
        InlineKeyboardMarkup::new(vec![vec![InlineKeyboardButton::callback("Next", data)]])
    };
    let sent = bot
        .send_message(ChatId(42), "page 1")
        .reply_markup(keyboard("page:2"))
        .await
        .expect("send");
    let edited = bot
        .edit_message_text(ChatId(42), sent.id, "page <b>2</b>")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard("page:3"))
        .await
        .expect("editMessageText");
    assert_eq!(edited.text(), Some("page 2"));
    assert_eq!(edited.id, sent.id);
    // Same content again: Telegram answers "message is not modified".
    let err = bot
        .edit_message_text(ChatId(42), sent.id, "page <b>2</b>")
        .parse_mode(ParseMode::Html)
        .reply_markup(keyboard("page:3"))
        .await
        .expect_err("not modified");
    assert!(
        matches!(err, RequestError::Api(ApiError::MessageNotModified)),
        "{err:?}"
    );
    let edited = bot
        .edit_message_reply_markup(ChatId(42), sent.id)
        .await
        .expect("editMessageReplyMarkup");
    assert!(edited.reply_markup().is_none());

    // A callback on that message carries the stored message.
    mock.push_update(TelegramMock::callback_query(42, 42, sent.id.0 as i64, "x"));
    let updates = bot.get_updates().timeout(0).await.expect("updates");
    match &updates[0].kind {
        UpdateKind::CallbackQuery(q) => {
            assert_eq!(q.regular_message().and_then(|m| m.text()), Some("page 2"))
        }
        other => panic!("{other:?}"),
    }

    bot.answer_callback_query(CallbackQueryId("cb1".into()))
        .text("ok")
        .await
        .expect("answerCallbackQuery");
    let article = InlineQueryResultArticle::new(
        "naruto-20",
        "Naruto",
        InputMessageContent::Text(
            InputMessageContentText::new("<b>Naruto</b>").parse_mode(ParseMode::Html),
        ),
    )
    .description("2002 · TV");
    bot.answer_inline_query(
        InlineQueryId("iq1".into()),
        vec![InlineQueryResult::Article(article)],
    )
    .cache_time(10)
    .await
    .expect("answerInlineQuery");
    bot.set_my_commands(vec![
        BotCommand::new("anime", "Look up an anime"),
        BotCommand::new("help", "How to use the bot"),
    ])
    .await
    .expect("setMyCommands");
    let commands = bot.get_my_commands().await.expect("getMyCommands");
    assert_eq!(commands.len(), 2);
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn spec_validation_of_raw_requests() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "sendMessages",
            json!({"chat_id": 1, "text": "x"}),
            "not in the Bot API",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1}),
            "text: required parameter is missing",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "colour": "red"}),
            "colour: unknown parameter",
        ),
        (
            "sendMessage",
            json!({"chat_id": [1], "text": "x"}),
            "chat_id: expected Integer or String",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "disable_notification": "yes"}),
            "disable_notification: expected Boolean",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "parse_mode": "html5"}),
            "unsupported parse_mode",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "d".repeat(65)}]]}}),
            "callback_data: too long: 65 bytes",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "d", "url": "https://x.org"}]]}}),
            "exactly one action field",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "reply_markup": {"inline_keyboard": [[{"text": "a"}]]}}),
            "exactly one action field",
        ),
        (
            "sendMessage",
            json!({"chat_id": 1, "text": "x", "reply_parameters": 5}),
            "reply_parameters: expected ReplyParameters",
        ),
        (
            "answerCallbackQuery",
            json!({"callback_query_id": "1", "text": "t".repeat(201)}),
            "text: too long: 201 characters",
        ),
        (
            "answerInlineQuery",
            json!({"inline_query_id": "1", "results": (0..51).map(|i| json!({"type": "article", "id": i.to_string(), "title": "t", "input_message_content": {"message_text": "m"}})).collect::<Vec<_>>()}),
            "no more than 50",
        ),
        (
            "answerInlineQuery",
            json!({"inline_query_id": "1", "results": [{"type": "article", "id": "1", "input_message_content": {"message_text": "m"}}]}),
            "results[0].title: required field of InlineQueryResultArticle is missing",
        ),
        (
            "answerInlineQuery",
            json!({"inline_query_id": "1", "results": [{"type": "article", "id": "x".repeat(65), "title": "t", "input_message_content": {"message_text": "m"}}]}),
            "results[0].id: too long: 65 bytes",
        ),
        (
            "answerInlineQuery",
            json!({"inline_query_id": "1", "results": [{"type": "novel", "id": "1"}]}),
            "results[0].type: 'novel' is not one of",
        ),
        (
            "answerInlineQuery",
            json!({"inline_query_id": "1", "results": [{"type": "article", "id": "1", "title": "t", "input_message_content": {"message_text": "a<b", "parse_mode": "HTML"}}]}),
            "can't parse entities in results[0].input_message_content.message_text",
        ),
        (
            "setMyCommands",
            json!({"commands": [{"command": "Anime", "description": "Look up"}]}),
            "lowercase",
        ),
        (
            "setMyCommands",
            json!({"commands": [{"command": "a".repeat(33), "description": "Look up"}]}),
            "command: too long: 33 characters",
        ),
        (
            "setMyCommands",
            json!({"commands": [{"command": "anime", "description": ""}]}),
            "description: too short",
        ),
        (
            "setMyCommands",
            json!({"commands": [{"command": "anime", "description": "d".repeat(257)}]}),
            "description: too long",
        ),
        (
            "getUpdates",
            json!({"limit": 500}),
            "limit: 500 is outside 1-100",
        ),
        (
            "getUpdates",
            json!({"allowed_updates": ["messages"]}),
            "unknown update type 'messages'",
        ),
    ];
    for (i, (method, body, expected)) in cases.iter().enumerate() {
        let (status, answer) = raw(&mock, TOKEN, method, body.clone()).await;
        assert_eq!(status, 400, "{method} {body}: {answer}");
        assert_eq!(answer["ok"], json!(false));
        assert_eq!(answer["error_code"], json!(400));
        let description = answer["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("Bad Request: "), "{description}");
        let violations = mock.violations();
        assert_eq!(
            violations.len(),
            i + 1,
            "case {i} ({method}): {violations:?}"
        );
        assert!(
            violations[i].contains(expected),
            "case {i}: expected {expected:?} in {:?}",
            violations[i]
        );
        assert!(description.contains(expected), "{description}");
    }

    // Valid raw requests: method names are case-insensitive, integer strings are integers.
    let before = mock.violations().len();
    let (status, answer) = raw(
        &mock,
        TOKEN,
        "SENDMESSAGE",
        json!({"chat_id": "42", "text": "hi"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["text"], json!("hi"));
    let (status, answer) = raw(
        &mock,
        TOKEN,
        "sendMessage",
        json!({"chat_id": "@rouge_channel", "text": "hi"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"]["chat"]["type"], json!("channel"));
    let (status, answer) = raw(
        &mock,
        TOKEN,
        "sendChatAction",
        json!({"chat_id": 42, "action": "typing"}),
    )
    .await;
    assert_eq!((status, answer["result"].clone()), (200, json!(true)));
    let (status, _) = raw(
        &mock,
        TOKEN,
        "setMyCommands",
        json!({"commands": [{"command": "a_1", "description": "d"}], "scope": {"type": "all_group_chats"}}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, answer) = raw(
        &mock,
        TOKEN,
        "setMyCommands",
        json!({"commands": [], "scope": {"type": "chat"}}),
    )
    .await;
    assert_eq!(status, 400, "BotCommandScopeChat needs chat_id: {answer}");
    assert_eq!(mock.violations().len(), before + 1);
    mock.stop().await;
}

#[tokio::test]
async fn form_and_multipart_bodies_become_json() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let client = reqwest::Client::new();
    let url = |method: &str| format!("{}bot{TOKEN}/{method}", mock.url());

    let answer: Value = client
        .post(url("sendMessage"))
        .body("chat_id=42&text=123&disable_notification=true&reply_markup=%7B%22inline_keyboard%22%3A%5B%5B%7B%22text%22%3A%22a%22%2C%22callback_data%22%3A%22b%22%7D%5D%5D%7D")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], json!(true), "{answer}");
    let body = &mock.requests_to("sendMessage")[0].body;
    assert_eq!(body["chat_id"], json!(42));
    assert_eq!(body["text"], json!("123"));
    assert_eq!(body["disable_notification"], json!(true));
    assert_eq!(
        body["reply_markup"]["inline_keyboard"][0][0]["callback_data"],
        json!("b")
    );

    let form = reqwest::multipart::Form::new()
        .text("chat_id", "-42")
        .text("caption", "<b>cover</b>")
        .text("parse_mode", "HTML")
        .text("photo", "attach://cover")
        .part(
            "cover",
            reqwest::multipart::Part::bytes(vec![0xFF, 0xD8, 0xFF]).file_name("cover.jpg"),
        );
    let answer: Value = client
        .post(url("sendPhoto"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["ok"], json!(true), "{answer}");
    assert_eq!(answer["result"]["caption"], json!("cover"));
    let body = &mock.requests_to("sendPhoto")[0].body;
    assert_eq!(
        body,
        &json!({"chat_id": -42, "caption": "<b>cover</b>", "parse_mode": "HTML", "photo": "attach://cover"})
    );

    // A dangling attach:// reference is a violation.
    let form = reqwest::multipart::Form::new()
        .text("chat_id", "1")
        .text("photo", "attach://missing");
    let response = client
        .post(url("sendPhoto"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(mock.violations().len(), 1, "{:?}", mock.violations());
    mock.stop().await;
}

#[tokio::test]
async fn teloxide_file_upload_is_multipart_and_valid() {
    require_spec!();
    let mock = TelegramMock::start(TOKEN).await;
    let bot = bot_for(&mock);
    let sent = bot
        .send_photo(
            ChatId(42),
            InputFile::memory(vec![0xFF, 0xD8, 0xFF]).file_name("c.jpg"),
        )
        .caption("cover")
        .reply_markup(InlineKeyboardMarkup::new(vec![vec![
            InlineKeyboardButton::callback("More", "more"),
        ]]))
        .await
        .expect("upload");
    assert_eq!(sent.caption(), Some("cover"));
    let request = &mock.requests_to("sendPhoto")[0];
    assert!(
        request
            .str_field("photo")
            .is_some_and(|p| p.starts_with("attach://")),
        "{:?}",
        request.body
    );
    assert_eq!(request.chat_id(), Some(42));
    assert!(request.body["reply_markup"].is_object());
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
    mock.stop().await;
}
