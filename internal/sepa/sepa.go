// Package sepa holds the SEPA identifiers (IBAN, BIC, creditor identifier,
// ISO 11649 creditor references), the TARGET2 business-day calendar, and
// the pain.008 direct debit model, its checks and its XML writer
// (pain.008.001.08 and .001.02). It imports nothing of Clearhouse's:
// dates are the days of time.Time values, amounts euro cents.
package sepa

import (
	"fmt"
	"strings"
)

// CompactIBAN is an IBAN as it is stored and written: upper case, without
// the spaces of its printed form.
func CompactIBAN(s string) string { return strings.ReplaceAll(strings.ToUpper(s), " ", "") }

// ValidIBAN checks an IBAN's shape and its ISO 13616 mod-97 checksum. Spaces
// and lower case, as IBANs are printed and typed, are accepted.
func ValidIBAN(s string) bool {
	s = CompactIBAN(s)
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	return countryChecked(s) && mod97(s[4:]+s[:4]) == 1
}

// countryChecked tells whether s has the shape IBANs and creditor
// identifiers share: 2 letters (the country), 2 check digits, then letters
// and digits.
func countryChecked(s string) bool {
	for i, c := range s {
		letter := c >= 'A' && c <= 'Z'
		digit := c >= '0' && c <= '9'
		if (i < 2 && !letter) || (i >= 2 && i < 4 && !digit) || (!letter && !digit) {
			return false
		}
	}
	return true
}

// ValidBIC checks a BIC's shape (ISO 9362): 4 letters, 2 letters, 2 alphanumerics, optional 3.
func ValidBIC(s string) bool {
	if len(s) != 8 && len(s) != 11 {
		return false
	}
	for i, c := range s {
		letter := c >= 'A' && c <= 'Z'
		alnum := letter || (c >= '0' && c <= '9')
		if (i < 6 && !letter) || !alnum {
			return false
		}
	}
	return true
}

// ValidCreditorID checks a SEPA creditor identifier (the SDD rulebook's
// AT-02, EPC262-08 "Creditor Identifier Overview"): 2 letters of the country
// code, 2 check digits, the 3-character creditor business code (ZZZ when
// none is used) and the national identifier, at most 35 characters in all.
// The check digits are ISO 7064 mod 97-10 over the national identifier
// followed by the country code and the check digits: the business code is
// left out, so one creditor's identifiers differing only by it share check
// digits. Spaces and lower case are accepted, as for an IBAN.
func ValidCreditorID(s string) bool {
	s = strings.ReplaceAll(strings.ToUpper(s), " ", "")
	if len(s) < 8 || len(s) > 35 {
		return false
	}
	return countryChecked(s) && mod97(s[7:]+s[:4]) == 1
}

// mod97 is the ISO 7064 mod 97-10 remainder of s, a string of digits and
// upper-case letters, the letters counting as 10 (A) to 35 (Z).
func mod97(s string) int {
	rem := 0
	for _, c := range s {
		if c >= 'A' {
			rem = (rem*100 + int(c-'A') + 10) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem
}

// CreditorReference makes an ISO 11649 structured creditor reference
// ("RF" + two check digits + ref) from ref, up to 21 letters and digits
// (others are dropped): the payment reference of a pay-now invoice.
func CreditorReference(ref string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(ref) {
		if (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') {
			b.WriteRune(c)
		}
	}
	s := b.String()
	if len(s) > 21 {
		s = s[len(s)-21:]
	}
	check := 98 - mod97(s+"RF00")
	return fmt.Sprintf("RF%02d%s", check, s)
}

// ValidCreditorReference checks an ISO 11649 reference (mod 97 = 1).
func ValidCreditorReference(s string) bool {
	s = strings.ReplaceAll(strings.ToUpper(s), " ", "")
	if len(s) < 5 || len(s) > 25 || !strings.HasPrefix(s, "RF") {
		return false
	}
	for _, c := range s {
		if !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return mod97(s[4:]+s[:4]) == 1
}

// sepaCountries are the countries and territories of the SEPA scheme
// (EPC409-09, "EPC list of SEPA scheme countries"), by the country code
// their IBANs start with (the French overseas departments, Monaco's and
// the Channel Islands' accounts included under their own codes).
var sepaCountries = map[string]bool{
	"AD": true, "AT": true, "BE": true, "BG": true, "CH": true, "CY": true, "CZ": true, "DE": true, "DK": true, "EE": true,
	"ES": true, "FI": true, "FR": true, "GB": true, "GI": true, "GR": true, "HR": true, "HU": true, "IE": true, "IS": true,
	"IT": true, "LI": true, "LT": true, "LU": true, "LV": true, "MC": true, "MT": true, "NL": true, "NO": true, "PL": true,
	"PT": true, "RO": true, "SE": true, "SI": true, "SK": true, "SM": true, "VA": true, "GG": true, "IM": true, "JE": true,
	"PM": true, "AL": true, "MD": true, "ME": true, "MK": true, "RS": true,
}

// InSEPA tells whether an IBAN is of an account in the SEPA area: the
// only accounts a SEPA direct debit collects from or to, and a SEPA
// credit transfer (an EPC QR code) pays to.
func InSEPA(iban string) bool {
	s := CompactIBAN(iban)
	return len(s) >= 2 && sepaCountries[s[:2]]
}
