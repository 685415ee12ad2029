package schema

import (
	"strings"
	"testing"

	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

func TestShippedLayoutsLoad(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"declarations", "customers"} {
		if _, err := Load(k); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Load("nope"); err == nil {
		t.Fatal("unknown kind loaded")
	}
}

func TestBindHeader(t *testing.T) {
	t.Parallel()
	l := MustLoad("declarations")
	b, probs := l.Bind([]string{" Declaration ID ", "ACTION", "Customer-Id", "sku", "Qty", "Start_Date", "colour"}, problem.Position{File: "f.csv", Line: 1})
	if len(probs) != 1 || probs[0].Code != CodeUnknownColumn || probs[0].Severity != problem.Warning {
		t.Fatalf("probs %v", probs)
	}
	if !b.Has(l.Index("quantity")) || b.Has(l.Index("end_date")) {
		t.Fatal("binding wrong")
	}
	_, probs = l.Bind([]string{"declaration_id", "action", "sku", "sku"}, problem.Position{File: "f.csv", Line: 1})
	codes := map[problem.Code]int{}
	for _, p := range probs {
		codes[p.Code]++
		if p.Code == CodeMissingColumn && !strings.Contains(p.Message, "declaration_id, action, sku, sku") {
			t.Errorf("missing-column message does not list the columns found: %s", p.Message)
		}
	}
	if codes[CodeDuplicateColumn] != 1 || codes[CodeMissingColumn] != 3 { // customer_id, quantity, start_date
		t.Fatalf("codes %v", codes)
	}
}

func TestCheckValues(t *testing.T) {
	t.Parallel()
	l := MustLoad("declarations")
	header := []string{"declaration_id", "action", "customer_id", "customer_email", "country", "language", "sku", "quantity", "start_date", "end_date", "unit_price", "currency", "subscription_ref"}
	b, _ := l.Bind(header, problem.Position{File: "f.csv"})
	v := b.NewValues()
	cases := []struct {
		row  string
		want []problem.Code
	}{
		{"D1,new,C1,a@b.fr,fr,fr-FR,SKU,2,2026-01-31,,12.50,eur,", nil},
		{"D1,NEW,C1,,FR,fr,SKU,2,2026-01-31,,,,", []problem.Code{CodeRequired}},
		{"D1,USAGE,C1,,FR,fr,SKU,2,2026-01-31,,,,", []problem.Code{CodeRequired}},
		{"D1,TERMINATE,C1,,,,SKU,1,2026-01-31,,,,", []problem.Code{CodeRequired}},
		{"D1,BUY,C1,x@y.z,XX,??,SKU,0,2026-02-30,,1.1234567,ABC,", []problem.Code{CodeInvalidValue, CodeInvalidCountry, CodeInvalidLanguage, CodeOutOfRange, CodeInvalidDate, CodeInvalidDecimal, CodeInvalidCurrency}},
		{"D1,NEW,C1,not-an-email,FR,fr,SKU,x,2026-01-31,,-1,EUR,", []problem.Code{CodeInvalidEmail, CodeInvalidInteger, CodeOutOfRange}},
		{strings.Repeat("x", 65) + ",NEW,C1,a@b.fr,FR,fr,SKU,1,2026-01-31,,1e3,EUR,,extra", []problem.Code{CodeExtraValues, CodeTooLong, CodeInvalidDecimal}},
	}
	for _, c := range cases {
		var got []problem.Code
		ok := b.Check(tabular.Row{Line: 2, Fields: strings.Split(c.row, ",")}, v, func(p *problem.Problem) { got = append(got, p.Code) })
		if ok != (len(c.want) == 0) || strings.Join(codes(got), " ") != strings.Join(codes(c.want), " ") {
			t.Errorf("%s: got %v want %v", c.row, got, c.want)
		}
	}
}

func codes(cs []problem.Code) []string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return s
}

func TestMatchesName(t *testing.T) {
	t.Parallel()
	if !MustLoad("customers").MatchesName("inbox/Customers_2026-11.csv") || MustLoad("customers").MatchesName("sales.csv") {
		t.Fatal("patterns")
	}
}

func TestValidEmail(t *testing.T) {
	t.Parallel()
	for s, ok := range map[string]bool{
		"a@b.fr": true, "first.last+tag@sub.example.co.uk": true, "o'brien@example.ie": true, "élodie@exemple.fr": true, "x@xn--bcher-kva.de": true,
		"": false, "a@b": false, "@b.fr": false, "a@": false, "a..b@c.fr": false, ".a@c.fr": false, "a.@c.fr": false, "a b@c.fr": false,
		"a@-b.fr": false, "a@b-.fr": false, "a@b..fr": false, "a@b.fr.": false, "<a@b.fr>": false, "a,b@c.fr": false, "dieter(at)example.de": false,
		"\"q\"@b.fr": false, "a@[127.0.0.1]": false, "a@b@c.fr": false,
	} {
		if validEmail(s) != ok {
			t.Errorf("validEmail(%q) != %v", s, ok)
		}
	}
}

func TestLocale(t *testing.T) {
	t.Parallel()
	de := Locale{Decimal: ",", Thousands: ".", DateFormat: "dd.mm.yyyy"}
	us := Locale{Decimal: ".", Thousands: ",", DateFormat: "mm/dd/yyyy"}
	fr := Locale{Decimal: ",", Thousands: " ", DateFormat: "dd/mm/yyyy"}
	for _, c := range []struct {
		l        Locale
		in, want string
		ok       bool
	}{
		{de, "1.234,50", "1234.50", true}, {de, "1234,5", "1234.5", true}, {de, "12,50", "12.50", true}, {de, "1.000", "1000", true},
		{de, "1.23,4", "", false}, {de, "12.50", "", false}, {de, "1,2,3", "", false},
		{us, "1,234.50", "1234.50", true}, {us, "229,932.50", "229932.50", true}, {us, "2,666", "2666", true}, {us, "12,5", "", false},
		{fr, "1 234,50", "1234.50", true}, {fr, "1\u00a0234,50", "1234.50", true},
		{Locale{}, "12.50", "12.50", true},
	} {
		got, ok := c.l.number(c.in)
		if ok != c.ok || (ok && got != c.want) {
			t.Errorf("%+v number(%q) = %q %v; want %q %v", c.l, c.in, got, ok, c.want, c.ok)
		}
	}
	for _, c := range []struct {
		l        Locale
		in, want string
	}{
		{de, "23.11.2026", "2026-11-23"}, {de, "1.3.2026", "2026-03-01"}, {de, "2026-11-23", "2026-11-23"},
		{us, "11/23/2026", "2026-11-23"}, {fr, "23/11/2026", "2026-11-23"}, {fr, "31/02/2026", ""}, {us, "23/11/2026", ""},
		{Locale{}, "23/11/2026", ""},
	} {
		d, ok := c.l.date(c.in)
		if (c.want == "") == ok || (ok && d.String() != c.want) {
			t.Errorf("%+v date(%q) = %v %v; want %q", c.l, c.in, d, ok, c.want)
		}
	}
	if (Locale{Decimal: ",", Thousands: ","}).Check() == nil || (Locale{DateFormat: "yy/mm/dd"}).Check() == nil {
		t.Error("bad locales accepted")
	}
}

func TestWorkbookValues(t *testing.T) {
	t.Parallel()
	wb := Locale{Workbook: true}
	for in, want := range map[string]string{"24.899999999999999": "24.9", "1.5E-2": "0.015", "3": "3", "0.1": "0.1", "1234.5": "1234.5"} {
		if got, ok := wb.number(in); !ok || got != want {
			t.Errorf("number(%q) = %q %v, want %q", in, got, ok, want)
		}
	}
	for _, c := range []struct {
		in    string
		w1904 bool
		want  string
	}{{"46349", false, "2026-11-23"}, {"1", false, "1900-01-01"}, {"59", false, "1900-02-28"}, {"61", false, "1900-03-01"}, {"44927.75", false, "2023-01-01"},
		{"44927", true, "2027-01-02"}, {"0", true, "1904-01-01"}} {
		d, ok := Locale{Workbook: true, Date1904: c.w1904}.date(c.in)
		if c.in == "0" { // day 0 of 1904 is not a date a clerk means
			if ok {
				t.Errorf("serial 0 accepted")
			}
			continue
		}
		if !ok || d.String() != c.want {
			t.Errorf("date(%q, 1904=%v) = %v %v, want %s", c.in, c.w1904, d, ok, c.want)
		}
	}
	if _, ok := (Locale{Workbook: true}).date("60"); ok {
		t.Error("the 29 February 1900 that never was accepted")
	}
}

// TestNumberCellWarnings: a text column fed from number cells of a workbook
// warns on its first cells only, is still accepted, and a number cell in a
// number column says nothing.
func TestNumberCellWarnings(t *testing.T) {
	t.Parallel()
	l := MustLoad("customers")
	b, _ := l.Bind([]string{"email", "customer_id", "name"}, problem.Position{File: "c.xlsx", Sheet: "S"})
	v := b.NewValues()
	var warned []*problem.Problem
	for line := 2; line < 12; line++ {
		ok := b.Check(tabular.Row{Line: line, Fields: []string{"a@b.fr", "123", "Ann"}, Numbers: 0b010}, v, func(p *problem.Problem) { warned = append(warned, p) })
		if !ok || v.Str[0] != "123" {
			t.Fatalf("line %d: rejected or lost the value", line)
		}
	}
	if len(warned) != maxNumberCells {
		t.Fatalf("%d warnings, want %d", len(warned), maxNumberCells)
	}
	p := warned[0]
	if p.Code != CodeNumberCell || p.Severity != problem.Warning || p.Pos.Line != 2 || p.Pos.Column != "customer_id" || p.Pos.Sheet != "S" || p.Value != "123" {
		t.Fatalf("first warning %+v", p)
	}
	if !strings.Contains(warned[maxNumberCells-1].Message, "not listed") {
		t.Fatalf("last warning does not say the rest is not listed: %s", warned[maxNumberCells-1].Message)
	}
	d := MustLoad("declarations")
	b, _ = d.Bind([]string{"declaration_id", "action", "customer_id", "sku", "quantity", "start_date"}, problem.Position{File: "d.xlsx"})
	v = b.NewValues()
	n := 0
	b.Check(tabular.Row{Line: 2, Fields: []string{"D1", "USAGE", "C1", "SKU", "3", "46000"}, Numbers: 0b110000}, v, func(p *problem.Problem) {
		if p.Code == CodeNumberCell {
			n++
		}
	})
	if n != 0 {
		t.Fatalf("number cells in number and date columns warned %d times", n)
	}
}

// TestImpossibleDateSaysTheDayDoesNotExist (issue 13, 6): a date that has
// the shape of one but names a day the calendar lacks is told so, in ISO
// and in the reseller's declared format; a malformed one keeps the format
// sentence.
func TestImpossibleDateSaysTheDayDoesNotExist(t *testing.T) {
	t.Parallel()
	l := MustLoad("declarations")
	header := []string{"declaration_id", "action", "customer_id", "customer_email", "sku", "quantity", "start_date"}
	for _, c := range []struct {
		format, value, want string
	}{
		{"", "2026-02-30", "start_date: 30 February 2026 does not exist"},
		{"", "2027-02-29", "start_date: 29 February 2027 does not exist"},
		{"dd/mm/yyyy", "31/04/2026", "start_date: 31 April 2026 does not exist"},
		{"mm/dd/yyyy", "02/30/2026", "start_date: 30 February 2026 does not exist"},
		{"", "2026-13-01", "start_date must be a date written YYYY-MM-DD"},
		{"", "30.02.2026", "start_date must be a date written YYYY-MM-DD"},
	} {
		b, _ := l.Bind(header, problem.Position{File: "f.csv"})
		b.Locale.DateFormat = c.format
		var msgs []string
		b.Check(tabular.Row{Line: 2, Fields: []string{"D1", "NEW", "C1", "a@b.fr", "SKU", "1", c.value}}, b.NewValues(), func(p *problem.Problem) { msgs = append(msgs, p.Message) })
		if len(msgs) != 1 || !strings.HasPrefix(msgs[0], c.want) {
			t.Errorf("%s %q: %q, want %q", c.format, c.value, msgs, c.want)
		}
	}
}

// TestControlCharactersInTextAreRefused: a BEL, a backspace, an escape or a
// C1 control in a text value is a row problem that names it; tabs and line
// breaks (a note over two lines) are text.
func TestControlCharactersInTextAreRefused(t *testing.T) {
	t.Parallel()
	l := MustLoad("declarations")
	header := []string{"declaration_id", "action", "customer_id", "customer_email", "customer_name", "sku", "quantity", "start_date"}
	for name, want := range map[string]string{
		"Lars\aBecker": `customer_name holds a control character (\x07 at character 5)`, "x\b": `(\x08 at character 2)`,
		"\x1b[31mred": `(\x1b at character 1)`, "Zo\u0085ë": `(\x85 at character 3)`, "a\tb": "", "two\nlines": "", "Zoë": "",
	} {
		b, _ := l.Bind(header, problem.Position{File: "f.csv"})
		var msgs []string
		b.Check(tabular.Row{Line: 2, Fields: []string{"D1", "NEW", "C1", "a@b.fr", name, "SKU", "1", "2026-03-06"}}, b.NewValues(),
			func(p *problem.Problem) { msgs = append(msgs, string(p.Code)+" "+p.Message) })
		got := strings.Join(msgs, "; ")
		if (want == "") != (got == "") || !strings.Contains(got, want) || (want != "" && !strings.HasPrefix(got, "INVALID_TEXT ")) {
			t.Errorf("%q: %q, want %q", name, got, want)
		}
	}
}
