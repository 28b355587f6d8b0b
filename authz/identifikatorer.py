"""Identifiers: a person's (fødselsnummer, D-number, synthetic Tenor number) and an
organisation's number. Pure rules, used by the token check and the register alike.

python-stdnum's validation rejects D-numbers from before 1900 and synthetic numbers (month + 80),
which the register must accept, so the date rules live here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

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


# The mod-11 weights of the two check digits (Skatteetaten; python-stdnum uses the same). Every
# id of every lookup passes through here, so the weighted sums are looked up by three-digit
# chunk (three lookups a sum, not nine products) rather than computed through stdnum's
# calc_check_digit1/2, which are ten times slower; tests check both agree.
WEIGHTS_1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
WEIGHTS_2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def _chunk_sums(weights: tuple[int, ...]) -> tuple[dict[str, int], ...]:
    """For each three-digit chunk of the first nine digits, its weighted sum by chunk text."""
    return tuple(
        {f"{n:03d}": sum(w * int(d) for w, d in zip(weights[i:i + 3], f"{n:03d}", strict=True))
         for n in range(1000)}
        for i in (0, 3, 6)
    )


_SUMS_1 = _chunk_sums(WEIGHTS_1)
_SUMS_2 = _chunk_sums(WEIGHTS_2)
_K1_WEIGHT_2 = WEIGHTS_2[9]  # the first check digit's own weight in the second sum
_CHECK_TEXT = {(k1, k2): f"{k1}{k2}" for k1 in range(10) for k2 in range(10)}


def check_digits(first_nine: str) -> str | None:
    """The two mod-11 check digits of nine ASCII digits, or None where a remainder gives 10."""
    a, b, c = first_nine[0:3], first_nine[3:6], first_nine[6:9]
    (a1, b1, c1), (a2, b2, c2) = _SUMS_1, _SUMS_2
    k1 = (11 - (a1[a] + b1[b] + c1[c])) % 11
    if k1 == 10:
        return None
    k2 = (11 - (a2[a] + b2[b] + c2[c] + _K1_WEIGHT_2 * k1)) % 11
    if k2 == 10:
        return None
    return _CHECK_TEXT[k1, k2]


def _days_and_months() -> dict[str, bool]:
    """Every day-and-month text (the first four digits, offsets included) that some year makes
    a valid birth date, with whether it takes a leap year (29 February): what `birth_date`
    decides, worked out once so that checking an id needs no date."""
    valid: dict[str, bool] = {}
    for n in range(10000):
        text = f"{n:04d}0000"  # year 00, individual 000: 1900, a common year
        leap_text = f"{n:04d}00500"[:9]  # individual 500 of year 00: 2000, a leap year
        if birth_date(text) is not None:
            valid[text[:4]] = False
        elif birth_date(leap_text) is not None:
            valid[text[:4]] = True
    return valid


_DAYS_AND_MONTHS = _days_and_months()
# The year of birth by digits 5-8 (the year and the individual number's first two digits, which
# decide the century): what `birth_year` decides, worked out once.
_YEARS = {f"{yy:02d}{ii:02d}": birth_year(yy, ii * 10) for yy in range(100) for ii in range(100)}


def problem(number: str) -> str | None:
    """Why `number` is not a valid personal id, or None when it is."""
    if len(number) != 11 or not number.isascii() or not number.isdigit():
        return "must be exactly 11 digits"
    if check_digits(number) != number[9:]:
        return "fails the mod-11 check"
    # birth_date(number) is not None, without building the date
    leap = _DAYS_AND_MONTHS.get(number[:4])
    year = None if leap is None else _YEARS[number[4:8]]
    if year is None or (leap and not calendar.isleap(year)):
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
