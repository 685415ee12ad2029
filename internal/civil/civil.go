// Package civil is a calendar date without a time zone, stored as days since
// 1970-01-01 so it is cheap to compare, hash and copy.
package civil

import (
	"errors"
	"fmt"
	"time"
)

// Date is a day, as days since 1970-01-01. The zero Date is 1970-01-01;
// use a separate presence flag where a date is optional.
type Date int32

// ErrDate is the cause for text that is not an ISO date.
var ErrDate = errors.New("not a date")

// FromYMD builds a date; out-of-range parts normalise like time.Date.
func FromYMD(y int, m time.Month, d int) Date {
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// Time is midnight UTC of the date.
func (d Date) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

func (d Date) String() string { return string(d.AppendISO(nil)) }

// AppendISO appends YYYY-MM-DD.
func (d Date) AppendISO(b []byte) []byte { return d.Time().AppendFormat(b, time.DateOnly) }

// Valid returns the date of a real calendar day (years 1900–9999), or false.
func Valid(y, m, d int) (Date, bool) {
	if y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return FromYMD(y, time.Month(m), d), true
}

// ParseISO parses YYYY-MM-DD strictly (a real calendar day, years 1900–9999).
func ParseISO(s string) (Date, error) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, ErrDate
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < 1900 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, ErrDate
	}
	return FromYMD(y, time.Month(m), d), nil
}

// Missing tells whether y-m-d has the shape of a date (a month 1–12, a day
// 1–31, a year 1900–9999) but names a day the calendar does not have
// (30 February, 31 April), and says it as a person would: "30 February
// 2026 does not exist".
func Missing(y, m, d int) (string, bool) {
	if y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 || d <= daysIn(y, m) {
		return "", false
	}
	return fmt.Sprintf("%d %s %d does not exist", d, time.Month(m), y), true
}

// ISOParts splits s written YYYY-MM-DD into numbers, valid day or not.
func ISOParts(s string) (y, m, d int, ok bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, 0, 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	return y, m, d, ok1 && ok2 && ok3
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// MarshalText and UnmarshalText make dates read and write as ISO text.
func (d Date) MarshalText() ([]byte, error) { return d.AppendISO(nil), nil }

func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseISO(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
