package invoicepdf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/sepa"
)

// The sections of a document, in the order they are written.

// heading writes the seller (top left), the title and the document's
// data (top right).
func (w *writer) heading() {
	d := w.d
	y := marginTop
	w.font("B", 13, ink)
	yl := w.block(marginX, y, leftW, 6, d.Seller.Name)
	w.font("", 8.5, muted)
	yl = w.block(marginX, yl+1.5, leftW, 4, partyLines(d.Seller)...)

	w.font("B", 22, accent)
	w.at(rightX, y-1.5, rightW, 9, title(d), "R")
	yr := y + 11
	facts := [][2]string{{"Number", d.Number}, {"Issue date", date(d.IssueDate)}}
	if d.Type == invoice.TypeInvoice && d.DueDate != 0 {
		facts = append(facts, [2]string{"Due date", date(d.DueDate)})
	}
	facts = append(facts, w.periods()...)
	if d.BuyerReference != "" {
		facts = append(facts, [2]string{"Buyer reference", d.BuyerReference})
	}
	const factW, lh = 26.0, 4.8 // the labels' width, a line
	for _, f := range facts {
		w.font("", 8.5, muted)
		w.at(rightX, yr, factW, lh, f[0], "L")
		w.font("B", 8.5, ink)
		for _, l := range w.atMost(2, f[1], rightW-factW) {
			w.at(rightX+factW, yr, rightW-factW, lh, l, "R")
			yr += lh
		}
	}
	w.pdf.SetY(max(yl, yr) + 9)
}

// periods are the header's facts of time. An invoice is of its billing
// month, and says its service period too when its lines reach beyond the
// month (months caught up). A credit note credits its service period, and
// is of a billing month: the run's that issued it, or the month of the
// invoice a manual credit note credits ("issued in October's billing" read
// as if a note of 1 December had been issued by October's run).
func (w *writer) periods() [][2]string {
	d := w.d
	span := ""
	if d.PeriodStart != 0 && d.PeriodEnd >= d.PeriodStart {
		span = period(d.PeriodStart, d.PeriodEnd)
	}
	var out [][2]string
	if d.Type == invoice.TypeCreditNote {
		if span != "" {
			out = append(out, [2]string{"Credited period", span})
		}
		if d.BillingMonth != "" {
			out = append(out, [2]string{"Billing month", month(d.BillingMonth)})
		}
		return out
	}
	if d.BillingMonth != "" {
		out = append(out, [2]string{"Billing period", month(d.BillingMonth)})
	}
	if span != "" && beyondMonth(d.BillingMonth, d.PeriodStart, d.PeriodEnd) {
		out = append(out, [2]string{"Service period", span})
	}
	return out
}

// beyondMonth tells whether start to end reaches out of the month ym
// (YYYY-MM); any period does when ym is not a month.
func beyondMonth(ym string, start, end civil.Date) bool {
	t, err := time.Parse("2006-01", ym)
	if err != nil {
		return true
	}
	first := civil.FromYMD(t.Year(), t.Month(), 1)
	last := civil.FromYMD(t.Year(), t.Month()+1, 0)
	return start < first || end > last
}

// block writes lines of text from x, y, each a field of one line wrapped
// to wd on two lines at the most, and returns the height below them.
func (w *writer) block(x, y, wd, lh float64, lines ...string) float64 {
	for _, s := range lines {
		for _, l := range w.atMost(2, s, wd) {
			w.at(x, y, wd, lh, l, "L")
			y += lh
		}
	}
	return y
}

// partyLines are a party's address and identifiers, a line each.
func partyLines(p invoice.Party) []string {
	a := p.Address
	out := []string{a.Street}
	if a.Additional != "" {
		out = append(out, a.Additional)
	}
	out = append(out, strings.TrimSpace(a.PostalCode+" "+a.City))
	if a.Subdivision != "" {
		out = append(out, a.Subdivision)
	}
	out = append(out, country(a.Country))
	if p.VATID != "" {
		out = append(out, "VAT ID "+p.VATID)
	}
	if p.CompanyID != "" {
		out = append(out, companyLabel(p.CompanyIDScheme)+" "+p.CompanyID)
	}
	if p.Email != "" {
		out = append(out, p.Email)
	}
	return out
}

// parties writes the buyer (left) and, beside it, the amount the document
// comes to and when.
func (w *writer) parties() {
	d := w.d
	y := w.pdf.GetY()
	w.font("B", 7, muted)
	w.at(marginX, y, leftW, 4, "CUSTOMER", "L")
	w.font("B", 10.5, ink)
	yl := w.block(marginX, y+4.5, leftW, 5.5, d.Buyer.Name)
	w.font("", 8.5, ink)
	yl = w.block(marginX, yl+0.5, leftW, 4.2, partyLines(d.Buyer)...)

	label, sum, sub := "Amount due", d.Totals.Payable, ""
	switch {
	case d.Type == invoice.TypeCreditNote:
		label, sum, sub = "Total credited", d.Totals.TaxInclusive, "Credited to your account"
	case d.Totals.Payable == 0:
		sub = "Nothing to pay"
	case d.Payment.Means == invoice.PayDirectDebit:
		sub = "Debited on " + date(w.debitDate())
	case d.DueDate != 0:
		sub = "Due by " + date(d.DueDate)
	}
	const boxH = 25.0
	w.fill(rightX, y, rightW, boxH, band)
	w.font("B", 7, muted)
	w.at(rightX+4, y+3.5, rightW-8, 4, strings.ToUpper(label), "L")
	w.font("B", 16, accent)
	w.at(rightX+4, y+8.5, rightW-8, 8, withCurrency(sum, w.cur), "L")
	w.font("", 8.5, ink)
	w.at(rightX+4, y+18, rightW-8, 4, sub, "L")
	w.pdf.SetY(max(yl, y+boxH) + 9)
}

// debitDate is when a direct debit is collected: the document's date, or
// its due date when it has none.
func (w *writer) debitDate() civil.Date {
	if w.d.Payment.DebitDate != 0 {
		return w.d.Payment.DebitDate
	}
	return w.d.DueDate
}

// credited writes, on a credit note, the invoices it credits and why.
func (w *writer) credited() {
	d := w.d
	if len(d.References) == 0 && d.Reason == "" {
		return
	}
	w.section("Invoices credited", 3*4.2)
	t := &table{x: marginX, cols: []column{
		{"Invoice", 40, "L"}, {"Issue date", 40, "L"}, {"Amount credited (" + string(w.cur) + ")", 40, "R"},
	}}
	if len(d.References) > 0 {
		t.header(w)
		for _, r := range d.References {
			t.row(w, []cell{{text: r.Number}, {text: date(r.IssueDate)}, {text: amount(r.Amount, w.cur)}})
		}
		w.pdf.SetY(w.pdf.GetY() + 3)
	}
	if d.Reason != "" {
		w.font("", 8.5, ink)
		w.para(marginX, contentW, 4.2, "Reason: "+spellDates(d.Reason))
	}
	w.pdf.SetY(w.pdf.GetY() + 6)
}

// lineTable is the lines table; its unit price and net are in cur.
func lineTable(cur string) *table {
	return &table{x: marginX, cols: []column{
		{"No.", 9, "R"}, {"SKU", 21, "L"}, {"Description", 41, "L"}, {"Service period", 35, "L"},
		{"Quantity", 16, "R"}, {"Unit price\n(" + cur + ")", 18, "R"}, {"Net\n(" + cur + ")", 22, "R"}, {"VAT", 12, "R"},
	}}
}

// lines writes the lines table, its header repeated on each page it runs
// over.
func (w *writer) lines() {
	t := lineTable(string(w.cur))
	t.header(w)
	w.repeat = t
	// A line's VAT is its rate. When the document has more than one
	// category, a line of another than the standard one has its code under
	// the rate, as the breakdown names it ("Exempt (E)").
	categories := map[string]bool{}
	for _, v := range w.d.VAT {
		categories[v.Category] = true
	}
	for _, l := range w.d.Lines {
		var note, cat string
		if l.Credits != "" {
			note = "credits invoice " + l.Credits
			if l.CreditsLine > 0 {
				note += " line " + strconv.Itoa(l.CreditsLine)
			}
		}
		if len(categories) > 1 && l.VATCategory != invoice.VATStandard {
			cat = l.VATCategory
		}
		t.row(w, []cell{
			{text: strconv.Itoa(l.No)},
			{text: l.SKU},
			{text: l.Name, note: note},
			{text: period(l.PeriodStart, l.PeriodEnd)},
			{text: group(strconv.FormatInt(l.Quantity, 10))},
			{text: decimal(l.UnitPrice, w.cur.Exponent())},
			{text: amount(l.Net, w.cur)},
			{text: percent(l.VATRate), note: cat},
		})
	}
	w.repeat = nil
	w.pdf.SetY(w.pdf.GetY() + 7)
}

// summary writes the VAT breakdown (left) and the totals (right), kept on
// one page.
func (w *writer) summary() {
	d := w.d
	cur := string(w.cur)
	t := &table{x: marginX, cols: []column{
		{"Category", 34, "L"}, {"Rate", 14, "R"}, {"Taxable\n(" + cur + ")", 24, "R"}, {"VAT\n(" + cur + ")", 22, "R"},
	}}
	rows := w.totalRows()
	const totalLine = 6.0
	w.need(max(t.height(len(d.VAT)), float64(len(rows))*totalLine+2))
	y := w.pdf.GetY()
	t.header(w)
	for _, v := range d.VAT {
		name := categoryName(v.Category)
		if v.Category != invoice.VATStandard {
			name += " (" + v.Category + ")"
		}
		t.row(w, []cell{{text: name}, {text: percent(v.Rate)}, {text: amount(v.Taxable, w.cur)}, {text: amount(v.Tax, w.cur)}})
	}
	yl := w.pdf.GetY()

	yr := y
	for _, r := range rows {
		if r.strong {
			w.fill(rightX, yr, rightW, totalLine, band)
			w.font("B", 9, ink)
		} else {
			w.font("", 8.5, ink)
		}
		w.at(rightX+3, yr+0.8, rightW/2, totalLine-1.6, r.label, "L")
		w.at(rightX+rightW/2, yr+0.8, rightW/2-3, totalLine-1.6, r.value, "R")
		yr += totalLine
		if !r.strong {
			w.rule(rightX, yr, rightW, line)
		}
	}
	w.pdf.SetY(max(yl, yr) + 6)
}

type totalRow struct {
	label, value string
	strong       bool
}

// totalRows are the document totals as written: net, VAT, total, then on
// an invoice the credit applied at issue and the amount due.
func (w *writer) totalRows() []totalRow {
	t := w.d.Totals
	rows := []totalRow{
		{label: "Total net", value: withCurrency(t.TaxExclusive, w.cur)},
		{label: "VAT", value: withCurrency(t.Tax, w.cur)},
	}
	if w.d.Type == invoice.TypeCreditNote {
		return append(rows, totalRow{label: "Total credited", value: withCurrency(t.TaxInclusive, w.cur), strong: true})
	}
	rows = append(rows, totalRow{label: "Total", value: withCurrency(t.TaxInclusive, w.cur)})
	if t.Prepaid > 0 {
		rows = append(rows, totalRow{label: "Credit applied", value: withCurrency(-t.Prepaid, w.cur)})
	}
	return append(rows, totalRow{label: "Amount due", value: withCurrency(t.Payable, w.cur), strong: true})
}

// mentions writes, under the breakdown, the reason of each category that
// is not the standard rate; a reverse charge names both VAT ids.
func (w *writer) mentions() {
	w.font("", 8, ink)
	for _, v := range w.d.VAT {
		if v.Category == invoice.VATStandard {
			continue
		}
		s := v.ExemptionReason
		if v.Category == invoice.VATReverseCharge {
			if s == "" {
				s = "Reverse charge: VAT to be paid by the customer"
			}
			s = strings.TrimSuffix(s, ".") + ". Seller's VAT ID " + w.d.Seller.VATID + ", customer's VAT ID " + w.d.Buyer.VATID + "."
		}
		if s == "" {
			continue
		}
		if name := categoryName(v.Category); !strings.HasPrefix(strings.ToLower(s), strings.ToLower(name)) {
			s = name + " (" + v.Category + "): " + s
		}
		w.para(marginX, contentW, 4, s)
		w.pdf.SetY(w.pdf.GetY() + 1)
	}
	w.pdf.SetY(w.pdf.GetY() + 5)
}

// payment is how the document is paid: the SEPA pre-notification of a
// direct debit, the account and reference of a transfer, or that there is
// nothing to pay; on a credit note, what it credits.
func (w *writer) payment() prose {
	d, p := w.d, w.d.Payment
	due := withCurrency(d.Totals.Payable, w.cur)
	var head, say string
	var account [][2]string
	switch {
	case d.Type == invoice.TypeCreditNote:
		head, say = "Credit", "This credit note credits "+withCurrency(d.Totals.TaxInclusive, w.cur)+" to your account."
	case len(p.SettledBy) > 0:
		head, say = "Payment", settledBy(p.SettledBy)
	case d.Totals.Payable == 0:
		head, say = "Payment", "Nothing to pay."
	case p.Means == invoice.PayDirectDebit:
		from := "your account"
		if p.DebtorIBAN != "" {
			from = "account " + maskedIBAN(p.DebtorIBAN)
		}
		// The pre-notification: the amount, the date, the mandate and the
		// creditor; the amount is the one at issue, since a credit note
		// issued before the date is netted from the debit.
		head = "Payment by SEPA direct debit"
		say = "The amount due, " + due + " at issue, will be debited on " + date(w.debitDate()) + " from " + from +
			" under mandate " + p.MandateID + ", creditor identifier " + p.CreditorID + ". " +
			"A credit note issued before then reduces the amount debited."
	default:
		head = "Payment by bank transfer"
		say = "Please transfer " + due
		if d.DueDate != 0 {
			say += " by " + date(d.DueDate)
		}
		say += " to the account below, quoting the reference " + reference(p.Reference) + "."
		account = [][2]string{{"Account holder", p.AccountName}, {"IBAN", iban(p.IBAN)}, {"BIC", p.BIC}, {"Reference", reference(p.Reference)}}
	}
	s := prose{head: head, after: 6, parts: []part{{size: 9, c: ink, lh: 4.6, text: say}}}
	if account != nil && w.cur == "EUR" {
		// The EPC QR code: a banking app reads the transfer from it.
		t := sepa.EPCTransfer{Name: p.AccountName, IBAN: p.IBAN, BIC: p.BIC, Amount: d.Totals.Payable, Reference: p.Reference}
		if !sepa.ValidCreditorReference(t.Reference) {
			t.Reference, t.Text = "", p.Reference
		}
		qr, err := t.Payload()
		if err != nil {
			w.pdf.SetError(fmt.Errorf("the payment QR code of %s: %w", d.Number, err))
		}
		s.qr, s.caption = qr, "Scan to pay"
	}
	gap := 1.5
	for _, a := range account {
		if a[1] != "" {
			s.parts = append(s.parts, part{gap: gap, style: "B", size: 9, c: ink, lh: 4.8, label: a[0], text: a[1]})
			gap = 0
		}
	}
	if terms := w.terms(say); terms != "" {
		s.parts = append(s.parts, part{gap: 1.5, size: 8, c: muted, lh: 4, text: terms})
	}
	return s
}

// terms is the payment terms (BT-20) as the page prints them, its dates
// written as the page writes dates, or nothing when the sentence above
// already says them: on an invoice paid by direct debit (the
// pre-notification gives the amount, the date, the mandate), and on one
// paid by transfer when they only repeat its amount and due date.
func (w *writer) terms(say string) string {
	d, p := w.d, w.d.Payment
	t := spellDates(p.Terms)
	switch {
	case t == "" || strings.TrimSuffix(t, ".") == strings.TrimSuffix(say, "."):
		return ""
	case d.Type == invoice.TypeCreditNote:
		return t
	case p.Means == invoice.PayDirectDebit:
		return ""
	case d.Totals.Payable > 0 && len(p.SettledBy) == 0 && !adds(t, d.DueDate, d.Totals.Payable, w.cur):
		return ""
	}
	return "Payment terms: " + t
}

// adds tells whether payment terms say more than the amount and the due
// date of a transfer: whether words are left once those and the words
// that only introduce them ("payable by", "due on") are taken out.
func adds(terms string, due civil.Date, payable int64, cur money.Currency) bool {
	t := strings.ReplaceAll(terms, nbsp, " ")
	facts := []string{money.Format(payable, cur), amount(payable, cur), string(cur)}
	if due != 0 {
		facts = append(facts, date(due))
	}
	for _, f := range facts {
		t = strings.ReplaceAll(t, strings.ReplaceAll(f, nbsp, " "), " ")
	}
	for _, word := range strings.FieldsFunc(strings.ToLower(t), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if !restating[word] {
			return true
		}
	}
	return false
}

// restating are the words that payment terms use to give an amount and a
// date: "Payable by 15 December 2026", "To be paid by bank transfer".
var restating = map[string]bool{
	"payable": true, "pay": true, "paid": true, "payment": true, "due": true, "to": true, "be": true, "is": true,
	"by": true, "on": true, "before": true, "until": true, "at": true, "the": true, "latest": true, "of": true,
	"amount": true, "bank": true, "credit": true, "transfer": true, "please": true,
}

// settledBy says that credit notes cover the whole invoice.
func settledBy(numbers []string) string {
	if len(numbers) == 1 {
		return "Settled by credit note " + numbers[0] + ": nothing to pay."
	}
	return "Settled by credit notes " + strings.Join(numbers, ", ") + ": nothing to pay."
}

// notes are the document's notes (BT-22), a paragraph each.
func (w *writer) notes() []prose {
	if len(w.d.Notes) == 0 {
		return nil
	}
	s := prose{head: "Notes"}
	for _, n := range w.d.Notes {
		s.parts = append(s.parts, part{size: 8.5, c: ink, lh: 4.2, text: n})
	}
	return []prose{s}
}
