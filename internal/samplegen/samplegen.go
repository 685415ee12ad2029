// Package samplegen writes large, valid, deterministic declarations files
// for the bench world in samples/bench/config: the same arguments always
// give the same bytes. It also writes the hostile workbooks (zip bombs)
// that readers must refuse, in a few milliseconds whatever they unpack to.
package samplegen

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// Header is the declarations header the generator writes.
const Header = "declaration_id,action,customer_id,customer_email,customer_name,country,language,sku,quantity,start_date,end_date,unit_price,currency,subscription_ref"

// Options shape a generated file.
type Options struct {
	Rows int
	// Prefix makes declaration ids unique across files (default "GEN").
	Prefix string
	// Belgian writes what the bench-be reseller declares: semicolons,
	// decimal commas, dd/mm/yyyy dates and accented names (encode the
	// output as Windows-1252).
	Belgian bool
}

var countries = []string{"FR", "DE", "BE", "NL", "ES", "IT"}
var langs = []string{"fr", "de", "nl-BE", "nl", "es", "it"}

// Write writes o.Rows rows: of every 20, 14 one-time sales, 3 monthly
// subscriptions and 3 usage rows for customers created three rows earlier.
func Write(w io.Writer, o Options) error {
	if o.Prefix == "" {
		o.Prefix = "GEN"
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if o.Belgian {
		bw.WriteString(strings.ReplaceAll(Header, ",", ";") + "\n")
	} else {
		bw.WriteString(Header + "\n")
	}
	var b []byte
	for i := 0; i < o.Rows; i++ {
		b = b[:0]
		b = append(b, o.Prefix...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(i+1), 10)
		month := 1 + i%12
		day := 1 + i%28
		date := func(b []byte, d int) []byte {
			if o.Belgian {
				b = append(b, byte('0'+d/10), byte('0'+d%10), '/', byte('0'+month/10), byte('0'+month%10), '/')
				return append(b, "2026"...)
			}
			b = append(b, "2026-"...)
			b = append(b, byte('0'+month/10), byte('0'+month%10), '-')
			return append(b, byte('0'+d/10), byte('0'+d%10))
		}
		k := i % 20
		c := i % len(countries)
		switch {
		case k < 17:
			sku, qty := "B-AV-1Y", 1+i%3
			if k >= 14 {
				sku, qty = "B-VPN-M", 1+i%2
			}
			b = append(b, ",NEW,C"...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, ",user"...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "@example.com,Clément "...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, ',')
			b = append(b, countries[c]...)
			b = append(b, ',')
			b = append(b, langs[c]...)
			b = append(b, ',')
			b = append(b, sku...)
			b = append(b, ',')
			b = strconv.AppendInt(b, int64(qty), 10)
			b = append(b, ',')
			b = date(b, day)
			b = append(b, ",,,EUR,"...)
		default:
			b = append(b, ",USAGE,C"...)
			b = strconv.AppendInt(b, int64(i-3), 10)
			b = append(b, ",,,,,B-BKP-GB,"...)
			b = strconv.AppendInt(b, int64(10+i%500), 10)
			b = append(b, ',')
			b = date(b, 1)
			b = append(b, ',')
			b = date(b, 28)
			b = append(b, ",0.0215,EUR,"...)
		}
		b = append(b, '\n')
		if o.Belgian {
			b = belgian(b)
		}
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// belgian turns a generated record's commas into semicolons (no generated
// value holds a comma or a semicolon; the decimal commas are written after).
func belgian(b []byte) []byte {
	for i, c := range b {
		if c == ',' {
			b[i] = ';'
		}
	}
	if i := bytes.Index(b, []byte(";0.0215;")); i >= 0 {
		b[i+2] = ','
	}
	return b
}

// WriteXLSX writes the same rows as Write to a workbook (sheet "Sales"),
// with real date cells and numbers as numbers, through excelize's stream
// writer.
func WriteXLSX(path string, o Options) error {
	var buf bytes.Buffer
	if err := Write(&buf, o); err != nil {
		return err
	}
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", "Sales"); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter("Sales")
	if err != nil {
		return err
	}
	dateStyle, err := f.NewStyle(&excelize.Style{NumFmt: 14})
	if err != nil {
		return err
	}
	r := csv.NewReader(&buf)
	r.ReuseRecord = true
	for n := 1; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		row := make([]any, len(rec))
		for i, v := range rec {
			row[i] = v
			if n == 1 || v == "" {
				continue
			}
			switch i {
			case 8: // quantity
				q, _ := strconv.Atoi(v)
				row[i] = q
			case 9, 10: // start_date, end_date
				t, _ := time.Parse(time.DateOnly, v)
				row[i] = excelize.Cell{StyleID: dateStyle, Value: t}
			case 11: // unit_price
				p, _ := strconv.ParseFloat(v, 64)
				row[i] = p
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		if err := sw.SetRow(cell, row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.SaveAs(path)
}
