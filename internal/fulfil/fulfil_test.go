package fulfil_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/fulfil"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestBatchOnceWrittenAgainAfterACrash: a publisher's pending records make
// one file, with every activation and cancellation once; a second run makes
// nothing; a crash after the batch but before the file leaves the file to
// be written by the next run, byte for byte the same.
func TestBatchOnceWrittenAgainAfterACrash(t *testing.T) {
	pool := pgtest.WithWorld(t, pgtest.SampleConfig)
	ctx := context.Background()
	data := t.TempDir()
	svc := ingest.New(pool, data)
	defer svc.Close()
	for _, f := range []string{"01_customers_2026-01.csv", "02_declarations_2026-01.csv", "03_declarations_2026-07.csv"} {
		if _, err := svc.Ingest(ctx, ingest.Request{Partner: "telco-fr", Path: filepath.Join(pgtest.Samples, "drops", "telco-fr", f)}); err != nil {
			t.Fatal(err)
		}
	}
	var want int
	if err := pool.QueryRow(ctx, `SELECT coalesce(sum(activations + cancellations), 0) FROM fulfillment_outbox WHERE publisher_id = 'secureco'`).Scan(&want); err != nil || want == 0 {
		t.Fatalf("nothing to fulfil (%d, %v)", want, err)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	res, err := fulfil.Run(ctx, store.New(pool), data, "secureco", now)
	if err != nil || len(res.Files) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if filepath.Base(res.Files[0]) != "fulfillment_secureco_20261123T100000Z_000001.csv" {
		t.Fatalf("named %s", res.Files[0])
	}
	first, _ := os.ReadFile(res.Files[0])
	recs, err := csv.NewReader(bytes.NewReader(first)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(recs[0], ",") != strings.Join(fulfil.Header, ",") || len(recs)-1 != want {
		t.Fatalf("%d records for %d pending; header %v", len(recs)-1, want, recs[0])
	}
	ids := map[string]bool{}
	cancels := 0
	for _, r := range recs[1:] {
		if ids[r[0]] {
			t.Fatalf("record %s twice", r[0])
		}
		ids[r[0]] = true
		switch r[1] {
		case "CANCEL":
			cancels++
			if r[2] != "terminated_by_reseller" || r[5] == "" {
				t.Fatalf("a cancellation without reason or subscription: %v", r)
			}
		case "ACTIVATE":
			if r[7] == "" || r[3] == "" {
				t.Fatalf("an activation without email or publisher sku: %v", r)
			}
		default:
			t.Fatalf("action %q", r[1])
		}
	}
	t.Logf("%d records, %d cancellations", len(recs)-1, cancels)
	// Nothing new: nothing written.
	if res, err := fulfil.Run(ctx, store.New(pool), data, "secureco", now.Add(time.Hour)); err != nil || res.Batched != 0 || len(res.Files) != 0 {
		t.Fatalf("second run: %+v %v", res, err)
	}
	// A crash between the batch and its file: the next run writes it, the same.
	_ = os.Remove(res.Files[0])
	if _, err := pool.Exec(ctx, `UPDATE fulfillment_batches SET written_at = NULL`); err != nil {
		t.Fatal(err)
	}
	again, err := fulfil.Run(ctx, store.New(pool), data, "secureco", now.Add(2*time.Hour))
	if err != nil || again.Batched != 0 || len(again.Files) != 1 || again.Files[0] != res.Files[0] {
		t.Fatalf("after a crash: %+v %v", again, err)
	}
	if b, _ := os.ReadFile(again.Files[0]); !bytes.Equal(b, first) {
		t.Fatal("the file written again differs")
	}
}
