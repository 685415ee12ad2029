package taxid

import (
	"fmt"
	"strings"
)

// easSchemes are the codes of the Peppol EAS code list (CL008, the
// electronic address schemes of BT-34 and BT-49) in use.
var easSchemes = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
		0002 0007 0009 0037 0060 0088 0096 0106 0130 0135 0142 0151 0183 0184 0188 0190 0191 0192 0193 0195
		0196 0198 0199 0200 0201 0202 0204 0208 0209 0210 0211 0212 0213 0215 0216 0221 0230
		9901 9910 9913 9914 9915 9918 9919 9920 9922 9923 9924 9925 9926 9927 9928 9929 9930 9931 9932 9933
		9934 9935 9936 9937 9938 9939 9940 9941 9942 9943 9944 9945 9946 9947 9948 9949 9950 9951 9952 9953
		9957 9959`) {
		m[c] = true
	}
	return m
}()

// vatSchemes are the EAS schemes whose identifiers are a country's VAT
// ids, prefix included ("9930:DE123456789"), by VAT prefix.
var vatSchemes = map[string]string{
	"AT": "9914", "BE": "9925", "BG": "9926", "CH": "9927", "CY": "9928", "CZ": "9929", "DE": "9930",
	"EE": "9931", "EL": "9933", "ES": "9920", "FR": "9957", "GB": "9932", "HR": "9934", "HU": "9910",
	"IE": "9935", "LT": "9937", "LU": "9938", "LV": "9939", "MT": "9943", "NL": "9944", "PL": "9945",
	"PT": "9946", "RO": "9947", "SI": "9949", "SK": "9950",
}

// Endpoint is a Peppol participant identifier: an EAS scheme and an id
// under it, written "<scheme>:<id>" ("0208:0477472701").
type Endpoint struct{ Scheme, ID string }

func (e Endpoint) String() string { return e.Scheme + ":" + e.ID }

// ParseEndpoint reads and checks "<scheme>:<id>": the scheme one of the
// EAS list, the id at most 50 characters without spaces, and checked as
// CheckID does.
func ParseEndpoint(s string) (Endpoint, error) {
	scheme, id, ok := strings.Cut(s, ":")
	if !ok || scheme == "" || id == "" {
		return Endpoint{}, fmt.Errorf("%w: write it <EAS scheme>:<id>, such as 0208:0477472701 or 9930:DE123456789", ErrEndpoint)
	}
	if !easSchemes[scheme] {
		return Endpoint{}, fmt.Errorf("%w: %q (0009 SIRET, 0208 Belgian enterprise number, 9930 German VAT…)", ErrScheme, scheme)
	}
	if len(id) > 50 || strings.ContainsAny(id, " \t") {
		return Endpoint{}, fmt.Errorf("%w: the id is at most 50 characters, without spaces", ErrEndpoint)
	}
	if err := CheckID(scheme, id); err != nil {
		return Endpoint{}, err
	}
	return Endpoint{scheme, id}, nil
}

// CheckID checks an id under an ISO 6523 ICD or EAS scheme whose check
// this package knows: 0002 (SIREN: 9 digits, Luhn), 0009 (SIRET: 14
// digits, Luhn), 0208 (Belgian enterprise number: 10 digits, mod 97) and
// the VAT schemes (a VAT id of the scheme's country). Ids under other
// schemes are accepted as written.
func CheckID(scheme, id string) error {
	switch scheme {
	case "0002":
		if !digits(id, 9) || !luhn(id) {
			return fmt.Errorf("%w: a SIREN (scheme 0002) is 9 digits with a Luhn check digit", ErrCheckDigits)
		}
	case "0009":
		if !digits(id, 14) || !luhn(id) {
			return fmt.Errorf("%w: a SIRET (scheme 0009) is 14 digits with a Luhn check digit", ErrCheckDigits)
		}
	case "0208":
		if !belgianEnterprise(id) {
			return fmt.Errorf("%w: a Belgian enterprise number (scheme 0208) is 10 digits, 0 or 1 first, the last two 97 less the first eight mod 97", ErrCheckDigits)
		}
	}
	for prefix, s := range vatSchemes {
		if s != scheme {
			continue
		}
		if !strings.HasPrefix(id, prefix) {
			return fmt.Errorf("%w: scheme %s takes a %s VAT id, prefix included (%s:%s…)", ErrEndpoint, scheme, prefix, scheme, prefix)
		}
		return CheckVAT(id)
	}
	return nil
}

// VATEndpoint is the endpoint a VAT id gives under its country's EAS VAT
// scheme (FR 9957, DE 9930, BE 9925…); false for a country that has none
// (IT, DK, SE, FI, NO: give the endpoint).
func VATEndpoint(vat string) (Endpoint, bool) {
	if len(vat) < 2 {
		return Endpoint{}, false
	}
	s, ok := vatSchemes[vat[:2]]
	return Endpoint{s, vat}, ok
}
