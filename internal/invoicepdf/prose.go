package invoicepdf

// prose is a section of text: a heading, then parts, each a paragraph or a
// label with its value, in a type of its own, and space below. The same
// description is written (prose) and measured (proseHeight), so that
// sections can be kept together on a page.
type prose struct {
	head  string
	parts []part
	after float64 // millimetres below the section
}

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
// label and value together.
func (w *writer) prose(s prose) {
	w.section(s.head, w.opening(s))
	for i, p := range s.parts {
		w.pdf.SetY(w.pdf.GetY() + p.gap)
		if p.label == "" {
			w.font(p.style, p.size, p.c)
			w.para(marginX, contentW, p.lh, p.text)
			continue
		}
		if i == 0 || s.parts[i-1].label == "" {
			run := 0.0
			for _, q := range s.parts[i:] {
				if q.label == "" {
					break
				}
				run += q.gap + q.lh
			}
			w.need(run)
		}
		y := w.pdf.GetY()
		w.font("", p.size, muted)
		w.at(marginX, y, labelW, p.lh, p.label, "L")
		w.font(p.style, p.size, p.c)
		w.at(marginX+labelW, y, contentW-labelW, p.lh, w.clip(p.text, contentW-labelW), "L")
		w.pdf.SetY(y + p.lh)
	}
	w.pdf.SetY(w.pdf.GetY() + s.after)
}

// section writes a section's heading, kept with the next keep millimetres
// of what follows.
func (w *writer) section(s string, keep float64) {
	w.need(headH + keep)
	w.font("B", 9.5, accent)
	w.at(marginX, w.pdf.GetY(), contentW, 5, s, "L")
	w.pdf.SetY(w.pdf.GetY() + headH)
}

// lineCount is how many lines p takes.
func (w *writer) lineCount(p part) int {
	if p.label != "" {
		return 1
	}
	w.font(p.style, p.size, p.c)
	return len(w.wrap(p.text, contentW))
}

// proseHeight is the height s takes, the space below it included.
func (w *writer) proseHeight(s prose) float64 {
	h := headH + s.after
	for _, p := range s.parts {
		h += p.gap + float64(w.lineCount(p))*p.lh
	}
	return h
}

// opening is the height of the first lines of s, three at the most: what
// its heading is kept with, so that a short section is not sent to the
// next page for lines it does not have.
func (w *writer) opening(s prose) float64 {
	h, n := 0.0, 0
	for _, p := range s.parts {
		k := min(w.lineCount(p), 3-n)
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
