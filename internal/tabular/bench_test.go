package tabular

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"testing"

	"github.com/clearhouse/clearhouse/internal/samplegen"
)

func benchFile(b *testing.B) []byte {
	b.Helper()
	var buf bytes.Buffer
	if err := samplegen.Write(&buf, samplegen.Options{Rows: 100_000}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkBareCSV is the baseline: encoding/csv alone, records reused.
func BenchmarkBareCSV(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := csv.NewReader(bufio.NewReaderSize(bytes.NewReader(data), 1<<20))
		r.ReuseRecord = true
		for {
			if _, err := r.Read(); errors.Is(err, io.EOF) {
				break
			}
		}
	}
}

// BenchmarkReader is the same file through tabular (limits, positions, UTF-8 checks).
func BenchmarkReader(b *testing.B) {
	data := benchFile(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, _ := Open(bytes.NewReader(data), Options{Name: "bench.csv"})
		for {
			if _, err := r.Next(); errors.Is(err, io.EOF) {
				break
			}
		}
	}
}
