package billing

import (
	"errors"
	"fmt"
	"time"

	"github.com/clearhouse/clearhouse/internal/civil"
)

// A period is a calendar month, held as its first day.

// ErrPeriod: text that is not a month (YYYY-MM), or a month not over yet.
var ErrPeriod = errors.New("not a billable period")

// ParsePeriod reads YYYY-MM.
func ParsePeriod(s string) (civil.Date, error) {
	d, err := civil.ParseISO(s + "-01")
	if err != nil || len(s) != 7 {
		return 0, fmt.Errorf("%w: %q is not a month as YYYY-MM (e.g. 2026-11)", ErrPeriod, s)
	}
	return d, nil
}

// Month is the first day of d's month.
func Month(d civil.Date) civil.Date {
	t := d.Time()
	return civil.FromYMD(t.Year(), t.Month(), 1)
}

// NextMonth is the first day of the month after period's.
func NextMonth(period civil.Date) civil.Date {
	t := period.Time()
	return civil.FromYMD(t.Year(), t.Month()+1, 1)
}

// LastDay is the last day of period's month.
func LastDay(period civil.Date) civil.Date { return NextMonth(period) - 1 }

// PeriodText is YYYY-MM.
func PeriodText(period civil.Date) string { return period.String()[:7] }

// Today is the date of now in loc.
func Today(now time.Time, loc *time.Location) civil.Date {
	t := now.In(loc)
	return civil.FromYMD(t.Year(), t.Month(), t.Day())
}

// PreviousPeriod is the month before the one now is in, in loc: what the
// scheduled run on the 1st bills.
func PreviousPeriod(now time.Time, loc *time.Location) civil.Date {
	t := Month(Today(now, loc)).Time()
	return civil.FromYMD(t.Year(), t.Month()-1, 1)
}
