package schema

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/govalues/decimal"
	"golang.org/x/text/language"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/render"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// Problem codes raised while binding headers and checking values.
const (
	CodeMissingColumn   problem.Code = "MISSING_COLUMN"
	CodeDuplicateColumn problem.Code = "DUPLICATE_COLUMN"
	CodeUnknownColumn   problem.Code = "UNKNOWN_COLUMN"
	CodeExtraValues     problem.Code = "EXTRA_VALUES"
	CodeRequired        problem.Code = "REQUIRED"
	CodeTooLong         problem.Code = "TOO_LONG"
	CodeInvalidText     problem.Code = "INVALID_TEXT"
	CodeInvalidValue    problem.Code = "INVALID_VALUE"
	CodeInvalidEmail    problem.Code = "INVALID_EMAIL"
	CodeInvalidCountry  problem.Code = "INVALID_COUNTRY"
	CodeInvalidLanguage problem.Code = "INVALID_LANGUAGE"
	CodeInvalidInteger  problem.Code = "INVALID_INTEGER"
	CodeOutOfRange      problem.Code = "OUT_OF_RANGE"
	CodeInvalidDate     problem.Code = "INVALID_DATE"
	CodeInvalidDecimal  problem.Code = "INVALID_DECIMAL"
	CodeInvalidCurrency problem.Code = "INVALID_CURRENCY"
	CodeNumberCell      problem.Code = "NUMBER_CELL"
)

// maxNumberCells is how many NUMBER_CELL warnings one column gets per file:
// a workbook typed as numbers throughout needs saying once, not per row.
const maxNumberCells = 5

// Sentinel causes.
var (
	ErrMissingColumn = errors.New("missing column")
	ErrRequired      = errors.New("value required")
	ErrFormat        = errors.New("invalid value")
	ErrRange         = errors.New("value out of range")
)

// Binding is a layout bound to one file's header.
type Binding struct {
	Layout *Layout
	Header []string // the header as sent
	file   string
	sheet  string
	idx    []int // layout column -> file column, -1 if absent
	// countries and languages cache canonical forms (see cached).
	countries, languages map[string]cacheVal
	// currency is the last currency code found valid.
	currency string
	// numberCells counts NUMBER_CELL warnings per layout column.
	numberCells []int
	// Locale is how the file writes numbers and dates.
	Locale Locale
	// Resent: the file is a rejects file sent back (its header starts with
	// the rejects columns): values lose the spreadsheet guard Clearhouse
	// added, and rows with values only in ignored columns are not data.
	Resent      bool
	ignoredCols []bool // file column -> an ignored column
}

// Bind matches a header to the layout. Unknown columns are warnings; missing
// always-required and duplicate columns are file-level errors.
func (l *Layout) Bind(header []string, pos problem.Position) (*Binding, []*problem.Problem) {
	b := &Binding{Layout: l, Header: append([]string(nil), header...), file: pos.File, sheet: pos.Sheet, idx: make([]int, len(l.Columns))}
	for i := range b.idx {
		b.idx[i] = -1
	}
	var probs []*problem.Problem
	b.Resent = Resends(header)
	b.ignoredCols = make([]bool, len(header))
	for j, h := range header {
		k := NormalizeHeader(h)
		if k == "" {
			continue
		}
		i, ok := l.byName[k]
		if !ok && l.ignore[k] {
			b.ignoredCols[j] = true
			continue
		}
		if !ok {
			h = strings.TrimSpace(h)
			p := problem.New(CodeUnknownColumn, at(pos, h), h, nil, "column %q is not part of the %s layout and is ignored", h, l.Kind)
			p.Severity = problem.Warning
			probs = append(probs, p)
			continue
		}
		if b.idx[i] >= 0 {
			p := problem.New(CodeDuplicateColumn, at(pos, h), h, ErrFormat, "column %q appears twice (as %q and %q)", l.Columns[i].Name, header[b.idx[i]], h)
			p.Scope = problem.ScopeFile
			probs = append(probs, p)
			continue
		}
		b.idx[i] = j
	}
	found := make([]string, 0, len(header))
	for _, h := range header {
		if strings.TrimSpace(h) != "" {
			found = append(found, strings.TrimSpace(h))
		}
	}
	for i, c := range l.Columns {
		if b.idx[i] < 0 && c.Required.Always {
			p := problem.New(CodeMissingColumn, at(pos, c.Name), "", ErrMissingColumn,
				"required column %q is missing; the header has: %s", c.Name, strings.Join(found, ", "))
			p.Scope = problem.ScopeFile
			probs = append(probs, p)
		}
	}
	return b, probs
}

func at(p problem.Position, col string) problem.Position { p.Column = col; return p }

// Has reports whether the file has layout column i.
func (b *Binding) Has(i int) bool { return b.idx[i] >= 0 }

// Raw returns the trimmed text of layout column i in fields ("" if absent).
func (b *Binding) Raw(fields []string, i int) string {
	j := b.idx[i]
	if j < 0 || j >= len(fields) {
		return ""
	}
	f := fields[j]
	if n := len(f); n == 0 || (f[0] > ' ' && f[0] < utf8.RuneSelf && f[n-1] > ' ' && f[n-1] < utf8.RuneSelf) {
		if b.Resent && n > 1 && f[0] == '\'' {
			return unguard(f)
		}
		return f // nothing to trim: most values, without a call
	}
	f = strings.TrimSpace(f)
	if b.Resent {
		return unguard(f)
	}
	return f
}

// unguard takes off the apostrophe Clearhouse put before a value a
// spreadsheet would run (render.Cell) when it wrote a rejects file: the
// value sent back is the value first sent.
func unguard(f string) string { return render.Unguard(f) }

// Accepts tells whether header is one of this layout: it binds without a
// file-level problem (every always-required column there, none twice).
func (l *Layout) Accepts(header []string) bool {
	_, probs := l.Bind(header, problem.Position{})
	for _, p := range probs {
		if p.Scope == problem.ScopeFile {
			return false
		}
	}
	return true
}

// Resends tells whether a header is a rejects file's, sent back: it starts
// with the rejects columns.
func Resends(header []string) bool {
	if len(header) < len(RejectsColumns) {
		return false
	}
	for i, c := range RejectsColumns {
		if NormalizeHeader(header[i]) != c {
			return false
		}
	}
	return true
}

// OnlyIgnored tells whether a row has values only in ignored columns (the
// further problems of a line in a rejects file, or its file-level
// problems): such a row is not data.
func (b *Binding) OnlyIgnored(fields []string) bool {
	if !b.Resent {
		return false
	}
	for j, f := range fields {
		if f != "" && !b.ignored(j) && strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func (b *Binding) ignored(j int) bool { return j < len(b.ignoredCols) && b.ignoredCols[j] }

// Values are the typed values of one row, indexed by layout column.
type Values struct {
	Str     []string
	Int     []int64
	Date    []civil.Date
	Dec     []decimal.Decimal
	Present []bool
	// Numbers marks the layout columns (the first 64) whose text came from
	// a workbook's number cell.
	Numbers uint64
}

// NewValues allocates values for the layout; reuse them across rows.
func (b *Binding) NewValues() *Values {
	n := len(b.Layout.Columns)
	return &Values{Str: make([]string, n), Int: make([]int64, n), Date: make([]civil.Date, n), Dec: make([]decimal.Decimal, n), Present: make([]bool, n)}
}

// Check fills v from row and reports each problem through add, then the
// row's number-cell warnings. It returns false if the row has an error. A
// Binding checks rows on one goroutine at a time.
func (b *Binding) Check(row tabular.Row, v *Values, add func(*problem.Problem)) bool {
	ok := b.CheckValues(row, v, add)
	b.NumberCells(row, v.Numbers, add)
	return ok
}

// Clone returns a binding for another goroutine's CheckValues: it shares
// the layout, header and locale and has its own cache.
func (b *Binding) Clone() *Binding {
	c := *b
	c.countries, c.languages, c.numberCells = nil, nil, nil
	return &c
}

// CheckValues is Check without the number-cell warnings, which depend on
// the rows before (a few per column and file): it notes their columns in
// v.Numbers for NumberCells, which the caller runs in file order.
func (b *Binding) CheckValues(row tabular.Row, v *Values, add func(*problem.Problem)) bool {
	ok := true
	l := b.Layout
	v.Numbers = 0
	action := ""
	if l.action >= 0 {
		action = strings.ToUpper(b.Raw(row.Fields, l.action))
	}
	if extra := len(row.Fields) - len(b.Header); extra > 0 {
		for _, f := range row.Fields[len(b.Header):] {
			if strings.TrimSpace(f) != "" {
				add(problem.New(CodeExtraValues, b.pos(row.Line, ""), f, ErrFormat, "the row has %d values but the header has %d columns", len(row.Fields), len(b.Header)))
				ok = false
				break
			}
		}
	}
	for i := range l.Columns {
		c := &l.Columns[i]
		s := b.Raw(row.Fields, i)
		v.Present[i] = s != ""
		v.Str[i] = s
		if s == "" {
			if c.RequiredFor(action) {
				why := ""
				if !c.Required.Always {
					why = " for action " + action
				}
				add(problem.New(CodeRequired, b.pos(row.Line, c.Name), "", ErrRequired, "%s is required%s", c.Name, why))
				ok = false
			}
			continue
		}
		if p := b.checkValue(c, i, s, row.Line, v); p != nil {
			add(p)
			ok = false
			v.Present[i] = false
		} else if c.Type == Text && row.Numbers != 0 {
			if j := b.idx[i]; j < 64 && row.Numbers&(1<<j) != 0 && i < 64 {
				v.Numbers |= 1 << i
			}
		}
	}
	return ok
}

// NumberCells warns when a text value, an id most often, comes from a
// number cell of a workbook (the layout columns in mask, which CheckValues
// put in Values.Numbers): Excel has already dropped its leading zeros (00123
// is 123) and any digits past the 15th, and nothing in the value shows it.
// Each column is warned about a few times per file, the first rows in file
// order.
func (b *Binding) NumberCells(row tabular.Row, mask uint64, add func(*problem.Problem)) {
	for m := mask; m != 0; m &= m - 1 {
		b.numberCell(row, bits.TrailingZeros64(m), add)
	}
}

func (b *Binding) numberCell(row tabular.Row, i int, add func(*problem.Problem)) {
	if b.numberCells == nil {
		b.numberCells = make([]int, len(b.Layout.Columns))
	}
	b.numberCells[i]++
	n := b.numberCells[i]
	if n > maxNumberCells {
		return
	}
	more := ""
	if n == maxNumberCells {
		more = "; further number cells in this column are not listed"
	}
	c := &b.Layout.Columns[i]
	p := problem.New(CodeNumberCell, b.pos(row.Line, c.Name), b.Raw(row.Fields, i), nil,
		"%s is a number cell in the workbook: Excel drops leading zeros (00123 becomes 123) and digits past the 15th; if the values have leading zeros, format the column as Text and type them again%s", c.Name, more)
	p.Severity = problem.Warning
	add(p)
}

func (b *Binding) pos(line int, col string) problem.Position {
	return problem.Position{File: b.file, Sheet: b.sheet, Line: line, Column: col}
}

func (b *Binding) checkValue(c *Column, i int, s string, line int, v *Values) *problem.Problem {
	bad := func(code problem.Code, cause error, format string, args ...any) *problem.Problem {
		return problem.New(code, b.pos(line, c.Name), s, cause, format, args...)
	}
	if c.MaxLength > 0 && len(s) > c.MaxLength && utf8.RuneCountInString(s) > c.MaxLength { // bytes ≥ runes: count only when it can matter
		return bad(CodeTooLong, ErrRange, "%s is %d characters long; at most %d are allowed", c.Name, utf8.RuneCountInString(s), c.MaxLength)
	}
	switch c.Type {
	case Text:
		if i := controlAt(s); i >= 0 {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return bad(CodeInvalidText, ErrFormat, "%s holds a control character (\\x%02x at character %d) that no program reading it expects: remove it",
				c.Name, r, utf8.RuneCountInString(s[:i])+1)
		}
	case Enum:
		u := strings.ToUpper(s)
		for _, val := range c.Values {
			if u == val {
				v.Str[i] = val
				return nil
			}
		}
		return bad(CodeInvalidValue, ErrFormat, "%s must be one of %s", c.Name, strings.Join(c.Values, ", "))
	case Email:
		if !validEmail(s) {
			return bad(CodeInvalidEmail, ErrFormat, "%s is not a valid email address", c.Name)
		}
	case Country:
		u, ok := b.cached(Country, s)
		if !ok {
			return bad(CodeInvalidCountry, ErrFormat, "%s must be an ISO 3166 two-letter country code such as FR or DE", c.Name)
		}
		v.Str[i] = u
	case Language:
		t, ok := b.cached(Language, s)
		if !ok {
			return bad(CodeInvalidLanguage, ErrFormat, "%s must be a language tag such as fr or en-GB", c.Name)
		}
		v.Str[i] = t
	case Integer:
		t, ok := b.Locale.number(s)
		n, err := strconv.ParseInt(t, 10, 64)
		if !ok || err != nil {
			return bad(CodeInvalidInteger, ErrFormat, "%s must be a whole number", c.Name)
		}
		if (c.Min != nil && n < *c.Min) || (c.Max != nil && n > *c.Max) {
			return bad(CodeOutOfRange, ErrRange, "%s must be %s", c.Name, rangeText(c))
		}
		v.Int[i] = n
	case Date:
		d, ok := b.Locale.date(s)
		if !ok {
			if missing := b.Locale.missingDate(s); missing != "" {
				return bad(CodeInvalidDate, ErrFormat, "%s: %s", c.Name, missing)
			}
			return bad(CodeInvalidDate, ErrFormat, "%s must be a date written %s", c.Name, b.Locale.DateText())
		}
		v.Date[i] = d
	case Decimal:
		t, ok := b.Locale.number(s)
		d, err := decimal.Parse(t)
		if !ok || err != nil || strings.ContainsAny(s, "eE") {
			example := "12.50"
			if b.Locale.decimal() == "," {
				example = "12,50"
			}
			return bad(CodeInvalidDecimal, ErrFormat, "%s must be a number written like %s", c.Name, example)
		}
		if d.Scale() > c.MaxScale && !d.Trunc(c.MaxScale).Equal(d) {
			return bad(CodeInvalidDecimal, ErrFormat, "%s has more than %d decimal places", c.Name, c.MaxScale)
		}
		if c.Min != nil && d.Sign() < 0 && *c.Min >= 0 {
			return bad(CodeOutOfRange, ErrRange, "%s must not be negative", c.Name)
		}
		v.Dec[i] = d
	case Currency:
		if s == b.currency { // a file names one currency, row after row
			return nil
		}
		u := strings.ToUpper(s)
		if _, err := money.ParseCurrency(u); err != nil {
			return bad(CodeInvalidCurrency, ErrFormat, "%s must be an ISO 4217 currency code such as EUR", c.Name)
		}
		v.Str[i] = u
		if u == s {
			b.currency = s
		}
	}
	return nil
}

// cached canonicalises country codes and language tags through a small
// per-file cache: a file repeats a handful of them a million times.
func (b *Binding) cached(t Type, s string) (string, bool) {
	cache := &b.countries
	if t == Language {
		cache = &b.languages
	}
	if r, ok := (*cache)[s]; ok {
		return r.value, r.ok
	}
	var r cacheVal
	switch t {
	case Country:
		u := strings.ToUpper(s)
		reg, err := language.ParseRegion(u)
		r = cacheVal{u, err == nil && len(u) == 2 && reg.IsCountry() && reg.String() == u}
	case Language:
		tag, err := language.Parse(s)
		if err == nil {
			r = cacheVal{tag.String(), true}
		}
	}
	if *cache == nil || len(*cache) > 4096 {
		*cache = map[string]cacheVal{}
	}
	(*cache)[s] = r
	return r.value, r.ok
}

type cacheVal struct {
	value string
	ok    bool
}

func rangeText(c *Column) string {
	switch {
	case c.Min != nil && c.Max != nil:
		return fmt.Sprintf("between %d and %d", *c.Min, *c.Max)
	case c.Min != nil:
		return fmt.Sprintf("at least %d", *c.Min)
	default:
		return fmt.Sprintf("at most %d", *c.Max)
	}
}

// validEmail accepts the addresses mail systems deliver to in practice: a
// dot-atom local part (RFC 5322 atext) and a domain of LDH labels with a dot.
// Quoted local parts and IP literals are refused: a clerk's file never needs them.
// emailLocal classes the bytes of an address's local part: 0 refused,
// '.' a dot, 'h' a byte of a non-ASCII character, 1 allowed.
var emailLocal = func() (t [256]byte) {
	for c := range 256 {
		switch {
		case c == '.':
			t[c] = '.'
		case c >= 0x80:
			t[c] = 'h'
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("!#$%&'*+/=?^_`{|}~-", byte(c)) >= 0:
			t[c] = 1
		}
	}
	return t
}()

func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 || at == len(s)-1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	prevDot, high := true, false
	for i := 0; i < len(local); i++ {
		c := local[i]
		switch emailLocal[c] {
		case 0:
			return false
		case '.':
			if prevDot {
				return false
			}
			prevDot = true
			continue
		case 'h':
			high = true
		}
		prevDot = false
	}
	if prevDot || high && !utf8.ValidString(local) {
		return false
	}
	labels := 0
	start := 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			c := domain[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return false
			}
			continue
		}
		label := domain[start:i]
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		labels++
		start = i + 1
	}
	return labels >= 2 && utf8.ValidString(domain)
}

// controlAt is the byte offset of the first control character of s (C0
// but tab, line feed and carriage return; DEL; C1), or -1. Text with one
// (a BEL, a backspace, an escape sequence) would reach the ledger and the
// publishers' files as it is.
func controlAt(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c == 0x7f:
			return i
		case c == 0xc2 && i+1 < len(s) && s[i+1] < 0xa0:
			return i
		}
	}
	return -1
}
