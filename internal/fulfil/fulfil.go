// Package fulfil turns the activations and cancellations that ingest left
// in the fulfillment outbox into one file per publisher and batch
// (schemas/fulfillment.yaml), in the publisher's outbox, from where a push
// delivers it when the publisher has a server.
package fulfil

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/render"
)

// Header is the fulfillment file's header row.
var Header = []string{"record_id", "action", "reason", "publisher_sku", "quantity", "subscription_id", "reseller_id",
	"customer_email", "customer_name", "country", "language", "effective_date", "created_at"}

// Result says what one run did.
type Result struct {
	Batched int      // outbox rows (files' shares) taken into a new batch
	Files   []string // fulfillment files written
}

// Run batches the publisher's pending outbox rows (at now), then writes
// every batch of the publisher not yet written.
func Run(ctx context.Context, pool *pgxpool.Pool, dataDir, publisher string, now time.Time) (Result, error) {
	var res Result
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var files []int64
		var records int
		rows, err := tx.Query(ctx, `SELECT file_id, activations + cancellations FROM fulfillment_outbox
			WHERE publisher_id = $1 AND batch_id IS NULL ORDER BY file_id FOR UPDATE`, publisher)
		if err != nil {
			return err
		}
		var id int64
		var n int
		if _, err := pgx.ForEachRow(rows, []any{&id, &n}, func() error { files = append(files, id); records += n; return nil }); err != nil {
			return err
		}
		if len(files) == 0 {
			return nil
		}
		var seq int
		if err := tx.QueryRow(ctx, `SELECT count(*) + 1 FROM fulfillment_batches WHERE publisher_id = $1`, publisher).Scan(&seq); err != nil {
			return err
		}
		name := fmt.Sprintf("fulfillment_%s_%s_%06d.csv", publisher, now.UTC().Format("20060102T150405Z"), seq)
		var batch int64
		if err := tx.QueryRow(ctx, `INSERT INTO fulfillment_batches (publisher_id, name, records) VALUES ($1, $2, $3) RETURNING id`,
			publisher, name, records).Scan(&batch); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE fulfillment_outbox SET batch_id = $2, batched_at = now() WHERE publisher_id = $1 AND file_id = ANY($3)`,
			publisher, batch, files)
		res.Batched = len(files)
		return err
	})
	if err != nil {
		return res, fmt.Errorf("batching: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT id, name FROM fulfillment_batches WHERE publisher_id = $1 AND written_at IS NULL ORDER BY id`, publisher)
	if err != nil {
		return res, err
	}
	type batch struct {
		ID   int64
		Name string
	}
	pending, err := pgx.CollectRows(rows, pgx.RowToStructByPos[batch])
	if err != nil {
		return res, err
	}
	outbox := mailbox.Layout{DataDir: dataDir}.Outbox(publisher)
	if err := os.MkdirAll(outbox, 0o750); err != nil {
		return res, err
	}
	for _, b := range pending {
		path := filepath.Join(outbox, b.Name)
		if err := mailbox.WriteAtomic(path, 0o644, func(w io.Writer) error { return write(ctx, pool, b.ID, w) }); err != nil {
			return res, fmt.Errorf("writing %s: %w", b.Name, err)
		}
		if _, err := pool.Exec(ctx, `UPDATE fulfillment_batches SET written_at = now() WHERE id = $1`, b.ID); err != nil {
			return res, err
		}
		res.Files = append(res.Files, path)
	}
	return res, nil
}

// write renders one batch from the declarations it covers.
func write(ctx context.Context, pool *pgxpool.Pool, batch int64, w io.Writer) error {
	rows, err := pool.Query(ctx, `
		SELECT d.reseller_id, d.declaration_id, d.action, i.publisher_sku, d.quantity, d.billing_model, coalesce(d.subscription_ref, ''),
		       coalesce(d.customer_email, c.email, ''), coalesce(d.customer_name, c.name, ''), coalesce(d.country, c.country, ''),
		       coalesce(d.language, c.language, ''), d.start_date::text, f.processed_at
		  FROM fulfillment_outbox o
		  JOIN declarations d ON d.file_id = o.file_id AND d.publisher_id = o.publisher_id AND d.action IN ('NEW', 'TERMINATE')
		  JOIN catalog_items i ON i.reseller_id = d.reseller_id AND i.sku = d.sku
		  JOIN files f ON f.id = d.file_id
		  LEFT JOIN customers c ON c.reseller_id = d.reseller_id AND c.customer_id = d.customer_id
		 WHERE o.batch_id = $1
		 ORDER BY d.file_id, d.line`, batch)
	if err != nil {
		return err
	}
	// Read by the publisher's programs: values go as they are, never with a
	// spreadsheet guard (schemas/fulfillment.yaml).
	out := render.Plain(w)
	if err := out.Write(Header); err != nil {
		return err
	}
	var reseller, decl, action, psku, model, ref, email, name, country, lang, eff string
	var qty int64
	var at *time.Time
	_, err = pgx.ForEachRow(rows, []any{&reseller, &decl, &action, &psku, &qty, &model, &ref, &email, &name, &country, &lang, &eff, &at}, func() error {
		act, reason, sub := "ACTIVATE", "", ""
		if model == "monthly" {
			sub = reseller + "/" + decl
		}
		if action == "TERMINATE" {
			act, reason, sub = "CANCEL", "terminated_by_reseller", reseller+"/"+ref
		}
		created := ""
		if at != nil {
			created = at.UTC().Format(time.RFC3339)
		}
		return out.Write([]string{reseller + "/" + decl, act, reason, psku, strconv.FormatInt(qty, 10), sub, reseller, email, name, country, lang, eff, created})
	})
	if err != nil {
		return err
	}
	out.Flush()
	return out.Error()
}
