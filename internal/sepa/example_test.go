package sepa_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/clearhouse/clearhouse/internal/sepa"
)

// A debit due on Christmas Day is collected on the next TARGET2 business
// day; its file must reach the bank one business day before.
func ExampleOnOrAfter() {
	due := time.Date(2026, time.December, 25, 0, 0, 0, 0, time.UTC)
	on := sepa.OnOrAfter(due)
	fmt.Println(on.Format(time.DateOnly), sepa.BusinessDaysBefore(on, 1).Format(time.DateOnly))
	// Output: 2026-12-28 2026-12-24
}

func ExampleWrite() {
	var b strings.Builder
	err := sepa.Write(&b, sepa.Collection{
		MessageID: "CH-DD-20261228",
		Created:   time.Date(2026, 12, 1, 7, 0, 0, 0, time.UTC),
		Creditor: sepa.Creditor{Name: "Clearhouse SAS", Address: sepa.Address{Town: "Paris", Country: "FR"},
			IBAN: "FR7630006000011234567890189", CreditorID: "FR72ZZZ123456"},
		Date: time.Date(2026, time.December, 28, 0, 0, 0, 0, time.UTC),
		Debits: []sepa.Debit{{EndToEndID: "CH-2026-000017", Amount: 164388, MandateID: "M1", MandateSigned: time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC),
			Sequence: sepa.Recurring, DebtorName: "Câble Wallonie SA", DebtorAddress: sepa.Address{Town: "Liège", Country: "BE"},
			IBAN: "BE68539007547034", Remittance: "Invoice CH-2026-000017"}},
	})
	fmt.Println(err, strings.Contains(b.String(), `<InstdAmt Ccy="EUR">1643.88</InstdAmt>`))
	// Output: <nil> true
}
