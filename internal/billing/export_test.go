package billing

import "github.com/clearhouse/clearhouse/internal/civil"

// TermsDate and TermsAmount are how the payment terms of a document in
// lang write a date and an amount (for the tests).
func TermsDate(lang string, d civil.Date) string { return wordsFor(lang).date(d) }
func TermsAmount(lang, s string) string          { return wordsFor(lang).amount(s) }
