package money

import (
	"testing"

	"github.com/govalues/decimal"
)

func TestLineAmountRoundsHalfToEven(t *testing.T) {
	t.Parallel()
	cases := []struct {
		qty   int64
		price string
		exp   int
		want  int64
	}{
		{1, "29.90", 2, 2990},
		{3, "0.005", 2, 2},  // 0.015 → 0.02 (half to even: 1→2)
		{5, "0.005", 2, 2},  // 0.025 → 0.02 (half to even: stays 2)
		{7, "0.005", 2, 4},  // 0.035 → 0.04
		{1, "0.125", 2, 12}, // 0.125 → 0.12
		{1, "0.135", 2, 14}, // 0.135 → 0.14
		{1000000, "9.999999", 2, 999999900},
		{2, "1500", 0, 3000},
		{1, "1.0005", 3, 1000}, // 1.0005 → 1.000 (even)
	}
	for _, c := range cases {
		got, err := LineAmount(c.qty, decimal.MustParse(c.price), c.exp)
		if err != nil || got != c.want {
			t.Errorf("LineAmount(%d, %s, %d) = %d, %v; want %d", c.qty, c.price, c.exp, got, err, c.want)
		}
	}
}

func TestLineAmountOverflow(t *testing.T) {
	t.Parallel()
	if _, err := LineAmount(1<<40, decimal.MustParse("99999999.99"), 2); err == nil {
		t.Fatal("want overflow error")
	}
}

func TestPercentOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		amount int64
		pct    string
		want   int64
	}{
		{2990, "70", 2093},
		{1, "50", 0}, // 0.5 → 0 (even)
		{3, "50", 2}, // 1.5 → 2
		{1000, "33.3333", 333},
		{0, "70", 0},
	}
	for _, c := range cases {
		got, err := PercentOf(c.amount, decimal.MustParse(c.pct))
		if err != nil || got != c.want {
			t.Errorf("PercentOf(%d, %s) = %d, %v; want %d", c.amount, c.pct, got, err, c.want)
		}
	}
}

func TestFormatAndParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		minor int64
		cur   Currency
		s     string
	}{{123450, "EUR", "1234.50"}, {-5, "EUR", "-0.05"}, {0, "EUR", "0.00"}, {1500, "JPY", "1500"}, {1, "BHD", "0.001"}} {
		if got := Format(c.minor, c.cur); got != c.s {
			t.Errorf("Format(%d,%s)=%q want %q", c.minor, c.cur, got, c.s)
		}
		back, err := ParseMinor(c.s, c.cur)
		if err != nil || back != c.minor {
			t.Errorf("ParseMinor(%q)=%d,%v want %d", c.s, back, err, c.minor)
		}
	}
	if _, err := ParseMinor("1.005", "EUR"); err == nil {
		t.Error("ParseMinor must refuse sub-cent EUR amounts")
	}
	if _, err := ParseCurrency("XXX"); err == nil {
		t.Error("unknown currency accepted")
	}
}
