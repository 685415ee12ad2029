package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// ack is one ack file as the reseller reads it: column -> value.
type ack map[string]string

// readAck reads an ack file; nil if it is not there.
func readAck(t *testing.T, path string) ack {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	recs := readRows(t, path)
	if len(recs) != 2 {
		t.Fatalf("ack %s: %d records: %v", path, len(recs), recs)
	}
	a := ack{}
	for i, h := range recs[0] {
		a[h] = recs[1][i]
	}
	return a
}

// wantAck fails unless the ack says what the reseller must read.
func wantAck(t *testing.T, a ack, fileID int64, status string, rows, accepted, rejected int) {
	t.Helper()
	want := ack{"file_id": fmt.Sprint(fileID), "status": status, "rows_total": fmt.Sprint(rows), "rows_accepted": fmt.Sprint(accepted), "rows_rejected": fmt.Sprint(rejected)}
	for k, v := range want {
		if a[k] != v {
			t.Fatalf("ack says %s=%q, want %q (whole ack: %v)", k, a[k], v, a)
		}
	}
}

// dataRows counts the records of a rejects file under its header.
func dataRows(t *testing.T, path string) int {
	t.Helper()
	return len(readRows(t, path)) - 1
}

// writeDeclarations writes n generated rows and bad rows with an unknown
// SKU (rejected) under prefix.
func writeDeclarations(t *testing.T, path, prefix string, n, bad int) {
	t.Helper()
	var b bytes.Buffer
	if err := samplegen.Write(&b, samplegen.Options{Rows: n, Prefix: prefix}); err != nil {
		t.Fatal(err)
	}
	for i := range bad {
		fmt.Fprintf(&b, "%s-BAD-%d,NEW,X%d,x%d@example.com,X,FR,fr,NO-SUCH-SKU,1,2026-01-01,,,EUR,\n", prefix, i, i, i)
	}
	tmp := path + ".writing.part"
	if err := os.WriteFile(tmp, b.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestRetryAfterCommitFinishesTheSameUpload (issue 11, 1 and 4): serve is
// killed with SIGKILL the instant it starts writing a posted file's ack
// (inotify on the outbox), after the commit and before the file left the
// inbox. The restarted instance must find the upload's own record and only
// finish it: one file record, the ack PARTIAL with the file's counts (not
// DUPLICATE, 0 rows), its rejects file whole, no temporary file left, and it
// takes the killed instance's job at once (its slot), not after
// --instance-dead-after.
func TestRetryAfterCommitFinishesTheSameUpload(t *testing.T) {
	w := newTelcoWorld(t)
	pool, ctx, url, data, inbox, outbox := w.pool, context.Background(), w.url, w.data, w.inbox, w.outbox
	const deadAfter = 90 * time.Second // far longer than the test waits
	watch := watchCreates(t, outbox)
	name := "declarations_crash.csv"
	srv := serveFor(t, url, data, "--instance-dead-after", deadAfter.String())
	writeDeclarations(t, filepath.Join(inbox, name), "CR", 20_000, 2_000)
	tmp := watch.next("." + name + ".")
	srv.kill()
	if tmp == "" {
		t.Fatal("no ack was being written")
	}
	if _, err := os.Stat(filepath.Join(inbox, name)); err != nil {
		t.Fatalf("the kill came too late (the file had left the inbox): %v", err)
	}
	if recs := fileRecords(t, pool, "bench-telco"); len(recs) != 1 || !strings.Contains(recs[0], "posted PARTIAL") {
		t.Fatalf("after the kill: %v", recs)
	}
	restarted := time.Now()
	srv = serveFor(t, url, data, "--instance-dead-after", deadAfter.String())
	waitFor(t, 30*time.Second, "the restarted instance finishes the upload (it must not wait --instance-dead-after)", func() bool {
		_, err := os.Stat(filepath.Join(inbox, name))
		return os.IsNotExist(err)
	})
	t.Logf("finished %s after the restart", time.Since(restarted).Round(time.Millisecond))
	if !strings.Contains(srv.logText(), "slot was held by an instance that died") {
		t.Fatalf("the restarted instance did not take over its slot's jobs:\n%s", srv.logText())
	}
	recs := fileRecords(t, pool, "bench-telco")
	if len(recs) != 1 {
		t.Fatalf("the upload has %d records: %v", len(recs), recs)
	}
	var id int64
	_ = pool.QueryRow(ctx, `SELECT id FROM files WHERE partner_id = 'bench-telco'`).Scan(&id)
	waitFor(t, 10*time.Second, "no temporary file left in the outbox", func() bool {
		left, _ := filepath.Glob(filepath.Join(outbox, ".*"))
		return len(left) == 0
	})
	wantAck(t, readAck(t, filepath.Join(outbox, name+".ack.csv")), id, "PARTIAL", 22_000, 20_000, 2_000)
	if n := dataRows(t, filepath.Join(outbox, name+".rejects.csv")); n != 2_000 {
		t.Fatalf("rejects file: %d rows", n)
	}
	checkLedger(t, pool)
	r := run(t, nil, "--database-url", url, "--data-dir", data, "status", "--partner", "bench-telco")
	if strings.Count(r.stdout, name) != 1 {
		t.Fatalf("status shows the upload %d times:\n%s", strings.Count(r.stdout, name), r.stdout)
	}
}

// TestSameBytesUnderTwoNamesAtOnce (issue 11, 2): two uploads of the same
// bytes under different names, dropped together before two intake workers:
// each has its own record and its own ack, one ACCEPTED and one DUPLICATE,
// and both leave the inbox. Four rounds, as the reproduction did.
func TestSameBytesUnderTwoNamesAtOnce(t *testing.T) {
	w := newTelcoWorld(t)
	pool, ctx, url, data, inbox, outbox := w.pool, context.Background(), w.url, w.data, w.inbox, w.outbox
	serveFor(t, url, data, "--intake-workers", "2")
	for round := range 4 {
		rows := []int{1_000, 10_000}[round%2]
		src := filepath.Join(data, fmt.Sprintf("round%d.csv", round))
		writeDeclarations(t, src, fmt.Sprintf("R%d", round), rows, 0)
		a, b := fmt.Sprintf("r%d_a.csv", round), fmt.Sprintf("r%d_b.csv", round)
		if err := os.Link(src, filepath.Join(data, a)); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(src, filepath.Join(data, b)); err != nil {
			t.Fatal(err)
		}
		_ = os.Rename(filepath.Join(data, a), filepath.Join(inbox, a))
		_ = os.Rename(filepath.Join(data, b), filepath.Join(inbox, b))
		waitFor(t, time.Minute, "both uploads acknowledged", func() bool {
			return readAckIfComplete(filepath.Join(outbox, a+".ack.csv")) && readAckIfComplete(filepath.Join(outbox, b+".ack.csv"))
		})
		waitFor(t, 10*time.Second, "both uploads leave the inbox", func() bool {
			left, _ := os.ReadDir(inbox)
			return len(left) == 0
		})
		ackA, ackB := readAck(t, filepath.Join(outbox, a+".ack.csv")), readAck(t, filepath.Join(outbox, b+".ack.csv"))
		if ackA["file_id"] == ackB["file_id"] {
			t.Fatalf("round %d: both acks name file %s", round, ackA["file_id"])
		}
		statuses := map[string]ack{ackA["status"]: ackA, ackB["status"]: ackB}
		acc, dup := statuses["ACCEPTED"], statuses["DUPLICATE"]
		if acc == nil || dup == nil {
			t.Fatalf("round %d: statuses %s and %s, want one ACCEPTED and one DUPLICATE", round, ackA["status"], ackB["status"])
		}
		if acc["rows_accepted"] != fmt.Sprint(rows) || dup["duplicate_of"] != acc["file_id"] || dup["rows_accepted"] != "0" {
			t.Fatalf("round %d: accepted %v, duplicate %v", round, acc, dup)
		}
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM files WHERE partner_id = 'bench-telco' AND name IN ($1, $2)`, a, b).Scan(&n)
		if n != 2 {
			t.Fatalf("round %d: %d records for two uploads", round, n)
		}
	}
	checkLedger(t, pool)
}

func readAckIfComplete(path string) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Count(b, []byte("\n")) == 2
}

// TestFullOutboxDiskThenFreed (issue 11, 1): the reseller's outbox is a real
// 64 KiB filesystem, full when a file is posted: the ack cannot be written.
// Once space is freed, the retries finish the same upload: one record, its
// ack PARTIAL with its counts and its rejects file, never a DUPLICATE of
// itself, and nothing half-written left behind.
func TestFullOutboxDiskThenFreed(t *testing.T) {
	w := newTelcoWorld(t)
	pool, ctx, url, data, inbox, outbox := w.pool, context.Background(), w.url, w.data, w.inbox, w.outbox
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", outbox).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small filesystem here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", outbox).Run() })
	filler := filepath.Join(outbox, "filler")
	_ = exec.Command("dd", "if=/dev/zero", "of="+filler, "bs=4k", "count=64").Run() // until ENOSPC
	srv := serveFor(t, url, data)
	name := "declarations_full.csv"
	writeDeclarations(t, filepath.Join(inbox, name), "FULL", 2_000, 200)
	waitFor(t, 30*time.Second, "the file is posted while the disk is full", func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM files WHERE partner_id = 'bench-telco' AND state = 'posted'`).Scan(&n)
		return n == 1
	})
	waitFor(t, 30*time.Second, "writing the ack fails on the full disk", func() bool {
		return strings.Contains(srv.logText(), "no space left on device")
	})
	if _, err := os.Stat(filepath.Join(inbox, name)); err != nil {
		t.Fatalf("the file left the inbox although its ack was not written: %v", err)
	}
	_ = os.Remove(filler)
	t.Cleanup(func() {
		if t.Failed() {
			ls, _ := exec.Command("ls", "-la", inbox, outbox).CombinedOutput()
			t.Logf("records %v\n%s\nlog:\n%s", fileRecords(t, pool, "bench-telco"), ls, srv.logText())
		}
	})
	waitFor(t, 2*time.Minute, "the ack is written once space is back and the file leaves the inbox", func() bool {
		_, err := os.Stat(filepath.Join(inbox, name))
		return os.IsNotExist(err) && readAckIfComplete(filepath.Join(outbox, name+".ack.csv"))
	})
	recs := fileRecords(t, pool, "bench-telco")
	if len(recs) != 1 {
		t.Fatalf("the upload has %d records: %v", len(recs), recs)
	}
	var id int64
	_ = pool.QueryRow(ctx, `SELECT id FROM files WHERE partner_id = 'bench-telco'`).Scan(&id)
	wantAck(t, readAck(t, filepath.Join(outbox, name+".ack.csv")), id, "PARTIAL", 2_200, 2_000, 200)
	if n := dataRows(t, filepath.Join(outbox, name+".rejects.csv")); n != 200 {
		t.Fatalf("rejects file: %d rows", n)
	}
	// Left behind: a temporary file no writer holds (the billing schedule
	// fires too, and its documents are being written into the same full
	// outbox, under temporary names their writers hold locked).
	tmps, _ := filepath.Glob(filepath.Join(outbox, ".*"))
	var left []string
	for _, p := range tmps {
		if f, err := os.Open(p); err == nil {
			if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
				left = append(left, p)
			}
			f.Close()
		}
	}
	if len(left) != 0 {
		t.Fatalf("left in the outbox: %v", left)
	}
}
