package invoicepdf

// A table: a shaded header, then rows whose cells wrap, each row kept on
// one page and ruled below.

const (
	cellPad  = 1.5 // left and right inside a cell
	rowPad   = 1.3 // above and below a row's text
	rowLine  = 3.6 // the height of a line of text in a row
	headLine = 3.4
	headSize = 7.0 // points
	bodySize = 7.5
	noteSize = 7.0
	// A cell's text takes this many lines at the most, its note two: an
	// overlong name is cut with an ellipsis rather than fill a page.
	cellLines = 4
)

type column struct {
	head  string // may hold a line break
	w     float64
	align string // L or R
}

type table struct {
	x    float64
	cols []column
}

// cell is the text of one cell and, under it, an optional note in a
// smaller muted type (the invoice a credit line credits).
type cell struct{ text, note string }

func (t *table) width() float64 {
	var s float64
	for _, c := range t.cols {
		s += c.w
	}
	return s
}

// header writes the header row at the current height.
func (t *table) header(w *writer) {
	w.font("B", headSize, ink)
	lines := make([][]string, len(t.cols))
	n := 1
	for i, c := range t.cols {
		lines[i] = w.wrap(c.head, c.w-2*cellPad)
		n = max(n, len(lines[i]))
	}
	h := float64(n)*headLine + 2*rowPad
	w.need(h + rowLine + 2*rowPad) // never a header alone at the foot of a page
	y := w.pdf.GetY()
	w.fill(t.x, y, t.width(), h, band)
	x := t.x
	for i, c := range t.cols {
		// Headers sit on the bottom line, so one-line heads align with
		// the second line of two-line ones.
		yy := y + rowPad + float64(n-len(lines[i]))*headLine
		for _, l := range lines[i] {
			w.at(x+cellPad, yy, c.w-2*cellPad, headLine, l, c.align)
			yy += headLine
		}
		x += c.w
	}
	w.pdf.SetY(y + h)
}

// row writes one row at the current height, on the next page (after the
// repeated header) when it does not fit on this one.
func (t *table) row(w *writer, cells []cell) {
	w.font("", bodySize, ink)
	text := make([][]string, len(cells))
	notes := make([][]string, len(cells))
	n := 1
	for i, c := range cells {
		inner := t.cols[i].w - 2*cellPad
		text[i] = w.atMost(cellLines, c.text, inner)
		if c.note != "" {
			notes[i] = w.atMost(2, c.note, inner)
		}
		n = max(n, len(text[i])+len(notes[i]))
	}
	h := float64(n)*rowLine + 2*rowPad
	w.need(h)
	y := w.pdf.GetY()
	x := t.x
	for i, c := range t.cols {
		yy := y + rowPad
		w.font("", bodySize, ink)
		for _, l := range text[i] {
			w.at(x+cellPad, yy, c.w-2*cellPad, rowLine, l, c.align)
			yy += rowLine
		}
		w.font("", noteSize, muted)
		for _, l := range notes[i] {
			w.at(x+cellPad, yy, c.w-2*cellPad, rowLine, l, c.align)
			yy += rowLine
		}
		x += c.w
	}
	w.rule(t.x, y+h, t.width(), line)
	w.pdf.SetY(y + h)
}

// height is what a header and rows of one line each take.
func (t *table) height(rows int) float64 {
	return 2*headLine + 2*rowPad + float64(rows)*(rowLine+2*rowPad)
}
