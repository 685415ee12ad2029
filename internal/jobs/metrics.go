package jobs

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/store"
)

// Metrics of jobs, schedules and the files they process.
type Metrics struct {
	jobs      *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	stages    *prometheus.HistogramVec
	files     *prometheus.CounterVec
	rows      *prometheus.CounterVec
	problems  *prometheus.CounterVec
	amount    *amountCounter
	runs      *prometheus.CounterVec
	missed    *prometheus.CounterVec
	lastRun   *prometheus.GaugeVec
	lastOK    *prometheus.GaugeVec
	isLeader  prometheus.Gauge
	scheduled *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_jobs_total",
			Help: "Jobs worked by this instance, by kind and outcome (ok, error: retried or given up)."}, []string{"kind", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "clearhouse_job_duration_seconds",
			Help:    "Time to work one job, by kind (ingest_file: archive, check, post and ack of a file).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900}}, []string{"kind"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "clearhouse_ingest_stage_duration_seconds",
			Help:    "Time of each stage of a file's ingest: archive, register, workbook (decoding a workbook before the reseller lock), check+copy, entry, subscriptions, customers, outbox, commit, ack.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}}, []string{"stage"}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_files_total",
			Help: "Files processed, by partner, kind and outcome (ACCEPTED, PARTIAL, REJECTED, DUPLICATE)."}, []string{"partner", "kind", "outcome"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_rows_total",
			Help: "Rows of processed files, by partner, kind and outcome (accepted, rejected)."}, []string{"partner", "kind", "outcome"}),
		problems: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_problems_total",
			Help: "Problems reported to partners, by code (the first 10,000 of a file count)."}, []string{"code"}),
		amount: &amountCounter{sums: map[money.Currency]int64{}, desc: prometheus.NewDesc("clearhouse_posted_amount_total",
			"Amounts posted to the ledger, in units of the currency (121.10 EUR counts 121.1, 500 JPY 500, 1.250 BHD 1.25).", []string{"currency"}, nil)},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_schedule_runs_total",
			Help: "Scheduled runs queued by the leader, by schedule."}, []string{"schedule"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_schedule_missed_ticks_total",
			Help: "Ticks that passed while no instance ran, folded into one catch-up run."}, []string{"schedule"}),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "clearhouse_schedule_last_run_timestamp_seconds",
			Help: "When each schedule's last run was queued (Unix time)."}, []string{"schedule"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "clearhouse_schedule_last_success_timestamp_seconds",
			Help: "When a run of each schedule last succeeded on this instance (Unix time)."}, []string{"schedule"}),
		isLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clearhouse_scheduler_leader",
			Help: "1 if this instance runs the schedules."}),
		scheduled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_schedule_errors_total",
			Help: "Failures to queue a scheduled run, by schedule."}, []string{"schedule"}),
	}
	if reg != nil {
		reg.MustRegister(m.jobs, m.duration, m.stages, m.files, m.rows, m.problems, m.amount, m.runs, m.missed, m.lastRun, m.lastOK, m.isLeader, m.scheduled)
	}
	return m
}

func (m *Metrics) observe(kind string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.jobs.WithLabelValues(kind, outcome).Inc()
	m.duration.WithLabelValues(kind).Observe(time.Since(start).Seconds())
}

// Stage records the duration of one stage of a file's ingest.
func (m *Metrics) Stage(stage string, seconds float64) {
	m.stages.WithLabelValues(stage).Observe(seconds)
}

// File counts a processed file's outcome.
func (m *Metrics) File(partner string, o *ingest.Outcome) {
	if o == nil {
		return
	}
	m.files.WithLabelValues(partner, o.Kind, o.Status).Inc()
	m.rows.WithLabelValues(partner, o.Kind, "accepted").Add(float64(o.Accepted))
	m.rows.WithLabelValues(partner, o.Kind, "rejected").Add(float64(o.Rejected))
	for _, p := range o.Problems {
		m.problems.WithLabelValues(string(p.Code)).Inc()
	}
	if o.Status != ingest.Duplicate && o.Amount != 0 {
		m.amount.add(o.Currency, o.Amount)
	}
}

// amountCounter sums amounts posted in exact minor units per currency and
// reports them in units of the currency, so that a dashboard needs no
// currency's exponent: one rounding at each scrape, none accumulated.
type amountCounter struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	sums map[money.Currency]int64
}

func (c *amountCounter) add(cur money.Currency, minor int64) {
	c.mu.Lock()
	c.sums[cur] += minor
	c.mu.Unlock()
}

func (c *amountCounter) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *amountCounter) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for cur, minor := range c.sums {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(minor)/math.Pow10(cur.Exponent()), string(cur))
	}
}

// QueueCollector reports the job queue as it stands in the database, read
// at each scrape: jobs by queue and state, and the age of the oldest job
// waiting to be worked.
type QueueCollector struct {
	Pool  *store.Pool
	depth *prometheus.Desc
	age   *prometheus.Desc
}

func NewQueueCollector(pool *store.Pool) *QueueCollector {
	return &QueueCollector{Pool: pool,
		depth: prometheus.NewDesc("clearhouse_job_queue_jobs", "Jobs in the queue, by queue and state (available, scheduled, retryable, running).", []string{"queue", "state"}, nil),
		age:   prometheus.NewDesc("clearhouse_job_queue_oldest_age_seconds", "Age of the oldest job due and not yet worked, by queue.", []string{"queue"}, nil),
	}
}

func (c *QueueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.age }

func (c *QueueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	depths, err := store.QueueDepths(ctx, c.Pool)
	if err != nil {
		return
	}
	age := map[string]float64{QueueIntake: 0, QueueExchange: 0}
	seen := map[[2]string]bool{}
	for _, d := range depths {
		seen[[2]string{d.Queue, d.State}] = true
		ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(d.Jobs), d.Queue, d.State)
		age[d.Queue] = max(age[d.Queue], d.OldestDue)
	}
	for _, q := range []string{QueueIntake, QueueExchange} {
		for _, st := range []string{"available", "scheduled", "retryable", "running"} {
			if !seen[[2]string{q, st}] {
				ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, 0, q, st)
			}
		}
	}
	for q, a := range age {
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, a, q)
	}
}

// ScheduleCollector reports each schedule's ticks as they stand in the
// database, read at each scrape by every instance: when the next tick that
// has not run is due, and how many ticks are due and have not run. A tick
// runs when the leader queues it; one due for minutes means no instance
// leads, or queueing fails. Alerts are on these, not on the time since a
// run: a cron schedule outside its hours (nights, weekends) has no tick due.
type ScheduleCollector struct {
	Pool *store.Pool
	// List is the scheduler's: the schedules configured now.
	List func(ctx context.Context) ([]Schedule, error)
	// Now is the clock (time.Now when nil).
	Now  func() time.Time
	next *prometheus.Desc
	due  *prometheus.Desc
}

func NewScheduleCollector(pool *store.Pool, list func(ctx context.Context) ([]Schedule, error)) *ScheduleCollector {
	return &ScheduleCollector{Pool: pool, List: list,
		next: prometheus.NewDesc("clearhouse_schedule_next_tick_timestamp_seconds",
			"When each schedule's next tick that has not run is due (Unix time; in the past while a tick is overdue).", []string{"schedule"}, nil),
		due: prometheus.NewDesc("clearhouse_schedule_due_ticks",
			"Ticks of each schedule that are due and have not run (0 while the scheduler keeps up, and outside a schedule's hours).", []string{"schedule"}, nil),
	}
}

func (c *ScheduleCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.next; ch <- c.due }

func (c *ScheduleCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	list, err := c.List(ctx)
	if err != nil {
		return
	}
	known, err := scheduleStates(ctx, c.Pool)
	if err != nil {
		return
	}
	for _, sc := range list {
		k, ok := known[sc.Name]
		if !ok {
			continue // first seen at the leader's next tick, which counts from then
		}
		next, n := sc.Sched.Next(k.Last), int64(0)
		if k.Spec != sc.Spec {
			next = sc.Sched.Next(now) // a changed schedule counts from its change (Tick)
		} else {
			n, _ = overdue(sc.Sched, k.Last, now)
		}
		ch <- prometheus.MustNewConstMetric(c.next, prometheus.GaugeValue, float64(next.Unix()), sc.Name)
		ch <- prometheus.MustNewConstMetric(c.due, prometheus.GaugeValue, float64(n), sc.Name)
	}
}
