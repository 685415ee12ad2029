package tabular

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/clearhouse/clearhouse/internal/problem"
)

// FuzzCSV feeds arbitrary bytes, with each delimiter and encoding option, to
// the reader: it must never panic, every row must be valid UTF-8 text with
// non-decreasing line numbers, and every problem must be located.
func FuzzCSV(f *testing.F) {
	var seeds []string
	for _, pat := range []string{"../../samples/drops/*/*", external + "/*/*.csv", external + "/*/*.tsv", external + "/*/*.?sv", external + "/csv-spectrum/csvs/*"} {
		m, _ := filepath.Glob(pat)
		seeds = append(seeds, m...)
	}
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b, uint8(0))
		}
	}
	f.Add([]byte("a,b\n\"x\r\ny\",\"\"\"\"\r"), uint8(1))
	f.Add([]byte{0xFF, 0xFE, 'a', 0, ';', 0, 'b', 0}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		opts := Options{Name: "fuzz.csv", Limits: Limits{MaxRecordBytes: 4096, MaxFields: 64, MaxFieldBytes: 1024, MaxRows: 1000}}
		opts.Delimiter = []byte{0, ',', ';', '\t', '|'}[int(mode)%5]
		opts.Encoding = []string{"", "", "utf-8", "utf-16", "windows-1252"}[int(mode/5)%5]
		opts.SkipLines = int(mode) % 3
		r, err := Open(bytes.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		last := 0
		readLocated(t, r, 2000, func(row Row) {
			if row.Line < last || row.Line < 1 {
				t.Fatalf("line %d after %d", row.Line, last)
			}
			last = row.Line
			for _, v := range row.Fields {
				if !utf8.ValidString(v) {
					t.Fatalf("invalid UTF-8 value %q", v)
				}
			}
		})
	})
}

// FuzzCSVQuickPath reads the same bytes with and without the whole-line
// fast path: both must give the same rows, lines and problems.
func FuzzCSVQuickPath(f *testing.F) {
	f.Add([]byte("a,b\r\nc,d\rx,\"y\nz\"\n\n,,\n\xC3,\xA9\n1,2"), uint8(0))
	f.Add([]byte("a;b\nc\x00;d\n\"q\"x;1\n"), uint8(2))
	f.Add([]byte("a,b,c,d,e\n1,2\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		opts := Options{Name: "fuzz.csv", Limits: Limits{MaxRecordBytes: 64, MaxFields: 4, MaxFieldBytes: 16, MaxRows: 1000}}
		opts.Delimiter = []byte{0, ',', ';', '\t', '|'}[int(mode)%5]
		opts.Encoding = []string{"", "utf-8", "windows-1252"}[int(mode/5)%3]
		opts.SkipLines = int(mode/15) % 2
		open := func(quick bool) Reader {
			r, err := Open(bytes.NewReader(data), opts)
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := r.(*csvReader); ok {
				c.noQuick = !quick
			}
			return r
		}
		fast, slow := open(true), open(false)
		for range 2000 {
			a, errA := fast.Next()
			b, errB := slow.Next()
			if fmt.Sprint(errA) != fmt.Sprint(errB) || a.Line != b.Line || !slices.Equal(a.Fields, b.Fields) {
				t.Fatalf("fast path: line %d %q %v\nslow path: line %d %q %v", a.Line, a.Fields, errA, b.Line, b.Fields, errB)
			}
			var p *problem.Problem
			if errA != nil && !(errors.As(errA, &p) && p.Scope == problem.ScopeRow) {
				return
			}
		}
	})
}
