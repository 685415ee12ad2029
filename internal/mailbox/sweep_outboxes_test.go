package mailbox

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// What writers killed mid-file left in partners' outboxes is swept; the
// documents beside it stay.
func TestSweepOutboxes(t *testing.T) {
	l := Layout{DataDir: t.TempDir()}
	old := time.Now().Add(-time.Minute)
	var want []string
	for _, f := range []struct{ partner, name string }{
		{"r-1", ".CH-2026-000121.pdf.tmp-3449053376"}, {"r-2", ".ack_x.csv.tmp-1"}, {"r-2", "CH-2026-000122.pdf"},
	} {
		dir := l.Outbox(f.partner)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		if IsTemp(f.name) {
			want = append(want, f.name)
		}
	}
	got, err := l.SweepOutboxes()
	slices.Sort(got)
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("swept %v, %v; want %v", got, err, want)
	}
	if _, err := os.Stat(filepath.Join(l.Outbox("r-2"), "CH-2026-000122.pdf")); err != nil {
		t.Fatalf("the document beside them: %v", err)
	}
}
