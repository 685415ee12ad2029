package invoicepdf

import (
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/civil"
)

func TestFormats(t *testing.T) {
	t.Parallel()
	day := func(s string) civil.Date {
		d, err := civil.ParseISO(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tc := range []struct{ got, want string }{
		{amount(164388, "EUR"), "1 643.88"},
		{amount(-5, "EUR"), "-0.05"},
		{amount(123456789, "JPY"), "123 456 789"},
		{withCurrency(100000012, "EUR"), "1 000 000.12 EUR"},
		{decimal("3.99", 2), "3.99"},
		{decimal("0.0215", 2), "0.0215"},
		{decimal("0", 2), "0.00"},
		{decimal("1200.5", 2), "1 200.50"},
		{decimal("12", 0), "12"},
		{decimal("1e3", 2), "1e3"},
		{date(day("2026-12-01")), "1 December 2026"},
		{month("2026-11"), "November 2026"},
		{month("2026-13"), "2026-13"},
		{period(day("2026-11-01"), day("2026-11-30")), "November 2026"},
		{period(day("2026-02-01"), day("2026-02-28")), "February 2026"},
		{period(day("2026-11-02"), day("2026-11-28")), "2–28 November 2026"},
		{period(day("2026-11-20"), day("2026-11-20")), "20 November 2026"},
		{period(day("2026-10-01"), day("2026-11-30")), "1 October 2026 – 30 November 2026"},
		{iban("FR7630004000031234567890143"), "FR76 3000 4000 0312 3456 7890 143"},
		{maskedIBAN("FR7630006000011234567890189"), "FR76 **** **** **** **** ***0 189"},
		{maskedIBAN("BE68539007547034"), "BE68 **** **** 7034"},
		{reference("RF18539007547034"), "RF18 5390 0754 7034"},
		{reference("CH-2026-000041"), "CH-2026-000041"},
		{country("DE"), "Germany"},
		{country("XK"), "XK"},
	} {
		if got := strings.ReplaceAll(tc.got, nbsp, " "); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
	// A line never breaks inside a value: its spaces are no-break spaces.
	for _, v := range []string{withCurrency(164388, "EUR"), date(day("2026-12-01")), maskedIBAN("BE68539007547034")} {
		if strings.Contains(v, " ") {
			t.Errorf("%q has a breaking space", v)
		}
	}
}
