package samplegen

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/world"
)

// The billing world loads without a problem: hub, VAT ids, IBANs, prices.
func TestBillingWorldLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := WriteBillingWorld(dir, 12, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	w, err := world.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Resellers) != 12 || len(w.Catalogs) != 12 || w.Resellers[11].ID != BillingReseller(11) {
		t.Fatalf("%d resellers, %d catalogs", len(w.Resellers), len(w.Catalogs))
	}
}

func TestBillingDeclarations(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	month := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := WriteBilling(&b, BillingOptions{Subscriptions: 10, Sales: 10, Month: month, MonthsBefore: 2}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 21 || lines[0] != Header {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range map[int]string{1: ",NEW,C1,c1@example.com,", 2: ",M-BKP,2,2026-09-02,", 11: "T-1,NEW,D1,", 14: "T-4,USAGE,C4,,,,,U-BKP-GB,13,2026-11-01,2026-11-28,0.0215,EUR,"} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d: %s, want %s", i, lines[i], want)
		}
	}
	if err := WriteBilling(&b, BillingOptions{Sales: 1, Month: month}); err == nil {
		t.Error("usage without subscribers written")
	}
}
