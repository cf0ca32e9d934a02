"""Every kind of message, in Japanese an 80-year-old reads easily, and in English.

Checked for each kind (see ``tests/message_kinds.py``): no Latin letters in Japanese texts
except URLs, the commands of /help (Telegram's commands are Latin by nature) and the two
names Japanese clinics write in Latin letters themselves (ANK, the treatment's name, and
CT); every date with its weekday; the clinic's footer under every patient message; and the
rendered texts equal the golden files in ``tests/data/messages-ja.txt`` / ``-en.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from planner.texts.html import visible_text
from tests.message_kinds import ALL, HEAD, PATIENT

GOLDEN = Path(__file__).parent / "data"
ALLOWED_LATIN = {"ANK", "CT"}
URL = re.compile(r"https?://\S+")
COMMAND = re.compile(r"/[a-z_]+")


def latin_words(text: str) -> set[str]:
    """Latin words left once URLs and /commands are taken out."""
    plain = COMMAND.sub("", URL.sub("", text))
    return set(re.findall(r"[A-Za-z]+", plain)) - ALLOWED_LATIN


@pytest.mark.parametrize("kind", sorted(ALL))
def test_japanese_message_has_no_latin_words(kind: str) -> None:
    assert latin_words(visible_text(ALL[kind]("ja"))) == set()


@pytest.mark.parametrize("kind", sorted(ALL))
def test_every_japanese_date_has_its_weekday(kind: str) -> None:
    text = visible_text(ALL[kind]("ja"))
    for match in re.finditer(r"\d+月\d+日", text):
        assert re.match(r"\([月火水木金土日]\)", text[match.end():]), text[match.start():][:20]


@pytest.mark.parametrize("kind", sorted(ALL))
def test_every_english_date_has_its_weekday(kind: str) -> None:
    text = visible_text(ALL[kind]("en"))
    months = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
    for match in re.finditer(rf"\b\d+ ({months})\b", text):
        before = text[max(0, match.start() - 4):match.start()]
        assert re.search(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) $", before), text[match.start():][:20]


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("kind", sorted(k for k in PATIENT if k not in (
    "welcome", "welcome_family", "stop", "language", "ics_caption", "feed_link", "generic")))
def test_patient_messages_end_with_the_clinics_name_and_number(kind: str, lang: str) -> None:
    text = visible_text(PATIENT[kind](lang))
    assert f"{HEAD.clinic} ☎ {HEAD.phone}" in text


def render_all(lang: str) -> str:
    """Every kind, shown as Telegram shows it, under a ``=== kind ===`` line."""
    return "".join(f"=== {kind} ===\n{visible_text(ALL[kind](lang))}\n\n"
                   for kind in sorted(ALL))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_rendered_messages_equal_the_golden_file(lang: str) -> None:
    golden = (GOLDEN / f"messages-{lang}.txt").read_text(encoding="utf-8")
    assert render_all(lang) == golden
