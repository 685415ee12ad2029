package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/store"
)

// Queue puts work in the durable queue; it works none (an insert-only River
// client). It exists before the workers, so that what queues work (intake,
// ingest's finishing transaction, the exchanges) and what works it (Runner)
// are built in order, with nothing patched after construction.
type Queue struct {
	client *river.Client[store.Tx]
	log    *slog.Logger
}

// NewQueue returns a queue on pool.
func NewQueue(pool *store.Pool, log *slog.Logger) (*Queue, error) {
	if log == nil {
		log = slog.Default()
	}
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Logger: log.With("component", "jobs")})
	if err != nil {
		return nil, fmt.Errorf("making the job queue: %w", err)
	}
	return &Queue{client: c, log: log}, nil
}

// EnqueueFile queues one file version; a second call for the same version
// is skipped as a duplicate (intake.Intake.Enqueue).
func (q *Queue) EnqueueFile(ctx context.Context, f intake.File) error {
	res, err := q.client.Insert(ctx, IngestArgs{Partner: f.Partner, Name: f.Name, Size: f.Size, MtimeNS: f.MtimeNS, Uploader: f.Uploader}, nil)
	if err != nil {
		return fmt.Errorf("queueing %s of %s: %w", f.Name, f.Partner, err)
	}
	if !res.UniqueSkippedAsDuplicate {
		q.log.Info("file queued", "partner", f.Partner, "file", f.Name, "job_id", res.Job.ID)
	}
	return nil
}

// Finished queues a finished file's ack job in tx, the transaction that
// finished the file (ingest.Service.Finished): the one writer of acks in
// serve (ingest writes the ack at once through the same code; whichever
// comes second finds it written).
func (q *Queue) Finished(ctx context.Context, tx store.Tx, fileID int64, partner string) error {
	if _, err := q.client.InsertTx(ctx, tx, AckArgs{FileID: fileID, Partner: partner}, nil); err != nil {
		return fmt.Errorf("queueing the ack of file %d: %w", fileID, err)
	}
	return nil
}

// PushSoon queues a push of a partner's outbox to its server now; the push
// schedule is the backstop if this fails.
func (q *Queue) PushSoon(ctx context.Context, partner string) error {
	_, err := q.client.Insert(ctx, ExchangeArgs{Partner: partner, Op: "push", Schedule: "push " + partner, Tick: time.Now().Truncate(time.Second)}, nil)
	return err
}

// InsertTx queues args in tx (the scheduler's ticks) and returns the job's id.
func (q *Queue) InsertTx(ctx context.Context, tx store.Tx, args river.JobArgs) (int64, error) {
	res, err := q.client.InsertTx(ctx, tx, args, nil)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}
