package render

import (
	"encoding/csv"
	"io"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

// Dialect is how the reader of a file wants its CSV: the delimiter, the
// encoding, and whether UTF-8 starts with a byte order mark (Excel needs
// one to open UTF-8 with accents right).
type Dialect struct {
	Comma    rune   // 0: ','
	Encoding string // "" or utf-8, utf-16 (little-endian with a BOM), windows-1252
	BOM      bool   // for UTF-8
}

// NewCSVIn returns a CSV writer whose cells are made safe (Cell), writing
// in d. Characters the encoding lacks (in Clearhouse's own messages) become
// '?'. Close ends the encoding.
func NewCSVIn(w io.Writer, d Dialect) *CSV {
	var enc transform.Transformer
	switch strings.ToLower(d.Encoding) {
	case "windows-1252":
		enc = encoding.ReplaceUnsupported(charmap.Windows1252.NewEncoder())
	case "utf-16":
		enc = unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder()
	default:
		if d.BOM {
			enc = unicode.UTF8BOM.NewEncoder()
		}
	}
	var closer io.Closer
	if enc != nil {
		tw := transform.NewWriter(w, enc)
		w, closer = tw, tw
	}
	cw := csv.NewWriter(w)
	if d.Comma != 0 {
		cw.Comma = d.Comma
	}
	return &CSV{w: cw, closer: closer}
}
