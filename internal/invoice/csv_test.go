package invoice_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
)

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("reading back: %v\n%s", err, b)
	}
	return recs
}

// TestLinesCSVOfEveryExample: the header, then one row per line whose cells
// are the line's, amounts with the currency's digits; a credit note's rows
// say credit_note, carry positive amounts and name the invoice credited.
func TestLinesCSVOfEveryExample(t *testing.T) {
	t.Parallel()
	for _, d := range invoice.Examples() {
		var b bytes.Buffer
		if err := invoice.WriteLinesCSV(&b, d); err != nil {
			t.Fatalf("%s: %v", d.Number, err)
		}
		recs := readCSV(t, b.Bytes())
		if !slices.Equal(recs[0], invoice.LinesHeader) {
			t.Fatalf("%s: header %v", d.Number, recs[0])
		}
		if len(recs)-1 != len(d.Lines) {
			t.Fatalf("%s: %d rows for %d lines", d.Number, len(recs)-1, len(d.Lines))
		}
		col := func(rec []string, name string) string { return rec[slices.Index(invoice.LinesHeader, name)] }
		f := func(minor int64) string { return money.Format(minor, d.Cur()) }
		for i, l := range d.Lines {
			rec := recs[i+1]
			for name, want := range map[string]string{
				"document_type": string(d.Type), "number": d.Number, "issue_date": d.IssueDate.String(),
				"billing_month": d.BillingMonth, "line": strconv.Itoa(l.No), "sku": l.SKU, "name": l.Name,
				"publisher": l.Publisher, "billing_model": l.BillingModel, "service_month": l.ServiceMonth,
				"period_start": l.PeriodStart.String(), "period_end": l.PeriodEnd.String(),
				"quantity": strconv.FormatInt(l.Quantity, 10), "unit_price": l.UnitPrice, "net": f(l.Net),
				"vat_category": l.VATCategory, "vat_rate": l.VATRate, "credits_invoice": l.Credits, "currency": d.Currency,
				"buyer_id": d.Buyer.ID, "document_net": f(d.Totals.TaxExclusive), "document_vat": f(d.Totals.Tax),
				"document_total": f(d.Totals.TaxInclusive), "document_payable": f(d.Totals.Payable), "reason": d.Reason,
				"credits_line": map[bool]string{true: strconv.Itoa(l.CreditsLine), false: ""}[l.CreditsLine > 0],
			} {
				if got := col(rec, name); got != want {
					t.Errorf("%s line %d: %s = %q, want %q", d.Number, l.No, name, got, want)
				}
			}
			if d.Type == invoice.TypeCreditNote {
				for _, name := range []string{"net"} {
					if strings.HasPrefix(col(rec, name), "-") {
						t.Errorf("%s line %d: %s %s is negative on a credit note", d.Number, l.No, name, col(rec, name))
					}
				}
				if col(rec, "document_type") != "credit_note" || col(rec, "credits_invoice") == "" {
					t.Errorf("%s line %d: %v", d.Number, l.No, rec)
				}
			}
		}
	}
}

// TestLinesCSVRow pins one row as written.
func TestLinesCSVRow(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := invoice.WriteLinesCSV(&b, invoice.Examples()[0]); err != nil {
		t.Fatal(err)
	}
	row := strings.Split(b.String(), "\n")[1]
	want := "invoice,CH-2026-000041,2026-12-01,2026-11,1,TFR-VPN-M,VPN mensuel,secureco,monthly,2026-11,2026-11-01,2026-11-30,412,3.99,1643.88,S,20,,EUR,telco-fr,2354.88,470.98,2825.86,2825.86,,"
	if row != want {
		t.Fatalf("\n got %s\nwant %s", row, want)
	}
}

// TestLinesCSVGuardsText: a name a spreadsheet would run is written with the
// guard's apostrophe; a number, even a negative margin, is not touched.
func TestLinesCSVGuardsText(t *testing.T) {
	t.Parallel()
	d := invoice.Examples()[0]
	d.Lines[0].Name = `=HYPERLINK("http://evil.example","click")`
	d.Lines[0].Publisher = "@publisher"
	d.Reason = "=1+1"
	var b bytes.Buffer
	if err := invoice.WriteLinesCSV(&b, d); err != nil {
		t.Fatal(err)
	}
	recs := readCSV(t, b.Bytes())
	if got := recs[1][6]; got != `'=HYPERLINK("http://evil.example","click")` {
		t.Errorf("name %q", got)
	}
	if got := recs[1][7]; got != "'@publisher" {
		t.Errorf("publisher %q", got)
	}
	if got := recs[1][slices.Index(invoice.LinesHeader, "reason")]; got != "'=1+1" {
		t.Errorf("reason %q", got)
	}
	// What the hub and the publisher get is not the reseller's business.
	for _, col := range []string{"publisher_share", "hub_margin", "publisher_amount"} {
		if slices.Contains(invoice.LinesHeader, col) || slices.Contains(invoice.DetailHeader, col) {
			t.Errorf("a reseller's CSV has %s", col)
		}
	}
}

func TestLinesCSVUnknownCurrency(t *testing.T) {
	t.Parallel()
	d := invoice.Examples()[0]
	d.Currency = "XXX"
	if err := invoice.WriteLinesCSV(&bytes.Buffer{}, d); !errors.Is(err, invoice.ErrDocument) {
		t.Fatalf("%v", err)
	}
}

// TestDetailCSV: items stream out as rows after the header, text guarded,
// a missing file id and line left empty; a detail with no item is its
// header alone.
func TestDetailCSV(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	w := invoice.NewDetailCSV(&b, &invoice.Document{})
	items := []invoice.DetailItem{
		{DocumentType: "invoice", Number: "CH-2026-000041", Line: 1, DeclarationID: "D-100", CustomerID: "C-7", SKU: "TFR-VPN-M",
			ServiceMonth: "2026-11", Quantity: 2, UnitPrice: "3.99", Amount: 798, Kind: "fee",
			FileID: 42, FileName: "declarations_2026-11.csv", FileLine: 17, Currency: "EUR"},
		{DocumentType: "credit_note", Number: "CN-2026-000007", Line: 2, DeclarationID: "D-9", CustomerID: "+33 1 23", SKU: "CBE-VPN-M",
			ServiceMonth: "2026-10", Quantity: 1, UnitPrice: "4.20", Amount: 420, Kind: "credit",
			FileName: "=cmd|' /C calc'!A0", Currency: "EUR"},
	}
	for _, it := range items {
		if err := w.Write(it); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.Join(invoice.DetailHeader, ",") + "\n" +
		"invoice,CH-2026-000041,1,D-100,C-7,TFR-VPN-M,2026-11,2,3.99,7.98,fee,42,declarations_2026-11.csv,17,EUR\n" +
		`credit_note,CN-2026-000007,2,D-9,'+33 1 23,CBE-VPN-M,2026-10,1,4.20,4.20,credit,,'=cmd|' /C calc'!A0,,EUR` + "\n"
	if b.String() != want {
		t.Fatalf("\n got %s\nwant %s", b.String(), want)
	}

	b.Reset()
	if err := invoice.NewDetailCSV(&b, &invoice.Document{}).Close(); err != nil || b.String() != strings.Join(invoice.DetailHeader, ",")+"\n" {
		t.Fatalf("empty detail: %v %q", err, b.String())
	}
}

// TestDetailCSVRefuses: an item that cannot be on a document is an
// ErrDocument, naming it, and nothing of it is written.
func TestDetailCSVRefuses(t *testing.T) {
	t.Parallel()
	good := invoice.DetailItem{DocumentType: "credit_note", Number: "CN-2026-000007", Line: 1, DeclarationID: "D-9",
		Quantity: 1, UnitPrice: "4.20", Amount: 420, Kind: "credit", Currency: "EUR"}
	for name, edit := range map[string]func(*invoice.DetailItem){
		"negative amount":  func(it *invoice.DetailItem) { it.Amount = -420 },
		"unknown kind":     func(it *invoice.DetailItem) { it.Kind = "refund" },
		"unknown type":     func(it *invoice.DetailItem) { it.DocumentType = "creditnote" },
		"unknown currency": func(it *invoice.DetailItem) { it.Currency = "" },
	} {
		it := good
		edit(&it)
		var b bytes.Buffer
		w := invoice.NewDetailCSV(&b, &invoice.Document{})
		err := w.Write(it)
		if !errors.Is(err, invoice.ErrDocument) || !strings.Contains(err.Error(), "CN-2026-000007") {
			t.Errorf("%s: %v", name, err)
		}
		_ = w.Close()
		if strings.Count(b.String(), "\n") != 1 {
			t.Errorf("%s: written %q", name, b.String())
		}
	}
}

// TestCSVInTheResellersDialect: a reseller that declared semicolons,
// windows-1252 and decimal commas gets its document CSVs so; one that
// declared nothing gets commas and UTF-8 with a byte order mark (Excel).
func TestCSVInTheResellersDialect(t *testing.T) {
	t.Parallel()
	d := invoice.Examples()[0]
	d.Lines[0].Name = "Sécurité"
	d.CSV = &invoice.CSVFormat{Delimiter: ";", Encoding: "windows-1252", Decimal: ","}
	var b bytes.Buffer
	if err := invoice.WriteLinesCSV(&b, d); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(b.String(), "\n")
	want := "invoice;CH-2026-000041;2026-12-01;2026-11;1;TFR-VPN-M;S\xe9curit\xe9;secureco;monthly;2026-11;2026-11-01;2026-11-30;412;3,99;1643,88;S;20;;EUR;telco-fr;2354,88;470,98;2825,86;2825,86;;"
	if !strings.HasPrefix(rows[0], "document_type;number;") || rows[1] != want {
		t.Fatalf("\n got %q\nwant %q", rows[1], want)
	}
	var detail bytes.Buffer
	w := invoice.NewDetailCSV(&detail, d)
	if err := w.Write(invoice.DetailItem{DocumentType: "invoice", Number: d.Number, Line: 1, DeclarationID: "S-1", SKU: "TFR-VPN-M",
		ServiceMonth: "2026-11", Quantity: 1, UnitPrice: "3.99", Amount: 399, Kind: "fee", Currency: "EUR"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Split(detail.String(), "\n")[1]; got != "invoice;CH-2026-000041;1;S-1;;TFR-VPN-M;2026-11;1;3,99;3,99;fee;;;;EUR" {
		t.Fatalf("detail row %q", got)
	}
	d.CSV = &invoice.CSVFormat{Delimiter: ","}
	b.Reset()
	if err := invoice.WriteLinesCSV(&b, d); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "\ufeffdocument_type,number,") || !strings.Contains(b.String(), ",Sécurité,") {
		t.Fatalf("no dialect declared: %q", b.String()[:40])
	}
}
