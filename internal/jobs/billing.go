package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/clearhouse/clearhouse/internal/store"
)

// QueueBilling runs billing and writes documents, one job at a time per
// instance: issuing is serialised by the database anyway.
const QueueBilling = "billing"

// BillArgs is one scheduled billing run (the month before Tick, in the
// hub's time zone).
type BillArgs struct {
	Schedule string    `json:"schedule"`
	Tick     time.Time `json:"tick" river:"unique"`
}

func (BillArgs) Kind() string { return "bill" }

func (BillArgs) InsertOpts() river.InsertOpts {
	// A run that failed (the database away, a reseller unpriced) is
	// retried; what it issued stays issued, so a retry bills what is left.
	return river.InsertOpts{Queue: QueueBilling, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// DocumentsArgs writes an issued document's files, queued in the
// transaction that issued it.
type DocumentsArgs struct {
	InvoiceID int64  `json:"invoice_id" river:"unique"`
	Partner   string `json:"partner"`
}

func (DocumentsArgs) Kind() string { return "invoice_documents" }

func (DocumentsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueBilling, MaxAttempts: 20, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Issued queues the job that writes an issued document's files in tx, the
// transaction that issued it (billing.Biller.Issued).
func (q *Queue) Issued(ctx context.Context, tx store.Tx, invoiceID int64, partner string) error {
	if _, err := q.client.InsertTx(ctx, tx, DocumentsArgs{InvoiceID: invoiceID, Partner: partner}, nil); err != nil {
		return fmt.Errorf("queueing the files of document %d: %w", invoiceID, err)
	}
	return nil
}

type billWorker struct {
	river.WorkerDefaults[BillArgs]
	r *Runner
}

func (w *billWorker) Work(ctx context.Context, job *river.Job[BillArgs]) error {
	a := job.Args
	log := w.r.cfg.Log.With("job_id", job.ID, "schedule", a.Schedule, "tick", a.Tick)
	return w.r.scheduled(job.Kind, a.Schedule, w.r.cfg.Bill != nil, func() error { return w.r.cfg.Bill(ctx, a.Tick, log) })
}

type documentsWorker struct {
	river.WorkerDefaults[DocumentsArgs]
	r *Runner
}

func (w *documentsWorker) Work(ctx context.Context, job *river.Job[DocumentsArgs]) error {
	if w.r.cfg.Documents == nil {
		return river.JobCancel(errors.New("this instance does not write documents"))
	}
	start := time.Now()
	err := w.r.cfg.Documents(ctx, job.Args.InvoiceID, job.Args.Partner, w.r.cfg.Log.With("job_id", job.ID, "invoice_id", job.Args.InvoiceID, "partner", job.Args.Partner))
	w.r.cfg.Metrics.observe(job.Kind, start, err)
	return err
}
