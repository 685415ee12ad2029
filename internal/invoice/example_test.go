package invoice_test

import (
	"fmt"
	"os"

	"github.com/clearhouse/clearhouse/internal/invoice"
)

// The lines CSV of a reverse-charge invoice (<number>.csv).
func ExampleWriteLinesCSV() {
	if err := invoice.WriteLinesCSV(os.Stdout, invoice.Examples()[1]); err != nil {
		fmt.Println(err)
	}
	// Output:
	// document_type,number,issue_date,billing_month,line,sku,name,publisher,billing_model,service_month,period_start,period_end,quantity,unit_price,net,vat_category,vat_rate,credits_invoice,currency,buyer_id,document_net,document_vat,document_total,document_payable,reason,credits_line
	// invoice,CH-2026-000042,2026-12-01,2026-11,1,IDE-BKP-M,Online-Backup monatlich,cloudvault,monthly,2026-11,2026-11-01,2026-11-30,18,4.90,88.20,AE,0,,EUR,isp-de,154.20,0.00,154.20,154.20,,
	// invoice,CH-2026-000042,2026-12-01,2026-11,2,IDE-AV-1Y,Virenschutz 1 Jahr,secureco,one_time,2026-11,2026-11-03,2026-11-17,3,22.00,66.00,AE,0,,EUR,isp-de,154.20,0.00,154.20,154.20,,
}
