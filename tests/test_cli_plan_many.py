"""planner plan-many: a CSV of courses planned in one transaction, all or none."""

from tests.conftest import dump_database
from tests.test_cli import assert_refused

HEADER = "patient_id,first_infusion,collection,protocol\n"


def write_csv(tmp_path, body):
    path = tmp_path / "courses.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def add_patients(planner_cli, count):
    for number in range(count):
        planner_cli.ok("patient", "add", f"Patient {number}")


def test_every_line_becomes_a_course(planner_cli, tmp_path):
    add_patients(planner_cli, 2)
    # Patient 1 from the first infusion Mon 2027-06-07, patient 2 from the collection
    # Mon 2027-05-17 (first infusion 21 days later, the same Mon 2027-06-07).
    path = write_csv(tmp_path, "1,2027-06-07,,\n2,,2027-05-17,ank\n")
    rows = planner_cli.json("plan-many", str(path))
    assert [(r["line"], r["course_id"]) for r in rows] == [(2, 1), (3, 2)]
    courses = planner_cli.json("show", "1")
    assert courses[0]["planned_from"] == "first_infusion"


def test_courses_of_one_batch_share_the_clinic_capacity(planner_cli, tmp_path):
    # Three infusion chairs: four courses starting the same Monday cannot all sit at 10:00.
    add_patients(planner_cli, 4)
    path = write_csv(tmp_path, "".join(f"{n},2027-06-07,,\n" for n in range(1, 5)))
    planner_cli.ok("plan-many", str(path))
    rows = planner_cli.json("agenda", "--from", "2027-06-07", "--to", "2027-06-07")
    times = sorted(r["start"][11:16] for r in rows if r["kind"] == "infusion")
    assert times == ["10:00", "10:00", "10:00", "11:00"]


def test_one_line_that_cannot_be_planned_stores_nothing(planner_cli, tmp_path):
    add_patients(planner_cli, 2)
    path = write_csv(tmp_path, "1,2027-06-07,,\n2,2026-12-14,,\n")
    before = dump_database(planner_cli.db)
    assert_refused(planner_cli("plan-many", str(path)), "course 2 (patient 2",
                   "plan.past: the collection on 2026-11-24", "nearest first infusion that works")
    assert dump_database(planner_cli.db) == before


def test_a_bad_date_names_the_line_and_the_column(planner_cli, tmp_path):
    add_patients(planner_cli, 1)
    path = write_csv(tmp_path, "1,2027-02-30,,\n")
    assert_refused(planner_cli("plan-many", str(path)),
                   "courses.csv: line 2: first_infusion: '2027-02-30' is not a date")


def test_a_line_with_both_starts_is_refused(planner_cli, tmp_path):
    add_patients(planner_cli, 1)
    path = write_csv(tmp_path, "1,2027-06-07,2027-05-17,\n")
    assert_refused(planner_cli("plan-many", str(path)),
                   "line 2: give exactly one of first_infusion and collection")


def test_an_unknown_patient_is_refused(planner_cli, tmp_path):
    add_patients(planner_cli, 1)
    path = write_csv(tmp_path, "1,2027-06-07,,\n7,2027-06-08,,\n")
    assert_refused(planner_cli("plan-many", str(path)), "no patient with id 7")


def test_a_file_without_the_header_is_refused(planner_cli, tmp_path):
    path = tmp_path / "courses.csv"
    path.write_text("1,2027-06-07\n", encoding="utf-8")
    assert_refused(planner_cli("plan-many", str(path)), "the header must name patient_id")
