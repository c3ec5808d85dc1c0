"""Exact sums of monetary values in DynamoDB numbers, which keep 38 significant digits.

An ``event_monetary_value`` is stored as the decimal text of a double (``19.99``, ``1e-130``): at most 17
significant digits, between 1e-130 and 1e15 in magnitude. A sum of such values can need ~160 digits (1e15 +
1e-130), so no single DynamoDB number holds it, and an ``ADD`` past 38 digits is refused (and with it the
batch's transaction). A sum is therefore kept as bands of 20 decimal places: band ``k`` holds, as an integer,
the digits of the values at places 10^(20k) to 10^(20k+19). A value touches at most two bands (its 17 digits
span at most two), each under 10^20, so a band's integer stays within 38 digits for up to 10^18 values; bands
add with ``ADD`` like counts, and read back exactly (``total``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Context, Decimal

#: Decimal places per band.
WIDTH = 20
#: Enough precision for any band's integer times its power of ten, and for their sum.
_EXACT = Context(prec=400)


def bands(value: int | float) -> dict[int, int]:
    """The bands of one value as stored (its decimal text): band -> its integer (signed), non-zero bands only."""
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    assert isinstance(exponent, int)  # a finite number (models.py refuses the others)
    found: dict[int, int] = {}
    for place, digit in zip(range(exponent + len(digits) - 1, exponent - 1, -1), digits, strict=True):
        if digit:
            band = place // WIDTH
            found[band] = found.get(band, 0) + digit * 10 ** (place - band * WIDTH)
    return {band: -part if sign else part for band, part in found.items()}


def attribute(prefix: str, band: int) -> str:
    """The attribute holding band ``band`` of the sum named ``prefix`` (``v`` + ``0``, ``d05v`` + ``-1``)."""
    return f"{prefix}{band}"


def total(parts: Mapping[str, Mapping[str, str]], prefix: str) -> Decimal:
    """The exact sum held by an item's attributes named ``prefix`` + band (DynamoDB's ``{"N": ...}`` values)."""
    return add(banded(parts, prefix))


def banded(parts: Mapping[str, Mapping[str, str]], prefix: str) -> Iterator[tuple[int, int]]:
    """The (band, integer) pairs of an item's sum named ``prefix``: several items' pairs ``add`` up exactly."""
    return (
        (int(name[len(prefix) :]), int(value["N"]))
        for name, value in parts.items()
        if name.startswith(prefix) and _is_band(name[len(prefix) :])
    )


def add(banded: Iterable[tuple[int, int]]) -> Decimal:
    """The exact sum of (band, integer) pairs."""
    result = Decimal(0)
    for band, part in banded:
        result = _EXACT.add(result, _EXACT.multiply(Decimal(part), _EXACT.power(Decimal(10), band * WIDTH)))
    return result


def text(value: Decimal) -> str:
    """A sum as plain decimal text: no exponent, no trailing zeros (``39.98``, ``40``, ``0``)."""
    if not value:
        return "0"
    return format(value.normalize(_EXACT), "f")


def _is_band(suffix: str) -> bool:
    return suffix.lstrip("-").isdigit() and suffix.count("-") <= 1
