//go:build bench

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/invoicepdf"
	"github.com/clearhouse/clearhouse/internal/samplegen"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/ubl"
)

// The billing bench: a billing run of one month for a generated world,
// against a raw SQL aggregate of the same totals, and the documents of the
// invoices it issued.

// The month billed, and the run's clock: the morning after it, in Paris.
var (
	benchPeriod = civil.FromYMD(2026, time.November, 1)
	benchClock  = time.Date(2026, time.December, 1, 7, 0, 0, 0, mustLocation("Europe/Paris"))
)

// benchMonthsBefore: subscriptions start in the two months before the
// billed one (in turn), which the set-up bills.
const benchMonthsBefore = 2

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// BenchBillingCmd measures a billing run against its baseline in one run.
type BenchBillingCmd struct {
	Subscriptions int      `default:"100000" help:"Active subscriptions across the resellers (each billed one month); make bench passes 1,000,000."`
	Sales         int      `default:"-1" help:"one_time and usage declarations dated in the billed month (-1: as many as subscriptions)."`
	Resellers     int      `default:"100" help:"Resellers of the generated world (one invoice each); make bench passes 1,000."`
	Baselines     int      `default:"3" help:"Runs of the baseline aggregate (its median is the reference)."`
	Keep          bool     `help:"Keep the work folder (cluster, templates) and print where it is."`
	Only          []string `help:"Run only these parts (run, quarter, documents); run includes its baseline."`
	Phase         string   `hidden:"" help:"Internal: run one measured phase (run, baseline, documents) and print its result."`
}

// billingResult is what a measured child reports.
type billingResult struct {
	Seconds float64 `json:"seconds"`
	RSS     int64   `json:"peak_rss_kib"`
	// The totals of the billed month's lines (run) or of the aggregate's
	// rows (baseline): they must agree.
	Lines, Quantity, Amount, Share int64
	Invoices                       int `json:"invoices,omitempty"`
	// documents: seconds for every invoice's files, for its PDF alone, for
	// its UBL alone; bytes written.
	Files, PDF, UBL float64 `json:",omitempty"`
	Bytes           int64   `json:",omitempty"`
}

func (c *BenchBillingCmd) wants(part string) bool {
	return len(c.Only) == 0 || slices.Contains(c.Only, part)
}

// Run sets up a world per size (not measured), then measures each phase in
// its own process on a fresh clone of it.
func (c *BenchBillingCmd) Run(ctx context.Context, g *Globals) error {
	if c.Phase != "" {
		return c.runPhase(ctx, g)
	}
	if c.Sales < 0 {
		c.Sales = c.Subscriptions
	}
	c.Baselines = max(c.Baselines, 1)
	if c.Resellers < 1 || c.Subscriptions < c.Resellers {
		return errors.New("bench-billing: at least one reseller, and at least one subscription per reseller")
	}
	work, base, done, err := benchServer(ctx, g, "clearhouse-bench-billing-", c.Keep)
	if err != nil {
		return err
	}
	defer done()
	fmt.Printf("\nclearhouse bench-billing: %d resellers, %d subscriptions + %d sales billed for %s, PostgreSQL %s\n",
		c.Resellers, c.Subscriptions, c.Sales, billing.PeriodText(benchPeriod), serverVersion(ctx, base))

	var full, quarter, docs, keyed billingResult
	var baselines []billingResult
	run := 0
	clone := func(tpl string) (string, func(), error) {
		run++
		return cloneDatabase(ctx, base, tpl, fmt.Sprintf("bench_billing_run_%d", run))
	}
	measure := func(tpl, phase string, dataDir string) (billingResult, error) {
		url, drop, err := clone(tpl)
		if err != nil {
			return billingResult{}, err
		}
		defer drop()
		var res billingResult
		err = c.child(ctx, url, dataDir, phase, &res)
		return res, err
	}
	if c.wants("run") || c.wants("documents") {
		tpl, err := c.setUp(ctx, g, base, work, c.Subscriptions, c.Sales)
		if err != nil {
			return err
		}
		// The baselines around the run, so that drift on a shared machine
		// falls on both.
		baseline := func(i int) error {
			res, err := measure(tpl, "baseline", "")
			if err != nil {
				return fmt.Errorf("baseline: %w", err)
			}
			fmt.Fprintf(os.Stderr, "  baseline %d %7.2f s  %5.0f MiB\n", i+1, res.Seconds, float64(res.RSS)/1024)
			baselines = append(baselines, res)
			return nil
		}
		runAt := min(1, c.Baselines-1) // after the first baseline
		if !c.wants("run") {
			runAt = 0
		}
		for i := range c.Baselines {
			if i == runAt {
				if full, err = c.runThenDocuments(ctx, clone, tpl, work, &docs); err != nil {
					return err
				}
			}
			if !c.wants("run") {
				break
			}
			if err := baseline(i); err != nil {
				return err
			}
		}
		if c.wants("run") {
			if keyed, err = measure(tpl, "keyed", ""); err != nil {
				return fmt.Errorf("writing the items keyed: %w", err)
			}
			fmt.Fprintf(os.Stderr, "  items written keyed %7.2f s  %5.0f MiB\n", keyed.Seconds, float64(keyed.RSS)/1024)
		}
		c.dropTemplate(ctx, base, tpl)
	}
	if c.wants("quarter") {
		tpl, err := c.setUp(ctx, g, base, work, c.Subscriptions/4, c.Sales/4)
		if err != nil {
			return err
		}
		if quarter, err = measure(tpl, "run", ""); err != nil {
			return fmt.Errorf("billing run at a quarter: %w", err)
		}
		fmt.Fprintf(os.Stderr, "  billing run (quarter) %7.2f s  %5.0f MiB\n", quarter.Seconds, float64(quarter.RSS)/1024)
		c.dropTemplate(ctx, base, tpl)
	}
	return c.report(full, quarter, docs, keyed, baselines)
}

// dropTemplate drops a size's template once measured (kept with --keep).
func (c *BenchBillingCmd) dropTemplate(ctx context.Context, base, tpl string) {
	if !c.Keep {
		_ = adminExec(ctx, base, `DROP DATABASE IF EXISTS `+tpl)
	}
}

// runThenDocuments measures the billing run on a clone of tpl, then (on
// the same database) the documents of what it issued.
func (c *BenchBillingCmd) runThenDocuments(ctx context.Context, clone func(string) (string, func(), error), tpl, work string, docs *billingResult) (billingResult, error) {
	var res billingResult
	url, drop, err := clone(tpl)
	if err != nil {
		return res, err
	}
	defer drop()
	if c.wants("run") {
		if err := c.child(ctx, url, "", "run", &res); err != nil {
			return res, fmt.Errorf("billing run: %w", err)
		}
		fmt.Fprintf(os.Stderr, "  billing run %7.2f s  %5.0f MiB  (%d invoices, %d lines)\n", res.Seconds, float64(res.RSS)/1024, res.Invoices, res.Lines)
	} else if err := c.child(ctx, url, "", "run", &res); err != nil { // what the documents need
		return res, fmt.Errorf("billing run: %w", err)
	}
	if c.wants("documents") {
		dir := filepath.Join(work, "documents")
		if err := c.child(ctx, url, dir, "documents", docs); err != nil {
			return res, fmt.Errorf("documents: %w", err)
		}
		fmt.Fprintf(os.Stderr, "  documents of %d invoices %7.2f s  %5.0f MiB\n", docs.Invoices, docs.Files, float64(docs.RSS)/1024)
		_ = os.RemoveAll(dir)
	}
	return res, nil
}

// setUp makes the template of one size (not measured): the generated
// world applied, one declarations file per reseller ingested, the months
// before the billed one billed, statistics taken. It returns its name.
func (c *BenchBillingCmd) setUp(ctx context.Context, g *Globals, base, work string, subs, sales int) (string, error) {
	start := time.Now()
	tpl := fmt.Sprintf("bench_billing_tpl_%d", subs)
	dir := filepath.Join(work, tpl)
	if err := os.MkdirAll(filepath.Join(dir, "world"), 0o755); err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	if err := samplegen.WriteBillingWorld(filepath.Join(dir, "world"), c.Resellers, benchPeriod.Time()); err != nil {
		return "", err
	}
	if err := benchTemplate(ctx, base, tpl, filepath.Join(dir, "world")); err != nil {
		return "", fmt.Errorf("applying the billing world: %w", err)
	}
	pool, err := store.Open(ctx, withDatabase(base, tpl))
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if err := c.ingestAll(ctx, g, pool, dir, subs, sales); err != nil {
		return "", err
	}
	loaded := time.Now()
	if err := adminExec(ctx, withDatabase(base, tpl), `VACUUM ANALYZE`); err != nil {
		return "", err
	}
	b := &billing.Biller{Pool: pool, Log: g.log, Now: func() time.Time { return benchClock }}
	before := billing.Month(benchPeriod - 1)
	rep, err := b.Run(ctx, billing.Request{Period: before})
	if err != nil {
		return "", fmt.Errorf("billing the months before: %w", err)
	}
	if f := rep.Failed(); len(f) > 0 {
		return "", fmt.Errorf("billing the months before: %s %s: %w", f[0].Reseller, billing.PeriodText(f[0].Period), f[0].Err)
	}
	billed := time.Now()
	if err := adminExec(ctx, withDatabase(base, tpl), `VACUUM ANALYZE`); err != nil {
		return "", err
	}
	pool.Close()
	fmt.Fprintf(os.Stderr, "  set-up of %d subscriptions + %d sales: ingest %.0f s, billing %d months before %.0f s, in all %.0f s\n",
		subs, sales, loaded.Sub(start).Seconds(), benchMonthsBefore, billed.Sub(loaded).Seconds(), time.Since(start).Seconds())
	return tpl, nil
}

// ingestAll writes and ingests one declarations file per reseller, two at
// a time (as ingest writes every row: the honest way to load them).
func (c *BenchBillingCmd) ingestAll(ctx context.Context, g *Globals, pool *store.Pool, dir string, subs, sales int) error {
	svc := &ingest.Service{Pool: pool, Archive: &archive.Store{Dir: filepath.Join(dir, "data", "archive")}, DataDir: filepath.Join(dir, "data"), Log: g.log}
	defer svc.Close()
	share := func(total, i int) int { return total/c.Resellers + boolInt(i < total%c.Resellers) }
	next := make(chan int)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := c.ingestOne(ctx, svc, dir, i, share(subs, i), share(sales, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range c.Resellers {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (c *BenchBillingCmd) ingestOne(ctx context.Context, svc *ingest.Service, dir string, i, subs, sales int) error {
	id := samplegen.BillingReseller(i)
	path := filepath.Join(dir, id+".csv")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = samplegen.WriteBilling(f, samplegen.BillingOptions{Subscriptions: subs, Sales: sales, Month: benchPeriod.Time(), MonthsBefore: benchMonthsBefore})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	defer os.Remove(path)
	o, err := svc.Ingest(ctx, ingest.Request{Partner: id, Path: path, Kind: "declarations"})
	if err != nil {
		return fmt.Errorf("ingesting %s: %w", path, err)
	}
	if o.Status != ingest.Accepted || o.Accepted != subs+sales {
		return fmt.Errorf("ingesting %s: %s, %d of %d rows (first problems: %v)", path, o.Status, o.Accepted, subs+sales, o.Problems[:min(3, len(o.Problems))])
	}
	return nil
}

// cloneDatabase makes name from template tpl and returns its URL and how
// to drop it. A checkpoint after the copy keeps its writing out of the
// measurement (ignored where the user may not).
func cloneDatabase(ctx context.Context, base, tpl, name string) (string, func(), error) {
	if err := adminExec(ctx, base, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tpl)); err != nil {
		return "", nil, err
	}
	_ = adminExec(ctx, base, `CHECKPOINT`)
	return withDatabase(base, name), func() { _ = adminExec(context.WithoutCancel(ctx), base, `DROP DATABASE IF EXISTS `+name) }, nil
}

// child runs one phase in a fresh process and decodes its result.
func (c *BenchBillingCmd) child(ctx context.Context, url, dataDir, phase string, res any) error {
	args := []string{"--database-url", url}
	if dataDir != "" {
		args = append(args, "--data-dir", dataDir)
	}
	return runBenchChild(ctx, res, append(args, "bench-billing", "--phase", phase)...)
}

// runBenchChild runs this binary with args and decodes the JSON it prints.
func runBenchChild(ctx context.Context, res any, args ...string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return err
	}
	if err := json.Unmarshal(out, res); err != nil {
		return fmt.Errorf("phase output %q: %w", out, err)
	}
	return nil
}

func (c *BenchBillingCmd) report(full, quarter, docs, keyed billingResult, baselines []billingResult) error {
	mib := func(kib int64) float64 { return float64(kib) / 1024 }
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASUREMENT\ts\tPEAK RSS MiB\t")
	var base billingResult
	if len(baselines) > 0 {
		sort.Slice(baselines, func(i, j int) bool { return baselines[i].Seconds < baselines[j].Seconds })
		base = baselines[len(baselines)/2]
		fmt.Fprintf(tw, "raw SQL aggregate of the same totals (INSERT … SELECT … GROUP BY, median of %d)\t%.2f\t%.0f\t\n", len(baselines), base.Seconds, mib(base.RSS))
	}
	if keyed.Seconds > 0 {
		fmt.Fprintf(tw, "the same items written once each, keyed as invoice_items (INSERT … SELECT, no lines)\t%.2f\t%.0f\t\n", keyed.Seconds, mib(keyed.RSS))
	}
	if full.Seconds > 0 && c.wants("run") {
		fmt.Fprintf(tw, "clearhouse billing run of %s (%d invoices, %d lines)\t%.2f\t%.0f\t\n", billing.PeriodText(benchPeriod), full.Invoices, full.Lines, full.Seconds, mib(full.RSS))
	}
	if quarter.Seconds > 0 {
		fmt.Fprintf(tw, "the same at %d subscriptions + %d sales\t%.2f\t%.0f\t\n", c.Subscriptions/4, c.Sales/4, quarter.Seconds, mib(quarter.RSS))
	}
	tw.Flush()
	fmt.Println()
	if full.Seconds > 0 && base.Seconds > 0 && c.wants("run") {
		if full.Lines != base.Lines || full.Quantity != base.Quantity || full.Amount != base.Amount || full.Share != base.Share {
			return fmt.Errorf("the baseline does not compute the run's totals: run %d lines, quantity %d, amount %d, share %d; baseline %d, %d, %d, %d",
				full.Lines, full.Quantity, full.Amount, full.Share, base.Lines, base.Quantity, base.Amount, base.Share)
		}
		r := full.Seconds / base.Seconds
		fmt.Printf("billing run / raw SQL aggregate = %.2fx   (target <= 3.0x: %s); the same totals (%d lines, %.2f EUR)\n", r, met(r <= 3), full.Lines, float64(full.Amount)/100)
		if keyed.Seconds > 0 {
			if keyed.Lines != int64(c.Subscriptions+c.Sales) || keyed.Amount != full.Amount || keyed.Share != full.Share {
				return fmt.Errorf("the keyed items are not the run's: %d items, amount %d, share %d; the run %d items, amount %d, share %d",
					keyed.Lines, keyed.Amount, keyed.Share, c.Subscriptions+c.Sales, full.Amount, full.Share)
			}
			fmt.Printf("items written keyed / raw SQL aggregate = %.2fx; billing run / items written keyed = %.2fx (what is not the items' key: lines, documents, ledger)\n",
				keyed.Seconds/base.Seconds, full.Seconds/keyed.Seconds)
		}
	}
	if full.RSS > 0 && quarter.RSS > 0 && c.wants("run") {
		flat := float64(full.RSS) <= 1.25*float64(quarter.RSS)
		fmt.Printf("billing run peak RSS = %.0f MiB at %d subscriptions, %.0f MiB at %d (target <= 256 MiB: %s; flat within 1.25x: %s)\n",
			mib(full.RSS), c.Subscriptions, mib(quarter.RSS), c.Subscriptions/4, met(full.RSS <= 256*1024), met(flat))
	}
	if docs.Invoices > 0 {
		n := float64(docs.Invoices)
		fmt.Printf("documents of %d invoices (%d lines, %d items each on average): %.1f ms per invoice for its four files (%.1f MB in all); PDF alone %.1f ms, UBL alone %.1f ms; peak RSS %.0f MiB\n",
			docs.Invoices, docs.Lines/int64(docs.Invoices), (c.Subscriptions+c.Sales)/docs.Invoices, 1000*docs.Files/n, float64(docs.Bytes)/1e6,
			1000*docs.PDF/n, 1000*docs.UBL/n, mib(docs.RSS))
	}
	return nil
}

// runPhase is the measured work of one child process.
func (c *BenchBillingCmd) runPhase(ctx context.Context, g *Globals) error {
	var res billingResult
	var err error
	switch c.Phase {
	case "run":
		res, err = benchRun(ctx, g)
	case "baseline":
		res, err = benchBaseline(ctx, g)
	case "keyed":
		res, err = benchKeyed(ctx, g)
	case "documents":
		res, err = benchDocuments(ctx, g)
	default:
		err = fmt.Errorf("unknown phase %q", c.Phase)
	}
	if err != nil {
		return err
	}
	res.RSS = peakRSS()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// benchRun bills benchPeriod for every reseller, as clearhouse bill does
// (the files left to the documents phase), and reads the totals of the
// lines it issued.
func benchRun(ctx context.Context, g *Globals) (billingResult, error) {
	return onBenchPool(ctx, g, func(pool *store.Pool) (billingResult, error) { return benchRunOn(ctx, g, pool) })
}

// onBenchPool runs a phase on a pool of the phase's database.
func onBenchPool(ctx context.Context, g *Globals, phase func(*store.Pool) (billingResult, error)) (billingResult, error) {
	pool, err := store.Open(ctx, g.DatabaseURL)
	if err != nil {
		return billingResult{}, err
	}
	defer pool.Close()
	return phase(pool)
}

func benchRunOn(ctx context.Context, g *Globals, pool *store.Pool) (billingResult, error) {
	var res billingResult
	b := &billing.Biller{Pool: pool, Log: g.log, Now: func() time.Time { return benchClock }}
	start := time.Now()
	steps, last := map[string]time.Duration{}, time.Now()
	if os.Getenv("CLEARHOUSE_BENCH_STEPS") != "" {
		b.Fail = func(step string) error {
			steps[step] += time.Since(last)
			last = time.Now()
			return nil
		}
		defer func() { fmt.Fprintln(os.Stderr, "steps:", steps) }()
	}
	rep, err := b.Run(ctx, billing.Request{Period: benchPeriod})
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	if f := rep.Failed(); len(f) > 0 {
		return res, fmt.Errorf("%d resellers failed, %s first: %w", len(f), f[0].Reseller, f[0].Err)
	}
	for _, bl := range rep.Billed {
		if bl.Period != benchPeriod {
			return res, fmt.Errorf("%s: billed %s too: the set-up should have billed it", bl.Reseller, billing.PeriodText(bl.Period))
		}
		res.Invoices += len(bl.Documents)
	}
	err = pool.QueryRow(ctx, `
		SELECT count(*), sum(l.quantity), sum(l.items_amount), sum(l.publisher_amount)
		  FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
		 WHERE i.period = $1 AND i.origin = 'run'`, benchPeriod.String()).Scan(&res.Lines, &res.Quantity, &res.Amount, &res.Share)
	return res, err
}

// benchFees are the billed month's subscription-months priced as
// stageChargesSQL prices them (the version valid on the month's first day,
// or the start date in the start month; every bench reseller bills in EUR),
// and benchShare the publisher's share of one (percent of the rounded
// amount, or fixed per unit, in cents).
const (
	benchFees = `
	  FROM declarations d
	 CROSS JOIN LATERAL (SELECT pv.valid_from, pv.buy_price, pv.share_kind, pv.share_value FROM price_versions pv
	                      WHERE pv.reseller_id = d.reseller_id AND pv.sku = d.sku
	                        AND pv.valid_from <= greatest($1::date, d.start_date)
	                        AND (pv.valid_to IS NULL OR pv.valid_to >= greatest($1::date, d.start_date))
	                      ORDER BY pv.valid_from DESC LIMIT 1) v
	 CROSS JOIN LATERAL (SELECT round_half_even(d.quantity * v.buy_price * 100) AS amount OFFSET 0) a
	 WHERE d.sub_state IS NOT NULL AND d.start_date <= $2::date AND (d.sub_end_date IS NULL OR d.sub_end_date >= $1::date)`
	benchShare = `least(a.amount, CASE WHEN v.share_kind = 'percent' THEN round_half_even(a.amount * v.share_value / 100)
	                            ELSE round_half_even(d.quantity * v.share_value * 100) END)`
)

// baselineSQL is the reference: the billed month's line totals of every
// reseller in one INSERT … SELECT … GROUP BY into a plain table. Fees are
// priced from price_versions as stageChargesSQL prices them (the version
// valid on the month's first day, or the start date in the start month;
// percent shares of the rounded amount, fixed shares per unit, in cents:
// every bench reseller bills in EUR); sales are the declarations' own
// amounts. Nothing else: no anti-join with what was billed (the months
// before are, by construction), no items written, no documents.
const baselineSQL = `
	INSERT INTO plain_totals
	SELECT reseller_id, sku, service_month, unit_price, sum(quantity), sum(amount), sum(publisher_amount)
	  FROM (SELECT d.reseller_id, d.sku, $1::date AS service_month, v.buy_price AS unit_price, d.quantity, a.amount,
	               ` + benchShare + ` AS publisher_amount
` + benchFees + `
	        UNION ALL
	        SELECT d.reseller_id, d.sku, $1::date, d.unit_price, d.quantity, d.amount, d.publisher_amount
	          FROM declarations d
	         WHERE d.action IN ('NEW', 'USAGE') AND d.billing_model IN ('one_time', 'usage') AND d.start_date BETWEEN $1::date AND $2::date) t
	 GROUP BY reseller_id, sku, service_month, unit_price`

// benchBaseline runs baselineSQL in its own transaction.
func benchBaseline(ctx context.Context, g *Globals) (billingResult, error) {
	return benchStatement(ctx, g, `CREATE TABLE plain_totals (reseller_id text, sku text, service_month date, unit_price numeric(18,6),
		quantity bigint, amount bigint, publisher_amount bigint)`, baselineSQL, "plain_totals")
}

// benchStatement makes a table (create), times sql filling it in its own
// transaction, and reads the totals of what it wrote (Lines: its rows).
func benchStatement(ctx context.Context, g *Globals, create, sql, table string) (billingResult, error) {
	var res billingResult
	conn, err := pgx.Connect(ctx, g.DatabaseURL)
	if err != nil {
		return res, err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, create); err != nil {
		return res, err
	}
	start := time.Now()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sql, benchPeriod.String(), billing.LastDay(benchPeriod).String())
		return err
	})
	if err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	err = conn.QueryRow(ctx, `SELECT count(*), sum(quantity), sum(amount), sum(publisher_amount) FROM `+table).
		Scan(&res.Lines, &res.Quantity, &res.Amount, &res.Share)
	return res, err
}

// keyedSQL is the second reference: the same items, computed as
// baselineSQL computes them (its fees and sales before grouping), each
// written once to a table keyed as invoice_items (its primary key, BRIN
// index and checks): what billing each item once, ever, costs at least,
// without lines, documents or the ledger.
const keyedSQL = `
	INSERT INTO keyed_items (invoice_id, line_no, reseller_id, declaration_id, service_month, credit, kind, quantity, unit_price,
	                         amount, publisher_amount, publisher_id, price_valid_from)
	SELECT 0, 1, d.reseller_id, d.declaration_id, $1::date, false, 'fee', d.quantity, v.buy_price, a.amount,
	       ` + benchShare + `, d.publisher_id, v.valid_from
` + benchFees + `
	UNION ALL
	SELECT 0, 1, d.reseller_id, d.declaration_id, $1::date, false, 'sale', d.quantity, d.unit_price, d.amount, d.publisher_amount,
	       d.publisher_id, coalesce(d.price_valid_from, d.start_date)
	  FROM declarations d
	 WHERE d.action IN ('NEW', 'USAGE') AND d.billing_model IN ('one_time', 'usage') AND d.start_date BETWEEN $1::date AND $2::date`

// benchKeyed runs keyedSQL in its own transaction; Lines counts the items.
func benchKeyed(ctx context.Context, g *Globals) (billingResult, error) {
	return benchStatement(ctx, g, `CREATE TABLE keyed_items (LIKE invoice_items INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`,
		keyedSQL, "keyed_items")
}

// benchDocuments writes the files of every invoice of benchPeriod
// (Documents.Write: PDF, UBL, lines CSV, detail CSV), then times the PDF
// and the UBL writers alone on the same documents.
func benchDocuments(ctx context.Context, g *Globals) (billingResult, error) {
	return onBenchPool(ctx, g, func(pool *store.Pool) (billingResult, error) { return benchDocumentsOn(ctx, g, pool) })
}

func benchDocumentsOn(ctx context.Context, g *Globals, pool *store.Pool) (billingResult, error) {
	var res billingResult
	ins, err := store.Invoices(ctx, pool, "", benchPeriod)
	if err != nil {
		return res, err
	}
	w := &billing.Documents{Pool: pool, DataDir: g.DataDir}
	start := time.Now()
	for _, in := range ins {
		paths, err := w.Write(ctx, in.ID)
		if err != nil {
			return res, err
		}
		for _, p := range paths {
			if fi, err := os.Stat(p); err == nil {
				res.Bytes += fi.Size()
			}
		}
	}
	res.Files = time.Since(start).Seconds()
	docs := make([]*invoice.Document, len(ins))
	for i, in := range ins {
		docs[i] = new(invoice.Document)
		if err := json.Unmarshal(in.Document, docs[i]); err != nil {
			return res, fmt.Errorf("document %s: %w", in.Number, err)
		}
		res.Lines += int64(len(docs[i].Lines))
	}
	for _, f := range []struct {
		secs  *float64
		write func(io.Writer, *invoice.Document) error
	}{{&res.PDF, invoicepdf.Write}, {&res.UBL, ubl.Write}} {
		start := time.Now()
		for _, d := range docs {
			if err := f.write(io.Discard, d); err != nil {
				return res, fmt.Errorf("document %s: %w", d.Number, err)
			}
		}
		*f.secs = time.Since(start).Seconds()
	}
	res.Invoices = len(ins)
	return res, nil
}
