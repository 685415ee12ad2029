package ingest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

// Regression: a first 1,000,000-row file took minutes because each history
// look-up, planned on statistics that predate the file's own COPY, used only
// reseller_id as the index condition and filtered every row copied so far.
// The look-up sessions must probe both key columns whatever the statistics.
func TestHistoryLookupsProbeTheKeyOnStaleStatistics(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	ctx := context.Background()
	svc := &Service{Pool: pool}
	defer svc.Close()
	lookups, err := svc.lookupPool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Statistics that say "tiny", as on a fresh table: analyze it nearly empty.
	if _, err := pool.Exec(ctx, `ANALYZE declarations; ANALYZE customers`); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 2048)
	for i := range ids {
		ids[i] = fmt.Sprintf("GEN-%d", i)
	}
	for name, sql := range map[string]string{"declarations": store.PriorDeclarationsSQL, "customers": store.KnownCustomersSQL} {
		for run := range 7 { // past the point where a prepared statement switches to a generic plan
			rows, err := lookups.Query(ctx, "EXPLAIN "+sql, "bench-telco", ids)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				_ = rows.Scan(&line)
				plan = append(plan, line)
			}
			rows.Close()
			text := strings.Join(plan, "\n")
			key := "declaration_id = k.id"
			if name == "customers" {
				key = "customer_id = k.id"
			}
			if !strings.Contains(text, "Index Cond: ((reseller_id = $1) AND ("+key+"))") && !strings.Contains(text, "Index Cond: ((reseller_id = 'bench-telco'::text) AND ("+key+"))") {
				t.Fatalf("%s look-up, run %d, does not probe the key:\n%s", name, run, text)
			}
		}
	}
}
