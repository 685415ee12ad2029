package main_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/ubl"
)

// sampleInvoices are the documents make run issues for the sample world
// (the drops, the October run, the late drops, the November run): number
// (the year is the year they are issued in), reseller, month, net, VAT,
// total, and what is open after the credit note settled its invoices.
var sampleInvoices = `
CH-YYYY-000001 invoice telco-fr 2026-01 125.09 25.02 150.11 150.11
CH-YYYY-000002 invoice telco-fr 2026-02 3.99 0.80 4.79 4.79
CH-YYYY-000003 invoice isp-de 2026-03 78.00 0.00 78.00 78.00
CH-YYYY-000004 invoice telco-fr 2026-03 3.99 0.80 4.79 4.79
CH-YYYY-000005 invoice isp-de 2026-04 4.00 0.00 4.00 4.00
CH-YYYY-000006 invoice telco-fr 2026-04 3.99 0.80 4.79 4.79
CH-YYYY-000007 invoice telco-fr 2026-05 3.99 0.80 4.79 4.79
CH-YYYY-000008 invoice isp-de 2026-06 23.00 0.00 23.00 23.00
CH-YYYY-000009 invoice telco-fr 2026-06 3.99 0.80 4.79 4.79
CH-YYYY-000010 invoice isp-de 2026-07 4.90 0.00 4.90 4.90
CH-YYYY-000011 invoice telco-fr 2026-07 38.87 7.77 46.64 46.64
CH-YYYY-000012 invoice isp-de 2026-08 48.90 0.00 48.90 48.90
CH-YYYY-000013 invoice telco-fr 2026-08 7.98 1.60 9.58 9.58
CH-YYYY-000014 invoice cable-be 2026-09 102.40 21.50 123.90 123.90
CH-YYYY-000015 invoice isp-de 2026-09 26.90 0.00 26.90 26.90
CH-YYYY-000016 invoice telco-fr 2026-09 38.87 7.77 46.64 37.06
CH-YYYY-000017 invoice cable-be 2026-10 91.50 19.22 110.72 110.72
CH-YYYY-000018 invoice isp-de 2026-10 26.90 0.00 26.90 26.90
CH-YYYY-000019 invoice telco-fr 2026-10 75.14 15.03 90.17 80.59
CH-YYYY-000020 invoice cable-be 2026-11 21.00 4.41 25.41 25.41
CH-YYYY-000021 invoice isp-de 2026-11 77.90 0.00 77.90 77.90
CH-YYYY-000022 invoice telco-fr 2026-11 77.72 15.54 93.26 93.26
CN-YYYY-000001 credit-note telco-fr 2026-11 15.96 3.20 19.16 0.00
`

// checkSampleInvoices checks what the resellers received from make run:
// the documents listed with their pinned totals; each one's UBL valid
// against the UBL 2.1 XSD and the CEN EN 16931 rules, and clean of the
// Peppol rules we check; its PDF saying, to a reader, its number, buyer,
// total and amount due; its CSVs summing to its net; and nothing issued
// again by a second run.
func checkSampleInvoices(t *testing.T, env []string, data string) {
	t.Helper()
	r := run(t, env, "invoices")
	if r.code != 0 {
		t.Fatalf("invoices: %d %s", r.code, r.stderr)
	}
	year := strconv.Itoa(time.Now().Year())
	var got []string
	docs := map[string][]string{} // number → reseller, total, open, net, VAT
	for _, l := range strings.Split(r.stdout, "\n")[1:] {
		f := strings.Fields(strings.Replace(l, "credit note", "credit-note", 1))
		if len(f) != 11 {
			continue
		}
		got = append(got, strings.Join([]string{strings.Replace(f[0], "-"+year+"-", "-YYYY-", 1), f[1], f[2], f[3], f[6], f[7], f[8], f[9]}, " "))
		docs[f[0]] = []string{f[2], f[8], f[9], f[6], f[7]}
	}
	if strings.Join(got, "\n") != strings.TrimSpace(sampleInvoices) {
		t.Fatalf("the sample documents:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.TrimSpace(sampleInvoices))
	}
	var xmls []string
	transfers := 0 // pay-now invoices whose QR code was read
	for number, d := range docs {
		base := filepath.Join(data, "partners", d[0], "outbox", number)
		for _, ext := range []string{".xml", ".pdf", ".csv", "_detail.csv"} {
			if _, err := os.Stat(base + ext); err != nil {
				t.Fatalf("%s: %v", number, err)
			}
		}
		xml, _ := os.ReadFile(base + ".xml")
		if p := ubl.PeppolCheck(xml); len(p) > 0 {
			t.Errorf("%s: Peppol: %v", number, p)
		}
		if !strings.Contains(string(xml), ">"+d[1]+"</cbc:TaxInclusiveAmount>") {
			t.Errorf("%s.xml: TaxInclusiveAmount is not %s", number, d[1])
		}
		xmls = append(xmls, base+".xml")
		// The PDF as a person reads it.
		out, err := exec.Command("pdftotext", "-layout", base+".pdf", "-").Output()
		if err != nil {
			t.Fatalf("pdftotext (Debian poppler-utils) on %s: %v", number, err)
		}
		text := strings.ReplaceAll(string(out), "\u00a0", " ")
		// In the reseller's language (its billing profile): telco-fr's
		// documents in French, isp-de's in German, with a decimal comma.
		total, transfer := d[1]+" EUR", "Payment by bank transfer"
		switch d[0] {
		case "telco-fr":
			total, transfer = strings.Replace(total, ".", ",", 1), "Paiement par virement"
		case "isp-de":
			total, transfer = strings.Replace(total, ".", ",", 1), "Zahlung per Überweisung"
		}
		for _, want := range []string{number, total, "Clearhouse Services SAS"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s.pdf does not say %q:\n%s", number, want, text)
			}
		}
		// A pay-now invoice's QR code pays what it says is due, to the
		// hub's account, quoting its RF reference; no other has one.
		if strings.Contains(text, transfer) {
			transfers++
			payable := regexp.MustCompile(`<cbc:PayableAmount currencyID="EUR">([0-9.]+)</cbc:PayableAmount>`).FindSubmatch(xml)
			ref := regexp.MustCompile(`<cbc:PaymentID>(RF[0-9A-Z]+)</cbc:PaymentID>`).FindSubmatch(xml)
			code := sampleQR(t, base+".pdf")
			if payable == nil || ref == nil || !strings.Contains(code, "\nEUR"+string(payable[1])+"\n\n"+string(ref[1])) ||
				!strings.Contains(code, "\nClearhouse Services SAS\nFR7630004000031234567890143\n") {
				t.Errorf("%s.pdf: QR code %q does not pay %s quoting %s", number, code, payable, ref)
			}
		}
		// The lines CSV sums to the net; every detail row names the file
		// and line it came from.
		// Both in the reseller's dialect, as its acks: cable-be declares
		// semicolons, windows-1252 and decimal commas; the others nothing
		// (commas, UTF-8 with a byte order mark for Excel, points).
		raw, _ := os.ReadFile(base + ".csv")
		lines, dialect := readDocCSV(t, number+".csv", raw)
		wantDialect := csvDialect{comma: ',', bom: true}
		if d[0] == "cable-be" {
			// windows-1252: told from UTF-8 only by a byte above ASCII.
			wantDialect = csvDialect{comma: ';', cp1252: bytes.ContainsFunc(raw, func(r rune) bool { return r >= 0x80 }), decimal: true}
		}
		if dialect != wantDialect {
			t.Errorf("%s.csv of %s: dialect %+v, want %+v", number, d[0], dialect, wantDialect)
		}
		var net int64
		for _, l := range lines[1:] {
			net += cents(t, l[14])
		}
		if money.Format(net, "EUR") != d[3] {
			t.Errorf("%s.csv: lines sum to %d cents, the net is %s", number, net, d[3])
		}
		// Every row carries the document's buyer and totals, as listed.
		col := func(name string) int { return slices.Index(invoice.LinesHeader, name) }
		for _, l := range lines[1:] {
			if l[col("buyer_id")] != d[0] || l[col("document_net")] != d[3] || l[col("document_vat")] != d[4] || l[col("document_total")] != d[1] {
				t.Errorf("%s.csv: buyer %s, net %s, VAT %s, total %s; the document: %s, %s, %s, %s", number,
					l[col("buyer_id")], l[col("document_net")], l[col("document_vat")], l[col("document_total")], d[0], d[3], d[4], d[1])
			}
		}
		raw, _ = os.ReadFile(base + "_detail.csv")
		detail, detailDialect := readDocCSV(t, number+"_detail.csv", raw)
		if d[0] == "cable-be" {
			wantDialect.cp1252 = bytes.ContainsFunc(raw, func(r rune) bool { return r >= 0x80 })
		}
		if detailDialect != wantDialect {
			t.Errorf("%s_detail.csv of %s: dialect %+v, want %+v", number, d[0], detailDialect, wantDialect)
		}
		for _, row := range detail[1:] {
			if row[12] == "" || row[13] == "" || row[3] == "" {
				t.Errorf("%s_detail.csv: a row without its lineage: %v", number, row)
			}
		}
	}
	if transfers == 0 {
		t.Error("no sample invoice is paid by transfer: no QR code was read")
	}
	res, err := ubl.Validator{Dir: "../../internal/ubl/testdata/einvoice"}.Validate(context.Background(), xmls...)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range res {
		if !v.Valid() {
			t.Errorf("%s: schema %v, fatal %v", v.Path, v.SchemaErrors, v.Fatal)
		}
	}
	// The credit note names the invoices it credits, in the UBL and the PDF.
	cn := filepath.Join(data, "partners", "telco-fr", "outbox", "CN-"+year+"-000001")
	xml, _ := os.ReadFile(cn + ".xml")
	for _, n := range []string{"000016", "000019"} {
		if !regexp.MustCompile(`<cac:BillingReference>\s*<cac:InvoiceDocumentReference>\s*<cbc:ID>CH-` + year + `-` + n).Match(xml) {
			t.Errorf("the credit note does not reference CH-%s-%s:\n%s", year, n, xml)
		}
	}
	// A credit note for one line of an invoice, from the command line.
	inv := "CH-" + year + "-000003"
	r = run(t, env, "invoice", "credit", inv, "--line", "1", "--reason", "Duplicate sale, agreed with Beispiel Internet on 2 Dec")
	if r.code != 0 || !strings.Contains(r.stdout, "credit note CN-"+year+"-000002") {
		t.Fatalf("invoice credit: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "partners", "isp-de", "outbox", "CN-"+year+"-000002.pdf")); err != nil {
		t.Fatal(err)
	}
	// invoice show prints the document as issued, then what happened since:
	// the credit note of its line, the credit applied, what is open.
	r = run(t, env, "invoice", "show", inv)
	for _, w := range []string{"since issue:", "line 1 credited by CN-" + year + "-000002", "credit applied from CN-" + year + "-000002: 66.00 EUR", "open 12.00 EUR"} {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Errorf("invoice show %s: want %q in\n%s%s", inv, w, r.stdout, r.stderr)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"invoice", "credit", inv, "--line", "1", "--reason", "again"}, "nothing left to credit"},
		{[]string{"invoice", "credit", "CH-1999-000001", "--reason", "x"}, "no such document"},
		{[]string{"invoice", "credit", "CN-" + year + "-000001", "--reason", "x"}, "only invoices are credited"},
		{[]string{"invoice", "credit", inv, "--line", "99", "--reason", "x"}, "not 99"},
		{[]string{"invoice", "credit", inv, "--line", "4294967297", "--reason", "x"}, "not 4294967297"}, // not line 1 (2^32 + 1)
		{[]string{"invoice", "credit", inv, "--reason", "a\xffb"}, "not UTF-8 text (the byte at character 2 is not, or is U+FFFD)"},
		{[]string{"bill", "--period", "2026-11", "--reseller", "secureco"}, "not a reseller"},
		{[]string{"invoice", "credit", inv}, "--reason"},
		{[]string{"bill", "--period", "2026-13"}, "not a month"},
		{[]string{"bill", "--period", "2026-11", "--reseller", "nobody"}, "unknown partner"},
		{[]string{"bill", "--period", "2026-11", "--reseller", "isp-de", "--reseller", "telco-fr", "--dry-run"}, "--reseller is given twice: it takes one value"},
		{[]string{"invoice", "credit", inv, "--reason", "x", "--reason", "y"}, "--reason is given twice"},
	} {
		if r := run(t, env, c.args...); r.code != 64 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, %q (want 64 and %q)", c.args, r.code, r.stderr, c.want)
		}
	}
	if r := run(t, env, "ledger", "check"); r.code != 0 {
		t.Fatalf("ledger check after the credit note: %s", r.stdout)
	}
	// A month before anything was declared had nothing to bill, whatever
	// was billed since.
	r = run(t, env, "bill", "--period", "1999-01", "--reseller", "telco-fr")
	if r.code != 0 || !strings.Contains(r.stdout, "telco-fr 1999-01: nothing to bill: its first declaration is dated 2026-01 (it is billed up to 2026-11)") ||
		!strings.Contains(r.stdout, ": nothing issued") {
		t.Fatalf("billing 1999-01: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// A second billing of the same months issues nothing.
	r = run(t, env, "bill", "--period", "2026-11")
	if r.code != 0 || strings.Contains(r.stdout, "invoice CH-") || !strings.Contains(r.stdout, "already billed") || !strings.Contains(r.stdout, ": nothing issued") {
		t.Fatalf("billing again: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

// cents parses an amount as the CSVs write it: in EUR, with its two decimals.
func cents(t *testing.T, s string) int64 {
	t.Helper()
	n, err := money.ParseMinor(s, "EUR")
	if err != nil || money.Format(n, "EUR") != s {
		t.Fatalf("amount %q", s)
	}
	return n
}

// sampleQR is the QR codes of a PDF's pages, as a phone reads them
// (pdftoppm, then zbarimg: Debian poppler-utils and zbar-tools), a line
// feed between two; "" when there is none.
func sampleQR(t *testing.T, pdf string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("pdftoppm", "-r", "110", "-png", pdf, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm %s: %v\n%s", pdf, err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	var codes []string
	for _, page := range pages {
		out, err := exec.Command("zbarimg", "-q", "--raw", "-Sdisable", "-Sqrcode.enable", page).Output()
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 4 { // none on the page
			continue
		}
		if err != nil {
			t.Fatalf("zbarimg (Debian zbar-tools) on %s: %v", pdf, err)
		}
		codes = append(codes, strings.TrimSuffix(string(out), "\n"))
	}
	return strings.Join(codes, "\n")
}
