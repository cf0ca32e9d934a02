"""What the bot says, built from the database: visits, reminders, alerts, digests.

The words live in ``planner.texts.patient`` (pure); this module reads the rows they need
(the visit, its course's infusion count, the patient's answer) and picks the language of
the chat that will read them. Staff read the clinic's staff language unless their chat
switched.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from planner.config.protocols import parse_protocol
from planner.config.settings import Settings
from planner.core.model import INFUSION, Protocol
from planner.core.reminders import CHECK_IN_SUFFIX
from planner.store import alert_notices, alerts
from planner.store.courses import LIVE_NUMBER
from planner.store.links import Chat
from planner.store.outbox import Outbox
from planner.texts import patient as bot_texts
from planner.texts import reach as reach_texts
from planner.texts import staff as staff_texts
from planner.texts.patient import escape

CONFIRMABLE = (INFUSION, "collection")
BLOOD_TEST = "blood_test"
SERVES_INFUSION = ("cell_delivery",)
PATIENT_SIDE = ("patient", "family")


def button_data(event_id: int, revision: int, answer: str) -> str:
    """Callback data for an answer button: short ASCII, far below Telegram's 64 bytes."""
    return f"a:{event_id}:{revision}:{'c' if answer == bot_texts.COME else 'x'}"


def parse_button_data(data: str) -> tuple[int, int, str] | None:
    parts = data.split(":")
    if len(parts) != 4 or parts[0] != "a" or parts[3] not in ("c", "x"):
        return None
    try:
        return int(parts[1]), int(parts[2]), bot_texts.COME if parts[3] == "c" else bot_texts.CHANGE
    except ValueError:
        return None


class Notices:
    """Texts for one clinic, read from one database connection."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self.tz = ZoneInfo(settings.clinic.timezone)
        self.outbox = Outbox(db)
        self._protocols: dict[str, Protocol] = {}

    def protocol(self, snapshot: str) -> Protocol:
        if snapshot not in self._protocols:
            self._protocols[snapshot] = parse_protocol("course", json.loads(snapshot), "course")
        return self._protocols[snapshot]

    # -- visits --------------------------------------------------------------------------

    def visit(self, row: dict[str, Any], now: datetime | None = None) -> bot_texts.Visit:
        """A ``Visit`` from an events row joined with its patient (see ``_visit_rows``)."""
        start = datetime.fromisoformat(row["start"]).astimezone(self.tz)
        end = datetime.fromisoformat(row["end"]).astimezone(self.tz)
        status = row["status"]
        if status == "scheduled" and now is not None and end <= now:
            status = "done"
        seq, total, makeup = self._numbering(row)
        return bot_texts.Visit(
            kind=row["kind"], seq=seq, total=total, makeup=makeup, start=start,
            end=end, status=status, patient_name=row.get("patient_name") or "",
            patient_id=row.get("patient_id") or 0,
            confirmed=self.outbox.confirmation(row["event_id"], row["revision"]),
            arrive=self._arrival(row), mrn=self._mrn(row.get("patient_id")),
            infusion_start=self._served_infusion(row))

    def _numbering(self, row: dict[str, Any]) -> tuple[int, int, bool]:
        """(number, of how many, is a make-up) as patients count: a course is "8 of 8"
        however many were missed; a missed infusion keeps its number, and the make-up that
        replaces it is numbered among those given (``8回目（お休みした分の振替）``)."""
        planned = self.protocol(row["protocol_snapshot"]).infusions
        if row["kind"] != INFUSION:
            return int(row["seq"]), planned, False
        given = [seq for (seq,) in self.db.execute(
            "SELECT seq FROM events WHERE course_id = ? AND kind = 'infusion'"
            " AND status NOT IN ('missed', 'cancelled') ORDER BY start_ts", [row["course_id"]])]
        seq = int(row["seq"])
        number = given.index(seq) + 1 if seq in given else seq
        return number, planned, seq > planned

    def _same_day_start(self, course_id: int, kind: str, seq: int, *,
                        any_status: bool = False) -> datetime | None:
        found = self.db.execute(
            "SELECT start FROM events WHERE course_id = ? AND kind = ? AND seq = ?"
            + ("" if any_status else " AND status != 'cancelled'"),
            [course_id, kind, seq]).fetchone()
        return datetime.fromisoformat(found[0]).astimezone(self.tz) if found else None

    def _arrival(self, row: dict[str, Any]) -> datetime | None:
        """An infusion's arrival time: its blood test's start, when that is earlier (a
        missed infusion keeps its blood test folded in, cancelled with it)."""
        if row["kind"] != INFUSION:
            return None
        test = self._same_day_start(row["course_id"], BLOOD_TEST, row["seq"],
                                    any_status=row["status"] != "scheduled")
        start = datetime.fromisoformat(row["start"]).astimezone(self.tz)
        return test if test is not None and test < start else None

    def _served_infusion(self, row: dict[str, Any]) -> datetime | None:
        """For a step done for one infusion on another day (the cell delivery): its start."""
        if row["kind"] in (INFUSION, BLOOD_TEST) or row["kind"] not in SERVES_INFUSION:
            return None
        return self._same_day_start(row["course_id"], INFUSION, row["seq"])

    def _mrn(self, patient_id: int | None) -> str | None:
        if not patient_id:
            return None
        found = self.db.execute("SELECT mrn FROM patients WHERE id = ?", [patient_id]).fetchone()
        return str(found[0]) if found and found[0] else None

    def staff_visit(self, row: dict[str, Any], now: datetime | None = None
                    ) -> bot_texts.Visit:
        """A visit as staff chats show it: the name as ``[export] staff_names`` says."""
        visit = self.visit(row, now)
        shown = staff_texts.display_name(visit.patient_name, self.settings.export.staff_names)
        return replace(visit, patient_name=shown)

    def _visit_rows(self, where: str, params: list[Any]) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT e.id AS event_id, e.kind, e.seq, e.start, e.\"end\", e.status, e.revision,"
            f" {LIVE_NUMBER},"
            " e.course_id, c.protocol_snapshot, p.id AS patient_id, p.name AS patient_name"
            " FROM events e JOIN courses c ON c.id = e.course_id"
            f" JOIN patients p ON p.id = c.patient_id WHERE {where}"
            " ORDER BY e.start_ts, e.kind, e.seq", params))

    def patient_visits(self, patient_id: int, now: datetime, *, upcoming: bool
                       ) -> list[bot_texts.Visit]:
        """What the patient attends: everything, or only what is still ahead and planned."""
        where = "c.patient_id = ?"
        params: list[Any] = [patient_id]
        if upcoming:
            where += " AND e.status = 'scheduled' AND e.start_ts > ?"
            params.append(int(now.timestamp()))
        rows = [r for r in self._visit_rows(where, params)
                if "patient" in self.protocol(r["protocol_snapshot"]).audience_of(r["kind"])]
        visits = [self.visit(r, now) for r in rows]
        return one_visit_per_infusion_day(visits)

    def staff_visits(self, first: date, last: date, role: str | None, now: datetime,
                     *, only_unconfirmed: bool = False) -> list[bot_texts.Visit]:
        """The clinic's visits from ``first`` to ``last`` for a role (all roles when None)."""
        low = datetime.combine(first, datetime.min.time(), tzinfo=self.tz)
        high = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=self.tz)
        rows = self._visit_rows("e.start_ts >= ? AND e.start_ts < ? AND e.status != 'cancelled'",
                                [int(low.timestamp()), int(high.timestamp())])
        visits = []
        for row in rows:
            audience = self.protocol(row["protocol_snapshot"]).audience_of(row["kind"])
            if role is not None and role not in audience:
                continue
            if only_unconfirmed and not self._awaits_answer(row, audience):
                continue
            visits.append(self.staff_visit(row, now))
        return visits

    def _awaits_answer(self, row: dict[str, Any], audience: tuple[str, ...]) -> bool:
        if row["kind"] not in CONFIRMABLE or row["status"] != "scheduled":
            return False
        if "patient" not in audience:
            return False
        return self.outbox.confirmation(row["event_id"], row["revision"]) != bot_texts.COME

    # -- reminders -----------------------------------------------------------------------

    def reminder(self, row: dict[str, Any], chat: Chat) -> str:
        """The patient's reminder (naming the patient, for family too), or for staff a
        reminder naming the patient as ``staff_names`` says and what to do."""
        if str(row["rule"]).endswith(CHECK_IN_SUFFIX):
            return reach_texts.check_in_text(row.get("patient_name") or "", chat.lang,
                                             head=self.settings.letterhead)
        if row["audience"] not in PATIENT_SIDE:
            visit = self.staff_visit(row)
            when = bot_texts.when_words(self._when(visit.start, row["due_ts"]), chat.lang)
            return staff_texts.staff_reminder_text(visit, str(row["audience"]), chat.lang,
                                                   when=when)
        visit = self.visit(row)
        arrive = visit.arrive or visit.start
        return bot_texts.reminder_text(visit, chat.lang,
                                       when_label=self._when(arrive, row["due_ts"]),
                                       head=self.settings.letterhead,
                                       buttons=self._asks_answer(row),
                                       same_day=self._same_day(row))

    def _same_day(self, row: dict[str, Any]) -> bool:
        """Whether the reminder goes out on the visit's own day."""
        due = datetime.fromtimestamp(int(row["due_ts"]), UTC).astimezone(self.tz)
        return datetime.fromisoformat(row["start"]).astimezone(self.tz).date() == due.date()

    def _asks_answer(self, row: dict[str, Any]) -> bool:
        """"I will come" / "I need a different day" are asked the days before only: on the
        day itself the cells are on their way, and a patient who cannot come must call."""
        return row["kind"] in CONFIRMABLE and not self._same_day(row)

    def _when(self, start: datetime, due_ts: int) -> str:
        """How far the visit is from when the reminder is due: today, tomorrow, N days."""
        due = datetime.fromtimestamp(due_ts, UTC).astimezone(self.tz)
        days = (start.date() - due.date()).days
        if days == 0:
            hours = int((start - due).total_seconds() // 3600)
            return f"hours:{hours}" if 1 <= hours <= 3 else "today"
        return f"days:{days}"

    def reminder_buttons(self, row: dict[str, Any], chat: Chat) -> list[list[str]] | None:
        """Patients' answer buttons (infusions, collections), then 「体調がすぐれない」 on
        every patient-side reminder; the check-in's three answers; none for staff."""
        if row["audience"] not in PATIENT_SIDE:
            return None
        if str(row["rule"]).endswith(CHECK_IN_SUFFIX):
            return reach_texts.check_in_buttons(row["event_id"], chat.lang)
        unwell = [reach_texts.unwell_label(chat.lang), reach_texts.UNWELL_DATA]
        if not self._asks_answer(row):
            return [unwell]
        come, change = bot_texts.answer_buttons(chat.lang)
        return [[come, button_data(row["event_id"], row["revision"], bot_texts.COME)],
                [change, button_data(row["event_id"], row["revision"], bot_texts.CHANGE)],
                unwell]

    # -- alerts and digests --------------------------------------------------------------

    def alert(self, alert: dict[str, Any], chat: Chat) -> str:
        """An alert for a staff chat, naming the right person (see ``alert_notices``)."""
        return alert_notices.render(self, alert, chat.lang, chat.role)

    def staff_label(self, patient_id: int | None, lang: str) -> str:
        """The patient as staff chats name them (``staff_names``, with the MRN)."""
        found = self.db.execute("SELECT name, mrn FROM patients WHERE id = ?",
                                [patient_id]).fetchone()
        name, mrn = (found[0], found[1]) if found else ("", None)
        shown = staff_texts.display_name(name, self.settings.export.staff_names)
        return staff_texts.patient_label(shown, int(patient_id or 0), lang, mrn=mrn)

    def event_visit(self, event_id: int) -> bot_texts.Visit:
        """One event as staff see it."""
        return self.staff_visit(self._visit_rows("e.id = ?", [event_id])[0])

    def digest(self, role: str, day: date, chat: Chat, now: datetime | None = None
               ) -> str:
        """The morning digest: the day's visits for the role, and the visits of the day
        and the next whose patient has not said they will come."""
        moment = now or datetime.combine(day, datetime.min.time(), tzinfo=self.tz)
        visits = self.staff_visits(day, day, role, moment)
        waiting = self.staff_visits(day, day + timedelta(days=1), None, moment,
                                    only_unconfirmed=True)
        phone = [self.staff_label(p, chat.lang) for p in
                 alerts.to_phone(self.db, {v.patient_id for v in [*visits, *waiting]
                                           if v.patient_id})]
        text = staff_texts.digest_text(role, day, visits, waiting, chat.lang, to_phone=phone)
        bends = self._bends_on(day, chat.lang)
        return text + ("\n\n" + "\n".join(bends) if bends else "")

    def _bends_on(self, day: date, lang: str) -> list[str]:
        """The day's events that bend a rule over a closure (so the doctor sees it)."""
        low = datetime.combine(day, datetime.min.time(), tzinfo=self.tz)
        rows = self.db.execute(
            "SELECT e.kind, e.seq, c.exceptions, c.patient_id FROM events e"
            " JOIN courses c ON c.id = e.course_id WHERE e.start_ts >= ? AND e.start_ts < ?"
            " AND e.status = 'scheduled' AND c.exceptions != '[]' ORDER BY e.start_ts",
            [int(low.timestamp()), int((low + timedelta(days=1)).timestamp())]).fetchall()
        word = "例外" if lang == "ja" else "Exception"
        return [escape(f"{word} (#{patient_id}): {bend['detail']} ({bend['why']})")
                for kind, seq, stored, patient_id in rows for bend in json.loads(stored)
                if f"{kind} {seq}" in bend.get("events", [])]


def one_visit_per_infusion_day(visits: list[bot_texts.Visit]) -> list[bot_texts.Visit]:
    """Patients see an infusion day as one visit: the blood test before an infusion is
    folded into it (as its arrival time) and not listed on its own."""
    arrivals = {v.arrive for v in visits if v.kind == INFUSION and v.arrive is not None}
    return [v for v in visits if not (v.kind == BLOOD_TEST and v.start in arrivals)]
