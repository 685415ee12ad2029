package declare

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/tabular"
)

// TestPrescanFlagsEveryRow: ids, refs and customers drawn from small pools
// so that many repeat, some rows unreadable; each row's flags must say
// exactly which of its ids occur elsewhere and which occur for the last
// time (ids and refs share one space, customers have their own).
func TestPrescanFlagsEveryRow(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	b.WriteString("declaration_id;action;customer_id;sku;subscription_ref\n")
	type occ struct{ row, field int }
	decl, cust := map[string][]occ{}, map[string][]occ{}
	const rows = 20000
	for i := range rows {
		if i%1000 == 999 {
			b.WriteString("x;\"never;closed\"y;1;2;3\n") // a row-level problem: numbered, nothing kept
			continue
		}
		id := fmt.Sprintf("D-%d", rng.IntN(30000))
		c := fmt.Sprintf(" C-%d ", rng.IntN(30000)) // spaces: the checker trims them too
		ref := ""
		if i%5 == 0 {
			ref = fmt.Sprintf("D-%d", rng.IntN(30000))
		}
		fmt.Fprintf(&b, "%s;NEW;%s;SKU;%s\n", id, c, ref)
		decl[id] = append(decl[id], occ{i, fieldID})
		if ref != "" {
			decl[ref] = append(decl[ref], occ{i, fieldRef})
		}
		cust[strings.TrimSpace(c)] = append(cust[strings.TrimSpace(c)], occ{i, fieldCust})
	}
	r, err := tabular.Open(strings.NewReader(b.String()), tabular.Options{Name: "f.csv", Delimiter: ';'})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Prescan(r, "declarations", t.TempDir())
	if err != nil || rep == nil {
		t.Fatal(rep, err)
	}
	defer rep.Close()
	want := make([]byte, rows)
	keep := [3]byte{keepID, keepRef, keepCust}
	last := [3]byte{lastID, lastRef, lastCust}
	for _, m := range []map[string][]occ{decl, cust} {
		for _, os := range m {
			if len(os) < 2 {
				continue
			}
			for _, o := range os {
				want[o.row] |= keep[o.field]
			}
			o := os[len(os)-1]
			want[o.row] |= last[o.field]
		}
	}
	kept := 0
	for i := range rows {
		if got := rep.row(i); got != want[i] {
			t.Fatalf("row %d: flags %06b, want %06b", i, got, want[i])
		}
		if want[i] != 0 {
			kept++
		}
	}
	if kept < rows/4 || kept > rows*9/10 {
		t.Fatalf("%d of %d rows have flags: the test proves little", kept, rows)
	}
	if rep.row(rows) != keepID|keepRef|keepCust {
		t.Fatal("a row past the prescan must keep everything")
	}
}

// TestPrescanOfUnreadableFiles: without a header there is nothing to
// prescan; a file-level problem part way ends the prescan where it will end
// the check, the rows before it flagged.
func TestPrescanOfUnreadableFiles(t *testing.T) {
	t.Parallel()
	r, _ := tabular.Open(strings.NewReader(""), tabular.Options{Name: "f.csv"})
	if rep, err := Prescan(r, "declarations", t.TempDir()); rep != nil || err != nil {
		t.Fatalf("empty file: %v %v", rep, err)
	}
	r, _ = tabular.Open(strings.NewReader("declaration_id,action\nA,NEW\nA,NEW\n\"never closed\nA,NEW\n"), tabular.Options{Name: "f.csv"})
	rep, err := Prescan(r, "declarations", t.TempDir())
	if err != nil || rep == nil {
		t.Fatal(rep, err)
	}
	defer rep.Close()
	if len(rep.flags) != 2 || rep.row(0) != keepID || rep.row(1) != keepID|lastID {
		t.Fatalf("flags %06b", rep.flags)
	}
}
