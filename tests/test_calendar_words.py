"""How calendars word patients and calendars (``planner.texts.calendar_words``)."""

from __future__ import annotations

import pytest

from planner.texts.calendar_words import calendar_name, patient_label, short_name


@pytest.mark.parametrize(("name", "expected"), [
    ("山田 太郎", "山田様 (#3)"),
    ("山田　太郎", "山田様 (#3)"),  # an ideographic space
    ("Jane Smith", "J.S. (#3)"),
    ("jane smith", "J.S. (#3)"),
])
def test_initials_label_is_the_family_name_with_sama_or_latin_initials(
        name: str, expected: str) -> None:
    assert patient_label(name, 3, "initials", "ja") == expected


def test_a_japanese_name_without_a_space_is_named_by_its_number_only() -> None:
    assert patient_label("山田太郎", 3, "initials", "ja") == "#3"


@pytest.mark.parametrize("name", ["<b>山田</b> 太郎&amp;", "<i>Jane</i> &lt;Smith&gt;"])
def test_markup_in_a_name_never_becomes_part_of_the_label(name: str) -> None:
    label = patient_label(name, 3, "initials", "ja")

    assert not set(label) & set("<>&;")
    assert label in {"山田様 (#3)", "J.S. (#3)"}


def test_a_name_of_symbols_only_is_named_by_its_number() -> None:
    assert patient_label("-- ** --", 3, "initials", "ja") == "#3"


def test_full_names_keep_the_whole_name_and_id_shows_only_the_number() -> None:
    assert patient_label("山田 太郎", 3, "full", "ja") == "山田 太郎 (#3)"
    assert patient_label("山田 太郎", 3, "id", "ja") == "#3"


def test_an_english_staff_calendar_gives_the_family_name_without_sama() -> None:
    assert short_name("山田 太郎", "en") == "山田"


@pytest.mark.parametrize(("lang", "patient", "role", "expected"), [
    ("ja", True, None, "ANK clinic ご来院の予定"),
    ("en", True, None, "ANK clinic: your visits"),
    ("ja", False, "nurse", "ANK clinic スタッフの予定（看護師）"),
    ("ja", False, None, "ANK clinic スタッフの予定（全員）"),
    ("en", False, "lab", "ANK clinic: staff calendar (culture lab)"),
])
def test_calendar_names_are_in_the_readers_language(
        lang: str, patient: bool, role: str | None, expected: str) -> None:
    assert calendar_name("ANK clinic", lang, patient=patient, role=role) == expected
