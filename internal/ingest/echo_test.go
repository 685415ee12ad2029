package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// TestRejectsReadBackInEveryDialect (issue 13, 1): a rejects file written
// in each dialect family the readers know (comma UTF-8 with a BOM,
// semicolon Windows-1252, tab UTF-16, pipe UTF-8), with or without
// declared title lines, reads back in that dialect to the rows as sent, its
// further-problem rows and file-level rows without data (skipped on upload),
// values with accents, quotes, the delimiter and a line break intact.
func TestRejectsReadBackInEveryDialect(t *testing.T) {
	t.Parallel()
	header := &echoHeader{Line: 1, Fields: []string{"declaration_id", "customer_name", "unit_price"}}
	rows := [][]string{{"D-1", "Zoë \"Z\" Maes; née Peeters", "23,50"}, {"D-2", "Hélène\nDubois", "1.234,50"}, {"D-3", "ok", "1"}}
	probs := []*problem.Problem{
		{Code: "UNKNOWN_SKU", Severity: problem.Error, Scope: problem.ScopeRow, Pos: problem.Position{Line: 2, Column: "sku"}, Value: "X", Message: "SKU X is unknown"},
		{Code: "INVALID_DECIMAL", Severity: problem.Error, Scope: problem.ScopeRow, Pos: problem.Position{Line: 2, Column: "unit_price"}, Value: "23,50", Message: "écrit 12.50"},
		{Code: "PRICE_MISMATCH", Severity: problem.Error, Scope: problem.ScopeRow, Pos: problem.Position{Line: 3, Column: "unit_price"}, Value: "1.234,50", Message: "price"},
	}
	source := func(yield func(int, []string) error) error {
		for i, r := range rows {
			if err := yield(i+2, r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range []schema.Format{
		{},
		{Delimiter: ";", Encoding: "windows-1252", SkipLines: 2},
		{Delimiter: "tab", Encoding: "utf-16"},
		{Delimiter: "|", Encoding: "utf-8", SkipLines: 1},
	} {
		t.Run(fmt.Sprintf("%q %q skip %d", f.Delimiter, f.Encoding, f.SkipLines), func(t *testing.T) {
			var b bytes.Buffer
			if err := writeRejects(&b, header, probs, false, f.Dialect(), source); err != nil {
				t.Fatal(err)
			}
			r, err := tabular.Open(bytes.NewReader(b.Bytes()), f.ReaderOptions("back.csv", tabular.Limits{}))
			if err != nil {
				t.Fatal(err)
			}
			var got [][]string
			for {
				row, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("%v\n%q", err, b.Bytes())
				}
				got = append(got, append([]string(nil), row.Fields...))
			}
			bind, bprobs := schema.MustLoad("declarations").Bind(got[0], problem.Position{})
			if !bind.Resent || len(bprobs) == 0 { // declarations lacks required columns here: only the binding is looked at
				t.Fatalf("not recognised as a rejects file: %v", got[0])
			}
			var data [][]string
			for _, g := range got[1:] {
				if !bind.OnlyIgnored(g) {
					data = append(data, g[len(schema.RejectsColumns):])
				}
			}
			if want := rows[:2]; !reflect.DeepEqual(data, want) {
				t.Fatalf("read back %q, want %q\n%q", data, want, b.Bytes())
			}
		})
	}
}
