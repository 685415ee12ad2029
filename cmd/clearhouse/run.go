package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/fulfil"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

// RunCmd is `make run`: the whole loop on the sample world.
type RunCmd struct {
	Samples string `default:"samples" type:"existingdir" help:"Sample world: config/ (YAML) and drops/<reseller>/<file>."`
	Serve   bool   `help:"Then serve (SFTP, intake, /metrics) until Ctrl-C, as clearhouse serve does."`
	// The sample months: everything up to the first after the drops, then
	// the late drops (samples/late), then the second.
	BillFirst string `default:"2026-10" placeholder:"YYYY-MM" help:"Bill up to this month after the drops."`
	BillThen  string `default:"2026-11" placeholder:"YYYY-MM" help:"Then take samples/late/<reseller>/ and bill up to this month."`

	ServeFlags `embed:""`
}

func (c *RunCmd) Run(ctx context.Context, g *Globals) error {
	e, err := g.connectOrCreate(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	fmt.Printf("database: %s\n\n", redact(e.url))

	w, err := world.Load(filepath.Join(c.Samples, "config"))
	if err != nil {
		return err
	}
	res, err := applyWorld(ctx, e, w, false)
	if err != nil {
		return err
	}
	fmt.Printf("== apply %s\n", filepath.Join(c.Samples, "config"))
	printApply(res, false)

	svc := g.service(e)
	if err := ingestDrops(ctx, svc, filepath.Join(c.Samples, "drops"), "drops"); err != nil {
		return err
	}
	if err := runBilling(ctx, g, e, c.BillFirst); err != nil {
		return err
	}
	if err := ingestDrops(ctx, svc, filepath.Join(c.Samples, "late"), "late drops (arriving in November, after the October run)"); err != nil {
		return err
	}
	if err := runBilling(ctx, g, e, c.BillThen); err != nil {
		return err
	}

	fmt.Printf("\n== fulfillment files (serve makes them on each publisher's schedule, every 15 minutes by default)\n")
	for _, p := range w.Publishers {
		r, err := fulfil.Run(ctx, store.New(e.pool), g.DataDir, p.ID, time.Now())
		if err != nil {
			return fmt.Errorf("fulfillment of %s: %w", p.ID, err)
		}
		for _, f := range r.Files {
			rel, _ := filepath.Rel(g.DataDir, f)
			fmt.Printf("  %s\n", rel)
		}
	}

	fmt.Printf("\n== ledger check\n")
	v, err := ledger.Check(ctx, store.New(e.pool))
	if err != nil {
		return err
	}
	for _, x := range v {
		fmt.Println("VIOLATION", x)
	}
	if len(v) == 0 {
		fmt.Println("ledger OK")
	}
	fmt.Printf("\n== balances\n")
	if err := printBalances(ctx, e, ""); err != nil {
		return err
	}
	abs, _ := filepath.Abs(g.DataDir)
	l := mailbox.Layout{DataDir: abs}
	dbNote := ""
	if e.server != nil {
		e.server.Detach() // leave it up for psql and the next commands; `make db-stop` stops it
		dbNote = "   (local cluster left running: make db-stop)"
	}
	fmt.Printf(`
Where to look:
  acks and rejects:   %s/   (e.g. isp-de/outbox/01_sales_2026-03.csv.rejects.csv)
  invoices:           the same outboxes: <number>.pdf, .xml (UBL), .csv, _detail.csv (clearhouse invoices lists them)
  fulfillment files:  %s/
  raw files archived: %s/archive/sha256/
  database:           psql "%s"%s
Next:
  clearhouse validate --reseller isp-de samples/drops/isp-de/01_sales_2026-03.csv
  clearhouse ledger balances --reseller telco-fr
  clearhouse invoices --reseller isp-de  the documents issued, with what is open
  clearhouse bill --period 2026-11 --dry-run   a rerun: nothing to bill
  clearhouse status                      recent files, the job queue, schedules, instances
Running make run again re-sends the same drops: posted files come back DUPLICATE, nothing is posted twice.
`, l.Outbox("<reseller>"), l.Outbox("<publisher>"), abs, e.url, dbNote)
	if len(v) > 0 {
		return exitCode(1)
	}
	if !c.Serve {
		return nil
	}
	key, _ := filepath.Abs(filepath.Join(c.Samples, "sftp", "telco-fr_ed25519"))
	_ = os.Chmod(key, 0o600) // git keeps no modes, and ssh refuses a readable private key
	_, port, _ := strings.Cut(c.SFTPAddr, ":")
	fmt.Printf(`
Upload as telco-fr (demo key) once serving starts, from another terminal:
  sftp -i %s -P %s telco-fr@127.0.0.1
  sftp> put samples/drops/telco-fr/02_declarations_2026-01.csv inbox/
  sftp> ls outbox
Ctrl-C stops.

`, key, port)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, g, e, c.ServeFlags, os.Stdout)
}

// ingestDrops takes every <dir>/<reseller>/<file> as that reseller's
// upload, in name order.
func ingestDrops(ctx context.Context, svc *ingest.Service, dir, what string) error {
	resellers, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, r := range resellers {
		if !r.IsDir() {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(dir, r.Name(), "*"))
		sort.Strings(files)
		fmt.Printf("\n== %s of %s\n", what, r.Name())
		for _, f := range files {
			o, err := svc.Ingest(ctx, ingest.Request{Partner: r.Name(), Path: f, Uploader: "sample-drop"})
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			fmt.Println(summaryLine(o))
		}
	}
	return nil
}

// runBilling bills up to month and prints what was issued.
func runBilling(ctx context.Context, g *Globals, e *env, month string) error {
	period, err := billing.ParsePeriod(month)
	if err != nil {
		return err
	}
	fmt.Println()
	b, err := g.biller(e)
	if err != nil {
		return err
	}
	if err := g.writeOwed(ctx, e); err != nil {
		return err
	}
	rep, err := b.Run(ctx, billing.Request{Period: period})
	if err != nil {
		return err
	}
	printReport(rep, g.DataDir)
	if f := rep.Failed(); len(f) > 0 {
		return fmt.Errorf("billing %s: %s: %w", month, f[0].Reseller, f[0].Err)
	}
	return nil
}

// redact hides a password in a database URL for printing.
func redact(u string) string {
	for i := len("postgres://"); i < len(u); i++ {
		if u[i] == '@' {
			for j := len("postgres://"); j < i; j++ {
				if u[j] == ':' {
					return u[:j+1] + "****" + u[i:]
				}
			}
			break
		}
	}
	return u
}
