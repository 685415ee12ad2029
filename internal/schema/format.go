package schema

import (
	"fmt"
	"strings"

	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// Format is how one partner writes its files: what the reader needs
// (delimiter, encoding, title lines) and how values are written (Locale).
// Stored as JSON on the reseller; zero fields mean "detect" or "canonical".
type Format struct {
	Delimiter  string `json:"delimiter,omitempty"` // , ; tab |
	Encoding   string `json:"encoding,omitempty"`  // utf-8, utf-16, windows-1252
	SkipLines  int    `json:"skip_lines,omitempty"`
	Decimal    string `json:"decimal_separator,omitempty"`
	Thousands  string `json:"thousands_separator,omitempty"`
	DateFormat string `json:"date_format,omitempty"`
	Sheet      string `json:"sheet,omitempty"` // the worksheet of workbooks; absent: the first
}

// Check validates a format.
func (f Format) Check() error {
	if _, err := f.delimiter(); err != nil {
		return err
	}
	switch strings.ToLower(f.Encoding) {
	case "", tabular.UTF8, tabular.UTF16, tabular.Windows1252:
	default:
		return fmt.Errorf("encoding %q must be utf-8, utf-16 or windows-1252 (or absent to detect it)", f.Encoding)
	}
	if f.SkipLines < 0 || f.SkipLines > 100 {
		return fmt.Errorf("skip_lines %d must be between 0 and 100", f.SkipLines)
	}
	return f.Locale().Check()
}

func (f Format) delimiter() (byte, error) {
	switch f.Delimiter {
	case "":
		return 0, nil
	case ",", ";", "|":
		return f.Delimiter[0], nil
	case "tab", "\t", "\\t":
		return '\t', nil
	}
	return 0, fmt.Errorf("delimiter %q must be , ; tab or | (or absent to detect it)", f.Delimiter)
}

// Locale is the format's way of writing values.
func (f Format) Locale() Locale {
	return Locale{Decimal: f.Decimal, Thousands: f.Thousands, DateFormat: f.DateFormat}
}

// ReaderOptions are the tabular options for a file in this format.
func (f Format) ReaderOptions(name string, lim tabular.Limits) tabular.Options {
	d, _ := f.delimiter()
	return tabular.Options{Name: name, Limits: lim, Delimiter: d, Encoding: strings.ToLower(f.Encoding), SkipLines: f.SkipLines, Sheet: f.Sheet,
		NoTitlesIf: RejectsColumns[:2]}
}

// RejectsColumns lead every rejects file, before the row as sent; they are
// ignored on upload (the layouts' ignore_columns), and a file that starts
// with them is a rejects file sent back: it has no title lines.
var RejectsColumns = []string{"line", "problem_code", "problem_column", "problem_value", "problem_message"}

// Dialect is how files for this reseller are written: its delimiter and
// encoding (UTF-8 with a byte order mark when none is declared, so that
// Excel opens it right).
func (f Format) Dialect() render.Dialect {
	d, _ := f.delimiter()
	if d == 0 {
		d = ','
	}
	enc := strings.ToLower(f.Encoding)
	return render.Dialect{Comma: rune(d), Encoding: enc, BOM: enc == "" || enc == tabular.UTF8}
}
