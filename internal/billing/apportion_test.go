package billing

import (
	"slices"
	"testing"
)

// The VAT of a credit note is split among the invoices it credits so that
// the parts add up to it exactly, a cent left to the largest remainder.
func TestApportion(t *testing.T) {
	for _, c := range []struct {
		total   int64
		weights []int64
		want    []int64
	}{
		{160, []int64{399, 399}, []int64{80, 80}},
		{319, []int64{798, 798}, []int64{160, 159}},                     // 159.5 each: the first takes the cent
		{100, []int64{1, 1, 1}, []int64{34, 33, 33}},                    // thirds
		{7, []int64{0, 5}, []int64{0, 7}},                               // a weight of nothing gets nothing
		{5, []int64{0, 0}, []int64{5, 0}},                               // nothing to weigh: all to the first
		{1 << 40, []int64{1 << 40, 1 << 40}, []int64{1 << 39, 1 << 39}}, // products beyond 64 bits
	} {
		got := apportion(c.total, c.weights)
		var sum int64
		for _, p := range got {
			sum += p
		}
		if !slices.Equal(got, c.want) || sum != c.total {
			t.Errorf("apportion(%d, %v) = %v, want %v", c.total, c.weights, got, c.want)
		}
	}
}
