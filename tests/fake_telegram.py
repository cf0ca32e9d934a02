"""A strict, in-process fake of the Telegram Bot API for tests.

Why a fake server instead of mocking ``telegram.Bot``: a mock accepts whatever our code
sends, so a reminder with an unescaped ``<`` or a 90-byte ``callback_data`` passes the
tests and fails in production. This server sits behind python-telegram-bot's real HTTP
stack (httpx, PTB's request/exception mapping, the Updater's long polling) and refuses
what Telegram refuses, with Telegram's status codes and wording, so the bot has to be
right, not just call the right method.

Design notes:

* ``http.server.ThreadingHTTPServer`` in a background thread: it works the same from sync
  tests and from ``asyncio.run`` tests, because PTB runs in the test's event loop and the
  server never shares it. One thread per connection makes long polls simple blocking
  waits on one ``threading.Condition`` that every state change notifies.
* All state sits behind one re-entrant lock. ``wait_for`` predicates run under it, so
  they may call the query methods (``calls_for``, ``messages`` ...) freely.
* Behaviour whose exact Telegram wording could not be checked against the real service is
  marked "(wording unverified)" in the code; the status code is what our bot reacts to.
* Deliberately stricter than Telegram where the Bot API docs demand more than the server
  enforces: a bare ``&`` that does not start ``&lt; &gt; &amp; &quot; &#NN; &#xHH;`` is
  refused (the docs require escaping it, tdlib keeps it literally), so ``html.escape`` is
  the only safe way to put user text into HTML messages.

Usage::

    with FakeTelegram() as tg:
        tg.add_chat(42, first_name="Hana")
        app = (ApplicationBuilder().token(tg.token)
               .base_url(tg.base_url).base_file_url(tg.base_file_url).build())
        ...
        tg.wait_for(lambda: tg.calls_for("sendMessage"), timeout=5)
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import select
import socket
import threading
import time
import traceback
from bisect import insort
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from email.message import Message as _MimeHeader
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-token-0123456789abcdefghijklmnopq"
"""Shaped like a real token (digits, a colon, 35 characters): the bot refuses others."""

# Limits from the Bot API docs (https://core.telegram.org/bots/api) and PTB's constants.
MAX_TEXT_LENGTH = 4096  # characters after entity parsing
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_COMMANDS = 100
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_BODY_BYTES = MAX_DOCUMENT_BYTES + 1024 * 1024

FAULT_KINDS = frozenset({"429", "500", "502", "403", "400", "timeout", "drop"})

_SENDING_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto"})

# Canonical spelling of every method the fake implements, keyed by lower case, because
# Telegram matches method names case-insensitively.
_METHODS = {
    name.lower(): name
    for name in (
        "getMe",
        "logOut",
        "close",
        "setMyCommands",
        "deleteMyCommands",
        "getMyCommands",
        "deleteWebhook",
        "getWebhookInfo",
        "getUpdates",
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "sendDocument",
        "sendPhoto",
        "sendChatAction",
        "getChat",
        "getFile",
        "setChatMenuButton",
        "getChatMenuButton",
    )
}

_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "commands",
        "entities",
        "caption_entities",
        "allowed_updates",
        "scope",
        "menu_button",
        "link_preview_options",
        "reply_parameters",
    }
)
_INT_FIELDS = frozenset(
    {
        "chat_id",
        "message_id",
        "offset",
        "limit",
        "reply_to_message_id",
        "message_thread_id",
        "user_id",
        "cache_time",
    }
)
_FLOAT_FIELDS = frozenset({"timeout"})
_BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "allow_paid_broadcast",
    }
)

_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_COMMAND_NAME_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE_CODE_RE = re.compile(r"^[a-z]{2}$")
_BOT_COMMAND_IN_TEXT_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")

# Update types Telegram leaves out unless they are listed in allowed_updates.
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup"
    " are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_BLOCKED = "Forbidden: bot was blocked by the user"
_NOT_STARTED = "Forbidden: bot can't initiate conversation with a user"
_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """A refusal the fake answers with ``{"ok": false, ...}``.

    Raised inside method handlers so validation reads top to bottom like Telegram's own
    checks; the dispatcher turns it into the HTTP reply.
    """

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class EntityParseError(ValueError):
    """Text that Telegram's parse_mode parser refuses; the message is Telegram's reason."""


# ------------------------------------------------------------------ text formatting


def _utf16_len(text: str) -> int:
    """Entity offsets and lengths count UTF-16 code units, as the Bot API specifies."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """Telegram reports parse errors at UTF-8 byte offsets, not character indexes."""
    return len(text[:index].encode("utf-8"))


class _TextBuilder:
    """Collects parsed plain text and tracks its UTF-16 length for entity offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.u16 = 0

    def add(self, chunk: str) -> None:
        self.parts.append(chunk)
        self.u16 += _utf16_len(chunk)

    def text(self) -> str:
        return "".join(self.parts)


_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "code",
        "pre",
        "blockquote",
        "tg-emoji",
    }
)
_HTML_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
}
_HTML_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8}));")
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entity(text: str, pos: int) -> tuple[str, int]:
    """Decode the entity at ``text[pos] == "&"`` or refuse it (see module docstring)."""
    match = _HTML_ENTITY_RE.match(text, pos)
    if match is None:
        raise EntityParseError(
            f'Unescaped "&" at byte offset {_byte_offset(text, pos)}: use &amp;'
            " (wording unverified)"
        )
    named, decimal, hexadecimal = match.groups()
    if named:
        return _NAMED_ENTITIES[named], match.end()
    code_point = int(decimal) if decimal else int(hexadecimal, 16)
    if code_point == 0 or code_point > 0x10FFFF or 0xD800 <= code_point <= 0xDFFF:
        raise EntityParseError(
            f"Invalid character reference at byte offset {_byte_offset(text, pos)}"
            " (wording unverified)"
        )
    return chr(code_point), match.end()


@dataclass
class _OpenTag:
    name: str
    argument: str
    start: int  # UTF-16 offset in the parsed text
    text_start: int  # index into the parsed parts, to recover the inner text


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram-flavoured HTML into plain text and MessageEntity dicts.

    Follows the behaviour of Telegram's parser (tdlib ``parse_html``): tag names are
    matched case-insensitively, unknown attributes are ignored, ``</>`` closes the
    innermost tag, and errors name the UTF-8 byte offset. Raises EntityParseError.
    """
    out = _TextBuilder()
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            decoded, i = _decode_html_entity(text, i)
            out.add(decoded)
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        begin = i
        offset = _byte_offset(text, begin)
        i += 1
        if i < n and text[i] == "/":
            i = _close_html_tag(text, i + 1, begin, offset, stack, out, entities)
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] != ">":
            i += 1
        if i >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
        name = text[start:i].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {offset}')
        argument, i = _parse_html_attributes(text, i, name, offset)
        if name == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
            )
        stack.append(_OpenTag(name, argument, out.u16, len(out.parts)))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.text(), entities


def _parse_html_attributes(text: str, i: int, tag: str, offset: int) -> tuple[str, int]:
    """Read attributes up to ``>``; returns the one argument the tag cares about."""
    n = len(text)
    argument = ""
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {offset}')
        if text[i] == ">":
            return argument, i + 1
        name_start = i
        while i < n and not text[i].isspace() and text[i] not in "=>":
            i += 1
        attribute = text[name_start:i].lower()
        while i < n and text[i].isspace():
            i += 1
        if i >= n or text[i] != "=":
            if tag == "blockquote" and attribute == "expandable":
                argument = "expandable"
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag"
                f' "{tag}" at byte offset {offset}'
            )
        i += 1
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {offset}')
        if text[i] in "'\"":
            quote = text[i]
            i += 1
            chars: list[str] = []
            while i < n and text[i] != quote:
                if text[i] == "&":
                    decoded, i = _decode_html_entity(text, i)
                    chars.append(decoded)
                else:
                    chars.append(text[i])
                    i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {offset}")
            i += 1
            value = "".join(chars)
        else:
            token_start = i
            while i < n and (text[i].isalnum() or text[i] in ".-"):
                i += 1
            if i < n and not text[i].isspace() and text[i] != ">":
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {_byte_offset(text, i)}"
                )
            value = text[token_start:i].lower()
        if tag == "a" and attribute == "href":
            argument = value
        elif tag == "code" and attribute == "class" and value.startswith("language-"):
            argument = value[len("language-") :]
        elif tag == "span" and attribute == "class" and value.startswith("tg-"):
            argument = value[len("tg-") :]
        elif tag == "tg-emoji" and attribute == "emoji-id":
            argument = value
        elif tag == "blockquote" and attribute == "expandable":
            argument = "expandable"


def _close_html_tag(
    text: str,
    i: int,
    begin: int,
    offset: int,
    stack: list[_OpenTag],
    out: _TextBuilder,
    entities: list[dict[str, Any]],
) -> int:
    """Handle ``</name>`` starting after the slash; returns the index after ``>``."""
    n = len(text)
    if not stack:
        raise EntityParseError(f"Unexpected end tag at byte offset {offset}")
    name_start = i
    while i < n and not text[i].isspace() and text[i] != ">":
        i += 1
    end_name = text[name_start:i].lower()
    while i < n and text[i].isspace():
        i += 1
    if i >= n or text[i] != ">":
        raise EntityParseError(f"Unclosed end tag at byte offset {offset}")
    opened = stack.pop()
    if end_name and end_name != opened.name:
        raise EntityParseError(
            f'Unmatched end tag at byte offset {offset}, expected "</{opened.name}>",'
            f' found "</{end_name}>"'
        )
    length = out.u16 - opened.start
    if length > 0:
        entity = _html_entity(opened, length, "".join(out.parts[opened.text_start :]))
        if entity is not None:
            if (
                opened.name == "pre"
                and entities
                and entities[-1]["type"] == "code"
                and entities[-1]["offset"] == opened.start
                and entities[-1]["length"] == length
            ):
                # <pre><code class="language-x">...</code></pre> is one pre entity.
                inner = entities.pop()
                if inner.get("language"):
                    entity["language"] = inner["language"]
            entities.append(entity)
    return i + 1


def _html_entity(tag: _OpenTag, length: int, inner_text: str) -> dict[str, Any] | None:
    entity: dict[str, Any] = {"offset": tag.start, "length": length}
    if tag.name == "a":
        url = tag.argument or inner_text
        user = re.fullmatch(r"tg://user\?id=(\d+)", url)
        if user:
            entity.update(
                type="text_mention",
                user={"id": int(user.group(1)), "is_bot": False, "first_name": inner_text},
            )
        elif url:
            entity.update(type="text_link", url=url)
        else:
            return None
    elif tag.name == "blockquote":
        entity["type"] = "expandable_blockquote" if tag.argument else "blockquote"
    elif tag.name == "tg-emoji":
        if not tag.argument.isdigit():
            raise EntityParseError(
                "Custom emoji entity must contain a valid custom emoji identifier"
                " (wording unverified)"
            )
        entity.update(type="custom_emoji", custom_emoji_id=tag.argument)
    else:
        entity["type"] = _HTML_ENTITY_TYPES[tag.name]
        if tag.name == "code" and tag.argument:
            entity["language"] = tag.argument
    return entity


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 the way Telegram does, refusing unescaped reserved characters.

    The classic production failure is an unescaped ``.`` or ``-`` in a date or a name;
    Telegram refuses the whole message, so the fake does too. Block quotes (``>`` at a
    line start) are accepted without producing an entity.
    """
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # kind, start (UTF-16), byte offset
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.add(text[i + 1])
            i += 2
            at_line_start = False
            continue
        kind = stack[-1][0] if stack else None
        reserved = "`" if kind in ("code", "pre") else _MDV2_RESERVED
        if char not in reserved:
            out.add(char)
            at_line_start = char == "\n"
            i += 1
            continue
        width = _mdv2_closing_width(text, i, kind)
        if width:
            kind, start, _ = stack.pop()
            i += width
            entity: dict[str, Any] = {"type": kind, "offset": start, "length": out.u16 - start}
            if kind == "text_link":
                url, i = _mdv2_link_target(text, i)
                if url is None:
                    entity = {}
                else:
                    entity["url"] = url
            if entity and entity["length"] > 0:
                entities.append(entity)
            continue
        offset = _byte_offset(text, i)
        if char == ">" and at_line_start:
            i += 1
            continue
        if char == "_":
            kind, width = ("underline", 2) if text.startswith("__", i) else ("italic", 1)
        elif char == "*":
            kind, width = "bold", 1
        elif char == "~":
            kind, width = "strikethrough", 1
        elif char == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        elif char == "[":
            kind, width = "text_link", 1
        elif char == "`" and text.startswith("```", i):
            newline = text.find("\n", i + 3)
            kind, width = "pre", (newline - i + 1 if newline != -1 else 3)
        elif char == "`":
            kind, width = "code", 1
        else:
            raise EntityParseError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        stack.append((kind, out.u16, offset))
        i += width
        at_line_start = False
    if stack:
        kind, _, offset = stack[-1]
        raise EntityParseError(
            f"Can't find end of {kind.replace('_', ' ').title().replace(' ', '')}"
            f" entity at byte offset {offset}"
        )
    return out.text(), entities


def _mdv2_closing_width(text: str, i: int, kind: str | None) -> int:
    """Width of the marker at ``i`` if it closes the innermost open entity, else 0."""
    char = text[i]
    if kind == "bold" and char == "*":
        return 1
    if kind == "italic" and char == "_" and not text.startswith("__", i):
        return 1
    if kind == "underline" and text.startswith("__", i):
        return 2
    if kind == "strikethrough" and char == "~":
        return 1
    if kind == "spoiler" and text.startswith("||", i):
        return 2
    if kind == "code" and char == "`":
        return 1
    if kind == "pre" and text.startswith("```", i):
        return 3
    if kind == "text_link" and char == "]":
        return 1
    return 0


def _mdv2_link_target(text: str, i: int) -> tuple[str | None, int]:
    """Read ``(url)`` after ``]``; inside it only ``)`` and ``\\`` need escaping."""
    if i >= len(text) or text[i] != "(":
        return None, i
    chars: list[str] = []
    j = i + 1
    while j < len(text) and text[j] != ")":
        if text[j] == "\\" and j + 1 < len(text):
            j += 1
        chars.append(text[j])
        j += 1
    if j >= len(text):
        raise EntityParseError(
            f"Can't find end of a url at byte offset {_byte_offset(text, i)} (wording unverified)"
        )
    return "".join(chars), j + 1


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse legacy Markdown: ``*bold* _italic_ `code` ```pre``` [text](url)``."""
    out = _TextBuilder()
    entities: list[dict[str, Any]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        offset = _byte_offset(text, i)
        if char == "[":
            close = text.find("]", i + 1)
            if close == -1 or not text.startswith("(", close + 1) or ")" not in text[close:]:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {offset}"
                )
            end = text.index(")", close)
            inner = text[i + 1 : close]
            start = out.u16
            out.add(inner)
            if inner:
                entities.append(
                    {
                        "type": "text_link",
                        "offset": start,
                        "length": _utf16_len(inner),
                        "url": text[close + 2 : end],
                    }
                )
            i = end + 1
            continue
        marker = "```" if text.startswith("```", i) else char
        close = text.find(marker, i + len(marker))
        if close == -1:
            raise EntityParseError(f"Can't find end of the entity starting at byte offset {offset}")
        inner = text[i + len(marker) : close]
        kind = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}[marker]
        start = out.u16
        out.add(inner)
        if inner:
            entities.append({"type": kind, "offset": start, "length": _utf16_len(inner)})
        i = close + len(marker)
    return out.text(), entities


def format_text(text: str, parse_mode: str | None) -> tuple[str, list[dict[str, Any]]]:
    """Apply ``parse_mode`` and Telegram's trimming; returns (plain text, entities).

    Telegram strips leading and trailing whitespace after parsing, so a message that is
    only spaces or only empty tags is "empty". Raises ApiError like the Bot API.
    """
    mode = (parse_mode or "").lower()
    entities: list[dict[str, Any]] = []
    try:
        if mode == "":
            plain = text
        elif mode == "html":
            plain, entities = parse_html(text)
        elif mode == "markdownv2":
            plain, entities = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, entities = parse_markdown(text)
        else:
            raise _bad_request("unsupported parse_mode")
    except EntityParseError as exc:
        raise _bad_request(f"can't parse entities: {exc}") from None
    stripped = plain.strip()
    if stripped != plain:
        shift = _utf16_len(plain) - _utf16_len(plain.lstrip())
        limit = _utf16_len(stripped)
        trimmed = []
        for entity in entities:
            start = max(entity["offset"] - shift, 0)
            end = min(entity["offset"] - shift + entity["length"], limit)
            if end > start:
                trimmed.append({**entity, "offset": start, "length": end - start})
        plain, entities = stripped, trimmed
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return plain, entities


# ----------------------------------------------------------------------- public data


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request (sendDocument/sendPhoto uploads)."""

    field: str
    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class Call:
    """One HTTP request the bot made, recorded once it was answered (or dropped).

    The call log is ordered by arrival, so a long poll that was pending while other
    calls completed still sits where it began. ``time`` is ``time.monotonic()`` at
    arrival, so tests can measure gaps (retry back-off, rate limits). ``status`` is the
    HTTP status answered, or ``None`` when fault injection held or dropped the request.
    ``connection`` numbers the TCP connection, to tell keep-alive reuse from reconnects.
    """

    method: str
    params: dict[str, Any]
    time: float
    status: int | None
    response: dict[str, Any] | None
    connection: int
    seq: int = 0

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class StoredMessage:
    """A message in a chat's history, as it currently looks (after edits).

    ``text`` is what the user sees (tags stripped, entities decoded); ``raw_text`` is what
    the bot sent, with ``parse_mode``. Documents keep their caption in ``text``.
    """

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str | None
    raw_text: str | None = None
    parse_mode: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    photo: list[dict[str, Any]] | None = None
    edit_date: int | None = None
    edits: int = 0
    deleted: bool = False
    reply_to_message_id: int | None = None


@dataclass
class _Chat:
    chat_id: int
    first_name: str
    username: str | None
    language_code: str | None
    last_name: str | None
    started: bool
    blocked: bool = False
    next_message_id: int = 1
    tokens: float = 0.0
    tokens_at: float = 0.0

    def chat_object(self) -> dict[str, Any]:
        if self.chat_id < 0:
            return {"id": self.chat_id, "type": "group", "title": self.first_name}
        chat: dict[str, Any] = {
            "id": self.chat_id,
            "type": "private",
            "first_name": self.first_name,
        }
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat

    def user_object(self) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": abs(self.chat_id),
            "is_bot": False,
            "first_name": self.first_name,
        }
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


@dataclass
class _Fault:
    method: str  # lower case, or "*" for any method
    kind: str
    remaining: int
    chat_id: int | None
    description: str | None
    retry_after: int
    deliver: bool
    hold: float


@dataclass
class _Poll:
    connection: _Handler
    cancelled: bool = False


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    filename: str
    mime_type: str


@dataclass(frozen=True)
class _Arrival:
    time: float
    seq: int
    connection: int


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class _Hang:
    """Answer nothing: hold the request (``seconds`` > 0) and/or drop the connection."""

    seconds: float


# --------------------------------------------------------------------- HTTP plumbing


class _Handler(BaseHTTPRequestHandler):
    """One connection. Parses HTTP, hands requests to FakeTelegram, writes the answer."""

    protocol_version = "HTTP/1.1"  # keep-alive, like api.telegram.org
    # Headers and body go out in two writes; without this each answer waits ~40 ms for a
    # delayed ACK, which would make every test and benchmark measure the fake, not the bot.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._connection_opened(self)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._connection_closed(self)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        """Silence per-request stderr logging; the call log is the record."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        fake = self.server.fake
        try:
            body = self._read_body()
        except ValueError as exc:
            self._write(_Reply(400, _json_bytes(_bad_request(str(exc)).payload())))
            return
        fake._request_started()
        try:
            action = fake._handle_request(self, self.command, self.path, self.headers, body)
            if isinstance(action, _Hang):
                fake._hold(self, action.seconds)
                self.close_connection = True
                return
            if fake.latency > 0 and not self.path.lower().endswith("/getupdates"):
                fake._hold(self, fake.latency)
            self._write(action)
        finally:
            # stop() waits for this, so a released long poll's answer is fully written
            # before the connection is shut down.
            fake._request_finished()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise ValueError("request body is too big")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("request body is too big")
        return self.rfile.read(length) if length else b""

    def _write(self, reply: _Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            if self.server.fake._stopping:
                self.close_connection = True
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(reply.body)
            self.wfile.flush()
        except OSError:
            # The client gave up (cancelled long poll, read timeout): nothing to answer.
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTelegram

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Keep handler crashes for the test instead of printing them to stderr."""
        exc = traceback.format_exc()
        if any(
            name in exc
            for name in ("BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError")
        ):
            return
        self.fake._record_error(exc)


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def _socket_closed_by_peer(sock: socket.socket) -> bool:
    """True if the client has closed this connection (EOF or reset pending)."""
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], list[UploadedFile]]:
    """Split a multipart/form-data body exactly (the email parser may rewrite bytes)."""
    header = _MimeHeader()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _bad_request("multipart boundary is missing (wording unverified)")
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    for raw in (b"\r\n" + body).split(delimiter)[1:]:
        if raw.startswith(b"--"):
            break
        head, _, content = raw[2:].partition(b"\r\n\r\n")
        part = _MimeHeader()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            part[name.strip()] = value.strip()
        disposition = part.get("content-disposition", "")
        part_header = _MimeHeader()
        part_header["content-disposition"] = disposition
        field_name = part_header.get_param("name", header="content-disposition")
        filename = part_header.get_param("filename", header="content-disposition")
        if not isinstance(field_name, str):
            continue
        field_name = _html5_unescape(field_name)
        if isinstance(filename, str):
            files.append(
                UploadedFile(
                    field=field_name,
                    filename=_html5_unescape(filename),
                    content=content,
                    content_type=part.get("content-type", "application/octet-stream"),
                )
            )
        else:
            fields[field_name] = content.decode("utf-8")
    return fields, files


def _html5_unescape(value: str) -> str:
    """httpx percent-escapes ``"`` and newlines in multipart names (HTML5 form rules)."""
    return value.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")


def _coerce_params(raw: dict[str, Any]) -> dict[str, Any]:
    """Turn form strings into the types Telegram reads them as."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, UploadedFile):
            params[key] = value
        elif key in _JSON_FIELDS and isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError:
                what = "reply keyboard markup" if key == "reply_markup" else key
                raise _bad_request(f"can't parse {what} JSON object") from None
        elif key in _INT_FIELDS and isinstance(value, str):
            try:
                params[key] = int(value)
            except ValueError:
                if key == "chat_id":
                    params[key] = value  # "@channelusername"
                else:
                    raise _bad_request(
                        f'field "{key}" must be of type Integer (wording unverified)'
                    ) from None
        elif key in _FLOAT_FIELDS and isinstance(value, str):
            try:
                params[key] = float(value)
            except ValueError:
                raise _bad_request(
                    f'field "{key}" must be of type Integer (wording unverified)'
                ) from None
        elif key in _BOOL_FIELDS and isinstance(value, str):
            params[key] = value.strip().lower() in ("true", "1")
        else:
            params[key] = value
    return params


def _normalise_markup(markup: Any) -> Any:
    """Drop nulls so markups compare equal however the client serialised them."""
    if isinstance(markup, dict):
        return {k: _normalise_markup(v) for k, v in markup.items() if v is not None}
    if isinstance(markup, list):
        return [_normalise_markup(v) for v in markup]
    return markup


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Check a reply_markup like Telegram; returns the inline keyboard to echo, if any.

    Telegram echoes only inline keyboards in the returned Message; reply keyboards,
    ReplyKeyboardRemove and ForceReply are accepted but not echoed.
    """
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        if inline_only:
            raise _bad_request("inline keyboard expected (wording unverified)")
        if any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            return None
        raise _bad_request("can't parse reply keyboard markup JSON object")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request(
            'field "inline_keyboard" must be an Array of Arrays (wording unverified)'
        )
    for row in rows:
        for button in row:
            _validate_inline_button(button)
    normalised = _normalise_markup(markup)
    return {"inline_keyboard": normalised["inline_keyboard"]}


def _validate_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = button.get("text")
    if not isinstance(text, str):
        raise _bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    if not text.strip():
        raise _bad_request("BUTTON_TEXT_INVALID (wording unverified)")
    actions = [key for key in _INLINE_BUTTON_ACTIONS if button.get(key) is not None]
    if not actions:
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    data = button.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
    ):
        raise _bad_request("BUTTON_DATA_INVALID")
    url = button.get("url")
    if url is not None and (
        not isinstance(url, str) or not re.match(r"^(https?|tg)://[^\s/]+", url)
    ):
        raise _bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _content_kind(data: bytes) -> str | None:
    """Recognise the image formats Telegram accepts for sendPhoto."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


# -------------------------------------------------------------------------- the fake


class FakeTelegram:
    """A strict Telegram Bot API server on 127.0.0.1 for tests.

    Construct, then ``start()`` (or use ``with``). Point PTB at ``base_url`` and
    ``base_file_url``. Register the users the bot may write to with ``add_chat``; queue
    their actions with ``send_text`` / ``press_button``; inspect ``calls``, ``messages``;
    inject failures with ``fail_next`` / ``block_chat`` / ``enforce_limits``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "ank_test_bot",
        bot_first_name: str = "ANK Test Bot",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if not _TOKEN_RE.match(token):
            raise ValueError(f"token must look like '<digits>:<letters>', got {token!r}")
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self._host = host
        self._requested_port = port

        self.enforce_limits = False
        """Refuse bursts beyond Telegram's flood limits with 429 (off by default)."""
        self.global_rate = 30
        """Messages per second over all chats when ``enforce_limits`` is on."""
        self.chat_rate = 1.0
        """Sustained messages per second to one chat when ``enforce_limits`` is on."""
        self.chat_burst = 3
        """Messages one chat may receive at once before ``chat_rate`` applies."""
        self.default_hold = 30.0
        """Longest a "timeout" fault holds a request when the client does not give up."""
        self.latency = 0.0
        """Seconds every answer but getUpdates waits before it is written (a distant
        Telegram); the call is performed, and counted for the limits, on arrival."""

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._calls: list[Call] = []
        self._errors: list[str] = []
        self._chats: dict[int, _Chat] = {}
        self._history: dict[int, list[StoredMessage]] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] | None = None
        self._polls: list[_Poll] = []
        self._faults: list[_Fault] = []
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._callbacks: dict[str, dict[str, Any]] = {}
        self._callback_answers: dict[str, dict[str, Any]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._recent_sends: deque[float] = deque()
        self._connections: dict[int, _Handler] = {}
        self._connection_ids = itertools.count(1)
        self._arrivals = itertools.count(1)
        self._connection_numbers: dict[int, int] = {}
        self._threads: set[threading.Thread] = set()
        self._busy = 0
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.count_429 = 0
        """How many 429 answers were sent (injected or from ``enforce_limits``)."""

        self._httpd: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._stopping = False

    # ------------------------------------------------------------- lifecycle

    def start(self) -> FakeTelegram:
        """Bind a free port and serve in a daemon thread."""
        if self._httpd is not None:
            raise RuntimeError("FakeTelegram already started")
        httpd = _Server((self._host, self._requested_port), _Handler)
        httpd.fake = self
        # Writing one byte here wakes every request held by a "timeout" fault on stop().
        self._wake_r, self._wake_w = socket.socketpair()
        self._httpd = httpd
        self._serve_thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )
        self._serve_thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving without hanging: pending long polls are answered, held requests
        and idle keep-alive connections are closed, handler threads are joined."""
        httpd = self._httpd
        if httpd is None or self._stopping:
            return
        with self._cond:
            self._stopping = True
            self._notify()
        assert self._wake_r is not None
        assert self._wake_w is not None
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        deadline = time.monotonic() + timeout
        httpd.shutdown()
        with self._cond:
            # Let in-flight answers (released long polls) reach their clients first.
            self._cond.wait_for(lambda: self._busy == 0, max(deadline - time.monotonic(), 0))
            connections = list(self._connections.values())
            threads = list(self._threads)
        for handler in connections:
            with contextlib.suppress(OSError):
                handler.connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._serve_thread is not None:
            self._serve_thread.join(max(deadline - time.monotonic(), 0.1))
        for thread in threads:
            thread.join(max(deadline - time.monotonic(), 0.05))
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeTelegram is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``; PTB appends the token."""
        return f"http://{self._host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``ApplicationBuilder().base_file_url(...)``; serves uploaded files."""
        return f"http://{self._host}:{self.port}/file/bot"

    # -------------------------------------------------------------- test side

    def add_chat(
        self,
        chat_id: int,
        first_name: str = "Test",
        *,
        username: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
        started: bool = True,
    ) -> dict[str, Any]:
        """Make a private chat known to the bot; returns its Chat object.

        ``started=False`` models a user who never pressed Start: Telegram refuses
        messages to them with 403 until they write to the bot (``send_text``).
        """
        with self._cond:
            chat = _Chat(chat_id, first_name, username, language_code, last_name, started)
            chat.tokens = float(self.chat_burst)
            chat.tokens_at = time.monotonic()
            self._chats[chat_id] = chat
            self._history.setdefault(chat_id, [])
            self._notify()
            return chat.chat_object()

    def block_chat(self, chat_id: int, blocked: bool = True) -> None:
        """The user blocks (or unblocks) the bot: every send to the chat gets 403."""
        with self._cond:
            self._require_chat(chat_id).blocked = blocked
            self._notify()

    def unblock_chat(self, chat_id: int) -> None:
        self.block_chat(chat_id, blocked=False)

    def send_text(self, chat_id: int, text: str) -> dict[str, Any]:
        """Queue a message from the chat's user; returns the queued Update.

        ``/command`` words get ``bot_command`` entities as Telegram adds them, so PTB's
        CommandHandler matches and ``context.args`` holds the rest. Writing to the bot
        also unblocks/starts the chat, as it does on Telegram.
        """
        if not text:
            raise ValueError("a user cannot send an empty message")
        with self._cond:
            chat = self._require_chat(chat_id)
            chat.blocked = False
            chat.started = True
            message_id = chat.next_message_id
            chat.next_message_id += 1
            now = int(time.time())
            entities = [
                {
                    "type": "bot_command",
                    "offset": _utf16_len(text[: m.start()]),
                    "length": _utf16_len(m.group()),
                }
                for m in _BOT_COMMAND_IN_TEXT_RE.finditer(text)
            ]
            stored = StoredMessage(
                message_id, chat_id, False, now, text, raw_text=text, entities=entities
            )
            self._history[chat_id].append(stored)
            return self._queue("message", self._message_object(stored))

    def press_button(
        self, chat_id: int, message_id: int, data: str, *, check: bool = True
    ) -> dict[str, Any]:
        """Queue a callback_query as if the user pressed a button; returns the Update.

        With ``check`` the message must be a live bot message whose inline keyboard has
        a button with exactly this ``callback_data`` (a user can press nothing else);
        pass ``check=False`` to forge stale or tampered data.
        """
        with self._cond:
            chat = self._require_chat(chat_id)
            stored = self._find_message(chat_id, message_id)
            if check:
                if stored is None or not stored.from_bot:
                    raise ValueError(f"no bot message {message_id} in chat {chat_id}")
                buttons = [
                    b for row in (stored.reply_markup or {}).get("inline_keyboard", []) for b in row
                ]
                if not any(b.get("callback_data") == data for b in buttons):
                    raise ValueError(
                        f"message {message_id} has no button with callback_data {data!r}"
                    )
            query_id = f"{self.bot_id}{chat_id}{len(self._callbacks) + 1:06d}"
            query: dict[str, Any] = {
                "id": query_id,
                "from": chat.user_object(),
                "chat_instance": f"-{abs(chat_id) * 7919 + self.bot_id}",
                "data": data,
            }
            if stored is not None:
                query["message"] = self._message_object(stored)
            self._callbacks[query_id] = query
            return self._queue("callback_query", query)

    def queue_update(self, update_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue any other update (e.g. ``my_chat_member``); the id is assigned here."""
        with self._cond:
            return self._queue(update_type, payload)

    def fail_next(
        self,
        method: str,
        kind: str,
        count: int = 1,
        chat_id: int | None = None,
        *,
        description: str | None = None,
        retry_after: int = 1,
        deliver: bool = False,
        hold: float | None = None,
    ) -> None:
        """Make the next ``count`` matching calls fail.

        ``method`` is case-insensitive, ``"*"`` matches any. Kinds: ``"429"``
        (``retry_after`` seconds), ``"500"``, ``"502"`` (nginx HTML page, as Telegram's
        front end sends), ``"403"``, ``"400"`` (``description``), ``"timeout"`` (hold
        until the client gives up, the server stops or ``hold`` seconds pass, then close
        without an answer) and ``"drop"`` (close without an answer at once).
        ``deliver=True`` first performs the call for real, modelling the ambiguous
        failure where Telegram sent the message but the answer was lost.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}, got {kind!r}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._cond:
            self._faults.append(
                _Fault(
                    method=method.lower(),
                    kind=kind,
                    remaining=count,
                    chat_id=chat_id,
                    description=description,
                    retry_after=max(int(retry_after), 1),
                    deliver=deliver,
                    hold=self.default_hold if hold is None else hold,
                )
            )

    def clear_faults(self) -> None:
        with self._cond:
            self._faults.clear()

    @property
    def calls(self) -> list[Call]:
        """Snapshot of every request, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_for(self, method: str) -> list[Call]:
        """Requests for one method (case-insensitive), including refused ones."""
        wanted = method.lower()
        with self._lock:
            return [c for c in self._calls if c.method.lower() == wanted]

    def method_names(self) -> list[str]:
        """Method of each call in order; handy for asserting a sequence."""
        with self._lock:
            return [c.method for c in self._calls]

    def clear_calls(self) -> None:
        with self._cond:
            self._calls.clear()

    def messages(self, chat_id: int, *, include_user: bool = False) -> list[StoredMessage]:
        """Copies of the chat's current messages in order (deleted ones left out).

        Bot messages only unless ``include_user``.
        """
        with self._lock:
            return [
                copy.deepcopy(m)
                for m in self._history.get(chat_id, [])
                if not m.deleted and (include_user or m.from_bot)
            ]

    def texts(self, chat_id: int) -> list[str | None]:
        """Current text (or caption) of each bot message in the chat."""
        return [m.text for m in self.messages(chat_id)]

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        with self._lock:
            return copy.deepcopy(list(self._updates))

    @property
    def active_polls(self) -> int:
        """getUpdates requests parked on the server right now (for "bot is polling")."""
        with self._lock:
            return sum(not poll.cancelled for poll in self._polls)

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """The answerCallbackQuery params for a query, or None if unanswered."""
        with self._lock:
            answer = self._callback_answers.get(query_id)
            return dict(answer) if answer is not None else None

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """Commands currently set for a scope/language (default scope if None)."""
        with self._lock:
            key = (_scope_key(scope), language_code)
            return copy.deepcopy(self._commands.get(key, []))

    def file_content(self, file_id: str) -> bytes:
        """Bytes uploaded under a file_id (what a user would download)."""
        with self._lock:
            return self._files[file_id].content

    @property
    def errors(self) -> list[str]:
        """Tracebacks of crashes inside the fake itself; tests should expect none."""
        with self._lock:
            return list(self._errors)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Block until ``predicate()`` is truthy and return its value.

        Re-evaluated on every state change of the server (call recorded, update queued,
        poll answered), never by sleeping. Raises TimeoutError with the call log.
        Do not call this from a coroutine that shares the loop with PTB: use
        ``wait_for_async``, or the loop (and so the bot) stands still while you wait.
        """
        with self._cond:
            ok = self._cond.wait_for(predicate, timeout)
            if not ok:
                raise TimeoutError(
                    f"condition not met within {timeout} s; calls: {self._call_summary()}"
                )
            return ok

    async def wait_for_async(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """``wait_for`` for coroutines: lets the event loop (and PTB) keep running."""
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        deadline = loop.time() + timeout
        with self._lock:
            self._async_waiters.add(waiter)
        try:
            while True:
                event.clear()
                with self._lock:
                    result = predicate()
                if result:
                    return result
                remaining = deadline - loop.time()
                if remaining <= 0:
                    with self._lock:
                        summary = self._call_summary()
                    raise TimeoutError(f"condition not met within {timeout} s; calls: {summary}")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            with self._lock:
                self._async_waiters.discard(waiter)

    # ------------------------------------------------------------- internals

    def _notify(self) -> None:
        """Wake sync waiters, long polls and async waiters. Caller holds the lock."""
        self._cond.notify_all()
        for loop, event in list(self._async_waiters):
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # loop closed: that waiter is gone
                self._async_waiters.discard((loop, event))

    def _call_summary(self) -> str:
        return ", ".join(f"{c.method}->{c.status}" for c in self._calls[-30:]) or "none"

    def _request_started(self) -> None:
        with self._cond:
            self._busy += 1

    def _request_finished(self) -> None:
        with self._cond:
            self._busy -= 1
            self._notify()

    def _record_call(self, call: Call) -> None:
        """Insert in arrival order and wake waiters. Caller holds the lock."""
        insort(self._calls, call, key=lambda c: c.seq)
        self._notify()

    def _record_error(self, text: str) -> None:
        with self._cond:
            self._errors.append(text)
            self._notify()

    def _connection_opened(self, handler: _Handler) -> None:
        with self._cond:
            self._connections[id(handler)] = handler
            self._connection_numbers[id(handler)] = next(self._connection_ids)
            self._threads.add(threading.current_thread())

    def _connection_closed(self, handler: _Handler) -> None:
        with self._cond:
            self._connections.pop(id(handler), None)
            self._threads.discard(threading.current_thread())
            self._notify()

    def _require_chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            raise KeyError(f"unknown chat {chat_id}: call add_chat first")
        return chat

    def _queue(self, update_type: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, update_type: payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return copy.deepcopy(update)

    def _find_message(self, chat_id: int, message_id: int) -> StoredMessage | None:
        for stored in self._history.get(chat_id, []):
            if stored.message_id == message_id and not stored.deleted:
                return stored
        return None

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _message_object(self, stored: StoredMessage) -> dict[str, Any]:
        chat = self._chats[stored.chat_id]
        message: dict[str, Any] = {
            "message_id": stored.message_id,
            "from": self._bot_user() if stored.from_bot else chat.user_object(),
            "chat": chat.chat_object(),
            "date": stored.date,
        }
        if stored.edit_date is not None:
            message["edit_date"] = stored.edit_date
        if stored.reply_to_message_id is not None:
            replied = self._find_message(stored.chat_id, stored.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = self._message_object(replied)
        media = stored.document is not None or stored.photo is not None
        if stored.document is not None:
            message["document"] = dict(stored.document)
        if stored.photo is not None:
            message["photo"] = [dict(p) for p in stored.photo]
        if stored.text is not None and stored.text != "":
            message["caption" if media else "text"] = stored.text
            if stored.entities:
                message["caption_entities" if media else "entities"] = copy.deepcopy(
                    stored.entities
                )
        if stored.reply_markup is not None:
            message["reply_markup"] = copy.deepcopy(stored.reply_markup)
        return message

    def _hold(self, handler: _Handler, seconds: float) -> None:
        """Keep a request unanswered until the client hangs up, stop(), or ``seconds``."""
        deadline = time.monotonic() + seconds
        sock = handler.connection
        wake = self._wake_r
        assert wake is not None
        while not self._stopping:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                readable, _, _ = select.select([sock, wake], [], [], remaining)
            except (OSError, ValueError):
                return
            if readable:
                return  # stopping, or the client closed/reset the connection

    # ------------------------------------------------------------- dispatch

    def _handle_request(
        self, handler: _Handler, verb: str, raw_path: str, headers: Any, body: bytes
    ) -> _Reply | _Hang:
        """Route one request; always returns what to answer (never raises)."""
        path = urlsplit(raw_path)
        with self._cond:
            arrival = _Arrival(
                time.monotonic(), next(self._arrivals), self._connection_numbers.get(id(handler), 0)
            )
        try:
            if self._stopping:
                return _Hang(0)
            file_match = re.fullmatch(r"/file/bot([^/]+)/(.+)", unquote(path.path))
            if file_match and verb == "GET":
                return self._serve_file(file_match.group(1), file_match.group(2))
            match = re.fullmatch(r"/bot([^/]*)/([A-Za-z0-9_]*)", path.path)
            if match is None or not _TOKEN_RE.match(match.group(1)):
                return self._finish("?", {}, arrival, ApiError(404, "Not Found"))
            token, requested = match.groups()
            method = _METHODS.get(requested.lower(), requested)
            try:
                raw = dict(parse_qsl(path.query, keep_blank_values=True))
                raw.update(self._parse_body(headers, body))
                params = _coerce_params(raw)
            except ApiError as exc:
                return self._finish(method, {}, arrival, exc)
            if token != self.token:
                return self._finish(method, params, arrival, ApiError(401, "Unauthorized"))
            if requested.lower() not in _METHODS:
                return self._finish(method, params, arrival, ApiError(404, "Not Found"))
            return self._run_method(handler, method, params, arrival)
        except Exception:  # a bug in the fake must fail the test, not hang the client
            self._record_error(traceback.format_exc())
            return _Reply(500, _json_bytes(ApiError(500, "Internal Server Error").payload()))

    def _parse_body(self, headers: Any, body: bytes) -> dict[str, Any]:
        if not body:
            return {}
        content_type = headers.get("Content-Type", "")
        media_type = content_type.split(";")[0].strip().lower()
        try:
            if media_type == "application/x-www-form-urlencoded":
                return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            if media_type == "application/json":
                data = json.loads(body.decode("utf-8"))
                if not isinstance(data, dict):
                    raise _bad_request("request body must be a JSON object (wording unverified)")
                return data
        except (UnicodeDecodeError, ValueError):
            raise _bad_request("can't parse request body (wording unverified)") from None
        if media_type == "multipart/form-data":
            fields, files = _parse_multipart(body, content_type)
            merged: dict[str, Any] = dict(fields)
            for upload in files:
                merged[upload.field] = upload
            for key, value in list(merged.items()):
                if isinstance(value, str) and value.startswith("attach://"):
                    attached = merged.get(value[len("attach://") :])
                    if isinstance(attached, UploadedFile):
                        merged[key] = attached
            return merged
        return {}

    def _run_method(
        self,
        handler: _Handler,
        method: str,
        params: dict[str, Any],
        arrival: _Arrival,
    ) -> _Reply | _Hang:
        key = method.lower()
        fault = self._take_fault(key, params)
        if fault is not None and not fault.deliver:
            return self._fault_reply(method, params, arrival, fault)
        try:
            if key == "getupdates":
                result: Any = self._get_updates(handler, params)
            else:
                with self._cond:
                    result = self._dispatch_locked(key, params)
            outcome: dict[str, Any] | ApiError = {"ok": True, "result": result}
        except ApiError as exc:
            outcome = exc
        if fault is not None:
            return self._fault_reply(method, params, arrival, fault)
        return self._finish(method, params, arrival, outcome)

    def _finish(
        self,
        method: str,
        params: dict[str, Any],
        arrival: _Arrival,
        outcome: dict[str, Any] | ApiError,
    ) -> _Reply:
        if isinstance(outcome, ApiError):
            status, payload = outcome.status, outcome.payload()
        else:
            status, payload = 200, outcome
        with self._cond:
            if status == 429:
                self.count_429 += 1
            self._record_call(
                Call(method, params, arrival.time, status, payload, arrival.connection, arrival.seq)
            )
            self._notify()
        return _Reply(status, _json_bytes(payload))

    def _take_fault(self, method: str, params: dict[str, Any]) -> _Fault | None:
        with self._cond:
            for fault in self._faults:
                if fault.method not in ("*", method):
                    continue
                if fault.chat_id is not None and params.get("chat_id") != fault.chat_id:
                    continue
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return replace(fault)
        return None

    def _fault_reply(
        self,
        method: str,
        params: dict[str, Any],
        arrival: _Arrival,
        fault: _Fault,
    ) -> _Reply | _Hang:
        if fault.kind in ("timeout", "drop"):
            with self._cond:
                self._record_call(
                    Call(method, params, arrival.time, None, None, arrival.connection, arrival.seq)
                )
                self._notify()
            return _Hang(fault.hold if fault.kind == "timeout" else 0)
        if fault.kind == "502":
            with self._cond:
                self._record_call(
                    Call(method, params, arrival.time, 502, None, arrival.connection, arrival.seq)
                )
                self._notify()
            return _Reply(502, _BAD_GATEWAY_HTML, "text/html")
        error = {
            "429": ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            ),
            "500": ApiError(500, "Internal Server Error"),
            "403": ApiError(403, fault.description or _BLOCKED),
            "400": ApiError(
                400, _with_prefix(fault.description or "injected failure", "Bad Request: ")
            ),
        }[fault.kind]
        return self._finish(method, params, arrival, error)

    def _dispatch_locked(self, key: str, params: dict[str, Any]) -> Any:
        handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "getme": self._get_me,
            "logout": lambda p: True,
            "close": lambda p: True,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": lambda p: {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            },
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "senddocument": self._send_document,
            "sendphoto": self._send_photo,
            "sendchataction": self._send_chat_action,
            "getchat": self._get_chat,
            "getfile": self._get_file,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
        }
        return handlers[key](params)

    # ---------------------------------------------------------- methods

    def _get_me(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request(
                "can't parse commands JSON object"
                if commands is not None
                else 'parameter "commands" is required (wording unverified)'
            )
        if len(commands) > MAX_COMMANDS:
            raise _bad_request("too many commands specified (wording unverified)")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand (wording unverified)")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME_RE.match(name):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID (wording unverified)")
            cleaned.append({"command": name, "description": description})
        self._commands[self._command_key(params)] = cleaned
        return True

    def _command_key(self, params: dict[str, Any]) -> tuple[str, str]:
        language = params.get("language_code") or ""
        if language and not _LANGUAGE_CODE_RE.match(str(language)):
            raise _bad_request("invalid language code specified (wording unverified)")
        scope = params.get("scope")
        if scope is not None and (not isinstance(scope, dict) or "type" not in scope):
            raise _bad_request("can't parse BotCommandScope (wording unverified)")
        return _scope_key(scope), str(language)

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self._commands.pop(self._command_key(params), None)
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return copy.deepcopy(self._commands.get(self._command_key(params), []))

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _chat_for_send(self, params: dict[str, Any]) -> _Chat:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, _BLOCKED)
        if not chat.started:
            raise ApiError(403, _NOT_STARTED)
        return chat

    def _check_rate(self, chat: _Chat) -> None:
        """Telegram's flood limits: ~30 msg/s overall, ~1 msg/s per chat after a burst."""
        if not self.enforce_limits:
            return
        now = time.monotonic()
        while self._recent_sends and now - self._recent_sends[0] >= 1.0:
            self._recent_sends.popleft()
        chat.tokens = min(
            float(self.chat_burst), chat.tokens + (now - chat.tokens_at) * self.chat_rate
        )
        chat.tokens_at = now
        wait = 0.0
        if len(self._recent_sends) >= self.global_rate:
            wait = 1.0 - (now - self._recent_sends[0])
        if chat.tokens < 1.0:
            wait = max(wait, (1.0 - chat.tokens) / self.chat_rate)
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )
        chat.tokens -= 1.0
        self._recent_sends.append(now)

    def _new_bot_message(
        self, chat: _Chat, params: dict[str, Any], text: str, entities: list[dict[str, Any]]
    ) -> StoredMessage:
        reply_to = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply"))
        if reply_to is not None and self._find_message(chat.chat_id, int(reply_to)) is None:
            if not allow_missing:
                raise _bad_request("message to be replied not found")
            reply_to = None
        markup = validate_reply_markup(params.get("reply_markup"))
        self._check_rate(chat)
        stored = StoredMessage(
            message_id=chat.next_message_id,
            chat_id=chat.chat_id,
            from_bot=True,
            date=int(time.time()),
            text=text,
            raw_text=params.get("text", params.get("caption")),
            parse_mode=params.get("parse_mode"),
            entities=entities,
            reply_markup=markup,
            reply_to_message_id=int(reply_to) if reply_to is not None else None,
        )
        chat.next_message_id += 1
        self._history[chat.chat_id].append(stored)
        return stored

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params)
        text, entities = self._message_text(params, "text", MAX_TEXT_LENGTH)
        stored = self._new_bot_message(chat, params, text, entities)
        return self._message_object(stored)

    def _message_text(
        self, params: dict[str, Any], key: str, limit: int
    ) -> tuple[str, list[dict[str, Any]]]:
        raw = params.get(key)
        if raw is None and key == "caption":
            return "", []
        if not isinstance(raw, str):
            raw = "" if raw is None else str(raw)
        text, entities = format_text(raw, params.get("parse_mode"))
        if "parse_mode" not in params or not params.get("parse_mode"):
            given = params.get("entities" if key == "text" else "caption_entities")
            if given is not None:
                entities = self._check_entities(given, text)
        if not text and key == "text":
            raise _bad_request("message text is empty")
        if len(text) > limit:
            raise _bad_request(
                "message is too long" if key == "text" else "message caption is too long"
            )
        return text, entities

    def _check_entities(self, given: Any, text: str) -> list[dict[str, Any]]:
        if not isinstance(given, list) or not all(isinstance(e, dict) for e in given):
            raise _bad_request("can't parse entities JSON object (wording unverified)")
        size = _utf16_len(text)
        for entity in given:
            offset, length = entity.get("offset"), entity.get("length")
            if (
                not isinstance(offset, int)
                or not isinstance(length, int)
                or offset < 0
                or length < 0
                or offset + length > size
                or "type" not in entity
            ):
                raise _bad_request(
                    "can't parse entities: entity out of text bounds (wording unverified)"
                )
        return [e for e in given if e["length"] > 0]

    def _editable(self, params: dict[str, Any]) -> StoredMessage:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, _BLOCKED)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad_request("message identifier is not specified")
        stored = self._find_message(chat.chat_id, message_id)
        if stored is None:
            raise _bad_request("message to edit not found")
        if not stored.from_bot:
            raise _bad_request("message can't be edited")
        return stored

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._editable(params)
        if stored.document is not None or stored.photo is not None:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._message_text(params, "text", MAX_TEXT_LENGTH)
        # Without reply_markup Telegram removes the inline keyboard.
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if text == stored.text and entities == stored.entities and markup == stored.reply_markup:
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        stored.text, stored.entities, stored.reply_markup = text, entities, markup
        stored.raw_text, stored.parse_mode = params.get("text"), params.get("parse_mode")
        self._mark_edited(stored)
        return self._message_object(stored)

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._editable(params)
        markup = validate_reply_markup(params.get("reply_markup"), inline_only=True)
        if markup == stored.reply_markup:
            raise _bad_request(_NOT_MODIFIED.removeprefix("Bad Request: "))
        stored.reply_markup = markup
        self._mark_edited(stored)
        return self._message_object(stored)

    def _mark_edited(self, stored: StoredMessage) -> None:
        stored.edit_date = int(time.time())
        stored.edits += 1

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            raise _bad_request("chat not found")
        message_id = params.get("message_id")
        stored = self._find_message(chat_id, message_id) if isinstance(message_id, int) else None
        if stored is None:
            raise _bad_request("message to delete not found")
        stored.deleted = True
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = params.get("callback_query_id")
        if (
            not isinstance(query_id, str)
            or query_id not in self._callbacks
            or query_id in self._callback_answers
        ):
            raise _bad_request(_QUERY_TOO_OLD.removeprefix("Bad Request: "))
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG (wording unverified)")
        self._callback_answers[query_id] = dict(params)
        return True

    def _store_upload(self, value: Any, what: str, max_bytes: int) -> _StoredFile:
        if isinstance(value, UploadedFile):
            if not value.content:
                raise _bad_request("file must be non-empty")
            if len(value.content) > max_bytes:
                raise ApiError(413, "Request Entity Too Large")
            number = next(self._file_ids)
            stored = _StoredFile(
                file_id=f"BQACAgIAAxkBAAI{number:06d}",
                file_unique_id=f"AgAD{number:06d}",
                file_path=f"{what}s/file_{number}{_extension(value.filename)}",
                content=value.content,
                filename=value.filename,
                mime_type=value.content_type,
            )
            self._files[stored.file_id] = stored
            return stored
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise _bad_request("failed to get HTTP URL content (the fake fetches no URLs)")
        if value is None or value == "":
            raise _bad_request(f"there is no {what} in the request")
        raise _bad_request("wrong file identifier/HTTP URL specified")

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params)
        upload = self._store_upload(params.get("document"), "document", MAX_DOCUMENT_BYTES)
        caption, entities = self._message_text(params, "caption", MAX_CAPTION_LENGTH)
        stored = self._new_bot_message(chat, params, caption, entities)
        stored.document = {
            "file_name": upload.filename,
            "mime_type": upload.mime_type,
            "file_id": upload.file_id,
            "file_unique_id": upload.file_unique_id,
            "file_size": len(upload.content),
        }
        return self._message_object(stored)

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for_send(params)
        upload = self._store_upload(params.get("photo"), "photo", MAX_PHOTO_BYTES)
        if _content_kind(upload.content) is None:
            raise _bad_request("IMAGE_PROCESS_FAILED")
        caption, entities = self._message_text(params, "caption", MAX_CAPTION_LENGTH)
        stored = self._new_bot_message(chat, params, caption, entities)
        stored.photo = [
            {
                "file_id": upload.file_id,
                "file_unique_id": upload.file_unique_id,
                "width": 1,
                "height": 1,
                "file_size": len(upload.content),
            }
        ]
        return self._message_object(stored)

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        self._chat_for_send(params)
        if not params.get("action"):
            raise _bad_request("action is empty (wording unverified)")
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        chat = self._chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise _bad_request("chat not found")
        return {
            **chat.chat_object(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
            },
        }

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self._files.get(str(params.get("file_id", "")))
        if stored is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _set_chat_menu_button(self, params: dict[str, Any]) -> bool:
        chat_id = params.get("chat_id")
        if chat_id is not None and chat_id not in self._chats:
            raise _bad_request("chat not found")
        button = params.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "default",
            "commands",
            "web_app",
        ):
            raise _bad_request("can't parse menu button JSON object (wording unverified)")
        self._menu_buttons[chat_id] = button
        return True

    def _get_chat_menu_button(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = params.get("chat_id")
        return dict(
            self._menu_buttons.get(chat_id, self._menu_buttons.get(None)) or {"type": "commands"}
        )

    def _serve_file(self, token: str, file_path: str) -> _Reply:
        with self._cond:
            if token != self.token:
                return _Reply(401, _json_bytes(ApiError(401, "Unauthorized").payload()))
            for stored in self._files.values():
                if stored.file_path == file_path:
                    return _Reply(200, stored.content, stored.mime_type)
        return _Reply(404, _json_bytes(ApiError(404, "Not Found").payload()))

    # ------------------------------------------------------------ getUpdates

    def _get_updates(self, handler: _Handler, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long polling with Telegram's confirm-by-offset semantics and 409 on overlap."""
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), 50.0)
        allowed = params.get("allowed_updates")
        with self._cond:
            for poll in self._polls:
                if poll.connection is handler or poll.cancelled:
                    continue
                if _socket_closed_by_peer(poll.connection.connection):
                    # The client abandoned that poll (PTB cancels it on stop): not a rival.
                    poll.cancelled = True
                    self._notify()
                    continue
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make"
                    " sure that only one bot instance is running",
                )
            if isinstance(allowed, list):
                self._allowed_updates = frozenset(allowed) or None
            if offset > 0:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
            elif offset < 0:
                while len(self._updates) > -offset:
                    self._updates.popleft()
            poll = _Poll(handler)
            self._polls.append(poll)
            self._notify()
            deadline = time.monotonic() + timeout
            try:
                while True:
                    self._drop_unwanted_updates()
                    if self._updates or self._stopping or poll.cancelled:
                        break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            finally:
                self._polls.remove(poll)
                self._notify()
            return copy.deepcopy(list(self._updates)[:limit])

    def _drop_unwanted_updates(self) -> None:
        """Telegram never delivers update types the bot did not ask for."""
        allowed = self._allowed_updates

        def wanted(update: dict[str, Any]) -> bool:
            kind = _update_type(update)
            return kind in allowed if allowed is not None else kind not in _OPT_IN_UPDATE_TYPES

        kept = [u for u in self._updates if wanted(u)]
        if len(kept) != len(self._updates):
            self._updates = deque(kept)


def _update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _scope_key(scope: dict[str, Any] | None) -> str:
    if scope is None or scope == {"type": "default"}:
        return "default"
    return json.dumps(scope, sort_keys=True)


def _with_prefix(text: str, prefix: str) -> str:
    return text if text.startswith(prefix) else prefix + text


def _extension(filename: str) -> str:
    match = re.search(r"\.[A-Za-z0-9]{1,8}$", filename)
    return match.group() if match else ""


@pytest.fixture(name="fake_telegram")
def fake_telegram_fixture() -> Iterator[FakeTelegram]:
    """A started FakeTelegram with DEFAULT_TOKEN; fails the test if the fake crashed.

    Import it into a test module with
    ``from tests.fake_telegram import fake_telegram_fixture  # noqa: F401`` and request
    ``fake_telegram`` as an argument.
    """
    server = FakeTelegram()
    with server:
        yield server
    assert not server.errors, "the fake Telegram server crashed:\n" + "\n".join(server.errors)
