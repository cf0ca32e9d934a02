"""The fake Telegram server is strict, and the real python-telegram-bot stack works with it.

If the fake accepted what Telegram refuses, every bot test built on it would prove nothing,
so these tests pin the refusals (status, PTB exception, Telegram's wording) as well as the
happy paths through PTB's Application, Updater and request layer.

pytest-asyncio is not installed on purpose: async tests are plain functions that call
``run(...)``, one event loop per test, as production runs one loop per process.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import html
import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from tests.fake_telegram import (
    ApiError,
    FakeTelegram,
    fake_telegram_fixture,  # noqa: F401 - registers the ``fake_telegram`` fixture
    format_text,
    parse_html,
)

T = TypeVar("T")
CHAT = 4242


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one coroutine in a fresh loop (stand-in for pytest-asyncio)."""
    return asyncio.run(coro)


def make_bot(tg: FakeTelegram) -> Bot:
    return Bot(tg.token, base_url=tg.base_url, base_file_url=tg.base_file_url)


async def with_bot(tg: FakeTelegram, action: Callable[[Bot], Awaitable[T]]) -> T:
    async with make_bot(tg) as bot:
        return await action(bot)


def build_app(tg: FakeTelegram) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(tg.base_url)
        .base_file_url(tg.base_file_url)
        .build()
    )


async def start_app(app: Application) -> None:  # type: ignore[type-arg]
    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)


async def stop_app(app: Application) -> None:  # type: ignore[type-arg]
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()


@pytest.fixture
def tg(fake_telegram: FakeTelegram) -> FakeTelegram:
    """The fake with one private chat that has started the bot."""
    fake_telegram.add_chat(CHAT, "Hana", username="hana", language_code="ja")
    return fake_telegram


# ------------------------------------------------------------ through PTB's stack


def test_application_receives_start_with_payload_and_replies(tg: FakeTelegram) -> None:
    seen: list[list[str]] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        args = list(context.args or [])
        seen.append(args)
        await update.effective_message.reply_text(
            f"<b>Welcome</b>, token {html.escape(args[0])}", parse_mode=ParseMode.HTML
        )

    async def scenario() -> None:
        app = build_app(tg)
        app.add_handler(CommandHandler("start", start))
        await start_app(app)
        try:
            tg.send_text(CHAT, "/start abc_DEF-123")
            await tg.wait_for_async(lambda: tg.calls_for("sendMessage"))
        finally:
            await stop_app(app)

    run(scenario())
    assert seen == [["abc_DEF-123"]]
    assert tg.texts(CHAT) == ["Welcome, token abc_DEF-123"]
    (sent,) = tg.messages(CHAT)
    assert sent.entities == [{"type": "bold", "offset": 0, "length": 7}]
    assert tg.method_names()[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    # The Updater confirmed the update on shutdown, so a restart would not replay it.
    assert tg.pending_updates == []
    # Its final getUpdates after cancelling the long poll is not mistaken for a rival bot.
    assert [c.status for c in tg.calls_for("getUpdates")].count(409) == 0


def test_button_press_reaches_callback_handler_and_edit_is_recorded(tg: FakeTelegram) -> None:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Noted")
        await query.edit_message_text(f"Confirmed: {query.data}")

    async def scenario() -> None:
        app = build_app(tg)
        app.add_handler(CallbackQueryHandler(on_button))
        await start_app(app)
        try:
            keyboard = InlineKeyboardMarkup(
                [[InlineKeyboardButton("Yes", callback_data="confirm:12")]]
            )
            message = await app.bot.send_message(CHAT, "Come on Monday?", reply_markup=keyboard)
            assert message.reply_markup == keyboard  # echoed back like Telegram does
            update = tg.press_button(CHAT, message.message_id, "confirm:12")
            query_id = update["callback_query"]["id"]
            await tg.wait_for_async(lambda: tg.calls_for("editMessageText"))
            assert tg.callback_answer(query_id) is not None
        finally:
            await stop_app(app)

    run(scenario())
    (edited,) = tg.messages(CHAT)
    assert edited.text == "Confirmed: confirm:12"
    assert edited.edits == 1
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    with pytest.raises(ValueError, match="no button"):
        tg.press_button(CHAT, edited.message_id, "confirm:12")


def test_updates_queued_while_bot_is_down_arrive_in_order(tg: FakeTelegram) -> None:
    received: list[str] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        received.append(update.effective_message.text or "")

    for n in range(5):
        tg.send_text(CHAT, f"/note {n}")
    assert [u["update_id"] for u in tg.pending_updates] == [1, 2, 3, 4, 5]

    async def scenario() -> None:
        app = build_app(tg)
        app.add_handler(CommandHandler("note", record))
        await start_app(app)
        try:
            await tg.wait_for_async(lambda: len(received) == 5)
        finally:
            await stop_app(app)

    run(scenario())
    assert received == [f"/note {n}" for n in range(5)]
    assert tg.pending_updates == []


def test_delete_webhook_can_drop_pending_updates(tg: FakeTelegram) -> None:
    tg.send_text(CHAT, "/start stale")

    async def scenario(bot: Bot) -> tuple[Update, ...]:
        await bot.delete_webhook(drop_pending_updates=True)
        return await bot.get_updates(timeout=0)

    assert run(with_bot(tg, scenario)) == ()
    assert tg.pending_updates == []


def test_edit_message_text_rules(tg: FakeTelegram) -> None:
    async def scenario(bot: Bot) -> None:
        message = await bot.send_message(CHAT, "Reminder: 9:30")
        edited = await bot.edit_message_text(
            "Reminder: <b>10:00</b>", CHAT, message.message_id, parse_mode="HTML"
        )
        assert isinstance(edited, Message)
        assert edited.text == "Reminder: 10:00"
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await bot.edit_message_text(
                "Reminder: <b>10:00</b>", CHAT, message.message_id, parse_mode="HTML"
            )
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("x", CHAT, 999)

    run(with_bot(tg, scenario))
    (message,) = tg.messages(CHAT)
    assert (message.text, message.raw_text, message.edits) == (
        "Reminder: 10:00",
        "Reminder: <b>10:00</b>",
        1,
    )
    edits = tg.calls_for("editMessageText")
    assert [c.status for c in edits] == [200, 400, 400]
    assert edits[0].params["message_id"] == message.message_id


def test_send_document_upload_is_recorded_and_downloadable(tg: FakeTelegram) -> None:
    ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\x00\xff binary-safe\r\nEND:VCALENDAR\r\n"

    async def scenario(bot: Bot) -> bytes:
        message = await bot.send_document(CHAT, ics, filename="course.ics", caption="Plan")
        assert message.document is not None
        file = await bot.get_file(message.document.file_id)
        return bytes(await file.download_as_bytearray())

    assert run(with_bot(tg, scenario)) == ics
    upload = tg.calls_for("sendDocument")[0].params["document"]
    assert (upload.filename, upload.content) == ("course.ics", ics)
    assert tg.texts(CHAT) == ["Plan"]


def test_bot_commands_are_validated_and_stored(tg: FakeTelegram) -> None:
    async def scenario(bot: Bot) -> None:
        await bot.set_my_commands([BotCommand("next", "Next appointment")], language_code="ja")
        assert [c.command for c in await bot.get_my_commands(language_code="ja")] == ["next"]
        with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Command", "x")])
        with pytest.raises(BadRequest):
            await bot.set_my_commands([BotCommand("ok", "")])

    run(with_bot(tg, scenario))
    assert tg.commands(language_code="ja") == [
        {"command": "next", "description": "Next appointment"}
    ]
    assert tg.commands() == []


# ------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Dose < 5 ml", 'Unsupported start tag "" at byte offset 5'),
        ("<br>line", 'Unsupported start tag "br" at byte offset 0'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("Tom & Jerry", 'Unescaped "&" at byte offset 4'),
        ("&nbsp;", 'Unescaped "&" at byte offset 0'),
        ("点滴 <x>", 'Unsupported start tag "x" at byte offset 7'),
        ('<span class="big">x</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
def test_html_parser_refuses_like_telegram(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        parse_html(text)


def test_html_parser_accepts_telegram_markup() -> None:
    text = (
        "<b>B</b><strong>S</strong><i>I</i><em>E</em><u>U</u><ins>N</ins><s>S</s>"
        '<strike>K</strike><del>D</del><span class="tg-spoiler">P</span>'
        '<tg-spoiler>Q</tg-spoiler><a href="https://example.org/?a=1&amp;b=2">L</a>'
        '<code>C</code><pre><code class="language-python">x = 1</code></pre>'
        "<blockquote expandable>Q</blockquote><blockquote>R</blockquote>"
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
        "&lt;&gt;&amp;&quot;&#65;&#x42;</>"
    )
    with pytest.raises(ValueError, match="Unexpected end tag"):
        parse_html(text)  # the trailing "</>" has nothing left to close
    plain, entities = parse_html(text[: -len("</>")])
    assert plain == 'BSIEUNSKDPQLCx = 1QR👍<>&"AB'
    types = [e["type"] for e in entities]
    assert types[:11] == [
        "bold",
        "bold",
        "italic",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
    ]
    assert {"type": "pre", "offset": 13, "length": 5, "language": "python"} in entities
    assert "expandable_blockquote" in types
    assert "custom_emoji" in types
    assert entities[11]["url"] == "https://example.org/?a=1&b=2"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
@settings(max_examples=150, deadline=None, database=None)
def test_html_escape_of_any_text_is_accepted_and_round_trips(raw: str) -> None:
    """Our bot escapes user text with html.escape; Telegram must show it unchanged."""
    plain, entities = parse_html(html.escape(raw))
    assert plain == raw
    assert entities == []


def test_length_is_checked_after_parsing_and_trimming() -> None:
    assert len(format_text("<b>" + "x" * 4096 + "</b>", "HTML")[0]) == 4096
    assert format_text("  \n hi \n", None)[0] == "hi"
    plain, entities = format_text("  <b>hi</b>", "HTML")
    assert (plain, entities) == ("hi", [{"type": "bold", "offset": 0, "length": 2}])
    # Offsets count UTF-16 code units: the emoji takes two.
    assert format_text("👍<i>x</i>", "HTML")[1] == [{"type": "italic", "offset": 2, "length": 1}]


def test_markdown_v2_reserved_characters_must_be_escaped() -> None:
    with pytest.raises(ApiError, match=r"Character '\.' is reserved"):
        format_text("Next visit 12.05", "MarkdownV2")
    assert format_text(r"*Next* visit 12\.05", "MarkdownV2") == (
        "Next visit 12.05",
        [{"type": "bold", "offset": 0, "length": 4}],
    )


def test_send_message_refusals_map_to_ptb_exceptions(tg: FakeTelegram) -> None:
    async def scenario(bot: Bot) -> None:
        with pytest.raises(BadRequest) as bad_html:
            await bot.send_message(CHAT, "Dose < 5 ml", parse_mode=ParseMode.HTML)
        assert "can't parse entities" in bad_html.value.message.lower()
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(CHAT, "x" * 4097)
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await bot.send_message(CHAT, "<b> </b>", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest) as unknown:
            await bot.send_message(999, "hello")
        assert "chat not found" in unknown.value.message.lower()
        too_long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 90)]])
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            await bot.send_message(CHAT, "pick", reply_markup=too_long_data)
        # 64 bytes is the limit in UTF-8: 21 kana fit (63 bytes), 22 do not (66 bytes).
        for data, ok in (("あ" * 21, True), ("あ" * 22, False), ("d" * 64, True)):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=data)]])
            if ok:
                await bot.send_message(CHAT, "pick", reply_markup=markup)
            else:
                with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
                    await bot.send_message(CHAT, "pick", reply_markup=markup)
        await bot.send_message(CHAT, "x" * 4096)

    run(with_bot(tg, scenario))
    assert len(tg.messages(CHAT)) == 3  # refused messages are not delivered
    assert [c.status for c in tg.calls_for("sendMessage")].count(400) == 6


def test_unknown_token_and_unknown_method(tg: FakeTelegram) -> None:
    async def scenario() -> None:
        async with make_bot(tg) as bot:
            with pytest.raises(EndPointNotFound):  # Telegram answers 404 for unknown methods
                await bot.do_api_request("sendTelepathy", {"chat_id": CHAT})
        with pytest.raises(InvalidToken, match="rejected by the server"):
            async with Bot("999:WRONG", base_url=tg.base_url):  # initialize() calls getMe
                pass

    run(scenario())
    assert tg.calls_for("getMe")[-1].status == 401
    assert tg.calls_for("sendTelepathy")[0].status == 404
    request = urllib.request.Request(
        f"{tg.base_url}{tg.token}/SENDMESSAGE",
        data=json.dumps({"chat_id": CHAT, "text": "hi"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response)["result"]["text"] == "hi"  # case-insensitive method


def test_blocked_and_never_started_users_get_403(tg: FakeTelegram) -> None:
    tg.add_chat(7, "Ken", started=False)
    tg.block_chat(CHAT)

    async def scenario(bot: Bot) -> None:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(CHAT, "hi")
        with pytest.raises(Forbidden, match="can't initiate conversation"):
            await bot.send_message(7, "hi")
        tg.send_text(CHAT, "/start")  # writing to the bot again unblocks it
        await bot.send_message(CHAT, "welcome back")

    run(with_bot(tg, scenario))
    assert tg.texts(CHAT) == ["welcome back"]


# ----------------------------------------------------------------- fault injection


def test_injected_faults_map_to_ptb_exceptions(
    tg: FakeTelegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # RetryAfter.retry_after as timedelta, no warning

    async def scenario(bot: Bot) -> None:
        tg.fail_next("sendMessage", "429", retry_after=7)
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(CHAT, "a")
        assert flood.value.retry_after == dtm.timedelta(seconds=7)

        tg.fail_next("sendmessage", "403")
        with pytest.raises(Forbidden):
            await bot.send_message(CHAT, "b")

        for kind in ("500", "502", "drop"):
            tg.fail_next("sendMessage", kind)
            with pytest.raises(NetworkError) as network:
                await bot.send_message(CHAT, "c")
            assert not isinstance(network.value, BadRequest | TimedOut)

        tg.fail_next("sendMessage", "400", description="Bad Request: have no rights")
        with pytest.raises(BadRequest, match="(?i)have no rights"):
            await bot.send_message(CHAT, "d")

        tg.fail_next("sendMessage", "500", chat_id=1)  # other chat: not triggered here
        await bot.send_message(CHAT, "e")
        tg.clear_faults()

        tg.fail_next("sendMessage", "timeout")
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "f", read_timeout=0.3)
        assert time.monotonic() - started < 2

        tg.fail_next("sendMessage", "timeout", deliver=True)
        with pytest.raises(TimedOut):
            await bot.send_message(CHAT, "g", read_timeout=0.3)

    run(with_bot(tg, scenario))
    assert tg.texts(CHAT) == ["e", "g"]  # "g" was delivered although the client timed out
    assert tg.count_429 == 1
    assert [c.status for c in tg.calls_for("sendMessage")] == [
        429,
        403,
        500,
        502,
        None,
        400,
        200,
        None,
        None,
    ]


def test_rate_limits_answer_429_when_enforced(tg: FakeTelegram) -> None:
    tg.enforce_limits = True
    tg.add_chat(1, "A")

    async def scenario(bot: Bot) -> None:
        for n in range(tg.chat_burst):
            await bot.send_message(CHAT, f"burst {n}")
        with pytest.raises(RetryAfter):
            await bot.send_message(CHAT, "one too many")
        await bot.send_message(1, "another chat is not throttled")

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PTB_TIMEDELTA", "1")
        run(with_bot(tg, scenario))
    assert tg.count_429 == 1
    assert tg.calls_for("sendMessage")[3].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }


def test_global_rate_limit(tg: FakeTelegram) -> None:
    tg.enforce_limits = True
    tg.global_rate = 5
    for chat in range(1, 8):
        tg.add_chat(chat, f"user{chat}")

    async def scenario(bot: Bot) -> list[bool]:
        results = []
        for chat in range(1, 8):
            try:
                await bot.send_message(chat, "hi")
                results.append(True)
            except RetryAfter:
                results.append(False)
        return results

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PTB_TIMEDELTA", "1")
        assert run(with_bot(tg, scenario)) == [True] * 5 + [False] * 2


# ------------------------------------------------------------- long polling


def _get_updates(tg: FakeTelegram, timeout: float, **params: Any) -> tuple[int, dict[str, Any]]:
    """A raw getUpdates on a fresh connection (urllib does not pool)."""
    body = json.dumps({"timeout": timeout, **params}).encode()
    request = urllib.request.Request(
        f"{tg.base_url}{tg.token}/getUpdates",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout + 5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def _in_thread(target: Callable[[], T]) -> tuple[threading.Thread, list[T]]:
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(target()), daemon=True)
    thread.start()
    return thread, result


def test_long_poll_is_released_by_a_new_update(tg: FakeTelegram) -> None:
    started = time.monotonic()
    thread, result = _in_thread(lambda: _get_updates(tg, timeout=20))
    tg.wait_for(lambda: tg.active_polls)  # the poll is parked on the server
    tg.send_text(CHAT, "hello")
    thread.join(5)
    assert time.monotonic() - started < 3
    status, body = result[0]
    assert status == 200
    assert [u["message"]["text"] for u in body["result"]] == ["hello"]
    # Not confirmed yet: the same update comes again until offset moves past it.
    assert _get_updates(tg, 0)[1]["result"][0]["update_id"] == 1
    assert _get_updates(tg, 0, offset=2)[1]["result"] == []
    assert tg.pending_updates == []


def test_overlapping_polls_conflict(tg: FakeTelegram) -> None:
    thread, _ = _in_thread(lambda: _get_updates(tg, timeout=20))
    tg.wait_for(lambda: tg.active_polls)

    async def second_instance(bot: Bot) -> None:
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await bot.get_updates(timeout=0)

    run(with_bot(tg, second_instance))
    tg.send_text(CHAT, "release the first poll")
    thread.join(5)


def test_stop_returns_promptly_with_a_pending_long_poll() -> None:
    server = FakeTelegram().start()
    thread, result = _in_thread(lambda: _get_updates(server, timeout=30))
    server.wait_for(lambda: server.active_polls)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.5
    thread.join(5)
    assert result
    assert result[0][0] == 200
    assert server.errors == []


def test_wait_for_times_out_with_the_call_log(tg: FakeTelegram) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="condition not met"):
        tg.wait_for(lambda: tg.calls_for("sendMessage"), timeout=0.2)
    assert time.monotonic() - started < 1
