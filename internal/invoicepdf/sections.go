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
	yl = w.block(marginX, yl+1.5, leftW, 4, w.partyLines(d.Seller)...)

	w.font("B", 22, accent)
	w.at(rightX, y-1.5, rightW, 9, title(d, w.l), "R")
	yr := y + 11
	issued := w.l.t("Issue date")
	if d.Type == invoice.TypeCreditNote {
		issued = w.l.t("Credit note date") // not an invoice's date, in the languages that say so
	}
	facts := [][2]string{{w.l.t("Number"), d.Number}, {issued, w.l.date(d.IssueDate)}}
	if d.Type == invoice.TypeInvoice && d.DueDate != 0 {
		facts = append(facts, [2]string{w.l.t("Due date"), w.l.date(d.DueDate)})
	}
	facts = append(facts, w.periods()...)
	if d.BuyerReference != "" {
		facts = append(facts, [2]string{w.l.t("Buyer reference"), d.BuyerReference})
	}
	// The labels' width: 26 mm, or the longest label's in a language of
	// longer words; a line.
	const lh = 4.8
	factW := 26.0
	w.font("", 8.5, muted)
	for _, f := range facts {
		factW = max(factW, w.pdf.GetStringWidth(f[0])+3)
	}
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
		span = w.l.period(d.PeriodStart, d.PeriodEnd)
	}
	var out [][2]string
	if d.Type == invoice.TypeCreditNote {
		if span != "" {
			out = append(out, [2]string{w.l.t("Credited period"), span})
		}
		if d.BillingMonth != "" {
			out = append(out, [2]string{w.l.t("Billing month"), w.l.month(d.BillingMonth)})
		}
		return out
	}
	if d.BillingMonth != "" {
		out = append(out, [2]string{w.l.t("Billing period"), w.l.month(d.BillingMonth)})
	}
	if span != "" && beyondMonth(d.BillingMonth, d.PeriodStart, d.PeriodEnd) {
		out = append(out, [2]string{w.l.t("Service period"), span})
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
func (w *writer) partyLines(p invoice.Party) []string {
	a := p.Address
	out := []string{a.Street}
	if a.Additional != "" {
		out = append(out, a.Additional)
	}
	out = append(out, strings.TrimSpace(a.PostalCode+" "+a.City))
	if a.Subdivision != "" {
		out = append(out, a.Subdivision)
	}
	out = append(out, w.l.country(a.Country))
	if p.VATID != "" {
		out = append(out, fmt.Sprintf(w.l.t("VAT ID %s"), p.VATID))
	}
	if p.CompanyID != "" {
		out = append(out, w.l.companyLabel(p.CompanyIDScheme)+" "+p.CompanyID)
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
	w.at(marginX, y, leftW, 4, w.l.t("CUSTOMER"), "L")
	w.font("B", 10.5, ink)
	yl := w.block(marginX, y+4.5, leftW, 5.5, d.Buyer.Name)
	w.font("", 8.5, ink)
	yl = w.block(marginX, yl+0.5, leftW, 4.2, w.partyLines(d.Buyer)...)

	label, sum, sub := w.l.t("Amount due"), d.Totals.Payable, ""
	switch {
	case d.Type == invoice.TypeCreditNote:
		label, sum, sub = w.l.t("Total credited"), d.Totals.TaxInclusive, w.l.t("Credited to your account")
	case d.Totals.Payable == 0:
		sub = w.l.t("Nothing to pay")
	case d.Payment.Means == invoice.PayDirectDebit:
		sub = fmt.Sprintf(w.l.t("Debited on %s"), w.l.date(w.debitDate()))
	case d.DueDate != 0:
		sub = fmt.Sprintf(w.l.t("Due by %s"), w.l.date(d.DueDate))
	}
	const boxH = 25.0
	w.fill(rightX, y, rightW, boxH, band)
	w.font("B", 7, muted)
	w.at(rightX+4, y+3.5, rightW-8, 4, strings.ToUpper(label), "L")
	w.font("B", 16, accent)
	w.at(rightX+4, y+8.5, rightW-8, 8, w.l.withCurrency(sum, w.cur), "L")
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
	w.section(w.l.t("Invoices credited"), 3*4.2)
	t := &table{x: marginX, cols: []column{
		{w.l.t("Invoice"), 40, "L"}, {w.l.t("Issue date"), 40, "L"}, {fmt.Sprintf(w.l.t("Amount credited (%s)"), w.cur), 40, "R"},
	}}
	if len(d.References) > 0 {
		t.header(w)
		for _, r := range d.References {
			t.row(w, []cell{{text: r.Number}, {text: w.l.date(r.IssueDate)}, {text: w.l.amount(r.Amount, w.cur)}})
		}
		w.pdf.SetY(w.pdf.GetY() + 3)
	}
	if d.Reason != "" {
		w.font("", 8.5, ink)
		w.para(marginX, contentW, 4.2, fmt.Sprintf(w.l.t("Reason: %s"), w.l.spellDates(d.Reason)))
	}
	w.pdf.SetY(w.pdf.GetY() + 6)
}

// lineTable is the lines table; its unit price and net are in cur.
func lineTable(cur string, l *locale) *table {
	return &table{x: marginX, cols: []column{
		{l.t("No."), 9, "R"}, {l.t("SKU"), 21, "L"}, {l.t("Description"), 41, "L"}, {l.t("Service period"), 35, "L"},
		{l.t("Quantity"), 16, "R"}, {fmt.Sprintf(l.t("Unit price\n(%s)"), cur), 18, "R"}, {fmt.Sprintf(l.t("Net\n(%s)"), cur), 22, "R"}, {l.t("VAT"), 12, "R"},
	}}
}

// lines writes the lines table, its header repeated on each page it runs
// over.
func (w *writer) lines() {
	t := lineTable(string(w.cur), w.l)
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
			note = fmt.Sprintf(w.l.t("credits invoice %s"), l.Credits)
			if l.CreditsLine > 0 {
				note = fmt.Sprintf(w.l.t("credits invoice %s line %d"), l.Credits, l.CreditsLine)
			}
		}
		if len(categories) > 1 && l.VATCategory != invoice.VATStandard {
			cat = l.VATCategory
		}
		t.row(w, []cell{
			{text: strconv.Itoa(l.No)},
			{text: l.SKU},
			{text: l.Name, note: note},
			{text: w.l.period(l.PeriodStart, l.PeriodEnd)},
			{text: group(strconv.FormatInt(l.Quantity, 10))},
			{text: w.l.decimal(l.UnitPrice, w.cur.Exponent())},
			{text: w.l.amount(l.Net, w.cur)},
			{text: w.l.percent(l.VATRate), note: cat},
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
		{w.l.t("Category"), 34, "L"}, {w.l.t("Rate"), 14, "R"}, {fmt.Sprintf(w.l.t("Taxable\n(%s)"), cur), 24, "R"}, {fmt.Sprintf(w.l.t("VAT\n(%s)"), cur), 22, "R"},
	}}
	rows := w.totalRows()
	const totalLine = 6.0
	w.need(max(t.height(len(d.VAT)), float64(len(rows))*totalLine+2))
	y := w.pdf.GetY()
	t.header(w)
	for _, v := range d.VAT {
		name := w.l.categoryName(v.Category)
		if v.Category != invoice.VATStandard {
			name += " (" + v.Category + ")"
		}
		t.row(w, []cell{{text: name}, {text: w.l.percent(v.Rate)}, {text: w.l.amount(v.Taxable, w.cur)}, {text: w.l.amount(v.Tax, w.cur)}})
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
		{label: w.l.t("Total net"), value: w.l.withCurrency(t.TaxExclusive, w.cur)},
		{label: w.l.t("VAT"), value: w.l.withCurrency(t.Tax, w.cur)},
	}
	if w.d.Type == invoice.TypeCreditNote {
		return append(rows, totalRow{label: w.l.t("Total credited"), value: w.l.withCurrency(t.TaxInclusive, w.cur), strong: true})
	}
	rows = append(rows, totalRow{label: w.l.t("Total"), value: w.l.withCurrency(t.TaxInclusive, w.cur)})
	if t.Prepaid > 0 {
		rows = append(rows, totalRow{label: w.l.t("Credit applied"), value: w.l.withCurrency(-t.Prepaid, w.cur)})
	}
	return append(rows, totalRow{label: w.l.t("Amount due"), value: w.l.withCurrency(t.Payable, w.cur), strong: true})
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
				s = w.l.t("Reverse charge: VAT to be paid by the customer")
			}
			s = strings.TrimSuffix(s, ".") + ". " + fmt.Sprintf(w.l.t("Seller's VAT ID %s, customer's VAT ID %s."), w.d.Seller.VATID, w.d.Buyer.VATID)
		}
		if s == "" {
			continue
		}
		if name := w.l.categoryName(v.Category); !strings.HasPrefix(strings.ToLower(s), strings.ToLower(name)) {
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
	due := w.l.withCurrency(d.Totals.Payable, w.cur)
	var head, say string
	var account [][2]string
	switch {
	case d.Type == invoice.TypeCreditNote:
		head, say = w.l.t("Credit"), fmt.Sprintf(w.l.t("This credit note credits %s to your account."), w.l.withCurrency(d.Totals.TaxInclusive, w.cur))
	case len(p.SettledBy) > 0:
		head, say = w.l.t("Payment"), w.settledBy(p.SettledBy)
	case d.Totals.Payable == 0:
		head, say = w.l.t("Payment"), w.l.t("Nothing to pay.")
	case p.Means == invoice.PayDirectDebit:
		from := w.l.t("your account")
		if p.DebtorIBAN != "" {
			from = fmt.Sprintf(w.l.t("account %s"), maskedIBAN(p.DebtorIBAN))
		}
		// The pre-notification: the amount, the date, the mandate and the
		// creditor; the amount is the one at issue, since a credit note
		// issued before the date is netted from the debit.
		head = w.l.t("Payment by SEPA direct debit")
		say = fmt.Sprintf(w.l.t("The amount due, %s at issue, will be debited on %s from %s under mandate %s, creditor identifier %s. "+
			"A credit note issued before then reduces the amount debited."), due, w.l.date(w.debitDate()), from, p.MandateID, p.CreditorID)
	default:
		head = w.l.t("Payment by bank transfer")
		if d.DueDate != 0 {
			say = fmt.Sprintf(w.l.t("Please transfer %s by %s to the account below, quoting the reference %s."), due, w.l.date(d.DueDate), reference(p.Reference))
		} else {
			say = fmt.Sprintf(w.l.t("Please transfer %s to the account below, quoting the reference %s."), due, reference(p.Reference))
		}
		account = [][2]string{{w.l.t("Account holder"), p.AccountName}, {"IBAN", iban(p.IBAN)}, {"BIC", p.BIC}, {w.l.t("Reference"), reference(p.Reference)}}
	}
	s := prose{head: head, after: 6, parts: []part{{size: 9, c: ink, lh: 4.6, text: say}}}
	if account != nil && w.cur == "EUR" {
		// The EPC QR code: a banking app reads the transfer from it, as
		// issued (not as the fonts show it). A transfer it cannot carry
		// has none: the invoice is written all the same.
		o := w.orig.Payment
		t := sepa.EPCTransfer{Name: o.AccountName, IBAN: o.IBAN, BIC: o.BIC, Amount: d.Totals.Payable, Reference: o.Reference}
		if !sepa.ValidCreditorReference(t.Reference) {
			t.Reference, t.Text = "", o.Reference
		}
		if qr, err := t.Payload(); err == nil {
			s.qr, s.caption = qr, w.l.t("Scan to pay")
		}
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
	t := w.l.spellDates(p.Terms)
	switch {
	case t == "" || strings.TrimSuffix(t, ".") == strings.TrimSuffix(say, "."):
		return ""
	case d.Type == invoice.TypeCreditNote:
		return t
	case p.Means == invoice.PayDirectDebit:
		return ""
	case d.Totals.Payable > 0 && len(p.SettledBy) == 0 && !w.adds(t, d.DueDate, d.Totals.Payable):
		return ""
	}
	return fmt.Sprintf(w.l.t("Payment terms: %s"), t)
}

// adds tells whether payment terms say more than the amount and the due
// date of a transfer: whether words are left once those and the words
// that only introduce them ("payable by", "due on") are taken out.
func (w *writer) adds(terms string, due civil.Date, payable int64) bool {
	t := strings.ReplaceAll(terms, nbsp, " ")
	facts := []string{money.Format(payable, w.cur), w.l.amount(payable, w.cur), string(w.cur)}
	if due != 0 {
		facts = append(facts, w.l.date(due))
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
func (w *writer) settledBy(numbers []string) string {
	if len(numbers) == 1 {
		return fmt.Sprintf(w.l.t("Settled by credit note %s: nothing to pay."), numbers[0])
	}
	return fmt.Sprintf(w.l.t("Settled by credit notes %s: nothing to pay."), strings.Join(numbers, ", "))
}

// notes are the document's notes (BT-22), a paragraph each.
func (w *writer) notes() []prose {
	if len(w.d.Notes) == 0 {
		return nil
	}
	s := prose{head: w.l.t("Notes")}
	for _, n := range w.d.Notes {
		s.parts = append(s.parts, part{size: 8.5, c: ink, lh: 4.2, text: n})
	}
	return []prose{s}
}
