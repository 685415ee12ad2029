package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/govalues/decimal"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/invoicepdf"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/ubl"
)

// Documents writes an issued document's files into its reseller's outbox:
// <number>.pdf for people, <number>.xml (UBL 2.1, EN 16931, Peppol BIS
// Billing 3.0), <number>.csv (its lines) and <number>_detail.csv (every
// billed item with the file and line it came from). They are made from the
// document as stored when it was issued, so writing them again (a retry, a
// crash between two files, clearhouse invoice write) gives the same bytes;
// each is placed atomically.
type Documents struct {
	Pool    *store.Pool
	DataDir string
}

// Write writes the files of document id and returns their paths.
func (d *Documents) Write(ctx context.Context, id int64) ([]string, error) {
	in, ok, err := store.InvoiceByID(ctx, d.Pool, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("document %d: not issued", id)
	}
	var doc invoice.Document
	if err := json.Unmarshal(in.Document, &doc); err != nil {
		return nil, fmt.Errorf("reading document %s as issued: %w", in.Number, err)
	}
	out := mailbox.Layout{DataDir: d.DataDir}.Outbox(in.ResellerID)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("the outbox of %s: %w", in.ResellerID, err)
	}
	// What a writer killed mid-file left (its lock is free) goes first.
	if _, err := mailbox.SweepTemps(out); err != nil {
		return nil, fmt.Errorf("sweeping the outbox of %s: %w", in.ResellerID, err)
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{doc.Number + ".xml", func(w io.Writer) error { return ubl.Write(w, &doc) }},
		{doc.Number + ".pdf", func(w io.Writer) error { return invoicepdf.Write(w, &doc) }},
		{doc.Number + ".csv", func(w io.Writer) error { return invoice.WriteLinesCSV(w, &doc) }},
		{doc.Number + "_detail.csv", func(w io.Writer) error { return d.detail(ctx, w, in, &doc) }},
	}
	var paths []string
	for _, f := range files {
		p := filepath.Join(out, f.name)
		if err := mailbox.WriteAtomic(p, 0o644, f.write); err != nil {
			return paths, fmt.Errorf("writing %s: %w", f.name, err)
		}
		paths = append(paths, p)
	}
	// Written: a files job still waiting for it (the command wrote them
	// itself) has nothing left to do.
	if err := store.CompleteOwed(ctx, d.Pool, id); err != nil {
		return paths, err
	}
	return paths, nil
}

// detail streams the document's items, with their lineage.
func (d *Documents) detail(ctx context.Context, w io.Writer, in store.Invoice, doc *invoice.Document) error {
	c := invoice.NewDetailCSV(w, doc)
	exp := doc.Cur().Exponent()
	err := store.InvoiceDetail(ctx, d.Pool, in.ID, func(r store.DetailRow) error {
		p, err := decimal.Parse(r.UnitPrice)
		if err != nil {
			return fmt.Errorf("document %s line %d: unit price %q: %w", doc.Number, r.Line, r.UnitPrice, err)
		}
		r.UnitPrice = unitPrice(p, exp)
		return c.Write(invoice.DetailItem{DocumentType: string(doc.Type), Number: doc.Number, Line: r.Line, DeclarationID: r.DeclarationID,
			CustomerID: r.CustomerID, SKU: r.SKU, ServiceMonth: r.ServiceMonth[:7], Quantity: r.Quantity, UnitPrice: r.UnitPrice,
			Amount: r.Amount, Kind: r.Kind, FileID: r.FileID, FileName: r.FileName,
			FileLine: r.FileLine, Currency: doc.Currency})
	})
	if err != nil {
		return err
	}
	return c.Close()
}

// WriteOwed writes the files of the documents whose files job is still
// waiting (a command killed between issuing and writing) when no serve
// runs to do it, and marks those jobs done. It returns the files written.
func (d *Documents) WriteOwed(ctx context.Context) ([]string, error) {
	// A running serve works those jobs itself (a command would only race
	// it for them): they are owed only when none runs.
	if running, err := store.ServeRunning(ctx, d.Pool); err != nil || running {
		return nil, err
	}
	// And what such a command left half-written beside them (housekeeping:
	// an outbox that cannot be swept does not stop the run; writing into it
	// will say what is wrong with it).
	_, _ = (mailbox.Layout{DataDir: d.DataDir}).SweepOutboxes()
	var files []string
	for {
		owed, err := store.OwedDocuments(ctx, d.Pool, 100)
		if err != nil || len(owed) == 0 {
			return files, err
		}
		for _, o := range owed {
			fs, err := d.Write(ctx, o.InvoiceID)
			if err != nil {
				return files, err
			}
			files = append(files, fs...)
		}
	}
}
