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

	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/store"
)

// Header is the fulfillment file's header row.
var Header = []string{"record_id", "action", "reason", "publisher_sku", "quantity", "subscription_id", "reseller_id",
	"customer_email", "customer_name", "country", "language", "effective_date", "created_at"}

// Result says what one run did.
type Result struct {
	Batched int      // outbox rows (files' shares) taken into a new batch
	Files   []string // fulfillment files written
}

// Outbox is what Run needs from the database: the fulfillment outbox and
// its batches (store.New(pool) implements it).
type Outbox interface {
	// BatchPending takes the publisher's pending outbox rows into one new
	// batch named name(seq), in one transaction, and returns how many it
	// took (0: none pending, no batch).
	BatchPending(ctx context.Context, publisher string, name func(seq int) string) (int, error)
	// UnwrittenBatches lists the publisher's batches without a file yet.
	UnwrittenBatches(ctx context.Context, publisher string) ([]store.FulfillmentBatch, error)
	// BatchRecords calls fn with each declaration of a batch, in file order.
	BatchRecords(ctx context.Context, batch int64, fn func(store.FulfillmentRecord) error) error
	// MarkBatchWritten records that a batch's file is written.
	MarkBatchWritten(ctx context.Context, batch int64) error
}

// Run batches the publisher's pending outbox rows (at now), then writes
// every batch of the publisher not yet written.
func Run(ctx context.Context, db Outbox, dataDir, publisher string, now time.Time) (Result, error) {
	var res Result
	name := func(seq int) string {
		return fmt.Sprintf("fulfillment_%s_%s_%06d.csv", publisher, now.UTC().Format("20060102T150405Z"), seq)
	}
	var err error
	if res.Batched, err = db.BatchPending(ctx, publisher, name); err != nil {
		return res, fmt.Errorf("batching: %w", err)
	}
	pending, err := db.UnwrittenBatches(ctx, publisher)
	if err != nil {
		return res, err
	}
	outbox := mailbox.Layout{DataDir: dataDir}.Outbox(publisher)
	if err := os.MkdirAll(outbox, 0o750); err != nil {
		return res, err
	}
	for _, b := range pending {
		path := filepath.Join(outbox, b.Name)
		if err := mailbox.WriteAtomic(path, 0o644, func(w io.Writer) error { return write(ctx, db, b.ID, w) }); err != nil {
			return res, fmt.Errorf("writing %s: %w", b.Name, err)
		}
		if err := db.MarkBatchWritten(ctx, b.ID); err != nil {
			return res, err
		}
		res.Files = append(res.Files, path)
	}
	return res, nil
}

// write renders one batch from the declarations it covers.
func write(ctx context.Context, db Outbox, batch int64, w io.Writer) error {
	// Read by the publisher's programs: values go as they are, never with a
	// spreadsheet guard (schemas/fulfillment.yaml).
	out := render.Plain(w)
	if err := out.Write(Header); err != nil {
		return err
	}
	err := db.BatchRecords(ctx, batch, func(d store.FulfillmentRecord) error {
		return out.Write(record(d))
	})
	if err != nil {
		return err
	}
	out.Flush()
	return out.Error()
}

// record is the fulfillment file's row for one declaration: a new one
// activates (a monthly item starts the subscription reseller/declaration),
// a termination cancels the subscription it names.
func record(d store.FulfillmentRecord) []string {
	act, reason, sub := "ACTIVATE", "", ""
	if d.BillingModel == "monthly" {
		sub = d.Reseller + "/" + d.Declaration
	}
	if d.Action == "TERMINATE" {
		act, reason, sub = "CANCEL", "terminated_by_reseller", d.Reseller+"/"+d.SubscriptionRef
	}
	created := ""
	if d.ProcessedAt != nil {
		created = d.ProcessedAt.UTC().Format(time.RFC3339)
	}
	return []string{d.Reseller + "/" + d.Declaration, act, reason, d.PublisherSKU, strconv.FormatInt(d.Quantity, 10), sub, d.Reseller,
		d.Email, d.Name, d.Country, d.Language, d.StartDate, created}
}
