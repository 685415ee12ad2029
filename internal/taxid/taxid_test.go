package taxid_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/clearhouse/clearhouse/internal/taxid"
)

func TestCountries(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"FR", "DE", "BE", "NL", "LU", "GR", "GB", "CH", "US", "NO", "IS", "LI", "AT", "IE", "MT", "CY", "HR"} {
		if err := taxid.CheckCountry(c); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	for _, c := range []string{"", "fr", "F", "FRA", "EL", "UK", "EU", "XX", "ZZ"} {
		if err := taxid.CheckCountry(c); !errors.Is(err, taxid.ErrCountry) {
			t.Errorf("%q accepted (%v)", c, err)
		}
	}
}

func TestPostalCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		country, code string
		ok            bool
	}{
		{"FR", "75002", true}, {"FR", "7500", false}, {"FR", "75 002", false}, {"FR", "2A004", false},
		{"DE", "13353", true}, {"DE", "1335", false},
		{"BE", "1000", true}, {"BE", "0999", false}, {"BE", "10000", false},
		{"NL", "1011 AB", true}, {"NL", "1011AB", true}, {"NL", "1011", false},
		{"LU", "1111", true}, {"LU", "L-1111", false}, {"PT", "1000-001", true}, {"PT", "1000", false},
		{"GB", "SW1A 1AA", true}, {"US", "10001-1234", true}, // not checked
	} {
		err := taxid.CheckPostalCode(tc.country, tc.code)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, taxid.ErrPostalCode)) {
			t.Errorf("%s %q: %v", tc.country, tc.code, err)
		}
	}
}

// TestVATFormats: a valid and an invalid id of every country the table
// knows, its prefix's country, and the check digits of BE and FR.
func TestVATFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ good, bad, country string }{
		{"ATU12345678", "AT12345678", "AT"},
		{"BE0477472701", "BE2477472701", "BE"},
		{"BG123456789", "BG12345678", "BG"},
		{"CY12345678X", "CY123456789", "CY"},
		{"CZ12345678", "CZ1234567", "CZ"},
		{"DE123456789", "DE12345678", "DE"},
		{"DK12345678", "DK123456789", "DK"},
		{"EE123456789", "EE12345678", "EE"},
		{"EL123456789", "GR123456789", "GR"},
		{"ESA1234567B", "ES123456789", "ES"},
		{"FI12345678", "FI1234567", "FI"},
		{"FR44732829320", "FRIO732829320", "FR"},
		{"HR12345678901", "HR1234567890", "HR"},
		{"HU12345678", "HU1234567", "HU"},
		{"IE1234567WA", "IE12345678", "IE"},
		{"IT12345678901", "IT1234567890", "IT"},
		{"LT123456789012", "LT1234567890", "LT"},
		{"LU12345678", "LU1234567", "LU"},
		{"LV12345678901", "LV1234567890", "LV"},
		{"MT12345678", "MT1234567", "MT"},
		{"NL123456789B01", "NL123456789A01", "NL"},
		{"PL1234567890", "PL123456789", "PL"},
		{"PT123456789", "PT12345678", "PT"},
		{"RO1234567890", "RO0123", "RO"},
		{"SE123456789001", "SE123456789002", "SE"},
		{"SI12345678", "SI1234567", "SI"},
		{"SK1234567890", "SK123456789", "SK"},
		{"XI123456789", "XI12345678", "GB"},
		{"GB123456789", "GB1234567", "GB"},
		{"CHE123456789MWST", "CHE123456789", "CH"},
		{"NO123456789MVA", "NO123456789", "NO"},
	} {
		if err := taxid.CheckVAT(tc.good); err != nil {
			t.Errorf("%s: %v", tc.good, err)
		}
		if got := taxid.VATCountry(tc.good); got != tc.country {
			t.Errorf("%s: country %q, want %s", tc.good, got, tc.country)
		}
		if err := taxid.CheckVAT(tc.bad); !errors.Is(err, taxid.ErrVAT) {
			t.Errorf("%s accepted (%v)", tc.bad, err)
		}
	}
	for _, good := range []string{"BE0412345614", "BE1000000021", "FR14845123785", "FRXA732829320"} {
		if err := taxid.CheckVAT(good); err != nil {
			t.Errorf("%s: %v", good, err)
		}
	}
	// One digit off: the shape is right, the check digits are not.
	for _, bad := range []string{"BE0477472702", "BE0477472710", "FR45732829320", "FR44732829321"} {
		if err := taxid.CheckVAT(bad); !errors.Is(err, taxid.ErrCheckDigits) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if got := taxid.CompactVAT("che-123.456.789 mwst"); got != "CHE123456789MWST" {
		t.Error(got)
	}
	if taxid.VATPrefix("GR") != "EL" || taxid.VATPrefix("DE") != "DE" || taxid.VATPrefix("US") != "" {
		t.Error("VATPrefix")
	}
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want error // nil: valid
	}{
		{"0208:0477472701", nil},
		{"0208:0477472702", taxid.ErrCheckDigits}, // mod 97
		{"0208:477472701", taxid.ErrCheckDigits},  // 9 digits
		{"0009:73282932000017", nil},
		{"0009:73282932000018", taxid.ErrCheckDigits}, // Luhn
		{"0009:732829320", taxid.ErrCheckDigits},      // a SIREN under the SIRET scheme
		{"0002:732829320", nil},
		{"9930:DE123456789", nil},
		{"9930:FR44732829320", taxid.ErrEndpoint}, // a French VAT id under the German scheme
		{"9957:FR44732829320", nil},
		{"9925:BE0477472702", taxid.ErrCheckDigits},
		{"0088:4035811991014", nil}, // not checked
		{"0204:991-33333TEST-33", nil},
		{"9999:123", taxid.ErrScheme},
		{"BE:0477472701", taxid.ErrScheme},
		{"0208", taxid.ErrEndpoint},
		{"0208:", taxid.ErrEndpoint},
		{"0088:403 5811", taxid.ErrEndpoint},
	} {
		e, err := taxid.ParseEndpoint(tc.in)
		if tc.want == nil && (err != nil || e.String() != tc.in) {
			t.Errorf("%s: %v %v", tc.in, e, err)
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.in, err, tc.want)
		}
	}
}

func TestVATEndpoint(t *testing.T) {
	t.Parallel()
	for vat, want := range map[string]string{"FR44732829320": "9957:FR44732829320", "DE123456789": "9930:DE123456789",
		"BE0477472701": "9925:BE0477472701", "EL123456789": "9933:EL123456789", "NL123456789B01": "9944:NL123456789B01"} {
		e, ok := taxid.VATEndpoint(vat)
		if !ok || e.String() != want {
			t.Errorf("%s: %v %v", vat, e, ok)
		}
		if _, err := taxid.ParseEndpoint(e.String()); err != nil {
			t.Errorf("%s: the derived endpoint is refused: %v", vat, err)
		}
	}
	if _, ok := taxid.VATEndpoint("IT12345678901"); ok {
		t.Error("an Italian VAT id has no EAS VAT scheme in the list")
	}
}

func Example() {
	vat := taxid.CompactVAT("BE 0477.472.701")
	fmt.Println(vat, taxid.CheckVAT(vat), taxid.VATCountry(vat))
	e, _ := taxid.VATEndpoint(vat)
	fmt.Println(e)
	_, err := taxid.ParseEndpoint("0208:0477472702")
	fmt.Println(err)
	// Output:
	// BE0477472701 <nil> BE
	// 9925:BE0477472701
	// check digits do not match: a Belgian enterprise number (scheme 0208) is 10 digits, 0 or 1 first, the last two 97 less the first eight mod 97
}
