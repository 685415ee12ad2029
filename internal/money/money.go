// Package money holds amounts in integer minor units with their currency,
// and the one rounding rule Clearhouse uses: round half to even, from a
// decimal unit price times an integer quantity to the currency's minor unit.
// Nothing here uses floating point.
package money

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/govalues/decimal"
)

// ErrOverflow is returned when an amount does not fit in int64 minor units.
var ErrOverflow = errors.New("amount out of range")

// ErrCurrency is returned for a currency code Clearhouse does not know.
var ErrCurrency = errors.New("unknown currency")

// Currency is an ISO 4217 alphabetic code.
type Currency string

// exponents of the currencies Clearhouse bills in. A currency missing here
// is refused at configuration time, never guessed.
var exponents = map[Currency]int{
	"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2,
	"PLN": 2, "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "CAD": 2, "AUD": 2,
	"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "TND": 3,
}

// ParseCurrency checks that code is a known currency.
func ParseCurrency(code string) (Currency, error) {
	c := Currency(code)
	if _, ok := exponents[c]; !ok {
		return "", fmt.Errorf("%w %q", ErrCurrency, code)
	}
	return c, nil
}

// Exponent is the number of minor-unit digits (2 for EUR, 0 for JPY).
func (c Currency) Exponent() int {
	e, ok := exponents[c]
	if !ok {
		panic("money: unknown currency " + string(c)) // callers hold parsed currencies
	}
	return e
}

// Format renders minor units as a plain decimal string ("-12.05") with
// exactly the currency's number of digits.
func Format(minor int64, c Currency) string {
	return string(AppendFormat(nil, minor, c.Exponent()))
}

// AppendFormat appends minor units with exp decimal digits to b.
func AppendFormat(b []byte, minor int64, exp int) []byte {
	if exp == 0 {
		return strconv.AppendInt(b, minor, 10)
	}
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = uint64(-minor)
		b = append(b, '-')
	}
	var pow uint64 = 1
	for range exp {
		pow *= 10
	}
	b = strconv.AppendUint(b, u/pow, 10)
	b = append(b, '.')
	frac := strconv.FormatUint(u%pow, 10)
	for i := len(frac); i < exp; i++ {
		b = append(b, '0')
	}
	return append(b, frac...)
}

// ParseMinor parses a decimal string ("1234.5") into minor units of c.
// More digits than the currency has is an error, not a rounding.
func ParseMinor(s string, c Currency) (int64, error) {
	d, err := decimal.Parse(s)
	if err != nil {
		return 0, err
	}
	exp := c.Exponent()
	if d.Scale() > exp && !d.Trunc(exp).Equal(d) {
		return 0, fmt.Errorf("%s has more than %d decimal places for %s", s, exp, c)
	}
	return ToMinor(d, exp)
}

// ToMinor converts an already-rounded decimal to minor units with exp digits.
func ToMinor(d decimal.Decimal, exp int) (int64, error) {
	whole, frac, ok := d.Round(exp).Int64(exp)
	if !ok {
		return 0, ErrOverflow
	}
	var pow int64 = 1
	for range exp {
		pow *= 10
	}
	if whole > (1<<62)/pow || whole < -(1<<62)/pow {
		return 0, ErrOverflow
	}
	return whole*pow + frac, nil
}

// LineAmount is round_half_even(quantity × unitPrice) in minor units of exp digits.
func LineAmount(quantity int64, unitPrice decimal.Decimal, exp int) (int64, error) {
	p, err := times(quantity, unitPrice)
	if err != nil {
		return 0, err
	}
	return ToMinor(p, exp)
}

// PercentOf splits a line amount: the publisher's part of amount given a
// percent (0–100, decimal), rounded half to even to the minor unit.
func PercentOf(amount int64, percent decimal.Decimal) (int64, error) {
	p, err := times(amount, percent)
	if err != nil {
		return 0, err
	}
	hundred := decimal.MustNew(100, 0)
	q, err := p.Quo(hundred)
	if err != nil {
		return 0, ErrOverflow
	}
	return ToMinor(q, 0)
}

// times is n × d; ErrOverflow when it does not fit a decimal.
func times(n int64, d decimal.Decimal) (decimal.Decimal, error) {
	a, err := decimal.New(n, 0)
	if err != nil {
		return decimal.Decimal{}, ErrOverflow
	}
	p, err := a.Mul(d)
	if err != nil {
		return decimal.Decimal{}, ErrOverflow
	}
	return p, nil
}
