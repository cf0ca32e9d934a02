"""Telegram's HTML, measured and cut: how long a message is and how to split a long one.

Telegram counts a message's length after removing tags and decoding entities, in UTF-16
units, and refuses more than 4096. A long schedule or digest is cut at line ends, never
inside a tag or an entity, closing the open tags (a ``<pre>`` month view included) at
the end of a part and reopening them at the start of the next.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence

MAX_MESSAGE_LENGTH = 4096

# A tag, a character reference, or one character (a bare "<" or "&" is one character).
_TOKEN = re.compile(
    r"<[^<>]*>|&(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[A-Za-z][A-Za-z0-9]{0,31});|.", re.DOTALL
)
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][\w-]*)")
_EMPTY_PAIR = re.compile(r"<([A-Za-z][\w-]*)(?:\s[^<>]*)?></\1>")
_BREAK_AFTER = frozenset(" \u3000。、，．")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _is_tag(token: str) -> bool:
    return len(token) > 1 and token[0] == "<"


def _shown(token: str) -> str:
    """What one token shows: nothing for a tag, the decoded character for a reference."""
    if _is_tag(token):
        return ""
    return html.unescape(token) if token[0] == "&" else token


def _units(text: str) -> int:
    """UTF-16 code units, as Telegram counts (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le")) // 2


def visible_text(html_text: str) -> str:
    """The text Telegram shows for ``html_text``: tags removed, character references decoded."""
    return "".join(_shown(token) for token in _tokens(html_text))


def visible_length(html_text: str) -> int:
    """The length Telegram checks against its 4096 limit: the visible text in UTF-16 code
    units. That equals the number of characters for Japanese and Latin text and is never
    fewer, so a part that fits here fits Telegram however it counts."""
    return _units(visible_text(html_text))


def _size(tokens: Sequence[str]) -> int:
    return sum(_units(_shown(token)) for token in tokens)


def _lines(tokens: list[str]) -> list[list[str]]:
    lines: list[list[str]] = [[]]
    for token in tokens:
        if token == "\n":
            lines.append([])
        else:
            lines[-1].append(token)
    return lines


def _attaches(token: str) -> bool:
    """A combining mark, variation selector or joiner belongs with the character before."""
    return len(token) == 1 and (unicodedata.combining(token) > 0
                                or token in "\u200d\ufe0e\ufe0f")


def _cut_line(line: list[str], limit: int) -> list[list[str]]:
    """Pieces of a line longer than ``limit``, each at most ``limit``; cut after a space or
    Japanese punctuation when there is one, never before a combining mark."""
    pieces: list[list[str]] = []
    start, length, last_break = 0, 0, 0
    for index, token in enumerate(line):
        size = _units(_shown(token))
        while length + size > limit and index > start:
            cut = last_break if last_break > start else _before_marks(line, start, index)
            pieces.append(line[start:cut])
            start, length, last_break = cut, _size(line[cut:index]), 0
        length += size
        if token in _BREAK_AFTER:
            last_break = index + 1
    return [*pieces, line[start:]]


def _before_marks(line: list[str], start: int, index: int) -> int:
    """``index``, moved back past combining marks so none starts a piece (if it can be)."""
    cut = index
    while cut > start + 1 and _attaches(line[cut]):
        cut -= 1
    return cut


class _Packer:
    """Fills parts line by line; closes the open tags at the end of a part and reopens them
    (same attributes) at the start of the next."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.stack: list[tuple[str, str]] = []
        self.tokens: list[str] = []
        self.length = 0
        self.empty = True

    def add(self, piece: list[str], newline: bool) -> None:
        size = _size(piece)
        separator = 1 if newline else 0
        if not self.empty and self.length + separator + size > self.limit:
            self.flush()
        if not self.empty and newline:
            self.tokens.append("\n")
            self.length += 1
        for token in piece:
            self._track(token)
        self.tokens += piece
        self.length += size
        self.empty = False

    def _track(self, token: str) -> None:
        if not _is_tag(token):
            return
        match = _TAG_NAME.match(token)
        name = match.group(1).lower() if match else ""
        if not token.startswith("</"):
            self.stack.append((name, token))
            return
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == name or not name:
                del self.stack[index]
                return

    def flush(self) -> None:
        closing = [f"</{name}>" for name, _ in reversed(self.stack)]
        part = "".join(self.tokens + closing)
        while _EMPTY_PAIR.search(part):
            part = _EMPTY_PAIR.sub("", part)
        if visible_text(part).strip():
            self.parts.append(part)
        self.tokens = [tag for _, tag in self.stack]
        self.length, self.empty = 0, True


def split_message(text: str, limit: int = MAX_MESSAGE_LENGTH) -> list[str]:
    """``text`` in parts of at most ``limit`` (by :func:`visible_length`), cut at line ends.

    Each part is valid HTML on its own: a ``<pre>``, ``<b>`` … open at a cut is closed at the
    end of the part and opened again at the start of the next. A line longer than ``limit``
    is cut after its last space or Japanese punctuation that fits, else at the limit, never
    inside a tag or a character reference. The newline at a cut is dropped, and so is a part
    that would show only whitespace (Telegram refuses it as empty); nothing else is lost, so
    the parts' visible texts, read in order, are the whole text. Empty text gives ``[]``.
    ``limit`` must be at least 2 (a character outside the BMP counts two).
    """
    if limit < 2:
        raise ValueError(f"limit must be at least 2, got {limit}")
    packer = _Packer(limit)
    for number, line in enumerate(_lines(_tokens(text))):
        pieces = [line] if _size(line) <= limit else _cut_line(line, limit)
        for index, piece in enumerate(pieces):
            packer.add(piece, newline=number > 0 and index == 0)
    packer.flush()
    return packer.parts
