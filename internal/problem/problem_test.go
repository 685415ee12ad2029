package problem

import (
	"errors"
	"strings"
	"testing"
)

var errBad = errors.New("bad")

func TestReportCapsAndUnwraps(t *testing.T) {
	t.Parallel()
	r := NewReport(3)
	for line := 2; line < 10; line++ {
		r.Add(New("BAD", Position{File: "f.csv", Line: line, Column: "sku"}, "x", errBad, "bad value"))
	}
	if !r.Full() || !r.FileRejected() {
		t.Fatalf("full=%v fileRejected=%v", r.Full(), r.FileRejected())
	}
	if len(r.Problems) != 4 || r.Problems[3].Code != CodeTooMany {
		t.Fatalf("problems: %v", r.Problems)
	}
	if !errors.Is(r, errBad) || !errors.Is(r, ErrTooMany) {
		t.Fatal("errors.Is does not find causes through the report")
	}
	var p *Problem
	if !errors.As(r, &p) || p.Pos.Line != 2 {
		t.Fatalf("errors.As: %v", p)
	}
}

func TestProblemMessageHasCoordinates(t *testing.T) {
	t.Parallel()
	p := New("UNKNOWN_SKU", Position{File: "d.csv", Sheet: "Sales", Line: 7, Column: "sku"}, "ZZ-1", errBad, "not in your catalog")
	got := p.Error()
	for _, want := range []string{"d.csv[Sales]:7", "column sku", "UNKNOWN_SKU", `"ZZ-1"`} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}

func TestClipKeepsUTF8Valid(t *testing.T) {
	t.Parallel()
	v := strings.Repeat("é", 300)
	p := New("X", Position{}, v, nil, "m")
	if !strings.HasSuffix(p.Value, "…") || len(p.Value) > maxValue+4 {
		t.Fatalf("clip: %d bytes", len(p.Value))
	}
	for _, r := range p.Value {
		if r == '\uFFFD' {
			t.Fatal("clip cut a rune in half")
		}
	}
}
