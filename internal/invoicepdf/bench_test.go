package invoicepdf_test

import (
	"io"
	"testing"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/invoicepdf"
)

func benchmarkWrite(b *testing.B, d *invoice.Document) {
	b.ReportAllocs()
	for b.Loop() {
		if err := invoicepdf.Write(io.Discard, d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTypical renders the wallet example: four lines, one page.
func BenchmarkWriteTypical(b *testing.B) { benchmarkWrite(b, invoice.Examples()[0]) }

// BenchmarkWrite300Lines renders an invoice of 300 lines (ten pages).
func BenchmarkWrite300Lines(b *testing.B) { benchmarkWrite(b, long(300)) }
