// Package jobs runs Clearhouse's work as durable jobs in PostgreSQL, on
// River: files taken from inboxes, and pulls from and pushes to partners'
// servers. Any number of instances may share one database: a job is worked
// by one of them, a job left by an instance that died is rescued by another,
// and each file version has one job (unique by partner, name, size and
// modification time).
package jobs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/store"
)

// Queues.
const (
	QueueIntake   = "intake"
	QueueExchange = "exchange"
)

// IngestArgs is one file version waiting in an inbox.
type IngestArgs struct {
	Partner  string `json:"partner" river:"unique"`
	Name     string `json:"name" river:"unique"`
	Size     int64  `json:"size" river:"unique"`
	MtimeNS  int64  `json:"mtime_ns" river:"unique"`
	Uploader string `json:"uploader,omitempty"`
}

func (IngestArgs) Kind() string { return "ingest_file" }

func (IngestArgs) InsertOpts() river.InsertOpts {
	// Unique among jobs not finished: once a version's job completed (the
	// file left the inbox), the same name, size and time sent again is a
	// new upload with a job, and a file record, of its own.
	return river.InsertOpts{Queue: QueueIntake, MaxAttempts: 20, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}
}

// ExchangeArgs is one scheduled pull from, or push to, a partner's server.
type ExchangeArgs struct {
	Partner  string    `json:"partner" river:"unique"`
	Op       string    `json:"op" river:"unique"` // pull or push
	Schedule string    `json:"schedule"`
	Tick     time.Time `json:"tick" river:"unique"`
}

func (ExchangeArgs) Kind() string { return "exchange" }

func (ExchangeArgs) InsertOpts() river.InsertOpts {
	// A failed exchange is retried a few times; the next tick comes anyway.
	return river.InsertOpts{Queue: QueueExchange, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// FulfilArgs is one scheduled fulfillment batch of a publisher.
type FulfilArgs struct {
	Publisher string    `json:"publisher" river:"unique"`
	Schedule  string    `json:"schedule"`
	Tick      time.Time `json:"tick" river:"unique"`
}

func (FulfilArgs) Kind() string { return "fulfil" }

func (FulfilArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueExchange, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AckArgs is the acknowledgement of a finished file, queued in the
// transaction that finished it.
type AckArgs struct {
	FileID  int64  `json:"file_id" river:"unique"`
	Partner string `json:"partner"`
}

func (AckArgs) Kind() string { return "ack_file" }

func (AckArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueIntake, MaxAttempts: 20, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// Config configures a Runner.
type Config struct {
	Pool   *store.Pool
	Intake *intake.Intake
	// Exchange pulls or pushes (op) for a partner; nil: exchange jobs fail.
	Exchange func(ctx context.Context, partner, op string, log *slog.Logger) error
	// Ack writes a finished file's acknowledgement (idempotent); nil:
	// ack jobs fail.
	Ack func(ctx context.Context, fileID int64, partner string, log *slog.Logger) error
	// Fulfil makes a publisher's fulfillment file; nil: fulfil jobs fail.
	Fulfil func(ctx context.Context, publisher string, tick time.Time, log *slog.Logger) error
	// Bill runs the billing of the month before tick; Documents writes an
	// issued document's files. nil: those jobs fail.
	Bill      func(ctx context.Context, tick time.Time, log *slog.Logger) error
	Documents func(ctx context.Context, invoiceID int64, partner string, log *slog.Logger) error
	// Workers is how many files are processed at once by this instance.
	Workers int
	// JobTimeout bounds one job; RescueAfter is when a job still running
	// (its instance died) is given to another. RescueAfter must exceed
	// JobTimeout.
	JobTimeout, RescueAfter time.Duration
	// PollInterval is how often queues are polled besides notifications.
	PollInterval time.Duration
	// DeadAfter is how long an instance may miss heartbeats before its
	// running jobs go back to the queue (default 15s).
	DeadAfter time.Duration
	Log       *slog.Logger
	Metrics   *Metrics
	// DataDir, when set, is where this instance takes its slot (a lock
	// file): restarted after a crash, it takes the jobs its dead
	// predecessor in the slot was running at once, without waiting
	// DeadAfter.
	DataDir string
}

// Runner is this instance's share of the job queue.
type Runner struct {
	cfg    Config
	ID     string // this instance, as recorded on the jobs it works
	host   string
	Client *river.Client[store.Tx]
	slot   *slot
	stop   context.CancelFunc
	done   chan struct{}
}

// Heartbeats: five times per DeadAfter an instance records that it lives,
// and hands the jobs of instances silent for DeadAfter back to the queue.

// New builds the runner. What queues work for it is a Queue, made before.
func New(cfg Config) (*Runner, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 30 * time.Minute
	}
	if cfg.RescueAfter <= cfg.JobTimeout {
		cfg.RescueAfter = cfg.JobTimeout + time.Minute
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.DeadAfter <= 0 {
		cfg.DeadAfter = 15 * time.Second
	}
	host, _ := os.Hostname()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	r := &Runner{cfg: cfg, ID: fmt.Sprintf("%s-%d-%x", host, os.Getpid(), rnd), host: host}
	workers := river.NewWorkers()
	river.AddWorker(workers, &ingestWorker{r: r})
	river.AddWorker(workers, &exchangeWorker{r: r})
	river.AddWorker(workers, &fulfilWorker{r: r})
	river.AddWorker(workers, &ackWorker{r: r})
	river.AddWorker(workers, &billWorker{r: r})
	river.AddWorker(workers, &documentsWorker{r: r})
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		Queues: map[string]river.QueueConfig{
			QueueIntake:   {MaxWorkers: cfg.Workers},
			QueueExchange: {MaxWorkers: 2},
			QueueBilling:  {MaxWorkers: 1},
		},
		ID:                   r.ID,
		Workers:              workers,
		JobTimeout:           cfg.JobTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		// River fetches at most MaxWorkers jobs per fetch and waits
		// FetchCooldown between fetches: its default (100 ms) capped this
		// instance at 20 small files a second with 2 workers.
		FetchCooldown: min(cfg.PollInterval, 5*time.Millisecond),
		Logger:        cfg.Log.With("component", "jobs"),
		ErrorHandler:  &errorHandler{log: cfg.Log},
	})
	if err != nil {
		return nil, err
	}
	r.Client = client
	return r, nil
}

// Start records this instance and starts working jobs.
func (r *Runner) Start(ctx context.Context) error {
	if r.cfg.DataDir != "" {
		s, err := takeSlot(r.cfg.DataDir, r.host)
		if err != nil {
			return fmt.Errorf("taking an instance slot: %w", err)
		}
		r.slot = s
	}
	if err := r.beat(ctx); err != nil { // before any job: a job never runs under an unknown instance
		return fmt.Errorf("recording this instance: %w", err)
	}
	if _, err := r.takeOver(ctx); err != nil {
		return fmt.Errorf("taking over the jobs of this slot's previous instance: %w", err)
	}
	if err := r.Client.Start(ctx); err != nil {
		return err
	}
	hctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	r.stop, r.done = cancel, make(chan struct{})
	go r.heartbeat(hctx)
	return nil
}

func (r *Runner) heartbeat(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.cfg.DeadAfter / 5)
	defer t.Stop()
	for {
		if n, err := r.Rescue(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Log.Warn("heartbeat failed", "err", err)
		} else if n > 0 {
			r.cfg.Log.Warn("jobs of an instance that stopped answering handed back to the queue", "jobs", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat records that this instance lives.
func (r *Runner) beat(ctx context.Context) error {
	slot := ""
	if r.slot != nil {
		slot = r.slot.key
	}
	return store.Beat(ctx, r.cfg.Pool, r.ID, r.host, os.Getpid(), slot)
}

// Rescue records this instance's heartbeat and puts back in the queue the
// jobs running under instances whose heartbeat stopped. Work is idempotent
// (a file is posted once whatever runs it), so a job taken from an instance
// that was only slow costs time, never a double posting.
func (r *Runner) Rescue(ctx context.Context) (int64, error) {
	if err := r.beat(ctx); err != nil {
		return 0, err
	}
	return store.RequeueSilent(ctx, r.cfg.Pool, r.cfg.DeadAfter)
}

// Stop stops fetching jobs and waits for running ones until ctx ends, then
// cancels them (they are retried, by this instance or another).
func (r *Runner) Stop(ctx context.Context) error {
	defer func() {
		if r.stop != nil {
			r.stop()
			<-r.done
			store.DeleteInstance(context.WithoutCancel(ctx), r.cfg.Pool, r.ID)
		}
		r.slot.release()
	}()
	err := r.Client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		return r.Client.StopAndCancel(cctx)
	}
	return err
}

type ingestWorker struct {
	river.WorkerDefaults[IngestArgs]
	r *Runner
}

func (w *ingestWorker) Work(ctx context.Context, job *river.Job[IngestArgs]) error {
	a := job.Args
	log := w.r.cfg.Log.With("job_id", job.ID, "attempt", job.Attempt)
	start := time.Now()
	err := w.r.cfg.Intake.Take(ctx, intake.File{Partner: a.Partner, Name: a.Name, Uploader: a.Uploader, Size: a.Size, MtimeNS: a.MtimeNS,
		Key: fmt.Sprintf("job:%d", job.ID)}, log)
	w.r.cfg.Metrics.observe(job.Kind, start, err)
	if errors.Is(err, intake.ErrPermanent) {
		return river.JobCancel(err)
	}
	return err
}

type exchangeWorker struct {
	river.WorkerDefaults[ExchangeArgs]
	r *Runner
}

func (w *exchangeWorker) Work(ctx context.Context, job *river.Job[ExchangeArgs]) error {
	a := job.Args
	log := w.r.cfg.Log.With("job_id", job.ID, "partner", a.Partner, "op", a.Op, "schedule", a.Schedule, "tick", a.Tick)
	return w.r.scheduled(job.Kind, a.Schedule, w.r.cfg.Exchange != nil, func() error {
		if err := w.r.cfg.Exchange(ctx, a.Partner, a.Op, log); err != nil {
			return fmt.Errorf("%s %s: %w", a.Op, a.Partner, err)
		}
		return nil
	})
}

type ackWorker struct {
	river.WorkerDefaults[AckArgs]
	r *Runner
}

func (w *ackWorker) Work(ctx context.Context, job *river.Job[AckArgs]) error {
	if w.r.cfg.Ack == nil {
		return river.JobCancel(errors.New("this instance does not write acks"))
	}
	start := time.Now()
	err := w.r.cfg.Ack(ctx, job.Args.FileID, job.Args.Partner, w.r.cfg.Log.With("job_id", job.ID, "file_id", job.Args.FileID, "partner", job.Args.Partner))
	w.r.cfg.Metrics.observe(job.Kind, start, err)
	return err
}

type fulfilWorker struct {
	river.WorkerDefaults[FulfilArgs]
	r *Runner
}

func (w *fulfilWorker) Work(ctx context.Context, job *river.Job[FulfilArgs]) error {
	a := job.Args
	log := w.r.cfg.Log.With("job_id", job.ID, "publisher", a.Publisher, "schedule", a.Schedule)
	return w.r.scheduled(job.Kind, a.Schedule, w.r.cfg.Fulfil != nil, func() error { return w.r.cfg.Fulfil(ctx, a.Publisher, a.Tick, log) })
}

// scheduled runs the work of a scheduled job, timed, and records its success.
func (r *Runner) scheduled(kind, schedule string, configured bool, work func() error) error {
	if !configured {
		return river.JobCancel(fmt.Errorf("this instance has no worker for %s jobs", kind))
	}
	start := time.Now()
	err := work()
	r.cfg.Metrics.observe(kind, start, err)
	if err == nil {
		r.cfg.Metrics.lastOK.WithLabelValues(schedule).SetToCurrentTime()
	}
	return err
}

// errorHandler logs a job's failure with its id; River retries it with
// backoff until its attempts run out.
type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	msg := "job failed; retried with backoff"
	if job.Attempt >= job.MaxAttempts {
		msg = "job failed on its last attempt; given up (clearhouse status shows it)"
	}
	h.log.Warn(msg, "job_id", job.ID, "kind", job.Kind, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.Error("job panicked", "job_id", job.ID, "kind", job.Kind, "panic", fmt.Sprint(panicVal), "trace", trace)
	return nil
}
