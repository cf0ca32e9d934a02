"""The feed server over real HTTP: aiohttp on 127.0.0.1 (port 0), polled with httpx.

The clinic is the one of ``test_feeds.py`` (two patients planned on Mon 2026-11-02, the
clock at Fri 2026-11-27 09:00 Tokyo), with feeds that hold 60 days back and everything
ahead (``wide_settings``), so both courses are in them whole. A server started at the
clock's time gives a Last-Modified no earlier than its start (its settings may be new).
Staff change it through ``Planner`` on their own connection, as the CLI does, while the
server reads on its own; both use one clock object, moved by setting
``clinic.clock.moment``. Clients send ``Accept-Encoding: identity``
unless a test asks for gzip.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from planner.calendars.feed_server import FeedService, bound_port, start_feed_server
from tests.conftest import PlannerCli, tokyo
from tests.ics_checks import check_ics
from tests.test_feeds import FeedClinic, make_clinic, vevents, wide_settings, with_export

T = TypeVar("T")
Scenario = Callable[[httpx.AsyncClient], Awaitable[T]]


@pytest.fixture
def clinic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FeedClinic:
    """The clinic; PLANNER_DB and PLANNER_CONFIG from the shell are ignored."""
    monkeypatch.delenv("PLANNER_DB", raising=False)
    monkeypatch.delenv("PLANNER_CONFIG", raising=False)
    return make_clinic(tmp_path / "clinic.db", wide_settings())


def serve(clinic: FeedClinic, scenario: Scenario[T]) -> T:
    """Run ``scenario`` with a client of a feed server started for it on 127.0.0.1."""

    async def main() -> T:
        service = FeedService(clinic.path, clinic.settings, clinic.clock)
        runner = await start_feed_server(service, "127.0.0.1", 0)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{bound_port(runner)}",
                                         headers={"Accept-Encoding": "identity"},
                                         trust_env=False, timeout=10.0) as client:
                return await scenario(client)
        finally:
            await runner.cleanup()
            service.close()

    return asyncio.run(main())


async def poll(client: httpx.AsyncClient, secret: str, **headers: str) -> httpx.Response:
    return await client.get(f"/feeds/{secret}.ics", headers=headers)


# -- staying in sync -----------------------------------------------------------------------


def test_a_rescheduled_infusion_keeps_its_uid_with_the_new_start_and_a_higher_sequence(
        clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)
    infusion_3 = clinic.event("infusion", 3)  # Mon 2026-12-07 10:00

    async def scenario(client: httpx.AsyncClient) -> tuple[bytes, bytes]:
        before = (await poll(client, secret)).content
        clinic.planner.reschedule(infusion_3["id"], date(2026, 12, 8))
        return before, (await poll(client, secret)).content

    before, after = serve(clinic, scenario)
    old, new = vevents(before)[infusion_3["uid"]], vevents(after)[infusion_3["uid"]]
    assert old.start == tokyo(2026, 12, 7, 10, 0)
    assert new.start == tokyo(2026, 12, 8, 10, 0)
    assert (int(old["SEQUENCE"]), int(new["SEQUENCE"])) == (0, 1)


def test_a_cancelled_course_shows_its_events_ahead_as_cancelled(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> bytes:
        await poll(client, secret)
        clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00
        return (await poll(client, secret)).content

    events = vevents(serve(clinic, scenario))
    course_1 = {uid: events[uid] for uid in clinic.uids(course_id=1)}
    statuses = {uid: str(event["STATUS"]) for uid, event in course_1.items()}
    collection = clinic.event("collection", 1)["uid"]  # Mon 2026-11-09: it has happened
    assert statuses.pop(collection) == "CONFIRMED"
    assert set(statuses.values()) == {"CANCELLED"}
    assert len(statuses) == 25
    assert {int(course_1[uid]["SEQUENCE"]) for uid in statuses} == {1}


def test_cancelled_events_are_still_served_on_the_last_of_cancelled_days(
        clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)
    clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00
    clinic.clock.moment = tokyo(2026, 12, 27, 9, 0)  # 30 days later

    async def scenario(client: httpx.AsyncClient) -> bytes:
        return (await poll(client, secret)).content

    assert set(vevents(serve(clinic, scenario))) == clinic.uids()


def test_cancelled_events_drop_out_after_cancelled_days(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> bytes:
        clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00
        await poll(client, secret)
        clinic.clock.moment = tokyo(2026, 12, 28, 9, 0)  # 31 days later
        return (await poll(client, secret)).content

    served = set(vevents(serve(clinic, scenario)))
    assert served == clinic.uids(course_id=2) | {clinic.event("collection", 1)["uid"]}


def test_cancelled_events_drop_out_of_a_polled_feed_within_a_minute(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)
    clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00

    async def scenario(client: httpx.AsyncClient) -> tuple[bytes, bytes]:
        clinic.clock.moment = tokyo(2026, 12, 27, 9, 0)  # the last moment they are kept
        kept = (await poll(client, secret)).content
        clinic.clock.moment = tokyo(2026, 12, 27, 9, 1)  # nothing committed meanwhile
        return kept, (await poll(client, secret)).content

    kept, later = serve(clinic, scenario)
    assert set(vevents(kept)) == clinic.uids()
    assert set(vevents(later)) == clinic.uids(course_id=2) | {clinic.event("collection", 1)["uid"]}


# -- conditional requests ------------------------------------------------------------------


def test_an_unchanged_feed_with_if_none_match_gets_304_without_a_body(
        clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        first = await poll(client, secret)
        return first, await poll(client, secret, **{"If-None-Match": first.headers["ETag"]})

    first, again = serve(clinic, scenario)
    assert first.status_code == 200
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_an_unchanged_feed_with_if_modified_since_gets_304(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        first = await poll(client, secret)
        since = first.headers["Last-Modified"]
        return first, await poll(client, secret, **{"If-Modified-Since": since})

    first, again = serve(clinic, scenario)
    assert first.headers["Last-Modified"] == "Fri, 27 Nov 2026 00:00:00 GMT"  # its start
    assert again.status_code == 304


def test_if_none_match_with_a_list_holding_the_etag_gets_304(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> int:
        etag = (await poll(client, secret)).headers["ETag"]
        listed = f'"stale", W/{etag}'
        return (await poll(client, secret, **{"If-None-Match": listed})).status_code

    assert serve(clinic, scenario) == 304


def test_a_change_gives_200_with_a_new_etag_despite_if_none_match(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        first = await poll(client, secret)
        clinic.clock.moment = tokyo(2026, 11, 27, 9, 5)
        clinic.planner.reschedule(clinic.event("infusion", 3)["id"], date(2026, 12, 8))
        return first, await poll(client, secret, **{"If-None-Match": first.headers["ETag"]})

    first, changed = serve(clinic, scenario)
    assert changed.status_code == 200
    assert changed.headers["ETag"] != first.headers["ETag"]
    assert changed.headers["Last-Modified"] == "Fri, 27 Nov 2026 00:05:00 GMT"


def test_a_change_gives_200_despite_if_modified_since(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> int:
        since = (await poll(client, secret)).headers["Last-Modified"]
        clinic.clock.moment = tokyo(2026, 11, 27, 9, 5)
        clinic.planner.reschedule(clinic.event("infusion", 3)["id"], date(2026, 12, 8))
        return (await poll(client, secret, **{"If-Modified-Since": since})).status_code

    assert serve(clinic, scenario) == 200


def test_cancelled_events_dropping_out_gives_200_despite_if_modified_since(
        clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)
    clinic.planner.cancel(1, "admitted to hospital", force=True)  # Fri 2026-11-27 09:00

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        since = (await poll(client, secret)).headers["Last-Modified"]
        clinic.clock.moment = tokyo(2026, 12, 28, 9, 0)  # the cancelled events drop out
        return await poll(client, secret, **{"If-Modified-Since": since})

    response = serve(clinic, scenario)
    assert response.status_code == 200
    assert response.headers["Last-Modified"] == "Sun, 27 Dec 2026 00:00:01 GMT"


# -- the response ------------------------------------------------------------------------


def test_gzip_when_asked_decompresses_to_the_same_body(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> tuple[bytes, httpx.Response, bytes]:
        plain = (await poll(client, secret)).content
        headers = {"Accept-Encoding": "gzip"}
        async with client.stream("GET", f"/feeds/{secret}.ics", headers=headers) as zipped:
            raw = b"".join([chunk async for chunk in zipped.aiter_raw()])
        return plain, zipped, raw

    plain, zipped, raw = serve(clinic, scenario)
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert len(raw) < len(plain)
    assert gzip.decompress(raw) == plain


@pytest.mark.parametrize("accept", ["identity", "gzip;q=0", "br"])
def test_no_gzip_unless_the_client_accepts_it(clinic: FeedClinic, accept: str) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await poll(client, secret, **{"Accept-Encoding": accept})

    response = serve(clinic, scenario)
    assert "Content-Encoding" not in response.headers
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")


def test_head_gives_the_headers_of_get_without_a_body(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        got = await poll(client, secret)
        return got, await client.head(f"/feeds/{secret}.ics")

    got, head = serve(clinic, scenario)
    assert head.status_code == 200
    assert head.content == b""
    assert int(head.headers["Content-Length"]) == len(got.content)
    for name in ("ETag", "Last-Modified", "Content-Type", "Cache-Control"):
        assert head.headers[name] == got.headers[name]


def test_the_content_type_is_text_calendar_in_utf8(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await poll(client, secret)

    assert serve(clinic, scenario).headers["Content-Type"] == "text/calendar; charset=utf-8"


def test_cache_control_asks_clients_to_revalidate_after_15_minutes(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await poll(client, secret)

    cache_control = serve(clinic, scenario).headers["Cache-Control"]
    assert cache_control == "private, max-age=900, must-revalidate"


def test_the_body_asks_calendar_apps_to_refresh_every_60_minutes(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> bytes:
        return (await poll(client, secret)).content

    lines = serve(clinic, scenario).split(b"\r\n")
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT60M" in lines
    assert b"X-PUBLISHED-TTL:PT60M" in lines


@pytest.mark.parametrize("owner", [
    {"staff_id": 1}, {"staff_id": 1, "role": "doctor"}, {"staff_id": 1, "role": "nurse"},
    {"staff_id": 1, "role": "reception"}, {"staff_id": 2, "role": "lab"},
    {"patient_id": 1}, {"patient_id": 2},
], ids=["clinic", "doctor", "nurse", "reception", "lab", "patient-ja", "patient-en"])
def test_every_served_body_passes_the_strict_calendar_checks(
        clinic: FeedClinic, owner: dict[str, Any]) -> None:
    secret = clinic.issue(**owner)
    clinic.planner.reschedule(clinic.event("infusion", 3)["id"], date(2026, 12, 8))
    clinic.planner.cancel(2, "moved away", force=True)

    async def scenario(client: httpx.AsyncClient) -> bytes:
        response = await poll(client, secret)
        assert response.status_code == 200
        return response.content

    check_ics(serve(clinic, scenario))


# -- not found ---------------------------------------------------------------------------


def test_revoked_unknown_and_wrong_paths_all_get_the_same_404(clinic: FeedClinic) -> None:
    revoked = clinic.issue(staff_id=1)
    kept = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> tuple[int, set[tuple[int, bytes, str]]]:
        before = (await poll(client, revoked)).status_code
        clinic.feeds().revoke(1, clinic.clock.now())
        paths = [f"/feeds/{revoked}.ics", f"/feeds/{'A' * 32}.ics", f"/feeds/{kept}",
                 f"/feeds/{kept}.ics/", f"/feed/{kept}.ics", "/", f"/feeds/{'x' * 200}.ics"]
        answers = set()
        for path in paths:
            response = await client.get(path)
            answers.add((response.status_code, response.content,
                         response.headers["Content-Type"]))
        return before, answers

    before, answers = serve(clinic, scenario)
    assert before == 200
    assert answers == {(404, b"404: Not Found", "text/plain; charset=utf-8")}


# -- the CLI and the server together -----------------------------------------------------


def test_a_feed_issued_on_the_command_line_is_served(clinic: FeedClinic) -> None:
    issued = PlannerCli(clinic.path).json("feed", "issue", "--patient", "1")
    path = issued["url"].removeprefix("http://127.0.0.1:8080")

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(path)

    response = serve(clinic, scenario)
    assert response.status_code == 200
    assert set(vevents(response.content)) == clinic.uids(
        kinds={"collection", "infusion", "follow_up"}, course_id=1)


def test_planner_serve_answers_on_the_port_it_reports(clinic: FeedClinic) -> None:
    issued = PlannerCli(clinic.path).json("feed", "issue", "--staff", "1")
    secret = issued["url"].rsplit("/", 1)[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "planner", "--db", str(clinic.path), "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "Serving feeds on http://127.0.0.1:PORT/feeds/ …"
        base = line.split(" on ", 1)[1].split("/feeds/", 1)[0]
        response = httpx.get(f"{base}/feeds/{secret}", trust_env=False, timeout=10.0)
    finally:
        server.terminate()
        server.communicate(timeout=10)

    assert line.startswith("Serving feeds on http://127.0.0.1:")
    assert not base.endswith(":0")
    assert response.status_code == 200  # its window depends on today's date: not checked
    check_ics(response.content)


# -- representations and restarts ----------------------------------------------------------


def test_the_gzipped_body_has_its_own_strong_etag(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        plain = await poll(client, secret)
        return plain, await poll(client, secret, **{"Accept-Encoding": "gzip"})

    plain, zipped = serve(clinic, scenario)
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'
    assert not zipped.headers["ETag"].startswith("W/")


def test_the_plain_etag_does_not_revalidate_the_gzipped_body(clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def scenario(client: httpx.AsyncClient) -> httpx.Response:
        plain = await poll(client, secret)
        return await poll(client, secret, **{"Accept-Encoding": "gzip",
                                             "If-None-Match": plain.headers["ETag"]})

    assert serve(clinic, scenario).status_code == 200


def test_new_staff_names_after_a_restart_give_200_despite_if_modified_since(
        clinic: FeedClinic) -> None:
    secret = clinic.issue(staff_id=1)

    async def first(client: httpx.AsyncClient) -> httpx.Response:
        return await poll(client, secret)

    full_names = serve(replace(clinic, settings=with_export(clinic.settings, staff_names="full")),
                       first)
    clinic.clock.moment = tokyo(2026, 11, 27, 10, 0)  # restarted with staff_names = "initials"

    async def again(client: httpx.AsyncClient) -> httpx.Response:
        return await poll(client, secret,
                          **{"If-Modified-Since": full_names.headers["Last-Modified"]})

    initials = serve(clinic, again)
    assert initials.status_code == 200
    assert initials.headers["ETag"] != full_names.headers["ETag"]
    assert initials.headers["Last-Modified"] == "Fri, 27 Nov 2026 01:00:00 GMT"
    assert "山田様 (#1)" in initials.content.decode().replace("\r\n ", "")
