package invoicepdf_test

import (
	"bytes"
	"fmt"
	"os"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/invoicepdf"
)

// The PDF of an invoice, as the reseller's outbox gets it (<number>.pdf).
func ExampleWrite() {
	d := invoice.Examples()[0]
	var pdf bytes.Buffer
	if err := invoicepdf.Write(&pdf, d); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(d.Number+".pdf", string(pdf.Bytes()[:8]))
	// Output: CH-2026-000041.pdf %PDF-1.3
}
