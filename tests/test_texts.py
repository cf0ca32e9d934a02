"""Texts and dates as patients and staff read them (planner/texts.py, planner/messages/)."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from planner.core.errors import ConfigError
from planner.texts.catalogue import (
    LANGUAGES,
    UnknownMessageError,
    event_title,
    format_day,
    format_time_range,
    format_when,
    initials,
    load_messages,
    patient_description,
    placeholders,
    staff_description,
)

TOKYO = ZoneInfo("Asia/Tokyo")
# 2026-12-07 is a Monday.
MONDAY_7_DEC_10AM = datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO)
KINDS = ("collection", "infusion", "blood_test", "cell_delivery", "follow_up")


# --- dates ------------------------------------------------------------------------------


def test_format_when_in_japanese_shows_month_day_weekday_and_time() -> None:
    assert format_when(MONDAY_7_DEC_10AM, "ja") == "12月7日(月) 10:00"


def test_format_when_in_english_shows_weekday_day_month_and_time() -> None:
    assert format_when(MONDAY_7_DEC_10AM, "en") == "Mon 7 Dec, 10:00"


def test_format_when_with_year_in_japanese() -> None:
    assert format_when(MONDAY_7_DEC_10AM, "ja", with_year=True) == "2026年12月7日(月) 10:00"


def test_format_when_with_year_in_english() -> None:
    assert format_when(MONDAY_7_DEC_10AM, "en", with_year=True) == "Mon 7 Dec 2026, 10:00"


def test_format_when_shows_the_wall_clock_of_the_moments_own_zone() -> None:
    # 2026-12-07 01:00 UTC is 10:00 in Tokyo; the UTC value is shown as UTC.
    assert format_when(datetime(2026, 12, 7, 1, 0, tzinfo=UTC), "en") == "Mon 7 Dec, 01:00"


def test_format_day_in_japanese() -> None:
    assert format_day(date(2026, 12, 7), "ja") == "12月7日(月)"


def test_format_day_in_english() -> None:
    assert format_day(date(2026, 12, 7), "en") == "Mon 7 Dec"


def test_format_day_with_year_in_japanese() -> None:
    assert format_day(date(2026, 12, 7), "ja", with_year=True) == "2026年12月7日(月)"


def test_format_day_with_year_in_english() -> None:
    assert format_day(date(2026, 12, 7), "en", with_year=True) == "Mon 7 Dec 2026"


def test_format_day_weekday_of_new_years_day_2027_is_friday() -> None:
    assert format_day(date(2027, 1, 1), "ja") == "1月1日(金)"


def test_format_time_range_uses_an_en_dash() -> None:
    end = datetime(2026, 12, 7, 11, 0, tzinfo=TOKYO)
    assert format_time_range(MONDAY_7_DEC_10AM, end, "ja") == "10:00–11:00"


def test_date_formatting_rejects_an_unknown_language_naming_it() -> None:
    with pytest.raises(ValueError, match="'fr'"):
        format_day(date(2026, 12, 7), "fr")


# --- the catalogue ----------------------------------------------------------------------


def _packaged(lang: str) -> dict[str, str]:
    return dict(load_messages(lang).texts)


def test_catalogues_have_the_same_keys_in_every_language() -> None:
    assert _packaged("ja").keys() == _packaged("en").keys()


def test_catalogues_use_the_same_placeholders_for_each_key() -> None:
    ja, en = _packaged("ja"), _packaged("en")
    mismatched = [key for key in ja if placeholders(ja[key]) != placeholders(en[key])]
    assert mismatched == []


def test_catalogue_files_are_valid_toml_with_only_text_values() -> None:
    for lang in LANGUAGES:
        text = (files("planner.texts") / "messages" / f"{lang}.toml").read_text(encoding="utf-8")
        for section in tomllib.loads(text).values():
            assert all(isinstance(value, str) for value in section.values())


def test_every_event_kind_has_a_title_and_a_staff_note() -> None:
    messages = load_messages("en")
    for kind in KINDS:
        assert f"{kind}.title" in messages
        assert f"{kind}.staff" in messages


def test_cell_delivery_has_no_patient_instructions() -> None:
    assert "cell_delivery.instructions" not in load_messages("ja")


def test_japanese_instructions_are_short_polite_sentences() -> None:
    messages = load_messages("ja")
    for kind in ("collection", "blood_test", "follow_up"):
        for line in messages.get(f"{kind}.instructions").splitlines():
            assert line.endswith(("ます。", "ください。")), line


def test_the_fever_instruction_gives_the_threshold_and_says_to_call() -> None:
    text = load_messages("ja").format("fever.instruction", threshold="38℃")
    assert "38℃以上の熱が翌朝まで続くとき" in text
    assert text.endswith("お電話ください。")


def test_answer_buttons_in_japanese() -> None:
    messages = load_messages("ja")
    assert messages.get("answer.will_come") == "予定どおり伺います"
    assert messages.get("answer.need_change") == "日程を変更したい"


def test_status_words_exist_for_every_status() -> None:
    messages = load_messages("en")
    for status in ("scheduled", "done", "missed", "cancelled"):
        assert f"status.{status}" in messages


def test_format_fills_the_numbered_infusion_title_in_japanese() -> None:
    text = load_messages("ja").format("infusion.numbered", n=3, total=8)
    assert text == "ANK細胞の点滴 3回目（全8回）"


def test_format_without_a_needed_value_names_the_placeholder() -> None:
    with pytest.raises(ValueError, match="total"):
        load_messages("en").format("infusion.numbered", n=3)


def test_unknown_key_error_names_the_key_and_the_language() -> None:
    with pytest.raises(UnknownMessageError) as caught:
        load_messages("ja").get("infusion.titel")
    assert "infusion.titel" in str(caught.value)
    assert "'ja'" in str(caught.value)


def test_unknown_key_error_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load_messages("en").get("no.such.key")


def test_load_messages_rejects_an_unknown_language_naming_it() -> None:
    with pytest.raises(ValueError, match="'de'"):
        load_messages("de")


def test_load_messages_is_cached_for_the_same_arguments() -> None:
    assert load_messages("ja") is load_messages("ja")


def test_messages_cannot_be_changed_after_loading() -> None:
    messages = load_messages("en")
    with pytest.raises(dataclasses.FrozenInstanceError):
        messages.lang = "ja"  # type: ignore[misc]
    with pytest.raises(TypeError):
        messages.texts["infusion.title"] = "x"  # type: ignore[index]


# --- clinic overrides -------------------------------------------------------------------


def _write(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_override_replaces_one_text_and_keeps_the_others(tmp_path: Path) -> None:
    _write(tmp_path, "ja.toml", '[infusion]\ntitle = "点滴"\n')
    messages = load_messages("ja", tmp_path)
    assert messages.get("infusion.title") == "点滴"
    assert messages.get("collection.title") == "リンパ球の採取（成分採血）"


def test_override_for_one_language_leaves_the_other_packaged(tmp_path: Path) -> None:
    _write(tmp_path, "ja.toml", '[infusion]\ntitle = "点滴"\n')
    assert load_messages("en", tmp_path).get("infusion.title") == "ANK cell infusion (drip)"


def test_override_with_an_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    _write(tmp_path, "en.toml", '[infusion]\ntitel = "drip"\n')
    with pytest.raises(ConfigError, match=r"en\.toml: infusion\.titel: not a known message key"):
        load_messages("en", tmp_path)


def test_override_with_other_placeholders_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "en.toml", '[infusion]\nnumbered = "Drip number {number}"\n')
    with pytest.raises(ConfigError, match=r"infusion\.numbered: placeholders must be"):
        load_messages("en", tmp_path)


def test_override_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    _write(tmp_path, "en.toml", "[infusion\n")
    with pytest.raises(ConfigError, match=r"en\.toml"):
        load_messages("en", tmp_path)


def test_override_folder_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_messages("en", tmp_path / "missing")


def test_event_title_uses_the_clinic_override(tmp_path: Path) -> None:
    _write(tmp_path, "en.toml", '[infusion]\nnumbered = "Drip {n}/{total}"\n')
    assert event_title("infusion", 2, 8, "en", override_dir=tmp_path) == "Drip 2/8"


# --- event texts ------------------------------------------------------------------------


def test_event_title_numbers_infusions_in_english() -> None:
    assert event_title("infusion", 3, 8, "en") == "ANK cell infusion 3 of 8"


def test_event_title_of_a_collection_is_the_plain_title() -> None:
    assert event_title("collection", 0, 8, "ja") == "リンパ球の採取（成分採血）"


def test_event_title_of_an_unknown_kind_is_its_name_with_spaces() -> None:
    assert event_title("skin_test", 1, 8, "ja") == "skin test"


def test_patient_description_is_title_then_instructions() -> None:
    lines = patient_description("collection", 1, 8, "en").splitlines()
    assert lines[0] == "Lymphocyte collection"
    assert lines[1] == "Please eat a normal breakfast."


def test_patient_description_of_cell_delivery_is_the_title_alone() -> None:
    assert patient_description("cell_delivery", 2, 8, "ja") == "培養細胞の出荷・到着"


def test_staff_description_of_cell_delivery_names_the_infusion() -> None:
    text = staff_description("cell_delivery", 3, 8, "en", "Y.T.")
    assert text == "Y.T.: deliver cultured cells for infusion 3."


def test_staff_description_of_an_unknown_kind_uses_its_name() -> None:
    assert staff_description("skin_test", 1, 8, "en", "Y.T.") == "Y.T.: skin test"


# --- initials ---------------------------------------------------------------------------


def test_initials_of_a_latin_name() -> None:
    assert initials("Yamada Taro") == "Y.T."


def test_initials_are_upper_case() -> None:
    assert initials("yamada taro") == "Y.T."


def test_initials_of_a_japanese_name_keep_the_first_character_of_each_part() -> None:
    assert initials("山田 太郎") == "山.太."


def test_initials_split_at_an_ideographic_space() -> None:
    assert initials("山田\u3000太郎") == "山.太."


def test_initials_of_a_japanese_name_without_a_space_is_one_character() -> None:
    assert initials("山田太郎") == "山."


def test_initials_of_a_blank_name_are_refused() -> None:
    with pytest.raises(ValueError, match="blank"):
        initials("  ")


def test_texts_keep_their_inner_spaces_when_blank_lines_are_dropped():
    assert load_messages("en").get("calendar.list_separator") == ", "
