package main_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// TestServeMetricsPassPromtool: a running serve processes a dropped file,
// says it is ready, and its /metrics carry the file, job and queue metrics
// in a form promtool accepts.
func TestServeMetricsPassPromtool(t *testing.T) {
	t.Parallel()
	w := newTelcoWorld(t)
	pool, data, inbox := w.pool, w.data, w.inbox
	var buf bytes.Buffer
	_ = samplegen.Write(&buf, samplegen.Options{Rows: 50})
	_ = os.WriteFile(filepath.Join(inbox, "declarations_m.csv"), buf.Bytes(), 0o640)
	addr := freeAddr(t)
	srv := serveFor(t, w.url, data, "--http-addr", addr, "--intake-scan", "200ms")
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	var body string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var code int
		code, body = get("/metrics")
		if code == 200 && strings.Contains(body, `clearhouse_files_total{kind="declarations",outcome="ACCEPTED",partner="bench-telco"} 1`) &&
			strings.Contains(body, `clearhouse_schedule_due_ticks{schedule="fulfil benchpub"} 0`) { // the publisher's schedule, ticked by the leader
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no file or schedule in /metrics after 30 s:\n%s", body)
		}
	}
	if code, msg := get("/readyz"); code != 200 {
		t.Fatalf("/readyz: %d %s", code, msg)
	}
	// The image's health check, as the image sets the listen address.
	hc := dockerHealthcheck(t) // the binary under test, then its arguments
	health := func() (int, string) {
		r := run(t, []string{"CLEARHOUSE_HTTP_ADDR=0.0.0.0:" + addr[strings.LastIndex(addr, ":")+1:]}, hc[1:]...)
		return r.code, r.stdout + r.stderr
	}
	if code, out := health(); code != 0 || !strings.HasPrefix(out, "ready: ") {
		t.Fatalf("the Dockerfile's HEALTHCHECK %q on a ready serve: exit %d\n%s", hc, code, out)
	}
	for _, want := range []string{"clearhouse_rows_total", "clearhouse_jobs_total", "clearhouse_job_duration_seconds_bucket", `clearhouse_ingest_stage_duration_seconds_count{stage="commit"} 1`,
		"clearhouse_job_queue_jobs", "clearhouse_job_queue_oldest_age_seconds", "clearhouse_sftp_sessions",
		`clearhouse_schedule_next_tick_timestamp_seconds{schedule="fulfil benchpub"}`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The amount posted, in units of its currency (the dashboard shows it as it is).
	var cur string
	var minor int64
	if err := pool.QueryRow(context.Background(), `SELECT currency, amount_total FROM files WHERE status = 'ACCEPTED'`).Scan(&cur, &minor); err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.ParseFloat(money.Format(minor, money.Currency(cur)), 64)
	m := regexp.MustCompile(`(?m)^clearhouse_posted_amount_total\{currency="` + cur + `"\} (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Errorf("/metrics lacks clearhouse_posted_amount_total{currency=%q}", cur)
	} else if got, err := strconv.ParseFloat(m[1], 64); err != nil || got != want {
		t.Errorf("/metrics: %s %s posted, want %v", m[1], cur, want)
	}
	if out, err := promtool(body, "check", "metrics"); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	srv.stop()
	if code, out := health(); code != 1 || !strings.HasPrefix(out, "not ready: ") {
		t.Errorf("the Dockerfile's HEALTHCHECK once serve stopped: exit %d\n%s", code, out)
	}
}
