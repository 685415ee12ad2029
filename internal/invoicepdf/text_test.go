package invoicepdf

import (
	"errors"
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/invoice"
)

func TestFontGlyphs(t *testing.T) {
	t.Parallel()
	g, err := fontGlyphs()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range "Aé€ØßŁ–…\u00a0\u2002\uFFFD" {
		if !g.has(r) {
			t.Errorf("DejaVu Sans draws %q (U+%04X), the set says it does not", r, r)
		}
	}
	for _, r := range []rune{'漢', 'あ', 0xE000, 0xFFFF, 0x10000, 0x1F600, -1} {
		if g.has(r) {
			t.Errorf("DejaVu Sans has no U+%04X, the set says it has", r)
		}
	}
}

func TestPrintableLine(t *testing.T) {
	t.Parallel()
	g, err := fontGlyphs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{"Télécom Exemple", "Télécom Exemple"},
		{"Smile 😀 SA", "Smile \uFFFD SA"},
		{"Thanks 🙏🏽!", "Thanks \uFFFD!"},            // a run of them is one replacement
		{"👨\u200d👩\u200d👧 family", "\uFFFD family"}, // joined by ZWJ
		{"I \u2764\ufe0f Paris", "I \u2764 Paris"},  // the heart is in the font, its selector is dropped
		{"漢字 GmbH", "\uFFFD GmbH"},                  // not in DejaVu Sans
		{"\U00010000x", "\uFFFDx"},                  // the first rune past the BMP
		{"evil\u202Egnp.exe", "evilgnp.exe"},        // bidi override
		{"\u2066isolated\u2069 \u200eltr\u200f", "isolated ltr"},
		{"\x1b[31mred\x1b[0m", "[31mred [0m"},
		{"bell\x07", "bell"},
		{"two\tcolumns", "two columns"},
		{" line\r\nbreak\n ", "line break"},
		{"del\x7f c1\u0085 end", "del c1 end"},
		{"100\u00a0000", "100\u00a0000"}, // a no-break space stays
		{"bad \xff utf-8", "bad \uFFFD utf-8"},
		{"\ufeffBOM", "BOM"},
	} {
		if got := g.line(tc.in); got != tc.want {
			t.Errorf("line(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := g.paragraphs("First\x07 line\r\nsecond 😀\rthird\u2029"), "First line\nsecond \uFFFD\nthird"; got != want {
		t.Errorf("paragraphs: %q, want %q", got, want)
	}
}

// TestPrintableLeavesTheDocument: the writer draws a copy; the document
// it was given is not changed.
func TestPrintableLeavesTheDocument(t *testing.T) {
	t.Parallel()
	g, err := fontGlyphs()
	if err != nil {
		t.Fatal(err)
	}
	d := invoice.Examples()[2]
	d.Lines[0].Name = "VPN 😀"
	d.Notes[0] = "\x07note"
	c := printable(g, d)
	if d.Lines[0].Name != "VPN 😀" || d.Notes[0] != "\x07note" {
		t.Errorf("the document was changed: %q, %q", d.Lines[0].Name, d.Notes[0])
	}
	if c.Lines[0].Name != "VPN \uFFFD" || c.Notes[0] != "note" || len(c.References) != len(d.References) {
		t.Errorf("the copy: %q, %q, %d references", c.Lines[0].Name, c.Notes[0], len(c.References))
	}
}

// TestSafelyTurnsAPanicIntoAnError: whatever fpdf does with a text, Write
// returns an error; it never panics.
func TestSafelyTurnsAPanicIntoAnError(t *testing.T) {
	t.Parallel()
	err := safely("CH-1", func() error {
		var widths []int
		_ = widths[65536] // what fpdf did with an emoji
		return nil
	})
	if !errors.Is(err, invoice.ErrDocument) || !strings.Contains(err.Error(), "CH-1") {
		t.Fatalf("got %v, want an error of CH-1 wrapping invoice.ErrDocument", err)
	}
	want := errors.New("layout")
	if err := safely("CH-1", func() error { return want }); err != want {
		t.Fatalf("an error without a panic: got %v", err)
	}
}
