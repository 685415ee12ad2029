package invoicepdf

import (
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
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
		{period(day("2026-10-01"), day("2026-11-30")), "October – November 2026"},
		{period(day("2026-12-01"), day("2027-02-28")), "December 2026 – February 2027"},
		{period(day("2026-09-15"), day("2026-09-17")), "15–17 September 2026"},
		{period(day("2026-02-28"), day("2026-03-03")), "28 February – 3 March 2026"},
		{period(day("2026-10-01"), day("2026-11-29")), "1 October – 29 November 2026"},
		{period(day("2026-12-28"), day("2027-01-03")), "28 December 2026 – 3 January 2027"},
		{iban("FR7630004000031234567890143"), "FR76 3000 4000 0312 3456 7890 143"},
		{maskedIBAN("FR7630006000011234567890189"), "FR76 **** **** **** **** ***0 189"},
		{maskedIBAN("BE68539007547034"), "BE68 **** **** 7034"},
		{reference("RF18539007547034"), "RF18 5390 0754 7034"},
		{reference("CH-2026-000041"), "CH-2026-000041"},
		{country("DE"), "Germany"},
		{country("XK"), "XK"},
		{spellDates("terminated on 2026-08-31, declared on 2026-11-12"), "terminated on 31 August 2026, declared on 12 November 2026"},
		{spellDates("CBE-2026-0193, 2026-02-30, 12026-11-12"), "CBE-2026-0193, 2026-02-30, 12026-11-12"},
		{percent("20"), "20\u2002%"},
		{percent("0"), "0\u2002%"},
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

// TestPeriodFitsItsColumn: whatever the month, a period of one month takes
// one line of the lines table's column, and a longer one two, broken after
// its dash.
func TestPeriodFitsItsColumn(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "fr", "de", "nl"} {
		l := localeOf(lang)
		w := &writer{pdf: newPDF(invoice.Examples()[0]), l: l}
		w.pdf.AddPage()
		w.font("", bodySize, ink)
		col := lineTable("EUR", l).cols[3]
		if col.head != l.t("Service period") {
			t.Fatalf("column 4 is %q", col.head)
		}
		inner := col.w - 2*cellPad
		for m := 1; m <= 12; m++ {
			start, _ := civil.Valid(2026, m, 20)
			end, _ := civil.Valid(2026, m, 28)
			next, _ := civil.Valid(2027, m%12+1, 28)
			for _, p := range []struct {
				s    string
				most int
			}{{l.period(start, end), 1}, {l.period(start, next), 2}} {
				if got := w.wrap(p.s, inner); len(got) > p.most || strings.HasPrefix(got[len(got)-1], "–") {
					t.Errorf("%s: %q is on %d lines %q, want %d at the most", lang, p.s, len(got), got, p.most)
				}
			}
		}
	}
}
