package tabular

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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

// benchBook is a 50,000-row workbook written by excelize's stream writer
// (36 MB of sheet XML).
func benchBook(b *testing.B) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench.xlsx")
	if err := samplegen.WriteXLSX(p, samplegen.Options{Rows: 50_000}); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkXLSXReader reads the workbook through tabular: the bounded scan
// of its parts, then excelize's rows.
func BenchmarkXLSXReader(b *testing.B) {
	p := benchBook(b)
	defer cpuTime(b)()
	for b.Loop() {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		r, _ := Open(f, Options{Name: "bench.xlsx"})
		n := 0
		for {
			_, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		f.Close()
		if n != 50_001 {
			b.Fatalf("%d rows", n)
		}
	}
}

// BenchmarkXLSXCheck is the scan and copy of the parts alone: what the
// bounds cost a workbook before excelize reads it.
func BenchmarkXLSXCheck(b *testing.B) {
	p := benchBook(b)
	f, err := os.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	lim := DefaultLimits
	zr, _ := triageZip(f, fi.Size(), lim)
	defer cpuTime(b)()
	for b.Loop() {
		bp, p := locateParts(zr, "", lim)
		if p != nil {
			b.Fatal(p.msg)
		}
		slim, p, err := copyParts(bp, lim)
		if p != nil || err != nil {
			b.Fatal(p, err)
		}
		slim.close()
		os.Remove(slim.f.Name())
	}
}

// cpuTime reports the CPU time of the loop per op: on a shared machine it
// varies less than the wall time. Call as defer cpuTime(b)().
func cpuTime(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric((cpu()-start).Seconds()/float64(b.N), "cpu-s/op") }
}
