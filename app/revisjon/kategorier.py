"""What a disclosure of a person contained, as the audit log stores it: one small bit set per
person (one column, not a link table)."""

from __future__ import annotations

from collections.abc import Iterable

from authz.scopes import Kategori

KATEGORI_BITS: dict[Kategori, int] = {
    Kategori.GRUNNDATA: 1,
    Kategori.KONTAKTINFORMASJON: 2,
    Kategori.DIGITAL_POST: 4,
}


def kategorier_til_bits(kategorier: Iterable[Kategori]) -> int:
    """The categories as the bit set stored per person."""
    bits = 0
    for kategori in kategorier:
        bits |= KATEGORI_BITS[kategori]
    return bits


def bits_til_kategorier(bits: int) -> list[Kategori]:
    """The inverse of `kategorier_til_bits`, in the enum's order."""
    return [k for k, bit in KATEGORI_BITS.items() if bits & bit]
