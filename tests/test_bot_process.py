"""``python bot.py`` as a real process, on the real clock, against the fake Bot API server
running in the test process: start-up checks, the one-bot-per-database lock, a kill -9 in
the middle of a burst of reminders, updates that arrived while the bot was down, and the
console mode.

Reminders are made due "now" by moving the due instant of one reminder per patient in
the database file before the bot starts (the courses themselves are in June 2027).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest

from planner.channels.telegram.process import RedactToken, check_token
from planner.clock import SystemClock
from planner.config.settings import load_settings
from planner.core.errors import InputError
from planner.service import CourseRequest, Planner
from planner.store.courses import Store, open_database
from tests.fake_telegram import FakeTelegram

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0
FIRST_CHAT = 5001


@dataclass
class BotProcess:
    """``python bot.py ARGS`` with its output read line by line in the background."""

    args: list[str]
    env: dict[str, str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    output: list[str] = field(default_factory=list)
    process: subprocess.Popen[str] | None = None
    reader: threading.Thread | None = None

    def start(self) -> BotProcess:
        self.process = subprocess.Popen(
            [sys.executable, "bot.py", *self.args], cwd=ROOT, env=self.env, text=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.process.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.process.stdout,),
                                       daemon=True)
        self.reader.start()
        return self

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                self.lines.put(line)

    def _ended(self) -> None:
        """The process is gone: let the reader drain and close the pipe."""
        if self.reader is not None:
            self.reader.join(timeout=5)

    def wait_for_line(self, needle: str, timeout: float = START_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no line with {needle!r}; output:\n"
                                     + "".join(self.output)) from None
            self.output.append(line)
            if needle in line:
                return line

    def rest(self) -> str:
        """Everything the process wrote (call once it has ended)."""
        while not self.lines.empty():
            self.output.append(self.lines.get())
        return "".join(self.output)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self._ended()

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Ask the process to stop as Ctrl-C would; its exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self._ended()
        return status


def run_bot(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "bot.py", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=30, check=False)


@pytest.fixture
def env() -> dict[str, str]:
    """The environment of a shell with none of the planner's variables set."""
    clean = {k: v for k, v in os.environ.items()
             if k not in ("PLANNER_BOT_TOKEN", "PLANNER_CONFIG", "PLANNER_DB")}
    return {**clean, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def processes() -> Iterator[list[BotProcess]]:
    """Every bot started by a test; any still running at the end is killed."""
    started: list[BotProcess] = []
    yield started
    for bot in started:
        if bot.process is not None and bot.process.poll() is None:
            bot.kill()


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server
        assert server.errors == []


def write_config(tmp_path: Path, tg: FakeTelegram, **bot: object) -> Path:
    lines = ["[database]", f'path = "{tmp_path / "clinic.db"}"', "[bot]",
             f'base_url = "{tg.base_url}"', f'base_file_url = "{tg.base_file_url}"']
    lines += [f"{key} = {value}" for key, value in bot.items()]
    lines += ["[reminders]", 'digest_roles = ["doctor"]', "[feed]", "serve_in_bot = false"]
    path = tmp_path / "clinic.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prepare_clinic(config: Path, patients: int, first_chat: int = FIRST_CHAT) -> list[int]:
    """``patients`` patients with a course each and a linked chat each; one reminder per
    patient is due now. Returns the chat ids."""
    settings = load_settings(config)
    db = open_database(settings.database)
    planner = Planner(Store(db), settings, SystemClock())
    now = planner.now()
    ids = [int(planner.store.add_patient(f"患者 {n:02d}", "ja", None, "test", now)["id"])
           for n in range(patients)]
    # Spread over six Mondays from 2027-06-07, within the clinic's chairs and collections.
    planner.plan_many([CourseRequest(pid, first_infusion=date(2027, 6, 7)
                                     + timedelta(weeks=n % 6)) for n, pid in enumerate(ids)])
    chats = []
    with db.atomic():
        for n, pid in enumerate(ids):
            code = planner.links.create_code(now, timedelta(days=1), patient_id=pid)
            assert planner.links.redeem(code.code, first_chat + n, None, now)
            chats.append(first_chat + n)
        due = int(datetime.now(UTC).timestamp())
        db.execute(
            "UPDATE reminders SET due_ts = ?, expires_ts = ? WHERE id IN (SELECT MIN(r.id)"
            " FROM reminders r JOIN events e ON e.id = r.event_id JOIN courses c"
            " ON c.id = e.course_id WHERE r.audience = 'patient' GROUP BY c.patient_id)",
            [due, due + 3600])
    db.conn.close()
    return chats


def test_without_a_token_the_bot_exits_2_and_says_how_to_get_one(
        tmp_path: Path, env: dict[str, str]) -> None:
    result = run_bot("--db", str(tmp_path / "clinic.db"), env=env)
    assert result.returncode == 2
    assert "@BotFather" in result.stderr
    assert "PLANNER_BOT_TOKEN" in result.stderr
    assert "--console" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_token_telegram_refuses_exits_2_in_one_line_without_showing_it(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram) -> None:
    wrong = "999999:WRONG-token-abcdefghijklmnopqrstuvwxyz0123"
    open_database(tmp_path / "clinic.db").close()  # the bot never creates its database
    result = run_bot("--config", str(write_config(tmp_path, tg)),
                     env={**env, "PLANNER_BOT_TOKEN": wrong})
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: Telegram refused the bot token")
    assert "WRONG-token" not in result.stderr
    assert [c.status for c in tg.calls] == [401]


def test_a_token_of_the_wrong_shape_exits_2_before_telegram_is_contacted(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram) -> None:
    result = run_bot("--config", str(write_config(tmp_path, tg)),
                     env={**env, "PLANNER_BOT_TOKEN": "999999:short"})
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("Error: PLANNER_BOT_TOKEN: this is not a Telegram bot token")
    assert "short" not in line
    assert tg.calls == []


def test_a_one_space_token_is_refused_for_its_shape_not_taken_for_none(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram) -> None:
    config = write_config(tmp_path, tg, token='" "')
    result = run_bot("--config", str(config), env=env)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "No Telegram bot token" in line
    assert tg.calls == []


def test_a_token_with_a_trailing_newline_starts_the_bot(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram,
        processes: list[BotProcess]) -> None:
    open_database(tmp_path / "clinic.db").close()  # the bot never creates its database
    bot = BotProcess(["--config", str(write_config(tmp_path, tg))],
                     {**env, "PLANNER_BOT_TOKEN": f"{tg.token}\n"}).start()
    processes.append(bot)
    bot.wait_for_line("Application started")
    assert bot.stop(signal.SIGTERM) == 0
    assert [c.status for c in tg.calls_for("getMe")][:1] == [200]


def test_telegram_unreachable_exits_1_in_one_line(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram) -> None:
    with socket.socket() as probe:  # a port nobody listens on once this is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "clinic.toml"
    config.write_text(f'[bot]\nbase_url = "http://127.0.0.1:{port}/bot"\n', encoding="utf-8")
    open_database(tmp_path / "clinic.db").close()  # the bot never creates its database
    result = run_bot("--config", str(config), "--db", str(tmp_path / "clinic.db"),
                     env={**env, "PLANNER_BOT_TOKEN": tg.token})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot reach Telegram at http://127.0.0.1:{port}/bot")
    assert tg.token not in line


def test_a_flood_wait_on_the_first_call_exits_1_in_one_line(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram) -> None:
    tg.fail_next("getMe", "429", retry_after=30)
    open_database(tmp_path / "clinic.db").close()  # the bot never creates its database
    result = run_bot("--config", str(write_config(tmp_path, tg)),
                     env={**env, "PLANNER_BOT_TOKEN": tg.token})
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: cannot reach Telegram at {tg.base_url}")


def test_sigterm_during_a_burst_stops_cleanly_without_a_traceback(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram,
        processes: list[BotProcess]) -> None:
    config = write_config(tmp_path, tg, messages_per_second=5)
    chats = prepare_clinic(config, 20)
    for chat_id in chats:
        tg.add_chat(chat_id, f"User {chat_id}", language_code="ja")
    bot = BotProcess(["--config", str(config)], {**env, "PLANNER_BOT_TOKEN": tg.token}).start()
    processes.append(bot)
    tg.wait_for(lambda: len(tg.calls_for("sendMessage")) >= 3, START_TIMEOUT)
    assert bot.stop(signal.SIGTERM) == 0
    output = bot.rest()
    assert "Traceback" not in output
    assert "CancelledError" not in output
    assert " ERROR " not in output


def test_a_second_bot_on_the_same_database_refuses_to_start(
        tmp_path: Path, env: dict[str, str], processes: list[BotProcess]) -> None:
    db = str(tmp_path / "clinic.db")
    open_database(db).close()  # the bot never creates its database
    first = BotProcess(["--console", "--db", db], env).start()
    processes.append(first)
    first.wait_for_line("console mode")
    second = run_bot("--console", "--db", db, env=env)
    assert second.returncode == 2
    assert "another bot is already running on this database" in second.stderr
    assert first.stop() == 0


def test_a_kill_during_a_burst_loses_no_reminder_and_repeats_at_most_one(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram,
        processes: list[BotProcess]) -> None:
    config = write_config(tmp_path, tg, messages_per_second=10)
    chats = prepare_clinic(config, 30)
    for chat_id in chats:
        tg.add_chat(chat_id, f"User {chat_id}", language_code="ja")
    env = {**env, "PLANNER_BOT_TOKEN": tg.token}

    def delivered() -> int:
        return sum(1 for chat_id in chats for _ in tg.messages(chat_id))

    first = BotProcess(["--config", str(config)], env).start()
    processes.append(first)
    tg.wait_for(lambda: delivered() >= 10, START_TIMEOUT)
    first.kill()
    before_restart = delivered()
    assert before_restart < len(chats), "the burst ended before the kill"
    second = BotProcess(["--config", str(config)], env).start()
    processes.append(second)
    tg.wait_for(lambda: all(tg.messages(chat_id) for chat_id in chats), START_TIMEOUT)
    assert second.stop(signal.SIGTERM) == 0
    counts = [len(tg.messages(chat_id)) for chat_id in chats]
    assert min(counts) == 1
    assert sum(counts) - len(chats) <= 1  # one message may be in flight at the kill
    db = open_database(load_settings(config).database)
    states = db.execute("SELECT state, COUNT(*) FROM deliveries GROUP BY state").fetchall()
    db.conn.close()
    assert states == [("sent", len(chats))]


def test_updates_sent_while_the_bot_was_down_are_answered_after_start(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram,
        processes: list[BotProcess]) -> None:
    config = write_config(tmp_path, tg)
    settings = load_settings(config)
    db = open_database(settings.database)
    planner = Planner(Store(db), settings, SystemClock())
    patient = planner.store.add_patient("山田 太郎", "ja", None, "test", planner.now())
    planner.plan(int(patient["id"]), first_infusion=date(2027, 6, 7))
    with db.atomic():
        code = planner.links.create_code(planner.now(), timedelta(days=7),
                                         patient_id=int(patient["id"])).code
    db.conn.close()
    tg.add_chat(FIRST_CHAT, "Taro", language_code="ja")
    tg.send_text(FIRST_CHAT, f"/start {code}")
    tg.send_text(FIRST_CHAT, "/next")
    bot = BotProcess(["--config", str(config)], {**env, "PLANNER_BOT_TOKEN": tg.token}).start()
    processes.append(bot)
    tg.wait_for(lambda: len(tg.messages(FIRST_CHAT)) >= 2, START_TIMEOUT)
    assert bot.stop() == 0
    welcome, next_visit = tg.texts(FIRST_CHAT)
    assert "山田 太郎" in (welcome or "")
    assert "5月17日(月)" in (next_visit or "")  # the collection before infusion 1 on 06-07


def test_console_mode_prints_a_due_reminder(
        tmp_path: Path, env: dict[str, str], tg: FakeTelegram,
        processes: list[BotProcess]) -> None:
    config = write_config(tmp_path, tg)
    [chat_id] = prepare_clinic(config, 1)
    bot = BotProcess(["--console", "--config", str(config)], env).start()
    processes.append(bot)
    bot.wait_for_line(f"--- message 1 to chat {chat_id} ---")
    bot.wait_for_line("リンパ球の採取")
    bot.wait_for_line("[予定どおり伺います]")
    assert bot.stop() == 0
    assert tg.calls == []  # nothing went to Telegram


def test_redaction_leaves_a_short_or_blank_token_alone() -> None:
    record = logging.LogRecord("planner.channels.telegram.app", logging.INFO, __file__, 1,
                               "sent to chat 1 of 2", (), None)
    for token in (" ", "1", "123:abc"):
        RedactToken(token).filter(record)
    assert record.getMessage() == "sent to chat 1 of 2"


def test_redaction_hides_a_real_token_given_with_a_trailing_newline() -> None:
    token = "123456:TEST-token-0123456789abcdefghijklmnopq"
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "POST %s", (
        f"https://api.telegram.org/bot{token}/getMe",), None)
    RedactToken(f"{token}\n").filter(record)
    assert record.getMessage() == "POST https://api.telegram.org/bot<token>/getMe"


def test_token_check_strips_surrounding_whitespace() -> None:
    token = "123456:TEST-token-0123456789abcdefghijklmnopq"
    assert check_token(f"  {token}\r\n", "[bot] token") == token


@pytest.mark.parametrize("token", ["123456", "abc:TEST-token-0123456789abcdefghijklmnopq",
                                   "123456:short", "123456:TEST token 0123456789abcdefghijkl"])
def test_token_check_refuses_what_cannot_be_a_token_naming_where_it_came_from(
        token: str) -> None:
    with pytest.raises(InputError, match=r"^PLANNER_BOT_TOKEN: this is not a Telegram bot"):
        check_token(token, "PLANNER_BOT_TOKEN")
