package invoicepdf

import (
	"strings"
	"unicode"

	"github.com/clearhouse/clearhouse/internal/invoice"
)

// What the writer draws of a text is what the font can draw, safely:
//   - a control character (C0 with the tab and line breaks, DEL, C1) is a
//     space: it has no glyph, and a raw one is noise in the file;
//   - a format character (the bidi embeddings, overrides and isolates, the
//     left-to-right and right-to-left marks, zero-width joiners, the BOM,
//     the soft hyphen) and a variation selector are dropped: they would
//     reorder or hide what a clerk reads, and draw nothing;
//   - a character the fonts do not draw — outside the BMP (an emoji) or
//     missing from DejaVu Sans — is U+FFFD (one for a run of them), or '?'
//     should the font lack it;
//   - in a one-line field, spaces run together and the ends are trimmed.
//
// A paragraph (a credit note's reason, a note) keeps its line breaks.

const replacement = '\uFFFD'

// printable is a copy of d in which every text is what the font draws: a
// line for a field of one line, paragraphs for the reason and the notes.
// d itself is left as it is.
func printable(g *glyphSet, d *invoice.Document) *invoice.Document {
	c := *d
	c.Number, c.Currency, c.BillingMonth = g.line(d.Number), g.line(d.Currency), g.line(d.BillingMonth)
	c.BuyerReference = g.line(d.BuyerReference)
	c.Seller, c.Buyer = g.party(d.Seller), g.party(d.Buyer)
	c.Lines = make([]invoice.Line, len(d.Lines))
	for i, l := range d.Lines {
		l.SKU, l.Name, l.Publisher, l.BillingModel = g.line(l.SKU), g.line(l.Name), g.line(l.Publisher), g.line(l.BillingModel)
		l.ServiceMonth, l.UnitPrice, l.Credits = g.line(l.ServiceMonth), g.line(l.UnitPrice), g.line(l.Credits)
		l.VATCategory, l.VATRate = g.line(l.VATCategory), g.line(l.VATRate)
		c.Lines[i] = l
	}
	c.VAT = make([]invoice.VATSubtotal, len(d.VAT))
	for i, v := range d.VAT {
		v.Category, v.Rate = g.line(v.Category), g.line(v.Rate)
		v.ExemptionReason, v.ExemptionCode = g.line(v.ExemptionReason), g.line(v.ExemptionCode)
		c.VAT[i] = v
	}
	c.References = make([]invoice.Reference, len(d.References))
	for i, r := range d.References {
		r.Number = g.line(r.Number)
		c.References[i] = r
	}
	p := d.Payment
	p.Means, p.MandateID, p.CreditorID, p.DebtorIBAN = g.line(p.Means), g.line(p.MandateID), g.line(p.CreditorID), g.line(p.DebtorIBAN)
	p.IBAN, p.BIC, p.AccountName = g.line(p.IBAN), g.line(p.BIC), g.line(p.AccountName)
	p.Reference, p.Terms = g.line(p.Reference), g.line(p.Terms)
	p.SettledBy = g.lines(d.Payment.SettledBy)
	c.Payment = p
	c.Reason = g.paragraphs(d.Reason)
	c.Notes = make([]string, len(d.Notes))
	for i, n := range d.Notes {
		c.Notes[i] = g.paragraphs(n)
	}
	return &c
}

func (g *glyphSet) party(p invoice.Party) invoice.Party {
	p.ID, p.Name, p.TradingName = g.line(p.ID), g.line(p.Name), g.line(p.TradingName)
	a := &p.Address
	a.Street, a.Additional, a.City = g.line(a.Street), g.line(a.Additional), g.line(a.City)
	a.PostalCode, a.Subdivision, a.Country = g.line(a.PostalCode), g.line(a.Subdivision), g.line(a.Country)
	p.VATID, p.CompanyID, p.CompanyIDScheme = g.line(p.VATID), g.line(p.CompanyID), g.line(p.CompanyIDScheme)
	p.EndpointScheme, p.EndpointID, p.Email = g.line(p.EndpointScheme), g.line(p.EndpointID), g.line(p.Email)
	return p
}

func (g *glyphSet) lines(ss []string) []string {
	if ss == nil {
		return nil
	}
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = g.line(s)
	}
	return out
}

// paragraphs is s with its line breaks (LF, CR LF, CR, U+2028, U+2029) as
// "\n" and each line made printable.
func (g *glyphSet) paragraphs(s string) string {
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n", "\u2028", "\n", "\u2029", "\n").Replace(s)
	paras := strings.Split(s, "\n")
	for i, p := range paras {
		paras[i] = g.line(p)
	}
	return strings.TrimSpace(strings.Join(paras, "\n"))
}

// line is s as one line of what the font draws.
func (g *glyphSet) line(s string) string {
	var b strings.Builder
	space, replaced := false, false
	for _, r := range s { // invalid UTF-8 reads as U+FFFD
		switch {
		case unicode.IsControl(r) || unicode.IsSpace(r) && !(noBreak(r) && g.has(r)):
			space = true
			continue
		case unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r):
			continue
		case !g.has(r):
			if replaced {
				continue
			}
			r = replacement
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if replaced = r == replacement; replaced && !g.has(r) {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// noBreak tells the no-break spaces, which a text keeps (they hold its
// values together) when the font draws them.
func noBreak(r rune) bool { return r == '\u00a0' || r == '\u2007' || r == '\u202f' }
