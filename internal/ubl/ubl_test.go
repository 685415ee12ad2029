package ubl

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// testRules is the copy of the validation artefacts kept with the tests,
// so they do not depend on shared/ being anywhere.
const testRules = "testdata/einvoice"

// write is Write into bytes; the examples are always writable.
func write(t *testing.T, d *invoice.Document) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, d); err != nil {
		t.Fatalf("writing %s: %v", d.Number, err)
	}
	return buf.Bytes()
}

func example(t *testing.T, number string) *invoice.Document {
	t.Helper()
	for _, d := range invoice.Examples() {
		if d.Number == number {
			return d
		}
	}
	t.Fatalf("no example %s", number)
	return nil
}

// replaceOnce replaces old, which must occur exactly once, by new.
func replaceOnce(t *testing.T, data []byte, old, new string) []byte {
	t.Helper()
	if n := bytes.Count(data, []byte(old)); n != 1 {
		t.Fatalf("%q occurs %d times, want once", old, n)
	}
	return bytes.Replace(data, []byte(old), []byte(new), 1)
}

func ids(as []Assert) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// TestValidate runs one Validate (one JVM) over every example, tampered
// copies that must fail, files that are not UBL, and official EN 16931
// test documents, then judges each result.
func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	type file struct {
		name  string
		data  []byte
		judge func(t *testing.T, r Result)
	}
	valid := func(t *testing.T, r Result) {
		if !r.Valid() || len(r.Warnings) > 0 {
			t.Errorf("%s: schema errors %q, fatal %v, warnings %v", r.Path, r.SchemaErrors, r.Fatal, r.Warnings)
		}
	}
	var files []file
	for _, d := range invoice.Examples() {
		data := write(t, d)
		files = append(files, file{d.Number + ".xml", data, func(t *testing.T, r Result) {
			valid(t, r)
			if p := PeppolCheck(data); len(p) > 0 {
				t.Errorf("Peppol: %q", p)
			}
		}})
	}

	wallet := example(t, "CH-2026-000041")
	wxml := write(t, wallet)
	payable := fmt.Sprintf(`<cbc:PayableAmount currencyID="EUR">%s</cbc:PayableAmount>`, wallet.Amount(wallet.Totals.Payable))
	files = append(files, file{"tampered-payable.xml",
		replaceOnce(t, wxml, payable, `<cbc:PayableAmount currencyID="EUR">1.00</cbc:PayableAmount>`),
		func(t *testing.T, r Result) {
			if len(r.SchemaErrors) > 0 || !slices.Contains(ids(r.Fatal), "BR-CO-16") {
				t.Errorf("PayableAmount 1.00: schema errors %q, fatal %v; want BR-CO-16 only among fatal", r.SchemaErrors, ids(r.Fatal))
			}
			if len(r.Fatal) != 1 || r.Fatal[0].Location != "/Invoice[1]/LegalMonetaryTotal[1]" || !strings.HasPrefix(r.Fatal[0].Text, "Amount due for payment (BT-115)") {
				t.Errorf("fatal %+v, want BR-CO-16 on /Invoice[1]/LegalMonetaryTotal[1]", r.Fatal)
			}
		}})
	l1 := wallet.Lines[0]
	net := fmt.Sprintf(`<cbc:LineExtensionAmount currencyID="EUR">%s</cbc:LineExtensionAmount>`, wallet.Amount(l1.Net))
	offByOne := replaceOnce(t, wxml, net, fmt.Sprintf(`<cbc:LineExtensionAmount currencyID="EUR">%s</cbc:LineExtensionAmount>`, wallet.Amount(l1.Net+100)))
	files = append(files, file{"tampered-line-net.xml", offByOne, func(t *testing.T, r Result) {
		// The sum of the lines no longer is the document's (BR-CO-10), and
		// the line is not quantity × price (Peppol R120).
		if !slices.Contains(ids(r.Fatal), "BR-CO-10") {
			t.Errorf("line 1 net off by 1.00: fatal %v, want BR-CO-10", ids(r.Fatal))
		}
		p := PeppolCheck(offByOne)
		if len(p) != 1 || !strings.HasPrefix(p[0], "PEPPOL-EN16931-R120: line 1: ") {
			t.Errorf("Peppol: %q, want R120 on line 1", p)
		}
	}})
	files = append(files,
		file{"not-a-number.xml", replaceOnce(t, wxml, payable, `<cbc:PayableAmount currencyID="EUR">abc</cbc:PayableAmount>`),
			func(t *testing.T, r Result) {
				// The XSD refuses it and the rules cannot run: never valid.
				if len(r.SchemaErrors) == 0 || !slices.Contains(ids(r.Fatal), "XSLT") {
					t.Errorf("PayableAmount abc: schema errors %q, fatal %v; want both", r.SchemaErrors, r.Fatal)
				}
			}},
		file{"truncated.xml", wxml[:len(wxml)/2], func(t *testing.T, r Result) {
			if len(r.SchemaErrors) != 1 || !strings.HasPrefix(r.SchemaErrors[0], "not well-formed XML") || r.Fatal != nil {
				t.Errorf("truncated: schema errors %q, fatal %v", r.SchemaErrors, r.Fatal)
			}
		}},
		file{"order.xml", []byte(`<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>`), func(t *testing.T, r Result) {
			if len(r.SchemaErrors) != 1 || !strings.Contains(r.SchemaErrors[0], "is not a UBL 2.1 Invoice or CreditNote") {
				t.Errorf("an Order: schema errors %q", r.SchemaErrors)
			}
		}},
	)
	// The element order is the XSD's: the same document with two elements
	// swapped is refused.
	dueType := "<cbc:DueDate>2026-12-31</cbc:DueDate>\n  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>"
	files = append(files, file{"swapped.xml", replaceOnce(t, wxml, dueType, "<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>\n  <cbc:DueDate>2026-12-31</cbc:DueDate>"),
		func(t *testing.T, r Result) {
			if len(r.SchemaErrors) == 0 || !strings.Contains(r.SchemaErrors[0], "DueDate") {
				t.Errorf("DueDate after InvoiceTypeCode: schema errors %q, want one naming DueDate", r.SchemaErrors)
			}
		}})
	// A credit note with a due date: a UBL CreditNote has no DueDate, so
	// BT-9 goes to the payment means.
	due := example(t, "CN-2026-000007")
	due.DueDate = due.IssueDate + 30
	dueXML := write(t, due)
	if !bytes.Contains(dueXML, []byte("<cbc:PaymentDueDate>2026-12-31</cbc:PaymentDueDate>")) {
		t.Errorf("credit note due date not written as PaymentDueDate:\n%s", dueXML)
	}
	files = append(files, file{"credit-note-due.xml", dueXML, valid})
	official, err := filepath.Glob("testdata/official/*.xml")
	if err != nil || len(official) != 2 {
		t.Fatalf("official examples: %v %v", official, err)
	}
	for _, p := range official {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file{"official-" + filepath.Base(p), data, func(t *testing.T, r Result) {
			valid(t, r)
			if strings.Contains(p, "BIS3") {
				if p := PeppolCheck(data); len(p) > 0 {
					t.Errorf("Peppol: %q", p)
				}
			}
		}})
	}

	var paths []string
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	start := time.Now()
	results, err := Validator{Dir: testRules}.Validate(context.Background(), paths...)
	if err != nil {
		t.Fatalf("Validate: %v", err) // ErrTools names the Debian packages to install
	}
	t.Logf("Validate of %d files: %v", len(paths), time.Since(start).Round(10*time.Millisecond))
	if len(results) != len(files) {
		t.Fatalf("%d results for %d files", len(results), len(files))
	}
	for i, f := range files {
		t.Run(f.name, func(t *testing.T) {
			if results[i].Path != paths[i] {
				t.Fatalf("result %d is of %s, want %s", i, results[i].Path, paths[i])
			}
			f.judge(t, results[i])
		})
	}
}

// TestValidateWithoutTools: a missing tool is an error that says what to install.
func TestValidateWithoutTools(t *testing.T) {
	t.Parallel()
	_, err := Validator{Dir: testRules, Saxon: filepath.Join(t.TempDir(), "Saxon-HE.jar")}.Validate(context.Background(), "x.xml")
	if !errors.Is(err, ErrTools) || !strings.Contains(err.Error(), "default-jre-headless libsaxonhe-java libxml2-utils") || !strings.Contains(err.Error(), "Saxon-HE.jar") {
		t.Errorf("got %v, want ErrTools naming the jar and the packages", err)
	}
}

// TestFindRules: the artefacts are found in a worktree's ../shared, and a
// folder without them is ErrRules.
func TestFindRules(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	rules := filepath.Join(top, "shared", "external", "einvoice")
	for _, f := range []string{invoiceXSD, creditNoteXSD, rulesXSLT} {
		if err := os.MkdirAll(filepath.Join(rules, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(rules, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wd := filepath.Join(top, "wt-ubl", "internal", "ubl")
	if got, err := findRules(wd); err != nil || got != rules {
		t.Errorf("findRules(%s) = %s, %v; want %s", wd, got, err, rules)
	}
	if err := hasRules(filepath.Join(top, "wt-ubl")); !errors.Is(err, ErrRules) {
		t.Errorf("hasRules of a folder without them: %v", err)
	}
	if err := hasRules(testRules); err != nil {
		t.Errorf("the test copy: %v", err)
	}
}

// TestGolden: each example is written to the same bytes, twice in a row
// and as the golden file (go test -update rewrites them).
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, d := range invoice.Examples() {
		got := write(t, d)
		if again := write(t, d); !bytes.Equal(got, again) {
			t.Errorf("%s: two writes differ", d.Number)
		}
		golden := filepath.Join("testdata", "golden", d.Number+".xml")
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (go test -update writes it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test -update rewrites it after review)", d.Number, golden)
		}
	}
}

// What a reader of the XML sees: element names of any namespace, so that
// the reading does not borrow the writer's types (namespaces are checked
// apart, in checkNamespaces).
type (
	rdAmount struct {
		Currency string `xml:"currencyID,attr"`
		Value    string `xml:",chardata"`
	}
	rdID struct {
		Scheme string `xml:"schemeID,attr"`
		Value  string `xml:",chardata"`
	}
	rdParty struct {
		Endpoint         rdID   `xml:"Party>EndpointID"`
		Identification   []rdID `xml:"Party>PartyIdentification>ID"`
		TradingName      string `xml:"Party>PartyName>Name"`
		Street           string `xml:"Party>PostalAddress>StreetName"`
		Additional       string `xml:"Party>PostalAddress>AdditionalStreetName"`
		City             string `xml:"Party>PostalAddress>CityName"`
		PostalCode       string `xml:"Party>PostalAddress>PostalZone"`
		Country          string `xml:"Party>PostalAddress>Country>IdentificationCode"`
		VATID            string `xml:"Party>PartyTaxScheme>CompanyID"`
		VATScheme        string `xml:"Party>PartyTaxScheme>TaxScheme>ID"`
		RegistrationName string `xml:"Party>PartyLegalEntity>RegistrationName"`
		CompanyID        rdID   `xml:"Party>PartyLegalEntity>CompanyID"`
		Email            string `xml:"Party>Contact>ElectronicMail"`
	}
	rdCategory struct {
		ID         string `xml:"ID"`
		Percent    string `xml:"Percent"`
		ReasonCode string `xml:"TaxExemptionReasonCode"`
		Reason     string `xml:"TaxExemptionReason"`
		Scheme     string `xml:"TaxScheme>ID"`
	}
	rdQuantity struct {
		Unit  string `xml:"unitCode,attr"`
		Value string `xml:",chardata"`
	}
	rdLine struct {
		ID       string
		Note     string
		Invoiced rdQuantity `xml:"InvoicedQuantity"`
		Credited rdQuantity `xml:"CreditedQuantity"`
		Net      rdAmount   `xml:"LineExtensionAmount"`
		Start    string     `xml:"InvoicePeriod>StartDate"`
		End      string     `xml:"InvoicePeriod>EndDate"`
		Name     string     `xml:"Item>Name"`
		SKU      string     `xml:"Item>SellersItemIdentification>ID"`
		Category rdCategory `xml:"Item>ClassifiedTaxCategory"`
		Price    rdAmount   `xml:"Price>PriceAmount"`
	}
	rdDoc struct {
		XMLName                             xml.Name
		CustomizationID, ProfileID, ID      string
		IssueDate, DueDate                  string
		InvoiceTypeCode, CreditNoteTypeCode string
		Notes                               []string `xml:"Note"`
		Currency                            string   `xml:"DocumentCurrencyCode"`
		BuyerReference                      string
		PeriodStart                         string  `xml:"InvoicePeriod>StartDate"`
		PeriodEnd                           string  `xml:"InvoicePeriod>EndDate"`
		BillingReferences                   []rdRef `xml:"BillingReference>InvoiceDocumentReference"`
		Seller                              rdParty `xml:"AccountingSupplierParty"`
		Buyer                               rdParty `xml:"AccountingCustomerParty"`
		PaymentMeans                        []rdMeans
		Terms                               []string     `xml:"PaymentTerms>Note"`
		TaxTotals                           []rdTaxTotal `xml:"TaxTotal"`
		Totals                              rdTotals     `xml:"LegalMonetaryTotal"`
		Lines                               []rdLine     `xml:"InvoiceLine"`
		CreditLines                         []rdLine     `xml:"CreditNoteLine"`
	}
	rdRef struct {
		ID, IssueDate string
	}
	rdTotals struct {
		LineExtensionAmount, TaxExclusiveAmount, TaxInclusiveAmount, PayableAmount rdAmount
		PrepaidAmount                                                              *rdAmount
	}
	rdMeans struct {
		Code       string `xml:"PaymentMeansCode"`
		DueDate    string `xml:"PaymentDueDate"`
		PaymentID  string
		IBAN       string `xml:"PayeeFinancialAccount>ID"`
		Name       string `xml:"PayeeFinancialAccount>Name"`
		BIC        string `xml:"PayeeFinancialAccount>FinancialInstitutionBranch>ID"`
		Mandate    string `xml:"PaymentMandate>ID"`
		DebtorIBAN string `xml:"PaymentMandate>PayerFinancialAccount>ID"`
	}
	rdTaxTotal struct {
		Tax       rdAmount `xml:"TaxAmount"`
		Subtotals []struct {
			Taxable  rdAmount   `xml:"TaxableAmount"`
			Tax      rdAmount   `xml:"TaxAmount"`
			Category rdCategory `xml:"TaxCategory"`
		} `xml:"TaxSubtotal"`
	}
)

// read parses a written document as a reader would.
func read(t *testing.T, data []byte) rdDoc {
	t.Helper()
	var doc rdDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("reading the written XML: %v", err)
	}
	return doc
}

// checkNamespaces: the root is in its document's namespace and every other
// element in cac (with children) or cbc (without).
func checkNamespaces(t *testing.T, data []byte, rootNS string) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []xml.Name
	var hadChild []bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 && e.Name.Space != rootNS {
				t.Errorf("root %v, want namespace %s", e.Name, rootNS)
			}
			if len(stack) > 0 && e.Name.Space != nsCAC && e.Name.Space != nsCBC {
				t.Errorf("%s in namespace %q", e.Name.Local, e.Name.Space)
			}
			if len(hadChild) > 0 {
				hadChild[len(hadChild)-1] = true
			}
			stack, hadChild = append(stack, e.Name), append(hadChild, false)
		case xml.EndElement:
			n, kids := stack[len(stack)-1], hadChild[len(hadChild)-1]
			stack, hadChild = stack[:len(stack)-1], hadChild[:len(hadChild)-1]
			if n.Space == nsCAC && !kids || n.Space == nsCBC && kids {
				t.Errorf("%s: an aggregate without children or a basic component with children", n.Local)
			}
		}
	}
}

// TestReadBack: the values a reader of each example's XML finds are the
// document's.
func TestReadBack(t *testing.T) {
	t.Parallel()
	for _, d := range invoice.Examples() {
		t.Run(d.Number, func(t *testing.T) {
			t.Parallel()
			data := write(t, d)
			credit := d.Type == invoice.TypeCreditNote
			ns := nsInvoice
			if credit {
				ns = nsCreditNote
			}
			checkNamespaces(t, data, ns)
			r := read(t, data)
			minor := func(what string, a rdAmount) int64 {
				t.Helper()
				if a.Currency != d.Currency {
					t.Errorf("%s: currencyID %q, want %s", what, a.Currency, d.Currency)
				}
				v, err := money.ParseMinor(a.Value, d.Cur())
				if err != nil || a.Value != d.Amount(v) {
					t.Errorf("%s: %q is not an amount with the currency's digits: %v", what, a.Value, err)
				}
				return v
			}
			eq := func(what string, got, want any) {
				t.Helper()
				if got != want {
					t.Errorf("%s: got %v, want %v", what, got, want)
				}
			}
			eq("customization", r.CustomizationID, CustomizationID)
			eq("profile", r.ProfileID, ProfileID)
			eq("number", r.ID, d.Number)
			eq("issue date", r.IssueDate, d.IssueDate.String())
			eq("currency", r.Currency, d.Currency)
			eq("buyer reference", r.BuyerReference, d.BuyerReference)
			eq("period", r.PeriodStart+"/"+r.PeriodEnd, d.PeriodStart.String()+"/"+d.PeriodEnd.String())
			if credit {
				eq("root", r.XMLName.Local, "CreditNote")
				eq("type code", r.CreditNoteTypeCode, "381")
				eq("lines", len(r.Lines), 0)
			} else {
				eq("root", r.XMLName.Local, "Invoice")
				eq("type code", r.InvoiceTypeCode, "380")
				eq("due date", r.DueDate, d.DueDate.String())
				eq("credit lines", len(r.CreditLines), 0)
				eq("billing references", len(r.BillingReferences), 0)
			}
			wantNote := strings.Join(append(slices.DeleteFunc([]string{d.Reason}, func(s string) bool { return s == "" }), d.Notes...), "\n")
			eq("notes", strings.Join(r.Notes, "|"), wantNote)

			for _, p := range []struct {
				who  string
				got  rdParty
				want invoice.Party
			}{{"seller", r.Seller, d.Seller}, {"buyer", r.Buyer, d.Buyer}} {
				g, w := p.got, p.want
				eq(p.who+" endpoint", g.Endpoint, rdID{w.EndpointScheme, w.EndpointID})
				eq(p.who+" trading name", g.TradingName, w.TradingName)
				eq(p.who+" address", fmt.Sprint(g.Street, g.Additional, g.City, g.PostalCode, g.Country),
					fmt.Sprint(w.Address.Street, w.Address.Additional, w.Address.City, w.Address.PostalCode, w.Address.Country))
				eq(p.who+" VAT id", g.VATID, w.VATID)
				if w.VATID != "" {
					eq(p.who+" VAT scheme", g.VATScheme, "VAT")
				}
				eq(p.who+" legal name", g.RegistrationName, w.Name)
				eq(p.who+" company id", g.CompanyID, rdID{w.CompanyIDScheme, w.CompanyID})
				eq(p.who+" email", g.Email, w.Email)
			}
			eq("buyer identification", len(r.Buyer.Identification), 0)

			pay := d.Payment
			eq("payment means", len(r.PaymentMeans), 1)
			pm := r.PaymentMeans[0]
			eq("payment id (BT-83)", pm.PaymentID, pay.Reference)
			if credit && d.DueDate != 0 {
				eq("credit note due date (BT-9)", pm.DueDate, d.DueDate.String())
			} else {
				eq("payment due date", pm.DueDate, "")
			}
			eq("terms", strings.Join(r.Terms, "|"), pay.Terms)
			switch pay.Means {
			case invoice.PayDirectDebit:
				eq("means code", pm.Code, "59")
				eq("mandate (BT-89)", pm.Mandate, pay.MandateID)
				eq("debtor IBAN (BT-91)", pm.DebtorIBAN, pay.DebtorIBAN)
				eq("payee account", pm.IBAN, "")
				// BT-90: the creditor id is the seller's SEPA identification.
				eq("seller identification (BT-90)", fmt.Sprint(r.Seller.Identification), fmt.Sprint([]rdID{{"SEPA", pay.CreditorID}}))
			case invoice.PayCreditTransfer:
				eq("means code", pm.Code, "58")
				eq("IBAN (BT-84)", pm.IBAN, pay.IBAN)
				eq("account name (BT-85)", pm.Name, pay.AccountName)
				eq("BIC (BT-86)", pm.BIC, pay.BIC)
				eq("mandate", pm.Mandate, "")
				eq("seller identification", len(r.Seller.Identification), 0)
			default:
				t.Fatalf("example with means %q", pay.Means)
			}

			eq("tax totals", len(r.TaxTotals), 1)
			tt := r.TaxTotals[0]
			eq("tax (BT-110)", minor("TaxAmount", tt.Tax), d.Totals.Tax)
			eq("VAT subtotals", len(tt.Subtotals), len(d.VAT))
			for i, v := range d.VAT {
				if i >= len(tt.Subtotals) {
					break
				}
				s := tt.Subtotals[i]
				eq(v.Category+" taxable (BT-116)", minor("TaxableAmount", s.Taxable), v.Taxable)
				eq(v.Category+" tax (BT-117)", minor("TaxAmount", s.Tax), v.Tax)
				eq(v.Category+" category", s.Category, rdCategory{v.Category, v.Rate, v.ExemptionCode, v.ExemptionReason, "VAT"})
			}
			mt := r.Totals
			eq("line net (BT-106)", minor("LineExtensionAmount", mt.LineExtensionAmount), d.Totals.LineNet)
			eq("tax exclusive (BT-109)", minor("TaxExclusiveAmount", mt.TaxExclusiveAmount), d.Totals.TaxExclusive)
			eq("tax inclusive (BT-112)", minor("TaxInclusiveAmount", mt.TaxInclusiveAmount), d.Totals.TaxInclusive)
			eq("payable (BT-115)", minor("PayableAmount", mt.PayableAmount), d.Totals.Payable)
			eq("prepaid written", mt.PrepaidAmount != nil, d.Totals.Prepaid != 0)
			if mt.PrepaidAmount != nil {
				eq("prepaid (BT-113)", minor("PrepaidAmount", *mt.PrepaidAmount), d.Totals.Prepaid)
			}

			lines := r.Lines
			if credit {
				lines = r.CreditLines
			}
			eq("lines", len(lines), len(d.Lines))
			for i, l := range d.Lines {
				if i >= len(lines) {
					break
				}
				g := lines[i]
				q := g.Invoiced
				if credit {
					q = g.Credited
				}
				unit := "C62"
				if l.BillingModel == "monthly" {
					unit = "MON"
				}
				what := "line " + g.ID
				eq(what+" id", g.ID, fmt.Sprint(l.No))
				eq(what+" quantity", q, rdQuantity{unit, fmt.Sprint(l.Quantity)})
				eq(what+" net (BT-131)", minor("line net", g.Net), l.Net)
				eq(what+" period", g.Start+"/"+g.End, l.PeriodStart.String()+"/"+l.PeriodEnd.String())
				eq(what+" item", g.Name+"/"+g.SKU, l.Name+"/"+l.SKU)
				eq(what+" tax category", g.Category, rdCategory{ID: l.VATCategory, Percent: l.VATRate, Scheme: "VAT"})
				eq(what+" price currency", g.Price.Currency, d.Currency)
				eq(what+" price (BT-146)", g.Price.Value, l.UnitPrice)
				if l.Credits != "" {
					eq(what+" note", g.Note, "Credits invoice "+l.Credits+", service month "+l.ServiceMonth)
				}
			}
		})
	}
}

// TestCreditNoteReferences: the credit note names each invoice it credits.
func TestCreditNoteReferences(t *testing.T) {
	t.Parallel()
	d := example(t, "CN-2026-000007")
	r := read(t, write(t, d))
	var want []rdRef
	for _, ref := range d.References {
		want = append(want, rdRef{ref.Number, ref.IssueDate.String()})
	}
	if len(want) < 2 || !slices.Equal(r.BillingReferences, want) {
		t.Errorf("billing references %v, want %v", r.BillingReferences, want)
	}
}

// TestReverseCharge: category AE, with both VAT ids and the mention.
func TestReverseCharge(t *testing.T) {
	t.Parallel()
	d := example(t, "CH-2026-000042")
	r := read(t, write(t, d))
	if r.Seller.VATID == "" || r.Buyer.VATID == "" || r.Seller.VATID != d.Seller.VATID || r.Buyer.VATID != d.Buyer.VATID {
		t.Errorf("VAT ids seller %q buyer %q, want both", r.Seller.VATID, r.Buyer.VATID)
	}
	want := rdCategory{"AE", "0", "VATEX-EU-AE", "Reverse charge: VAT to be paid by the customer (Article 196, Directive 2006/112/EC)", "VAT"}
	if len(r.TaxTotals) != 1 || len(r.TaxTotals[0].Subtotals) != 1 || r.TaxTotals[0].Subtotals[0].Category != want {
		t.Errorf("tax totals %+v, want one AE subtotal %+v", r.TaxTotals, want)
	}
	for _, l := range r.Lines {
		if l.Category.ID != "AE" || l.Category.Percent != "0" {
			t.Errorf("line %s: category %+v", l.ID, l.Category)
		}
	}
}

// TestSEPACreditor: the direct debit documents carry the creditor id as
// the seller's SEPA identification (BT-90); the others do not.
func TestSEPACreditor(t *testing.T) {
	t.Parallel()
	debits := 0
	for _, d := range invoice.Examples() {
		data := write(t, d)
		has := bytes.Contains(data, []byte(`<cbc:ID schemeID="SEPA">`+d.Payment.CreditorID+`</cbc:ID>`))
		if dd := d.Payment.Means == invoice.PayDirectDebit; has != dd || bytes.Count(data, []byte(`schemeID="SEPA"`)) > 1 {
			t.Errorf("%s (%s): SEPA creditor id written %v", d.Number, d.Payment.Means, has)
		} else if dd {
			debits++
		}
	}
	if debits < 2 {
		t.Errorf("%d direct debit examples", debits)
	}
}

// TestPeppolCheckCatches: each rule finds what it forbids in an otherwise
// valid document.
func TestPeppolCheckCatches(t *testing.T) {
	t.Parallel()
	wallet := example(t, "CH-2026-000041")
	w := string(write(t, wallet))
	cn := string(write(t, example(t, "CN-2026-000007")))
	sub := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("%q not in the document", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	taxTotal := w[strings.Index(w, "<cac:TaxTotal>"):strings.Index(w, "<cac:LegalMonetaryTotal>")]
	for _, tc := range []struct {
		name, xml, want string
	}{
		{"two notes", sub(w, "<cbc:Note>TVA 20 %</cbc:Note>", "<cbc:Note>a</cbc:Note><cbc:Note>b</cbc:Note>"), "PEPPOL-EN16931-R002: "},
		{"no buyer reference", sub(w, "<cbc:BuyerReference>telco-fr</cbc:BuyerReference>", ""), "PEPPOL-EN16931-R003: "},
		{"customization", sub(w, "poacc:billing:3.0<", "poacc:billing:2.0<"), "PEPPOL-EN16931-R004: "},
		{"profile", sub(w, "billing:01:1.0", "billing:1:1.0"), "PEPPOL-EN16931-R007: "},
		{"empty element", sub(w, "<cbc:PostalZone>75002</cbc:PostalZone>", "<cbc:PostalZone> </cbc:PostalZone>"), "PEPPOL-EN16931-R008: document MUST not contain empty elements: /Invoice/AccountingSupplierParty/Party/PostalAddress/PostalZone is empty"},
		{"buyer endpoint scheme", sub(w, `<cbc:EndpointID schemeID="0009">84512378500014`, `<cbc:EndpointID>84512378500014`), "PEPPOL-EN16931-R010: "},
		{"seller endpoint", sub(w, `<cbc:EndpointID schemeID="0009">73282932000017</cbc:EndpointID>`, ""), "PEPPOL-EN16931-R020: "},
		{"two tax totals", sub(w, taxTotal, taxTotal+taxTotal), "PEPPOL-EN16931-R053: only one tax total with tax subtotals MUST be provided; there are 2"},
		{"no mandate", sub(w, "<cbc:ID>TFR-SDD-0001</cbc:ID>", ""), "PEPPOL-EN16931-R061: "},
		{"price", sub(w, `<cbc:PriceAmount currencyID="EUR">26.90</cbc:PriceAmount>`, `<cbc:PriceAmount currencyID="EUR">26.89</cbc:PriceAmount>`), "PEPPOL-EN16931-R120: line 3: net 672.50 is not quantity 25 × price 26.89 / base quantity 1 (±allowances, charges) within 0.02: 672.250000"},
		{"base quantity", sub(w, `<cbc:PriceAmount currencyID="EUR">26.90</cbc:PriceAmount>`, `<cbc:PriceAmount currencyID="EUR">269.00</cbc:PriceAmount><cbc:BaseQuantity unitCode="C62">10</cbc:BaseQuantity>`), ""},
		{"within 0.02", sub(w, `<cbc:PriceAmount currencyID="EUR">0.0215</cbc:PriceAmount>`, `<cbc:PriceAmount currencyID="EUR">0.02151</cbc:PriceAmount>`), ""},
		{"Belgian number", sub(cn, `<cbc:EndpointID schemeID="0208">0477472701`, `<cbc:EndpointID schemeID="0208">0477472702`), `PEPPOL-COMMON-R043: /CreditNote/AccountingCustomerParty/Party/EndpointID "0477472702" is not a Belgian enterprise number (10 digits, mod 97)`},
		{"not UBL", "<Order/>", "the root element Order is not a UBL 2.1 Invoice or CreditNote"},
	} {
		got := PeppolCheck([]byte(tc.xml))
		ok := len(got) == 0 && tc.want == ""
		if len(got) == 1 && tc.want != "" {
			ok = strings.HasPrefix(got[0], tc.want)
		}
		if !ok {
			t.Errorf("%s: got %q, want one starting %q", tc.name, got, tc.want)
		}
	}
}

// TestWriteRefuses: what cannot be written is ErrDocument, and nothing is written.
func TestWriteRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(d *invoice.Document)
	}{
		{"currency", func(d *invoice.Document) { d.Currency = "XXY" }},
		{"type", func(d *invoice.Document) { d.Type = "debit_note" }},
		{"means", func(d *invoice.Document) { d.Payment.Means = "cheque" }},
		{"billing model", func(d *invoice.Document) { d.Lines[1].BillingModel = "yearly" }},
		{"negative price", func(d *invoice.Document) { d.Lines[0].UnitPrice = "-3.99" }},
		{"price in exponent", func(d *invoice.Document) { d.Lines[0].UnitPrice = "399e-2" }},
		{"seven decimals", func(d *invoice.Document) { d.Lines[0].UnitPrice = "0.0000001" }},
	} {
		d := example(t, "CH-2026-000041")
		tc.edit(d)
		var buf bytes.Buffer
		if err := Write(&buf, d); !errors.Is(err, invoice.ErrDocument) || buf.Len() > 0 {
			t.Errorf("%s: %v, %d bytes written; want ErrDocument and nothing", tc.name, err, buf.Len())
		}
	}
}

// A transfer in another currency than the euro is not a SEPA credit
// transfer: payment means 30, where a euro one is 58 (from an outside
// trial: a USD invoice said 58).
func TestTransferOutsideTheEuroIsNotSEPA(t *testing.T) {
	t.Parallel()
	for _, d := range invoice.Examples() {
		if d.Payment.Means != invoice.PayCreditTransfer {
			continue
		}
		for cur, want := range map[string]string{"EUR": "58", "USD": "30"} {
			d.Currency = cur
			var b bytes.Buffer
			if err := Write(&b, d); err != nil {
				t.Fatal(err)
			}
			if got := regexp.MustCompile(`<cbc:PaymentMeansCode>(\d+)</cbc:PaymentMeansCode>`).FindStringSubmatch(b.String()); got == nil || got[1] != want {
				t.Errorf("%s in %s: payment means %v, want %s", d.Number, cur, got, want)
			}
		}
		return
	}
	t.Fatal("no example is paid by transfer")
}
