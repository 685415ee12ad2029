package invoicepdf

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
)

// nbsp joins the parts of a value that a line must never split: the groups
// of an amount, an IBAN, a date.
const nbsp = "\u00a0"

// The English forms, for what has no document (and the tests).
var en = localeOf("en")

func amount(minor int64, cur money.Currency) string       { return en.amount(minor, cur) }
func withCurrency(minor int64, cur money.Currency) string { return en.withCurrency(minor, cur) }
func decimal(s string, digits int) string                 { return en.decimal(s, digits) }
func percent(rate string) string                          { return en.percent(rate) }
func date(d civil.Date) string                            { return en.date(d) }
func spellDates(s string) string                          { return en.spellDates(s) }
func month(ym string) string                              { return en.month(ym) }
func period(start, end civil.Date) string                 { return en.period(start, end) }

// amount writes minor units for people: the currency's digits, the
// decimal mark, thousands in groups of three ("1 643.88", "1 643,88"),
// the SI style, which reads the same to French, German and English
// readers.
func (l *locale) amount(minor int64, cur money.Currency) string {
	return l.mark(group(money.Format(minor, cur)))
}

// withCurrency is an amount followed by its currency ("1 643.88 EUR").
func (l *locale) withCurrency(minor int64, cur money.Currency) string {
	return l.amount(minor, cur) + nbsp + string(cur)
}

// decimal writes a decimal string ("3.99", "0.0215", "0") for people with at
// least digits decimal places, grouped like an amount. Text that is not a
// plain decimal is shown as it is.
func (l *locale) decimal(s string, digits int) string {
	sign, body := "", s
	if strings.HasPrefix(body, "-") {
		sign, body = "-", body[1:]
	}
	whole, frac, _ := strings.Cut(body, ".")
	if whole == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return s
	}
	for len(frac) < digits {
		frac += "0"
	}
	if frac != "" {
		frac = "." + frac
	}
	return l.mark(group(sign + whole + frac))
}

// group puts a no-break space between each three digits of the whole part
// of a plain decimal ("-1234567.5" → "-1 234 567.5").
func group(s string) string {
	sign, body := "", s
	if strings.HasPrefix(body, "-") {
		sign, body = "-", body[1:]
	}
	whole, frac, hasFrac := strings.Cut(body, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(nbsp)
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return b.String()
}

// percent writes a VAT rate ("20 %", "0 %", "5.5 %", "5,5 %"), the same in
// every place. The space is an en space: the writer never breaks a line at
// it, and text extraction reads it as a space where it drops a narrower
// one (pdftotext reads "0 %" with a no-break space as "0%").
func (l *locale) percent(rate string) string { return l.mark(rate) + "\u2002%" }

// date writes a day as a person reads it ("1 December 2026").
func (l *locale) date(d civil.Date) string { return l.day(d.Time()) }

// spellDates writes the ISO dates (2026-12-31) of a free text (payment
// terms, a credit note's reason) as the page writes dates.
func (l *locale) spellDates(s string) string {
	return isoDate.ReplaceAllStringFunc(s, func(iso string) string {
		d, err := civil.ParseISO(iso)
		if err != nil {
			return iso
		}
		return l.date(d)
	})
}

var isoDate = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)

// month writes a billing month YYYY-MM as "November 2026" (the text as it
// is when it is not one).
func (l *locale) month(ym string) string {
	t, err := time.Parse("2006-01", ym)
	if err != nil {
		return ym
	}
	return l.monthYear(t)
}

// period writes a service period as briefly as it reads clearly: a whole
// calendar month is "November 2026", one day is its date, days of one
// month "2–28 November 2026", whole months "September – October 2026",
// anything else "28 February – 3 March 2026" (the year written once when
// it is the same). A line may break after the dash, never inside a date.
func (l *locale) period(start, end civil.Date) string {
	s, e := start.Time(), end.Time()
	whole := s.Day() == 1 && e.AddDate(0, 0, 1).Day() == 1
	switch {
	case start == end:
		return l.date(start)
	case s.Year() == e.Year() && s.Month() == e.Month() && whole:
		return l.monthYear(s)
	case s.Year() == e.Year() && s.Month() == e.Month():
		return l.dayOnly(s) + "–" + l.day(e)
	}
	from, to := l.dayMonth(s), l.day(e)
	if whole {
		from, to = l.months[s.Month()-1], l.monthYear(e)
	}
	if s.Year() != e.Year() {
		from = l.day(s)
		if whole {
			from = l.monthYear(s)
		}
	}
	return from + nbsp + "– " + to
}

// iban writes an account number in groups of four, as it is printed.
func iban(s string) string {
	s = strings.ReplaceAll(s, " ", "")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && i%4 == 0 {
			b.WriteString(nbsp)
		}
		b.WriteRune(c)
	}
	return b.String()
}

// maskedIBAN shows the country, check digits and last four characters of
// an account and hides the rest ("FR76 **** … ***0 189").
func maskedIBAN(s string) string {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) <= 8 {
		return iban(s)
	}
	return iban(s[:4] + strings.Repeat("*", len(s)-8) + s[len(s)-4:])
}

// reference writes a payment reference: an ISO 11649 creditor reference in
// groups of four as the standard prints it ("RF18 5390 0754 7034"), any
// other reference as it is.
func reference(s string) string {
	if strings.HasPrefix(s, "RF") && !strings.Contains(s, " ") {
		return iban(s)
	}
	return s
}

// country names the countries of Clearhouse's parties (SEPA); another code
// is shown as it is.
func country(code string) string {
	if n, ok := countries[code]; ok {
		return n
	}
	return code
}

var countries = map[string]string{
	"AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "CH": "Switzerland", "CY": "Cyprus",
	"CZ": "Czechia", "DE": "Germany", "DK": "Denmark", "EE": "Estonia", "ES": "Spain",
	"FI": "Finland", "FR": "France", "GB": "United Kingdom", "GR": "Greece", "HR": "Croatia",
	"HU": "Hungary", "IE": "Ireland", "IS": "Iceland", "IT": "Italy", "LI": "Liechtenstein",
	"LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MC": "Monaco", "MT": "Malta",
	"NL": "Netherlands", "NO": "Norway", "PL": "Poland", "PT": "Portugal", "RO": "Romania",
	"SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
}

// companyLabel names a legal registration by its ISO 6523 scheme.
func (l *locale) companyLabel(scheme string) string { return l.t(companyLabel(scheme)) }

func companyLabel(scheme string) string {
	switch scheme {
	case "0002":
		return "SIREN"
	case "0009":
		return "SIRET"
	case "0208":
		return "Enterprise no."
	}
	return "Company id"
}

// categoryName names a VAT category (UNCL5305) for people.
func (l *locale) categoryName(cat string) string {
	switch cat {
	case invoice.VATStandard, invoice.VATReverseCharge, invoice.VATExempt:
		return l.t(categoryName(cat))
	}
	return fmt.Sprintf(l.t("VAT category %s"), cat)
}

func categoryName(cat string) string {
	switch cat {
	case invoice.VATStandard:
		return "Standard rate"
	case invoice.VATReverseCharge:
		return "Reverse charge"
	case invoice.VATExempt:
		return "Exempt"
	}
	return "VAT category " + cat
}
