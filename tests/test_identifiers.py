import datetime as dt

import pytest

from app.identifiers import birth_date, make_id, problem

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
