package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// TestWorkbookBombsFromOutside: validate refuses a 2 MB workbook whose sheet
// unpacks to 2 GiB − 16 MiB of zeros, and one whose first cell is 100 MiB,
// with their own problem, exit 2, well under 300 MiB of peak memory as the
// kernel counts it for the process. Before, the first took 61 s and 4.1 GB
// and was "the file is empty", the second 4 s and 483 MB.
func TestWorkbookBombsFromOutside(t *testing.T) {
	t.Parallel()
	env := []string{"DATABASE_URL=" + pgtest.URL(t), "CLEARHOUSE_DATA=" + t.TempDir()}
	if r := run(t, env, "apply", "-f", "samples/config"); r.code != 0 {
		t.Fatalf("apply: %d %s", r.code, r.stderr)
	}
	dir := t.TempDir()
	for _, c := range []struct {
		file string
		bomb samplegen.Bomb
		want string
	}{
		{"zeros.xlsx", samplegen.Bomb{Size: 2<<30 - 16<<20}, "WORKBOOK_ROW_TOO_LARGE"},
		{"cell.xlsx", samplegen.Bomb{Head: samplegen.SheetHead + `<row r="1"><c r="A1"><v>`, Tail: `</v></c></row></sheetData></worksheet>`, Size: 100 << 20},
			"row 1 of sheet Sheet1 holds more than 1024 KB"},
	} {
		p := filepath.Join(dir, c.file)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.bomb.Write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		r := run(t, env, "validate", "--reseller", "telco-fr", p)
		t.Logf("%s: exit %d in %v, peak RSS %d MiB", c.file, r.code, r.wall.Round(time.Millisecond), r.maxRSS>>20)
		if r.code != 2 || !strings.Contains(r.stdout, c.want) || strings.Contains(r.stdout, "EMPTY_FILE") {
			t.Errorf("%s: exit %d\n%s%s", c.file, r.code, r.stdout, r.stderr)
		}
		if r.maxRSS == 0 || r.maxRSS > 300<<20 {
			t.Errorf("%s: peak RSS %d MiB", c.file, r.maxRSS>>20)
		}
		if r.wall > 30*time.Second { // under a second alone; the machine is shared
			t.Errorf("%s: %v", c.file, r.wall)
		}
	}
}
