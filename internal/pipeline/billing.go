package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/jobs"
	"github.com/clearhouse/clearhouse/internal/store"
)

// billingJobs are the monthly run (a schedule of the hub's) and the
// writing of each issued document's files (a job queued in the
// transaction that issued it), pushed at once when the reseller has a
// server.
type billingJobs struct {
	pool   *store.Pool
	biller *billing.Biller
	docs   *billing.Documents
	x      *exchanger
	log    *slog.Logger
}

// NewBiller is the command line's biller (clearhouse bill, invoice credit,
// run). As in serve, each issued document's files job is queued in the
// transaction that issues it; the command also writes the files at once
// after the commit. Killed in between, it loses no document: the job
// writes them when a serve runs. (Writing them only after the commit, with
// nothing to remember that they were owed, lost them: a rerun found the
// period billed and wrote nothing.)
func NewBiller(pool *store.Pool, dataDir string, log *slog.Logger) (*billing.Biller, error) {
	queue, err := jobs.NewQueue(pool, log)
	if err != nil {
		return nil, err
	}
	docs := &billing.Documents{Pool: pool, DataDir: dataDir}
	return &billing.Biller{Pool: pool, Log: log, Issued: queue.Issued, Write: docs.Write}, nil
}

// BillingSchedule is the name of the monthly run's schedule.
const BillingSchedule = "billing"

// run bills the month before tick, in the hub's time zone. A reseller that
// could not be billed fails the job, which is retried (what was issued
// stays issued: a retry bills what is left).
func (bj *billingJobs) run(ctx context.Context, tick time.Time, log *slog.Logger) error {
	hub, err := store.New(bj.pool).Hub(ctx)
	if err != nil {
		return err
	}
	loc, err := time.LoadLocation(hub.TimeZone)
	if err != nil {
		return fmt.Errorf("the hub's time zone %q: %w", hub.TimeZone, err)
	}
	rep, err := bj.biller.Run(ctx, billing.Request{Period: billing.PreviousPeriod(tick, loc)})
	if err != nil {
		return err
	}
	issued := 0
	for _, b := range rep.Billed {
		issued += len(b.Documents)
	}
	log.Info("billing run", "period", billing.PeriodText(rep.Period), "issue_date", rep.Issue, "resellers", len(rep.Billed), "documents", issued)
	if failed := rep.Failed(); len(failed) > 0 {
		var s []string
		for _, f := range failed {
			s = append(s, fmt.Sprintf("%s %s: %v", f.Reseller, billing.PeriodText(f.Period), f.Err))
		}
		return fmt.Errorf("billing %s: %d resellers not billed: %s", billing.PeriodText(rep.Period), len(failed), strings.Join(s, "; "))
	}
	return nil
}

// documents writes an issued document's files, then has them pushed.
func (bj *billingJobs) documents(ctx context.Context, id int64, partner string, log *slog.Logger) error {
	files, err := bj.docs.Write(ctx, id)
	if err != nil {
		return err
	}
	log.Info("document files written", "files", files)
	bj.x.pushSoon(ctx, partner, log)
	return nil
}

// schedules is the billing run's schedule, when the hub is configured.
func (bj *billingJobs) schedules(ctx context.Context) ([]jobs.Schedule, error) {
	hub, err := store.New(bj.pool).Hub(ctx)
	if errors.Is(err, store.ErrNoHub) {
		return nil, nil // nothing to bill from
	}
	if err != nil {
		return nil, err
	}
	sched, spec, err := exchange.Timing{Schedule: hub.Schedule, Timezone: hub.TimeZone}.Spec(0)
	if err != nil {
		bj.log.Error("scheduler: the hub's billing schedule is invalid (apply checks it)", "err", err)
		return nil, nil
	}
	// First seen (a new deployment, a changed schedule) after this
	// month's tick: that tick still runs, so the month just ended is not
	// left for the next one.
	return []jobs.Schedule{{Name: BillingSchedule, Spec: spec, Sched: sched, CatchUp: 32 * 24 * time.Hour, Job: func(tick time.Time) river.JobArgs {
		return jobs.BillArgs{Schedule: BillingSchedule, Tick: tick}
	}}}, nil
}
