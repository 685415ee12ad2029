package billing_test

// The set-up the billing tests share: the sample world with an ingest
// service and a biller at a fixed clock, declaring rows, billing a month,
// reading the documents issued, and checking the ledger.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// env is a sample world with an ingest service and a biller whose clock is
// 1 December 2026, 07:00 in Paris; the ledger's invariants are checked
// when the test ends.
type env struct {
	t    *testing.T
	ctx  context.Context
	pool *store.Pool
	svc  *ingest.Service
	b    *billing.Biller
	data string
	n    int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	pool := pgtest.WithWorld(t, pgtest.SampleConfig)
	data := t.TempDir()
	svc := ingest.New(pool, data)
	t.Cleanup(func() { svc.Close() })
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	e := &env{t: t, ctx: context.Background(), pool: pool, svc: svc, data: data,
		b: &billing.Biller{Pool: pool, Now: func() time.Time { return now }}}
	t.Cleanup(e.check)
	return e
}

const header = "declaration_id,action,customer_id,customer_email,customer_name,country,language,sku,quantity,start_date,end_date,unit_price,currency,subscription_ref"

// declare posts rows (after the header) as one telco-fr (or reseller) file
// and fails unless every row is accepted.
func (e *env) declare(reseller string, rows ...string) {
	e.t.Helper()
	e.n++
	p := filepath.Join(e.t.TempDir(), fmt.Sprintf("decl_%02d.csv", e.n))
	if err := os.WriteFile(p, []byte(header+"\n"+strings.Join(rows, "\n")+"\n"), 0o600); err != nil {
		e.t.Fatal(err)
	}
	o, err := e.svc.Ingest(e.ctx, ingest.Request{Partner: reseller, Path: p})
	if err != nil {
		e.t.Fatal(err)
	}
	if o.Status != "ACCEPTED" {
		e.t.Fatalf("%s: %s: %+v", p, o.Status, o.Problems)
	}
}

func (e *env) bill(period string, reseller string) *billing.Report {
	e.t.Helper()
	p, err := billing.ParsePeriod(period)
	if err != nil {
		e.t.Fatal(err)
	}
	rep, err := e.b.Run(e.ctx, billing.Request{Period: p, Reseller: reseller})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range rep.Failed() {
		e.t.Fatalf("%s %s: %v", f.Reseller, billing.PeriodText(f.Period), f.Err)
	}
	return rep
}

// docs are the documents of reseller issued for period, by number.
func (e *env) docs(reseller, period string) []*invoice.Document {
	e.t.Helper()
	p, _ := billing.ParsePeriod(period)
	list, err := store.Invoices(e.ctx, e.pool, reseller, p)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*invoice.Document
	for _, li := range list {
		var d invoice.Document
		if err := json.Unmarshal(li.Document, &d); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, &d)
	}
	return out
}

// lines renders a document's lines as "SKU month qty×price=net" strings.
func lines(d *invoice.Document) []string {
	var s []string
	for _, l := range d.Lines {
		x := fmt.Sprintf("%s %s %d×%s=%s", l.SKU, l.ServiceMonth, l.Quantity, l.UnitPrice, d.Amount(l.Net))
		if l.Credits != "" {
			x += " credits " + l.Credits
		}
		s = append(s, x)
	}
	return s
}

// check fails the test for each ledger invariant that does not hold.
func (e *env) check() {
	vs, err := ledger.Check(e.ctx, store.New(e.pool))
	if err != nil {
		e.t.Errorf("checking the ledger: %v", err)
	}
	for _, v := range vs {
		e.t.Errorf("ledger invariant: %v", v)
	}
}

func want(t *testing.T, what string, got, w []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(w, "\n") {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, w)
	}
}

// counts are what issuing leaves behind: documents, numbers taken, journal
// entries, billed items and periods.
func (e *env) counts() string {
	e.t.Helper()
	var docs, numbers, entries, items, periods int
	if err := e.pool.QueryRow(e.ctx, `SELECT (SELECT count(*) FROM invoices), (SELECT coalesce(sum(last), 0) FROM document_counters),
		(SELECT count(*) FROM journal_entries WHERE kind <> 'declarations'), (SELECT count(*) FROM invoice_items), (SELECT count(*) FROM billed_periods)`).
		Scan(&docs, &numbers, &entries, &items, &periods); err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("%d documents, %d numbers, %d entries, %d items, %d periods", docs, numbers, entries, items, periods)
}
