// Package render writes what people and machines read back: CSV files
// (RFC 4180, UTF-8) whose cells a spreadsheet can never run as formulas,
// and later invoices and XLSX exports.
package render

import (
	"encoding/csv"
	"io"
	"strings"
	"unicode/utf8"
)

// Cell makes a value safe to open in a spreadsheet: text that a spreadsheet
// would evaluate (starting with = + - @, tab or carriage return) gets a
// leading apostrophe, as OWASP recommends for CSV injection.
func Cell(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	case '\'':
		// A value that itself starts with apostrophes before one of those
		// gets one more, so that taking one off (a rejects file sent back,
		// Unguard) gives the value as it was: '=x is written ''=x.
		if Guarded(s) {
			return "'" + s
		}
	}
	return s
}

// Guarded tells whether s starts with apostrophes before a character a
// spreadsheet would run: the form Cell gives such a value.
func Guarded(s string) bool {
	t := strings.TrimLeft(s, "'")
	if len(t) == len(s) || t == "" {
		return false
	}
	switch t[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return true
	}
	return false
}

// Unguard takes off the apostrophe Cell added.
func Unguard(s string) string {
	if Guarded(s) {
		return s[1:]
	}
	return s
}

// CSV writes records with every text cell made safe by Cell. Numbers that
// Clearhouse itself formats (amounts, counts) go through WriteTrusted.
type CSV struct {
	w      *csv.Writer
	buf    []string
	closer io.Closer // an encoder to end, if any
}

// NewCSV returns a CSV writer on w.
func NewCSV(w io.Writer) *CSV { return &CSV{w: csv.NewWriter(w)} }

// Write writes one record of untrusted text.
func (c *CSV) Write(rec ...string) error {
	c.buf = c.buf[:0]
	for _, s := range rec {
		c.buf = append(c.buf, Cell(s))
	}
	return c.w.Write(c.buf)
}

// WriteTrusted writes one record as it is: the caller has made its text
// cells safe with Cell, and its other cells are numbers and dates that
// Clearhouse formatted itself, so a negative amount stays a number.
func (c *CSV) WriteTrusted(rec ...string) error { return c.w.Write(rec) }

// Flush flushes and returns any write error.
func (c *CSV) Flush() error {
	c.w.Flush()
	return c.w.Error()
}

// Close flushes and ends the encoding of a writer made by NewCSVIn.
func (c *CSV) Close() error {
	if err := c.Flush(); err != nil {
		return err
	}
	if c.closer != nil {
		return c.closer.Close()
	}
	return nil
}

// Plain writes CSV whose values are written unaltered: for machine-read
// files (fulfillment, bank and e-invoice companions), never opened as a
// spreadsheet by contract.
func Plain(w io.Writer) *csv.Writer { return csv.NewWriter(w) }

// Unprintable finds the first character of s that a reader of a document
// cannot see or that rewrites what they see: a control character (C0, DEL,
// C1), a bidirectional control, a zero-width or other invisible format
// character, a line or paragraph separator, a byte order mark, or a byte
// that is not UTF-8 (utf8.RuneError). It returns it and its position in
// characters (1-based), or ok false.
func Unprintable(s string) (r rune, at int, ok bool) {
	n := 0
	for i, c := range s {
		n++
		switch {
		case c == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"),
			c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0),
			(c >= 0x200b && c <= 0x200f) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069),
			c == 0x2028 || c == 0x2029 || c == 0x2060 || c == 0xfeff:
			return c, n, true
		}
	}
	return 0, 0, false
}
