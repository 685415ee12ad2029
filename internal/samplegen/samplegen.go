// Package samplegen writes large, valid, deterministic declarations files
// for the bench world in samples/bench/config: the same arguments always
// give the same bytes.
package samplegen

import (
	"bufio"
	"io"
	"strconv"
)

// Header is the declarations header the generator writes.
const Header = "declaration_id,action,customer_id,customer_email,customer_name,country,language,sku,quantity,start_date,end_date,unit_price,currency,subscription_ref"

// Options shape a generated file.
type Options struct {
	Rows int
	// Prefix makes declaration ids unique across files (default "GEN").
	Prefix string
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
	bw.WriteString(Header + "\n")
	var b []byte
	for i := 0; i < o.Rows; i++ {
		b = b[:0]
		b = append(b, o.Prefix...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(i+1), 10)
		month := 1 + i%12
		day := 1 + i%28
		date := func(b []byte, d int) []byte {
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
			b = append(b, "@example.com,Customer "...)
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
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}
