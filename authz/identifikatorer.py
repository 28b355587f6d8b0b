"""Identifiers: a person's (fødselsnummer, D-number, synthetic Tenor number) and an
organisation's number. Pure rules, used by the token check and the register alike.

python-stdnum's validation rejects D-numbers from before 1900 and synthetic numbers (month + 80),
which the register must accept, so the date rules live here.
"""

from __future__ import annotations

import datetime as dt
import re
from operator import mul

from stdnum.no import orgnr

SYNTHETIC_MONTH_OFFSET = 80
D_NUMBER_DAY_OFFSET = 40


def birth_year(two_digit_year: int, individual: int) -> int | None:
    """Century from the individual number (Skatteetaten's allocation table)."""
    if individual < 500:
        return 1900 + two_digit_year
    if individual < 750 and two_digit_year >= 54:
        return 1800 + two_digit_year
    if two_digit_year < 40:
        return 2000 + two_digit_year
    if individual >= 900:
        return 1900 + two_digit_year
    return None


def birth_date(number: str) -> dt.date | None:
    """The birth date encoded in a valid id, undoing the D-number and synthetic offsets."""
    day, month, year = int(number[0:2]), int(number[2:4]), int(number[4:6])
    if day > D_NUMBER_DAY_OFFSET:
        day -= D_NUMBER_DAY_OFFSET
    if month > SYNTHETIC_MONTH_OFFSET:
        month -= SYNTHETIC_MONTH_OFFSET
    full_year = birth_year(year, int(number[6:9]))
    if full_year is None:
        return None
    try:
        return dt.date(full_year, month, day)
    except ValueError:
        return None


# The mod-11 weights of the two check digits (Skatteetaten; python-stdnum uses the same). The
# sums are done here rather than through stdnum's calc_check_digit1/2, which are four times
# slower and every id of every lookup passes through them; tests check both agree.
WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
_ZERO = ord("0")


def check_digits(first_nine: str) -> str | None:
    """The two mod-11 check digits, or None where a remainder would give 10."""
    digits = [c - _ZERO for c in first_nine.encode("ascii")]
    k1 = (11 - sum(map(mul, WEIGHTS_1, digits))) % 11
    if k1 == 10:
        return None
    digits.append(k1)
    k2 = (11 - sum(map(mul, WEIGHTS_2, digits))) % 11
    if k2 == 10:
        return None
    return f"{k1}{k2}"


def problem(number: str) -> str | None:
    """Why `number` is not a valid personal id, or None when it is."""
    if len(number) != 11 or not number.isascii() or not number.isdigit():
        return "must be exactly 11 digits"
    if check_digits(number[:9]) != number[9:]:
        return "fails the mod-11 check"
    if birth_date(number) is None:
        return "does not encode a valid birth date"
    return None


def make_id(birth: dt.date, individual: int, *, d_number: bool = False,
            synthetic: bool = True) -> str | None:
    """Build an id for a birth date and individual number, or None when no check digit exists."""
    day = birth.day + (D_NUMBER_DAY_OFFSET if d_number else 0)
    month = birth.month + (SYNTHETIC_MONTH_OFFSET if synthetic else 0)
    first_nine = f"{day:02d}{month:02d}{birth.year % 100:02d}{individual:03d}"
    digits = check_digits(first_nine)
    return None if digits is None else first_nine + digits


_ORGNO_RE = re.compile(r"[0-9]{9}")
# An organisation number in ISO 6523 form, as Maskinporten's consumer and supplier claims hold
# it: {"authority": CONSUMER_AUTHORITY, "ID": ORGNO_PREFIX + orgno}.
CONSUMER_AUTHORITY = "iso6523-actorid-upis"
ORGNO_PREFIX = "0192:"


def org_claim(orgno: str) -> dict[str, str]:
    """An organisation number in that form (a token's consumer or supplier; a signed answer's)."""
    return {"authority": CONSUMER_AUTHORITY, "ID": ORGNO_PREFIX + orgno}


def is_valid_orgno(value: object) -> bool:
    """Nine ASCII digits with a correct mod-11 check digit.

    The digit check comes first because stdnum alone tolerates spaces and separators, and an
    identifier used for access control must have exactly one spelling.
    """
    return (
        isinstance(value, str) and _ORGNO_RE.fullmatch(value) is not None and orgnr.is_valid(value)
    )
