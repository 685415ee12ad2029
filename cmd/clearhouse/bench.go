//go:build bench

// The benchmark harness of make bench: built only with -tags bench
// (bin/clearhouse-bench), never part of the shipped binary.

package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/pgserver"
	"github.com/clearhouse/clearhouse/internal/samplegen"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

// benchCommands adds bench to the command tree of the bench build.
type benchCommands struct {
	Bench        BenchCmd        `cmd:"" help:"Measure ingest against baselines in one run (make bench)."`
	BenchBilling BenchBillingCmd `cmd:"" name:"bench-billing" help:"Measure a billing run against a raw SQL aggregate, and its documents (make bench)."`
}

// BenchCmd measures ingest against its baselines in one run.
type BenchCmd struct {
	Rows   int      `default:"1000000" help:"Rows of the generated declarations file."`
	Repeat int      `default:"3" help:"Runs of each measurement; medians are reported."`
	Phase  string   `hidden:"" help:"Internal: run one measured phase (bare, validate, copy, ingest) and print its seconds."`
	File   string   `hidden:""`
	Keep   bool     `help:"Keep the work folder (generated files, cluster) and print where it is, to profile a phase by hand."`
	Only   []string `help:"Run only these measurements (bare, validate, copy, ingest, bare-xlsx, validate-xlsx, validate-be, ingest-prescan); the report shows what ran."`
}

type phaseResult struct {
	Seconds float64 `json:"seconds"`
	Rows    int     `json:"rows"`
	RSS     int64   `json:"peak_rss_kib"`
}

// Run orchestrates: a throwaway cluster with default (durable) settings
// unless DATABASE_URL is set, a generated file, a database per run cloned
// from a migrated template, and each measurement in its own process.
func (c *BenchCmd) Run(ctx context.Context, g *Globals) error {
	if c.Phase != "" {
		return c.runPhase(ctx, g)
	}
	work, base, done, err := benchServer(ctx, g, "clearhouse-bench-", c.Keep)
	if err != nil {
		return err
	}
	defer done()
	fmt.Printf("clearhouse bench: %d rows, %d runs each, PostgreSQL %s\n", c.Rows, c.Repeat, serverVersion(ctx, base))
	if err := benchTemplate(ctx, base, "bench_tpl", "samples/bench/config"); err != nil {
		return err
	}
	files := map[int]string{}
	for _, n := range []int{c.Rows, c.Rows / 4} {
		f := filepath.Join(work, fmt.Sprintf("decl_%d.csv", n))
		out, err := os.Create(f)
		if err != nil {
			return err
		}
		if err := samplegen.Write(out, samplegen.Options{Rows: n}); err != nil {
			return err
		}
		out.Close()
		files[n] = f
	}
	fi, _ := os.Stat(files[c.Rows])
	fmt.Printf("file: %d rows, %.1f MB\n", c.Rows, float64(fi.Size())/1e6)
	// The same rows as a workbook, and in the Belgian dialect (semicolons,
	// decimal commas, dd/mm/yyyy, Windows-1252), for the dialect figures.
	xlsx := filepath.Join(work, "decl.xlsx")
	if c.wants("bare-xlsx") || c.wants("validate-xlsx") {
		if err := samplegen.WriteXLSX(xlsx, samplegen.Options{Rows: c.Rows}); err != nil {
			return err
		}
	}
	be := filepath.Join(work, "decl_be.csv")
	if err := writeBelgian(be, c.Rows); err != nil {
		return err
	}
	var xlsxMB float64
	if fx, err := os.Stat(xlsx); err == nil {
		xlsxMB = float64(fx.Size()) / 1e6
	}
	fb, _ := os.Stat(be)
	fmt.Printf("      the same as XLSX %.1f MB, as semicolon/Windows-1252/decimal-comma CSV %.1f MB\n\n", xlsxMB, float64(fb.Size())/1e6)

	results := map[string][]phaseResult{}
	phases := []string{"bare", "validate", "copy", "ingest", "bare-xlsx", "validate-xlsx", "validate-be"}
	input := map[string]string{"bare": files[c.Rows], "validate": files[c.Rows], "copy": files[c.Rows], "ingest": files[c.Rows],
		"bare-xlsx": xlsx, "validate-xlsx": xlsx, "validate-be": be}
	run := 0
	for r := 0; r < c.Repeat; r++ {
		order := phases
		if r%2 == 1 { // alternate the order so drift on a shared machine spreads evenly
			order = []string{"validate-be", "validate-xlsx", "bare-xlsx", "ingest", "copy", "validate", "bare"}
		}
		for _, ph := range order {
			if !c.wants(ph) {
				continue
			}
			if r > 0 && strings.HasSuffix(ph, "xlsx") {
				continue // excelize's own loop costs about a minute per million rows: once is enough
			}
			run++
			res, err := c.child(ctx, g, ph, input[ph], base, run, work)
			if err != nil {
				return fmt.Errorf("%s: %w", ph, err)
			}
			fmt.Fprintf(os.Stderr, "  run %d %-8s %6.2f s  %5.0f MiB\n", r+1, ph, res.Seconds, float64(res.RSS)/1024)
			results[ph] = append(results[ph], res)
		}
	}
	var quarter phaseResult
	if len(results["ingest"]) > 0 {
		run++
		if quarter, err = c.child(ctx, g, "ingest", files[c.Rows/4], base, run, work); err != nil {
			return err
		}
	}
	// Prescanned, as files above --max-in-memory-mb are: memory flat with size.
	var pre [2]phaseResult
	if c.wants("ingest-prescan") {
		for i, n := range []int{c.Rows, c.Rows / 4} {
			run++
			if pre[i], err = c.child(ctx, g, "ingest-prescan", files[n], base, run, work); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  prescanned ingest of %d rows %6.2f s  %5.0f MiB\n", n, pre[i].Seconds, float64(pre[i].RSS)/1024)
		}
	}
	return c.report(results, quarter, pre)
}

func (c *BenchCmd) report(results map[string][]phaseResult, quarter phaseResult, pre [2]phaseResult) error {
	med := func(ph string) (float64, int64) {
		rs := results[ph]
		if len(rs) == 0 {
			return 0, 0
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].Seconds < rs[j].Seconds })
		var rss int64
		for _, r := range rs {
			rss = max(rss, r.RSS)
		}
		return rs[len(rs)/2].Seconds, rss
	}
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASUREMENT\tMEDIAN s\tROWS/s\tPEAK RSS MiB\t")
	names := map[string]string{"bare": "bare encoding/csv read loop", "validate": "clearhouse validate", "copy": "raw COPY into a typed table with a primary key",
		"ingest": "clearhouse ingest (check + post + ack)", "bare-xlsx": "bare excelize Rows loop (XLSX)", "validate-xlsx": "clearhouse validate (XLSX)",
		"validate-be": "clearhouse validate (semicolon, Windows-1252, decimal comma)"}
	for _, ph := range []string{"bare", "validate", "copy", "ingest", "bare-xlsx", "validate-xlsx", "validate-be"} {
		if len(results[ph]) == 0 {
			continue
		}
		s, rss := med(ph)
		fmt.Fprintf(tw, "%s\t%.2f\t%.0f\t%.0f\t\n", names[ph], s, float64(c.Rows)/s, float64(rss)/1024)
	}
	tw.Flush()
	bare, _ := med("bare")
	val, _ := med("validate")
	cp, _ := med("copy")
	ing, ingRSS := med("ingest")
	mark := met
	fmt.Println()
	ran := func(phs ...string) bool {
		for _, ph := range phs {
			if len(results[ph]) == 0 {
				return false
			}
		}
		return true
	}
	if ran("validate", "bare") {
		fmt.Printf("validate / bare read  = %.2fx   (target <= 2.0x: %s)\n", val/bare, mark(val/bare <= 2))
	}
	if ran("ingest", "copy") {
		fmt.Printf("ingest / raw COPY     = %.2fx   (target <= 3.0x: %s)\n", ing/cp, mark(ing/cp <= 3))
	}
	bx, _ := med("bare-xlsx")
	vx, vxRSS := med("validate-xlsx")
	vb, _ := med("validate-be")
	if ran("validate-xlsx", "bare-xlsx") {
		fmt.Printf("validate XLSX / bare excelize loop = %.2fx   (target <= 1.5x: %s); peak RSS %.0f MiB\n", vx/bx, mark(vx/bx <= 1.5), float64(vxRSS)/1024)
	}
	if ran("validate-be", "bare") {
		fmt.Printf("validate Belgian CSV / bare read   = %.2fx   (target <= 2.5x: %s)\n", vb/bare, mark(vb/bare <= 2.5))
	}
	if ran("ingest") {
		fmt.Printf("ingest peak RSS       = %.0f MiB at %d rows, %.0f MiB at %d rows (target <= 256 MiB: %s)\n",
			float64(ingRSS)/1024, c.Rows, float64(quarter.RSS)/1024, c.Rows/4, mark(ingRSS <= 256*1024))
	}
	if pre[0].Rows > 0 {
		fmt.Printf("prescanned ingest     = %.2f s at %d rows", pre[0].Seconds, c.Rows)
		if ran("copy") {
			fmt.Printf(" (%.2fx COPY)", pre[0].Seconds/cp)
		}
		fmt.Printf("; peak RSS %.0f MiB at %d rows, %.0f MiB at %d rows (flat: %s)\n", float64(pre[0].RSS)/1024, c.Rows, float64(pre[1].RSS)/1024, c.Rows/4,
			mark(float64(pre[0].RSS) <= 1.25*float64(pre[1].RSS)))
	}
	return nil
}

// wants reports whether measurement ph is to run (--only).
func (c *BenchCmd) wants(ph string) bool { return len(c.Only) == 0 || slices.Contains(c.Only, ph) }

// child runs one phase in a fresh process and reads its result and peak RSS.
func (c *BenchCmd) child(ctx context.Context, g *Globals, phase, file, base string, run int, work string) (phaseResult, error) {
	var res phaseResult
	url := base
	if phase != "bare" && phase != "bare-xlsx" {
		name := fmt.Sprintf("bench_run_%d", run)
		if err := adminExec(ctx, base, fmt.Sprintf(`CREATE DATABASE %s TEMPLATE bench_tpl`, name)); err != nil {
			return res, err
		}
		defer adminExec(context.WithoutCancel(ctx), base, fmt.Sprintf(`DROP DATABASE IF EXISTS %s`, name))
		url = withDatabase(base, name)
	}
	err := runBenchChild(ctx, &res, "--database-url", url, "--data-dir", filepath.Join(work, fmt.Sprintf("data-%d", run)),
		"bench", "--phase", phase, "--file", file)
	return res, err
}

// runPhase is the measured work of one child process.
func (c *BenchCmd) runPhase(ctx context.Context, g *Globals) error {
	var start time.Time
	rows := 0
	switch c.Phase {
	case "bare":
		f, err := os.Open(c.File)
		if err != nil {
			return err
		}
		defer f.Close()
		start = time.Now()
		r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
		r.ReuseRecord = true
		for {
			_, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			rows++
		}
		rows--
	case "copy":
		conn, err := pgx.Connect(ctx, g.DatabaseURL)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TABLE raw_decl (declaration_id text PRIMARY KEY, action text, customer_id text, customer_email text,
			customer_name text, country text, language text, sku text, quantity bigint, start_date date, end_date date, unit_price numeric,
			currency text, subscription_ref text)`); err != nil {
			return err
		}
		f, err := os.Open(c.File)
		if err != nil {
			return err
		}
		defer f.Close()
		start = time.Now()
		tag, err := conn.PgConn().CopyFrom(ctx, bufio.NewReaderSize(f, 1<<20), `COPY raw_decl FROM STDIN WITH (FORMAT csv, HEADER true)`)
		if err != nil {
			return err
		}
		rows = int(tag.RowsAffected())
	case "bare-xlsx":
		start = time.Now()
		book, err := excelize.OpenFile(c.File, excelize.Options{RawCellValue: true, UnzipXMLSizeLimit: 16 << 20})
		if err != nil {
			return err
		}
		defer book.Close()
		rs, err := book.Rows(book.GetSheetList()[0])
		if err != nil {
			return err
		}
		for rs.Next() {
			if _, err := rs.Columns(excelize.Options{RawCellValue: true}); err != nil {
				return err
			}
			rows++
		}
		rows--
	case "validate", "ingest", "validate-xlsx", "validate-be", "ingest-prescan":
		pool, err := store.Open(ctx, g.DatabaseURL)
		if err != nil {
			return err
		}
		defer pool.Close()
		svc := &ingest.Service{Pool: pool, Archive: &archive.Store{Dir: filepath.Join(g.DataDir, "archive")}, DataDir: g.DataDir}
		if c.Phase == "ingest-prescan" {
			svc.PrescanBytes = 1 // every file, whatever its size
		}
		defer svc.Close()
		req := ingest.Request{Partner: "bench-telco", Path: c.File, Kind: "declarations"}
		if c.Phase == "validate-be" {
			req.Partner = "bench-be"
		}
		start = time.Now()
		var o *ingest.Outcome
		if c.Phase != "ingest" && c.Phase != "ingest-prescan" {
			o, err = svc.Validate(ctx, req)
		} else {
			o, err = svc.Ingest(ctx, req)
		}
		if err != nil {
			return err
		}
		if o.Status != ingest.Accepted {
			return fmt.Errorf("%s: %s with %d problems (first: %v)", c.Phase, o.Status, len(o.Problems), o.Problems)
		}
		rows = o.Accepted
	default:
		return fmt.Errorf("unknown phase %q", c.Phase)
	}
	return json.NewEncoder(os.Stdout).Encode(phaseResult{Seconds: time.Since(start).Seconds(), Rows: rows, RSS: peakRSS()})
}

// met marks a target in the report.
func met(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// benchServer makes the work folder (kept when keep is set) and starts the
// server the bench measures on: DATABASE_URL's, or a throwaway cluster with
// default (durable) settings in the work folder. done stops it and removes
// the folder.
func benchServer(ctx context.Context, g *Globals, prefix string, keep bool) (work, base string, done func(), err error) {
	if work, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", nil, err
	}
	_ = os.Chmod(work, 0o755)
	remove := func() { _ = os.RemoveAll(work) }
	if keep {
		fmt.Printf("work folder kept: %s\n", work)
		remove = func() {}
	}
	if g.DatabaseURL != "" {
		return work, g.DatabaseURL, remove, nil
	}
	s, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(work, "pg"), Create: true})
	if err != nil {
		remove()
		return "", "", nil, err
	}
	return work, s.URL("postgres"), func() { s.Stop(); remove() }, nil
}

// benchTemplate makes database name, migrated, with the world of the
// configuration folder dir applied: the template the measured runs clone.
func benchTemplate(ctx context.Context, base, name, dir string) error {
	_ = adminExec(ctx, base, `DROP DATABASE IF EXISTS `+name)
	if err := adminExec(ctx, base, `CREATE DATABASE `+name); err != nil {
		return err
	}
	pool, err := store.Open(ctx, withDatabase(base, name))
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.MigratePool(ctx, pool); err != nil {
		return err
	}
	w, err := world.Load(dir)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { _, err := world.Apply(ctx, store.New(tx), w); return err })
}

func adminExec(ctx context.Context, url, sql string) error {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

func serverVersion(ctx context.Context, url string) string {
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "?"
	}
	defer c.Close(ctx)
	var v string
	_ = c.QueryRow(ctx, `SHOW server_version`).Scan(&v)
	return v
}

// withDatabase swaps the database name in a postgres:// URL.
func withDatabase(url, db string) string {
	q := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, q = url[:i], url[i:]
	}
	if i := strings.LastIndexByte(url, '/'); i > len("postgres://") {
		url = url[:i]
	}
	return url + "/" + db + q
}

// writeBelgian writes the generated rows in the bench-be dialect, encoded
// as Windows-1252.
func writeBelgian(path string, rows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := transform.NewWriter(f, charmap.Windows1252.NewEncoder())
	if err := samplegen.Write(w, samplegen.Options{Rows: rows, Prefix: "BE", Belgian: true}); err != nil {
		return err
	}
	return w.Close()
}

// peakRSS is this process's peak resident set (VmHWM, KiB). Not the rusage
// of the child seen from the parent: on Linux that includes the parent's
// resident set at the moment it forked.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb
		}
	}
	return 0
}
