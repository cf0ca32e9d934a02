"""Time planner.ics on 10,000 realistic entries: cold, warm, warm with 1 % changed, baseline.

Run from the project root: ``python benchmarks/bench_ics.py [--entries N] [--repeats R]``.
"Cold" clears the VEVENT and VTIMEZONE caches before each run; "warm" re-serves the same
entries, as the feed does between changes; the baseline builds icalendar components and calls
``to_ical``, which is what the module replaces.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from icalendar import Alarm, Calendar, Event  # noqa: E402

from planner.calendars.ics import CalendarEntry, clear_caches, render_calendar  # noqa: E402

TOKYO = ZoneInfo("Asia/Tokyo")
ALARM_MINUTES = 60
SURNAMES = ["山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤",
            "吉田", "山本", "松本", "井上", "木村", "林", "清水", "山崎", "森", "池田"]
GIVEN_NAMES = ["太郎", "花子", "一郎", "美咲", "健太", "さくら", "大輔", "陽子", "翔", "由美",
               "直樹", "恵子", "拓也", "真理", "誠", "綾", "浩", "智子", "亮", "舞"]
DESCRIPTION = (
    "ANK療法 第{n}回目の点滴です。所要時間は約1時間、終了後30分ほど院内でお休みください。\n"
    "当日は朝食をお取りください、水分も十分に; 体調に不安がある場合は前日までに受付へ。"
)


def patient_name(course: int) -> str:
    """400 different names, so most summaries differ (as patients do)."""
    return f"{SURNAMES[course % 20]} {GIVEN_NAMES[course // 20 % 20]}"


def build_entries(count: int) -> list[CalendarEntry]:
    """Courses of eight infusions, two a week from 2026-12-07, every 15th event cancelled."""
    first_day = datetime(2026, 12, 7, 10, 0, tzinfo=TOKYO)
    stamp = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    entries = []
    for index in range(count):
        course, number = divmod(index, 8)
        start = first_day + timedelta(days=course % 60 + number * 7 // 2, hours=course % 7)
        entries.append(CalendarEntry(
            uid=f"course-{course}-infusion-{number + 1}@ank.example.jp",
            start=start,
            end=start + timedelta(hours=1),
            summary=f"ANK点滴 第{number + 1}回（{patient_name(course)}様）",
            description=DESCRIPTION.format(n=number + 1),
            sequence=index % 3,
            cancelled=index % 15 == 0,
            stamp=stamp,
            location="東京ANKクリニック 3階, 点滴室",
            categories=("点滴", "ANK"),
        ))
    return entries


def render(entries: Sequence[CalendarEntry]) -> bytes:
    return render_calendar(entries, timezone="Asia/Tokyo", name="ANK 点滴スケジュール",
                           alarm_minutes=ALARM_MINUTES)


def render_with_components(entries: Sequence[CalendarEntry]) -> bytes:
    """The naive baseline: one icalendar Event (and Alarm) per entry, then to_ical."""
    calendar = Calendar()
    for name, value in [("PRODID", "-//ANK planner//bench//JA"), ("VERSION", "2.0"),
                        ("CALSCALE", "GREGORIAN"), ("METHOD", "PUBLISH")]:
        calendar.add(name, value)
    for item in entries:
        event = Event()
        for name, prop in [("UID", item.uid), ("DTSTAMP", item.stamp),
                           ("LAST-MODIFIED", item.stamp), ("DTSTART", item.start),
                           ("DTEND", item.end), ("SUMMARY", item.summary),
                           ("DESCRIPTION", item.description), ("SEQUENCE", item.sequence),
                           ("STATUS", "CANCELLED" if item.cancelled else "CONFIRMED"),
                           ("LOCATION", item.location), ("CATEGORIES", list(item.categories))]:
            event.add(name, prop)
        if not item.cancelled:
            alarm = Alarm()
            alarm.add("ACTION", "DISPLAY")
            alarm.add("DESCRIPTION", item.summary)
            alarm.add("TRIGGER", timedelta(minutes=-ALARM_MINUTES))
            event.add_component(alarm)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def measure(run: Callable[[], bytes], repeats: int, before: Callable[[], None]) -> tuple[
    list[float], int
]:
    """Seconds of each run (``before`` is not timed) and the size of the last output."""
    seconds, size = [], 0
    for _ in range(repeats):
        before()
        started = time.perf_counter()
        size = len(run())
        seconds.append(time.perf_counter() - started)
    return seconds, size


def report(label: str, seconds: list[float], size: int) -> None:
    print(f"{label:<28} best {min(seconds):7.3f} s   median {statistics.median(seconds):7.3f} s"
          f"   {size / 1e6:5.2f} MB   ({len(seconds)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    entries = build_entries(args.entries)
    changed = [replace(item, sequence=item.sequence + 1) if index % 100 == 0 else item
               for index, item in enumerate(entries)]
    print(f"{len(entries)} entries, Asia/Tokyo, alarm {ALARM_MINUTES} min, "
          f"{sum(item.cancelled for item in entries)} cancelled")
    report("first call in this process", *measure(lambda: render(entries), 1, clear_caches))
    report("render_calendar cold", *measure(lambda: render(entries), args.repeats, clear_caches))
    report("render_calendar warm", *measure(lambda: render(entries), args.repeats, lambda: None))

    def warm_then_change() -> None:
        clear_caches()
        render(entries)

    report("warm, 1 % entries changed",
           *measure(lambda: render(changed), args.repeats, warm_then_change))
    report("icalendar components", *measure(lambda: render_with_components(entries),
                                            max(1, args.repeats // 2), lambda: None))


if __name__ == "__main__":
    main()
