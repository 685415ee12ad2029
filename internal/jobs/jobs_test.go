package jobs_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/robfig/cron/v3"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/jobs"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func setup(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return pgtest.WithWorld(t, pgtest.SampleConfig)
}

// TestScheduleRunsOncePerTickAcrossInstances: three schedulers ticking at
// the same moments queue each tick once; ticks missed while none ran fold
// into one run; a cron schedule fires in its own time zone.
func TestScheduleRunsOncePerTickAcrossInstances(t *testing.T) {
	t.Parallel()
	sc := newSchedules(t, pullSchedule(t, "pull telco-fr", "@every 1m"), pullSchedule(t, "paris", "CRON_TZ=Europe/Paris 0 6 * * *"))
	pool := sc.pool
	ctx := context.Background()
	scheds := []*jobs.Scheduler{sc.scheduler(), sc.scheduler(), sc.scheduler()}
	t0 := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	tickAll := func(now time.Time) {
		var wg sync.WaitGroup
		for _, s := range scheds {
			wg.Go(func() {
				if err := s.Tick(ctx, now); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	tickAll(t0) // first sight: counting starts
	for k := 1; k <= 10; k++ {
		tickAll(t0.Add(time.Duration(k) * time.Minute))
		tickAll(t0.Add(time.Duration(k)*time.Minute + 20*time.Second)) // between ticks: nothing
	}
	count := func(schedule string) (n int, last time.Time) {
		err := pool.QueryRow(ctx, `SELECT count(*), coalesce(max((args->>'tick')::timestamptz), 'epoch') FROM river_job WHERE kind = 'exchange' AND args->>'schedule' = $1`, schedule).Scan(&n, &last)
		if err != nil {
			t.Fatal(err)
		}
		return n, last
	}
	if n, _ := count("pull telco-fr"); n != 10 {
		t.Fatalf("10 ticks queued %d runs", n)
	}
	// Every instance down for 89 minutes: one run when one is back.
	back := t0.Add(100*time.Minute + 30*time.Second)
	tickAll(back)
	n, last := count("pull telco-fr")
	if n != 11 || !last.Equal(t0.Add(100*time.Minute)) {
		t.Fatalf("after the outage: %d runs, the last for %v", n, last)
	}
	var missed int64
	_ = pool.QueryRow(ctx, `SELECT missed FROM schedules WHERE name = 'pull telco-fr'`).Scan(&missed)
	if missed != 89 {
		t.Fatalf("missed %d ticks, want 89", missed)
	}
	// 06:00 in Paris is 05:00 UTC in November.
	if n, last := count("paris"); n != 1 || !last.Equal(time.Date(2026, 11, 23, 5, 0, 0, 0, time.UTC)) {
		t.Fatalf("paris: %d runs, the last for %v", n, last)
	}
}

// instance is one Clearhouse instance's job side: its own ingest service,
// intake and workers, sharing the database and the data folder.
func instance(t *testing.T, pool *pgxpool.Pool, data string) (*jobs.Runner, *intake.Intake) {
	t.Helper()
	queue := newQueue(t, pool)
	svc := &ingest.Service{Pool: pool, Archive: ingest.ArchiveIn(data), DataDir: data, Finished: queue.Finished}
	t.Cleanup(svc.Close)
	in := &intake.Intake{Service: svc, Pool: pool, DataDir: data, Log: quiet(), Enqueue: queue.EnqueueFile}
	ack := func(ctx context.Context, id int64, _ string, _ *slog.Logger) error { return svc.WriteAck(ctx, id) }
	r, err := jobs.New(jobs.Config{Pool: pool, Intake: in, Ack: ack, Workers: 2, PollInterval: 100 * time.Millisecond, Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
	})
	return r, in
}

const header = "declaration_id,action,customer_id,customer_email,customer_name,country,language,sku,quantity,start_date,end_date,unit_price,currency,subscription_ref\n"

func dropFiles(t *testing.T, data string, n int) {
	t.Helper()
	inbox := filepath.Join(data, "partners", "telco-fr", "inbox")
	if err := os.MkdirAll(inbox, 0o750); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		body := header + fmt.Sprintf("MI-%05d,NEW,C-MI-%05d,mi%d@example.fr,Client %d,FR,fr,TFR-VPN-M,1,2026-01-15,,3.99,EUR,\n", i, i, i, i)
		if err := os.WriteFile(filepath.Join(inbox, fmt.Sprintf("declarations_%05d.csv", i)), []byte(body), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

// TestThreeInstancesPostEachFileOnce: 300 files dropped at once, seen by
// three runners scanning together: each is posted exactly once, with one
// ack, and the ledger balances. (cmd/clearhouse's TestThreeServeProcesses
// does the same with 1,000 files and three serve processes.)
func TestThreeInstancesPostEachFileOnce(t *testing.T) {
	t.Parallel()
	pool := setup(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `UPDATE resellers SET credit_limit = 1000000000 WHERE partner_id = 'telco-fr'`); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	const n = 300
	dropFiles(t, data, n)
	var intakes []*intake.Intake
	for range 3 {
		_, in := instance(t, pool, data)
		intakes = append(intakes, in)
	}
	var wg sync.WaitGroup
	for _, in := range intakes {
		wg.Go(in.Scan)
	}
	wg.Wait()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var done int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind IN ('ingest_file', 'ack_file') AND state = 'completed'`).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done == 2*n { // each file's ingest, and its ack queued in the posting transaction
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d files done after 4 minutes", done, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var jobsN, files, posted, decls int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'ingest_file'`).Scan(&jobsN)
	_ = pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'posted') FROM files WHERE partner_id = 'telco-fr'`).Scan(&files, &posted)
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM declarations WHERE declaration_id LIKE 'MI-%'`).Scan(&decls)
	if jobsN != n || files != n || posted != n || decls != n {
		t.Fatalf("jobs %d, files %d (posted %d), declarations %d; want %d each", jobsN, files, posted, decls, n)
	}
	if left, _ := os.ReadDir(filepath.Join(data, "partners", "telco-fr", "inbox")); len(left) != 0 {
		t.Fatalf("%d files left in the inbox", len(left))
	}
	acks, _ := filepath.Glob(filepath.Join(data, "partners", "telco-fr", "outbox", "*ack*"))
	if len(acks) != n {
		t.Fatalf("%d acks for %d files", len(acks), n)
	}
	if v, err := ledger.Check(ctx, store.New(pool)); err != nil || len(v) > 0 {
		t.Fatalf("ledger: %v %v", v, err)
	}
	var instances int
	_ = pool.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'ingest_file'`).Scan(&instances)
	t.Logf("%d files worked by %d instances", n, instances)
	if instances < 2 {
		t.Fatalf("only %d instance worked", instances)
	}
}

// TestRemovedScheduleIsForgotten (outside trial of issue 13): a schedule no
// longer configured (a partner's server removed from the config) leaves the
// schedules table at the leader's next tick, so status stops listing it.
func TestRemovedScheduleIsForgotten(t *testing.T) {
	t.Parallel()
	sc := newSchedules(t, pullSchedule(t, "pull telco-fr", "@every 1m"), pullSchedule(t, "push telco-fr", "@every 1m"))
	ctx := context.Background()
	s := sc.scheduler()
	now := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	if err := s.Tick(ctx, now); err != nil {
		t.Fatal(err)
	}
	sc.list = sc.list[:1] // push telco-fr no longer configured
	if err := s.Tick(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	var left []string
	rows, _ := sc.pool.Query(ctx, `SELECT name FROM schedules ORDER BY name`)
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		left = append(left, n)
	}
	if len(left) != 1 || left[0] != "pull telco-fr" {
		t.Fatalf("schedules left: %v", left)
	}
}

// schedules are a test's configured schedules, on a database of its own;
// the schedulers made from them share one queue and read the list as it is
// at each tick.
type schedules struct {
	pool  *pgxpool.Pool
	queue *jobs.Queue
	list  []jobs.Schedule
}

func newSchedules(t *testing.T, list ...jobs.Schedule) *schedules {
	t.Helper()
	pool := setup(t)
	return &schedules{pool: pool, queue: newQueue(t, pool), list: list}
}

// List is the configuration as a scheduler or a collector reads it.
func (s *schedules) List(context.Context) ([]jobs.Schedule, error) { return s.list, nil }

// scheduler is one instance's scheduler of the schedules.
func (s *schedules) scheduler() *jobs.Scheduler {
	return &jobs.Scheduler{Pool: s.pool, Queue: s.queue, List: s.List, Log: quiet()}
}

// pullSchedule is a schedule named name, on spec, that queues a pull from
// telco-fr at each tick.
func pullSchedule(t *testing.T, name, spec string) jobs.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatal(err)
	}
	return jobs.Schedule{Name: name, Spec: spec, Sched: s, Job: func(tick time.Time) river.JobArgs {
		return jobs.ExchangeArgs{Partner: "telco-fr", Op: "pull", Schedule: name, Tick: tick}
	}}
}

// newQueue is an insert-only job queue on pool.
func newQueue(t *testing.T, pool *pgxpool.Pool) *jobs.Queue {
	t.Helper()
	q, err := jobs.NewQueue(pool, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestCatchUpRunsTheTickJustMissed: a monthly schedule first seen after
// this month's tick (a deployment on the 1st at noon) runs that tick at
// once, then waits for the next month; one without catch-up waits.
func TestCatchUpRunsTheTickJustMissed(t *testing.T) {
	t.Parallel()
	monthly := pullSchedule(t, "monthly", "CRON_TZ=Europe/Paris 0 6 1 * *")
	monthly.CatchUp = 32 * 24 * time.Hour
	sc := newSchedules(t, monthly, pullSchedule(t, "no catch-up", "CRON_TZ=Europe/Paris 0 6 1 * *"))
	ctx := context.Background()
	s := sc.scheduler()
	noon := time.Date(2026, 12, 1, 11, 0, 0, 0, time.UTC)
	for _, now := range []time.Time{noon, noon.Add(time.Second), noon.Add(24 * time.Hour)} {
		if err := s.Tick(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	ticks := func(name string) []string {
		var out []string
		rows, err := sc.pool.Query(ctx, `SELECT args->>'tick' FROM river_job WHERE args->>'schedule' = $1 ORDER BY id`, name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var tick string
			_ = rows.Scan(&tick)
			out = append(out, tick)
		}
		return out
	}
	if got := ticks("monthly"); len(got) != 1 || got[0] != "2026-12-01T05:00:00Z" { // 06:00 in Paris
		t.Fatalf("monthly with catch-up queued %v, want the tick of 1 December 06:00 Paris", got)
	}
	if got := ticks("no catch-up"); len(got) != 0 {
		t.Fatalf("without catch-up queued %v", got)
	}
	// The tick caught up was not missed: nothing ran it late.
	var missed int64
	if err := sc.pool.QueryRow(ctx, `SELECT missed FROM schedules WHERE name = 'monthly'`).Scan(&missed); err != nil || missed != 0 {
		t.Fatalf("missed %d (%v)", missed, err)
	}
}
