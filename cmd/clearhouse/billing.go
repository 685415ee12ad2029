package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/pipeline"
	"github.com/clearhouse/clearhouse/internal/store"
)

// BillCmd is `clearhouse bill`: a billing run from the command line.
type BillCmd struct {
	Period   string `required:"" placeholder:"YYYY-MM" help:"The month to bill (it must be over in the hub's time zone); earlier months never billed are billed first, in order."`
	Reseller string `help:"Only this reseller."`
	DryRun   bool   `name:"dry-run" help:"Show what would be issued (lines, VAT, totals) and change nothing: no number is taken."`
}

func (c *BillCmd) Run(ctx context.Context, g *Globals) error {
	period, err := billing.ParsePeriod(c.Period)
	if err != nil {
		return err
	}
	return g.forPartner(ctx, c.Reseller, func(e *env) error {
		b, err := g.biller(e)
		if err != nil {
			return err
		}
		if !c.DryRun {
			if err := g.writeOwed(ctx, e); err != nil {
				return err
			}
		}
		rep, err := b.Run(ctx, billing.Request{Period: period, Reseller: c.Reseller, DryRun: c.DryRun})
		if err != nil {
			return err
		}
		printReport(rep, g.DataDir)
		if !c.DryRun { // what this run's writers left if one was killed in the run (2 s and older)
			_, _ = (mailbox.Layout{DataDir: g.DataDir}).SweepOutboxes()
		}
		failed := rep.Failed()
		for _, f := range failed {
			if !billing.ResellersOwn(f.Err) {
				return exitCode(3) // a failure of the system: run it again
			}
		}
		if len(failed) > 0 {
			return exitCode(1) // fix the resellers named, then bill again
		}
		return nil
	})
}

// writeOwed writes the files of documents an earlier command issued but
// was killed before writing (serve does it too, when one runs).
func (g *Globals) writeOwed(ctx context.Context, e *env) error {
	files, err := (&billing.Documents{Pool: e.pool, DataDir: g.DataDir}).WriteOwed(ctx)
	if len(files) > 0 {
		fmt.Printf("== wrote %d files of documents issued earlier whose files were not written (a run was stopped)\n", len(files))
	}
	if err != nil {
		return fmt.Errorf("writing the files of documents issued earlier: %w", err)
	}
	return nil
}

// biller is the CLI's biller (pipeline.NewBiller): it writes the
// documents' files after each commit, and queues their job in the issuing
// transaction so that a kill in between loses none.
func (g *Globals) biller(e *env) (*billing.Biller, error) {
	b, err := pipeline.NewBiller(e.pool, g.DataDir, g.log)
	if err == nil {
		b.BatchSize = g.BillingBatch
	}
	return b, err
}

func printReport(rep *billing.Report, dataDir string) {
	var docs, failed int
	for _, b := range rep.Billed {
		docs += len(b.Documents)
		if b.Err != nil {
			failed++
		}
	}
	what := plural(docs, "document") + " issued"
	switch {
	case rep.DryRun:
		what = "preview (dry run: nothing issued, no number taken; the numbers shown are the next free ones)"
	case docs == 0:
		what = "nothing issued"
	}
	if failed > 0 && !rep.DryRun {
		what += ", " + plural(failed, "reseller") + " not billed"
	}
	fmt.Printf("== billing up to %s, issue date %s: %s\n", billing.PeriodText(rep.Period), rep.Issue, what)
	if len(rep.Billed) == 0 {
		fmt.Println("  nothing to bill: nothing declared")
	}
	for _, b := range rep.Billed {
		head := fmt.Sprintf("  %s %s:", b.Reseller, billing.PeriodText(b.Period))
		switch {
		case b.Err != nil:
			fmt.Printf("%s FAILED: %v\n", head, b.Err)
		case b.Already:
			fmt.Printf("%s already billed: nothing to do (what is declared since, whatever its date, is billed with %s)\n", head, billing.PeriodText(b.Next))
		case b.NothingYet && b.BilledUpTo != 0:
			fmt.Printf("%s nothing to bill: its first declaration is dated %s (it is billed up to %s)\n", head, billing.PeriodText(b.Next), billing.PeriodText(b.BilledUpTo))
		case b.NothingYet:
			fmt.Printf("%s nothing to bill: its first declaration is dated %s\n", head, billing.PeriodText(b.Next))
		case len(b.Documents) == 0:
			fmt.Printf("%s nothing to bill (the period counts as billed)\n", head)
		default:
			for _, d := range b.Documents {
				fmt.Printf("%s %s\n", head, docLine(d))
				if rep.DryRun {
					printDocument(os.Stdout, d)
				}
				// Its files: number.pdf, and the others beside it.
				for _, f := range b.Files {
					if filepath.Base(f) == d.Number+".pdf" {
						rel, err := filepath.Rel(dataDir, f)
						if err != nil {
							rel = f
						}
						fmt.Printf("      %s (and .xml, .csv, _detail.csv)\n", rel)
					}
				}
			}
		}
	}
}

// plural says n things ("1 document", "2 documents").
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func kind(d *invoice.Document) string {
	if d.Type == invoice.TypeCreditNote {
		return "credit note"
	}
	return "invoice"
}

func docLine(d *invoice.Document) string {
	lines := "lines"
	if len(d.Lines) == 1 {
		lines = "line"
	}
	s := fmt.Sprintf("%s %s: %d %s, net %s, VAT %s, total %s %s", kind(d), d.Number, len(d.Lines), lines,
		d.Amount(d.Totals.TaxExclusive), d.Amount(d.Totals.Tax), d.Amount(d.Totals.TaxInclusive), d.Currency)
	if d.Totals.Prepaid > 0 {
		s += fmt.Sprintf(", credit applied %s, due at issue %s", d.Amount(d.Totals.Prepaid), d.Amount(d.Totals.Payable))
	}
	return s
}

// printDocument prints what the reseller would get: lines, VAT, totals.
func printDocument(out *os.File, d *invoice.Document) {
	tw := amountTable(out)
	fmt.Fprintln(tw, "      LINE\tSKU\tMONTH\tQUANTITY\tUNIT PRICE\tNET\tVAT\tCREDITS\t")
	for _, l := range d.Lines {
		credits := l.Credits
		if l.CreditsLine > 0 {
			credits += " line " + strconv.Itoa(l.CreditsLine)
		}
		fmt.Fprintf(tw, "      %d\t%s\t%s\t%d\t%s\t%s\t%s %s %%\t%s\t\n", l.No, printable(l.SKU, 64), l.ServiceMonth, l.Quantity, l.UnitPrice,
			d.Amount(l.Net), l.VATCategory, l.VATRate, credits)
	}
	tw.Flush()
	for _, v := range d.VAT {
		fmt.Fprintf(out, "      VAT %s %s %%: on %s, %s %s\n", v.Category, v.Rate, d.Amount(v.Taxable), d.Amount(v.Tax), printable(v.ExemptionReason, 200))
	}
	if d.Type == invoice.TypeCreditNote {
		fmt.Fprintf(out, "      total credited %s %s\n", d.Amount(d.Totals.TaxInclusive), d.Currency)
		return
	}
	fmt.Fprintf(out, "      total %s %s, due at issue %s (%s)\n", d.Amount(d.Totals.TaxInclusive), d.Currency, d.Amount(d.Totals.Payable), printable(d.Payment.Terms, 200))
}

// InvoicesCmd lists issued documents.
type InvoicesCmd struct {
	Reseller string `help:"Only this reseller's."`
	Period   string `placeholder:"YYYY-MM" help:"Only this billing month's."`
}

func (c *InvoicesCmd) Run(ctx context.Context, g *Globals) error {
	var period civil.Date
	if c.Period != "" {
		var err error
		if period, err = billing.ParsePeriod(c.Period); err != nil {
			return err
		}
	}
	return g.forPartner(ctx, c.Reseller, func(e *env) error {
		list, err := store.Invoices(ctx, e.pool, c.Reseller, period)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Println("no documents issued")
			return nil
		}
		tw := amountTable(os.Stdout)
		fmt.Fprintln(tw, "NUMBER\tTYPE\tRESELLER\tMONTH\tISSUED\tDUE\tNET\tVAT\tTOTAL\tOPEN\tCURRENCY\t")
		for _, li := range list {
			d := &invoice.Document{Currency: li.Currency}
			due := "-"
			if li.DueDate != 0 {
				due = li.DueDate.String()
			}
			typ := "invoice"
			if li.DocType == billing.DocCreditNote {
				typ = "credit note"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", li.Number, typ, li.ResellerID, billing.PeriodText(li.Period),
				li.IssueDate, due, d.Amount(li.Net), d.Amount(li.Tax), d.Amount(li.Gross), d.Amount(li.Left), li.Currency)
		}
		tw.Flush()
		fmt.Println("OPEN: an invoice's amount not yet settled by credit (payments come with collection); a credit note's credit not yet applied")
		return nil
	})
}

// InvoiceCmd groups the commands on one document.
type InvoiceCmd struct {
	Credit InvoiceCreditCmd `cmd:"" help:"Issue a credit note for an invoice (whole, or chosen lines) that reverses what it credits."`
	Show   InvoiceShowCmd   `cmd:"" help:"Print a document as issued: lines, VAT, totals, payment."`
	Write  InvoiceWriteCmd  `cmd:"" help:"Write a document's files (PDF, UBL XML, CSVs) into the reseller's outbox again, byte for byte as issued."`
}

// InvoiceCreditCmd is `clearhouse invoice credit`.
type InvoiceCreditCmd struct {
	Number string `arg:"" help:"The invoice number (CH-2026-000042)."`
	Line   []int  `help:"Credit only these lines (repeat the flag); every line when absent."`
	Reason string `required:"" help:"Why: printed on the credit note."`
}

func (c *InvoiceCreditCmd) Run(ctx context.Context, g *Globals) error {
	return g.withDB(ctx, false, func(e *env) error {
		b, err := g.biller(e)
		if err != nil {
			return err
		}
		doc, id, err := b.Credit(ctx, c.Number, c.Line, c.Reason)
		if err != nil {
			return err
		}
		fmt.Println(docLine(doc))
		printDocument(os.Stdout, doc)
		files, err := b.Write(ctx, id)
		if err != nil {
			return fmt.Errorf("issued, but writing its files: %w (clearhouse invoice write %s)", err, doc.Number)
		}
		for _, f := range files {
			fmt.Println("  ", f)
		}
		return nil
	})
}

// InvoiceShowCmd is `clearhouse invoice show`.
type InvoiceShowCmd struct {
	Number string `arg:"" help:"The document number."`
}

func (c *InvoiceShowCmd) Run(ctx context.Context, g *Globals) error {
	return withDocument(ctx, g, c.Number, func(e *env, in store.Invoice) error {
		var d invoice.Document
		if err := json.Unmarshal(in.Document, &d); err != nil {
			return err
		}
		fmt.Printf("%s, billing month %s, issued %s to %s (%s)\n", docLine(&d), d.BillingMonth, d.IssueDate, printable(d.Buyer.Name, 200), in.ResellerID)
		for _, r := range d.References {
			fmt.Printf("  credits %s of %s\n", r.Number, r.IssueDate)
		}
		if d.Reason != "" {
			fmt.Printf("  reason: %s\n", printable(d.Reason, 500))
		}
		printDocument(os.Stdout, &d)
		return printSince(ctx, e, in, &d)
	})
}

// printSince prints what happened to a document since it was issued (the
// document itself never changes): which credit notes credit its lines,
// the credit applied to it or by it, and what is open or left.
func printSince(ctx context.Context, e *env, in store.Invoice, d *invoice.Document) error {
	settled, credits, err := store.DocumentSince(ctx, e.pool, in.ID)
	if err != nil {
		return err
	}
	fmt.Println("    since issue:")
	for _, l := range credits {
		fmt.Printf("      line %d credited by %s (%d of the %d items it bills)\n", l.Line, l.CreditNote, l.Items, l.OfAll)
	}
	var applied int64
	for _, st := range settled {
		if d.Type == invoice.TypeCreditNote {
			fmt.Printf("      applied to %s: %s %s on %s\n", st.Invoice, d.Amount(st.Amount), d.Currency, st.On)
		} else {
			fmt.Printf("      credit applied from %s: %s %s on %s\n", st.Credit, d.Amount(st.Amount), d.Currency, st.On)
		}
		applied += st.Amount
	}
	if d.Type == invoice.TypeCreditNote {
		fmt.Printf("      credit left %s %s\n", d.Amount(in.Gross-applied), d.Currency)
		return nil
	}
	fmt.Printf("      open %s %s\n", d.Amount(in.Gross-applied), d.Currency)
	return nil
}

// InvoiceWriteCmd is `clearhouse invoice write`.
type InvoiceWriteCmd struct {
	Number string `arg:"" help:"The document number."`
}

func (c *InvoiceWriteCmd) Run(ctx context.Context, g *Globals) error {
	return withDocument(ctx, g, c.Number, func(e *env, in store.Invoice) error {
		files, err := (&billing.Documents{Pool: e.pool, DataDir: g.DataDir}).Write(ctx, in.ID)
		if err != nil {
			return err
		}
		fmt.Println(strings.Join(files, "\n"))
		return nil
	})
}

// withDocument runs fn on the document numbered number.
func withDocument(ctx context.Context, g *Globals, number string, fn func(*env, store.Invoice) error) error {
	return g.withDB(ctx, false, func(e *env) error {
		in, ok, err := store.InvoiceByNumber(ctx, e.pool, number)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: %s (clearhouse invoices lists them)", billing.ErrNoDocument, number)
		}
		return fn(e, in)
	})
}
