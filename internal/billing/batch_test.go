package billing_test

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/store"
)

// A batch that fails as a whole (here its first posting) is billed again
// reseller by reseller: every reseller is billed, numbers are taken in
// reseller order without a gap, and the failed attempt left nothing. One
// batch of two, and two batches of one (the second staged while the first
// is issued).
func TestFailedBatchIsBilledResellerByReseller(t *testing.T) {
	for _, size := range []int{2, 1} {
		t.Run(fmt.Sprintf("batches of %d", size), func(t *testing.T) {
			e := newEnv(t)
			e.b.BatchSize = size
			e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,")
			e.declare("isp-de", "B-1,NEW,K-1,k@example.de,K,DE,de,IDE-BKP-M,2,2026-01-15,,,,")
			var posted atomic.Int32
			e.b.Fail = func(step string) error {
				if step == "posted" && posted.Add(1) == 1 {
					return errors.New("injected once")
				}
				return nil
			}
			rep := e.bill("2026-02", "")
			var got []string
			for _, b := range rep.Billed {
				got = append(got, b.Reseller+" "+billing.PeriodText(b.Period))
			}
			want(t, "billed", got, []string{"isp-de 2026-01", "telco-fr 2026-01", "isp-de 2026-02", "telco-fr 2026-02"})
			for i, c := range []struct{ reseller, period string }{{"isp-de", "2026-01"}, {"telco-fr", "2026-01"}, {"isp-de", "2026-02"}, {"telco-fr", "2026-02"}} {
				if n := e.docs(c.reseller, c.period)[0].Number; n != fmt.Sprintf("CH-2026-%06d", i+1) {
					t.Fatalf("%s %s: invoice %s", c.reseller, c.period, n)
				}
			}
			if got := e.counts(); !strings.HasPrefix(got, "4 documents, 4 numbers") {
				t.Fatalf("after a batch failed once: %s", got)
			}
		})
	}
}

// A reseller that cannot be billed (a SKU without a price version for the
// month) is reported; the others of its batch are billed in it.
func TestUnpricedResellerLeavesItsBatchBilled(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,")
	e.declare("isp-de", "B-1,NEW,K-1,k@example.de,K,DE,de,IDE-BKP-M,2,2026-01-15,,,,")
	// isp-de's backup has no price in January any more.
	if _, err := e.pool.Exec(e.ctx, `UPDATE price_versions SET valid_from = '2026-02-01' WHERE reseller_id = 'isp-de' AND sku = 'IDE-BKP-M'
		AND valid_from = (SELECT min(valid_from) FROM price_versions WHERE reseller_id = 'isp-de' AND sku = 'IDE-BKP-M')`); err != nil {
		t.Fatal(err)
	}
	p, _ := billing.ParsePeriod("2026-01")
	preview, err := e.b.Run(e.ctx, billing.Request{Period: p, DryRun: true})
	if err != nil || len(preview.Failed()) != 1 {
		t.Fatalf("the preview: %v, %+v", err, preview)
	}
	rep, err := e.b.Run(e.ctx, billing.Request{Period: p})
	if err != nil {
		t.Fatal(err)
	}
	f := rep.Failed()
	if len(f) != 1 || f[0].Reseller != "isp-de" || !errors.Is(f[0].Err, billing.ErrUnpriced) || !strings.Contains(f[0].Err.Error(), "B-1 (SKU IDE-BKP-M, 2026-01)") ||
		!billing.ResellersOwn(f[0].Err) || billing.ResellersOwn(errors.New("the database system is shutting down")) {
		t.Fatalf("failed: %+v", f)
	}
	if d := e.docs("telco-fr", "2026-01"); len(d) != 1 || d[0].Number != "CH-2026-000001" {
		t.Fatalf("telco-fr: %+v", d)
	}
	if d := e.docs("isp-de", "2026-01"); len(d) != 0 {
		t.Fatalf("isp-de was billed: %+v", d)
	}
}

// What a run bills is worked out from the last period billed: a
// subscription seen by it is billed from the month after; one declared
// later (still running, or ended before that period) from its start; a
// sale dated in a period billed, declared later, is billed once.
func TestCatchUpFromTheLastPeriodBilled(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-A,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,",
		"S-B,NEW,C-2,b@example.fr,B,FR,fr,TFR-VPN-M,1,2026-01-10,,,,",
		"A-1,NEW,C-5,e@example.fr,E,FR,fr,TFR-AV-1Y,1,2026-03-02,,,,")
	e.declare("telco-fr", "T-B,TERMINATE,C-2,,,,,TFR-VPN-M,1,2026-01-31,,,,S-B")
	e.bill("2026-03", "telco-fr")
	e.declare("telco-fr", "S-LATE,NEW,C-3,c@example.fr,C,FR,fr,TFR-VPN-M,1,2026-02-10,,,,",
		"S-GONE,NEW,C-4,d@example.fr,D,FR,fr,TFR-VPN-M,1,2026-01-05,,,,",
		"A-LATE,NEW,C-6,f@example.fr,F,FR,fr,TFR-AV-1Y,1,2026-02-20,,,,")
	e.declare("telco-fr", "T-GONE,TERMINATE,C-4,,,,,TFR-VPN-M,1,2026-02-15,,,,S-GONE")
	e.bill("2026-04", "telco-fr")
	want(t, "April", lines(e.docs("telco-fr", "2026-04")[0]), []string{
		"TFR-VPN-M 2026-01 1×3.99=3.99",   // S-GONE
		"TFR-AV-1Y 2026-02 1×24.90=24.90", // A-LATE
		"TFR-VPN-M 2026-02 2×3.99=7.98",   // S-GONE, S-LATE
		"TFR-VPN-M 2026-03 1×3.99=3.99",   // S-LATE
		"TFR-VPN-M 2026-04 2×3.99=7.98",   // S-A, S-LATE
	})
	e.bill("2026-05", "telco-fr")
	want(t, "May", lines(e.docs("telco-fr", "2026-05")[0]), []string{"TFR-VPN-M 2026-05 2×3.99=7.98"})
}

// ledger check finds a month missing among a subscription's charged
// months (what the next run bills is worked out from them).
func TestLedgerCheckFindsAMonthNotCharged(t *testing.T) {
	e := newEnv(t)
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,")
	e.bill("2026-03", "telco-fr")
	tx, err := e.pool.Begin(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(e.ctx) //nolint:errcheck
	if _, err := tx.Exec(e.ctx, `ALTER TABLE invoice_items DISABLE TRIGGER invoice_items_immutable;
		DELETE FROM invoice_items WHERE declaration_id = 'S-1' AND service_month = '2026-02-01'`); err != nil {
		t.Fatal(err)
	}
	vs, err := ledger.Check(e.ctx, store.New(tx))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, v := range vs {
		found = found || strings.Contains(v.String(), "subscription S-1 of telco-fr started in 2026-01; 2 months are charged, from 2026-01 to 2026-03")
	}
	if !found {
		t.Fatalf("violations: %v", vs)
	}
}

// A reseller that another run bills while this one stages it (here, from
// the hook at the end of the stage, without the lock) is reported as
// already billed, with the month its next declarations go to: the run that
// loses the race said "nothing declared".
func TestResellerBilledMeanwhileIsReported(t *testing.T) {
	e := newEnv(t)
	e.b.BatchSize = 1 // two batches: staged before the lock is taken
	e.declare("telco-fr", "S-1,NEW,C-1,a@example.fr,A,FR,fr,TFR-VPN-M,1,2026-01-15,,,,")
	e.declare("isp-de", "B-1,NEW,K-1,k@example.de,K,DE,de,IDE-BKP-M,2,2026-01-15,,,,")
	other := &billing.Biller{Pool: e.pool, Now: e.b.Now}
	var once atomic.Bool
	e.b.Fail = func(step string) error {
		if step == "grouped" && once.CompareAndSwap(false, true) {
			rep, err := other.Run(e.ctx, billing.Request{Period: mustPeriod(t, "2026-01"), Reseller: "isp-de"})
			if err != nil || len(rep.Failed()) > 0 {
				t.Errorf("the other run: %v %v", err, rep.Failed())
			}
		}
		return nil
	}
	rep := e.bill("2026-01", "")
	var got []string
	for _, b := range rep.Billed {
		got = append(got, fmt.Sprintf("%s %s already %v next %s documents %d", b.Reseller, billing.PeriodText(b.Period), b.Already, billing.PeriodText(b.Next), len(b.Documents)))
	}
	want(t, "report", got, []string{"isp-de 2026-01 already true next 2026-02 documents 0", "telco-fr 2026-01 already false next 1970-01 documents 1"})
	if got := e.counts(); !strings.HasPrefix(got, "2 documents, 2 numbers") {
		t.Fatalf("%s", got)
	}
}

func mustPeriod(t *testing.T, s string) civil.Date {
	t.Helper()
	p, err := billing.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
