package money

import (
	"testing"

	"github.com/govalues/decimal"
)

func BenchmarkLineAmount(b *testing.B) {
	p := decimal.MustParse("0.0215")
	for b.Loop() {
		if _, err := LineAmount(973, p, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPercentOf(b *testing.B) {
	pct := decimal.MustParse("70")
	for b.Loop() {
		if _, err := PercentOf(2490, pct); err != nil {
			b.Fatal(err)
		}
	}
}
