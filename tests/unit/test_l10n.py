"""Dates, moments and country names as readers see them (shared.l10n, Babel's
CLDR data): the event's zone, never the server's or UTC, and names, not codes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from shared.l10n import Formatter, as_moment, language_for

# The Tallinn deadline of the issue: 23:59 local time, stored in UTC.
DEADLINE = "2027-02-20T21:59:00+00:00"


@pytest.mark.parametrize(
    "language,expected",
    [
        ("en", "Saturday, 20 February 2027 at 23:59 (Eastern European Standard Time, GMT+02:00)"),
        ("fr", "samedi 20 février 2027 à 23:59 (heure normale d’Europe de l’Est, UTC+02:00)"),
        ("de", "Samstag, 20. Februar 2027 um 23:59 (Osteuropäische Normalzeit, GMT+02:00)"),
    ],
)
def test_a_moment_is_shown_in_the_events_zone_named_and_with_its_offset(language, expected):
    assert Formatter(language).moment(DEADLINE, "Europe/Tallinn") == expected
    # the same instant, as a datetime or with another offset, reads the same
    moment = datetime(2027, 2, 20, 21, 59, tzinfo=UTC)
    assert Formatter(language).moment(moment, "Europe/Tallinn") == expected
    assert Formatter(language).moment("2027-02-20T22:59:00+01:00", "Europe/Tallinn") == expected


def test_summer_time_and_zones_cldr_does_not_name():
    assert "23:59 (Eastern European Summer Time, GMT+03:00)" in Formatter("en").moment(
        "2027-07-20T20:59:00Z", "Europe/Tallinn"
    )
    # Kyiv has no CLDR name of its own: the offset alone, never a wrong name
    assert (
        Formatter("en")
        .moment("2027-02-20T21:59:00Z", "Europe/Kyiv")
        .endswith("at 23:59 (GMT+02:00)")
    )
    assert (
        Formatter("fr")
        .moment(DEADLINE, "UTC")
        .endswith("21:59 (temps universel coordonné, UTC+00:00)")
    )
    # an unknown zone is read as UTC rather than failing the page or mail
    assert "21:59" in Formatter("en").moment(DEADLINE, "Mars/Olympus_Mons")


def test_the_day_of_a_moment_is_the_events_day():
    # 22:30 UTC on the 20th is already the 21st in Tallinn
    assert (
        Formatter("en").moment_day("2027-02-20T22:30:00Z", "Europe/Tallinn") == "21 February 2027"
    )
    assert Formatter("de").moment_day(None, "Europe/Tallinn") == ""


@pytest.mark.parametrize(
    "language,same_month,across_months,one_day",
    [
        ("en", "10–11 March 2027", "30 March\u2009–\u20091 April 2027", "11 May 2027"),
        ("fr", "10–11 mars 2027", "30 mars\u2009–\u20091 avril 2027", "11 mai 2027"),
        ("de", "10.–11. März 2027", "30. März\u2009–\u20091. April 2027", "11. Mai 2027"),
    ],
)
def test_an_events_days_are_dates_with_the_months_written_out(
    language, same_month, across_months, one_day
):
    fmt = Formatter(language)
    assert fmt.days("2027-03-10", "2027-03-11") == same_month
    assert fmt.days(date(2027, 3, 30), date(2027, 4, 1)) == across_months
    assert fmt.days("2027-05-11", "2027-05-11") == one_day
    assert fmt.days("2027-05-11", None) == one_day
    assert "2028" in fmt.days("2027-12-30", "2028-01-01")


def test_country_names_not_codes():
    assert [Formatter(lang).country("EE") for lang in ("en", "fr", "de")] == [
        "Estonia",
        "Estonie",
        "Estland",
    ]
    assert Formatter("fr").countries(["LV", "FI", "PT"]) == "Lettonie, Finlande et Portugal"
    assert Formatter("de").place({"city": "Tallinn", "country": "EE", "online": True}) == (
        "Tallinn, Estland + online"
    )
    assert Formatter("fr").place({"online": True}) == "en ligne"
    assert Formatter("en").country("XZ") == "XZ"  # unknown: the code rather than nothing


def test_languages_fall_back_to_english():
    assert language_for("fr-BE") == "fr" and language_for("de_AT") == "de"
    assert language_for("et") == "en" and language_for(None) == "en"
    assert Formatter("et").language == "en"


def test_moments_from_mongodb_are_utc_and_bad_values_show_nothing():
    assert as_moment(datetime(2027, 2, 20, 21, 59)) == datetime(2027, 2, 20, 21, 59, tzinfo=UTC)
    assert Formatter("en").moment("not a time", "Europe/Tallinn") == ""
    assert Formatter("en").day("") == ""
