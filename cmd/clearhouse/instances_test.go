package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// TestThreeServeProcesses: three clearhouse serve processes on one
// database and data folder; 1,000 files dropped at once are each posted
// once with one ack, the ledger balances, and a publisher's fulfillment
// schedule (every second) runs once per tick across the three.
func TestThreeServeProcesses(t *testing.T) {
	t.Parallel()
	pool := pgtest.WithWorld(t, filepath.Join(pgtest.Samples, "bench", "config"))
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `UPDATE partners SET sftp = '{"fulfillment":{"Every":"1s"}}' WHERE id = 'benchpub'`); err != nil {
		t.Fatal(err)
	}
	w := telcoWorldOn(t, pool)
	data, inbox := w.data, w.inbox
	const n = 1000
	for i := range n {
		var buf bytes.Buffer
		_ = samplegen.Write(&buf, samplegen.Options{Rows: 20, Prefix: fmt.Sprintf("P%04d", i)})
		_ = os.WriteFile(filepath.Join(inbox, fmt.Sprintf("declarations_%04d.csv", i)), buf.Bytes(), 0o640)
	}
	for range 3 {
		serveFor(t, w.url, data, "--intake-scan", "1s")
	}
	var posted int
	for deadline := time.Now().Add(4 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM files WHERE partner_id = 'bench-telco' AND state = 'posted'`).Scan(&posted)
		if posted == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d files posted after 4 minutes", posted, n)
		}
	}
	var files, decls, distinct, accepted, workers int
	_ = pool.QueryRow(ctx, `SELECT count(*), sum(rows_accepted) FROM files WHERE partner_id = 'bench-telco'`).Scan(&files, &accepted)
	_ = pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT declaration_id) FROM declarations WHERE reseller_id = 'bench-telco'`).Scan(&decls, &distinct)
	_ = pool.QueryRow(ctx, `SELECT count(DISTINCT attempted_by[1]) FROM river_job WHERE kind = 'ingest_file'`).Scan(&workers)
	if files != n || decls != accepted || distinct != decls || workers < 2 {
		t.Fatalf("files %d, declarations %d (%d distinct) for %d accepted rows, worked by %d instances", files, decls, distinct, accepted, workers)
	}
	checkLedger(t, pool)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		acks, _ := filepath.Glob(filepath.Join(data, "partners", "bench-telco", "outbox", "*ack*"))
		if len(acks) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acks for %d files", len(acks), n)
		}
	}
	// Each ack says what happened to its own file.
	recs, _ := pool.Query(ctx, `SELECT id, name, rows_total FROM files WHERE partner_id = 'bench-telco'`)
	for recs.Next() {
		var id int64
		var name string
		var rows int
		_ = recs.Scan(&id, &name, &rows)
		wantAck(t, readAck(t, filepath.Join(data, "partners", "bench-telco", "outbox", name+".ack.csv")), id, "ACCEPTED", 20, 20, 0)
	}
	recs.Close()
	var ticks, runs, doubled int
	_ = pool.QueryRow(ctx, `SELECT count(DISTINCT args->>'tick'), count(*) FROM river_job WHERE kind = 'fulfil' AND args->>'publisher' = 'benchpub'`).Scan(&ticks, &runs)
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT args->>'tick' FROM river_job WHERE kind = 'fulfil' GROUP BY 1 HAVING count(*) > 1) d`).Scan(&doubled)
	t.Logf("%d files by 3 processes; fulfillment: %d runs for %d ticks", n, runs, ticks)
	if ticks < 3 || runs != ticks || doubled != 0 {
		t.Fatalf("fulfillment schedule: %d runs for %d ticks", runs, ticks)
	}
}
