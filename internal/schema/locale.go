package schema

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/clearhouse/clearhouse/internal/civil"
)

// Locale is how a partner writes numbers and dates. The zero Locale is the
// canonical contract: a dot for decimals, no thousands separator, ISO dates.
// Canonical ISO dates are always accepted as well.
type Locale struct {
	Decimal    string // "." or ","
	Thousands  string // "", ".", ",", " " (a no-break space is taken as a space)
	DateFormat string // yyyy-mm-dd, dd/mm/yyyy, mm/dd/yyyy, dd.mm.yyyy, dd-mm-yyyy

	// Workbook marks values read from a spreadsheet's cells: numbers are
	// the cells' doubles, dates may be Excel serial numbers.
	Workbook bool
	Date1904 bool // the workbook's date system
}

// DateFormats lists the accepted date formats.
var DateFormats = []string{"yyyy-mm-dd", "dd/mm/yyyy", "mm/dd/yyyy", "dd.mm.yyyy", "dd-mm-yyyy"}

// Check validates a locale.
func (l Locale) Check() error {
	if l.Decimal != "" && l.Decimal != "." && l.Decimal != "," {
		return fmt.Errorf("decimal_separator %q must be . or ,", l.Decimal)
	}
	switch l.Thousands {
	case "", ".", ",", " ", "'":
	default:
		return fmt.Errorf("thousands_separator %q must be empty, '.', ',', ' ' or \"'\"", l.Thousands)
	}
	if l.Thousands != "" && l.Thousands == l.decimal() {
		return errors.New("thousands_separator and decimal_separator must differ")
	}
	if l.DateFormat != "" {
		ok := false
		for _, f := range DateFormats {
			ok = ok || f == l.DateFormat
		}
		if !ok {
			return fmt.Errorf("date_format %q must be one of %s", l.DateFormat, strings.Join(DateFormats, ", "))
		}
	}
	return nil
}

func (l Locale) decimal() string {
	if l.Decimal == "" {
		return "."
	}
	return l.Decimal
}

// number rewrites a number written in the locale into canonical form
// ("1.234,50" → "1234.50"). Thousands groups must be of three digits.
func (l Locale) number(s string) (string, bool) {
	if l.Workbook {
		if t, ok := cellNumber(s); ok {
			return t, true
		}
	}
	if l.Decimal == "" && l.Thousands == "" {
		return s, true
	}
	if l.Thousands == " " {
		s = strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(s)
	}
	intPart, frac, hasFrac := strings.Cut(s, l.decimal())
	if l.Thousands != "" && strings.Contains(intPart, l.Thousands) {
		groups := strings.Split(intPart, l.Thousands)
		for i, g := range groups {
			if (i == 0 && (len(g) == 0 || len(g) > 3 && !(len(g) == 4 && (g[0] == '-' || g[0] == '+')))) || (i > 0 && len(g) != 3) {
				return s, false
			}
		}
		intPart = strings.Join(groups, "")
	}
	if strings.ContainsAny(frac, ".,") || (l.decimal() == "," && strings.Contains(intPart, ".")) || (l.decimal() == "." && strings.Contains(intPart, ",")) {
		return s, false
	}
	if hasFrac {
		return intPart + "." + frac, true
	}
	return intPart, true
}

// date parses a date in the locale's format, or canonical ISO.
func (l Locale) date(s string) (civil.Date, bool) {
	if d, err := civil.ParseISO(s); err == nil {
		return d, true
	}
	if l.Workbook {
		if d, ok := serialDate(s, l.Date1904); ok {
			return d, true
		}
		if len(s) > 10 && s[10] == 'T' { // an ISO date-time cell (t="d"): its day
			if d, err := civil.ParseISO(s[:10]); err == nil {
				return d, true
			}
		}
	}
	y, month, day, ok := l.dateParts(s)
	if !ok {
		return 0, false
	}
	return civil.Valid(y, month, day)
}

// dateParts splits s written in the declared format (d/m/yyyy or dd/mm/yyyy
// with the format's separator) into numbers, without allocating.
func (l Locale) dateParts(s string) (y, month, day int, ok bool) {
	f := l.DateFormat
	if f == "" || f == "yyyy-mm-dd" {
		return 0, 0, 0, false
	}
	sep := f[2]
	i := strings.IndexByte(s, sep)
	if i < 1 || i > 2 {
		return 0, 0, 0, false
	}
	j := strings.IndexByte(s[i+1:], sep)
	if j < 1 || j > 2 || len(s)-(i+1+j+1) != 4 {
		return 0, 0, 0, false
	}
	a, okA := atoi(s[:i])
	b, okB := atoi(s[i+1 : i+1+j])
	y, okY := atoi(s[i+1+j+1:])
	if !okA || !okB || !okY {
		return 0, 0, 0, false
	}
	day, month = a, b
	if strings.HasPrefix(f, "mm") {
		day, month = b, a
	}
	return y, month, day, true
}

// missingDate says, for a value written as a date whose day does not
// exist (2026-02-30), which day it names; "" for anything else.
func (l Locale) missingDate(s string) string {
	y, m, d, ok := civil.ISOParts(s)
	if !ok {
		y, m, d, ok = l.dateParts(s)
	}
	if !ok {
		return ""
	}
	text, _ := civil.Missing(y, m, d)
	return text
}

func atoi(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

// DateText is how a locale asks for dates, for messages.
func (l Locale) DateText() string {
	if l.DateFormat == "" || l.DateFormat == "yyyy-mm-dd" {
		return "YYYY-MM-DD"
	}
	return strings.ToUpper(l.DateFormat) + " or YYYY-MM-DD"
}

// cellNumber turns a cell's stored double ("24.899999999999999", "1.5E-2")
// into the decimal Excel shows: at most 15 significant digits. The double is
// the file's own value; this is its one conversion to decimal text.
func cellNumber(s string) (string, bool) {
	if s == "" || strings.ContainsAny(s, ", ") {
		return "", false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) >= 1e15 {
		return "", false
	}
	t := strconv.FormatFloat(f, 'g', 15, 64)
	if strings.ContainsAny(t, "eE") {
		t = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return t, true
}

// serialDate reads an Excel serial date (a day count, maybe with a time of
// day). The 1900 system counts the 29 February 1900 that never was; serial
// 60 is refused.
func serialDate(s string, date1904 bool) (civil.Date, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 1 || f > 2958465 {
		return 0, false
	}
	n := int(f)
	switch {
	case date1904:
		return civil.FromYMD(1904, 1, 1) + civil.Date(n), true
	case n == 60:
		return 0, false
	case n < 60:
		return civil.FromYMD(1899, 12, 31) + civil.Date(n), true
	}
	return civil.FromYMD(1899, 12, 30) + civil.Date(n), true
}

// Number rewrites a number written in the locale (1.234,50) in canonical
// form (1234.50); false if it is not written so.
func (l Locale) Number(s string) (string, bool) { return l.number(s) }
