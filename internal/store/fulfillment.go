package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// The fulfillment outbox (rows that ingest leaves per file and publisher)
// and its batches (migrations/00008_fulfillment_batches.sql).
const (
	pendingOutboxSQL = `SELECT file_id, activations + cancellations FROM fulfillment_outbox
			WHERE publisher_id = $1 AND batch_id IS NULL ORDER BY file_id FOR UPDATE`
	nextBatchSeqSQL = `SELECT count(*) + 1 FROM fulfillment_batches WHERE publisher_id = $1`
	insertBatchSQL  = `INSERT INTO fulfillment_batches (publisher_id, name, records) VALUES ($1, $2, $3) RETURNING id`
	assignBatchSQL  = `UPDATE fulfillment_outbox SET batch_id = $2, batched_at = now() WHERE publisher_id = $1 AND file_id = ANY($3)`
	unwrittenSQL    = `SELECT id, name FROM fulfillment_batches WHERE publisher_id = $1 AND written_at IS NULL ORDER BY id`
	batchWrittenSQL = `UPDATE fulfillment_batches SET written_at = now() WHERE id = $1`
	batchRecordsSQL = `
		SELECT d.reseller_id, d.declaration_id, d.action, i.publisher_sku, d.quantity, d.billing_model, coalesce(d.subscription_ref, ''),
		       coalesce(d.customer_email, c.email, ''), coalesce(d.customer_name, c.name, ''), coalesce(d.country, c.country, ''),
		       coalesce(d.language, c.language, ''), d.start_date::text, f.processed_at
		  FROM fulfillment_outbox o
		  JOIN declarations d ON d.file_id = o.file_id AND d.publisher_id = o.publisher_id AND d.action IN ('NEW', 'TERMINATE')
		  JOIN catalog_items i ON i.reseller_id = d.reseller_id AND i.sku = d.sku
		  JOIN files f ON f.id = d.file_id
		  LEFT JOIN customers c ON c.reseller_id = d.reseller_id AND c.customer_id = d.customer_id
		 WHERE o.batch_id = $1
		 ORDER BY d.file_id, d.line`
)

// ErrDuplicateBatch: a fulfillment batch's name is taken (fulfillment_batches_name_key).
var ErrDuplicateBatch = errors.New("fulfillment batch name already used")

var fulfillmentConstraints = map[string]error{"fulfillment_batches_name_key": ErrDuplicateBatch}

// BatchPending takes the publisher's pending outbox rows into one new batch,
// in one transaction that holds them locked: the batch is named name(seq),
// seq being the publisher's batch number (1 for its first), and records
// their activations and cancellations. It returns how many outbox rows it
// took; with none pending, no batch is made.
func (q *Queries) BatchPending(ctx context.Context, publisher string, name func(seq int) string) (int, error) {
	var taken int
	err := pgx.BeginFunc(ctx, q.db, func(tx pgx.Tx) error {
		var files []int64
		var records int
		var id int64
		var n int
		if err := forEachRow(ctx, tx, pendingOutboxSQL, []any{publisher}, []any{&id, &n}, func() error { files = append(files, id); records += n; return nil }); err != nil {
			return err
		}
		if len(files) == 0 {
			return nil
		}
		var seq int
		if err := tx.QueryRow(ctx, nextBatchSeqSQL, publisher).Scan(&seq); err != nil {
			return err
		}
		var batch int64
		if err := tx.QueryRow(ctx, insertBatchSQL, publisher, name(seq), records).Scan(&batch); err != nil {
			return translate(err, fulfillmentConstraints)
		}
		_, err := tx.Exec(ctx, assignBatchSQL, publisher, batch, files)
		taken = len(files)
		return err
	})
	return taken, err
}

// FulfillmentBatch is a batch to write.
type FulfillmentBatch struct {
	ID   int64
	Name string
}

// UnwrittenBatches lists the publisher's batches whose file is not written
// yet, oldest first.
func (q *Queries) UnwrittenBatches(ctx context.Context, publisher string) ([]FulfillmentBatch, error) {
	return queryRows(ctx, q.db, pgx.RowToStructByPos[FulfillmentBatch], unwrittenSQL, publisher)
}

// MarkBatchWritten records that a batch's file is written.
func (q *Queries) MarkBatchWritten(ctx context.Context, batch int64) error {
	_, err := q.db.Exec(ctx, batchWrittenSQL, batch)
	return err
}

// FulfillmentRecord is one declaration of a batch, with what the publisher
// is told of it: its customer from the declaration, else from the customer
// file ("" when neither says).
type FulfillmentRecord struct {
	Reseller, Declaration, Action, PublisherSKU string
	Quantity                                    int64
	BillingModel, SubscriptionRef               string
	Email, Name, Country, Language              string
	StartDate                                   string     // YYYY-MM-DD
	ProcessedAt                                 *time.Time // the file's; nil: not recorded
}

// BatchRecords calls fn with each declaration of batch (activations and
// cancellations), in file and line order.
func (q *Queries) BatchRecords(ctx context.Context, batch int64, fn func(FulfillmentRecord) error) error {
	var r FulfillmentRecord
	return forEachRow(ctx, q.db, batchRecordsSQL, []any{batch}, []any{&r.Reseller, &r.Declaration, &r.Action, &r.PublisherSKU, &r.Quantity, &r.BillingModel, &r.SubscriptionRef,
		&r.Email, &r.Name, &r.Country, &r.Language, &r.StartDate, &r.ProcessedAt}, func() error { return fn(r) })
}
