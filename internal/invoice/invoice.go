// Package invoice is the model of a billing document as issued: an invoice
// or a credit note, with its parties, lines, VAT breakdown, totals and
// payment instructions. It is the one input of every writer (UBL XML, PDF,
// the lines CSV) and is stored with the document when it is issued, so a
// document written again later is the same document. Amounts are integer
// minor units of Currency; unit prices are decimal strings. The arithmetic
// of a document (VAT per category, totals, amount due) is Finish's, done
// once here, so every writer shows the same numbers.
package invoice

import (
	"errors"
	"fmt"
	"sort"

	"github.com/govalues/decimal"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/money"
)

// Type is the kind of document.
type Type string

const (
	TypeInvoice    Type = "invoice"     // UBL Invoice, type code 380
	TypeCreditNote Type = "credit_note" // UBL CreditNote, type code 381
)

// VAT categories (UNCL5305), as EN 16931 uses them.
const (
	VATStandard      = "S"
	VATReverseCharge = "AE"
	VATExempt        = "E"
)

// Payment means.
const (
	PayDirectDebit    = "direct_debit"    // SEPA Core direct debit, UNCL4461 code 59
	PayCreditTransfer = "credit_transfer" // SEPA credit transfer, UNCL4461 code 58
)

// Address is a structured postal address (never a free address line).
type Address struct {
	Street      string `json:"street"`               // BT-35 / BT-50
	Additional  string `json:"additional,omitempty"` // BT-36 / BT-51
	City        string `json:"city"`                 // BT-37 / BT-52
	PostalCode  string `json:"postal_code"`          // BT-38 / BT-53
	Subdivision string `json:"subdivision,omitempty"`
	Country     string `json:"country"` // ISO 3166-1 alpha-2, BT-40 / BT-55
}

// Party is the seller (the hub) or the buyer (a reseller).
type Party struct {
	ID              string  `json:"id,omitempty"` // the partner id (buyer)
	Name            string  `json:"name"`         // legal name, BT-27 / BT-44
	TradingName     string  `json:"trading_name,omitempty"`
	Address         Address `json:"address"`
	VATID           string  `json:"vat_id,omitempty"`            // BT-31 / BT-48, with its country prefix
	CompanyID       string  `json:"company_id,omitempty"`        // legal registration, BT-30 / BT-47
	CompanyIDScheme string  `json:"company_id_scheme,omitempty"` // ISO 6523 ICD of CompanyID ("0002" SIRENE), optional
	EndpointScheme  string  `json:"endpoint_scheme"`             // EAS code (Peppol CL008), e.g. "0208", "9930", "0009"
	EndpointID      string  `json:"endpoint_id"`                 // BT-34 / BT-49
	Email           string  `json:"email,omitempty"`
}

// Line is one line of a document. A credit note's lines carry positive
// amounts, as UBL does.
type Line struct {
	No           int        `json:"no"` // 1-based, BT-126
	SKU          string     `json:"sku"`
	Name         string     `json:"name"`
	Publisher    string     `json:"publisher"`
	BillingModel string     `json:"billing_model"` // one_time, monthly, usage
	ServiceMonth string     `json:"service_month"` // YYYY-MM
	Quantity     int64      `json:"quantity"`      // BT-129 (subscription-months for monthly)
	UnitPrice    string     `json:"unit_price"`    // BT-146, decimal, up to 6 places
	Net          int64      `json:"net"`           // BT-131 = round_half_even(Quantity × UnitPrice)
	PeriodStart  civil.Date `json:"period_start"`  // BT-134
	PeriodEnd    civil.Date `json:"period_end"`    // BT-135
	VATCategory  string     `json:"vat_category"`  // BT-151
	VATRate      string     `json:"vat_rate"`      // BT-152, percent, "0" for AE and E
	// PublisherAmount is the publisher share of the line (the sum of its
	// items' shares); the hub margin is Net - PublisherAmount.
	PublisherAmount int64 `json:"publisher_amount"`
	// Credits: on a credit note, the invoice this line credits, and its
	// line (0: not recorded, on notes issued before it was).
	Credits     string `json:"credits,omitempty"`
	CreditsLine int    `json:"credits_line,omitempty"`
	Items       int    `json:"items"` // how many billed items the line groups
}

// Margin is the hub's part of the line.
func (l Line) Margin() int64 { return l.Net - l.PublisherAmount }

// Reference is an invoice a credit note credits (BG-3).
type Reference struct {
	Number    string     `json:"number"`     // BT-25
	IssueDate civil.Date `json:"issue_date"` // BT-26
	Amount    int64      `json:"amount"`     // how much of it this document credits, VAT included
}

// VATSubtotal is the VAT of one category and rate (BG-23).
type VATSubtotal struct {
	Category string `json:"category"` // BT-118
	Rate     string `json:"rate"`     // BT-119, percent
	Taxable  int64  `json:"taxable"`  // BT-116
	Tax      int64  `json:"tax"`      // BT-117
	// Exemption reason and code (BT-120, BT-121) for AE and E.
	ExemptionReason string `json:"exemption_reason,omitempty"`
	ExemptionCode   string `json:"exemption_code,omitempty"` // VATEX code, e.g. "VATEX-EU-AE"
}

// Totals are the document totals (BG-22).
type Totals struct {
	LineNet      int64 `json:"line_net"`      // BT-106, sum of line nets
	TaxExclusive int64 `json:"tax_exclusive"` // BT-109
	Tax          int64 `json:"tax"`           // BT-110
	TaxInclusive int64 `json:"tax_inclusive"` // BT-112
	Prepaid      int64 `json:"prepaid"`       // BT-113: credit applied at issue
	Payable      int64 `json:"payable"`       // BT-115: the amount due at issue
}

// Payment is how the document is to be paid.
type Payment struct {
	Means string `json:"means"` // PayDirectDebit or PayCreditTransfer
	// Direct debit (the invoice is the SEPA pre-notification).
	MandateID  string     `json:"mandate_id,omitempty"`  // BT-89
	CreditorID string     `json:"creditor_id,omitempty"` // BT-90, the hub's SEPA creditor identifier
	DebtorIBAN string     `json:"debtor_iban,omitempty"` // BT-91, the reseller's account debited
	DebitDate  civil.Date `json:"debit_date,omitempty"`  // when the debit is collected
	// Credit transfer: the hub's account and the reference to quote.
	IBAN        string `json:"iban,omitempty"` // BT-84
	BIC         string `json:"bic,omitempty"`  // BT-86
	AccountName string `json:"account_name,omitempty"`
	Reference   string `json:"reference"` // BT-83: remittance information (ISO 11649 RF reference or the number)
	Terms       string `json:"terms"`     // BT-20, e.g. "Payable within 30 days"
	// SettledBy names the credit notes that cover the whole amount at issue
	// ("nothing to pay").
	SettledBy []string `json:"settled_by,omitempty"`
}

// Document is an invoice or a credit note as issued.
type Document struct {
	Type           Type          `json:"type"`
	Number         string        `json:"number"`          // BT-1
	IssueDate      civil.Date    `json:"issue_date"`      // BT-2
	DueDate        civil.Date    `json:"due_date"`        // BT-9 (invoices)
	Currency       string        `json:"currency"`        // BT-5
	BillingMonth   string        `json:"billing_month"`   // YYYY-MM: the period P the run billed
	PeriodStart    civil.Date    `json:"period_start"`    // BT-73: spans every line period
	PeriodEnd      civil.Date    `json:"period_end"`      // BT-74
	BuyerReference string        `json:"buyer_reference"` // BT-10
	Seller         Party         `json:"seller"`
	Buyer          Party         `json:"buyer"`
	Lines          []Line        `json:"lines"`
	VAT            []VATSubtotal `json:"vat"`
	Totals         Totals        `json:"totals"`
	Payment        Payment       `json:"payment"`
	References     []Reference   `json:"references,omitempty"` // credit note: the invoices credited
	Reason         string        `json:"reason,omitempty"`     // credit note: why
	Notes          []string      `json:"notes,omitempty"`      // BT-22: mentions (VAT, reverse charge)
	// CSV is how the reseller reads CSV (its file_format), taken at issue
	// so that the CSVs written again are the same; nil: comma, UTF-8
	// without a byte order mark, a decimal point.
	CSV *CSVFormat `json:"csv,omitempty"`
	// Language is the language of the document's words for people (its
	// PDF; its payment terms and reasons are written in it at issue): en,
	// fr, de or nl; "" is English.
	Language string `json:"language,omitempty"`
}

// CSVFormat is the dialect of a document's CSVs: the reseller's, as its
// acks are written.
type CSVFormat struct {
	Delimiter string `json:"delimiter"`          // one character: , ; | or a tab
	Encoding  string `json:"encoding,omitempty"` // "" or utf-8 (with a byte order mark, for Excel), utf-16, windows-1252
	Decimal   string `json:"decimal,omitempty"`  // "," for a decimal comma; "": a point
}

// TypeCode is the UNCL1001 document type code.
func (d *Document) TypeCode() string {
	if d.Type == TypeCreditNote {
		return "381"
	}
	return "380"
}

// Cur is the document's currency, parsed.
func (d *Document) Cur() money.Currency { return money.Currency(d.Currency) }

// Amount formats minor units of the document's currency ("1234.50").
func (d *Document) Amount(minor int64) string { return money.Format(minor, d.Cur()) }

// ErrDocument: a document whose data cannot make a valid document.
var ErrDocument = errors.New("invalid document")

// Finish computes the VAT breakdown (one subtotal per category and rate,
// tax = round_half_even(taxable × rate / 100), EN 16931 BR-CO-17) and the
// totals from the lines; prepaid is the credit applied at issue (capped at
// the total). exemption gives the reason and VATEX code of a 0 % category.
func (d *Document) Finish(prepaid int64, exemption func(category string) (reason, code string)) error {
	if _, err := money.ParseCurrency(d.Currency); err != nil {
		return fmt.Errorf("%w: %v", ErrDocument, err)
	}
	exp := d.Cur().Exponent()
	type key struct{ cat, rate string }
	sums := map[key]int64{}
	var order []key
	var net int64
	for i, l := range d.Lines {
		if l.No != i+1 {
			return fmt.Errorf("%w: line %d is numbered %d", ErrDocument, i+1, l.No)
		}
		p, err := decimal.Parse(l.UnitPrice)
		if err != nil {
			return fmt.Errorf("%w: line %d: unit price %q: %v", ErrDocument, l.No, l.UnitPrice, err)
		}
		want, err := money.LineAmount(l.Quantity, p, exp)
		if err != nil || want != l.Net {
			return fmt.Errorf("%w: line %d: net %d is not %d × %s rounded", ErrDocument, l.No, l.Net, l.Quantity, l.UnitPrice)
		}
		if l.Net < 0 || l.Quantity <= 0 {
			return fmt.Errorf("%w: line %d: a line is never negative (credits are credit notes)", ErrDocument, l.No)
		}
		r, err := canonRate(l.VATRate)
		if err != nil {
			return fmt.Errorf("%w: line %d: VAT rate %q: %v", ErrDocument, l.No, l.VATRate, err)
		}
		d.Lines[i].VATRate = r
		k := key{l.VATCategory, r}
		if _, ok := sums[k]; !ok {
			order = append(order, k)
		}
		sums[k] += l.Net
		net += l.Net
	}
	sort.SliceStable(order, func(i, j int) bool {
		if order[i].cat != order[j].cat {
			return order[i].cat > order[j].cat // S before E before AE: standard first
		}
		return order[i].rate < order[j].rate
	})
	d.VAT = d.VAT[:0]
	var tax int64
	for _, k := range order {
		rate, _ := decimal.Parse(k.rate)
		t, err := money.PercentOf(sums[k], rate)
		if err != nil {
			return fmt.Errorf("%w: VAT of %s %s%%: %v", ErrDocument, k.cat, k.rate, err)
		}
		st := VATSubtotal{Category: k.cat, Rate: k.rate, Taxable: sums[k], Tax: t}
		if k.cat != VATStandard && exemption != nil {
			st.ExemptionReason, st.ExemptionCode = exemption(k.cat)
		}
		d.VAT = append(d.VAT, st)
		tax += t
	}
	if prepaid < 0 {
		prepaid = 0
	}
	gross := net + tax
	if prepaid > gross {
		prepaid = gross
	}
	d.Totals = Totals{LineNet: net, TaxExclusive: net, Tax: tax, TaxInclusive: gross, Prepaid: prepaid, Payable: gross - prepaid}
	return nil
}

// canonRate writes a percentage without trailing zeros ("20", "5.5", "0").
func canonRate(s string) (string, error) {
	d, err := decimal.Parse(s)
	if err != nil {
		return "", err
	}
	if d.Sign() < 0 || d.Cmp(decimal.Hundred) >= 0 {
		return "", errors.New("out of range")
	}
	return d.Trim(0).String(), nil
}
