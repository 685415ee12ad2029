package civil

import "testing"

func TestParseISO(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"2026-11-23", "2024-02-29", "1970-01-01", "9999-12-31"} {
		d, err := ParseISO(s)
		if err != nil || d.String() != s {
			t.Errorf("%s → %v %v", s, d, err)
		}
	}
	for _, s := range []string{"2026-02-29", "2026-13-01", "2026-1-01", "26-11-23", "2026/11/23", "", "2026-11-23T00:00", "1899-12-31", "２０２６-11-23"} {
		if _, err := ParseISO(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	if d, _ := ParseISO("1970-01-02"); d != 1 {
		t.Errorf("epoch offset %d", d)
	}
}
