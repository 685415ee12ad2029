package schema

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/clearhouse/clearhouse/internal/tabular"
)

const csvkit = "../../../shared/external/csv/csvkit-examples"

func readCSV(t *testing.T, path string, opts tabular.Options) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skip("../shared/external not present")
	}
	defer f.Close()
	r, err := tabular.Open(f, opts)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, append([]string(nil), row.Fields...))
	}
}

// csvkit's locale and date examples convert to what csvkit expects.
func TestCSVKitConversions(t *testing.T) {
	t.Parallel()
	de := Locale{Decimal: ",", Thousands: "."}
	got := readCSV(t, filepath.Join(csvkit, "test_locale.csv"), tabular.Options{})
	want := readCSV(t, filepath.Join(csvkit, "test_locale_converted.csv"), tabular.Options{})
	for i := 1; i < len(want); i++ {
		for j, w := range want[i] {
			if w == "" {
				continue
			}
			if n, ok := de.number(got[i][j]); !ok || n != w {
				t.Errorf("row %d col %d: %q → %q %v, want %q", i, j, got[i][j], n, ok, w)
			}
		}
	}
	fr := Locale{DateFormat: "dd/mm/yyyy"}
	got = readCSV(t, filepath.Join(csvkit, "test_date_format.csv"), tabular.Options{})
	want = readCSV(t, filepath.Join(csvkit, "test_date_format_converted.csv"), tabular.Options{})
	for i := 1; i < len(want); i++ {
		if d, ok := fr.date(got[i][0]); !ok || d.String() != want[i][0] {
			t.Errorf("%q → %v %v, want %s", got[i][0], d, ok, want[i][0])
		}
	}
}
