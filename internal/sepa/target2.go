package sepa

import "time"

// The TARGET2 calendar: SEPA direct debits settle on TARGET2 business
// days, every day but Saturdays, Sundays and the system's closing days
// (New Year's Day, Good Friday, Easter Monday, 1 May, 25 and 26 December;
// ECB, "TARGET2 closing days", unchanged since 2002 and kept by T2 since
// March 2023).

// Dates here are days: the year, month and day of a time.Time, whatever
// its clock and location (civil.Date.Time() gives them).

// BusinessDay tells whether d is a TARGET2 business day.
func BusinessDay(d time.Time) bool {
	t := Day(d)
	switch t.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	m, day := t.Month(), t.Day()
	switch {
	case m == time.January && day == 1, m == time.May && day == 1,
		m == time.December && (day == 25 || day == 26):
		return false
	}
	easter := Easter(t.Year())
	return !t.Equal(easter.AddDate(0, 0, -2)) && !t.Equal(easter.AddDate(0, 0, 1))
}

// Day is midnight UTC of d's day.
func Day(d time.Time) time.Time { return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC) }

// OnOrAfter is d when it is a business day, else the next one: the
// collection date of a debit due on d.
func OnOrAfter(d time.Time) time.Time {
	d = Day(d)
	for !BusinessDay(d) {
		d = d.AddDate(0, 0, 1)
	}
	return d
}

// BusinessDaysBefore is the business day n business days before d (n ≥ 1):
// the last day a collection file for d may reach the creditor's bank
// is BusinessDaysBefore(d, 1) (D-1 for SEPA Core).
func BusinessDaysBefore(d time.Time, n int) time.Time {
	d = Day(d)
	for n > 0 {
		d = d.AddDate(0, 0, -1)
		if BusinessDay(d) {
			n--
		}
	}
	return d
}

// Easter is Easter Sunday of year y in the Gregorian calendar (the
// anonymous algorithm of Meeus/Jones/Butcher).
func Easter(y int) time.Time {
	a, b, c := y%19, y/100, y%100
	d, e := b/4, b%4
	f := (b + 8) / 25
	g := (b - f + 1) / 3
	h := (19*a + b - d - g + 15) % 30
	i, k := c/4, c%4
	l := (32 + 2*e + 2*i - h - k) % 7
	m := (a + 11*h + 22*l) / 451
	month := (h + l - 7*m + 114) / 31
	day := (h+l-7*m+114)%31 + 1
	return time.Date(y, time.Month(month), day, 0, 0, 0, 0, time.UTC)
}
