"""Money as a Decimal amount plus an ISO 4217 currency; never a float."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

# Minor units of the currencies whose exponent is not 2 (ISO 4217). Every other code has 2.
_MINOR_UNITS: dict[str, int] = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3, "JPY": 0,
    "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0, "TND": 3, "UGX": 0,
    "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip

# The symbols the web app's number formats (en-GB and zh-HK) write for the currencies we sell in; any other
# currency is written with its code, as those formats do.
_SYMBOLS: dict[str, str] = {
    "USD": "US$", "HKD": "HK$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "CNY": "CN¥", "AUD": "A$", "CAD": "CA$",
    "TWD": "NT$",
}  # fmt: skip

DecimalString = Annotated[Decimal, PlainSerializer(lambda value: format(value, "f"), return_type=str)]


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency, 2)


class Money(BaseModel):
    """An amount in one currency, serialised as `{"amount": "12.34", "currency": "USD"}`."""

    model_config = ConfigDict(frozen=True)

    amount: DecimalString = Field(allow_inf_nan=False)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")

    @field_validator("amount")
    @classmethod
    def _finite(cls, value: Decimal) -> Decimal:
        if not value.is_finite():
            raise ValueError("amount must be a finite decimal")
        return value

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Self:
        return cls(amount=Decimal(amount), currency=currency)

    def rounded_down(self) -> Money:
        """Rounded down to the currency's minor unit: the company never pays a fraction it did not owe."""
        quantum = Decimal(1).scaleb(-minor_units(self.currency))
        return Money(amount=self.amount.quantize(quantum, rounding=ROUND_DOWN), currency=self.currency)

    def fits_minor_unit(self) -> bool:
        return self.amount == self.rounded_down().amount

    def written(self) -> str:
        """As a person reads it, and as the web app shows it: "US$1,234.50", "CHF 12.00"."""
        digits = format(self.amount, f",.{minor_units(self.currency)}f")
        symbol = _SYMBOLS.get(self.currency)
        return f"{symbol}{digits}" if symbol else f"{self.currency} {digits}"

    def __str__(self) -> str:
        return f"{format(self.amount, 'f')} {self.currency}"
