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
	for _, c := range []struct{ issue, due, want civil.Date }{
		{d(2026, 12, 1), d(2026, 12, 31), d(2026, 12, 31)},  // a Thursday
		{d(2026, 12, 1), d(2026, 12, 15), d(2026, 12, 15)},  // 14 days: enough
		{d(2026, 12, 1), d(2026, 12, 8), d(2026, 12, 15)},   // 7-day terms: 14 days' notice
		{d(2026, 12, 1), d(2026, 12, 1), d(2026, 12, 15)},   // due at issue
		{d(2026, 12, 11), d(2026, 12, 25), d(2026, 12, 28)}, // Christmas, then a weekend
		{d(2026, 12, 1), d(2027, 1, 1), d(2027, 1, 4)},      // New Year's Day, a Friday
		{d(2027, 3, 1), d(2027, 3, 26), d(2027, 3, 30)},     // Good Friday, then Easter Monday
	} {
		if got := billing.CollectionDate(c.issue, c.due); got != c.want {
			t.Errorf("issued %s, due %s: collected %s, want %s", c.issue, c.due, got, c.want)
		}
	}
}
