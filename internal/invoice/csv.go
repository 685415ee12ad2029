package invoice

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/render"
)

// The document CSVs (schemas/invoice.yaml): <number>.csv, the lines of a
// document, and <number>_detail.csv, every item it bills. They go to the
// reseller, so they say what it owes and nothing of how the hub and the
// publisher share it (finance's exports do). Both are opened
// in spreadsheets, so text cells carry render's guard; amounts are plain
// decimals with the currency's digits, positive on credit notes as on the
// document.

// LinesHeader is the header of <number>.csv.
var LinesHeader = []string{"document_type", "number", "issue_date", "billing_month", "line", "sku", "name",
	"publisher", "billing_model", "service_month", "period_start", "period_end", "quantity", "unit_price",
	"net", "vat_category", "vat_rate", "credits_invoice", "currency",
	"buyer_id", "document_net", "document_vat", "document_total", "document_payable", "reason", "credits_line"}

// DetailHeader is the header of <number>_detail.csv.
var DetailHeader = []string{"document_type", "number", "line", "declaration_id", "customer_id", "sku",
	"service_month", "quantity", "unit_price", "amount", "kind", "file_id", "file_name",
	"file_line", "currency"}

// WriteLinesCSV writes <number>.csv: the header, then one row per line of d;
// each row also carries the document's buyer, totals and reason, so that a
// spreadsheet of the lines alone reconciles with the PDF (VAT is the
// document's, per category, not a line's).
func WriteLinesCSV(w io.Writer, d *Document) error {
	cur, err := money.ParseCurrency(d.Currency)
	if err != nil {
		return fmt.Errorf("writing the lines of %s: %w: %v", d.Number, ErrDocument, err)
	}
	c, num := d.csvOut(w)
	if err := c.WriteTrusted(LinesHeader...); err != nil {
		return fmt.Errorf("writing the lines of %s: %w", d.Number, err)
	}
	g := render.Cell // text cells are guarded; the numbers and dates formatted here are not
	for _, l := range d.Lines {
		err := c.WriteTrusted(
			g(string(d.Type)), g(d.Number), d.IssueDate.String(), g(d.BillingMonth),
			strconv.Itoa(l.No), g(l.SKU), g(l.Name), g(l.Publisher), g(l.BillingModel), g(l.ServiceMonth),
			l.PeriodStart.String(), l.PeriodEnd.String(), strconv.FormatInt(l.Quantity, 10), num(l.UnitPrice),
			num(money.Format(l.Net, cur)), g(l.VATCategory), num(l.VATRate), g(l.Credits), g(d.Currency),
			g(d.Buyer.ID), num(money.Format(d.Totals.TaxExclusive, cur)), num(money.Format(d.Totals.Tax, cur)),
			num(money.Format(d.Totals.TaxInclusive, cur)), num(money.Format(d.Totals.Payable, cur)), g(d.Reason),
			optional(int64(l.CreditsLine)))
		if err != nil {
			return fmt.Errorf("writing line %d of %s: %w", l.No, d.Number, err)
		}
	}
	if err := c.Close(); err != nil {
		return fmt.Errorf("writing the lines of %s: %w", d.Number, err)
	}
	return nil
}

// csvOut is a CSV writer in the document's dialect, and how it writes a
// decimal ("1643.88", or "1643,88" for a reader of decimal commas).
func (d *Document) csvOut(w io.Writer) (*render.CSV, func(string) string) {
	f := d.CSV
	if f == nil {
		return render.NewCSV(w), func(s string) string { return s }
	}
	comma, _ := utf8.DecodeRuneInString(f.Delimiter)
	if comma == utf8.RuneError {
		comma = ','
	}
	enc := strings.ToLower(f.Encoding)
	num := func(s string) string { return s }
	if f.Decimal == "," {
		num = func(s string) string { return strings.Replace(s, ".", ",", 1) }
	}
	return render.NewCSVIn(w, render.Dialect{Comma: comma, Encoding: enc, BOM: enc == "" || enc == "utf-8"}), num
}

// DetailItem is one billed item of a document, with where it came from:
// the declaration, and the file and line the reseller sent it in (the
// lineage from a reseller's row to an invoice line).
type DetailItem struct {
	DocumentType  string // invoice or credit_note
	Number        string // the document's
	Line          int    // the document line that bills it
	DeclarationID string
	CustomerID    string
	SKU           string
	ServiceMonth  string // YYYY-MM
	Quantity      int64
	UnitPrice     string // decimal
	Amount        int64  // minor units of Currency, positive (on a credit note too)
	Kind          string // fee, sale, usage or credit
	FileID        int64  // 0: not from a file
	FileName      string
	FileLine      int // 1-based physical line in the file; 0: unknown
	Currency      string
}

var detailKinds = map[string]bool{"fee": true, "sale": true, "usage": true, "credit": true}

// DetailCSV writes <number>_detail.csv a row at a time, so a document of
// many items is never held whole.
type DetailCSV struct {
	c      *render.CSV
	num    func(string) string
	header bool
}

// NewDetailCSV returns a writer of doc's detail CSV on w, in its dialect.
// Close writes what is buffered (and the header, even when no item was
// written).
func NewDetailCSV(w io.Writer, doc *Document) *DetailCSV {
	c, num := doc.csvOut(w)
	return &DetailCSV{c: c, num: num}
}

func (d *DetailCSV) writeHeader() error {
	if d.header {
		return nil
	}
	d.header = true
	return d.c.WriteTrusted(DetailHeader...)
}

// Write writes one item.
func (d *DetailCSV) Write(it DetailItem) error {
	cur, err := money.ParseCurrency(it.Currency)
	if err != nil {
		return fmt.Errorf("detail of %s line %d: %w: %v", it.Number, it.Line, ErrDocument, err)
	}
	if t := Type(it.DocumentType); t != TypeInvoice && t != TypeCreditNote {
		return fmt.Errorf("detail of %s line %d: %w: document type %q", it.Number, it.Line, ErrDocument, it.DocumentType)
	}
	if !detailKinds[it.Kind] {
		return fmt.Errorf("detail of %s line %d: %w: kind %q is not fee, sale, usage or credit", it.Number, it.Line, ErrDocument, it.Kind)
	}
	if it.Amount < 0 {
		return fmt.Errorf("detail of %s line %d, declaration %s: %w: a document's amounts are positive, a credit note's too",
			it.Number, it.Line, it.DeclarationID, ErrDocument)
	}
	if err := d.writeHeader(); err != nil {
		return fmt.Errorf("detail of %s: %w", it.Number, err)
	}
	g := render.Cell
	err = d.c.WriteTrusted(
		g(it.DocumentType), g(it.Number), strconv.Itoa(it.Line), g(it.DeclarationID), g(it.CustomerID), g(it.SKU),
		g(it.ServiceMonth), strconv.FormatInt(it.Quantity, 10), d.num(it.UnitPrice), d.num(money.Format(it.Amount, cur)),
		g(it.Kind), optional(it.FileID), g(it.FileName),
		optional(int64(it.FileLine)), g(it.Currency))
	if err != nil {
		return fmt.Errorf("detail of %s line %d, declaration %s: %w", it.Number, it.Line, it.DeclarationID, err)
	}
	return nil
}

// Close writes the header if no item was written and flushes.
func (d *DetailCSV) Close() error {
	if err := d.writeHeader(); err != nil {
		return fmt.Errorf("writing a detail CSV: %w", err)
	}
	if err := d.c.Close(); err != nil {
		return fmt.Errorf("writing a detail CSV: %w", err)
	}
	return nil
}

// optional writes a positive id or number, and nothing for 0 (none).
func optional(n int64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatInt(n, 10)
}
