package invoicepdf

import qrcode "github.com/skip2/go-qrcode"

// prose is a section of text: a heading, then parts, each a paragraph or a
// label with its value, in a type of its own, and space below. The same
// description is written (prose) and measured (proseHeight), so that
// sections can be kept together on a page.
type prose struct {
	head  string
	parts []part
	after float64 // millimetres below the section
	// qr is a QR code's content, drawn beside the section's first run of
	// labels (the account of a transfer), with a caption under it.
	qr, caption string
}

// The QR code: its side in millimetres (the quiet zone included) and the
// caption's line under it.
const (
	qrSide     = 32.0
	qrCaptionH = 3.5
)

// part is a paragraph of text, or a label (muted) and its value on one
// line beside it.
type part struct {
	gap   float64 // millimetres above
	style string  // of the text
	size  float64
	c     rgb
	lh    float64
	label string // a label and its value (text), or a paragraph when empty
	text  string
}

const (
	headH  = 6.0  // a section's heading
	labelW = 32.0 // the labels of a section's label-value lines
)

// prose writes s, its heading kept with its first lines and the lines of
// label and value together; its QR code, if any, beside its first label
// and what follows it, which are narrowed to leave it room.
func (w *writer) prose(s prose) {
	w.section(s.head, w.opening(s))
	qrBottom := 0.0
	for i, p := range s.parts {
		w.pdf.SetY(w.pdf.GetY() + p.gap)
		wd := s.width(i)
		if p.label == "" {
			w.font(p.style, p.size, p.c)
			w.para(marginX, wd, p.lh, p.text)
			continue
		}
		if i == 0 || s.parts[i-1].label == "" {
			run := 0.0
			for k, q := range s.parts[i:] {
				if q.label == "" {
					break
				}
				run += q.gap + float64(w.lineCount(q, s.width(i+k)))*q.lh
			}
			if s.qr != "" && qrBottom == 0 {
				w.need(max(run, qrSide+qrCaptionH))
				top := w.pdf.GetY()
				qrBottom = w.qr(s.qr, s.caption, top)
				w.pdf.SetY(top)
			} else {
				w.need(run)
			}
		}
		y := w.pdf.GetY()
		w.font("", p.size, muted)
		w.at(marginX, y, labelW, p.lh, p.label, "L")
		w.font(p.style, p.size, p.c)
		for _, l := range w.atMost(2, p.text, wd-labelW) { // a long account holder's name on two lines
			w.at(marginX+labelW, y, wd-labelW, p.lh, l, "L")
			y += p.lh
		}
		w.pdf.SetY(y)
	}
	w.pdf.SetY(max(w.pdf.GetY(), qrBottom) + s.after)
}

// firstLabel is the index of s's first label-value part (where its QR
// code starts), or len(s.parts).
func (s prose) firstLabel() int {
	for i, p := range s.parts {
		if p.label != "" {
			return i
		}
	}
	return len(s.parts)
}

// width is the width part i of s is written in: the text column, less
// the QR code's from the part beside which it starts.
func (s prose) width(i int) float64 {
	if s.qr != "" && i >= s.firstLabel() {
		return contentW - qrSide - 4
	}
	return contentW
}

// section writes a section's heading, kept with the next keep millimetres
// of what follows.
func (w *writer) section(s string, keep float64) {
	w.need(headH + keep)
	w.font("B", 9.5, accent)
	w.at(marginX, w.pdf.GetY(), contentW, 5, s, "L")
	w.pdf.SetY(w.pdf.GetY() + headH)
}

// lineCount is how many lines p takes, written wd wide.
func (w *writer) lineCount(p part, wd float64) int {
	w.font(p.style, p.size, p.c)
	if p.label != "" {
		return len(w.atMost(2, p.text, wd-labelW))
	}
	return len(w.wrap(p.text, wd))
}

// proseHeight is the height s takes, the space below it included.
func (w *writer) proseHeight(s prose) float64 {
	h, beside := headH+s.after, 0.0
	for i, p := range s.parts {
		ph := p.gap + float64(w.lineCount(p, s.width(i)))*p.lh
		h += ph
		if s.qr != "" && i >= s.firstLabel() {
			beside += ph
		}
	}
	if s.qr != "" && s.firstLabel() < len(s.parts) {
		h += max(0, qrSide+qrCaptionH-beside)
	}
	return h
}

// opening is the height of the first lines of s, three at the most: what
// its heading is kept with, so that a short section is not sent to the
// next page for lines it does not have.
func (w *writer) opening(s prose) float64 {
	h, n := 0.0, 0
	for i, p := range s.parts {
		k := min(w.lineCount(p, s.width(i)), 3-n)
		h += p.gap + float64(k)*p.lh
		if n += k; n == 3 {
			break
		}
	}
	return h
}

// together writes sections on one page when they fit on one, so that the
// last (the notes) is not on a page of its own.
func (w *writer) together(ss ...prose) {
	h := 0.0
	for _, s := range ss {
		h += w.proseHeight(s)
	}
	if h <= contentBottom-pageTop {
		w.need(h)
	}
	for _, s := range ss {
		w.prose(s)
	}
}

// qr draws a QR code of content at the right of the text column from y,
// with caption under it, and returns where it ends; nothing when the
// content does not fit a QR code. The modules are drawn as one black
// path (a rectangle per run of a row), not as an image: a page rendered
// at a screen's resolution keeps their edges sharp, where a scaled image
// is blurred into a code a camera cannot read (and separate rectangles
// leave grey seams between rows).
func (w *writer) qr(content, caption string, y float64) float64 {
	code, err := qrcode.New(content, qrcode.Medium) // EPC069-12: error correction level M
	if err != nil {
		return y
	}
	bits := code.Bitmap() // with its quiet zone
	x0, m := marginX+contentW-qrSide, qrSide/float64(len(bits))
	w.fill(x0, y, qrSide, qrSide, white)
	w.pdf.SetFillColor(0, 0, 0)
	for r, row := range bits {
		for c := 0; c < len(row); {
			if !row[c] {
				c++
				continue
			}
			start := c
			for c < len(row) && row[c] {
				c++
			}
			x, yy, wd := x0+float64(start)*m, y+float64(r)*m, float64(c-start)*m
			w.pdf.MoveTo(x, yy)
			w.pdf.LineTo(x+wd, yy)
			w.pdf.LineTo(x+wd, yy+m)
			w.pdf.LineTo(x, yy+m)
			w.pdf.ClosePath()
		}
	}
	w.pdf.DrawPath("F") // one path: no seam between adjacent modules
	w.font("", 7, muted)
	w.at(x0, y+qrSide, qrSide, qrCaptionH, caption, "C")
	return y + qrSide + qrCaptionH
}
