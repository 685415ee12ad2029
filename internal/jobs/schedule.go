package jobs

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"time"

	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"
)

// Schedule is one recurring run: Job builds the job for a tick.
type Schedule struct {
	Name  string
	Spec  string // as shown to operators
	Sched cron.Schedule
	Job   func(tick time.Time) river.JobArgs
	// CatchUp is how far back a schedule seen for the first time (or
	// changed) counts from: its latest tick in that window runs at once.
	// 0: it counts from now. A monthly billing schedule first seen on the
	// 1st at noon still bills the month just ended.
	CatchUp time.Duration
}

// Scheduler queues scheduled runs. Every instance runs one; the one holding
// a PostgreSQL advisory lock is the leader and the only one to queue. Each
// schedule's row lock and last tick make a tick run once even if two
// instances briefly both believe they lead.
type Scheduler struct {
	Pool    *store.Pool
	Queue   *Queue
	List    func(ctx context.Context) ([]Schedule, error)
	Log     *slog.Logger
	Metrics *Metrics
	// Every is how often the leader looks for due ticks (default 1s).
	Every time.Duration
}

var leaderKey = func() int64 {
	h := fnv.New64a()
	h.Write([]byte("clearhouse scheduler leader"))
	return int64(h.Sum64())
}()

// Run contends for leadership and, while leader, queues due ticks until ctx
// ends.
func (s *Scheduler) Run(ctx context.Context) {
	if s.Every <= 0 {
		s.Every = time.Second
	}
	if s.Metrics == nil {
		s.Metrics = NewMetrics(nil)
	}
	for ctx.Err() == nil {
		s.lead(ctx)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}

// lead holds one connection with the advisory lock while it leads; if the
// connection dies, PostgreSQL releases the lock and another instance leads.
func (s *Scheduler) lead(ctx context.Context) {
	l, err := store.TryLead(ctx, s.Pool, leaderKey)
	if err != nil || l == nil {
		return
	}
	s.Log.Info("scheduler: this instance leads")
	s.Metrics.isLeader.Set(1)
	defer func() {
		s.Metrics.isLeader.Set(0)
		l.Release(context.WithoutCancel(ctx), leaderKey)
	}()
	t := time.NewTicker(s.Every)
	defer t.Stop()
	for {
		if err := l.Ping(ctx); err != nil {
			return // lost the connection, hence the lock
		}
		if err := s.Tick(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.Log.Error("scheduler: a tick failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// maxCatchUp bounds the ticks counted when folding a long outage.
const maxCatchUp = 100_000

// overdue counts the ticks of sched after last and at or before now (at
// most maxCatchUp+1) and returns the latest of them: the ticks due that have
// not run. A cron schedule outside its hours has none.
func overdue(sched cron.Schedule, last, now time.Time) (n int64, latest time.Time) {
	for t := sched.Next(last); !t.After(now) && n <= maxCatchUp; t = sched.Next(t) {
		latest = t
		n++
	}
	return n, latest
}

// Tick queues each schedule's run due at now, once: a schedule seen for the
// first time starts counting from now (less its CatchUp); a schedule whose ticks passed while
// nothing ran gets one run, for the latest of them.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) error {
	if s.Metrics == nil {
		s.Metrics = NewMetrics(nil)
	}
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	// One read tells which schedules are due; only those take a
	// transaction and a row lock (the leader ticks every second).
	known, err := scheduleStates(ctx, s.Pool)
	if err != nil {
		return err
	}
	var errs []error
	listed := map[string]bool{}
	for _, sc := range list {
		listed[sc.Name] = true
	}
	// A schedule no longer configured (a partner's server removed) is
	// forgotten, so status and the metrics stop showing it.
	var gone []string
	for name := range known {
		if !listed[name] {
			gone = append(gone, name)
		}
	}
	if len(gone) > 0 {
		if err := store.ForgetSchedules(ctx, s.Pool, gone); err != nil {
			errs = append(errs, err)
		} else {
			s.Log.Info("scheduler: schedules no longer configured are forgotten", "schedules", gone)
		}
	}
	for _, sc := range list {
		if k, ok := known[sc.Name]; ok && k.Spec == sc.Spec && sc.Sched.Next(k.Last).After(now) {
			continue // not due
		}
		if err := s.tickOne(ctx, sc, now); err != nil {
			s.Metrics.scheduled.WithLabelValues(sc.Name).Inc()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Scheduler) tickOne(ctx context.Context, sc Schedule, now time.Time) error {
	return store.BeginFunc(ctx, s.Pool, func(tx store.Tx) error {
		st, found, err := store.LockSchedule(ctx, tx, sc.Name)
		if err != nil {
			return err
		}
		if !found {
			return store.StartSchedule(ctx, tx, sc.Name, sc.Spec, sc.countFrom(now))
		}
		if st.Spec != sc.Spec { // the schedule changed: count from now (less its catch-up)
			return store.RespecSchedule(ctx, tx, sc.Name, sc.Spec, sc.countFrom(now))
		}
		n, due := overdue(sc.Sched, st.Last, now)
		if n == 0 {
			return nil
		}
		missed := n - 1 // all run as one, for the latest
		if missed == maxCatchUp {
			due = now
		}
		jobID, err := s.Queue.InsertTx(ctx, tx, sc.Job(due))
		if err != nil {
			return err
		}
		if err := store.RecordTick(ctx, tx, sc.Name, due, missed); err != nil {
			return err
		}
		s.Metrics.runs.WithLabelValues(sc.Name).Inc()
		s.Metrics.lastRun.WithLabelValues(sc.Name).Set(float64(now.Unix()))
		if missed > 0 {
			s.Metrics.missed.WithLabelValues(sc.Name).Add(float64(missed))
			s.Log.Warn("scheduler: ticks missed while no instance ran; one run for them all", "schedule", sc.Name, "missed", missed)
		}
		s.Log.Info("scheduled run queued", "schedule", sc.Name, "tick", due, "job_id", jobID)
		return nil
	})
}

// countFrom is where a schedule first seen at now starts counting: just
// before its latest tick within its catch-up (that one tick runs, none is
// counted missed), or now.
func (sc Schedule) countFrom(now time.Time) time.Time {
	if sc.CatchUp <= 0 {
		return now
	}
	n, latest := overdue(sc.Sched, now.Add(-sc.CatchUp), now)
	if n == 0 || n > maxCatchUp { // none in the window, or a frequent schedule: its next tick comes soon
		return now
	}
	return latest.Add(-time.Nanosecond)
}

// scheduleStates reads every schedule's state, by name.
func scheduleStates(ctx context.Context, pool *store.Pool) (map[string]store.ScheduleState, error) {
	return store.ScheduleStates(ctx, pool)
}
