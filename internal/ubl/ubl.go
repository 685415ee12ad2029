// Package ubl writes an issued document (invoice.Document) as a UBL 2.1
// Invoice or CreditNote that conforms to EN 16931 and Peppol BIS Billing
// 3.0, and validates such files: the UBL 2.1 XSD (xmllint), the CEN EN 16931
// rules (their XSLT, run by Saxon) and a few Peppol rules the CEN rules do
// not contain (PeppolCheck). It writes what the document says and computes
// nothing: the arithmetic is invoice.Document.Finish's.
package ubl

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
)

// The Peppol BIS Billing 3.0 specification and business process
// identifiers (BT-24, BT-23; rules PEPPOL-EN16931-R004 and R007).
const (
	CustomizationID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
	ProfileID       = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
)

// The UBL 2.1 namespaces.
const (
	nsInvoice    = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
	nsCreditNote = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
	nsCAC        = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
	nsCBC        = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
)

// Unit codes (UN/ECE Recommendation 20, BR-CL-23).
const (
	unitOne   = "C62" // one: a sale, a unit of usage
	unitMonth = "MON" // month: a subscription-month
)

// UNCL4461 payment means codes.
const (
	meansCreditTransfer = "58" // SEPA credit transfer
	meansTransfer       = "30" // credit transfer (not SEPA: another currency than the euro)
	meansDirectDebit    = "59" // SEPA direct debit
)

// The structs below are the UBL elements Clearhouse writes. Field order is
// element order: it follows the sequences of UBL-Invoice-2.1.xsd,
// UBL-CreditNote-2.1.xsd and UBL-CommonAggregateComponents-2.1.xsd, where
// the two documents agree (they differ only in elements written for one of
// them: DueDate and InvoiceTypeCode, CreditNoteTypeCode; the lines).
// Optional elements are pointers or omitempty strings, so nothing is
// written empty (PEPPOL-EN16931-R008).

type document struct {
	XMLName              xml.Name
	Xmlns                string             `xml:"xmlns,attr"`
	XmlnsCAC             string             `xml:"xmlns:cac,attr"`
	XmlnsCBC             string             `xml:"xmlns:cbc,attr"`
	CustomizationID      string             `xml:"cbc:CustomizationID"`
	ProfileID            string             `xml:"cbc:ProfileID"`
	ID                   string             `xml:"cbc:ID"`
	IssueDate            string             `xml:"cbc:IssueDate"`
	DueDate              string             `xml:"cbc:DueDate,omitempty"` // Invoice only
	InvoiceTypeCode      string             `xml:"cbc:InvoiceTypeCode,omitempty"`
	CreditNoteTypeCode   string             `xml:"cbc:CreditNoteTypeCode,omitempty"`
	Note                 string             `xml:"cbc:Note,omitempty"`
	DocumentCurrencyCode string             `xml:"cbc:DocumentCurrencyCode"`
	BuyerReference       string             `xml:"cbc:BuyerReference,omitempty"`
	InvoicePeriod        *period            `xml:"cac:InvoicePeriod"`
	BillingReference     []billingReference `xml:"cac:BillingReference"`
	Supplier             partyRole          `xml:"cac:AccountingSupplierParty"`
	Customer             partyRole          `xml:"cac:AccountingCustomerParty"`
	PaymentMeans         *paymentMeans      `xml:"cac:PaymentMeans"`
	PaymentTerms         *paymentTerms      `xml:"cac:PaymentTerms"`
	TaxTotal             taxTotal           `xml:"cac:TaxTotal"`
	LegalMonetaryTotal   monetaryTotal      `xml:"cac:LegalMonetaryTotal"`
	InvoiceLines         []line             `xml:"cac:InvoiceLine"`
	CreditNoteLines      []line             `xml:"cac:CreditNoteLine"`
}

type period struct {
	StartDate string `xml:"cbc:StartDate,omitempty"`
	EndDate   string `xml:"cbc:EndDate,omitempty"`
}

type billingReference struct {
	Invoice docRef `xml:"cac:InvoiceDocumentReference"`
}

type docRef struct {
	ID        string `xml:"cbc:ID"`
	IssueDate string `xml:"cbc:IssueDate,omitempty"`
}

type partyRole struct {
	Party party `xml:"cac:Party"`
}

type party struct {
	EndpointID     *identifier     `xml:"cbc:EndpointID"`
	Identification *partyID        `xml:"cac:PartyIdentification"`
	Name           *partyName      `xml:"cac:PartyName"`
	PostalAddress  address         `xml:"cac:PostalAddress"`
	TaxScheme      *partyTaxScheme `xml:"cac:PartyTaxScheme"`
	LegalEntity    legalEntity     `xml:"cac:PartyLegalEntity"`
	Contact        *contact        `xml:"cac:Contact"`
}

// identifier is an identifier with an optional scheme.
type identifier struct {
	Scheme string `xml:"schemeID,attr,omitempty"`
	Value  string `xml:",chardata"`
}

type partyID struct {
	ID identifier `xml:"cbc:ID"`
}

type partyName struct {
	Name string `xml:"cbc:Name"`
}

type address struct {
	Street      string  `xml:"cbc:StreetName,omitempty"`
	Additional  string  `xml:"cbc:AdditionalStreetName,omitempty"`
	City        string  `xml:"cbc:CityName,omitempty"`
	PostalCode  string  `xml:"cbc:PostalZone,omitempty"`
	Subdivision string  `xml:"cbc:CountrySubentity,omitempty"`
	Country     country `xml:"cac:Country"`
}

type country struct {
	Code string `xml:"cbc:IdentificationCode"`
}

type partyTaxScheme struct {
	CompanyID string    `xml:"cbc:CompanyID"`
	TaxScheme taxScheme `xml:"cac:TaxScheme"`
}

type taxScheme struct {
	ID string `xml:"cbc:ID"`
}

type legalEntity struct {
	RegistrationName string      `xml:"cbc:RegistrationName"`
	CompanyID        *identifier `xml:"cbc:CompanyID"`
}

type contact struct {
	Email string `xml:"cbc:ElectronicMail"`
}

type paymentMeans struct {
	Code      string   `xml:"cbc:PaymentMeansCode"`
	DueDate   string   `xml:"cbc:PaymentDueDate,omitempty"` // BT-9 of a credit note
	PaymentID string   `xml:"cbc:PaymentID,omitempty"`
	Payee     *account `xml:"cac:PayeeFinancialAccount"`
	Mandate   *mandate `xml:"cac:PaymentMandate"`
}

type account struct {
	ID     string  `xml:"cbc:ID"`
	Name   string  `xml:"cbc:Name,omitempty"`
	Branch *branch `xml:"cac:FinancialInstitutionBranch"`
}

type branch struct {
	ID string `xml:"cbc:ID"`
}

type mandate struct {
	ID    string   `xml:"cbc:ID"`
	Payer *account `xml:"cac:PayerFinancialAccount"`
}

type paymentTerms struct {
	Note string `xml:"cbc:Note"`
}

type amount struct {
	Currency string `xml:"currencyID,attr"`
	Value    string `xml:",chardata"`
}

type taxTotal struct {
	TaxAmount amount        `xml:"cbc:TaxAmount"`
	Subtotals []taxSubtotal `xml:"cac:TaxSubtotal"`
}

type taxSubtotal struct {
	TaxableAmount amount      `xml:"cbc:TaxableAmount"`
	TaxAmount     amount      `xml:"cbc:TaxAmount"`
	Category      taxCategory `xml:"cac:TaxCategory"`
}

type taxCategory struct {
	ID                  string    `xml:"cbc:ID"`
	Percent             string    `xml:"cbc:Percent"`
	ExemptionReasonCode string    `xml:"cbc:TaxExemptionReasonCode,omitempty"`
	ExemptionReason     string    `xml:"cbc:TaxExemptionReason,omitempty"`
	TaxScheme           taxScheme `xml:"cac:TaxScheme"`
}

type monetaryTotal struct {
	LineExtension amount  `xml:"cbc:LineExtensionAmount"`
	TaxExclusive  amount  `xml:"cbc:TaxExclusiveAmount"`
	TaxInclusive  amount  `xml:"cbc:TaxInclusiveAmount"`
	Prepaid       *amount `xml:"cbc:PrepaidAmount"`
	Payable       amount  `xml:"cbc:PayableAmount"`
}

type line struct {
	ID               string    `xml:"cbc:ID"`
	Note             string    `xml:"cbc:Note,omitempty"`
	InvoicedQuantity *quantity `xml:"cbc:InvoicedQuantity"`
	CreditedQuantity *quantity `xml:"cbc:CreditedQuantity"`
	LineExtension    amount    `xml:"cbc:LineExtensionAmount"`
	Period           *period   `xml:"cac:InvoicePeriod"`
	Item             item      `xml:"cac:Item"`
	Price            price     `xml:"cac:Price"`
}

type quantity struct {
	Unit  string `xml:"unitCode,attr"`
	Value string `xml:",chardata"`
}

type item struct {
	Name        string      `xml:"cbc:Name"`
	SellersID   *itemID     `xml:"cac:SellersItemIdentification"`
	TaxCategory taxCategory `xml:"cac:ClassifiedTaxCategory"`
}

type itemID struct {
	ID string `xml:"cbc:ID"`
}

type price struct {
	Amount amount `xml:"cbc:PriceAmount"`
}

// Write writes d as a UBL Invoice (type code 380) or CreditNote (381).
// The same document always gives the same bytes. It refuses, wrapping
// invoice.ErrDocument, a document it cannot write: an unknown type,
// currency, payment means or billing model, or a unit price that is not a
// plain decimal.
func Write(w io.Writer, d *invoice.Document) error {
	doc, err := build(d)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encoding %s: %w", d.Number, err)
	}
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", d.Number, err)
	}
	return nil
}

// build maps the document onto the UBL elements.
func build(d *invoice.Document) (*document, error) {
	if d == nil {
		return nil, fmt.Errorf("%w: no document", invoice.ErrDocument)
	}
	if _, err := money.ParseCurrency(d.Currency); err != nil {
		return nil, fmt.Errorf("%w: %s: currency: %v", invoice.ErrDocument, d.Number, err)
	}
	credit := d.Type == invoice.TypeCreditNote
	if !credit && d.Type != invoice.TypeInvoice {
		return nil, fmt.Errorf("%w: %s: unknown document type %q", invoice.ErrDocument, d.Number, d.Type)
	}
	amt := func(minor int64) amount { return amount{Currency: d.Currency, Value: d.Amount(minor)} }
	doc := &document{
		Xmlns: nsInvoice, XmlnsCAC: nsCAC, XmlnsCBC: nsCBC,
		CustomizationID: CustomizationID, ProfileID: ProfileID,
		ID: d.Number, IssueDate: date(d.IssueDate),
		Note:                 note(d),
		DocumentCurrencyCode: d.Currency,
		BuyerReference:       d.BuyerReference,
		InvoicePeriod:        newPeriod(d.PeriodStart, d.PeriodEnd),
		Supplier:             partyRole{newParty(d.Seller)},
		Customer:             partyRole{newParty(d.Buyer)},
		TaxTotal:             taxTotal{TaxAmount: amt(d.Totals.Tax)},
		LegalMonetaryTotal: monetaryTotal{
			LineExtension: amt(d.Totals.LineNet),
			TaxExclusive:  amt(d.Totals.TaxExclusive),
			TaxInclusive:  amt(d.Totals.TaxInclusive),
			Payable:       amt(d.Totals.Payable),
		},
	}
	if credit {
		doc.XMLName.Local, doc.Xmlns = "CreditNote", nsCreditNote
		doc.CreditNoteTypeCode = d.TypeCode()
		for _, r := range d.References {
			doc.BillingReference = append(doc.BillingReference, billingReference{docRef{ID: r.Number, IssueDate: date(r.IssueDate)}})
		}
	} else {
		doc.XMLName.Local = "Invoice"
		doc.DueDate = date(d.DueDate)
		doc.InvoiceTypeCode = d.TypeCode()
	}
	pm, err := newPaymentMeans(d)
	if err != nil {
		return nil, err
	}
	doc.PaymentMeans = pm
	if pm != nil && pm.Code == meansDirectDebit && d.Payment.CreditorID != "" {
		// BT-90, the bank assigned creditor identifier, is in UBL the
		// seller's party identification with scheme SEPA.
		doc.Supplier.Party.Identification = &partyID{identifier{Scheme: "SEPA", Value: d.Payment.CreditorID}}
	}
	if d.Payment.Terms != "" {
		doc.PaymentTerms = &paymentTerms{Note: d.Payment.Terms}
	}
	for _, v := range d.VAT {
		doc.TaxTotal.Subtotals = append(doc.TaxTotal.Subtotals, taxSubtotal{
			TaxableAmount: amt(v.Taxable),
			TaxAmount:     amt(v.Tax),
			Category: taxCategory{ID: v.Category, Percent: v.Rate,
				ExemptionReasonCode: v.ExemptionCode, ExemptionReason: v.ExemptionReason,
				TaxScheme: taxScheme{"VAT"}},
		})
	}
	if d.Totals.Prepaid != 0 {
		p := amt(d.Totals.Prepaid)
		doc.LegalMonetaryTotal.Prepaid = &p
	}
	for _, l := range d.Lines {
		ln, err := newLine(d, l, amt)
		if err != nil {
			return nil, err
		}
		if credit {
			ln.CreditedQuantity, ln.InvoicedQuantity = ln.InvoicedQuantity, nil
			doc.CreditNoteLines = append(doc.CreditNoteLines, ln)
		} else {
			doc.InvoiceLines = append(doc.InvoiceLines, ln)
		}
	}
	return doc, nil
}

// note is the one document note (BT-22; Peppol R002 allows one): a credit
// note's reason, then the document's mentions, a line each.
func note(d *invoice.Document) string {
	var parts []string
	if d.Reason != "" {
		parts = append(parts, d.Reason)
	}
	for _, n := range d.Notes {
		if n != "" {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "\n")
}

func newParty(p invoice.Party) party {
	out := party{
		PostalAddress: address{
			Street: p.Address.Street, Additional: p.Address.Additional,
			City: p.Address.City, PostalCode: p.Address.PostalCode,
			Subdivision: p.Address.Subdivision, Country: country{p.Address.Country},
		},
		LegalEntity: legalEntity{RegistrationName: p.Name},
	}
	if p.EndpointID != "" {
		out.EndpointID = &identifier{Scheme: p.EndpointScheme, Value: p.EndpointID}
	}
	if p.TradingName != "" {
		out.Name = &partyName{p.TradingName}
	}
	if p.VATID != "" {
		out.TaxScheme = &partyTaxScheme{CompanyID: p.VATID, TaxScheme: taxScheme{"VAT"}}
	}
	if p.CompanyID != "" {
		out.LegalEntity.CompanyID = &identifier{Scheme: p.CompanyIDScheme, Value: p.CompanyID}
	}
	if p.Email != "" {
		out.Contact = &contact{p.Email}
	}
	return out
}

// newPaymentMeans writes the payment instructions (BG-16), or nothing when
// the document names no means.
func newPaymentMeans(d *invoice.Document) (*paymentMeans, error) {
	p := d.Payment
	pm := &paymentMeans{PaymentID: p.Reference}
	switch p.Means {
	case "":
		return nil, nil
	case invoice.PayDirectDebit:
		pm.Code = meansDirectDebit
		if p.MandateID != "" || p.DebtorIBAN != "" {
			pm.Mandate = &mandate{ID: p.MandateID}
			if p.DebtorIBAN != "" {
				pm.Mandate.Payer = &account{ID: p.DebtorIBAN}
			}
		}
	case invoice.PayCreditTransfer:
		pm.Code = meansCreditTransfer
		if d.Currency != "EUR" {
			pm.Code = meansTransfer // SEPA credit transfers are in euros
		}
		if p.IBAN != "" {
			pm.Payee = &account{ID: p.IBAN, Name: p.AccountName}
			if p.BIC != "" {
				pm.Payee.Branch = &branch{p.BIC}
			}
		}
	default:
		return nil, fmt.Errorf("%w: %s: unknown payment means %q", invoice.ErrDocument, d.Number, p.Means)
	}
	if d.Type == invoice.TypeCreditNote {
		// A UBL CreditNote has no DueDate: EN 16931 puts BT-9 here.
		pm.DueDate = date(d.DueDate)
	}
	return pm, nil
}

// plainPrice is a unit price as UBL takes it: not negative (BR-27), no
// exponent, at most 6 decimals.
var plainPrice = regexp.MustCompile(`^[0-9]+(\.[0-9]{1,6})?$`)

func newLine(d *invoice.Document, l invoice.Line, amt func(int64) amount) (line, error) {
	var unit string
	switch l.BillingModel {
	case "monthly":
		unit = unitMonth
	case "one_time", "usage":
		unit = unitOne
	default:
		return line{}, fmt.Errorf("%w: %s line %d: unknown billing model %q", invoice.ErrDocument, d.Number, l.No, l.BillingModel)
	}
	if !plainPrice.MatchString(l.UnitPrice) {
		return line{}, fmt.Errorf("%w: %s line %d: unit price %q is not a decimal of at most 6 places", invoice.ErrDocument, d.Number, l.No, l.UnitPrice)
	}
	out := line{
		ID:               strconv.Itoa(l.No),
		InvoicedQuantity: &quantity{Unit: unit, Value: strconv.FormatInt(l.Quantity, 10)},
		LineExtension:    amt(l.Net),
		Period:           newPeriod(l.PeriodStart, l.PeriodEnd),
		Item: item{
			Name:        l.Name,
			TaxCategory: taxCategory{ID: l.VATCategory, Percent: l.VATRate, TaxScheme: taxScheme{"VAT"}},
		},
		Price: price{amount{Currency: d.Currency, Value: l.UnitPrice}},
	}
	if l.SKU != "" {
		out.Item.SellersID = &itemID{l.SKU}
	}
	if l.Credits != "" {
		// BT-127: the invoice and month a credit line credits, in the
		// document's language.
		w, ok := creditNotes[d.Language]
		if !ok {
			w = creditNotes["en"]
		}
		out.Note = fmt.Sprintf(w[0], l.Credits)
		if l.ServiceMonth != "" {
			out.Note = fmt.Sprintf(w[1], l.Credits, l.ServiceMonth)
		}
	}
	return out, nil
}

// creditNotes are a credit line's note (BT-127) by language: the invoice
// credited, and its service month (YYYY-MM).
var creditNotes = map[string][2]string{
	"en": {"Credits invoice %s", "Credits invoice %s, service month %s"},
	"fr": {"Crédite la facture %s", "Crédite la facture %s, mois de service %s"},
	"de": {"Korrigiert Rechnung %s", "Korrigiert Rechnung %s, Leistungsmonat %s"},
	"nl": {"Crediteert factuur %s", "Crediteert factuur %s, dienstmaand %s"},
}

func newPeriod(start, end civil.Date) *period {
	if start == 0 && end == 0 {
		return nil
	}
	return &period{StartDate: date(start), EndDate: date(end)}
}

// date writes a date; the zero Date is no date (the model's unset dates).
func date(d civil.Date) string {
	if d == 0 {
		return ""
	}
	return d.String()
}
