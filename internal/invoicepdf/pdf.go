// Package invoicepdf writes a billing document (an invoice.Document) as the
// PDF a person reads: an A4 European B2B invoice or credit note with the
// seller and the buyer, the lines in a table that runs over as many pages
// as it needs (its header repeated, "Page 1 of N" on each), the VAT per
// category with its mentions, the totals, and how it is paid — for a SEPA
// direct debit, the pre-notification (amount, date, mandate, creditor id).
//
// It only lays out what the document says: every number is the document's,
// computed once by invoice.Finish. Amounts are written in one style, the
// SI one: a point before the cents, thousands grouped by a space, the
// currency after ("1 643.88 EUR"); dates as "1 December 2026". The fonts are
// DejaVu Sans, embedded (subset), so every name renders whatever its
// accents. The same document gives the same bytes: the PDF's dates are its
// issue date and its catalogs are sorted.
package invoicepdf

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"

	"github.com/go-pdf/fpdf"

	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/internal/money"
)

var (
	//go:embed fonts/DejaVuSans.ttf
	regularTTF []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	boldTTF []byte
)

// The page, in millimetres: A4 portrait, the content between the margins
// and above the footer.
const (
	pageW         = 210.0
	marginX       = 18.0
	marginTop     = 15.0
	contentW      = pageW - 2*marginX
	contentBottom = 277.0 // the footer's rule is at footerY
	footerY       = 283.0
	// The right column of the first page (the document's data, the amount,
	// the totals) and the left one (the parties), 4 mm apart.
	rightW = 76.0
	rightX = pageW - marginX - rightW
	leftW  = rightX - 4 - marginX
	// Where the content starts on the pages after the first, below a line
	// naming the document.
	pageTop = marginTop + 9
	family  = "dejavu"
)

type rgb struct{ r, g, b int }

var (
	ink    = rgb{33, 37, 41}
	muted  = rgb{100, 108, 117}
	line   = rgb{206, 212, 218}
	band   = rgb{238, 241, 245}
	accent = rgb{22, 58, 110}
	white  = rgb{255, 255, 255}
)

// Write renders d as a PDF on w. Every text is drawn as the font can draw
// it (see printable); a document the writer cannot lay out is an error
// wrapping invoice.ErrDocument, and nothing is written on w.
func Write(w io.Writer, d *invoice.Document) error {
	if d == nil {
		return fmt.Errorf("writing a PDF: %w: no document", invoice.ErrDocument)
	}
	var b bytes.Buffer
	if err := safely(d.Number, func() error { return render(&b, d) }); err != nil {
		return err
	}
	if _, err := b.WriteTo(w); err != nil {
		return fmt.Errorf("writing the PDF of %s: %w", d.Number, err)
	}
	return nil
}

// safely runs render, a panic in it (fpdf's, on some text it cannot draw)
// made an error of document number.
func safely(number string, render func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("laying out the PDF of %s: %w: the PDF library failed: %v", number, invoice.ErrDocument, r)
		}
	}()
	return render()
}

// render lays out d and writes it on w.
func render(w io.Writer, d *invoice.Document) error {
	cur, err := money.ParseCurrency(d.Currency)
	if err != nil {
		return fmt.Errorf("writing the PDF of %s: %w: %v", d.Number, invoice.ErrDocument, err)
	}
	if d.Type != invoice.TypeInvoice && d.Type != invoice.TypeCreditNote {
		return fmt.Errorf("writing the PDF of %s: %w: type %q", d.Number, invoice.ErrDocument, d.Type)
	}
	glyphs, err := fontGlyphs()
	if err != nil {
		return fmt.Errorf("writing the PDF of %s: %w", d.Number, err)
	}
	orig := d
	d = printable(glyphs, d)
	r := &writer{pdf: newPDF(d), d: d, orig: orig, cur: cur, l: localeOf(d.Language)}
	r.document()
	if err := r.pdf.Error(); err != nil {
		return fmt.Errorf("laying out the PDF of %s: %w", d.Number, err)
	}
	if err := r.pdf.Output(w); err != nil {
		return fmt.Errorf("writing the PDF of %s: %w", d.Number, err)
	}
	return nil
}

// newPDF sets up an empty A4 document with the fonts and the metadata of d,
// dated by its issue date so that its bytes depend on d alone.
func newPDF(d *invoice.Document) *fpdf.Fpdf {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetMargins(marginX, marginTop, marginX)
	p.SetAutoPageBreak(false, 0) // the writer breaks pages itself, between rows
	p.SetCellMargin(0)
	p.AddUTF8FontFromBytes(family, "", regularTTF)
	p.AddUTF8FontFromBytes(family, "B", boldTTF)
	issued := d.IssueDate.Time()
	p.SetCreationDate(issued)
	p.SetModificationDate(issued)
	p.SetCatalogSort(true)
	l := localeOf(d.Language)
	p.SetTitle(title(d, l)+" "+d.Number, true)
	p.SetAuthor(d.Seller.Name, true)
	p.SetSubject(fmt.Sprintf(l.t("%s %s to %s"), title(d, l), d.Number, d.Buyer.Name), true)
	p.SetCreator("Clearhouse", false)
	p.SetProducer("Clearhouse", false)
	p.SetLang(l.tag)
	return p
}

func title(d *invoice.Document, l *locale) string {
	if d.Type == invoice.TypeCreditNote {
		return l.t("Credit note")
	}
	return l.t("Invoice")
}

// writer lays out one document, top to bottom.
type writer struct {
	pdf *fpdf.Fpdf
	d   *invoice.Document
	// orig is the document as issued, before the text the fonts cannot
	// show was replaced: what the QR code carries.
	orig *invoice.Document
	cur  money.Currency
	l    *locale // the document's language
	// repeat is the table whose header a new page repeats (the lines
	// table while its rows are written), or nil.
	repeat *table
}

func (w *writer) document() {
	w.pdf.AddPage()
	w.heading()
	w.parties()
	if w.d.Type == invoice.TypeCreditNote {
		w.credited()
	}
	w.lines()
	w.summary()
	w.mentions()
	w.together(append([]prose{w.payment()}, w.notes()...)...)
	w.footers()
}

// font selects the font, its size in points and the text colour.
func (w *writer) font(style string, size float64, c rgb) {
	w.pdf.SetFont(family, style, size)
	w.pdf.SetTextColor(c.r, c.g, c.b)
}

// at writes one line of text in a box of width wd and height h whose top
// left corner is x, y; align is L, C or R.
func (w *writer) at(x, y, wd, h float64, s, align string) {
	w.pdf.SetXY(x, y)
	w.pdf.CellFormat(wd, h, s, "", 0, align, false, 0, "")
}

// rule draws a horizontal line from x over wd at y.
func (w *writer) rule(x, y, wd float64, c rgb) {
	w.pdf.SetDrawColor(c.r, c.g, c.b)
	w.pdf.SetLineWidth(0.2)
	w.pdf.Line(x, y, x+wd, y)
}

// fill paints a rectangle.
func (w *writer) fill(x, y, wd, h float64, c rgb) {
	w.pdf.SetFillColor(c.r, c.g, c.b)
	w.pdf.Rect(x, y, wd, h, "F")
}

// wrap splits s into lines no wider than wd in the current font: at spaces
// (never at the no-break spaces inside amounts, dates and accounts) and at
// line breaks; a word wider than a line is cut.
func (w *writer) wrap(s string, wd float64) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		cur := ""
		for _, word := range strings.Split(para, " ") {
			if cur != "" && w.pdf.GetStringWidth(cur+" "+word) <= wd {
				cur += " " + word
				continue
			}
			if cur != "" {
				out = append(out, cur)
			}
			for w.pdf.GetStringWidth(word) > wd {
				n := w.fit(word, wd)
				out = append(out, word[:n])
				word = word[n:]
			}
			cur = word
		}
		out = append(out, cur)
	}
	return out
}

// fit is the length in bytes of the longest start of s (one rune at least)
// no wider than wd.
func (w *writer) fit(s string, wd float64) int {
	n := 0
	for i, r := range s {
		if i > 0 && w.pdf.GetStringWidth(s[:i+len(string(r))]) > wd {
			break
		}
		n = i + len(string(r))
	}
	return n
}

// atMost is wrap's lines of s, n at the most: the last one ends with an
// ellipsis when some of s is left out. A field of one line (a name, a
// street) takes a line or two, whatever its length.
func (w *writer) atMost(n int, s string, wd float64) []string {
	lines := w.wrap(s, wd)
	if len(lines) <= n {
		return lines
	}
	lines = lines[:n]
	lines[n-1] = w.shorten(lines[n-1]+" "+ellipsis, wd)
	return lines
}

// clip is s when it fits in wd, else its start with an ellipsis.
func (w *writer) clip(s string, wd float64) string {
	if w.pdf.GetStringWidth(s) <= wd {
		return s
	}
	return w.shorten(s, wd)
}

const ellipsis = "…"

// shorten is the start of s that fits in wd with an ellipsis after it,
// cut after a word when one ends near enough.
func (w *writer) shorten(s string, wd float64) string {
	s = strings.TrimSuffix(strings.TrimSuffix(s, ellipsis), " ")
	n := w.fit(s, wd-w.pdf.GetStringWidth(ellipsis))
	cut := s[:n]
	if i := strings.LastIndex(cut, " "); n < len(s) && s[n] != ' ' && i > len(cut)*2/3 {
		cut = cut[:i] // the cut fell inside a word
	}
	return strings.TrimRight(cut, " ,;:–-") + ellipsis
}

// para writes s wrapped to wd from x at the current height, a line at a
// time, turning the page where a line would not fit.
func (w *writer) para(x, wd, lh float64, s string) {
	for _, l := range w.wrap(s, wd) {
		w.need(lh)
		w.at(x, w.pdf.GetY(), wd, lh, l, "L")
		w.pdf.SetY(w.pdf.GetY() + lh)
	}
}

// need turns the page unless h millimetres fit above the footer.
func (w *writer) need(h float64) {
	if w.pdf.GetY()+h > contentBottom {
		w.newPage()
	}
}

// newPage starts a page after the first: a line naming the document and
// the buyer, then the header of the table being written, if any.
func (w *writer) newPage() {
	w.pdf.AddPage()
	y := marginTop
	w.font("B", 8, muted)
	w.at(marginX, y, contentW/2, 4, title(w.d, w.l)+" "+w.d.Number, "L")
	w.font("", 8, muted)
	w.at(marginX+contentW/2, y, contentW/2, 4, w.clip(w.d.Buyer.Name, contentW/2), "R")
	w.rule(marginX, y+5.5, contentW, line)
	w.pdf.SetY(pageTop)
	if w.repeat != nil {
		w.repeat.header(w)
	}
}

// footers writes each page's footer once the pages are known: the seller's
// identity and "Page i of n". A page is revisited after its content, so the
// font and colours are set again explicitly.
func (w *writer) footers() {
	s := w.d.Seller
	parts := []string{s.Name, s.Address.Street + ", " + s.Address.PostalCode + " " + s.Address.City}
	if s.VATID != "" {
		parts = append(parts, fmt.Sprintf(w.l.t("VAT ID %s"), s.VATID))
	}
	if s.CompanyID != "" {
		parts = append(parts, w.l.companyLabel(s.CompanyIDScheme)+" "+s.CompanyID)
	}
	n := w.pdf.PageCount()
	for i := 1; i <= n; i++ {
		w.pdf.SetPage(i)
		w.pdf.SetFillColor(white.r, white.g, white.b)
		w.rule(marginX, footerY, contentW, line)
		w.font("", 7, muted)
		w.pdf.SetFontSize(7) // SetFont writes nothing to this page when the size is unchanged
		const pageBox = 30.0
		w.at(marginX, footerY+1.5, contentW-pageBox, 3.5, w.clip(strings.Join(parts, "  ·  "), contentW-pageBox), "L")
		w.at(pageW-marginX-pageBox, footerY+1.5, pageBox, 3.5, fmt.Sprintf(w.l.t("Page %d of %d"), i, n), "R")
	}
}
