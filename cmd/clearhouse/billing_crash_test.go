package main_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// TestBillingKilledAtRandomMoments: clearhouse serve bills 40 resellers
// (2 to 5 months each, one with nothing declared) on a schedule that fires
// every 2 s, and is killed with SIGKILL at random points of the run (the
// first half of the kills) and of the writing of the documents, 8 times
// (CLEARHOUSE_CRASH_KILLS), restarted each time. At the end every reseller has one invoice per month with
// exactly what it owes, numbered without gap in issue order, the ledger
// checks, and each outbox holds the four files of each of its reseller's
// documents, whole.
func TestBillingKilledAtRandomMoments(t *testing.T) {
	kills := envInt(t, "CLEARHOUSE_CRASH_KILLS", 8)
	w := newBillingWorld(t, 40, 300)
	start := time.Now()
	var midRun, midDocs int
	for k := range kills {
		billed, docs := w.billed(), w.documentFiles()
		if billed == w.periods && docs == 4*w.invoices {
			break
		}
		srv := serveFor(t, w.url, w.data, "--billing-batch", "7") // batches staged ahead, killed too
		if billed < w.periods && k < kills/2 {
			// The first half of the kills: at a random point of what is
			// left to bill, once this incarnation has committed a random
			// number of the periods left (short of the last five batches
			// of 7, so that the kill lands mid-run: the run takes a second
			// or two here), and a random moment of up to 30 ms after. A
			// random moment of the run's time missed it once the run got
			// faster.
			left := w.periods - billed
			target := billed + 1 + rand.IntN(max(1, left-35))
			for deadline := time.Now().Add(30 * time.Second); w.billed() < target; time.Sleep(2 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("billing under way: %d of %d periods billed, not %d within 30 s", w.billed(), w.periods, target)
				}
			}
			time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
		} else {
			// The others: while the documents are written, once billing is done.
			waitFor(t, 60*time.Second, "billing done", func() bool { return w.billed() == w.periods })
			waitFor(t, 30*time.Second, "documents being written", func() bool { return w.documentFiles() > docs })
			time.Sleep(time.Duration(rand.IntN(400)) * time.Millisecond)
		}
		srv.kill()
		after, afterDocs := w.billed(), w.documentFiles()
		t.Logf("kill %d: %d of %d periods billed, %d of %d document files", k+1, after, w.periods, afterDocs, 4*w.invoices)
		switch {
		case after < w.periods:
			midRun++
		case afterDocs < 4*w.invoices:
			midDocs++
		}
	}
	t.Logf("%d of %d kills landed mid-run, %d while the documents were being written", midRun, kills, midDocs)
	if midRun == 0 {
		t.Fatal("no kill landed mid-run: the test proved nothing")
	}
	srv := serveFor(t, w.url, w.data)
	w.waitDone(t, srv)
	t.Logf("billed and written %s after the first start", time.Since(start).Round(time.Millisecond))
	srv.stop()
	w.check(t)
}

// TestBillingThreeInstancesAndAManualRun: three clearhouse serve processes
// with the quick billing schedule, clearhouse bill --period (the month
// before) for one reseller and clearhouse bill --period for all, each
// waiting for the billing lock, which the test holds until they all wait:
// a scheduled run first, then the one reseller's command, then the command
// for all. The lock is granted in that order, so the one reseller's
// command bills it while the scheduled run is at its first batch (the
// reseller is in the last), and the instances later find it billed. At the
// end: one invoice per reseller and month, numbered without gap in issue
// order, the ledger checks, and every document's files once in its
// reseller's outbox.
func TestBillingThreeInstancesAndAManualRun(t *testing.T) {
	w := newBillingWorld(t, 20, 300)
	ctx := context.Background()
	start := time.Now()
	hold, err := w.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Release()
	if _, err := hold.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('clearhouse:billing', 0))`); err != nil {
		t.Fatal(err)
	}
	waiting := func() []string {
		return texts(t, w.pool, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1
			  AND (l.classid::bigint << 32 | l.objid::bigint) = hashtextextended('clearhouse:billing', 0)`)
	}
	waitUntil := func(name string) {
		t.Helper()
		waitFor(t, 30*time.Second, name+" waiting for the billing lock", func() bool { return slices.Contains(waiting(), name) })
	}
	var srvs []*serveProc
	for range 3 {
		srvs = append(srvs, serveFor(t, w.url, w.data, "--billing-batch", "3")) // 7 batches
	}
	waitUntil("clearhouse") // a scheduled run
	named := func(app string) string {
		sep := "?"
		if strings.Contains(w.url, "?") {
			sep = "&"
		}
		return w.url + sep + "application_name=" + app
	}
	// The last reseller in byte order that has anything to bill.
	one := ""
	for _, id := range w.resellers {
		if len(w.owed[id]) > 0 {
			one = id
		}
	}
	period := billing.PeriodText(w.last)
	waitOne := runAsync(t, nil, "--database-url", named("bill-one"), "--data-dir", w.data, "bill", "--period", period, "--reseller", one)
	waitUntil("bill-one")
	waitAll := runAsync(t, nil, "--database-url", named("bill-all"), "--data-dir", w.data, "--billing-batch", "3", "bill", "--period", period)
	waitUntil("bill-all")
	t.Logf("waiting for the billing lock: %v", waiting())
	if _, err := hold.Exec(ctx, `SELECT pg_advisory_unlock(hashtextextended('clearhouse:billing', 0))`); err != nil {
		t.Fatal(err)
	}
	rOne, rAll := waitOne(), waitAll()
	for _, r := range []result{rOne, rAll} {
		if r.code != 0 {
			t.Fatalf("bill: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
		}
	}
	if got := strings.Count(rOne.stdout, ": invoice CH-"); got != len(w.owed[one]) {
		t.Fatalf("clearhouse bill --reseller %s issued %d invoices, want its %d months: it was granted the lock second\n%s", one, got, len(w.owed[one]), rOne.stdout)
	}
	w.waitDone(t, srvs...)
	t.Logf("billed and written %s after the start; the command for %s issued its %d invoices, the command for all %d of %d (%s), the instances the others",
		time.Since(start).Round(time.Millisecond), one, len(w.owed[one]), strings.Count(rAll.stdout, ": invoice CH-"), w.invoices, rAll.wall.Round(time.Millisecond))
	var workers int
	_ = w.pool.QueryRow(context.Background(), `SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind IN ('bill', 'invoice_documents') AND state = 'completed'`).Scan(&workers)
	t.Logf("billing jobs completed by %d instances", workers)
	for _, s := range srvs {
		s.stop()
	}
	// The database's key holds: one run invoice per reseller, currency and month.
	var unique bool
	_ = w.pool.QueryRow(context.Background(), `SELECT indisunique FROM pg_index WHERE indexrelid = 'invoices_run_key'::regclass`).Scan(&unique)
	if !unique {
		t.Fatal("invoices_run_key is not a unique index")
	}
	w.check(t)
}

// TestBillingCommandKilledWritingADocumentLosesNone: clearhouse bill is killed with
// SIGKILL the instant it starts writing the files of a document it has
// just issued (inotify on the outboxes), after the commit. The files are
// owed by a job queued in the issuing transaction, as serve's documents'
// are: the next command (or a serve) writes them, and bills the rest. They
// were lost: the command wrote them after the commit with nothing to
// remember that they were owed, and a rerun found the period billed.
func TestBillingCommandKilledWritingADocumentLosesNone(t *testing.T) {
	w := newBillingWorld(t, 10, 300)
	var outboxes []string
	for _, id := range w.resellers {
		outboxes = append(outboxes, mailbox.Layout{DataDir: w.data}.Outbox(id))
		if err := os.MkdirAll(outboxes[len(outboxes)-1], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	watch := watchCreates(t, outboxes...)
	cmd := exec.Command(bin, "--database-url", w.url, "--data-dir", w.data, "bill", "--period", billing.PeriodText(w.last))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tmp := watch.next(".CH-")
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	issued, files := w.count(`SELECT count(*) FROM invoices`), w.documentFiles()
	t.Logf("killed writing %s: %d documents issued, %d of their files written", tmp, issued, files)
	if tmp == "" || files >= 4*issued {
		t.Fatal("the kill did not land between a document's commit and its files")
	}
	// Without serve: the next command writes what the killed one owed
	// (and sweeps the temporary file it left: one whose lock is free and
	// older than the sweep's 2 s, mailbox.SweepTemps), then bills the rest.
	time.Sleep(2100 * time.Millisecond)
	r := run(t, []string{"DATABASE_URL=" + w.url, "CLEARHOUSE_DATA=" + w.data}, "bill", "--period", billing.PeriodText(w.last))
	if r.code != 0 || !strings.Contains(r.stdout, "files of documents issued earlier") {
		t.Fatalf("bill again: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	w.check(t)
}

// billingWorld is a generated world of resellers billed by the hub on a
// schedule that fires every 2 s, each with a catalog of a monthly and a
// one_time item, and its declarations (months before this one) ingested.
// It knows what each reseller owes for each month.
type billingWorld struct {
	pool      *pgxpool.Pool
	url, data string
	cur       money.Currency
	last      civil.Date                     // the month before this one in the hub's time zone: what the runs bill
	year      int                            // of the issue date (today in the hub's time zone)
	resellers []string                       // in byte order
	owed      map[string]map[civil.Date]owed // by reseller and month, the months with items
	first     map[string]civil.Date          // each reseller's first period (none: nothing declared)
	periods   int                            // billed_periods rows expected
	invoices  int                            // invoices expected
}

// owed is what a reseller owes for a month: the invoice's net and items.
type owed struct {
	net   int64
	items int
}

// billingWorldHub is samples/config/hub.yaml with a schedule every 2 s.
func billingWorldHub(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pgtest.SampleConfig, "hub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	hub := strings.Replace(string(b), `schedule: "0 6 1 * *"`, `schedule: "@every 2s"`, 1)
	if hub == string(b) {
		t.Fatal("samples/config/hub.yaml has no schedule to replace")
	}
	return hub
}

// frenchVAT is the French VAT id of a SIREN: its key is (12 + 3 × (SIREN
// mod 97)) mod 97.
func frenchVAT(siren int) string {
	return fmt.Sprintf("FR%02d%09d", (12+3*(siren%97))%97, siren)
}

// billingReseller is reseller i's entry and catalog: of every four, one
// French paying by transfer, one French by direct debit, one Belgian and
// one German under reverse charge; prices differ per reseller, so a
// document of one is not another's.
func billingReseller(i int, id string) (reseller, catalog string) {
	vat, pay, billingTo := `{treatment: standard, rate: "20", mention: TVA 20 %}`, `{method: pay_now}`, ""
	switch i % 4 {
	case 0:
		billingTo = fmt.Sprintf(`{street: %d rue de la Gare, city: Lille, postal_code: "59000", country: FR}, vat_id: %s`, i+1, frenchVAT(512345679+i*1009))
	case 1:
		pay = fmt.Sprintf(`{method: wallet, iban: FR76 3000 6000 0112 3456 7890 189, bic: AGRIFRPP, mandate_id: %s-SDD, mandate_signed_on: 2020-01-01}`, strings.ToUpper(id))
		billingTo = fmt.Sprintf(`{street: %d avenue Félix Faure, city: Lyon, postal_code: "69003", country: FR}, vat_id: %s`, i+1, frenchVAT(845123785+i*1009))
	case 2:
		vat = `{treatment: standard, rate: "21", mention: TVA 21 %}`
		billingTo = fmt.Sprintf(`{street: Rue Neuve %d, city: Bruxelles, postal_code: "1000", country: BE}, vat_id: BE0477472701`, i+1)
	case 3:
		vat = `{treatment: reverse_charge, mention: Steuerschuldnerschaft des Leistungsempfängers}`
		billingTo = fmt.Sprintf(`{street: Müllerstraße %d, city: Berlin, postal_code: "13353", country: DE}, vat_id: DE123456789`, i+1)
	}
	reseller = fmt.Sprintf(`  - id: %[1]s
    name: Reseller %[2]d
    oem_eligible: true
    currency: EUR
    vat: %[3]s
    credit_limit: "100000000.00"
    payment: %[4]s
    file_policy: reject_file
    billing:
      address: %[5]s
      emails: [factures@%[1]s.example]
`, id, i, vat, pay, strings.Replace(billingTo, "}, vat_id:", "}\n      vat_id:", 1))
	catalog = fmt.Sprintf(`  - id: cat-%[1]s
    reseller: %[1]s
    name: Catalog %[2]d
    currency: EUR
    items:
      - {sku: VPN-M, name: VPN monthly, publisher: billpub, publisher_sku: BP-VPN, billing_model: monthly, tax_category: standard,
         prices: [{valid_from: 2000-01-01, buy_price: "%[3]s", publisher_share: "2.10"}]}
      - {sku: AV-1Y, name: Antivirus, publisher: billpub, publisher_sku: BP-AV, billing_model: one_time, tax_category: standard,
         prices: [{valid_from: 2000-01-01, buy_price: "%[4]s", publisher_share: "70%%"}]}
`, id, i, money.Format(monthlyPrice(i), "EUR"), money.Format(salePrice(i), "EUR"))
	return reseller, catalog
}

func monthlyPrice(i int) int64 { return 399 + int64(i) }
func salePrice(i int) int64    { return 2490 + 7*int64(i) }

// newBillingWorld applies a world of n resellers, writes rows declarations
// for each but the last (it declares nothing) and ingests them with
// clearhouse ingest.
func newBillingWorld(t *testing.T, n, rows int) *billingWorld {
	t.Helper()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	w := &billingWorld{cur: "EUR", last: billing.PreviousPeriod(now, paris), year: now.In(paris).Year(), owed: map[string]map[civil.Date]owed{}, first: map[string]civil.Date{}}
	var resellers, catalogs strings.Builder
	for i := range n {
		id := resellerID(i)
		w.resellers = append(w.resellers, id)
		r, c := billingReseller(i, id)
		resellers.WriteString(r)
		catalogs.WriteString(c)
	}
	slices.Sort(w.resellers)
	dir := t.TempDir()
	yaml := billingWorldHub(t) + "publishers:\n  - id: billpub\n    name: Bill Publisher\nresellers:\n" + resellers.String() + "catalogs:\n" + catalogs.String()
	if err := os.WriteFile(filepath.Join(dir, "world.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	w.pool = pgtest.WithWorld(t, dir)
	w.url, w.data = w.pool.Config().ConnString(), t.TempDir()
	files := make([]string, n-1)
	for i := range n - 1 {
		files[i] = w.declarations(t, i, rows)
	}
	w.ingest(t, files)
	return w
}

// declarations writes reseller i's declarations over the 2 to 5 months
// before this one: of every three rows a monthly subscription (one in seven
// terminated the month after it starts), two one_time sales; one reseller
// in five sells only, and nothing in its second month (a period billed with
// nothing issued). It records the periods to bill and what each month owes,
// and returns the file.
func (w *billingWorld) declarations(t *testing.T, i, rows int) string {
	t.Helper()
	id := resellerID(i)
	months, salesOnly := 2+i%4, i%5 == 4
	first := w.last
	for range months - 1 {
		first = billing.Month(first - 1)
	}
	owes := map[civil.Date]owed{}
	add := func(m civil.Date, amount int64) {
		o := owes[m]
		o.net += amount
		o.items++
		owes[m] = o
	}
	var b, terminations bytes.Buffer
	b.WriteString(samplegen.Header + "\n")
	for j := range rows {
		m := first
		for range j % months {
			m = billing.NextMonth(m)
		}
		if salesOnly && j%months == 1 {
			continue
		}
		day := m + civil.Date(j%28)
		qty := int64(1 + j%3)
		if j%3 != 0 || salesOnly {
			fmt.Fprintf(&b, "S%d-%d,NEW,C%d,user%d@example.com,Client %d,FR,fr,AV-1Y,%d,%s,,,EUR,\n", i, j, j, j, j, qty, day)
			add(m, qty*salePrice(i))
			continue
		}
		fmt.Fprintf(&b, "M%d-%d,NEW,C%d,user%d@example.com,Client %d,FR,fr,VPN-M,%d,%s,,,EUR,\n", i, j, j, j, j, qty, day)
		end := w.last
		if j%21 == 0 && m < w.last {
			end = billing.NextMonth(m)
			fmt.Fprintf(&terminations, "T%d-%d,TERMINATE,C%d,,,,,VPN-M,%d,%s,,,,M%d-%d\n", i, j, j, qty, end+14, i, j)
		}
		for s := m; s <= end; s = billing.NextMonth(s) {
			add(s, qty*monthlyPrice(i))
		}
	}
	b.Write(terminations.Bytes())
	w.owed[id], w.first[id] = owes, first
	w.periods += months
	w.invoices += len(owes)
	path := filepath.Join(t.TempDir(), "declarations_"+id+".csv")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// resellerID names reseller i: ids whose byte order is not a linguistic
// collation's ("fr-net-…" before "frame-…"), as numbers are taken in byte
// order.
func resellerID(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("fr-net-%02d", i)
	}
	return fmt.Sprintf("frame-%02d", i)
}

// ingest posts each reseller's file with clearhouse ingest, four at a time.
func (w *billingWorld) ingest(t *testing.T, files []string) {
	t.Helper()
	type out struct {
		file, output string
		err          error
	}
	outs := make([]out, len(files))
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for k, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "declarations_"), ".csv")
			cmd := exec.Command(bin, "--database-url", w.url, "--data-dir", w.data, "ingest", "--reseller", id, f)
			b, err := cmd.CombinedOutput()
			outs[k] = out{file: f, output: string(b), err: err}
		}()
	}
	wg.Wait()
	for _, o := range outs {
		if o.err != nil || !strings.Contains(o.output, "ACCEPTED") {
			t.Fatalf("ingest %s: %v\n%s", o.file, o.err, o.output)
		}
	}
}

func (w *billingWorld) count(sql string) int {
	var n int
	_ = w.pool.QueryRow(context.Background(), sql).Scan(&n)
	return n
}

// billed counts the periods billed.
func (w *billingWorld) billed() int { return w.count(`SELECT count(*) FROM billed_periods`) }

// documentFiles counts the documents' files placed in the outboxes.
func (w *billingWorld) documentFiles() int {
	n := 0
	for _, id := range w.resellers {
		es, _ := os.ReadDir(mailbox.Layout{DataDir: w.data}.Outbox(id))
		for _, e := range es {
			if strings.HasPrefix(e.Name(), "CH-") || strings.HasPrefix(e.Name(), "CN-") {
				n++
			}
		}
	}
	return n
}

// temps lists the temporary files left in the outboxes.
func (w *billingWorld) temps() []string {
	var left []string
	for _, id := range w.resellers {
		es, _ := os.ReadDir(mailbox.Layout{DataDir: w.data}.Outbox(id))
		for _, e := range es {
			if mailbox.IsTemp(e.Name()) {
				left = append(left, filepath.Join(id, e.Name()))
			}
		}
	}
	return left
}

// waitDone waits until every period is billed, every document's files are
// written and no temporary file is left (a serve sweeps what a killed
// writer left).
func (w *billingWorld) waitDone(t *testing.T, srvs ...*serveProc) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			for i, s := range srvs {
				log := s.logText()
				t.Logf("serve %d log (tail):\n%s", i, log[max(0, len(log)-4000):])
			}
			t.Logf("jobs: %v", texts(t, w.pool, `SELECT format('%s %s %s attempt %s errors %s', id, kind, state, attempt, errors) FROM river_job
				WHERE kind IN ('bill', 'invoice_documents') AND state <> 'completed' ORDER BY id`))
		}
	})
	waitFor(t, 60*time.Second, "every reseller billed up to "+billing.PeriodText(w.last)+", every document written, no temporary file left", func() bool {
		return w.billed() == w.periods && w.count(`SELECT count(*) FROM invoices`) == w.invoices && w.documentFiles() == 4*w.invoices && len(w.temps()) == 0
	})
}

// issued is an invoice as the database has it.
type issued struct {
	id                  int64
	number, reseller    string
	docType             string
	year, seq           int
	period, issue       civil.Date
	net, payable, items int64
	periodRecorded      bool // billed_periods names it
}

// check asserts what the resellers receive and what finance relies on.
func (w *billingWorld) check(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	rows, err := w.pool.Query(ctx, `
		SELECT i.id, i.number, i.doc_type, i.reseller_id, i.year, i.seq, i.period - DATE '1970-01-01', i.issue_date - DATE '1970-01-01', i.net, i.payable,
		       (SELECT count(*) FROM invoice_items it WHERE it.invoice_id = i.id),
		       EXISTS (SELECT 1 FROM billed_periods b WHERE b.reseller_id = i.reseller_id AND b.period = i.period AND b.invoice_id = i.id)
		  FROM invoices i ORDER BY i.id`)
	if err != nil {
		t.Fatal(err)
	}
	var docs []issued
	for rows.Next() {
		var d issued
		var period, issue int32
		if err := rows.Scan(&d.id, &d.number, &d.docType, &d.reseller, &d.year, &d.seq, &period, &issue, &d.net, &d.payable, &d.items, &d.periodRecorded); err != nil {
			t.Fatal(err)
		}
		d.period, d.issue = civil.Date(period), civil.Date(issue)
		docs = append(docs, d)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	// One invoice per reseller and month, with what the month owes.
	got := map[string]map[civil.Date]issued{}
	for _, d := range docs {
		if d.docType != billing.DocInvoice {
			t.Errorf("%s is a %s: nothing here is credited", d.number, d.docType)
		}
		if got[d.reseller] == nil {
			got[d.reseller] = map[civil.Date]issued{}
		}
		if prev, twice := got[d.reseller][d.period]; twice {
			t.Errorf("%s has two invoices for %s: %s and %s", d.reseller, billing.PeriodText(d.period), prev.number, d.number)
		}
		got[d.reseller][d.period] = d
		o, ok := w.owed[d.reseller][d.period]
		switch {
		case !ok:
			t.Errorf("%s bills %s %s, which owes nothing", d.number, d.reseller, billing.PeriodText(d.period))
		case d.net != o.net || d.items != int64(o.items):
			t.Errorf("%s (%s %s): net %s for %d items, want %s for %d", d.number, d.reseller, billing.PeriodText(d.period),
				money.Format(d.net, w.cur), d.items, money.Format(o.net, w.cur), o.items)
		}
		if !d.periodRecorded {
			t.Errorf("%s: billed_periods of %s %s does not name it", d.number, d.reseller, billing.PeriodText(d.period))
		}
	}
	for _, id := range w.resellers {
		for m := range w.owed[id] {
			if _, ok := got[id][m]; !ok {
				t.Errorf("%s has no invoice for %s", id, billing.PeriodText(m))
			}
		}
	}
	if len(docs) != w.invoices {
		t.Errorf("%d documents issued, want %d", len(docs), w.invoices)
	}
	// The periods billed: each reseller's months from its first up to the
	// last, recorded in that order, a month without items with nothing
	// issued.
	for _, id := range w.resellers {
		periods := texts(t, w.pool, `SELECT to_char(period, 'YYYY-MM') || CASE WHEN invoice_id IS NULL THEN ' nothing' ELSE '' END
			FROM billed_periods WHERE reseller_id = $1 ORDER BY billed_at, period`, id)
		var want []string
		for m, ok := w.first[id]; ok && m <= w.last; m = billing.NextMonth(m) {
			if _, items := w.owed[id][m]; items {
				want = append(want, billing.PeriodText(m))
			} else {
				want = append(want, billing.PeriodText(m)+" nothing")
			}
		}
		if !slices.Equal(periods, want) {
			t.Errorf("%s: periods billed %v, want %v in that order", id, periods, want)
		}
	}
	// Numbers: CH-<year>-000001… without gap, in issue order; a reseller's
	// months in order, the resellers of a month in byte order of their ids.
	lastOf := map[string]issued{}
	var prev issued
	for k, d := range docs {
		if want := fmt.Sprintf("CH-%d-%06d", w.year, k+1); d.number != want || d.seq != k+1 || d.year != w.year {
			t.Errorf("document %d of the issue order is %s (seq %d of %d), want %s", k+1, d.number, d.seq, d.year, want)
		}
		if l, ok := lastOf[d.reseller]; ok && l.period >= d.period {
			t.Errorf("%s: %s for %s issued after %s for %s", d.reseller, d.number, billing.PeriodText(d.period), l.number, billing.PeriodText(l.period))
		}
		lastOf[d.reseller] = d
		if k > 0 && prev.period == d.period && prev.reseller >= d.reseller {
			t.Errorf("%s: %s of %s numbered after %s of %s", billing.PeriodText(d.period), d.number, d.reseller, prev.number, prev.reseller)
		}
		prev = d
	}
	if r := run(t, nil, "--database-url", w.url, "--data-dir", w.data, "ledger", "check"); r.code != 0 {
		t.Errorf("ledger check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// No billing job given up or left to fail again.
	if jobs := texts(t, w.pool, `SELECT format('%s %s %s attempt %s: %s', id, kind, state, attempt, errors) FROM river_job
		WHERE kind IN ('bill', 'invoice_documents') AND state IN ('discarded', 'retryable', 'cancelled')`); len(jobs) > 0 {
		t.Errorf("billing jobs failed: %v", jobs)
	}
	w.checkFiles(t, docs)
}

// checkFiles asserts that each outbox holds the four files of each of its
// reseller's documents, whole and saying what the database says, and
// nothing of another reseller's, nor a temporary file.
func (w *billingWorld) checkFiles(t *testing.T, docs []issued) {
	t.Helper()
	mine := map[string]issued{}
	for _, d := range docs {
		mine[d.reseller+"/"+d.number] = d
	}
	suffixes := []string{".pdf", ".xml", ".csv", "_detail.csv"}
	for _, id := range w.resellers {
		out := mailbox.Layout{DataDir: w.data}.Outbox(id)
		es, err := os.ReadDir(out)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, e := range es {
			name := e.Name()
			switch {
			case mailbox.IsTemp(name):
				t.Errorf("%s: temporary file %s left", id, name)
			case name == "declarations_"+id+".csv.ack.csv":
			default:
				number, ok := "", false
				for _, s := range suffixes {
					if n, cut := strings.CutSuffix(name, s); cut && !strings.HasSuffix(n, "_detail") {
						number, ok = n, true
						break
					}
				}
				if _, known := mine[id+"/"+number]; !ok || !known {
					t.Errorf("%s's outbox holds %s, not one of its documents' files", id, name)
				}
			}
		}
	}
	for _, d := range docs {
		out := mailbox.Layout{DataDir: w.data}.Outbox(d.reseller)
		read := func(suffix string) []byte {
			b, err := os.ReadFile(filepath.Join(out, d.number+suffix))
			if err != nil {
				t.Errorf("%s: %v", d.number, err)
			}
			return b
		}
		if pdf := read(".pdf"); !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf[max(0, len(pdf)-32):], []byte("%%EOF")) {
			t.Errorf("%s.pdf is not a whole PDF (%d bytes)", d.number, len(pdf))
		}
		var x struct {
			ID             string `xml:"ID"`
			IssueDate      string `xml:"IssueDate"`
			BuyerReference string `xml:"BuyerReference"`
			Payable        string `xml:"LegalMonetaryTotal>PayableAmount"`
		}
		if err := xml.Unmarshal(read(".xml"), &x); err != nil {
			t.Errorf("%s.xml: %v", d.number, err)
		}
		if want := money.Format(d.payable, w.cur); x.ID != d.number || x.IssueDate != d.issue.String() || x.BuyerReference != d.reseller || x.Payable != want {
			t.Errorf("%s.xml says %s issued %s to %s, payable %s; the database %s issued %s to %s, payable %s",
				d.number, x.ID, x.IssueDate, x.BuyerReference, x.Payable, d.number, d.issue, d.reseller, want)
		}
		lines := readCSV(t, d.number+".csv", read(".csv"), invoice.LinesHeader)
		var net int64
		for _, l := range lines {
			n, err := money.ParseMinor(l["net"], w.cur)
			if err != nil || l["number"] != d.number || l["billing_month"] != billing.PeriodText(d.period) {
				t.Errorf("%s.csv line %s of %s for %s: net %q %v", d.number, l["line"], l["number"], l["billing_month"], l["net"], err)
			}
			net += n
		}
		if net != d.net {
			t.Errorf("%s.csv: its lines' nets sum to %s, the invoice's net is %s", d.number, money.Format(net, w.cur), money.Format(d.net, w.cur))
		}
		if items := readCSV(t, d.number+"_detail.csv", read("_detail.csv"), invoice.DetailHeader); int64(len(items)) != d.items {
			t.Errorf("%s_detail.csv: %d items, the invoice bills %d", d.number, len(items), d.items)
		}
	}
}

// readCSV reads a document CSV under its header as column -> value.
func readCSV(t *testing.T, name string, b []byte, header []string) []map[string]string {
	t.Helper()
	recs, _ := readDocCSV(t, name, b)
	if len(recs) == 0 || !slices.Equal(recs[0], header) {
		t.Errorf("%s: header %v", name, recs[:min(1, len(recs))])
		return nil
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range header {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}
