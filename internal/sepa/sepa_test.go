package sepa_test

import (
	"testing"

	"github.com/clearhouse/clearhouse/internal/sepa"
)

func TestIBAN(t *testing.T) {
	t.Parallel()
	for iban, ok := range map[string]bool{
		"FR7630006000011234567890189": true, "FR76 3000 6000 0112 3456 7890 189": true, "DE89370400440532013000": true,
		"GB82WEST12345698765432": true, "DE12345678901234567890": false, "BG87200500001234567890": false, "FR763000600001": false, "": false,
	} {
		if sepa.ValidIBAN(iban) != ok {
			t.Errorf("ValidIBAN(%q) != %v", iban, ok)
		}
	}
}

func TestCompactIBAN(t *testing.T) {
	t.Parallel()
	if got := sepa.CompactIBAN("fr76 3000 6000 0112 3456 7890 189"); got != "FR7630006000011234567890189" {
		t.Errorf("CompactIBAN: %q", got)
	}
}

func TestBIC(t *testing.T) {
	t.Parallel()
	for bic, ok := range map[string]bool{
		"DEUTDEFF": true, "DEUTDEFF500": true, "BNPAFRPPXXX": true, "NEDSZAJJ": true, "DEUT1EFF": false,
		"DEUTDEFF50": false, "deutdeff": false, "DEUTDEF-": false, "": false,
	} {
		if sepa.ValidBIC(bic) != ok {
			t.Errorf("ValidBIC(%q) != %v", bic, ok)
		}
	}
}

func TestCreditorID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		// The Deutsche Bundesbank's published test identifier.
		"DE98ZZZ09999999999": true,
		// The business code does not count in the check digits.
		"DE98ABC09999999999": true, "DE98000 09999999999": true,
		// Spanish identifiers (national part: the NIF), with ZZZ and with a business code.
		"ES23ZZZ47690558N": true, "ES2300047690558N": true, "ES 23 ZZZ 47690558N": true, "es23zzz47690558n": true,
		"DE99ZZZ09999999999":                    false, // check digits
		"DE98ZZZ09999999998":                    false, // national identifier
		"ES23ZZZ47690558M":                      false,
		"DE98ZZZ":                               false, // no national identifier
		"D198ZZZ09999999999":                    false, // country code
		"DE9XZZZ09999999999":                    false, // check digits not digits
		"DE98ZZ-09999999999":                    false,
		"DE98ZZZ0999999999/":                    false,
		"DE98ZZZ099999999990000000000000000000": false, // over 35 characters
		"":                                      false,
	} {
		if sepa.ValidCreditorID(id) != ok {
			t.Errorf("ValidCreditorID(%q) != %v", id, ok)
		}
	}
}

func TestCreditorReference(t *testing.T) {
	// ISO 11649's own example: RF18 5390 0754 7034.
	if got := sepa.CreditorReference("539007547034"); got != "RF18539007547034" {
		t.Fatalf("CreditorReference = %s, want RF18539007547034", got)
	}
	for _, ref := range []string{"CH-2026-000042", "cn-2027-000001", "X"} {
		if r := sepa.CreditorReference(ref); !sepa.ValidCreditorReference(r) {
			t.Errorf("%s: %s does not check", ref, r)
		}
	}
	if sepa.ValidCreditorReference("RF19539007547034") {
		t.Error("a wrong check digit passes")
	}
}
