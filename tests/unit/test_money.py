"""Money: a Decimal amount plus an ISO 4217 code, rounded down to the currency's minor unit."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from refund_core.policy.money import Money, minor_units


@pytest.mark.parametrize(
    ("currency", "units"),
    [("USD", 2), ("HKD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("OMR", 3), ("XYZ", 2)],
)
def test_minor_units(currency, units):
    assert minor_units(currency) == units


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        pytest.param("12.349", "USD", "12.34", id="usd-down-not-nearest"),
        pytest.param("12.3", "USD", "12.30", id="usd-pads"),
        pytest.param("12", "USD", "12.00", id="usd-integer"),
        pytest.param("0.009", "USD", "0.00", id="usd-below-a-cent"),
        pytest.param("99.999999999", "HKD", "99.99", id="hkd-many-nines"),
        pytest.param("1234.9", "JPY", "1234", id="jpy-no-decimals"),
        pytest.param("1234", "JPY", "1234", id="jpy-integer"),
        pytest.param("1.2349", "KWD", "1.234", id="kwd-three-decimals"),
        pytest.param("1.2", "KWD", "1.200", id="kwd-pads"),
        pytest.param("1E+2", "USD", "100.00", id="exponent-form"),
    ],
)
def test_rounded_down(amount, currency, expected):
    rounded = Money.of(amount, currency).rounded_down()
    assert rounded == Money(amount=Decimal(expected), currency=currency)
    assert str(rounded.amount) == expected


@pytest.mark.parametrize(
    ("currency", "expected"), [("USD", "0.00"), ("JPY", "0"), ("KWD", "0.000")], ids=["usd", "jpy", "kwd"]
)
def test_zero_is_written_with_the_currencys_minor_units(currency, expected):
    assert Money.of(0, currency).rounded_down().model_dump(mode="json") == {"amount": expected, "currency": currency}


@pytest.mark.parametrize(
    ("amount", "currency", "fits"),
    [
        ("12.34", "USD", True),
        ("12.345", "USD", False),
        ("12.340", "USD", True),
        ("1", "JPY", True),
        ("1.5", "JPY", False),
    ],
)
def test_fits_minor_unit(amount, currency, fits):
    assert Money.of(amount, currency).fits_minor_unit() is fits


@pytest.mark.parametrize(
    ("money", "wire"),
    [
        pytest.param(Money.of("12.34", "USD"), {"amount": "12.34", "currency": "USD"}, id="usd"),
        pytest.param(Money.of("8904", "JPY"), {"amount": "8904", "currency": "JPY"}, id="jpy"),
        pytest.param(Money.of("8.904", "KWD"), {"amount": "8.904", "currency": "KWD"}, id="kwd"),
        pytest.param(Money.of(Decimal("1E+2"), "USD"), {"amount": "100", "currency": "USD"}, id="no-exponent"),
        pytest.param(Money.of(Decimal("1E-7"), "USD"), {"amount": "0.0000001", "currency": "USD"}, id="no-small-exp"),
    ],
)
def test_serialisation(money, wire):
    assert money.model_dump(mode="json") == wire
    assert json.loads(money.model_dump_json()) == wire
    assert Money.model_validate(wire) == money
    assert Money.model_validate_json(json.dumps(wire)) == money


def test_amount_is_a_decimal_string_on_the_wire_never_a_float():
    assert Money.of("0.10", "USD").model_dump_json() == '{"amount":"0.10","currency":"USD"}'
    assert isinstance(Money.model_validate({"amount": "0.1", "currency": "USD"}).amount, Decimal)


@pytest.mark.parametrize(
    ("amount", "currency", "written"),
    [
        pytest.param("88.15", "USD", "US$88.15", id="usd-as-the-web-app-writes-it"),
        pytest.param("1234.5", "HKD", "HK$1,234.50", id="hkd-grouped-and-padded"),
        pytest.param("1200", "JPY", "JP¥1,200", id="jpy-no-decimals"),
        pytest.param("12.5", "CHF", "CHF 12.50", id="no-symbol-the-code"),
        pytest.param("1.234", "KWD", "KWD 1.234", id="three-minor-units"),
    ],
)
def test_written_as_a_person_reads_it(amount, currency, written):
    assert Money.of(amount, currency).written() == written


def test_str():
    assert str(Money.of("12.34", "USD")) == "12.34 USD"
    assert str(Money.of(Decimal("1E+3"), "JPY")) == "1000 JPY"


@pytest.mark.parametrize("currency", ["usd", "US", "USDT", "", "U5D", " USD", "US$"])
def test_bad_currency_code_is_rejected(currency):
    with pytest.raises(ValidationError):
        Money.of("1.00", currency)


@pytest.mark.parametrize("amount", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_non_finite_amount_is_rejected(amount):
    with pytest.raises(ValidationError):
        Money.of(amount, "USD")


@pytest.mark.parametrize("amount", ["abc", "", "1,00"])
def test_non_numeric_amount_is_rejected_on_the_wire(amount):
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": amount, "currency": "USD"})


def test_money_is_immutable():
    money = Money.of("1.00", "USD")
    with pytest.raises(ValidationError):
        money.amount = Decimal(2)  # type: ignore[misc]
