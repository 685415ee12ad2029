package ubl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

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
