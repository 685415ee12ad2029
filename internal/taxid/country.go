package taxid

import (
	"fmt"
	"regexp"
	"strings"
)

// countries are the ISO 3166-1 alpha-2 codes officially assigned.
var countries = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`
		AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
		BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
		CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
		DE DJ DK DM DO DZ  EC EE EG EH ER ES ET  FI FJ FK FM FO FR
		GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY  HK HM HN HR HT HU
		ID IE IL IM IN IO IQ IR IS IT  JE JM JO JP  KE KG KH KI KM KN KP KR KW KY KZ
		LA LB LC LI LK LR LS LT LU LV LY
		MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
		NA NC NE NF NG NI NL NO NP NR NU NZ  OM  PA PE PF PG PH PK PL PM PN PR PS PT PW PY  QA
		RE RO RS RU RW  SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
		TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ  UA UG UM US UY UZ
		VA VC VE VG VI VN VU  WF WS  YE YT  ZA ZM ZW`) {
		m[c] = true
	}
	return m
}()

// CheckCountry checks an ISO 3166-1 alpha-2 country code (upper case: FR,
// DE, GR — not EL, which is Greece's VAT prefix only).
func CheckCountry(code string) error {
	if !countries[code] {
		if code == "EL" {
			return fmt.Errorf("%w: EL is Greece's VAT prefix; its country code is GR", ErrCountry)
		}
		return fmt.Errorf("%w (FR, DE, BE, in upper case)", ErrCountry)
	}
	return nil
}

// postal are the shapes of the postal codes this package knows; the
// other countries' are not checked.
var postal = map[string]struct {
	re    *regexp.Regexp
	shape string
}{
	"FR": {regexp.MustCompile(`^\d{5}$`), "5 digits"},
	"DE": {regexp.MustCompile(`^\d{5}$`), "5 digits"},
	"BE": {regexp.MustCompile(`^[1-9]\d{3}$`), "4 digits"},
	"NL": {regexp.MustCompile(`^[1-9]\d{3} ?[A-Z]{2}$`), "4 digits and 2 letters (1011 AB)"},
	"LU": {regexp.MustCompile(`^\d{4}$`), "4 digits, without L-"},
	"AT": {regexp.MustCompile(`^\d{4}$`), "4 digits"},
	"CH": {regexp.MustCompile(`^\d{4}$`), "4 digits"},
	"IT": {regexp.MustCompile(`^\d{5}$`), "5 digits"},
	"ES": {regexp.MustCompile(`^\d{5}$`), "5 digits"},
	"PT": {regexp.MustCompile(`^\d{4}-\d{3}$`), "4 digits, a dash and 3 digits (1000-001)"},
}

// CheckPostalCode checks a postal code's shape in its country (FR, DE, BE,
// NL, LU, AT, CH, IT, ES, PT); any other country's is accepted as written.
func CheckPostalCode(country, code string) error {
	p, ok := postal[country]
	if !ok || p.re.MatchString(code) {
		return nil
	}
	return fmt.Errorf("%w: %s postal codes are %s", ErrPostalCode, country, p.shape)
}
