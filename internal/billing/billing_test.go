package billing_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/store"
)

// The rules by date, on telco-fr (TFR-VPN-M: 3.99 a month, 2.80 to the
// publisher; standard VAT 20 %).
func TestMonthsOwedByDate(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr",
		"S-31,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-31,,,,",    // starts on the 31st: January owed
		"S-ONE,NEW,C-2,b@example.fr,B,FR,fr,TFR-VPN-M,2,2026-01-10,,,,",   // starts and ends in January
		"S-END1,NEW,C-3,c@example.fr,C,FR,fr,TFR-VPN-M,1,2026-01-15,,,,",  // ends on 1 March: March owed, April not
		"S-EARLY,NEW,C-4,d@example.fr,D,FR,fr,TFR-VPN-M,1,2026-02-10,,,,", // terminated before its start month is billed
	)
	e.declare("telco-fr",
		"T-ONE,TERMINATE,C-2,,,,,TFR-VPN-M,2,2026-01-20,,,,S-ONE",
		"T-END1,TERMINATE,C-3,,,,,TFR-VPN-M,1,2026-03-01,,,,S-END1",
		"T-EARLY,TERMINATE,C-4,,,,,TFR-VPN-M,1,2026-02-20,,,,S-EARLY",
	)
	e.bill("2026-04", "telco-fr")
	want(t, "January", lines(e.docs("telco-fr", "2026-01")[0]), []string{"TFR-VPN-M 2026-01 4×3.99=15.96"})
	want(t, "February", lines(e.docs("telco-fr", "2026-02")[0]), []string{"TFR-VPN-M 2026-02 3×3.99=11.97"})
	want(t, "March", lines(e.docs("telco-fr", "2026-03")[0]), []string{"TFR-VPN-M 2026-03 2×3.99=7.98"})
	want(t, "April", lines(e.docs("telco-fr", "2026-04")[0]), []string{"TFR-VPN-M 2026-04 1×3.99=3.99"})
	jan := e.docs("telco-fr", "2026-01")[0]
	if jan.Number != "CH-2026-000001" || jan.Totals.Tax != 319 || jan.Totals.Payable != 1915 || jan.IssueDate.String() != "2026-12-01" || jan.DueDate.String() != "2026-12-31" {
		t.Fatalf("January: %s tax %d payable %d issued %s due %s", jan.Number, jan.Totals.Tax, jan.Totals.Payable, jan.IssueDate, jan.DueDate)
	}
	// A rerun bills nothing more.
	rep := e.bill("2026-04", "telco-fr")
	if len(rep.Billed) != 1 || !rep.Billed[0].Already {
		t.Fatalf("rerun: %+v", rep.Billed)
	}
}

// A price change between months: isp-de's backup is 4.50 until June and
// 4.90 from July; reverse charge (AE).
func TestPriceChangeBetweenMonths(t *testing.T) {
	e := newEnv(t)
	e.declare("isp-de", "B-1,NEW,K-1,k@example.de,K,DE,de,IDE-BKP-M,2,2026-06-15,,,,")
	e.bill("2026-07", "isp-de")
	jun, jul := e.docs("isp-de", "2026-06")[0], e.docs("isp-de", "2026-07")[0]
	want(t, "June", lines(jun), []string{"IDE-BKP-M 2026-06 2×4.50=9.00"})
	want(t, "July", lines(jul), []string{"IDE-BKP-M 2026-07 2×4.90=9.80"})
	if jul.VAT[0].Category != "AE" || jul.Totals.Tax != 0 || jul.VAT[0].ExemptionCode != "VATEX-EU-AE" {
		t.Fatalf("July VAT: %+v", jul.VAT)
	}
}

// A subscription declared late is caught up with its own service months;
// a termination declared late is credited by a credit note that names the
// invoices it credits.
func TestLateDeclarationsCaughtUpAndCredited(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,")
	e.bill("2026-03", "telco-fr")
	// In April: a NEW dated January, and S-1 ended on 31 January.
	e.declare("telco-fr", "S-LATE,NEW,C-2,b@example.fr,B,FR,fr,TFR-VPN-M,3,2026-01-05,,,,",
		"T-1,TERMINATE,C-1,,,,,TFR-VPN-M,1,2026-01-31,,,,S-1")
	e.bill("2026-04", "telco-fr")
	docs := e.docs("telco-fr", "2026-04")
	if len(docs) != 2 {
		t.Fatalf("%d documents for April", len(docs))
	}
	inv, cn := docs[0], docs[1]
	want(t, "April invoice", lines(inv), []string{
		"TFR-VPN-M 2026-01 3×3.99=11.97", "TFR-VPN-M 2026-02 3×3.99=11.97", "TFR-VPN-M 2026-03 3×3.99=11.97", "TFR-VPN-M 2026-04 3×3.99=11.97"})
	if cn.Type != invoice.TypeCreditNote || cn.Number != "CN-2026-000001" {
		t.Fatalf("credit note %s %s", cn.Type, cn.Number)
	}
	want(t, "April credit note", lines(cn), []string{
		"TFR-VPN-M 2026-02 1×3.99=3.99 credits CH-2026-000002", "TFR-VPN-M 2026-03 1×3.99=3.99 credits CH-2026-000003"})
	if cn.Lines[0].CreditsLine != 1 || cn.Lines[1].CreditsLine != 1 { // each invoice had one line
		t.Fatalf("the run's credit note credits lines %d and %d", cn.Lines[0].CreditsLine, cn.Lines[1].CreditsLine)
	}
	if len(cn.References) != 2 || cn.References[0].Number != "CH-2026-000002" || cn.References[1].Number != "CH-2026-000003" ||
		cn.Totals.TaxInclusive != 958 || cn.PeriodStart.String() != "2026-02-01" || cn.PeriodEnd.String() != "2026-03-31" {
		t.Fatalf("credit note: refs %+v totals %+v period %s–%s", cn.References, cn.Totals, cn.PeriodStart, cn.PeriodEnd)
	}
	// What it credits of each invoice adds up to its total.
	if cn.References[0].Amount+cn.References[1].Amount != cn.Totals.TaxInclusive {
		t.Fatalf("credited %d + %d, total %d", cn.References[0].Amount, cn.References[1].Amount, cn.Totals.TaxInclusive)
	}
	// The invoice period spans its lines.
	if inv.PeriodStart.String() != "2026-01-01" || inv.PeriodEnd.String() != "2026-04-30" || inv.BillingMonth != "2026-04" {
		t.Fatalf("invoice period %s–%s month %s", inv.PeriodStart, inv.PeriodEnd, inv.BillingMonth)
	}
	e.check()
	// What the credit settled: February's and March's invoices by what it
	// credits of each (3.99 + 20 % = 4.79).
	var open2, open3 int64
	if err := e.pool.QueryRow(e.ctx, `SELECT
		(SELECT gross - coalesce((SELECT sum(amount) FROM settlements WHERE invoice_id = i.id), 0) FROM invoices i WHERE number = 'CH-2026-000002'),
		(SELECT gross - coalesce((SELECT sum(amount) FROM settlements WHERE invoice_id = i.id), 0) FROM invoices i WHERE number = 'CH-2026-000003')`).Scan(&open2, &open3); err != nil {
		t.Fatal(err)
	}
	if open2 != 0 || open3 != 0 {
		t.Fatalf("open after the credit: %d, %d (each was 4.79)", open2, open3)
	}
}

// An invoice credited line by line is cleared to the cent: each credit
// note's VAT is what its lines bring the VAT credited of the invoice to,
// less what was credited before. Three lines of 11.97 and one of 15.96 at
// 20 % have 10.37 of VAT; credited each on its own (2.39, 2.39, 2.39,
// 3.19), they would have left 0.01 open for ever.
func TestCreditingLineByLineClearsTheInvoice(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,")
	e.bill("2026-03", "telco-fr")
	e.declare("telco-fr", "S-LATE,NEW,C-2,b@example.fr,B,FR,fr,TFR-VPN-M,3,2026-01-05,,,,")
	e.bill("2026-04", "telco-fr")
	apr := e.docs("telco-fr", "2026-04")[0]
	if len(apr.Lines) != 4 || apr.Totals.Tax != 1037 {
		t.Fatalf("April: %v, VAT %d", lines(apr), apr.Totals.Tax)
	}
	var taxes []int64
	var credited int64
	for _, l := range apr.Lines {
		cn, _, err := e.b.Credit(e.ctx, apr.Number, []int{l.No}, "Line by line")
		if err != nil {
			t.Fatal(err)
		}
		taxes = append(taxes, cn.Totals.Tax)
		credited += cn.References[0].Amount
		if cn.References[0].Amount != cn.Totals.TaxInclusive || cn.Totals.TaxInclusive != cn.Totals.TaxExclusive+cn.Totals.Tax {
			t.Fatalf("credit note of line %d: totals %+v, credits %+v", l.No, cn.Totals, cn.References)
		}
	}
	var sum int64
	for _, x := range taxes {
		sum += x
	}
	if sum != apr.Totals.Tax || credited != apr.Totals.TaxInclusive {
		t.Fatalf("credit notes' VAT %v (sum %d), credited %d; the invoice: VAT %d, gross %d", taxes, sum, credited, apr.Totals.Tax, apr.Totals.TaxInclusive)
	}
	var open int64
	if err := e.pool.QueryRow(e.ctx, `SELECT gross - coalesce((SELECT sum(amount) FROM settlements WHERE invoice_id = i.id), 0)
		FROM invoices i WHERE number = $1`, apr.Number).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		t.Fatalf("%s open %d after crediting every line", apr.Number, open)
	}
	e.check()
}

// One_time and usage items are billed in the month of their date; a line
// groups items and rounds once, the difference booked to hub:rounding.
func TestSalesAndRounding(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr",
		"A-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-AV-1Y,1,2026-02-03,,,,",
		"A-2,NEW,C-2,b@example.fr,B,FR,fr,TFR-AV-1Y,2,2026-02-20,,,,",
		"U-1,USAGE,C-1,,,,,TFR-BKP-GB,7,2026-02-01,2026-02-28,,,", // 7 × 0.0215 = 0.1505 → 0.15
		"U-2,USAGE,C-2,,,,,TFR-BKP-GB,7,2026-02-01,2026-02-28,,,", // again 0.15; the line: 14 × 0.0215 = 0.301 → 0.30
	)
	var march []string // ten items of 1 × 0.0215 → 0.02 each; the line 10 × 0.0215 = 0.215 → 0.22
	for i := range 10 {
		march = append(march, fmt.Sprintf("M-%d,USAGE,C-1,,,,,TFR-BKP-GB,1,2026-03-01,2026-03-31,,,", i))
	}
	e.declare("telco-fr", march...)
	e.bill("2026-02", "telco-fr")
	feb := e.docs("telco-fr", "2026-02")[0]
	want(t, "February", lines(feb), []string{"TFR-AV-1Y 2026-02 3×24.90=74.70", "TFR-BKP-GB 2026-02 14×0.0215=0.30"})
	if l := feb.Lines[0]; l.PeriodStart.String() != "2026-02-03" || l.PeriodEnd.String() != "2026-02-20" {
		t.Fatalf("one_time line period %s–%s", l.PeriodStart, l.PeriodEnd)
	}
	rounding := func() (b int64) {
		if err := e.pool.QueryRow(e.ctx, `SELECT balance FROM accounts WHERE code = 'hub:rounding'`).Scan(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	if r := rounding(); r != 0 { // 0.30 line, items 0.15 + 0.15: no difference
		t.Fatalf("rounding after February: %d", r)
	}
	e.bill("2026-03", "telco-fr")
	want(t, "March", lines(e.docs("telco-fr", "2026-03")[0]), []string{"TFR-BKP-GB 2026-03 10×0.0215=0.22"})
	if r := rounding(); r != -2 { // the line is 0.02 more than its items: credited to hub:rounding
		t.Fatalf("rounding after March: %d, want -2", r)
	}
}

// A failure at any step of issuing leaves nothing: no document, no number
// taken, no posting, no item billed, the period not billed; the next run
// issues it with the first number.
func TestFailureAtEachStepLeavesNothing(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,",
		"A-1,NEW,C-2,b@example.fr,B,FR,fr,TFR-AV-1Y,1,2026-01-20,,,,")
	e.bill("2026-01", "telco-fr")
	e.declare("telco-fr", "T-1,TERMINATE,C-1,,,,,TFR-VPN-M,1,2026-01-31,,,,S-1", // February was not billed: nothing to credit…
		"S-2,NEW,C-3,c@example.fr,C,FR,fr,TFR-VPN-M,1,2026-02-01,,,,")
	before := e.counts()
	period, _ := billing.ParsePeriod("2026-02")
	for _, step := range []string{"grouped", "staged", "accrued", "numbered", "posted", "written", "recorded", "queued"} {
		e.b.Fail = func(s string) error {
			if s == step {
				return fmt.Errorf("injected at %s", s)
			}
			return nil
		}
		rep, err := e.b.Run(e.ctx, billing.Request{Period: period, Reseller: "telco-fr"})
		if err != nil {
			t.Fatal(err)
		}
		if f := rep.Failed(); len(f) != 1 || !strings.Contains(f[0].Err.Error(), "injected at "+step) {
			t.Fatalf("%s: %+v", step, rep.Billed)
		}
		if got := e.counts(); got != before {
			t.Fatalf("after a failure at %s: %s, before %s", step, got, before)
		}
	}
	e.b.Fail = nil
	e.bill("2026-02", "telco-fr")
	feb := e.docs("telco-fr", "2026-02")
	if len(feb) != 1 || feb[0].Number != "CH-2026-000002" {
		t.Fatalf("February after the failures: %d documents, %+v", len(feb), feb)
	}
	want(t, "February", lines(feb[0]), []string{"TFR-VPN-M 2026-02 1×3.99=3.99"})
}

// invoice credit: chosen lines, then the rest; a line credited once is
// not credited again; the reason is on the document.
func TestManualCreditNote(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,2,2026-01-15,,,,",
		"A-1,NEW,C-2,b@example.fr,B,FR,fr,TFR-AV-1Y,3,2026-01-20,,,,")
	e.bill("2026-01", "telco-fr")
	jan := e.docs("telco-fr", "2026-01")[0]
	want(t, "January", lines(jan), []string{"TFR-AV-1Y 2026-01 3×24.90=74.70", "TFR-VPN-M 2026-01 2×3.99=7.98"})
	cn, _, err := e.b.Credit(e.ctx, jan.Number, []int{1}, "Antivirus sold twice by mistake")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "credit note", lines(cn), []string{"TFR-AV-1Y 2026-01 3×24.90=74.70 credits " + jan.Number})
	if cn.Reason != "Antivirus sold twice by mistake" || cn.Totals.TaxInclusive != 8964 || cn.References[0].Number != jan.Number {
		t.Fatalf("credit note: %q %+v %+v", cn.Reason, cn.Totals, cn.References)
	}
	if _, _, err := e.b.Credit(e.ctx, jan.Number, []int{1}, "again"); !errors.Is(err, billing.ErrNothingToCredit) {
		t.Fatalf("crediting line 1 twice: %v", err)
	}
	rest, _, err := e.b.Credit(e.ctx, jan.Number, nil, "Contract cancelled")
	if err != nil {
		t.Fatal(err)
	}
	want(t, "the rest", lines(rest), []string{"TFR-VPN-M 2026-01 2×3.99=7.98 credits " + jan.Number})
	if cn.Lines[0].CreditsLine != 1 || rest.Lines[0].CreditsLine != 2 {
		t.Fatalf("the credit notes credit lines %d and %d of %s, not 1 and 2", cn.Lines[0].CreditsLine, rest.Lines[0].CreditsLine, jan.Number)
	}
	if _, _, err := e.b.Credit(e.ctx, cn.Number, nil, "a credit note"); !errors.Is(err, billing.ErrNotAnInvoice) {
		t.Fatalf("crediting a credit note: %v", err)
	}
	// The invoice is settled by the two credit notes; the receivable is 0.
	var receivable int64
	if err := e.pool.QueryRow(e.ctx, `SELECT balance FROM accounts WHERE code = 'reseller:telco-fr:receivable'`).Scan(&receivable); err != nil {
		t.Fatal(err)
	}
	if receivable != 0 {
		t.Fatalf("receivable %d after crediting everything", receivable)
	}
	e.check()
	// The documents are immutable.
	for _, sql := range []string{`UPDATE invoices SET net = 0 WHERE number = '` + jan.Number + `'`, `DELETE FROM invoice_lines`,
		`UPDATE invoice_items SET amount = 0`, `DELETE FROM settlements`, `DELETE FROM billed_periods`} {
		if _, err := e.pool.Exec(e.ctx, sql); store.Constraint(err) != "documents_immutable" {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

// --dry-run shows what would be issued, numbers included, and leaves
// nothing: the real run then issues the same documents.
func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,",
		"A-1,NEW,C-2,b@example.fr,B,FR,fr,TFR-AV-1Y,1,2026-02-20,,,,")
	before := e.counts()
	period, _ := billing.ParsePeriod("2026-02")
	rep, err := e.b.Run(e.ctx, billing.Request{Period: period, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	var preview []string
	for _, b := range rep.Billed {
		for _, d := range b.Documents {
			preview = append(preview, d.Number+" "+strings.Join(lines(d), "; "))
		}
	}
	want(t, "preview", preview, []string{"CH-2026-000001 TFR-VPN-M 2026-01 1×3.99=3.99", "CH-2026-000002 TFR-AV-1Y 2026-02 1×24.90=24.90; TFR-VPN-M 2026-02 1×3.99=3.99"})
	if got := e.counts(); got != before {
		t.Fatalf("a dry run left %s (before: %s)", got, before)
	}
	e.bill("2026-02", "")
	var issued []string
	for _, p := range []string{"2026-01", "2026-02"} {
		for _, d := range e.docs("telco-fr", p) {
			issued = append(issued, d.Number+" "+strings.Join(lines(d), "; "))
		}
	}
	want(t, "issued", issued, preview)
}

// A month not over yet in the hub's time zone is not billed.
func TestOpenMonthIsRefused(t *testing.T) {
	e := newEnv(t)
	period, _ := billing.ParsePeriod("2026-12")
	if _, err := e.b.Run(e.ctx, billing.Request{Period: period}); !errors.Is(err, billing.ErrPeriod) {
		t.Fatalf("billing December on 1 December: %v", err)
	}
	if _, err := billing.ParsePeriod("2026-13"); !errors.Is(err, billing.ErrPeriod) {
		t.Fatalf("month 13: %v", err)
	}
}

// Dates are the hub's (Europe/Paris): at 00:30 on 1 January in Paris (23:30
// UTC on 31 December) December is over, the issue date is 1 January and
// the numbers are the new year's.
func TestNewYearInTheHubsTimeZone(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "A-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-AV-1Y,1,2026-12-20,,,,")
	now := time.Date(2026, 12, 31, 23, 30, 0, 0, time.UTC)
	e.b.Now = func() time.Time { return now }
	e.bill("2026-12", "telco-fr")
	dec := e.docs("telco-fr", "2026-12")[0]
	if dec.Number != "CH-2027-000001" || dec.IssueDate.String() != "2027-01-01" || dec.DueDate.String() != "2027-02-01" {
		// 30 days: Sunday 31 January, and a wallet invoice is due when it is
		// debited, on the next TARGET2 business day.
		t.Fatalf("December's invoice: %s issued %s due %s", dec.Number, dec.IssueDate, dec.DueDate)
	}
	// One hour earlier, in Paris still 31 December: December is not over.
	e.b.Now = func() time.Time { return now.Add(-time.Hour) }
	period, _ := billing.ParsePeriod("2026-12")
	if _, err := e.b.Run(e.ctx, billing.Request{Period: period}); !errors.Is(err, billing.ErrPeriod) {
		t.Fatalf("billing December at 23:30 on 31 December in Paris: %v", err)
	}
}

// A credit note's reason is printed: control characters and characters
// that reorder text are refused before anything is issued.
func TestCreditReasonIsPrintableText(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "A-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-AV-1Y,1,2026-01-20,,,,")
	e.bill("2026-01", "telco-fr")
	jan := e.docs("telco-fr", "2026-01")[0]
	before := e.counts()
	for _, reason := range []string{"Geste \x1b[31mcommercial", "Avoir\u202e", "   ", strings.Repeat("x", 501)} {
		if _, _, err := e.b.Credit(e.ctx, jan.Number, nil, reason); !errors.Is(err, billing.ErrNoReason) {
			t.Errorf("reason %q: %v", reason, err)
		}
	}
	if got := e.counts(); got != before {
		t.Fatalf("refused reasons left %s (before: %s)", got, before)
	}
	if _, _, err := e.b.Credit(e.ctx, jan.Number, nil, "Geste commercial 🙏"); err != nil {
		t.Fatalf("an emoji is text: %v", err)
	}
}

// A wallet reseller's contract may shorten the pre-notification: with 5
// days and 7-day terms, the invoice of 1 December is debited, and due,
// on 8 December; with the rulebook's 14, on 15 December.
func TestPrenotificationOfTheContract(t *testing.T) {
	for notice, want := range map[int]string{5: "2026-12-08", 14: "2026-12-15"} {
		e := newEnv(t)
		for _, sql := range []string{`UPDATE billing_profiles SET payment_terms_days = 7 WHERE reseller_id = 'telco-fr'`,
			fmt.Sprintf(`UPDATE resellers SET prenotification_days = %d WHERE partner_id = 'telco-fr'`, notice)} {
			if _, err := e.pool.Exec(e.ctx, sql); err != nil {
				t.Fatal(err)
			}
		}
		e.declare("telco-fr", "P-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-AV-1Y,1,2026-11-20,,,,")
		e.bill("2026-11", "telco-fr")
		doc := e.docs("telco-fr", "2026-11")[0]
		if doc.Payment.DebitDate.String() != want || doc.DueDate.String() != want {
			t.Errorf("%d days' notice: debited %s, due %s; want %s", notice, doc.Payment.DebitDate, doc.DueDate, want)
		}
	}
}
