package ingest

import (
	"bufio"
	"strconv"

	"github.com/govalues/decimal"

	"github.com/clearhouse/clearhouse/internal/civil"
)

// copyRow encodes rows in PostgreSQL's COPY text format straight into a
// buffer: cheaper than pgx.CopyFrom with []any rows on the hot path.
type copyRow struct {
	w     *bufio.Writer
	first bool
	num   []byte
}

func (c *copyRow) sep() {
	if c.first {
		c.first = false
		return
	}
	c.w.WriteByte('\t')
}

func (c *copyRow) begin() { c.first = true }
func (c *copyRow) end()   { c.w.WriteByte('\n') }
func (c *copyRow) null()  { c.sep(); c.w.WriteString(`\N`) }

func (c *copyRow) text(s string) {
	c.sep()
	start := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '\\':
			esc = `\\`
		case '\t':
			esc = `\t`
		case '\n':
			esc = `\n`
		case '\r':
			esc = `\r`
		default:
			continue
		}
		c.w.WriteString(s[start:i])
		c.w.WriteString(esc)
		start = i + 1
	}
	c.w.WriteString(s[start:])
}

// raw writes a value that needs no escaping (digits).
func (c *copyRow) raw(s string) {
	c.sep()
	c.w.WriteString(s)
}

func (c *copyRow) textOrNull(s string) {
	if s == "" {
		c.null()
		return
	}
	c.text(s)
}

// contact writes the columns that describe a customer, in the order every
// customer-carrying table has them: name, country, language, each NULL when
// empty.
func (c *copyRow) contact(name, country, language string) {
	c.textOrNull(name)
	c.textOrNull(country)
	c.textOrNull(language)
}

func (c *copyRow) int(n int64) {
	c.sep()
	c.num = strconv.AppendInt(c.num[:0], n, 10)
	c.w.Write(c.num)
}

func (c *copyRow) date(d civil.Date) {
	c.sep()
	c.num = d.AppendISO(c.num[:0])
	c.w.Write(c.num)
}

func (c *copyRow) dec(d decimal.Decimal) {
	c.sep()
	c.w.WriteString(d.String())
}
