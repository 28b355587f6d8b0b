import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.no.fodselsnummer import calc_check_digit1, calc_check_digit2

from authz.identifikatorer import birth_date, check_digits, make_id, problem

VALID = [
    "17912099997",  # synthetic (month + 80)
    "24907999374",
    "66829700914",  # synthetic D-number (day + 40, month + 80)
    "31819198252",
]


@pytest.mark.parametrize("number", VALID)
def test_valid_ids(number):
    assert problem(number) is None


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("1791209999", "11 digits"),
        ("179120999970", "11 digits"),
        ("1791209999x", "11 digits"),
        ("١٧٩١٢٠٩٩٩٩٧", "11 digits"),  # Arabic-Indic digits are not ASCII digits
        ("17912099998", "mod-11"),
        ("17912099987", "mod-11"),
        ("32912099990", None),  # day 32: whatever the check digits, never valid
    ],
)
def test_invalid_ids(number, why):
    reason = problem(number)
    assert reason is not None
    if why:
        assert why in reason


def test_make_id_round_trips_birth_date():
    birth = dt.date(1985, 3, 9)
    for d_number in (False, True):
        for individual in range(100, 140):
            number = make_id(birth, individual, d_number=d_number)
            if number is None:
                continue
            assert problem(number) is None
            assert birth_date(number) == birth


@settings(max_examples=3000, derandomize=True, database=None)
@given(first_nine=st.text("0123456789", min_size=9, max_size=9))
def test_check_digits_agree_with_python_stdnum(first_nine):
    """The hot path sums the mod-11 weights itself; python-stdnum is the reference."""
    k1 = calc_check_digit1(first_nine)
    k2 = calc_check_digit2(first_nine + k1) if len(k1) == 1 else ""
    expected = k1 + k2 if len(k1) == 1 and len(k2) == 1 else None
    assert check_digits(first_nine) == expected


@settings(max_examples=3000, derandomize=True, database=None)
@given(day_month=st.integers(0, 9999), year=st.integers(0, 99), individual=st.integers(0, 999))
def test_problem_decides_the_birth_date_as_birth_date_does(day_month, year, individual):
    """`problem` checks the date from tables worked out once; `birth_date` is the reference."""
    first_nine = f"{day_month:04d}{year:02d}{individual:03d}"
    digits = check_digits(first_nine)
    if digits is None:
        return
    number = first_nine + digits
    assert (problem(number) is None) == (birth_date(number) is not None)


def test_29_february_only_in_leap_years():
    """29 February 1900 (individual 000) did not exist; 29 February 2000 (individual 500) did."""
    assert "birth date" in (problem("29020000064") or "")
    assert problem("29020050088") is None
    assert birth_date("29020050088") == dt.date(2000, 2, 29)
