package sepa

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// EPCTransfer is what an EPC QR code (EPC069-12, "Quick Response Code:
// guidelines to enable data capture for the initiation of a SEPA credit
// transfer", version 002) tells a banking app to pay: the payee, its
// account, the amount in euros and the reference to quote.
type EPCTransfer struct {
	Name      string // the beneficiary (at most 70 characters)
	IBAN, BIC string // BIC optional in version 002
	Amount    int64  // euro cents, 0.01 to 999,999,999.99
	// Reference is an ISO 11649 structured creditor reference (RF…);
	// Text an unstructured remittance, used only without one.
	Reference, Text string
}

// EPCQRMaxBytes is the payload's limit.
const EPCQRMaxBytes = 331

// Payload is the QR code's content: the lines of the EPC069-12 format in
// UTF-8 (character set 1), the last non-empty one without a line feed.
func (t EPCTransfer) Payload() (string, error) {
	var ps []*FieldError
	bad := func(field, value string, err error) {
		ps = append(ps, &FieldError{Field: field, Value: value, Err: err})
	}
	checkText(bad, "name", t.Name, maxName)
	checkIBAN(bad, "iban", t.IBAN)
	if t.BIC != "" && !ValidBIC(t.BIC) {
		bad("bic", t.BIC, ErrBIC)
	}
	if t.Amount < 1 || t.Amount > MaxAmount {
		bad("amount", amount(t.Amount), ErrAmount)
	}
	switch {
	case t.Reference != "" && t.Text != "":
		bad("text", t.Text, ErrTwoReferences)
	case t.Reference != "" && !ValidCreditorReference(t.Reference):
		bad("reference", t.Reference, ErrReference)
	case t.Text != "":
		checkText(bad, "text", t.Text, maxRemittance)
	}
	if ps != nil {
		return "", &CheckError{What: "the QR code", Problems: ps}
	}
	lines := []string{"BCD", "002", "1", "SCT", t.BIC, t.Name, CompactIBAN(t.IBAN), "EUR" + amount(t.Amount), "",
		strings.ReplaceAll(strings.ToUpper(t.Reference), " ", ""), t.Text}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	s := strings.Join(lines, "\n")
	if len(s) > EPCQRMaxBytes || !utf8.ValidString(s) {
		return "", &CheckError{What: "the QR code", Problems: []*FieldError{{Field: "payload", Value: s, Err: fmt.Errorf("%w (at most %d bytes)", ErrTooLong, EPCQRMaxBytes)}}}
	}
	return s, nil
}

// Causes of a refused QR code payload.
var (
	ErrReference     = errors.New("is not an ISO 11649 creditor reference (RF, two check digits, up to 21 letters and digits)")
	ErrTwoReferences = errors.New("is given with a structured reference: a transfer carries one or the other")
)
