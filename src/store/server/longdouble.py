"""Redis's ``long double`` arithmetic (INCRBYFLOAT, HINCRBYFLOAT) on x86-64: 80-bit x87
extended precision (64-bit mantissa), parsed as ``strtold`` does and printed with
``%.17Lf`` minus trailing zeros. Exact rationals emulate it, so 0.1 + 0.2 is "0.3" here as
it is in Redis, where binary doubles would give 0.30000000000000004."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from .keyspace import CommandError

__all__ = [
    "add_long_double",
    "format_long_double",
    "parse_increment",
    "parse_long_double",
    "round_long_double",
]

# -- x87 extended precision ----------------------------------------------------------------

_MANTISSA_BITS = 64
_MIN_QUANTUM = 16382 + _MANTISSA_BITS - 1  # subnormals: the smallest step is 2**-16445
_OVERFLOW = Fraction(1 << 16384)  # the first magnitude that rounds to infinity
_MAX_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS: longer input is refused
_INF = float("inf")

_DECIMAL = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)


def _exponent(text: bytes | None) -> int:
    """An exponent's value, clamped: beyond a million every nonzero mantissa of at most
    5120 digits overflows or underflows, and int() must not parse a huge string."""
    if not text:
        return 0
    digits = text.lstrip(b"+-").lstrip(b"0")
    if len(digits) > 7:
        return -(10**7) if text[:1] == b"-" else 10**7
    return int(text)


def round_long_double(value: Fraction) -> Fraction | float:
    """``value`` rounded to the nearest x87 extended number (ties to even), or +-inf."""
    if not value:
        return Fraction(0)
    negative = value < 0
    num, den = abs(value.numerator), value.denominator
    exp = num.bit_length() - den.bit_length()  # floor(log2(value)) is exp or exp - 1
    if (num if exp >= 0 else num << -exp) < (den << exp if exp >= 0 else den):
        exp -= 1
    shift = min(_MANTISSA_BITS - 1 - exp, _MIN_QUANTUM)
    if shift >= 0:
        num <<= shift
    else:
        den <<= -shift
    mantissa, rest = divmod(num, den)
    if 2 * rest > den or (2 * rest == den and mantissa & 1):
        mantissa += 1
    result = Fraction(mantissa, 1 << shift) if shift >= 0 else Fraction(mantissa << -shift)
    if result >= _OVERFLOW:
        return -_INF if negative else _INF
    return -result if negative else result


def parse_long_double(text: bytes) -> Fraction | float | None:
    """Redis's string2ld: ``strtold`` over the whole string. None for anything it refuses
    (junk, NaN, overflow, or underflow to zero); +-inf comes back as a float."""
    if not text or len(text) >= _MAX_CHARS:
        return None
    if _INFINITY.fullmatch(text):
        return -_INF if text[:1] == b"-" else _INF
    exact: Fraction
    found = _HEX.fullmatch(text)
    if found is not None:
        sign, whole, fraction, exp_text = found.groups()
        digits = whole + (fraction or b"")
        if not digits:
            return None
        mantissa = int(digits, 16)
        exp = _exponent(exp_text) - 4 * len(fraction or b"")
        if mantissa:
            top = mantissa.bit_length() - 1 + exp
            if top >= 16384 or top < -_MIN_QUANTUM - 2:
                return None
        exact = Fraction(mantissa) * Fraction(2) ** exp
    else:
        found = _DECIMAL.fullmatch(text)
        if found is None:
            return None
        sign, whole, fraction, exp_text = found.groups()
        digits = (whole + (fraction or b"")).lstrip(b"0")
        if not whole and not fraction:
            return None
        if not digits:
            return Fraction(0)
        exp = _exponent(exp_text) - len(fraction or b"")
        leading = exp + len(digits) - 1  # the value is in [10**leading, 10**(leading + 1))
        if leading >= 4933 or leading < -4951:
            return None
        # Decimal converts any number of digits (int() refuses more than 4300).
        exact = Fraction(int(Decimal(digits.decode()))) * Fraction(10) ** exp
    if sign == b"-":
        exact = -exact
    rounded = round_long_double(exact)
    if isinstance(rounded, float) or (exact and not rounded):
        return None  # ERANGE: out of range, or so small it became zero
    return rounded


def format_long_double(value: Fraction) -> bytes:
    """``%.17Lf`` (exact, ties to even) with trailing zeros and a bare "-0" removed."""
    scaled = abs(value) * 10**17
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    if 2 * rest > scaled.denominator or (2 * rest == scaled.denominator and whole & 1):
        whole += 1
    integer, decimals = divmod(whole, 10**17)
    text = str(Decimal(integer)).encode()  # str(int) refuses more than 4300 digits
    if decimals:
        text += b"." + (b"%017d" % decimals).rstrip(b"0")
    if value < 0 and text != b"0":
        text = b"-" + text
    return text


def parse_increment(text: bytes, finite: bool) -> Fraction | float:
    """An increment; HINCRBYFLOAT refuses an infinite one at once (``finite``), INCRBYFLOAT
    only when the sum is computed."""
    delta = parse_long_double(text)
    if delta is None:
        raise CommandError("ERR value is not a valid float")
    if finite and isinstance(delta, float):
        raise CommandError("ERR value is NaN or Infinity")
    return delta


def add_long_double(old: bytes | None, delta: Fraction | float, not_float: str) -> bytes:
    """``old + delta`` as Redis's INCRBYFLOAT family computes it, as text; ``not_float``
    is the error for a stored value that is not a number."""
    current: Fraction | float = Fraction(0)
    if old is not None:
        parsed = parse_long_double(old)
        if parsed is None:
            raise CommandError(not_float)
        current = parsed
    if isinstance(current, float) or isinstance(delta, float):
        raise CommandError("ERR increment would produce NaN or Infinity")
    result = round_long_double(current + delta)
    if isinstance(result, float):
        raise CommandError("ERR increment would produce NaN or Infinity")
    return format_long_double(result)
