package mailbox_test

import (
	"testing"

	"github.com/clearhouse/clearhouse/internal/mailbox"
)

// Issue 12, 7: names with line or paragraph separators, the combining
// grapheme joiner, a variation selector or the slash look-alikes U+2571,
// U+27CB, U+FE68 passed the filter that the README says refuses them.
func TestNameFilterRefusesInvisibleAndSlashLikeCharacters(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"a\u2028b.csv", "a\u2029b.csv", "a\u034fb.csv", "a\ufe0fb.csv", "a\ufe00b.csv", "a\U000E0100b.csv",
		"a\u180eb.csv", "a\u3164b.csv",
		"inbox\u2571x.csv", "inbox\u2572x.csv", "inbox\u27cbx.csv", "inbox\u27cdx.csv", "inbox\ufe68x.csv",
		"a\u200bb.csv", "a\u202eb.csv", "a\u2215b.csv", // refused before, still
	} {
		if err := mailbox.ValidName(name); err == nil {
			t.Errorf("%+q passes the name filter", name)
		}
	}
	for _, name := range []string{"ventes_octobre.csv", "Déclarations 2026-01.csv", "données (1).xlsx", "売上.csv"} {
		if err := mailbox.ValidName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
}
