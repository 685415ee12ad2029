package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

// TestTextArrayIsPostgresTextForm: what TextArray writes is what
// PostgreSQL reads back as text, so apply sees no change the second time.
func TestTextArrayIsPostgresTextForm(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	for _, elems := range [][]string{
		{"a@example.com"},
		{"a@example.com", "b.c+d@example.org"},
		{"", "null", "with space", `quo"te`, `back\slash`, "com,ma", "{brace}"},
	} {
		var got string
		if err := pool.QueryRow(context.Background(), `SELECT $1::text::text[]::text`, store.TextArray(elems)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := pool.QueryRow(context.Background(), `SELECT $1::text::text[]`, store.TextArray(elems)).Scan(&back); err != nil {
			t.Fatal(err)
		}
		if got != store.TextArray(elems) || fmt.Sprint(back) != fmt.Sprint(elems) {
			t.Errorf("%q: written %s, read back %s, %q", elems, store.TextArray(elems), got, back)
		}
	}
}
