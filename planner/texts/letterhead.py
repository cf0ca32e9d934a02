"""The clinic's voice in every patient message: who we are, how to call us, the fever rule.

Pure: the clinic's name and contact details come from the configuration (``[clinic]
phone``, ``after_hours_phone``, ``address``, ``map_url``, all optional; ``[privacy]
discreet``), handed in as a :class:`Letterhead`. The fever instruction is one text built
here for every message that gives it, so the threshold and the number to call can never
differ between the reminder, the evening check-in and the answer to 「体調がすぐれない」.

Times for patients read as people say them: ``午前9時30分`` / ``9:30 am``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from pathlib import Path

from planner.texts.catalogue import load_messages

FEVER_THRESHOLD = 38  # ℃: the doctor's threshold, the same in every language
_THRESHOLD = {"ja": f"{FEVER_THRESHOLD}℃", "en": f"{FEVER_THRESHOLD} °C"}


@dataclass(frozen=True)
class Letterhead:
    """The clinic as patients meet it in a message. Empty contact fields are left out.

    ``discreet`` (on by default) keeps the treatment's name out of a message's first line,
    which is what a phone's lock screen shows to anyone nearby.
    """

    clinic: str = "ANK clinic"
    phone: str = ""
    after_hours_phone: str = ""
    address: str = ""
    map_url: str = ""
    discreet: bool = True


def format_clock(moment: datetime | time, lang: str) -> str:
    """``午前9時30分``, ``午後1時``, ``午後0時`` (noon) / ``9:30 am``, ``1:00 pm``."""
    hour, minute = moment.hour, moment.minute
    if lang == "ja":
        half = "午前" if hour < 12 else "午後"
        clock = f"{half}{hour % 12}時"
        return f"{clock}{minute}分" if minute else clock
    twelve = hour % 12 or 12
    return f"{twelve}:{minute:02d} {'am' if hour < 12 else 'pm'}"


def threshold(lang: str) -> str:
    """The fever threshold as the language writes it: ``38℃`` / ``38 °C``."""
    return _THRESHOLD[lang]


def call_lines(head: Letterhead, lang: str, *, override_dir: Path | None = None) -> list[str]:
    """The numbers to call (plain text), daytime then after hours; none when not set."""
    messages = load_messages(lang, override_dir)
    lines = []
    if head.phone:
        lines.append(messages.format("contact.phone", phone=head.phone))
    if head.after_hours_phone:
        lines.append(messages.format("contact.after_hours", phone=head.after_hours_phone))
    return lines


def fever_lines(head: Letterhead, lang: str, *, override_dir: Path | None = None) -> list[str]:
    """The one fever instruction (plain text): when to call, then the numbers."""
    messages = load_messages(lang, override_dir)
    text = messages.format("fever.instruction", threshold=threshold(lang))
    return [text, *call_lines(head, lang, override_dir=override_dir)]


def footer_lines(head: Letterhead, lang: str, *, override_dir: Path | None = None) -> list[str]:
    """The footer of every patient message (plain text): the clinic and its numbers, then
    the address and map link when the clinic gave them."""
    messages = load_messages(lang, override_dir)
    numbers = call_lines(head, lang, override_dir=override_dir)
    first = f"{head.clinic} {numbers[0]}" if numbers else head.clinic
    lines = [first, *numbers[1:]]
    if head.address:
        lines.append(messages.format("contact.address", address=head.address))
    if head.map_url:
        lines.append(messages.format("contact.map", url=head.map_url))
    return lines


def urgent_lines(head: Letterhead, lang: str, *, override_dir: Path | None = None) -> list[str]:
    """What to do when it cannot wait (plain text): call, with the numbers."""
    messages = load_messages(lang, override_dir)
    numbers = call_lines(head, lang, override_dir=override_dir)
    return [messages.get("contact.urgent" if numbers else "contact.urgent_no_phone"), *numbers]


PLAIN = Letterhead()
"""The default: the default clinic name, no numbers, discreet."""
