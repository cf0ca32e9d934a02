"""Reading the configuration: defaults, the example file, and errors that name the key."""

from dataclasses import replace
from pathlib import Path

import pytest

from planner.config.protocols import parse_protocol, protocol_to_table
from planner.config.settings import load_settings, parse_settings
from planner.core.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


def test_the_example_file_equals_the_built_in_defaults():
    example = load_settings(EXAMPLE)
    assert replace(example, source="") == replace(load_settings(None), source="")


def test_the_default_protocol_is_eight_infusions_twice_a_week():
    ank = load_settings(None).protocols["ank"]
    assert (ank.infusions, ank.per_week, ank.gap_days) == (8, 2, (2, 5))
    assert [s.kind for s in ank.steps] == ["collection", "blood_test", "cell_delivery",
                                           "follow_up"]


def test_a_protocol_survives_its_snapshot_round_trip():
    ank = load_settings(None).protocols["ank"]
    assert parse_protocol("ank", protocol_to_table(ank), "snapshot") == ank


def test_a_wrong_number_names_the_file_the_key_and_the_value(tmp_path):
    path = tmp_path / "clinic.toml"
    path.write_text('[protocol.ank]\ninfusions = "eight"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"{path}: protocol.ank.infusions: must be a whole number >= 1, got 'eight'")


def test_broken_toml_is_reported_with_the_file(tmp_path):
    path = tmp_path / "clinic.toml"
    path.write_text("[clinic\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_a_missing_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_an_unknown_key_is_refused_with_the_known_ones():
    with pytest.raises(ConfigError, match="clinic.opening: unknown key"):
        parse_settings({"clinic": {"opening": "09:00"}}, "x.toml")


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ConfigError, match="clinic.timezone: is not a known IANA time zone"):
        parse_settings({"clinic": {"timezone": "Mars/Base"}}, "x.toml")


def test_an_unknown_holiday_country_is_refused():
    with pytest.raises(ConfigError, match="clinic.holidays: unknown country code"):
        parse_settings({"clinic": {"holidays": "XX"}}, "x.toml")


def test_closing_before_opening_is_refused():
    with pytest.raises(ConfigError, match="clinic.closes: must be later than opens"):
        parse_settings({"clinic": {"opens": "18:00", "closes": "09:00"}}, "x.toml")


def test_a_window_that_does_not_contain_its_offset_is_refused():
    table = {"protocol": {"ank": {"steps": {"collection": {
        "anchor": "first_infusion", "offset_days": -21, "window_days": [-14, -7],
        "time": "09:00", "minutes": 240}}}}}
    with pytest.raises(ConfigError, match="steps.collection.window_days: must contain"):
        parse_settings(table, "x.toml")


def test_a_step_that_cannot_fit_in_clinic_hours_is_refused():
    table = {"protocol": {"ank": {"steps": {"collection": {
        "anchor": "first_infusion", "offset_days": -21, "window_days": [-28, -14],
        "time": "16:00", "minutes": 240}}}}}
    with pytest.raises(ConfigError, match="steps.collection: .*ends after the clinic closes"):
        parse_settings(table, "x.toml")


def test_an_infusion_that_cannot_fit_in_clinic_hours_is_refused():
    with pytest.raises(ConfigError, match="infusion_minutes: .*longer than the clinic"):
        parse_settings({"protocol": {"ank": {"infusion_minutes": 600}}}, "x.toml")


def test_an_unknown_default_protocol_is_refused():
    with pytest.raises(ConfigError, match="default_protocol: names no protocol"):
        parse_settings({"default_protocol": "nk"}, "x.toml")


def test_an_unknown_protocol_name_is_refused_listing_the_known_ones():
    with pytest.raises(ConfigError, match="unknown protocol 'nk'; known: ank"):
        load_settings(None).protocol("nk")


def test_several_named_protocols_can_be_defined():
    settings = parse_settings({"protocol": {"ank": {}, "ank12": {"infusions": 12}}}, "x.toml")
    assert settings.protocol("ank12").infusions == 12
    assert settings.protocol(None).name == "ank"


def test_no_year_end_closure_can_be_configured():
    assert parse_settings({"clinic": {"year_end_closure": []}}, "x").clinic.year_end_closure is None


def test_a_weekday_triple_is_refused_as_a_pair():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"protocol": {"ank": {"weekday_pairs": [["mon", "wed", "fri"]]}}},
                       "x.toml")
    assert str(caught.value) == ("x.toml: protocol.ank.weekday_pairs: each pair must be two "
                                 "different weekdays, got ['mon', 'wed', 'fri']")


def test_a_weekday_in_two_pairs_is_refused():
    pairs = [["mon", "thu"], ["thu", "sat"]]
    with pytest.raises(ConfigError, match=r"weekday_pairs: a weekday may be in one pair only, "
                                          r"got \['thu', 'sat'\]"):
        parse_settings({"protocol": {"ank": {"weekday_pairs": pairs}}}, "x.toml")


def test_no_weekday_pairs_is_allowed():
    settings = parse_settings({"protocol": {"ank": {"weekday_pairs": []}}}, "x.toml")
    assert settings.protocols["ank"].weekday_pairs == ()


def test_a_reminder_rule_about_a_kind_no_protocol_has_is_refused_naming_the_rule():
    rules = [{"kind": "infusion", "minutes_before": 120},
             {"kind": "infussion", "days_before": 1, "at": "18:00"}]
    with pytest.raises(ConfigError) as caught:
        parse_settings({"reminders": {"rule": rules}}, "x.toml")
    assert str(caught.value) == (
        "x.toml: reminders.rule[1].kind: is not an event kind of any protocol (kinds: "
        "blood_test, cell_delivery, collection, follow_up, infusion), got 'infussion'")


def test_a_reminder_rule_about_a_step_of_a_second_protocol_is_accepted():
    data = {"protocol": {"ank": {}, "short": {"steps": {"consult": {
                "anchor": "first_infusion", "offset_days": -7, "time": "10:00"}}}},
            "reminders": {"rule": [{"kind": "consult", "days_before": 1, "at": "18:00"}]}}
    settings = parse_settings(data, "x.toml")
    assert [rule.kind for rule in settings.reminders.rules] == ["consult"]


@pytest.mark.parametrize("url", ["ftp://calendar.example.jp", "calendar.example.jp",
                                 "http://", "file:///etc/passwd"])
def test_a_feed_base_url_that_is_not_http_is_refused(url):
    with pytest.raises(ConfigError) as caught:
        parse_settings({"feed": {"base_url": url}}, "x.toml")
    assert str(caught.value) == (f"x.toml: feed.base_url: must be an http:// or https:// URL "
                                 f"with a host, got {url!r}")


def test_a_uid_domain_that_is_not_a_domain_is_refused():
    with pytest.raises(ConfigError, match="export.uid_domain: must be a domain name"):
        parse_settings({"export": {"uid_domain": "clinic example.jp"}}, "x.toml")


def test_a_clinic_name_with_a_line_break_is_refused():
    with pytest.raises(ConfigError, match="clinic.name: must not hold control characters or "
                                          "line breaks"):
        parse_settings({"clinic": {"name": "ANK\nclinic"}}, "x.toml")


def test_quiet_hours_that_start_when_they_end_are_refused():
    with pytest.raises(ConfigError) as caught:
        parse_settings({"reminders": {"quiet_hours": ["21:00", "21:00"]}}, "x.toml")
    assert str(caught.value) == (
        "x.toml: reminders.quiet_hours: start and end are the same time; give two different "
        "times, or [] for no quiet hours, got ['21:00', '21:00']")
def test_the_clinics_contact_details_reach_the_letterhead():
    settings = parse_settings({"clinic": {"name": "あおば クリニック", "phone": "03-1234-5678",
                                          "map_url": "https://maps.example.jp/aoba"}}, "t.toml")
    head = settings.letterhead
    assert (head.clinic, head.phone, head.after_hours_phone, head.map_url) == (
        "あおば クリニック", "03-1234-5678", "", "https://maps.example.jp/aoba")
    assert head.discreet is True


def test_a_phone_number_written_as_a_number_names_the_key():
    with pytest.raises(ConfigError, match=r"t\.toml: clinic\.phone: must be text in quotes"):
        parse_settings({"clinic": {"phone": 312345678}}, "t.toml")


def test_a_map_link_that_is_not_a_web_address_is_refused():
    with pytest.raises(ConfigError, match=r"clinic\.map_url: must start with https://"):
        parse_settings({"clinic": {"map_url": "maps.example.jp"}}, "t.toml")


def test_discreet_must_be_true_or_false():
    with pytest.raises(ConfigError, match=r"privacy\.discreet: must be true or false"):
        parse_settings({"privacy": {"discreet": "yes"}}, "t.toml")


def test_a_check_in_rule_for_the_lab_is_refused():
    rule = {"kind": "infusion", "audience": "lab", "check_in_at": "19:00"}
    with pytest.raises(ConfigError, match=r"rule\[0\]\.audience: a check-in is for patient"):
        parse_settings({"reminders": {"rule": [rule]}}, "t.toml")


def test_a_check_in_rule_with_another_timing_is_refused():
    rule = {"kind": "infusion", "audience": "patient", "check_in_at": "19:00",
            "days_before": 1}
    with pytest.raises(ConfigError, match=r"rule\[0\]\.days_before: a check-in rule takes"):
        parse_settings({"reminders": {"rule": [rule]}}, "t.toml")
