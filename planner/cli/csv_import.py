"""Reading ``plan-many``'s CSV file as a Japanese clinic's Excel saves it.

Excel writes "CSV UTF-8" (UTF-8 with a BOM), plain "CSV" (CP932, the Windows form of
Shift-JIS) and "Unicode text" (UTF-16 with a BOM, cells separated by tabs), so all three
are read, and UTF-8 without a BOM too; the delimiter (comma or tab) is taken from the
header line. Anything else is refused naming the file. Every error names the file and
the line: ``courses.csv: line 3: first_infusion: '2027-02-30' is not a date``.
"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from planner.cli.types import ISO_DATE
from planner.core.errors import InputError
from planner.core.limits import PROTOCOL_LIMIT, check_id, clean_text

if TYPE_CHECKING:
    from planner.service import CourseRequest

COLUMNS = ("patient_id", "first_infusion", "collection", "protocol")
_ENCODINGS = "UTF-8, CP932 (Shift-JIS) or UTF-16"


def read_course_csv(path: Path) -> list[tuple[int, CourseRequest]]:
    """(line number, request) for each course line of the file at ``path``."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(f"{name}: cannot read the file ({error.strerror})") from None
    text = decode_csv(raw, name)
    return read_course_requests(io.StringIO(text, newline=""), name)


def decode_csv(raw: bytes, name: str) -> str:
    """The text of a CSV file in one of Excel's encodings; refused naming the file."""
    if raw.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp932"]
    for encoding in candidates:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    raise InputError(f"{name}: not a CSV text file in {_ENCODINGS}; in Excel save it as "
                     "\"CSV UTF-8\"")


def read_course_requests(file: io.TextIOBase, name: str) -> list[tuple[int, CourseRequest]]:
    """(line number, request) for each CSV line; errors name the file, line and column."""
    header_line = file.readline()
    file.seek(0)
    delimiter = "\t" if "\t" in header_line and "," not in header_line else ","
    reader = csv.DictReader(file, delimiter=delimiter)
    try:
        _check_header(name, [str(f).strip() for f in reader.fieldnames or []])
        requests = []
        for row in reader:
            line = reader.line_num
            requests.append((line, _request(name, line, row)))
    except csv.Error as error:
        raise InputError(f"{name}: line {reader.line_num}: not readable as CSV ({error})"
                         ) from None
    if not requests:
        raise InputError(f"{name}: no courses in the file")
    return requests


def _check_header(name: str, fields: list[str]) -> None:
    missing = [c for c in ("patient_id",) if c not in fields]
    if not {"first_infusion", "collection"} & set(fields):
        missing.append("first_infusion or collection")
    unknown = [f for f in fields if f not in COLUMNS]
    known = f"(columns: {', '.join(COLUMNS)})"
    if unknown and len(unknown) < len(fields):  # no known column at all: no header
        also = f"; missing: {', '.join(missing)}" if missing else ""
        raise InputError(f"{name}: line 1: unknown column {unknown[0]!r} in the header "
                         f"{known}{also}")
    if missing:
        raise InputError(f"{name}: line 1: the header must name patient_id, and "
                         f"first_infusion or collection; missing: {', '.join(missing)}")


def _request(name: str, line: int, row: dict[str | None, str | list[str] | None]
             ) -> CourseRequest:
    where = f"{name}: line {line}"
    extra = row.get(None)
    if extra:
        raise InputError(f"{where}: {len(row) - 1 + len(extra)} cells, but the header names "
                         f"{len(row) - 1} columns")
    cells = {str(key).strip(): str(value or "").strip() for key, value in row.items()}
    try:
        patient_id = check_id(int(cells.get("patient_id", "")), "patient_id")
    except ValueError:
        raise InputError(f"{where}: patient_id: must be a whole number, got "
                         f"{cells.get('patient_id', '')!r}") from None
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    dates: dict[str, date | None] = {}
    for key in ("first_infusion", "collection"):
        value = cells.get(key, "")
        try:
            dates[key] = ISO_DATE.convert(value, None, None) if value else None
        except click.BadParameter as error:
            raise InputError(f"{where}: {key}: {error.message}") from None
    if (dates["first_infusion"] is None) == (dates["collection"] is None):
        raise InputError(f"{where}: give exactly one of first_infusion and collection")
    protocol = cells.get("protocol", "")
    try:
        protocol_name = clean_text(protocol, "protocol", PROTOCOL_LIMIT) if protocol else None
    except InputError as error:
        raise InputError(f"{where}: {error}") from None
    from planner.service import CourseRequest  # the library, loaded only by plan-many

    return CourseRequest(patient_id, dates["first_infusion"], dates["collection"],
                         protocol_name)
