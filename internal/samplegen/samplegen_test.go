package samplegen

import (
	"bytes"
	"strings"
	"testing"
)

func TestBelgianVariant(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := Write(&b, Options{Rows: 20, Belgian: true}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if !strings.HasPrefix(lines[0], "declaration_id;action;") || !strings.Contains(lines[18], ";0,0215;EUR;") || !strings.Contains(lines[1], ";01/01/2026;") {
		t.Fatalf("%s\n%s\n%s", lines[0], lines[1], lines[18])
	}
	if strings.Contains(b.String(), ",") && !strings.Contains(b.String(), "0,0215") {
		t.Fatal("a comma outside a decimal")
	}
}
