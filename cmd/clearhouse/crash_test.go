package main_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// TestKilledAtRandomMomentsDuringIngest: clearhouse serve is killed with
// SIGKILL at random moments of the ingest of a 100,000-row file, 20 times
// (CLEARHOUSE_CRASH_KILLS), restarted each time. Afterwards: one file
// posted, one posting per declaration, the ledger balanced, one ack.
func TestKilledAtRandomMomentsDuringIngest(t *testing.T) {
	kills := envInt(t, "CLEARHOUSE_CRASH_KILLS", 20)
	w := newTelcoWorld(t)
	pool, ctx, url, data, inbox := w.pool, context.Background(), w.url, w.data, w.inbox
	f, err := os.Create(filepath.Join(inbox, "declarations_100k.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := samplegen.Write(f, samplegen.Options{Rows: 100_000}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	start := func() *serveProc {
		return serveFor(t, url, data, "--intake-scan", "500ms", "--instance-dead-after", "3s")
	}
	posted := func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM files WHERE partner_id = 'bench-telco' AND state = 'posted'`).Scan(&n)
		return n > 0
	}
	registered := func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM files WHERE partner_id = 'bench-telco' AND state IN ('received', 'processing')`).Scan(&n)
		return n > 0
	}
	killedMidway := 0
	for k := range kills {
		srv := start()
		// Wait until the file is registered (its ingest under way), then
		// kill at a random moment of the next 0.3 s (the first kill), 0.6 s
		// (the second), … up to 1.2 s: the ingest of 100,000 rows takes
		// about 1.5 s here, 0.8 s on a good day, so most kills land
		// mid-ingest, and the first nearly always does (a first kill at a
		// random moment of 1.2 s missed a quick ingest, 1 run in 6).
		for deadline := time.Now().Add(30 * time.Second); !registered() && !posted() && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if posted() {
			srv.kill()
			break
		}
		time.Sleep(time.Duration(rand.IntN(min(1200, 300*(k+1)))) * time.Millisecond)
		srv.kill()
		if !posted() {
			killedMidway++
		}
	}
	t.Logf("%d of %d kills landed after the file was registered and before it was posted", killedMidway, kills)
	if killedMidway == 0 {
		t.Fatal("no kill landed mid-ingest: the test proved nothing")
	}
	start()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(inbox, "declarations_100k.csv")); os.IsNotExist(err) && posted() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the file was not posted within 2 minutes of the last restart")
		}
	}
	var files, accepted, decls, distinct int
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(rows_accepted), 0) FROM files WHERE partner_id = 'bench-telco'`).Scan(&files, &accepted); err != nil {
		t.Fatal(err)
	}
	_ = pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT declaration_id) FROM declarations WHERE reseller_id = 'bench-telco'`).Scan(&decls, &distinct)
	if files != 1 || accepted == 0 || decls != accepted || distinct != decls {
		t.Fatalf("files %d, rows accepted %d, declarations %d (%d distinct)", files, accepted, decls, distinct)
	}
	checkLedger(t, pool)
	acks, _ := filepath.Glob(filepath.Join(data, "partners", "bench-telco", "outbox", "*ack*"))
	if len(acks) != 1 {
		t.Fatalf("%d acks: %v", len(acks), acks)
	}
	// status shows it; replaying a finished file changes nothing.
	var id int64
	_ = pool.QueryRow(ctx, `SELECT id FROM files WHERE partner_id = 'bench-telco'`).Scan(&id)
	wantAck(t, readAck(t, acks[0]), id, "ACCEPTED", 100_000, 100_000, 0)
	if r := run(t, nil, "--database-url", url, "--data-dir", data, "status", "--partner", "bench-telco"); r.code != 0 ||
		!strings.Contains(r.stdout, "declarations_100k.csv") || !strings.Contains(r.stdout, "posted") || !strings.Contains(r.stdout, "intake") {
		t.Fatalf("status: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, nil, "--database-url", url, "--data-dir", data, "replay", strconv.FormatInt(id, 10)); r.code != 0 || !strings.Contains(r.stdout, "already posted") {
		t.Fatalf("replay: %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM files WHERE partner_id = 'bench-telco'`).Scan(&files)
	if files != 1 {
		t.Fatalf("replay made %d file records", files)
	}
}

// TestKilledInstanceIsFinishedByAnother: three instances; the one working a
// 100,000-row file is killed with SIGKILL mid-ingest; another finishes it:
// one file, posted once, one ack.
func TestKilledInstanceIsFinishedByAnother(t *testing.T) {
	w := newTelcoWorld(t)
	pool, ctx, url, data, inbox := w.pool, context.Background(), w.url, w.data, w.inbox
	srvs := map[int]*serveProc{} // by pid
	for range 3 {
		srv := serveFor(t, url, data, "--instance-dead-after", "3s")
		srvs[srv.cmd.Process.Pid] = srv
	}
	tmp := filepath.Join(data, "declarations_100k.csv")
	f, _ := os.Create(tmp)
	if err := samplegen.Write(f, samplegen.Options{Rows: 100_000}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(inbox, "declarations_100k.csv")); err != nil {
		t.Fatal(err)
	}
	// The instance working the file: its id ends in -<pid>-<random>.
	var worker string
	for deadline := time.Now().Add(30 * time.Second); worker == ""; time.Sleep(10 * time.Millisecond) {
		_ = pool.QueryRow(ctx, `SELECT coalesce(j.attempted_by[array_length(j.attempted_by, 1)], '') FROM river_job j
			WHERE j.kind = 'ingest_file' AND j.state = 'running'
			  AND EXISTS (SELECT 1 FROM files WHERE partner_id = 'bench-telco' AND state IN ('received', 'processing'))`).Scan(&worker)
		if time.Now().After(deadline) {
			t.Fatal("no instance took the file within 30 s")
		}
	}
	parts := strings.Split(worker, "-")
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	victim, ok := srvs[pid]
	if !ok {
		t.Fatalf("instance %s is not one of ours", worker)
	}
	victim.kill()
	var files, posted int
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		_ = pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state = 'posted') FROM files WHERE partner_id = 'bench-telco'`).Scan(&files, &posted)
		if posted == 1 {
			break
		}
		if time.Now().After(deadline) {
			var jobs, insts string
			_ = pool.QueryRow(ctx, `SELECT string_agg(format('%s %s attempt %s by %s errors %s', id, state, attempt, attempted_by, errors), '; ') FROM river_job`).Scan(&jobs)
			_ = pool.QueryRow(ctx, `SELECT string_agg(format('%s %s', id, now() - heartbeat_at), '; ') FROM instances`).Scan(&insts)
			var tails strings.Builder
			for pid, srv := range srvs {
				lines := strings.Split(srv.logText(), "\n")
				fmt.Fprintf(&tails, "serve %d:\n%s\n", pid, strings.Join(lines[max(0, len(lines)-15):], "\n"))
			}
			t.Fatalf("the killed instance's file was not finished by another within 2 minutes (%d files)\njobs: %s\ninstances: %s\n%s", files, jobs, insts, tails.String())
		}
	}
	var finisher string
	_ = pool.QueryRow(ctx, `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job WHERE kind = 'ingest_file'`).Scan(&finisher)
	var decls, distinct, accepted int
	_ = pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT declaration_id) FROM declarations WHERE reseller_id = 'bench-telco'`).Scan(&decls, &distinct)
	_ = pool.QueryRow(ctx, `SELECT rows_accepted FROM files WHERE partner_id = 'bench-telco'`).Scan(&accepted)
	if files != 1 || finisher == worker || decls != accepted || distinct != decls {
		t.Fatalf("files %d, finished by %s (killed %s), declarations %d (%d distinct), accepted %d", files, finisher, worker, decls, distinct, accepted)
	}
	checkLedger(t, pool)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		acks, _ := filepath.Glob(filepath.Join(data, "partners", "bench-telco", "outbox", "*ack*"))
		if len(acks) == 1 {
			var id int64
			_ = pool.QueryRow(ctx, `SELECT id FROM files WHERE partner_id = 'bench-telco'`).Scan(&id)
			wantAck(t, readAck(t, acks[0]), id, "ACCEPTED", 100_000, 100_000, 0)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acks", len(acks))
		}
	}
}

// TestSIGTERMDrains: with time to drain, a file under way is finished
// before serve exits; with too little, it is released (cancelled, queued
// again) and the next start finishes it. Either way serve exits promptly.
func TestSIGTERMDrains(t *testing.T) {
	for _, c := range []struct {
		drain    string
		finished bool
	}{{"30s", true}, {"1ms", false}} {
		t.Run("drain="+c.drain, func(t *testing.T) {
			w := newTelcoWorld(t)
			pool, ctx, url, data, inbox := w.pool, context.Background(), w.url, w.data, w.inbox
			f, _ := os.Create(filepath.Join(inbox, "declarations_100k.csv"))
			if err := samplegen.Write(f, samplegen.Options{Rows: 100_000}); err != nil {
				t.Fatal(err)
			}
			f.Close()
			start := func() *serveProc { return serveFor(t, url, data, "--drain-timeout", c.drain) }
			state := func() string {
				var s string
				_ = pool.QueryRow(ctx, `SELECT coalesce(max(state), '') FROM files WHERE partner_id = 'bench-telco'`).Scan(&s)
				return s
			}
			srv := start()
			for deadline := time.Now().Add(30 * time.Second); state() == ""; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the file was not registered within 30 s")
				}
			}
			sent := time.Now()
			srv.stop()
			took := time.Since(sent)
			if took > 25*time.Second {
				t.Fatalf("serve took %s to exit", took)
			}
			if got := state() == "posted"; got != c.finished {
				t.Fatalf("after the drain the file is %q (%s to exit)", state(), took)
			}
			var running int
			_ = pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state = 'running'`).Scan(&running)
			if running != 0 {
				t.Fatalf("%d jobs left running after a drain", running)
			}
			if !c.finished {
				start()
				for deadline := time.Now().Add(time.Minute); state() != "posted"; time.Sleep(50 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("the released file was not finished after a restart (%q)", state())
					}
				}
			}
			var files int
			_ = pool.QueryRow(ctx, `SELECT count(*) FROM files WHERE partner_id = 'bench-telco'`).Scan(&files)
			if files != 1 {
				t.Fatalf("%d file records", files)
			}
		})
	}
}
