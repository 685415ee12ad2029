package render

import (
	"bytes"
	"testing"
)

func TestCellNeverAFormula(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+33 1": "'+33 1", "-5": "'-5", "@SUM(A1)": "'@SUM(A1)",
		"\t=1": "'\t=1", "\r=1": "'\r=1", "plain": "plain", "": "", "a=b": "a=b", "'=odd": "''=odd", "'plain": "'plain", "'": "'",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q want %q", in, got, want)
		}
	}
	var b bytes.Buffer
	c := NewCSV(&b)
	_ = c.Write("=1+1", "ok, with comma")
	_ = c.Flush()
	if b.String() != "'=1+1,\"ok, with comma\"\n" {
		t.Fatalf("%q", b.String())
	}
	b.Reset()
	_ = c.WriteTrusted(Cell("=1+1"), "-0.01")
	_ = c.Flush()
	if b.String() != "'=1+1,-0.01\n" {
		t.Fatalf("trusted: %q", b.String())
	}
}

// TestUnguardGivesTheValueBack: whatever a value starts with, taking off the
// apostrophe Cell added gives it back (a rejects file sent back as it is).
func TestUnguardGivesTheValueBack(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"=1+1", "'=odd", "''@x", "'plain", "'", "''", "plain", "", "-5", "'-5", "@home Services"} {
		if got := Unguard(Cell(v)); got != v {
			t.Errorf("%q: written %q, read back %q", v, Cell(v), got)
		}
	}
}
