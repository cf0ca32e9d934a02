"""A message as data, built once and rendered by the channel that carries it.

Texts are written as a :class:`Message`: a heading, lines (each plain, strong, a note, or
struck through), buttons, an urgency and an audience. A channel renders it: Telegram as
HTML (:func:`to_telegram_html`, escaping every piece once), the console as plain text with
the buttons listed (:func:`to_console`). A second channel (LINE, SMS) adds a renderer, not
a rewrite of the texts. Pure: no I/O.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass

PLAIN, STRONG, NOTE, STRUCK, PRE = "plain", "strong", "note", "struck", "pre"
STYLES = (PLAIN, STRONG, NOTE, STRUCK, PRE)
URGENCIES = ("normal", "urgent")
AUDIENCES = ("patient", "staff")
_TAGS = {STRONG: "b", NOTE: "i", STRUCK: "s", PRE: "pre"}


@dataclass(frozen=True)
class Line:
    """One line (or, for ``pre``, a block of lines) of plain text and how it is shown.

    ``markup`` holds text already in the channel's markup (an earlier message kept as
    sent, e.g. a reminder marked out of date); it is passed through unescaped.
    """

    text: str
    style: str = PLAIN
    markup: bool = False

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")


BLANK = Line("")


@dataclass(frozen=True)
class Message:
    """What one person reads: ``heading`` first (what a lock screen shows), then ``lines``;
    ``buttons`` are (label, data) pairs, one a row."""

    heading: str
    lines: tuple[Line, ...] = ()
    buttons: tuple[tuple[str, str], ...] = ()
    urgency: str = "normal"
    audience: str = "patient"
    heading_style: str = STRONG

    def __post_init__(self) -> None:
        if self.urgency not in URGENCIES:
            raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}, "
                             f"got {self.urgency!r}")
        if self.audience not in AUDIENCES:
            raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}, "
                             f"got {self.audience!r}")


def lines(texts: Iterable[str], style: str = PLAIN) -> tuple[Line, ...]:
    """Several lines of one style."""
    return tuple(Line(text, style) for text in texts)


def line_html(line: Line) -> str:
    """One line as Telegram HTML: escaped (unless already markup), tagged by its style."""
    text = line.text if line.markup else html.escape(line.text, quote=False)
    tag = _TAGS.get(line.style)
    return f"<{tag}>{text}</{tag}>" if tag and text else text


def to_telegram_html(message: Message) -> str:
    """Telegram's HTML (parse mode HTML): each piece escaped once, only tags Telegram
    knows. The buttons travel apart (the sender turns them into a keyboard)."""
    heading = line_html(Line(message.heading, message.heading_style))
    return "\n".join([heading, *(line_html(line) for line in message.lines)])


def to_console(message: Message) -> str:
    """Plain text for a terminal: the heading, the lines, then ``[label]`` per button;
    an urgent message is flagged with ``!`` so it stands out in a log."""
    mark = "! " if message.urgency == "urgent" else ""
    body = [f"{mark}{message.heading}", *(_plain(line) for line in message.lines)]
    return "\n".join([*body, *(f"  [{label}]" for label, _ in message.buttons)])


def _plain(line: Line) -> str:
    if not line.markup:
        return line.text
    return html.unescape(_strip_tags(line.text))


def _strip_tags(text: str) -> str:
    out, inside = [], False
    for char in text:
        if char == "<":
            inside = True
        elif char == ">":
            inside = False
        elif not inside:
            out.append(char)
    return "".join(out)
