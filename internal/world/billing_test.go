package world_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/world"
)

// smallWorld is a hub and two resellers, the second (isp-de) reverse
// charge, that load without a problem: the billing cases below each break
// it in one way (the lines they expect are this text's), and the README's
// fragments of a partner's sftp section go into isp-de (readme_test.go).
const smallWorld = `hub:
  legal_name: Hub SAS
  address: {street: 18 rue de la Bourse, city: Paris, postal_code: "75002", country: FR}
  vat_id: FR44732829320
  company_id: "732829320"
  company_id_scheme: "0002"
  endpoint: "0009:73282932000017"
  email: billing@hub.example
  sepa_creditor_id: FR18ZZZ8A4B2C
  collection_account: {iban: FR76 3000 4000 0312 3456 7890 143, bic: BNPAFRPP}
  documents: {invoice_prefix: CH, credit_note_prefix: CN}
  billing:
    timezone: Europe/Paris
    schedule: "0 6 1 * *"
    payment_terms_days: 30
resellers:
  - id: telco-fr
    name: Telco FR
    oem_eligible: true
    currency: EUR
    vat: {treatment: standard, rate: "20", mention: TVA 20 %}
    credit_limit: "100"
    payment: {method: wallet, iban: FR7630006000011234567890189, mandate_id: M1, mandate_signed_on: 2026-01-01}
    file_policy: reject_file
    billing:
      address:
        street: 5 avenue Félix Faure
        city: Lyon
        postal_code: "69003"
        country: FR
      vat_id: FR14845123785
      emails: [factures@telco-fr.example]
      payment_terms_days: 45
  - id: isp-de
    name: ISP DE
    oem_eligible: true
    currency: EUR
    vat: {treatment: reverse_charge, mention: Reverse charge}
    credit_limit: "100"
    payment: {method: pay_now}
    file_policy: reject_file
    billing:
      address: {street: Müllerstraße 12, city: Berlin, postal_code: "13353", country: DE}
      vat_id: DE123456789
      emails: [rechnung@isp-de.example]
      endpoint: "9930:DE123456789"
`

// loadEdited loads smallWorld with each pair of edits (old, new) made
// once, in order.
func loadEdited(t *testing.T, edits ...string) error {
	t.Helper()
	y := smallWorld
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(y, edits[i]) {
			t.Fatalf("the edit %q finds nothing", edits[i])
		}
		y = strings.Replace(y, edits[i], edits[i+1], 1)
	}
	_, err := world.Load(configDir(t, map[string]string{"world.yaml": y}))
	return err
}

// TestBillingChecksLocateTheirField: each check of the hub and of the
// billing profiles is a problem at its field's line, named under its
// section; the valid variants (Greece's EL prefix, endpoints derived from
// the VAT id) load.
func TestBillingChecksLocateTheirField(t *testing.T) {
	t.Parallel()
	hubAddress := `  address: {street: 18 rue de la Bourse, city: Paris, postal_code: "75002", country: FR}` + "\n"
	deAddress := `{street: Müllerstraße 12, city: Berlin, postal_code: "13353", country: DE}`
	for _, tc := range []struct {
		name  string
		edits []string
		want  []string // "" alone: it loads
	}{
		{"the world as it is", nil, []string{""}},
		{"a Greek hub, its VAT prefix EL, its endpoint from the VAT id (9933)",
			[]string{hubAddress, `  address: {street: Odos Ermou 1, city: Athina, postal_code: "10557", country: GR}` + "\n",
				"vat_id: FR44732829320", "vat_id: EL123456789", `  endpoint: "0009:73282932000017"` + "\n", "",
				`  company_id: "732829320"` + "\n", "", `  company_id_scheme: "0002"` + "\n", ""}, []string{""}},
		{"a Greek VAT id with the country code", []string{"vat_id: FR44732829320", "vat_id: GR123456789", `country: FR}`, `country: GR}`, `"75002"`, `"10557"`},
			[]string{"world.yaml:4: hub.vat_id: \"GR123456789\": not a VAT identifier"}},
		{"hub postal code", []string{`"75002"`, `"7500"`}, []string{`world.yaml:3: hub.address.postal_code: "7500": not a postal code of its country: FR postal codes are 5 digits`}},
		{"hub country", []string{`country: FR}`, `country: FRA}`}, []string{`world.yaml:3: hub.address.country: "FRA": not an ISO 3166-1 alpha-2 country code`}},
		{"hub city", []string{`city: Paris, `, ""}, []string{"world.yaml:3: hub.address.city: is required"}},
		{"hub address", []string{hubAddress, ""}, []string{"world.yaml:1: hub.address: is required: street, city, postal_code and country of the hub"}},
		{"hub legal name and VAT id", []string{"  legal_name: Hub SAS\n", "", "  vat_id: FR44732829320\n", ""},
			[]string{"world.yaml:1: hub.legal_name: is required", "world.yaml:1: hub.vat_id: is required"}},
		{"hub VAT shape", []string{"FR44732829320", "FR4473282932"}, []string{`world.yaml:4: hub.vat_id: "FR4473282932": not a VAT identifier: FR VAT ids are FR + a 2-character key`}},
		{"hub VAT key", []string{"FR44732829320", "FR45732829320"}, []string{`world.yaml:4: hub.vat_id: "FR45732829320": check digits do not match`}},
		{"hub VAT of another country", []string{"vat_id: FR44732829320", "vat_id: DE123456789"},
			[]string{"world.yaml:4: hub.vat_id: DE123456789 is a VAT id of DE, but the address is in FR (whose VAT ids start with FR)"}},
		{"hub SIREN", []string{`"732829320"`, `"732829321"`}, []string{`world.yaml:5: hub.company_id: "732829321": check digits do not match: a SIREN (scheme 0002)`}},
		{"hub company id scheme", []string{`company_id_scheme: "0002"`, `company_id_scheme: SIREN`}, []string{`world.yaml:6: hub.company_id_scheme: "SIREN" must be an ISO 6523 ICD`}},
		{"hub company id scheme alone", []string{`  company_id: "732829320"` + "\n", ""}, []string{"world.yaml:5: hub.company_id_scheme: goes with company_id"}},
		{"hub SIRET", []string{"0009:73282932000017", "0009:73282932000018"}, []string{`world.yaml:7: hub.endpoint: "0009:73282932000018": check digits do not match: a SIRET (scheme 0009) is 14 digits with a Luhn check digit`}},
		{"hub endpoint scheme", []string{"0009:73282932000017", "1234:73282932000017"}, []string{`world.yaml:7: hub.endpoint: "1234:73282932000017": not an EAS scheme of the Peppol code list`}},
		{"hub Belgian enterprise number", []string{"0009:73282932000017", "0208:0477472702"}, []string{`world.yaml:7: hub.endpoint: "0208:0477472702": check digits do not match: a Belgian enterprise number (scheme 0208)`}},
		{"hub endpoint shape", []string{"0009:73282932000017", "73282932000017"}, []string{`world.yaml:7: hub.endpoint: "73282932000017": not a Peppol participant identifier: write it <EAS scheme>:<id>`}},
		{"hub endpoint from its VAT id", []string{`  endpoint: "0009:73282932000017"` + "\n", ""}, []string{""}},
		{"hub email", []string{"billing@hub.example", "billing at hub"}, []string{`world.yaml:8: hub.email: "billing at hub" is not an email address`}},
		{"hub creditor id", []string{"FR18ZZZ8A4B2C", "FR19ZZZ8A4B2C"}, []string{`world.yaml:9: hub.sepa_creditor_id: "FR19ZZZ8A4B2C" is not a SEPA creditor identifier`}},
		{"hub creditor id with a wallet reseller", []string{"  sepa_creditor_id: FR18ZZZ8A4B2C\n", ""},
			[]string{"world.yaml:1: hub.sepa_creditor_id: is required: a reseller pays by SEPA direct debit"}},
		{"hub IBAN", []string{"7890 143", "7890 144"}, []string{`world.yaml:10: hub.collection_account.iban: "FR76 3000 4000 0312 3456 7890 144" is not a valid IBAN`}},
		{"hub BIC", []string{"bic: BNPAFRPP", "bic: BNPA"}, []string{`world.yaml:10: hub.collection_account.bic: "BNPA" is not a valid BIC`}},
		{"hub collection account", []string{"  collection_account: {iban: FR76 3000 4000 0312 3456 7890 143, bic: BNPAFRPP}\n", ""},
			[]string{"world.yaml:1: hub.collection_account: is required"}},
		{"hub invoice prefix", []string{"invoice_prefix: CH", "invoice_prefix: ch-1"}, []string{`world.yaml:11: hub.documents.invoice_prefix: "ch-1" must be 1 to 8 upper-case letters or digits`}},
		{"hub prefixes alike", []string{"credit_note_prefix: CN", "credit_note_prefix: CH"}, []string{`world.yaml:11: hub.documents.credit_note_prefix: "CH" is the invoice prefix too`}},
		{"hub prefix alike the default", []string{"{invoice_prefix: CH, credit_note_prefix: CN}", "{credit_note_prefix: CH}"}, []string{`world.yaml:11: hub.documents.credit_note_prefix: "CH" is the invoice prefix too`}},
		{"hub time zone", []string{"timezone: Europe/Paris", "timezone: Europe/Pariss"}, []string{`world.yaml:13: hub.billing.timezone: "Europe/Pariss" is not an IANA time zone`}},
		{"hub schedule", []string{`schedule: "0 6 1 * *"`, `schedule: "0 6 32 * *"`}, []string{`world.yaml:14: hub.billing.schedule: schedule "0 6 32 * *"`}},
		{"hub payment terms", []string{"payment_terms_days: 30", "payment_terms_days: 0"}, []string{"world.yaml:15: hub.billing.payment_terms_days: 0 must be 1 to 120 days"}},
		// What reaches documents and terminals is printable text.
		{"an escape sequence in a legal name", []string{"  legal_name: Hub SAS", `  legal_name: "Hub\e[31m SAS"`},
			[]string{"world.yaml:2: hub.legal_name: has the control character U+001B at character 4"}},
		{"a right-to-left override in a buyer reference", []string{"      endpoint: \"9930:DE123456789\"\n", "      endpoint: \"9930:DE123456789\"\n      buyer_reference: \"TFR\u202eACHATS\"\n"},
			[]string{"world.yaml:47: billing.buyer_reference: has the invisible formatting character U+202E at character 4"}},
		{"a tab and a line break in a street", []string{"street: 5 avenue Félix Faure", `street: "5 avenue\tFélix\nFaure"`},
			[]string{"world.yaml:27: billing.address.street: has the control character U+0009 at character 9"}},
		{"a NUL in a city", []string{"city: Berlin", `city: "Berlin\0"`}, []string{"world.yaml:43: billing.address.city: has the control character U+0000"}},
		{"a bell in a VAT mention", []string{"mention: Reverse charge}", `mention: "Reverse\a charge"}`}, []string{"world.yaml:38: vat.mention: has the control character U+0007"}},
		{"a blank legal name", []string{"  legal_name: Hub SAS", `  legal_name: "   "`}, []string{"world.yaml:2: hub.legal_name: is blank"}},
		{"a 500-character street", []string{"street: Müllerstraße 12", "street: " + strings.Repeat("Müllerstraße ", 40)},
			[]string{"world.yaml:43: billing.address.street: has 519 characters; at most 140 fit on a document"}},
		{"a schedule that never runs", []string{`schedule: "0 6 1 * *"`, `schedule: "0 6 31 2 *"`}, []string{`world.yaml:14: hub.billing.schedule: "0 6 31 2 *" would not run every month`}},
		{"a schedule once a year", []string{`schedule: "0 6 1 * *"`, `schedule: "0 6 1 1 *"`}, []string{`world.yaml:14: hub.billing.schedule: "0 6 1 1 *" would not run every month`}},
		{"an emoji is text", []string{"  legal_name: Hub SAS", "  legal_name: Hub SAS 😀"}, []string{""}},
		{"no hub", []string{smallWorld[:strings.Index(smallWorld, "resellers:")], ""},
			[]string{"world.yaml:4: hub: is required: telco-fr is OEM-eligible and the hub is the seller on its invoices; add a top-level hub", "samples/config/hub.yaml"}},
		{"no billing profile", []string{smallWorld[strings.Index(smallWorld, "    billing:\n      address:\n"):strings.Index(smallWorld, "  - id: isp-de")], ""},
			[]string{"world.yaml:17: billing: is required for an OEM-eligible reseller"}},
		{"an address field, block style", []string{"        city: Lyon\n", ""}, []string{"world.yaml:27: billing.address.city: is required"}},
		{"a country, block style", []string{"        country: FR\n", "        country: XX\n"}, []string{`world.yaml:30: billing.address.country: "XX": not an ISO 3166-1 alpha-2 country code`}},
		{"a language documents are not written in", []string{"      endpoint: \"9930:DE123456789\"\n", "      endpoint: \"9930:DE123456789\"\n      language: es\n"},
			[]string{`world.yaml:47: billing.language: "es" is not a language documents are written in: en (the default), fr, de or nl`}},
		{"a language documents are written in", []string{"      endpoint: \"9930:DE123456789\"\n", "      endpoint: \"9930:DE123456789\"\n      language: nl\n"}, []string{""}},
		{"a German postal code", []string{`"13353"`, `"1335"`}, []string{`world.yaml:43: billing.address.postal_code: "1335": not a postal code of its country: DE postal codes are 5 digits`}},
		{"a Belgian VAT id's mod 97", []string{"vat_id: DE123456789", "vat_id: BE0477472702"}, []string{`world.yaml:44: billing.vat_id: "BE0477472702": check digits do not match: not a BE VAT id`}},
		{"a VAT id of another country than the address", []string{"vat_id: DE123456789", "vat_id: BE0477472701"},
			[]string{"world.yaml:44: billing.vat_id: BE0477472701 is a VAT id of BE, but the address is in DE"}},
		{"reverse charge within the hub's country",
			[]string{deAddress, `{street: 5 avenue Félix Faure, city: Lyon, postal_code: "69003", country: FR}`, "vat_id: DE123456789", "vat_id: FR14845123785", `"9930:DE123456789"`, `"9957:FR14845123785"`},
			[]string{"world.yaml:44: billing.vat_id: FR14845123785 is a VAT id of FR, the hub's own country: reverse charge applies to a buyer in another country"}},
		{"an endpoint under another country's VAT scheme", []string{"9930:DE123456789", "9957:DE123456789"}, []string{`world.yaml:46: billing.endpoint: "9957:DE123456789": not a Peppol participant identifier: scheme 9957 takes a FR VAT id`}},
		{"no endpoint and a VAT id without an EAS VAT scheme",
			[]string{`postal_code: "69003"`, `postal_code: "20121"`, "country: FR\n", "country: IT\n", "vat_id: FR14845123785", "vat_id: IT12345678901"},
			[]string{"world.yaml:26: billing.endpoint: is required (the Peppol participant id, <EAS scheme>:<id>, of telco-fr)"}},
		{"no email", []string{"[rechnung@isp-de.example]", "[]"}, []string{"world.yaml:45: billing.emails: at least one address is required"}},
		{"an implausible email", []string{"[rechnung@isp-de.example]", "[rechnung@isp-de, Rechnung <r@isp-de.example>]"},
			[]string{`world.yaml:45: billing.emails: "rechnung@isp-de" is not an email address`, `world.yaml:45: billing.emails: "Rechnung <r@isp-de.example>" is not an email address`}},
		{"reseller payment terms", []string{"payment_terms_days: 45", "payment_terms_days: 121"}, []string{"world.yaml:33: billing.payment_terms_days: 121 must be 1 to 120 days"}},
		{"an unknown billing field", []string{"      payment_terms_days: 45\n", "      payment_terms_days: 45\n      buyer_ref: X\n"},
			[]string{"world.yaml:34: buyer_ref: unknown field (known: address, buyer_reference, company_id, company_id_scheme, emails, endpoint, language, legal_name, payment_terms_days, vat_id)"}},
		// What a SEPA file and a QR code cannot carry (from an outside trial:
		// billing took a number and then could not write the documents).
		{"hub IBAN outside SEPA", []string{"FR76 3000 4000 0312 3456 7890 143", "BR97 0036 0305 0000 1000 9795 493P 1"},
			[]string{`world.yaml:10: hub.collection_account.iban: "BR97 0036 0305 0000 1000 9795 493P 1" is not an account in the SEPA area`}},
		{"hub account name too long", []string{"bic: BNPAFRPP}", "bic: BNPAFRPP, name: " + strings.Repeat("Société ", 9) + "}"},
			[]string{"world.yaml:10: hub.collection_account.name: has 71 characters; a SEPA payee name (direct debit files, QR codes) has at most 70"}},
		{"hub account name blank", []string{"bic: BNPAFRPP}", `bic: BNPAFRPP, name: "   "}`}, []string{"world.yaml:10: hub.collection_account.name: is blank"}},
		{"hub legal name too long for the account", []string{"  legal_name: Hub SAS", "  legal_name: " + strings.Repeat("Hub ", 18) + "SAS"},
			[]string{"world.yaml:10: hub.collection_account.name: is required: the legal name has 75 characters"}},
		{"wallet outside SEPA", []string{"iban: FR7630006000011234567890189", "iban: BR9700360305000010009795493P1"},
			[]string{`world.yaml:23: payment.iban: "BR9700360305000010009795493P1" is not an account in the SEPA area`}},
		{"wallet in dollars", []string{"    currency: EUR\n    vat: {treatment: standard", "    currency: USD\n    vat: {treatment: standard"},
			[]string{"world.yaml:23: payment.method: wallet is a SEPA direct debit, in euros only, and telco-fr bills in USD"}},
		{"a mandate twice", []string{"    payment: {method: pay_now}", "    payment: {method: wallet, iban: DE89370400440532013000, mandate_id: M1, mandate_signed_on: 2026-02-01}"},
			[]string{`payment.mandate_id: "M1" is telco-fr's mandate too`}},
		{"a mandate twice in another case", []string{"    payment: {method: pay_now}", "    payment: {method: wallet, iban: DE89370400440532013000, mandate_id: \"m1 \", mandate_signed_on: 2026-02-01}"},
			[]string{`payment.mandate_id: "m1 " has characters a SEPA mandate reference may not have`, `payment.mandate_id: "m1 " is telco-fr's mandate too`}},
		{"a mandate with an accent", []string{"mandate_id: M1,", "mandate_id: MANDAT É1,"},
			[]string{`world.yaml:23: payment.mandate_id: "MANDAT É1" has characters a SEPA mandate reference may not have`}},
		{"hub notes in a language documents are not written in", []string{"{invoice_prefix: CH, credit_note_prefix: CN}", "{invoice_prefix: CH, credit_note_prefix: CN, notes: {es: [Nota]}}"},
			[]string{`world.yaml:11: hub.documents.notes: "es" is not a language documents are written in`}},
		{"hub notes", []string{"{invoice_prefix: CH, credit_note_prefix: CN}", "{invoice_prefix: CH, credit_note_prefix: CN, notes: {en: [Penalties], fr: [Pénalités]}}"}, []string{""}},
		{"a pre-notification over the rulebook's", []string{"mandate_signed_on: 2026-01-01}", "mandate_signed_on: 2026-01-01, prenotification_days: 20}"},
			[]string{"world.yaml:23: payment.prenotification_days: 20 must be 1 to 14 days"}},
		{"a shorter pre-notification", []string{"mandate_signed_on: 2026-01-01}", "mandate_signed_on: 2026-01-01, prenotification_days: 5}"}, []string{""}},
		{"a pre-notification without a debit", []string{"    payment: {method: pay_now}", "    payment: {method: pay_now, prenotification_days: 5}"},
			[]string{"payment: pay_now resellers have no IBAN, mandate or pre-notification"}},
		{"every problem at once", []string{`"75002"`, `"7500"`, "credit_note_prefix: CN", "credit_note_prefix: CH", "        city: Lyon\n", "", "[rechnung@isp-de.example]", "[]"},
			[]string{"world.yaml:3: hub.address.postal_code:", "world.yaml:11: hub.documents.credit_note_prefix:", "world.yaml:27: billing.address.city:", "world.yaml:44: billing.emails:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := loadEdited(t, tc.edits...)
			if tc.want[0] == "" {
				if err != nil {
					t.Fatalf("refused:\n%v", err)
				}
				return
			}
			var errs world.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("not located problems: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no %q in:\n%v", w, err)
				}
			}
		})
	}
}

// TestASecondHubIsAProblem: the hub is declared once across the folder.
func TestASecondHubIsAProblem(t *testing.T) {
	t.Parallel()
	dir := configDir(t, map[string]string{"world.yaml": smallWorld, "zz.yaml": "# another hub\nhub:\n  legal_name: Other Hub SAS\n"})
	_, err := world.Load(dir)
	want := "zz.yaml:2: hub: is already declared at " + filepath.Join(dir, "world.yaml") + ":1: the hub is one identity"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("no %q in:\n%v", want, err)
	}
}

// lineOf is the line of the first s in text.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	i := strings.Index(text, s)
	if i < 0 {
		t.Fatalf("no %q", s)
	}
	return 1 + strings.Count(text[:i], "\n")
}

// TestReverseChargeWithoutVATOrAddressIsRefusedAtApply, the billing issue's
// acceptance criterion: a reseller missing its billing address or VAT id
// when reverse charge is declared is refused at apply with a located
// problem, never discovered at billing time.
func TestReverseChargeWithoutVATOrAddressIsRefusedAtApply(t *testing.T) {
	t.Parallel()
	const (
		address = `      address: {street: Müllerstraße 12, additional: Aufgang B, city: Berlin, postal_code: "13353", country: DE}` + "\n"
		vat     = "      vat_id: DE123456789\n"
	)
	b, err := os.ReadFile(filepath.Join(pgtest.SampleConfig, "resellers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		from, to string // what is cut: from (included) to (excluded)
		at, want string // the problem is at the first line starting at, once cut
	}{
		{"without its VAT id", vat, "      emails: [rechnung@isp-de.example]", address, "billing.vat_id: is required: reverse charge prints the buyer's VAT id"},
		{"without its address", address, vat, vat, "billing.address: is required: street, city, postal_code and country of isp-de"},
		{"without a billing profile", "    billing:                          # reverse charge", "  - id: mvno-be", "  - id: isp-de",
			"billing: is required: reverse charge needs the reseller's billing address and VAT id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := string(b)
			i := strings.Index(s, tc.from)
			j := i + strings.Index(s[i:], tc.to)
			if i < 0 || j < i {
				t.Fatalf("no %q then %q", tc.from, tc.to)
			}
			edited := s[:i] + s[j:]
			dir := sampleEdited(t, func(s string) string {
				if strings.HasPrefix(s, "# Resellers") {
					return edited
				}
				return s
			})
			_, err := world.Load(dir)
			want := filepath.Join(dir, "resellers.yaml") + ":" + strconv.Itoa(lineOf(t, edited, tc.at)) + ": " + tc.want
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("no %q in:\n%v", want, err)
			}
		})
	}
}

// TestApplyWritesHubAndProfiles: apply writes the hub and the billing
// profiles, says what changed in them (the hub's default terms reach the
// profiles that say nothing), and a second apply changes nothing.
func TestApplyWritesHubAndProfiles(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	res, err := apply(t, pool, pgtest.SampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range res.Changes {
		if strings.HasPrefix(c.What, "hub") || strings.HasPrefix(c.What, "billing profile") {
			got = append(got, c.String())
		}
	}
	if want := "+ hub|+ billing profile telco-fr|+ billing profile isp-de|+ billing profile mvno-be|+ billing profile cable-be"; strings.Join(got, "|") != want {
		t.Fatalf("changes %q, want %q", got, want)
	}
	dir := sampleEdited(t, func(s string) string {
		s = strings.Replace(s, "payment_terms_days: 30            #", "payment_terms_days: 45            #", 1)
		return strings.Replace(s, "emails: [rechnung@isp-de.example]", "emails: [rechnung@isp-de.example, buchhaltung@isp-de.example]", 1)
	})
	for i, want := range []string{
		"~ hub: payment_terms_days 30 → 45|" +
			"~ billing profile isp-de: emails {rechnung@isp-de.example} → {rechnung@isp-de.example,buchhaltung@isp-de.example}|" +
			"~ billing profile mvno-be: payment_terms_days 30 → 45|~ billing profile cable-be: payment_terms_days 30 → 45",
		"", // applied again: nothing
	} {
		res, err := apply(t, pool, dir)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(res.Changes))
		for i, c := range res.Changes {
			got[i] = c.String()
		}
		if strings.Join(got, "|") != want || res.Unchanged+len(res.Changes) != 37 {
			t.Fatalf("apply %d: %d unchanged, changes\n%s\nwant\n%s", i+1, res.Unchanged, strings.Join(got, "\n"), strings.ReplaceAll(want, "|", "\n"))
		}
	}
}

// An empty entry in a list (a lone "-": a reseller, an item, a key) is a
// located problem, never a crash.
func TestEmptyEntriesAreProblems(t *testing.T) {
	t.Parallel()
	err := loadEdited(t, "resellers:\n  - id: telco-fr", "resellers:\n  -\n  - id: telco-fr",
		"    file_policy: reject_file\n    billing:\n      address:\n", "    file_policy: reject_file\n    sftp:\n      keys:\n        -\n    billing:\n      address:\n")
	var es world.Errors
	if !errors.As(err, &es) {
		t.Fatalf("loaded: %v", err)
	}
	got := err.Error()
	for _, want := range []string{"world.yaml:17: resellers: an empty entry", "world.yaml:28: keys: an empty entry"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
}
