package tabular

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const external = "../../../shared/external/csv"

// Every messytables and csvkit file reads to rows or to located problems;
// none panics, none ends in an unlocated error. Some are pinned exactly.
func TestMessyFilesReadOrAreLocated(t *testing.T) {
	t.Parallel()
	var files []string
	for _, dir := range []string{"messytables-horror", "csvkit-examples"} {
		m, _ := filepath.Glob(filepath.Join(external, dir, "*"))
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Skip("../shared/external not present")
	}
	pinned := map[string]struct {
		rows  int
		first string // first field of the second record
	}{
		"messytables-horror/simple.ssv":           {7, "2011-01-01"}, // semicolons, sniffed
		"messytables-horror/utf-16le_encoded.csv": {328, "5C1"},
		"messytables-horror/spanish_chars.csv":    {116, "1"},
		"csvkit-examples/test_utf16_big.csv":      {3, "1"},
		"csvkit-examples/test_utf16_little.csv":   {3, "1"},
		"csvkit-examples/test_latin1.csv":         {3, "1"},
		"csvkit-examples/mac_newlines.csv":        {3, "1"}, // CR only, a quoted CR inside
	}
	for _, f := range files {
		rel, _ := filepath.Rel(external, f)
		if strings.HasSuffix(f, ".md") || strings.HasSuffix(f, ".json") {
			continue
		}
		t.Run(rel, func(t *testing.T) {
			t.Parallel()
			in, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			r, err := Open(in, Options{Name: filepath.Base(f)})
			if err != nil {
				t.Fatal(err)
			}
			rows := 0
			var second []string
			readLocated(t, r, 0, func(row Row) {
				rows++
				if rows == 2 {
					second = append([]string(nil), row.Fields...)
				}
			})
			if want, ok := pinned[rel]; ok && (rows != want.rows || len(second) == 0 || second[0] != want.first) {
				t.Fatalf("%d rows, second record %q; want %d rows starting %q", rows, second, want.rows, want.first)
			}
		})
	}
}

// The encodings and line ends of the real files come out as text.
func TestMessyEncodings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file, want string
		line       int
	}{
		{"csvkit-examples/test_utf16_little.csv", "ʤ", 0},
		{"csvkit-examples/test_utf16_big.csv", "ʤ", 0},
		{"csvkit-examples/test_latin1.csv", "©", 0},
		{"messytables-horror/spanish_chars.csv", "ñ", 0},
		{"messytables-horror/utf-16le_encoded.csv", "", 0},
		{"csvkit-examples/test_utf8_bom.csv", "ʤ", 0},
	}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join(external, c.file))
		if err != nil {
			t.Skip("../shared/external not present")
		}
		r, err := Open(strings.NewReader(string(b)), Options{Name: c.file})
		if err != nil {
			t.Fatal(err)
		}
		var all []string
		for {
			row, err := r.Next()
			if err != nil {
				break
			}
			all = append(all, strings.Join(row.Fields, "|"))
		}
		text := strings.Join(all, "\n")
		if !strings.Contains(text, c.want) || strings.ContainsRune(text, '\uFFFD') || strings.ContainsRune(text, 0) {
			t.Errorf("%s: %q", c.file, text[:min(len(text), 300)])
		}
	}
}
