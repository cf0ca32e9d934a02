"""A message as data, rendered by the channel (planner/message.py)."""

from __future__ import annotations

import pytest

from planner.texts import reach as reach_texts
from planner.texts.letterhead import Letterhead
from planner.texts.message import BLANK, NOTE, STRUCK, Line, Message, to_console, to_telegram_html
from tests.fake_telegram import format_text

NOTICE = Message("【日程変更のお知らせ】", lines=(
    Line("山田 <太郎> & 花子様"), BLANK, Line("あおば クリニック ☎ 03-1234-5678", NOTE)),
    buttons=(("体調がすぐれない", "u"),), urgency="urgent")


def test_telegram_html_escapes_each_piece_once_and_tags_by_style() -> None:
    assert to_telegram_html(NOTICE).splitlines() == [
        "<b>【日程変更のお知らせ】</b>", "山田 &lt;太郎&gt; &amp; 花子様", "",
        "<i>あおば クリニック ☎ 03-1234-5678</i>"]


def test_telegram_html_is_accepted_by_telegrams_parser() -> None:
    text, _entities = format_text(to_telegram_html(NOTICE), "HTML")
    assert text.startswith("【日程変更のお知らせ】\n山田 <太郎> & 花子様")


def test_console_shows_plain_text_the_buttons_and_flags_an_urgent_message() -> None:
    assert to_console(NOTICE).splitlines() == [
        "! 【日程変更のお知らせ】", "山田 <太郎> & 花子様", "", "あおば クリニック ☎ 03-1234-5678",
        "  [体調がすぐれない]"]


def test_markup_kept_as_sent_is_not_escaped_again_and_reads_plain_on_the_console() -> None:
    kept = Message("古い案内", lines=(Line("<b>A&amp;B</b>", STRUCK, markup=True),))
    assert to_telegram_html(kept).splitlines()[1] == "<s><b>A&amp;B</b></s>"
    assert to_console(kept).splitlines()[1] == "A&B"


def test_an_unknown_style_urgency_or_audience_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="'loud'"):
        Line("x", "loud")
    with pytest.raises(ValueError, match="'now'"):
        Message("x", urgency="now")
    with pytest.raises(ValueError, match="'lab'"):
        Message("x", audience="lab")


def test_the_check_in_is_one_message_for_every_channel() -> None:
    message = reach_texts.check_in_message("山田 太郎", "ja", head=Letterhead(), event_id=7)
    assert [label for label, _ in message.buttons] == [
        "熱はありません", "38℃以上あります", "電話してほしい"]
    assert to_console(message).splitlines()[0] == "【ANK clinic】お体の具合について"
    assert to_telegram_html(message) == reach_texts.check_in_text("山田 太郎", "ja")
