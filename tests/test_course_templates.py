"""The course templates shipped in config.example.toml, each planned, changed and exported
end to end (course from Mon 2027-06-07, planned on Mon 2027-05-03 09:00 in Tokyo)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PlannerCli

TOKYO = ZoneInfo("Asia/Tokyo")
MAY_2027 = datetime(2027, 5, 3, 9, 0, tzinfo=TOKYO)
EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


@pytest.mark.parametrize(("protocol", "count"), [("ank", 8), ("ank12", 12), ("ank6", 6)])
def test_each_template_plans_misses_and_exports_its_count(planner_cli: PlannerCli,
                                                          protocol: str, count: int):
    planner_cli.ok("patient", "add", "山田 太郎", at=MAY_2027, config=EXAMPLE)
    data = planner_cli.json("plan", "1", "--first-infusion", "2027-06-07", "--protocol",
                            protocol, at=MAY_2027, config=EXAMPLE)
    infusions = [e for e in data["events"] if e["kind"] == "infusion"]
    assert [e["seq"] for e in infusions] == list(range(1, count + 1))
    last = infusions[-1]
    on_the_day = datetime.fromisoformat(last["start"]).replace(hour=8)
    planner_cli.ok("missed", str(last["id"]), at=on_the_day, config=EXAMPLE)
    calendar = planner_cli.ok("export", "--patient", "1", at=on_the_day,
                              config=EXAMPLE).output.replace("\r\n ", "")
    assert f"ANK細胞の点滴 {count}回目（全{count}回）" in calendar
    assert f"全{count + 1}回" not in calendar


def test_the_default_protocol_is_the_course_of_eight(planner_cli: PlannerCli):
    planner_cli.ok("patient", "add", "山田 太郎", at=MAY_2027)
    data = planner_cli.json("plan", "1", "--first-infusion", "2027-06-07", at=MAY_2027)
    assert len([e for e in data["events"] if e["kind"] == "infusion"]) == 8
