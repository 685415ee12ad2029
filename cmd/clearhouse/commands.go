package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

// MigrateCmd applies migrations.
type MigrateCmd struct{}

func (c *MigrateCmd) Run(ctx context.Context, g *Globals) error {
	e, err := g.connect(ctx, false)
	if err != nil && !errors.Is(err, store.ErrSchemaBehind) {
		return err
	}
	if e == nil {
		if e, err = g.connect(ctx, true); err != nil {
			return err
		}
		fmt.Println("database migrated")
	} else {
		fmt.Println("database schema is up to date")
	}
	e.close()
	return nil
}

// ApplyCmd loads the world configuration.
type ApplyCmd struct {
	Dir    string `short:"f" required:"" type:"existingdir" help:"Folder of YAML files (publishers, resellers, catalogs)."`
	DryRun bool   `help:"Show what would change, change nothing."`
}

func (c *ApplyCmd) Run(ctx context.Context, g *Globals) error {
	w, err := world.Load(c.Dir)
	if err != nil {
		var errs world.Errors
		if errors.As(err, &errs) {
			fmt.Fprintf(os.Stderr, "%s: %d problem(s), nothing changed:\n", c.Dir, len(errs))
			for _, e := range errs {
				fmt.Fprintln(os.Stderr, "  "+e.Error())
			}
			return exitCode(2)
		}
		return err
	}
	return g.withDB(ctx, false, func(e *env) error {
		res, err := applyWorld(ctx, e, w, c.DryRun)
		if err != nil {
			return err
		}
		printApply(res, c.DryRun)
		return nil
	})
}

var errDryRun = errors.New("dry run")

func applyWorld(ctx context.Context, e *env, w *world.World, dry bool) (*world.Result, error) {
	var res *world.Result
	err := store.BeginFunc(ctx, e.pool, func(tx store.Tx) error {
		var err error
		if res, err = world.Apply(ctx, store.New(tx), w); err != nil {
			return err
		}
		if dry {
			return errDryRun
		}
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return res, err
}

func printApply(res *world.Result, dry bool) {
	for _, ch := range res.Changes {
		fmt.Println(printable(ch.String(), 1000)) // configured text reaches the terminal as text
	}
	verb := "applied"
	if dry {
		verb = "would apply (dry run)"
	}
	fmt.Printf("%s: %d change(s), %d unchanged\n", verb, len(res.Changes), res.Unchanged)
}

// IngestCmd processes files.
type IngestCmd struct {
	Reseller string   `required:"" help:"Reseller id the files come from."`
	Kind     string   `enum:",declarations,customers" default:"" help:"File kind; guessed from the name when omitted (customers if it contains 'customer' or 'client')."`
	Sheet    string   `help:"Worksheet of an XLSX file (default: the reseller's declared sheet, else the first)."`
	Files    []string `arg:"" type:"existingfile" help:"Files to process, in order."`
	Format   string   `enum:"table,json" default:"table" help:"Output format: table, or json (JSON Lines: one object per file)."`
}

func (c *IngestCmd) Run(ctx context.Context, g *Globals) error {
	return eachFile(ctx, g, c.Files, c.Format, func(svc *ingest.Service, req ingest.Request) (*ingest.Outcome, error) {
		req.Partner, req.Kind, req.Sheet = c.Reseller, c.Kind, c.Sheet
		return svc.Ingest(ctx, req)
	})
}

// eachFile runs one command over files in order, prints each outcome and
// exits with the highest of their codes.
func eachFile(ctx context.Context, g *Globals, files []string, format string, run func(*ingest.Service, ingest.Request) (*ingest.Outcome, error)) error {
	return g.withDB(ctx, false, func(e *env) error {
		svc := g.service(e)
		worst := 0
		out := &outcomes{format: format}
		for _, f := range files {
			o, err := run(svc, ingest.Request{Path: f, Progress: progressLine(f)})
			clearProgress()
			if err != nil {
				return fmt.Errorf("%s: %w", f, err)
			}
			out.print(o)
			worst = max(worst, o.ExitCode())
		}
		if worst != 0 {
			return exitCode(worst)
		}
		return nil
	})
}

// ValidateCmd checks files without writing.
type ValidateCmd struct {
	Reseller string   `required:"" help:"Reseller id whose catalog and history apply."`
	Kind     string   `enum:",declarations,customers" default:"" help:"File kind; guessed from the name when omitted."`
	Sheet    string   `help:"Worksheet of an XLSX file (default: the reseller's declared sheet, else the first)."`
	Format   string   `enum:"table,json,csv" default:"table" help:"Output format: table, json (JSON Lines: one object per file) or csv (the problems of every file under one header)."`
	Files    []string `arg:"" type:"existingfile"`
}

func (c *ValidateCmd) Run(ctx context.Context, g *Globals) error {
	return eachFile(ctx, g, c.Files, c.Format, func(svc *ingest.Service, req ingest.Request) (*ingest.Outcome, error) {
		req.Partner, req.Kind, req.Sheet = c.Reseller, c.Kind, c.Sheet
		return svc.Validate(ctx, req)
	})
}

// outcomes prints the outcome of each file of a command in one format: a
// table for people; JSON Lines (one object per file); CSV with one header.
type outcomes struct {
	format string
	csv    *render.CSV
}

func (p *outcomes) print(o *ingest.Outcome) {
	if p.format == "csv" && p.csv == nil {
		p.csv = render.NewCSV(os.Stdout)
		_ = p.csv.Write("file", "line", "sheet", "column", "code", "severity", "value", "message")
	}
	printOutcome(o, p.format, p.csv)
}

func printOutcome(o *ingest.Outcome, format string, w *render.CSV) {
	switch format {
	case "json":
		type jp struct {
			Line     int    `json:"line"`
			Sheet    string `json:"sheet,omitempty"`
			Column   string `json:"column,omitempty"`
			Code     string `json:"code"`
			Severity string `json:"severity"`
			Value    string `json:"value,omitempty"`
			Message  string `json:"message"`
		}
		out := struct {
			FileID      int64  `json:"file_id,omitempty"`
			Name        string `json:"file_name"`
			Kind        string `json:"kind"`
			Status      string `json:"status"`
			Rows        int    `json:"rows_total"`
			Accepted    int    `json:"rows_accepted"`
			Rejected    int    `json:"rows_rejected"`
			Amount      string `json:"amount_total,omitempty"`
			Currency    string `json:"currency,omitempty"`
			DuplicateOf int64  `json:"duplicate_of,omitempty"`
			Ack         string `json:"ack,omitempty"`
			Rejects     string `json:"rejects,omitempty"`
			Warnings    string `json:"warnings,omitempty"`
			Problems    []jp   `json:"problems"`
		}{FileID: o.FileID, Name: o.Name, Kind: o.Kind, Status: o.Status, Rows: o.Rows, Accepted: o.Accepted, Rejected: o.Rejected,
			Currency: string(o.Currency), DuplicateOf: o.DuplicateOf, Ack: o.AckPath, Rejects: o.RejectsPath, Warnings: o.WarningsPath, Problems: []jp{}}
		if o.Currency != "" {
			out.Amount = money.Format(o.Amount, o.Currency)
		}
		for _, p := range o.Problems {
			out.Problems = append(out.Problems, jp{p.Pos.Line, p.Pos.Sheet, p.Pos.Column, string(p.Code), string(p.Severity), p.Value, p.Message})
		}
		b, _ := json.Marshal(out) // one line per file: JSON Lines
		fmt.Println(string(b))
	case "csv":
		for _, p := range o.Problems {
			_ = w.Write(o.Name, fmt.Sprint(p.Pos.Line), p.Pos.Sheet, p.Pos.Column, string(p.Code), string(p.Severity), p.Value, p.Message)
		}
		_ = w.Flush()
	default:
		fmt.Println(summaryLine(o))
		if o.AckPath != "" {
			fmt.Println("  ack:      " + printable(o.AckPath, 300))
		}
		if o.RejectsPath != "" {
			fmt.Println("  rejects:  " + printable(o.RejectsPath, 300))
		}
		if o.WarningsPath != "" {
			fmt.Println("  warnings: " + printable(o.WarningsPath, 300))
		}
		if len(o.Problems) > 0 {
			tw := table(os.Stdout)
			fmt.Fprintln(tw, "  LINE\tSHEET\tCOLUMN\tCODE\tVALUE\tMESSAGE")
			for _, p := range o.Problems {
				code := string(p.Code)
				if p.Severity == "warning" {
					code += " (warning)"
				}
				fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\n", p.Pos.Line, printable(p.Pos.Sheet, 31), printable(p.Pos.Column, 40), code,
					printable(p.Value, 30), printable(p.Message, 500))
			}
			tw.Flush()
		}
	}
}

func summaryLine(o *ingest.Outcome) string {
	s := fmt.Sprintf("%-9s %s (%s)", o.Status, printable(o.Name, 120), o.Kind)
	if o.FileID != 0 {
		s += fmt.Sprintf(" file %d", o.FileID)
	}
	if o.Status == ingest.Duplicate {
		return s + fmt.Sprintf(": same content as file %d, nothing posted", o.DuplicateOf)
	}
	s += fmt.Sprintf(": %d rows, %d accepted, %d rejected", o.Rows, o.Accepted, o.Rejected)
	if o.Currency != "" && o.Kind == "declarations" && o.Status != ingest.Rejected {
		s += ", amount " + money.Format(o.Amount, o.Currency) + " " + string(o.Currency)
	}
	return s
}

// LedgerCmd groups ledger commands.
type LedgerCmd struct {
	Check    LedgerCheckCmd    `cmd:"" help:"Verify every ledger invariant; exit 1 if one is broken."`
	Balances LedgerBalancesCmd `cmd:"" help:"Print account balances."`
}

// LedgerCheckCmd verifies invariants.
type LedgerCheckCmd struct{}

func (c *LedgerCheckCmd) Run(ctx context.Context, g *Globals) error {
	return g.withDB(ctx, false, func(e *env) error {
		v, err := ledger.Check(ctx, store.New(e.pool))
		if err != nil {
			return err
		}
		for _, x := range v {
			fmt.Println("VIOLATION", x)
		}
		if len(v) > 0 {
			return exitCode(1)
		}
		fmt.Println("ledger OK: every entry balances per currency, detail rows sum to their postings, balances match postings")
		return nil
	})
}

// LedgerBalancesCmd prints balances.
type LedgerBalancesCmd struct {
	Reseller string `help:"Only this partner's accounts."`
}

func (c *LedgerBalancesCmd) Run(ctx context.Context, g *Globals) error {
	return g.forPartner(ctx, c.Reseller, func(e *env) error { return printBalances(ctx, e, c.Reseller) })
}

func printBalances(ctx context.Context, e *env, partner string) error {
	bs, err := ledger.Balances(ctx, store.New(e.pool), partner)
	if err != nil {
		return err
	}
	tw := amountTable(os.Stdout)
	fmt.Fprintln(tw, "ACCOUNT\tCURRENCY\tDEBIT\tCREDIT\t")
	for _, b := range bs {
		d, cr := "", ""
		if b.Balance > 0 {
			d = money.Format(b.Balance, b.Currency)
		} else if b.Balance < 0 {
			cr = money.Format(-b.Balance, b.Currency)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", b.Code, b.Currency, d, cr)
	}
	return tw.Flush()
}
