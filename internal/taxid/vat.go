package taxid

import (
	"fmt"
	"regexp"
	"strings"
)

// vatFormat is the shape of one country's VAT identifiers, prefix
// included, and the check of its digits where this package knows it.
type vatFormat struct {
	country string // ISO 3166-1: GR for the EL prefix, GB for XI
	re      *regexp.Regexp
	shape   string
	check   func(vat string) bool
}

// vatFormats are the VIES formats of the EU 27 (with XI, Northern
// Ireland), and GB, CH and NO, by prefix.
var vatFormats = map[string]vatFormat{
	"AT": {"AT", regexp.MustCompile(`^ATU\d{8}$`), "ATU + 8 digits", nil},
	"BE": {"BE", regexp.MustCompile(`^BE[01]\d{9}$`), "BE + 0 or 1 + 9 digits", func(v string) bool { return belgianEnterprise(v[2:]) }},
	"BG": {"BG", regexp.MustCompile(`^BG\d{9,10}$`), "BG + 9 or 10 digits", nil},
	"CY": {"CY", regexp.MustCompile(`^CY\d{8}[A-Z]$`), "CY + 8 digits + a letter", nil},
	"CZ": {"CZ", regexp.MustCompile(`^CZ\d{8,10}$`), "CZ + 8 to 10 digits", nil},
	"DE": {"DE", regexp.MustCompile(`^DE\d{9}$`), "DE + 9 digits", nil},
	"DK": {"DK", regexp.MustCompile(`^DK\d{8}$`), "DK + 8 digits", nil},
	"EE": {"EE", regexp.MustCompile(`^EE\d{9}$`), "EE + 9 digits", nil},
	"EL": {"GR", regexp.MustCompile(`^EL\d{9}$`), "EL + 9 digits", nil},
	"ES": {"ES", regexp.MustCompile(`^ES([A-Z]\d{7}[A-Z0-9]|\d{8}[A-Z])$`), "ES + 9 characters, the first or the last a letter", nil},
	"FI": {"FI", regexp.MustCompile(`^FI\d{8}$`), "FI + 8 digits", nil},
	"FR": {"FR", regexp.MustCompile(`^FR[0-9A-HJ-NP-Z]{2}\d{9}$`), "FR + a 2-character key + the 9 digits of the SIREN", frenchKey},
	"HR": {"HR", regexp.MustCompile(`^HR\d{11}$`), "HR + 11 digits", nil},
	"HU": {"HU", regexp.MustCompile(`^HU\d{8}$`), "HU + 8 digits", nil},
	"IE": {"IE", regexp.MustCompile(`^IE(\d{7}[A-W][A-IW]?|\d[A-Z+*]\d{5}[A-W])$`), "IE + 7 digits and 1 or 2 letters (or the old 1234567X with a letter second)", nil},
	"IT": {"IT", regexp.MustCompile(`^IT\d{11}$`), "IT + 11 digits", nil},
	"LT": {"LT", regexp.MustCompile(`^LT(\d{9}|\d{12})$`), "LT + 9 or 12 digits", nil},
	"LU": {"LU", regexp.MustCompile(`^LU\d{8}$`), "LU + 8 digits", nil},
	"LV": {"LV", regexp.MustCompile(`^LV\d{11}$`), "LV + 11 digits", nil},
	"MT": {"MT", regexp.MustCompile(`^MT\d{8}$`), "MT + 8 digits", nil},
	"NL": {"NL", regexp.MustCompile(`^NL\d{9}B\d{2}$`), "NL + 9 digits + B + 2 digits", nil},
	"PL": {"PL", regexp.MustCompile(`^PL\d{10}$`), "PL + 10 digits", nil},
	"PT": {"PT", regexp.MustCompile(`^PT\d{9}$`), "PT + 9 digits", nil},
	"RO": {"RO", regexp.MustCompile(`^RO[1-9]\d{1,9}$`), "RO + 2 to 10 digits", nil},
	"SE": {"SE", regexp.MustCompile(`^SE\d{10}01$`), "SE + 10 digits + 01", nil},
	"SI": {"SI", regexp.MustCompile(`^SI\d{8}$`), "SI + 8 digits", nil},
	"SK": {"SK", regexp.MustCompile(`^SK\d{10}$`), "SK + 10 digits", nil},
	"XI": {"GB", regexp.MustCompile(`^XI(\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2})$`), "XI + 9 or 12 digits (Northern Ireland)", nil},
	"GB": {"GB", regexp.MustCompile(`^GB(\d{9}|\d{12}|GD[0-4]\d{2}|HA[5-9]\d{2})$`), "GB + 9 or 12 digits (or GD, HA + 3 digits)", nil},
	"CH": {"CH", regexp.MustCompile(`^CHE\d{9}(MWST|TVA|IVA|TPV)$`), "CHE + 9 digits + MWST, TVA or IVA (CHE-123.456.789 MWST)", nil},
	"NO": {"NO", regexp.MustCompile(`^NO\d{9}MVA$`), "NO + 9 digits + MVA", nil},
}

// frenchKey checks a French VAT id's numeric key: (12 + 3 × (SIREN mod
// 97)) mod 97. A key with a letter (new companies' ids) is not computed.
func frenchKey(v string) bool {
	if !digits(v[2:4], 2) {
		return true
	}
	return (12+3*mod97(v[4:]))%97 == int(v[2]-'0')*10+int(v[3]-'0')
}

// CompactVAT is a VAT id as it is stored and printed on invoices: upper
// case, without the spaces, dots and dashes it is often written with
// ("FR 44 732 829 320", "CHE-123.456.789 MWST").
func CompactVAT(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-':
			return -1
		}
		return r
	}, strings.ToUpper(s))
}

// VATCountry is the ISO 3166-1 country of a VAT id's prefix (GR for EL,
// GB for XI), "" when the prefix is not one this package knows.
func VATCountry(vat string) string {
	if len(vat) < 2 {
		return ""
	}
	return vatFormats[vat[:2]].country
}

// VATPrefix is the prefix of a country's VAT ids (EL for GR), "" when
// this package knows none.
func VATPrefix(country string) string {
	if country == "GR" {
		return "EL"
	}
	if _, ok := vatFormats[country]; ok {
		return country
	}
	return ""
}

// CheckVAT checks a compact VAT id (CompactVAT) against its country's
// format, and its check digits where known (BE mod 97, FR key). The error
// says the format expected.
func CheckVAT(vat string) error {
	if len(vat) < 2 || VATCountry(vat) == "" {
		return fmt.Errorf("%w: it starts with its country's prefix (FR, DE, BE, EL for Greece, CHE, NO…)", ErrVAT)
	}
	f := vatFormats[vat[:2]]
	if !f.re.MatchString(vat) {
		return fmt.Errorf("%w: %s VAT ids are %s", ErrVAT, vat[:2], f.shape)
	}
	if f.check != nil && !f.check(vat) {
		return fmt.Errorf("%w: not a %s VAT id (a digit mistyped?)", ErrCheckDigits, vat[:2])
	}
	return nil
}
