package ingest

import (
	"strings"
	"testing"
)

// The done file's convention (README, issue 12, 1b): empty, or lines
// sha256=<hex> and rows=<N>; sha256sum's own output is taken too; anything
// else is invalid rather than ignored.
func TestParseDone(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 32)
	cases := []struct {
		in      string
		sha     string
		rows    int
		invalid bool
	}{
		{"", "", -1, false},
		{"\n", "", -1, false},
		{"sha256=" + sum + "\n", sum, -1, false},
		{"rows=300000\n", "", 300000, false},
		{"# from the nightly export\nrows = 12\r\nSHA256=" + strings.ToUpper(sum) + "\r\n", sum, 12, false},
		{sum + "  ventes.csv\n", sum, -1, false},
		{"sha256=abc\n", "", -1, true},
		{"rows=-1\n", "", -1, true},
		{"size=12\n", "", -1, true},
		{"done\n", "", -1, true},
		{strings.Repeat("#", 5000), "", -1, true},
	}
	for _, c := range cases {
		e := ParseDone("x.done", []byte(c.in))
		if (e.Invalid != "") != c.invalid || (!c.invalid && (e.SHA256 != c.sha || e.Rows != c.rows)) {
			t.Errorf("%q: got %+v", c.in, e)
		}
	}
}
