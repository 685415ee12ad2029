package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/jobs"
	"github.com/clearhouse/clearhouse/internal/money"
)

// gauges gathers reg's gauges and counters as name → first label's value → value.
func gauges(t *testing.T, reg *prometheus.Registry) map[string]map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, mf := range mfs {
		out[mf.GetName()] = map[string]float64{}
		for _, m := range mf.GetMetric() {
			label := ""
			if len(m.GetLabel()) > 0 {
				label = m.GetLabel()[0].GetValue()
			}
			switch {
			case m.GetGauge() != nil:
				out[mf.GetName()][label] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[mf.GetName()][label] = m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// TestScheduleDueTicksAreOffAtNightAndWeekends (issue 11, item 6): the stale
// schedule alert was on the time since the last success, so it fired every
// night and weekend for a business-hours schedule (0 6-20 * * 1-5). The
// metrics it is on now count ticks due and not run: none at night or at the
// weekend, one as soon as a working day's tick is missed; an every-duration
// schedule has ticks due whenever the scheduler stops.
func TestScheduleDueTicksAreOffAtNightAndWeekends(t *testing.T) {
	t.Parallel()
	sc := newSchedules(t, pullSchedule(t, "pull office", "CRON_TZ=Europe/Paris 0 6-20 * * 1-5"), pullSchedule(t, "push every", "@every 5m"))
	ctx := context.Background()
	sched := sc.scheduler()
	coll := jobs.NewScheduleCollector(sc.pool, sc.List)
	reg := prometheus.NewRegistry()
	reg.MustRegister(coll)
	paris, _ := time.LoadLocation("Europe/Paris")
	at := func(day, hour, minute int) time.Time { return time.Date(2026, 11, day, hour, minute, 0, 0, paris) } // 20 Nov 2026 is a Friday
	tick := func(now time.Time) {
		t.Helper()
		if err := sched.Tick(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(now time.Time, schedule string, due int, next time.Time) {
		t.Helper()
		coll.Now = func() time.Time { return now }
		g := gauges(t, reg)
		gotDue, gotNext := g["clearhouse_schedule_due_ticks"][schedule], g["clearhouse_schedule_next_tick_timestamp_seconds"][schedule]
		if gotDue != float64(due) || gotNext != float64(next.Unix()) {
			t.Errorf("%s at %s: %v ticks due, next %s; want %d, next %s", schedule, now.Format("Mon 15:04"),
				gotDue, time.Unix(int64(gotNext), 0).In(paris).Format("Mon 15:04"), due, next.Format("Mon 15:04"))
		}
	}

	tick(at(20, 19, 30)) // first sight, Friday evening
	tick(at(20, 20, 0))  // the last tick of the week
	expect(at(20, 20, 0), "pull office", 0, at(23, 6, 0))
	// Saturday night, the scheduler stopped since Friday: the office schedule
	// has no tick due; the every-5m one has all of them.
	expect(at(21, 3, 0), "pull office", 0, at(23, 6, 0))
	expect(at(21, 3, 0), "push every", 84, at(20, 20, 5))
	tick(at(21, 3, 0))
	expect(at(21, 3, 0), "push every", 0, at(21, 3, 5))
	expect(at(22, 23, 59), "pull office", 0, at(23, 6, 0)) // Sunday
	// Monday: 06:00 is due and not run at 06:20; once run, the next is 07:00.
	expect(at(23, 6, 20), "pull office", 1, at(23, 6, 0))
	tick(at(23, 6, 20))
	expect(at(23, 6, 20), "pull office", 0, at(23, 7, 0))
}

// TestPostedAmountsInUnits (issue 11, item 6): amounts were exported in
// minor units and the dashboard divided them by 100, wrong for a currency
// without two decimals. They are exported in units of each currency.
func TestPostedAmountsInUnits(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := jobs.NewMetrics(reg)
	for _, o := range []struct {
		cur   money.Currency
		minor int64
	}{{"EUR", 12110}, {"EUR", 5}, {"JPY", 500}, {"BHD", 1250}} {
		m.File("p", &ingest.Outcome{Kind: "declarations", Status: ingest.Accepted, Currency: o.cur, Amount: o.minor})
	}
	m.File("p", &ingest.Outcome{Kind: "declarations", Status: ingest.Duplicate, Currency: "EUR", Amount: 12110}) // posted nothing
	got := gauges(t, reg)["clearhouse_posted_amount_total"]
	for cur, want := range map[string]float64{"EUR": 121.15, "JPY": 500, "BHD": 1.25} {
		if got[cur] != want {
			t.Errorf("%s: %v posted, want %v", cur, got[cur], want)
		}
	}
}
