// Package taxid knows the identifiers that name the parties of an invoice:
// ISO 3166-1 country codes and the postal code shapes of a few countries,
// VAT identifiers (the VIES formats of the EU 27, and GB, CH and NO) with
// their country prefixes, and Peppol participant identifiers (the EAS
// schemes, with the check digits of the Belgian enterprise number and of
// the French SIREN and SIRET). The world configuration checks with it, and
// billing and the web share it. It imports nothing of Clearhouse's.
package taxid

import "errors"

// The causes of a refused identifier; the errors returned wrap one and say
// what was expected.
var (
	ErrCountry     = errors.New("not an ISO 3166-1 alpha-2 country code")
	ErrPostalCode  = errors.New("not a postal code of its country")
	ErrVAT         = errors.New("not a VAT identifier")
	ErrCheckDigits = errors.New("check digits do not match")
	ErrEndpoint    = errors.New("not a Peppol participant identifier")
	ErrScheme      = errors.New("not an EAS scheme of the Peppol code list")
)

// mod97 is the remainder of the decimal number s (digits only) by 97.
func mod97(s string) int {
	rem := 0
	for _, c := range s {
		rem = (rem*10 + int(c-'0')) % 97
	}
	return rem
}

// luhn tells whether the digits s pass the Luhn check (SIREN, SIRET).
func luhn(s string) bool {
	sum := 0
	for i := range len(s) {
		d := int(s[len(s)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// digits tells whether s is n decimal digits.
func digits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// belgianEnterprise checks a Belgian enterprise number (10 digits, the
// first 0 or 1): its last two digits are 97 less the first eight mod 97.
func belgianEnterprise(s string) bool {
	return digits(s, 10) && (s[0] == '0' || s[0] == '1') && 97-mod97(s[:8]) == int(s[8]-'0')*10+int(s[9]-'0')
}
