package main

// Output to a terminal: the tables every command prints, text from files
// and partners shown so that it cannot rewrite a line, and the progress of
// a large file.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
)

// table is a table as the commands print one: columns two spaces apart.
func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 2, 4, 2, ' ', 0) }

// amountTable is a table whose columns are aligned right, as amounts are
// read.
func amountTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
}

// printable shows s on a terminal as text: control characters (C0, DEL,
// C1) and the bidirectional and invisible format characters that could
// rewrite a line are shown escaped (\x1b, \u202e), never sent as they are;
// longer than n runes, it is cut with an ellipsis.
func printable(s string, n int) string {
	var b strings.Builder
	runes := 0
	for _, r := range s {
		if runes >= n {
			b.WriteString("…")
			break
		}
		switch {
		case r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", r)
		case r == 0x200b || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0xfeff ||
			r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
		runes++
	}
	return b.String()
}

// progressLine draws "reading FILE 42% (39 of 93 MB)" on a terminal's
// standard error for files over 8 MB; nothing when not on a terminal.
func progressLine(path string) func(read, size int64) {
	fi, err := os.Stderr.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	if st, err := os.Stat(path); err != nil || st.Size() < 8<<20 {
		return nil
	}
	name := printable(filepath.Base(path), 60)
	return func(read, size int64) {
		if size > 0 {
			fmt.Fprintf(os.Stderr, "\r  reading %s %3d%% (%d of %d MB) ", name, read*100/size, read>>20, size>>20)
		}
	}
}

func clearProgress() {
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
}
