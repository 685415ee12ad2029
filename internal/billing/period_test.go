package billing_test

import (
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/civil"
)

// A wallet invoice is debited on its due date, at least 14 days after
// its issue (it is the pre-notification), on a TARGET2 business day.
func TestCollectionDate(t *testing.T) {
	t.Parallel()
	d := func(y int, m time.Month, day int) civil.Date { return civil.FromYMD(y, m, day) }
	for _, c := range []struct {
		issue, due, want civil.Date
		notice           int
	}{
		{d(2026, 12, 1), d(2026, 12, 31), d(2026, 12, 31), 0},  // a Thursday
		{d(2026, 12, 1), d(2026, 12, 15), d(2026, 12, 15), 0},  // 14 days: enough
		{d(2026, 12, 1), d(2026, 12, 8), d(2026, 12, 15), 0},   // 7-day terms: 14 days' notice
		{d(2026, 12, 1), d(2026, 12, 1), d(2026, 12, 15), 0},   // due at issue
		{d(2026, 12, 11), d(2026, 12, 25), d(2026, 12, 28), 0}, // Christmas, then a weekend
		{d(2026, 12, 1), d(2027, 1, 1), d(2027, 1, 4), 0},      // New Year's Day, a Friday
		{d(2027, 3, 1), d(2027, 3, 26), d(2027, 3, 30), 0},     // Good Friday, then Easter Monday
		{d(2026, 12, 1), d(2026, 12, 8), d(2026, 12, 8), 5},    // the contract's 5 days' notice
		{d(2026, 12, 1), d(2026, 12, 2), d(2026, 12, 7), 5},    // 6 December is a Sunday
	} {
		if got := billing.CollectionDate(c.issue, c.due, c.notice); got != c.want {
			t.Errorf("issued %s, due %s: collected %s, want %s", c.issue, c.due, got, c.want)
		}
	}
}

// The payment terms a document carries (BT-20, in its UBL too) write
// their dates and amounts as a reader of its language does, as its PDF.
func TestTermsInTheDocumentsLanguage(t *testing.T) {
	t.Parallel()
	d := civil.FromYMD(2026, 12, 31)
	for lang, want := range map[string][2]string{
		"en": {"2026-12-31", "1643.88"}, "fr": {"31 décembre 2026", "1643,88"}, "de": {"31.12.2026", "1643,88"}, "nl": {"31 december 2026", "1643,88"},
		"es": {"2026-12-31", "1643.88"},
	} {
		if got := billing.TermsDate(lang, d); got != want[0] {
			t.Errorf("%s: date %q, want %q", lang, got, want[0])
		}
		if got := billing.TermsAmount(lang, "1643.88"); got != want[1] {
			t.Errorf("%s: amount %q, want %q", lang, got, want[1])
		}
	}
}
