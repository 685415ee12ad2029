package invoicepdf_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/invoicepdf"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/sepa"
)

var pdfDir = flag.String("pdfdir", "", "also write each PDF rendered by the tests into this folder, to look at")

// render writes d as a PDF, and into -pdfdir when it is given.
func render(t testing.TB, d *invoice.Document) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := invoicepdf.Write(&b, d); err != nil {
		t.Fatalf("%s: %v", d.Number, err)
	}
	if *pdfDir != "" {
		if err := os.WriteFile(filepath.Join(*pdfDir, d.Number+".pdf"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// text is what a reader sees of pdf, as `pdftotext -layout` extracts it,
// with the no-break spaces inside amounts and dates read as spaces.
func text(t *testing.T, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext is needed to read the PDFs back: install the Debian package poppler-utils (%v)", err)
	}
	cmd := exec.Command(bin, "-layout", "-enc", "UTF-8", "-", "-")
	cmd.Stdin = bytes.NewReader(pdf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, stderr.String())
	}
	return strings.ReplaceAll(string(out), "\u00a0", " ")
}

// flatten is text with its spaces and line breaks run together, to find
// what a line of the page says.
func flatten(text string) string { return regexp.MustCompile(`\s+`).ReplaceAllString(text, " ") }

// says checks that flat (flattened text) says each of want.
func says(t *testing.T, flat string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(flat, s) {
			t.Errorf("the PDF does not say %q", s)
		}
	}
}

// Independent spellings of what the document must show, so the test does
// not read the writer's own formatting back.
func day(d civil.Date) string { return d.Time().Format("2 January 2006") }

func amt(d *invoice.Document, minor int64) string {
	whole, frac, ok := strings.Cut(money.Format(minor, d.Cur()), ".")
	if ok {
		return thousands(whole) + "." + frac
	}
	return thousands(whole)
}

// thousands groups the digits of a whole number by three.
func thousands(s string) string {
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + " " + s[i:]
	}
	return s
}

// longDates writes the ISO dates of a text as the page does.
func longDates(s string) string {
	return regexp.MustCompile(`\d{4}-\d{2}-\d{2}`).ReplaceAllStringFunc(s, func(iso string) string {
		return day(must(civil.ParseISO(iso)))
	})
}

func cur(d *invoice.Document, minor int64) string { return amt(d, minor) + " " + d.Currency }

func grouped4(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// lineRow matches the table row of a line: its number, SKU, quantity, unit
// price, net and VAT rate on one line of text, in that order.
func lineRow(d *invoice.Document, l invoice.Line) *regexp.Regexp {
	price := l.UnitPrice
	if !strings.Contains(price, ".") {
		price += "." + strings.Repeat("0", d.Cur().Exponent())
	}
	q := func(s string) string { return regexp.QuoteMeta(s) }
	return regexp.MustCompile(`(?m)^\s*` + strconv.Itoa(l.No) + `\s+` + q(l.SKU) + `\s.*\s` +
		q(thousands(strconv.FormatInt(l.Quantity, 10))) + `\s+` + q(price) + `\s+` + q(amt(d, l.Net)) + `\s+` + q(l.VATRate) + ` %`)
}

// TestEveryExampleReads: each example, read back as text, shows what the
// document says: who, when, every line, the VAT, the totals and how it is
// paid.
func TestEveryExampleReads(t *testing.T) {
	t.Parallel()
	for _, d := range invoice.Examples() {
		t.Run(d.Number, func(t *testing.T) {
			t.Parallel()
			got := text(t, render(t, d))
			flat := flatten(got)
			billing := must(time.Parse("2006-01", d.BillingMonth)).Format("January 2006")
			want := []string{
				d.Number, day(d.IssueDate), d.BuyerReference, d.Seller.Name, d.Seller.VATID, d.Seller.CompanyID, d.Buyer.Name, d.Buyer.Address.Street,
				d.Buyer.Address.PostalCode + " " + d.Buyer.Address.City, d.Buyer.VATID,
				"Total net " + cur(d, d.Totals.TaxExclusive), "Page 1 of 1",
			}
			if d.Type == invoice.TypeInvoice {
				want = append(want, "Invoice", "Due date "+day(d.DueDate), "Amount due "+cur(d, d.Totals.Payable),
					"Total "+cur(d, d.Totals.TaxInclusive), "Billing period "+billing)
			} else {
				want = append(want, "Credit note", "Total credited "+cur(d, d.Totals.TaxInclusive), "Reason: "+longDates(d.Reason),
					"Billing month "+billing, "Credited period")
				for _, r := range d.References {
					want = append(want, r.Number+" "+day(r.IssueDate)+" "+amt(d, r.Amount))
				}
			}
			if d.Totals.Prepaid > 0 {
				want = append(want, "Credit applied -"+cur(d, d.Totals.Prepaid))
			}
			for _, v := range d.VAT {
				if !strings.Contains(flat, v.Rate+" % "+amt(d, v.Taxable)+" "+amt(d, v.Tax)) {
					t.Errorf("the PDF does not give the VAT of %s %s %%: %s on %s", v.Category, v.Rate, amt(d, v.Tax), amt(d, v.Taxable))
				}
				if v.ExemptionReason != "" {
					want = append(want, v.ExemptionReason)
				}
				if v.Category == invoice.VATReverseCharge {
					want = append(want, "Seller's VAT ID "+d.Seller.VATID+", customer's VAT ID "+d.Buyer.VATID)
				}
			}
			want = append(want, d.Notes...)
			p := d.Payment
			switch {
			case d.Type == invoice.TypeCreditNote:
			case len(p.SettledBy) > 0:
				want = append(want, "Settled by credit note "+p.SettledBy[0]+": nothing to pay")
			case p.Means == invoice.PayDirectDebit:
				want = append(want, fmt.Sprintf("The amount due, %s at issue, will be debited on %s from account %s under mandate %s, creditor identifier %s.",
					cur(d, d.Totals.Payable), day(p.DebitDate), grouped4(p.DebtorIBAN[:4]+strings.Repeat("*", len(p.DebtorIBAN)-8)+p.DebtorIBAN[len(p.DebtorIBAN)-4:]),
					p.MandateID, p.CreditorID))
			default:
				want = append(want, "IBAN "+grouped4(p.IBAN), "BIC "+p.BIC, "Account holder "+p.AccountName, "Reference "+grouped4(p.Reference),
					"Please transfer "+cur(d, d.Totals.Payable)+" by "+day(d.DueDate))
			}
			says(t, flat, want...)
			for _, l := range d.Lines {
				if !lineRow(d, l).MatchString(got) {
					t.Errorf("line %d (%s, %d × %s = %s) is not a row of the table", l.No, l.SKU, l.Quantity, l.UnitPrice, amt(d, l.Net))
				}
				if l.Credits != "" && !strings.Contains(flat, "credits invoice "+l.Credits) {
					t.Errorf("line %d does not name the invoice it credits, %s", l.No, l.Credits)
				}
			}
			if t.Failed() {
				t.Log(got)
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// long is the wallet example with n lines, each with a net of its own.
func long(n int) *invoice.Document {
	d := invoice.Examples()[0]
	first := d.Lines[0]
	d.Number = fmt.Sprintf("CH-2026-%06d", 900000+n)
	d.Lines = d.Lines[:0]
	for i := 1; i <= n; i++ {
		l := first
		l.No, l.Quantity, l.UnitPrice = i, int64(i), "3.99"
		l.Net = int64(i) * 399
		l.SKU = fmt.Sprintf("TFR-SKU-%03d", i)
		l.Name = fmt.Sprintf("Service n°%d", i)
		if i%7 == 0 {
			l.Name += ", a name long enough to wrap in its column"
		}
		d.Lines = append(d.Lines, l)
	}
	if err := d.Finish(0, invoice.Exemption); err != nil {
		panic(err)
	}
	return d
}

// TestLongInvoicePaginates: 300 lines run over pages whose table header is
// repeated, each numbered "Page i of n", and each line's row is there once.
func TestLongInvoicePaginates(t *testing.T) {
	t.Parallel()
	d := long(300)
	got := text(t, render(t, d))
	pages := strings.Split(strings.TrimRight(got, "\f"), "\f")
	if len(pages) < 5 {
		t.Fatalf("300 lines on %d pages", len(pages))
	}
	for i, p := range pages {
		if !strings.Contains(p, fmt.Sprintf("Page %d of %d", i+1, len(pages))) {
			t.Errorf("page %d does not say it is page %d of %d", i+1, i+1, len(pages))
		}
		if i < len(pages)-1 && !regexp.MustCompile(`No\.\s+SKU\s+Description\s+Service period\s+Quantity`).MatchString(p) {
			t.Errorf("page %d has no table header", i+1)
		}
	}
	for _, l := range d.Lines {
		if n := len(lineRow(d, l).FindAllString(got, -1)); n != 1 {
			t.Errorf("line %d: %d rows", l.No, n)
		}
	}
	if !strings.Contains(pages[len(pages)-1], "Amount due") {
		t.Error("the totals are not on the last page")
	}
}

// TestSameDocumentSameBytes: rendering is deterministic (the PDF's dates
// are the issue date), so a document written again is the same file.
func TestSameDocumentSameBytes(t *testing.T) {
	t.Parallel()
	for _, d := range append(invoice.Examples(), long(40)) {
		a, b := render(t, d), render(t, d)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: two renderings differ (%d and %d bytes)", d.Number, len(a), len(b))
		}
		if !bytes.Contains(a, []byte("D:"+d.IssueDate.Time().Format("20060102"))) {
			t.Errorf("%s: the PDF is not dated by its issue date", d.Number)
		}
	}
}

// TestUnwritableDocument: a document the writer cannot render is refused
// with invoice.ErrDocument, not written half.
func TestUnwritableDocument(t *testing.T) {
	t.Parallel()
	d := invoice.Examples()[0]
	d.Currency = "XXX"
	var b bytes.Buffer
	if err := invoicepdf.Write(&b, d); err == nil || b.Len() > 0 {
		t.Fatalf("currency XXX: %v, %d bytes", err, b.Len())
	}
}

// TestEmojiPanicked: a character the embedded font cannot draw (an emoji,
// outside the BMP, made fpdf panic with "index out of range [65536]"; a
// character of no DejaVu glyph) and control and bidi characters in any
// text of the document render: a replacement, a space or nothing, and the
// rest of the text as it is.
func TestEmojiPanicked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(d *invoice.Document)
		want []string // in the text read back, spaces run together
	}{
		{"emoji in the buyer's name", func(d *invoice.Document) { d.Buyer.Name = "Smile 😀 Telecom SA" },
			[]string{"Smile \uFFFD Telecom SA"}},
		{"emoji in an item's name", func(d *invoice.Document) { d.Lines[0].Name = "VPN 🙏 mensuel" },
			[]string{"VPN \uFFFD mensuel"}},
		{"emoji in the reason", func(d *invoice.Document) { d.Reason = "Customer left 😢 on 1 August" },
			[]string{"Reason: Customer left \uFFFD on 1 August"}},
		{"emoji in the seller and the notes", func(d *invoice.Document) {
			d.Seller.Name += " 🚀"
			d.Notes = append(d.Notes, "Merci 🙏🏽!")
		}, []string{"Clearhouse Services SAS \uFFFD", "Merci \uFFFD!"}},
		{"no DejaVu glyph", func(d *invoice.Document) { d.Buyer.Address.City = "Bruxelles 漢字" },
			[]string{"1000 Bruxelles \uFFFD"}},
		{"bidi override", func(d *invoice.Document) { d.Buyer.Name = "Câble \u202Eevil\u202C SA" },
			[]string{"Câble evil SA"}},
		{"isolates and marks", func(d *invoice.Document) { d.Lines[1].Name = "\u2067VPN\u2069 \u200fmensuel\u200e" },
			[]string{"VPN mensuel"}},
		{"escape sequence", func(d *invoice.Document) { d.Buyer.Address.Street = "\x1b[31mRue Neuve 1\x1b[0m" },
			[]string{"[31mRue Neuve 1 [0m"}},
		{"bell, tab and newline in names", func(d *invoice.Document) {
			d.Buyer.Name = "Câble\x07 Exemple\tBelgique\nSA"
			d.Lines[0].Name = "VPN\nmensuel\r\nplus"
		}, []string{"Câble Exemple Belgique SA", "VPN mensuel plus"}},
		{"invalid UTF-8", func(d *invoice.Document) { d.Buyer.Name = "Câble \xff SA" },
			[]string{"Câble \uFFFD SA"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := invoice.Examples()[2] // the credit note: it has a reason
			tc.edit(d)
			var b bytes.Buffer
			if err := invoicepdf.Write(&b, d); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got := text(t, b.Bytes())
			flat := regexp.MustCompile(`[ \t]+`).ReplaceAllString(got, " ")
			says(t, flat, append(tc.want, d.Number, "Total credited "+cur(d, d.Totals.TaxInclusive), "Page 1 of 1")...)
			if i := strings.IndexFunc(got, func(r rune) bool {
				return r != '\n' && r != '\f' && (r < 0x20 || r >= 0x7f && r < 0xa0) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 || r == 0x200e || r == 0x200f
			}); i >= 0 {
				t.Errorf("the text holds a raw control character %q: %q", got[i:i+1], got[max(0, i-20):min(len(got), i+20)])
			}
			if t.Failed() {
				t.Log(got)
			}
		})
	}
}

// words is n numbered words of a prefix ("s001 s002 …"), to find back.
func words(prefix string, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = fmt.Sprintf("%s%03d", prefix, i+1)
	}
	return strings.Join(w, " ")
}

// TestOverlongFieldsTookThePage: a 200-character name, a 500-character
// street or item name filled the page with their lines and sent the rest
// of a one-page invoice to a second page. A field of one line now takes
// two lines at the most (a table cell four), cut with an ellipsis.
func TestOverlongFieldsTookThePage(t *testing.T) {
	t.Parallel()
	d := invoice.Examples()[0]
	d.Number = "CH-2026-LONGFIELDS"
	d.Seller.Name = words("h", 40)                        // 200 characters
	d.Buyer.Name = words("n", 50)                         // 200 characters
	d.Buyer.Address.Street = words("s", 125)              // 500 characters
	d.Buyer.Address.Additional = strings.Repeat("x", 300) // one word
	d.BuyerReference = words("r", 20)
	d.Lines[0].Name = words("i", 125)
	got := text(t, render(t, d))
	if !strings.Contains(got, "Page 1 of 1") {
		t.Errorf("the invoice is not one page")
	}
	for _, f := range []struct {
		prefix, first string
		most          int
	}{{"h", "h001", 2}, {"n", "n001", 2}, {"s", "s001", 2}, {"r", "r001", 2}, {"i", "i001", 4}} {
		re := regexp.MustCompile(`\b` + f.prefix + `\d{3}\b`)
		var lines []string
		for _, l := range strings.Split(got, "\n") {
			if re.MatchString(l) && !strings.Contains(l, "Page 1 of") { // the footer names the seller
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 || len(lines) > f.most || !strings.Contains(lines[0], f.first) || !strings.Contains(lines[len(lines)-1], "…") {
			t.Errorf("%s…: %d lines, want %d at the most, starting with %s and ending with an ellipsis:\n%s", f.prefix, len(lines), f.most, f.first, strings.Join(lines, "\n"))
		}
	}
	if n := len(regexp.MustCompile(`(?m)^.*xxxxxxxxxx.*$`).FindAllString(got, -1)); n == 0 || n > 2 {
		t.Errorf("a 300-character word is on %d lines", n)
	}
	flat := flatten(got)
	says(t, flat, "69003 Lyon", "VAT ID "+d.Buyer.VATID, "Amount due "+cur(d, d.Totals.Payable), "Notes TVA 20 %")
	if t.Failed() {
		t.Log(got)
	}
}

// TestNotesAloneOnAPage: an invoice whose payment section just filled its
// page had its notes ("TVA 20 %") turned over to a page of their own. The
// payment and the notes now go together to the next page.
func TestNotesAloneOnAPage(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 24; n++ {
		d := long(n)
		pages := strings.Split(strings.TrimRight(text(t, render(t, d)), "\f"), "\f")
		last := pages[len(pages)-1]
		if !strings.Contains(last, "Notes") || !strings.Contains(last, "Payment by SEPA direct debit") {
			t.Errorf("%d lines: the last of %d pages does not hold both the payment and the notes:\n%s", n, len(pages), last)
		}
	}
}

// ymd is the day y-m-d, which the test knows to be valid.
func ymd(y, m, day int) civil.Date {
	d, ok := civil.Valid(y, m, day)
	if !ok {
		panic(fmt.Sprintf("%d-%d-%d is no day", y, m, day))
	}
	return d
}

// TestServicePeriodSplitAYear: "15–17 September 2026" was wider than its
// column and cut inside the year ("15–17 September 20" / "26"). A period
// now fits its column or breaks after its dash, never inside a date.
func TestServicePeriodSplitAYear(t *testing.T) {
	t.Parallel()
	d := invoice.Examples()[0]
	d.Number = "CH-2026-PERIODS"
	periods := []struct {
		start, end civil.Date
		want       []string // each whole on one line of text
	}{
		{ymd(2026, 9, 15), ymd(2026, 9, 17), []string{"15–17 September 2026"}},
		{ymd(2026, 9, 28), ymd(2026, 9, 30), []string{"28–30 September 2026"}},
		{ymd(2026, 2, 28), ymd(2026, 3, 3), []string{"28 February –", "3 March 2026"}},
		{ymd(2026, 9, 28), ymd(2026, 11, 30), []string{"28 September –", "30 November 2026"}},
		{ymd(2026, 12, 28), ymd(2027, 1, 3), []string{"28 December 2026 –", "3 January 2027"}},
		{ymd(2026, 9, 1), ymd(2026, 10, 31), []string{"September –", "October 2026"}},
	}
	d.Lines = d.Lines[:1]
	for i, p := range periods {
		l := d.Lines[0]
		l.No, l.PeriodStart, l.PeriodEnd = i+1, p.start, p.end
		d.Lines = append(d.Lines[:i], l)
	}
	if err := d.Finish(0, invoice.Exemption); err != nil {
		t.Fatal(err)
	}
	got := text(t, render(t, d))
	lines := strings.Split(got, "\n")
	for _, p := range periods {
		for _, s := range p.want {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, s) }) {
				t.Errorf("the period %s to %s: no line of text holds %q", p.start, p.end, s)
			}
		}
	}
	if t.Failed() {
		t.Log(got)
	}
}

// TestCreditNoteSaidTheBillingMonth: a credit note's header said "Billing
// period November 2026" while it credited September and October. It now
// says the period credited and the billing it was issued in; an invoice
// says its billing month, and its service period when the lines reach
// beyond the month (months caught up).
func TestCreditNoteSaidTheBillingMonth(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		doc        int // in invoice.Examples()
		start, end civil.Date
		want, not  []string
	}{
		{"credit note of two months", 2, 0, 0,
			[]string{"Credited period September – October 2026", "Billing month November 2026"}, []string{"Billing period"}},
		{"credit note of days", 2, ymd(2026, 9, 15), ymd(2026, 10, 20),
			[]string{"Credited period 15 September –", "20 October 2026", "Billing month November 2026"}, []string{"Billing period"}},
		{"invoice with a month caught up", 0, 0, 0,
			[]string{"Billing period November 2026", "Service period October – November 2026"}, []string{"Credited period"}},
		{"invoice with months caught up", 0, ymd(2026, 8, 1), 0,
			[]string{"Billing period November 2026", "Service period August – November 2026"}, nil},
		{"invoice of its month", 1, 0, 0, []string{"Billing period November 2026"}, []string{"Service period November", "Credited period"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := invoice.Examples()[tc.doc]
			if tc.start != 0 {
				d.PeriodStart = tc.start
			}
			if tc.end != 0 {
				d.PeriodEnd = tc.end
			}
			got := text(t, render(t, d))
			flat := flatten(got)
			says(t, flat, tc.want...)
			for _, s := range tc.not {
				if strings.Contains(flat, s) {
					t.Errorf("the PDF says %q", s)
				}
			}
			if t.Failed() {
				t.Log(got)
			}
		})
	}
}

// TestVATRateWrittenThreeWays: a rate read "0%" in the breakdown, "0 % AE"
// in the lines and "20 %" elsewhere. Every rate now reads "<rate> %", the
// category named apart: in the breakdown, and under the rate of a line not
// of the standard rate when the document has more than one.
func TestVATRateWrittenThreeWays(t *testing.T) {
	t.Parallel()
	mixed := invoice.Examples()[0]
	mixed.Number = "CH-2026-MIXEDVAT"
	mixed.Lines[3].VATCategory, mixed.Lines[3].VATRate = invoice.VATExempt, "0"
	if err := mixed.Finish(0, invoice.Exemption); err != nil {
		t.Fatal(err)
	}
	ex := invoice.Examples()
	for _, d := range []*invoice.Document{ex[0], ex[1], ex[4], mixed} {
		t.Run(d.Number, func(t *testing.T) {
			t.Parallel()
			got := text(t, render(t, d))
			if bad := regexp.MustCompile(`\d%|\d {2,}%|% *(AE|E|S)\b`).FindAllString(got, -1); len(bad) > 0 {
				t.Errorf("rates written otherwise than \"20 %%\": %q", bad)
			}
			rates := 0
			for _, l := range d.Lines {
				rates++
				if !lineRow(d, l).MatchString(got) {
					t.Errorf("line %d: no row with its rate %s %%", l.No, l.VATRate)
				}
			}
			for _, v := range d.VAT {
				rates++
				if !regexp.MustCompile(`(?m)^\s*\S.*\s` + regexp.QuoteMeta(v.Rate) + ` %\s`).MatchString(got) {
					t.Errorf("the breakdown does not give %s %%", v.Rate)
				}
			}
			if n := len(regexp.MustCompile(`\b\d+(\.\d+)? %`).FindAllString(got, -1)) - strings.Count(strings.Join(d.Notes, " "), "%"); n != rates {
				t.Errorf("%d rates written, want %d (one a line, one a subtotal)", n, rates)
			}
			if n := len(regexp.MustCompile(`(?m) {2,}E$`).FindAllString(got, -1)); d == mixed && n != 1 {
				t.Errorf("a document of two categories names the category of %d lines, not of its one exempt line", n)
			}
			if t.Failed() {
				t.Log(got)
			}
		})
	}
}

// TestDirectDebitPromisedTheAmount: "The amount of 46.64 EUR will be
// debited on 31 December 2026" was contradicted by a credit note issued
// before that date, which the debit nets. The pre-notification now gives
// the amount due at issue and says that a credit note reduces it, with the
// date, the account, the mandate and the creditor identifier.
func TestDirectDebitPromisedTheAmount(t *testing.T) {
	t.Parallel()
	d := invoice.Examples()[0]
	flat := flatten(text(t, render(t, d)))
	says(t, flat, "Payment by SEPA direct debit",
		"The amount due, "+cur(d, d.Totals.Payable)+" at issue, will be debited on 31 December 2026 from account FR76 **** **** **** **** ***0 189 under mandate TFR-SDD-0001, creditor identifier FR18ZZZ8A4B2C.",
		"A credit note issued before then reduces the amount debited.")
	if strings.Contains(flat, "The amount of") {
		t.Errorf("the PDF still promises a fixed amount: %s", flat)
	}
}

// TestPaymentTermsRepeated: under the direct debit notice, "Payment terms:
// Direct debit of 93.26 EUR on 2026-12-31 (SEPA Core, mandate …)" said it
// again, with an ISO date where the page writes "31 December 2026". Terms
// are not printed under a direct debit, nor under a transfer when they
// only repeat its amount and due date; printed, and in a credit note's
// reason, dates read as the page's others.
func TestPaymentTermsRepeated(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		doc   int // in invoice.Examples()
		terms string
		want  string // "" when the terms are not printed
	}{
		{"direct debit", 0, "Direct debit on 31 December 2026 (30 days)", ""},
		{"direct debit, ISO date", 0, "Direct debit of 2825.86 EUR on 2026-12-31 (SEPA Core, mandate TFR-SDD-0001)", ""},
		{"transfer, a term", 1, "Payable within 14 days", "Payment terms: Payable within 14 days"},
		{"transfer, its due date", 1, "Payable by 2026-12-15", ""},
		{"transfer, its amount and due date", 1, "154.20 EUR due on 15 December 2026 by bank transfer.", ""},
		{"transfer, more than the due date", 1, "Payable by 2026-12-15; late payment bears interest at three times the legal rate",
			"Payment terms: Payable by 15 December 2026; late payment bears interest at three times the legal rate"},
		{"credit note", 2, "Applied on 2026-12-01 to the invoices credited", "Applied on 1 December 2026 to the invoices credited"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := invoice.Examples()[tc.doc]
			d.Payment.Terms = tc.terms
			got := text(t, render(t, d))
			flat := flatten(got)
			if tc.want != "" {
				says(t, flat, tc.want)
			}
			if tc.want == "" && strings.Contains(flat, "Payment terms") {
				t.Errorf("the PDF repeats the terms %q", tc.terms)
			}
			if iso := regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`).FindAllString(got, -1); len(iso) > 0 {
				t.Errorf("ISO dates on the page: %q", iso)
			}
			if t.Failed() {
				t.Log(got)
			}
		})
	}
}

// qrCodes are the QR codes a phone's camera reads on the PDF's pages:
// each page rendered as an image (pdftoppm, at 110 dpi), then decoded
// (zbarimg).
func qrCodes(t *testing.T, pdf []byte) []string { return qrCodesAt(t, pdf, 110) }

func qrCodesAt(t *testing.T, pdf []byte, dpi int) []string {
	t.Helper()
	for _, bin := range []string{"pdftoppm", "zbarimg"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed to read the QR code back: install the Debian packages poppler-utils and zbar-tools (%v)", bin, err)
		}
	}
	dir := t.TempDir()
	cmd := exec.Command("pdftoppm", "-r", strconv.Itoa(dpi), "-png", "-", filepath.Join(dir, "page"))
	cmd.Stdin = bytes.NewReader(pdf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	var codes []string
	for _, p := range pages {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", p)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 4 { // no code on the page
			continue
		}
		if err != nil {
			t.Fatalf("zbarimg %s: %v\n%s", p, err, stderr.String())
		}
		codes = append(codes, strings.TrimSuffix(stdout.String(), "\n"))
	}
	return codes
}

// A pay-now invoice's QR code is the transfer a banking app makes: the
// hub's account, the amount due and the RF reference the page prints.
// Nothing else has one: a direct debit, an invoice settled by credit, a
// credit note.
func TestPayNowQRCodeIsTheTransfer(t *testing.T) {
	t.Parallel()
	for _, d := range invoice.Examples() {
		t.Run(d.Number, func(t *testing.T) {
			t.Parallel()
			pdf := render(t, d)
			codes := qrCodes(t, pdf)
			p := d.Payment
			if d.Type != invoice.TypeInvoice || p.Means != invoice.PayCreditTransfer || d.Totals.Payable == 0 {
				if len(codes) != 0 {
					t.Fatalf("%s (%s, %s, due %d) has QR codes %q", d.Number, d.Type, p.Means, d.Totals.Payable, codes)
				}
				return
			}
			if len(codes) != 1 {
				t.Fatalf("%d QR codes on the pay-now invoice %s, want 1", len(codes), d.Number)
			}
			want := strings.Join([]string{"BCD", "002", "1", "SCT", p.BIC, p.AccountName, strings.ReplaceAll(p.IBAN, " ", ""),
				"EUR" + money.Format(d.Totals.Payable, "EUR"), "", strings.ReplaceAll(p.Reference, " ", "")}, "\n")
			if codes[0] != want {
				t.Errorf("QR code\n%q, want\n%q", codes[0], want)
			}
			says(t, flatten(text(t, pdf)), "Scan to pay", grouped4(p.Reference))
		})
	}
}

// A document in its reseller's language: its words, dates and amounts as
// a reader of that language writes them, nothing left in English but what
// the document's own data says, and the same QR code.
func TestInTheBuyersLanguage(t *testing.T) {
	t.Parallel()
	months := map[string][]string{
		"fr": {"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		"de": {"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		"nl": {"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
	}
	type words struct{ invoice, creditNote, due, issued, page string }
	for lang, w := range map[string]words{
		"fr": {"Facture", "Avoir", "Montant dû", "Date d'émission", "Page 1 sur 1"},
		"de": {"Rechnung", "Rechnungskorrektur", "Zahlbetrag", "Rechnungsdatum", "Seite 1 von 1"},
		"nl": {"Factuur", "Creditnota", "Te betalen", "Factuurdatum", "Pagina 1 van 1"},
	} {
		for _, d := range invoice.Examples() {
			t.Run(lang+"/"+d.Number, func(t *testing.T) {
				t.Parallel()
				english := qrCodes(t, render(t, d))
				d.Language = lang
				pdf := render(t, d)
				flat := flatten(text(t, pdf))
				// An amount: its groups of three, a decimal comma.
				gross := strings.Replace(amt(d, d.Totals.TaxInclusive), ".", ",", 1) + " EUR"
				issued := d.IssueDate.Time()
				date := fmt.Sprintf("%d %s %d", issued.Day(), months[lang][issued.Month()-1], issued.Year())
				if lang == "de" {
					date = issued.Format("02.01.2006")
				}
				title, total := w.invoice, w.due
				if d.Type == invoice.TypeCreditNote {
					title = w.creditNote
				}
				issuedLabel := w.issued
				if d.Type == invoice.TypeCreditNote && lang != "fr" {
					issuedLabel = "Datum" // a correction's date, not an invoice's
				}
				says(t, flat, title+" ", issuedLabel+" "+date, gross, w.page)
				if d.Type == invoice.TypeInvoice {
					says(t, flat, total)
				}
				for _, english := range []string{"Amount due", "Issue date", "Page 1 of", "Total net", "CUSTOMER", "Payment by", "Please transfer", "Scan to pay", "Unit price"} {
					if strings.Contains(flat, english) {
						t.Errorf("the %s PDF still says %q", lang, english)
					}
				}
				if got := qrCodes(t, pdf); !slices.Equal(got, english) {
					t.Errorf("QR codes %q, in English %q", got, english)
				}
			})
		}
	}
}

// The densest transfer a QR code carries (a 70-character name with
// accents, a BIC, the longest RF reference, the largest amount) reads on
// a screen at any common resolution, and a name the fonts cannot show is
// in the code as issued. From an outside trial: at 25 mm, scaled from a
// 480-pixel image, some pages read at 110 dpi and not at 105.
func TestQRCodeReadsAtScreenResolutions(t *testing.T) {
	t.Parallel()
	var d *invoice.Document
	for _, e := range invoice.Examples() {
		if e.Payment.Means == invoice.PayCreditTransfer && e.Totals.Payable > 0 && e.Type == invoice.TypeInvoice {
			d = e
			break
		}
	}
	name := "Clearhouse Services Société Générale Établissements Réunis Ça Marche"
	name += strings.Repeat("é", 70-len([]rune(name)))
	d.Payment.AccountName = name
	d.Payment.Reference = sepa.CreditorReference("CH2026000042ABCDEFGHIJ")
	want := strings.Join([]string{"BCD", "002", "1", "SCT", d.Payment.BIC, name, strings.ReplaceAll(d.Payment.IBAN, " ", ""),
		"EUR" + money.Format(d.Totals.Payable, "EUR"), "", d.Payment.Reference}, "\n")
	pdf := render(t, d)
	says(t, flatten(text(t, pdf)), "Account holder "+name) // the name the code pays, whole, on two lines
	for _, dpi := range []int{96, 100, 105, 110, 115, 120, 150, 300} {
		if got := qrCodesAt(t, pdf, dpi); len(got) != 1 || got[0] != want {
			t.Errorf("at %d dpi: %q", dpi, got)
		}
	}
	// A transfer the code cannot carry (a name over 70 characters, which
	// apply refuses now) leaves the invoice without a code, never without
	// its PDF: it was issued.
	d.Payment.AccountName = strings.Repeat("Société ", 12)
	if got := qrCodes(t, render(t, d)); len(got) != 0 {
		t.Errorf("a 96-character name: QR codes %q", got)
	}
	d.Payment.AccountName = "清算所服务 SAS"
	want = strings.Replace(want, name, d.Payment.AccountName, 1)
	if got := qrCodes(t, render(t, d)); len(got) != 1 || got[0] != want {
		t.Errorf("a name in Chinese: %q, want %q", got, want)
	}
}
