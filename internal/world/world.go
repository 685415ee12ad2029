// Package world is the configured world of Clearhouse: the hub (the seller
// on every invoice), publishers, resellers (eligibility, currency, VAT,
// credit line, payment method, file policy, billing profile) and their
// catalogs of effective-dated prices. It reads the YAML files of a
// folder, checks them with file/line/field errors, and applies them to the
// database as an idempotent upsert that reports what changed.
package world

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/govalues/decimal"
	"gopkg.in/yaml.v3"

	"github.com/clearhouse/clearhouse/internal/civil"
	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/sepa"
)

// World is everything declared in a config folder.
type World struct {
	// Hub is the operator's identity, declared once across the folder.
	Hub        *Hub         `yaml:"hub"`
	Publishers []*Publisher `yaml:"publishers"`
	Resellers  []*Reseller  `yaml:"resellers"`
	Catalogs   []*Catalog   `yaml:"catalogs"`
}

// Where is a position in a config file.
type Where struct {
	File string `yaml:"-"`
	Line int    `yaml:"-"`
	// keys are the lines of the entry's fields, so that a problem of a
	// field points at the field, not at the entry's first line.
	keys map[string]int
	// problems of decoding the entry ("line N: field: text"), reported
	// with every other problem of the configuration.
	problems []string
}

func (w Where) String() string { return fmt.Sprintf("%s:%d", w.File, w.Line) }

// of is the position of one of the entry's fields (the entry's own when the
// field was not written); a field named with its section ("vat.rate",
// "billing.address.city") is the entry's key after the last dot.
func (w Where) of(field string) Where {
	if l, ok := w.keys[field[strings.LastIndex(field, ".")+1:]]; ok {
		w.Line = l
	}
	return w
}

// Publisher is a software publisher.
type Publisher struct {
	Where `yaml:"-"`
	ID    string `yaml:"id"`
	Name  string `yaml:"name"`
	SFTP  SFTP   `yaml:"sftp"`
	// Fulfillment is when the publisher's pending activations and
	// cancellations become a fulfillment file (default every 15m).
	Fulfillment exchange.Timing `yaml:"fulfillment"`
}

// DefaultFulfillment is how often fulfillment files are made when a
// publisher says nothing.
const DefaultFulfillment = 15 * time.Minute

// VAT is a reseller's VAT treatment and the mention printed on invoices.
type VAT struct {
	Where     `yaml:"-"`
	Treatment string `yaml:"treatment"`
	Rate      string `yaml:"rate"`
	Mention   string `yaml:"mention"`
}

// Payment is how a reseller pays: wallet (SEPA Core direct debit) or pay_now.
type Payment struct {
	Where           `yaml:"-"`
	Method          string `yaml:"method"`
	IBAN            string `yaml:"iban"`
	BIC             string `yaml:"bic"`
	MandateID       string `yaml:"mandate_id"`
	MandateSignedOn string `yaml:"mandate_signed_on"`
	// PrenotificationDays is how long before its collection a wallet
	// invoice is issued at the least (the SEPA pre-notification): the
	// rulebook's 14 unless the reseller's contract says fewer (1 to 14).
	PrenotificationDays *int `yaml:"prenotification_days"`
}

// DefaultPrenotificationDays is the SEPA rulebook's pre-notification.
const DefaultPrenotificationDays = 14

func (p Payment) prenotification() int {
	if p.PrenotificationDays == nil {
		return DefaultPrenotificationDays
	}
	return *p.PrenotificationDays
}

// Reseller is a telco, ISP or distributor that declares sales.
type Reseller struct {
	Where       `yaml:"-"`
	ID          string     `yaml:"id"`
	Name        string     `yaml:"name"`
	OEMEligible bool       `yaml:"oem_eligible"`
	Currency    string     `yaml:"currency"`
	VAT         VAT        `yaml:"vat"`
	CreditLimit string     `yaml:"credit_limit"`
	Payment     Payment    `yaml:"payment"`
	FilePolicy  string     `yaml:"file_policy"`
	FileFormat  FileFormat `yaml:"file_format"`
	SFTP        SFTP       `yaml:"sftp"`
	// Billing is the reseller as the buyer on its invoices: required when it
	// is OEM-eligible or its VAT treatment is reverse charge.
	Billing *Billing `yaml:"billing"`
}

// FileFormat is how a reseller's files are written; absent fields are
// detected (delimiter, encoding) or canonical (numbers, ISO dates).
type FileFormat struct {
	Where              `yaml:"-"`
	Delimiter          string `yaml:"delimiter"`
	Encoding           string `yaml:"encoding"`
	SkipLines          int    `yaml:"skip_lines"`
	DecimalSeparator   string `yaml:"decimal_separator"`
	ThousandsSeparator string `yaml:"thousands_separator"`
	DateFormat         string `yaml:"date_format"`
	Sheet              string `yaml:"sheet"`
}

// Format converts to the schema's form.
func (f FileFormat) Format() schema.Format {
	return schema.Format{Delimiter: f.Delimiter, Encoding: f.Encoding, SkipLines: f.SkipLines, Decimal: f.DecimalSeparator,
		Thousands: f.ThousandsSeparator, DateFormat: f.DateFormat, Sheet: f.Sheet}
}

// Catalog is one of a reseller's catalogs.
type Catalog struct {
	Where    `yaml:"-"`
	ID       string  `yaml:"id"`
	Reseller string  `yaml:"reseller"`
	Name     string  `yaml:"name"`
	Currency string  `yaml:"currency"`
	Items    []*Item `yaml:"items"`
	// PriceList is a CSV or XLSX (schemas/price_list.yaml), beside the
	// YAML file, that the items are read from instead.
	PriceList string `yaml:"price_list"`
}

// Item maps a reseller SKU to a publisher product.
type Item struct {
	Where        `yaml:"-"`
	SKU          string   `yaml:"sku"`
	Name         string   `yaml:"name"`
	Publisher    string   `yaml:"publisher"`
	PublisherSKU string   `yaml:"publisher_sku"`
	BillingModel string   `yaml:"billing_model"`
	TaxCategory  string   `yaml:"tax_category"`
	Prices       []*Price `yaml:"prices"`
}

// Price is one price version of an item.
type Price struct {
	Where          `yaml:"-"`
	ValidFrom      string `yaml:"valid_from"`
	ValidTo        string `yaml:"valid_to"`
	BuyPrice       string `yaml:"buy_price"`
	ResalePrice    string `yaml:"resale_price"`
	PublisherShare string `yaml:"publisher_share"`
}

// Each top-level entry (the hub's is in billing.go) decodes strictly:
// unknown keys are errors, and it remembers its line; strict decodes the
// entries inside it the same way.
func (p *Publisher) UnmarshalYAML(n *yaml.Node) error { return strict(n, p, &p.Where) }
func (r *Reseller) UnmarshalYAML(n *yaml.Node) error  { return strict(n, r, &r.Where) }
func (c *Catalog) UnmarshalYAML(n *yaml.Node) error   { return strict(n, c, &c.Where) }

// strict decodes mapping n into the struct v points to, refusing keys the
// struct does not declare, and records n's line in w. A field that is an
// entry (a struct that embeds Where), a pointer to one or a list of them
// is decoded by strict too.
func strict(n *yaml.Node, v any, w *Where) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: expected a mapping", n.Line)
	}
	known := map[string]reflect.Value{}
	fields(reflect.ValueOf(v).Elem(), known)
	w.Line = n.Line
	w.keys = map[string]int{}
	// Every problem of the entry is collected, not only the first: yaml.v3
	// gathers TypeErrors and goes on decoding the rest of the file.
	var problems []string
	for k := 0; k+1 < len(n.Content); k += 2 {
		key, val := n.Content[k], n.Content[k+1]
		w.keys[key.Value] = key.Line
		i, ok := known[key.Value]
		if !ok {
			names := make([]string, 0, len(known))
			for name := range known {
				names = append(names, name)
			}
			sort.Strings(names)
			problems = append(problems, fmt.Sprintf("line %d: %s: unknown field (known: %s)", key.Line, key.Value, strings.Join(names, ", ")))
			continue
		}
		if err := decode(val, i); err != nil {
			var te *yaml.TypeError
			if errors.As(err, &te) {
				problems = append(problems, te.Errors...)
				continue
			}
			problems = append(problems, fmt.Sprintf("line %d: %s: %s", val.Line, key.Value, strings.TrimPrefix(err.Error(), fmt.Sprintf("line %d: ", val.Line))))
		}
	}
	// Kept on the entry, not returned: yaml.v3 would drop an entry whose
	// decoding failed from its list, and its other problems with it.
	w.problems = problems
	return nil
}

// decode decodes n into v: strictly when v is an entry (a struct that
// embeds Where), a pointer to one or a list of them, as yaml.v3 does
// anything else.
func decode(n *yaml.Node, v reflect.Value) error {
	if n.Kind == yaml.AliasNode {
		return decode(n.Alias, v)
	}
	t := v.Type()
	switch {
	case n.Tag == "!!null": // as yaml.v3 decodes it: a nil pointer, no list
	case isEntry(t):
		return strict(n, v.Addr().Interface(), v.FieldByName("Where").Addr().Interface().(*Where))
	case t.Kind() == reflect.Pointer && isEntry(t.Elem()):
		p := reflect.New(t.Elem())
		if err := decode(n, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode && (isEntry(t.Elem()) || t.Elem().Kind() == reflect.Pointer && isEntry(t.Elem().Elem())):
		list := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for k, item := range n.Content {
			if err := decode(item, list.Index(k)); err != nil {
				return err
			}
		}
		v.Set(list)
		return nil
	}
	return n.Decode(v.Addr().Interface())
}

// isEntry reports whether t is a struct that embeds Where: an entry of the
// configuration, which knows its position.
func isEntry(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	f, ok := t.FieldByName("Where")
	return ok && f.Anonymous && f.Type == reflect.TypeFor[Where]()
}

// fields maps each yaml key of the struct rv to its field, the fields of an
// `,inline` struct (Timing in Pull and Push) included, as yaml.v3 decodes
// them.
func fields(rv reflect.Value, known map[string]reflect.Value) {
	for i := 0; i < rv.NumField(); i++ {
		opts := strings.Split(rv.Type().Field(i).Tag.Get("yaml"), ",")
		if slices.Contains(opts[1:], "inline") && rv.Field(i).Kind() == reflect.Struct {
			fields(rv.Field(i), known)
			continue
		}
		if opts[0] != "" && opts[0] != "-" {
			known[opts[0]] = rv.Field(i)
		}
	}
}

// FieldError is one problem in the configuration, with its position.
type FieldError struct {
	Where Where
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s: %s", e.Where, e.Field, e.Msg) }

// Errors is every problem found in a configuration.
type Errors []*FieldError

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Load reads every *.yaml and *.yml file of dir (in name order) and checks
// the result. It returns Errors listing every problem found.
// ErrNoConfig: a folder with no configuration file in it.
var ErrNoConfig = errors.New("no configuration")

func Load(dir string) (*World, error) {
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no *.yaml or *.yml files in %s (apply -f takes the folder of the world configuration, such as samples/config)", ErrNoConfig, dir)
	}
	w := &World{}
	var errs Errors
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var part World
		if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&part); err != nil && !errors.Is(err, io.EOF) {
			var te *yaml.TypeError
			if !errors.As(err, &te) {
				errs = append(errs, &FieldError{Where: Where{File: f, Line: lineOf(err)}, Field: "yaml", Msg: strings.TrimPrefix(err.Error(), "yaml: ")})
				continue
			}
			// Each problem at its line; what decoded is checked with the rest.
			for _, msg := range te.Errors {
				errs = append(errs, decodeProblem(f, msg))
			}
		}
		pruneEmpty(reflect.ValueOf(&part).Elem())
		errs = append(errs, emptyEntries(data, f)...)
		errs = append(errs, setFile(&part, f)...)
		if part.Hub != nil {
			part.Hub.Line = keyLine(data, "hub", part.Hub.Line)
		}
		if part.Hub != nil && w.Hub != nil {
			errs = append(errs, &FieldError{Where: part.Hub.Where, Field: "hub",
				Msg: fmt.Sprintf("is already declared at %s: the hub is one identity, declared once across the configuration folder", w.Hub.Where)})
		} else if part.Hub != nil {
			w.Hub = part.Hub
		}
		w.Publishers = append(w.Publishers, part.Publishers...)
		w.Resellers = append(w.Resellers, part.Resellers...)
		w.Catalogs = append(w.Catalogs, part.Catalogs...)
	}
	// A price list's unreadable rows are left out of its catalog: the
	// checks of what was read are reported with them, all at once, with
	// the problems of decoding.
	errs = append(errs, w.loadPriceLists()...)
	errs = append(errs, w.Check()...)
	if len(errs) > 0 {
		return nil, errs
	}
	return w, nil
}

// keyLine is the line of the top-level key of a YAML document (def when
// there is none): the line an entry that is a top-level key starts at.
func keyLine(data []byte, key string, def int) int {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return def
	}
	m := doc.Content[0]
	for k := 0; m.Kind == yaml.MappingNode && k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value == key {
			return m.Content[k].Line
		}
	}
	return def
}

func lineOf(err error) int {
	var l int
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		fmt.Sscanf(s[i:], "line %d", &l)
	}
	return l
}

// setFile says which file every entry came from and returns the problems
// their decoding recorded.
func setFile(w *World, f string) Errors {
	var errs Errors
	w.eachWhere(func(at *Where) {
		at.File = f
		for _, msg := range at.problems {
			errs = append(errs, decodeProblem(f, msg))
		}
		at.problems = nil
	})
	return errs
}

// eachWhere calls fn with the position of every entry and sub-entry.
func (w *World) eachWhere(fn func(*Where)) {
	if w.Hub != nil {
		w.Hub.eachWhere(fn)
	}
	for _, p := range w.Publishers {
		fn(&p.Where)
		p.SFTP.eachWhere(fn)
	}
	for _, r := range w.Resellers {
		fn(&r.Where)
		fn(&r.VAT.Where)
		fn(&r.Payment.Where)
		fn(&r.FileFormat.Where)
		r.SFTP.eachWhere(fn)
		if r.Billing != nil {
			fn(&r.Billing.Where)
			r.Billing.Party.eachWhere(fn)
		}
	}
	for _, c := range w.Catalogs {
		fn(&c.Where)
		for _, it := range c.Items {
			fn(&it.Where)
			for _, p := range it.Prices {
				fn(&p.Where)
			}
		}
	}
}

// decodeProblem turns "line N: field: text" into a located problem.
func decodeProblem(f, msg string) *FieldError {
	line := lineOf(errors.New(msg))
	field, text := "yaml", msg
	if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
		text = rest
		if name, r, ok := strings.Cut(rest, ": "); ok && !strings.Contains(name, " ") {
			field, text = name, r
		}
	}
	return &FieldError{Where: Where{File: f, Line: line}, Field: field, Msg: text}
}

// Check validates the world as a whole and returns every problem.
func (w *World) Check() Errors {
	var errs Errors
	bad := func(at Where, field, format string, args ...any) {
		errs = append(errs, &FieldError{at.of(field), field, fmt.Sprintf(format, args...)})
	}
	w.checkTexts(bad)
	ids := map[string]Where{}
	checkID := func(at Where, id string) {
		if !validID(id) {
			bad(at, "id", "%q must be 2–63 characters of a-z, 0-9 and -, starting with a letter or digit", id)
		}
		if prev, dup := ids[id]; dup {
			bad(at, "id", "%q is already used at %s (publisher and reseller ids share one space)", id, prev)
		}
		ids[id] = at
	}
	pubs := map[string]bool{}
	fps := map[string]Where{}
	for _, p := range w.Publishers {
		checkID(p.Where, p.ID)
		p.SFTP.check(bad, fps)
		if _, _, err := p.Fulfillment.Spec(DefaultFulfillment); err != nil {
			bad(p.Where, "fulfillment", "%v", err)
		}
		pubs[p.ID] = true
		if p.Name == "" {
			bad(p.Where, "name", "is required")
		}
	}
	w.checkHub(bad)
	res := map[string]*Reseller{}
	mandates := map[string]string{} // mandate id → its reseller
	for _, r := range w.Resellers {
		checkID(r.Where, r.ID)
		res[r.ID] = r
		r.check(bad)
		// Banks compare mandate references without case or surrounding
		// spaces.
		if m := strings.ToUpper(strings.TrimSpace(r.Payment.MandateID)); r.Payment.Method == "wallet" && m != "" {
			if other, dup := mandates[m]; dup {
				bad(r.Payment.Where, "payment.mandate_id", "%q is %s's mandate too: a mandate reference is unique for its creditor (the hub), whatever its case", r.Payment.MandateID, other)
			}
			mandates[m] = r.ID
		}
		r.SFTP.check(bad, fps)
		r.checkBilling(bad, w.Hub)
	}
	catIDs := map[string]Where{}
	skus := map[string]Where{}
	for _, c := range w.Catalogs {
		key := c.Reseller + "/" + c.ID
		if prev, dup := catIDs[key]; dup {
			bad(c.Where, "id", "catalog %q of %s is already declared at %s", c.ID, c.Reseller, prev)
		}
		catIDs[key] = c.Where
		r, ok := res[c.Reseller]
		if !ok {
			bad(c.Where, "reseller", "unknown reseller %q", c.Reseller)
		} else if c.Currency != r.Currency {
			bad(c.Where, "currency", "%q differs from the reseller's billing currency %s", c.Currency, r.Currency)
		}
		if c.ID == "" || c.Name == "" {
			bad(c.Where, "id", "a catalog needs an id and a name")
		}
		for _, it := range c.Items {
			k := c.Reseller + "/" + it.SKU
			if prev, dup := skus[k]; dup {
				bad(it.Where, "sku", "%q is already in a catalog of %s at %s", it.SKU, c.Reseller, prev)
			}
			skus[k] = it.Where
			it.check(bad, pubs)
		}
	}
	return errs
}

// checkHub reports the problems of the hub, and its absence when a
// reseller is OEM-eligible: the hub is the seller on its invoices.
func (w *World) checkHub(bad badFunc) {
	wallet := slices.ContainsFunc(w.Resellers, func(r *Reseller) bool { return r.Payment.Method == "wallet" })
	if w.Hub != nil {
		w.Hub.check(bad, wallet)
		return
	}
	if i := slices.IndexFunc(w.Resellers, func(r *Reseller) bool { return r.OEMEligible }); i >= 0 {
		r := w.Resellers[i]
		bad(r.Where.of("oem_eligible"), "hub", "is required: %s is OEM-eligible and the hub is the seller on its invoices; "+
			"add a top-level hub (legal_name, address, vat_id, sepa_creditor_id, collection_account) as in samples/config/hub.yaml", r.ID)
	}
}

func (r *Reseller) check(bad badFunc) {
	if r.Name == "" {
		bad(r.Where, "name", "is required")
	}
	checkName(bad, r.Where, "name", r.Name, 200)
	checkName(bad, r.VAT.Where, "vat.mention", r.VAT.Mention, 300)
	cur, err := money.ParseCurrency(r.Currency)
	if err != nil {
		bad(r.Where, "currency", "%q is not a supported ISO 4217 currency", r.Currency)
	} else if _, err := money.ParseMinor(r.CreditLimit, cur); err != nil || strings.HasPrefix(r.CreditLimit, "-") {
		bad(r.Where, "credit_limit", "%q must be a non-negative amount in %s, e.g. \"25000.00\"", r.CreditLimit, cur)
	}
	switch r.VAT.Treatment {
	case "standard":
		d, err := decimal.Parse(r.VAT.Rate)
		if err != nil || d.Sign() <= 0 || d.Cmp(decimal.MustNew(100, 0)) >= 0 {
			bad(r.VAT.Where, "vat.rate", "%q must be a percentage between 0 and 100 for standard VAT", r.VAT.Rate)
		}
	case "reverse_charge", "exempt":
		if r.VAT.Rate != "" && r.VAT.Rate != "0" {
			bad(r.VAT.Where, "vat.rate", "must be empty or 0 for %s", r.VAT.Treatment)
		}
		if r.VAT.Mention == "" {
			bad(r.VAT.Where, "vat.mention", "the invoice mention is required for %s (e.g. \"Autoliquidation\")", r.VAT.Treatment)
		}
	default:
		bad(r.Where, "vat.treatment", "%q must be standard, reverse_charge or exempt", r.VAT.Treatment)
	}
	switch r.Payment.Method {
	case "wallet":
		switch {
		case !sepa.ValidIBAN(r.Payment.IBAN):
			bad(r.Payment.Where, "payment.iban", "%q is not a valid IBAN (checksum mod 97)", r.Payment.IBAN)
		case !sepa.InSEPA(r.Payment.IBAN):
			bad(r.Payment.Where, "payment.iban", "%q is not an account in the SEPA area: a SEPA direct debit cannot collect from it (use method: pay_now)", r.Payment.IBAN)
		}
		if r.Currency != "" && r.Currency != "EUR" {
			bad(r.Payment.Where, "payment.method", "wallet is a SEPA direct debit, in euros only, and %s bills in %s: use method: pay_now", r.ID, r.Currency)
		}
		if r.Payment.BIC != "" && !sepa.ValidBIC(r.Payment.BIC) {
			bad(r.Payment.Where, "payment.bic", "%q is not a valid BIC (8 or 11 characters)", r.Payment.BIC)
		}
		switch m := r.Payment.MandateID; {
		case m == "" || len(m) > 35:
			bad(r.Payment.Where, "payment.mandate_id", "is required for wallet resellers (at most 35 characters)")
		case !sepa.ValidID(m):
			bad(r.Payment.Where, "payment.mandate_id", "%q has characters a SEPA mandate reference may not have: letters A–Z, digits and / - ? : ( ) . , ' + and inner spaces only (no accents, no slash or space at either end)", m)
		}
		if n := r.Payment.PrenotificationDays; n != nil && (*n < 1 || *n > DefaultPrenotificationDays) {
			bad(r.Payment.Where, "payment.prenotification_days", "%d must be 1 to 14 days: the rulebook's 14, or fewer as the reseller's contract says", *n)
		}
		if _, err := civil.ParseISO(r.Payment.MandateSignedOn); err != nil {
			bad(r.Payment.Where, "payment.mandate_signed_on", "%q must be the mandate signature date as YYYY-MM-DD", r.Payment.MandateSignedOn)
		}
	case "pay_now":
		if r.Payment.IBAN != "" || r.Payment.MandateID != "" || r.Payment.PrenotificationDays != nil {
			bad(r.Payment.Where, "payment", "pay_now resellers have no IBAN, mandate or pre-notification; did you mean method: wallet?")
		}
	default:
		bad(r.Where, "payment.method", "%q must be wallet or pay_now", r.Payment.Method)
	}
	if err := r.FileFormat.Format().Check(); err != nil {
		at := r.FileFormat.Where
		if at.Line == 0 {
			at = r.Where
		}
		bad(at, "file_format", "%v", err)
	}
	if r.FilePolicy != "reject_file" && r.FilePolicy != "accept_valid_rows" {
		bad(r.Where, "file_policy", "%q must be reject_file or accept_valid_rows", r.FilePolicy)
	}
}

func (it *Item) check(bad func(Where, string, string, ...any), pubs map[string]bool) {
	if it.SKU == "" || len(it.SKU) > 64 {
		bad(it.Where, "sku", "is required (at most 64 characters)")
	}
	if it.Name == "" {
		bad(it.Where, "name", "is required")
	}
	checkName(bad, it.Where, "name", it.Name, 200)
	if !pubs[it.Publisher] {
		bad(it.Where, "publisher", "unknown publisher %q", it.Publisher)
	}
	if it.PublisherSKU == "" {
		bad(it.Where, "publisher_sku", "is required: it is what the publisher activates")
	}
	switch it.BillingModel {
	case "one_time", "monthly", "usage":
	default:
		bad(it.Where, "billing_model", "%q must be one_time, monthly or usage", it.BillingModel)
	}
	if it.TaxCategory == "" {
		it.TaxCategory = "standard"
	}
	if len(it.Prices) == 0 {
		bad(it.Where, "prices", "an item needs at least one price version")
	}
	type span struct {
		from, to civil.Date
		open     bool
		at       Where
	}
	var spans []span
	for _, p := range it.Prices {
		pv, err := p.Parse()
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				bad(p.Where, fe.Field, "%s", fe.Msg)
			}
			continue
		}
		if !pv.ResalePrice.IsZero() && pv.ResalePrice.Cmp(pv.BuyPrice) < 0 {
			bad(p.Where, "resale_price", "%s is below the buy price %s", p.ResalePrice, p.BuyPrice)
		}
		spans = append(spans, span{pv.ValidFrom, pv.ValidTo, !pv.HasValidTo, p.Where})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	for i := 1; i < len(spans); i++ {
		prev := spans[i-1]
		if prev.open || prev.to >= spans[i].from {
			bad(spans[i].at, "valid_from", "price version starting %s overlaps the one at %s", spans[i].from, prev.at)
		}
	}
}

// PriceVersion is a parsed price.
type PriceVersion struct {
	ValidFrom   civil.Date
	ValidTo     civil.Date
	HasValidTo  bool
	BuyPrice    decimal.Decimal
	ResalePrice decimal.Decimal
	ShareKind   string // percent or absolute
	ShareValue  decimal.Decimal
}

// Parse checks and converts a price version.
func (p *Price) Parse() (PriceVersion, error) {
	var v PriceVersion
	fail := func(field, format string, args ...any) (PriceVersion, error) {
		return v, &FieldError{p.Where.of(field), field, fmt.Sprintf(format, args...)}
	}
	var err error
	if v.ValidFrom, err = civil.ParseISO(p.ValidFrom); err != nil {
		return fail("valid_from", "%q must be a date YYYY-MM-DD", p.ValidFrom)
	}
	if p.ValidTo != "" {
		if v.ValidTo, err = civil.ParseISO(p.ValidTo); err != nil {
			return fail("valid_to", "%q must be a date YYYY-MM-DD (inclusive) or absent", p.ValidTo)
		}
		v.HasValidTo = true
		if v.ValidTo < v.ValidFrom {
			return fail("valid_to", "%s is before valid_from %s", p.ValidTo, p.ValidFrom)
		}
	}
	if v.BuyPrice, err = parsePrice(p.BuyPrice); err != nil {
		return fail("buy_price", "%q must be a non-negative decimal with at most 6 places", p.BuyPrice)
	}
	if p.ResalePrice != "" {
		if v.ResalePrice, err = parsePrice(p.ResalePrice); err != nil {
			return fail("resale_price", "%q must be a non-negative decimal with at most 6 places", p.ResalePrice)
		}
	}
	s := strings.TrimSpace(p.PublisherShare)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		v.ShareKind = "percent"
		if v.ShareValue, err = parsePrice(strings.TrimSpace(pct)); err != nil || v.ShareValue.Cmp(decimal.MustNew(100, 0)) > 0 {
			return fail("publisher_share", "%q must be a percentage between 0%% and 100%%", p.PublisherShare)
		}
	} else {
		v.ShareKind = "absolute"
		if v.ShareValue, err = parsePrice(s); err != nil {
			return fail("publisher_share", "%q must be an amount per unit (\"20.93\") or a percentage (\"70%%\")", p.PublisherShare)
		}
		if v.ShareValue.Cmp(v.BuyPrice) > 0 {
			return fail("publisher_share", "%s per unit is more than the buy price %s", p.PublisherShare, p.BuyPrice)
		}
	}
	return v, nil
}

func parsePrice(s string) (decimal.Decimal, error) {
	d, err := decimal.Parse(s)
	if err != nil || d.Sign() < 0 || strings.ContainsAny(s, "eE") {
		return d, errors.New("bad price")
	}
	if d.Scale() > 6 && !d.Trunc(6).Equal(d) {
		return d, errors.New("too many places")
	}
	return d.Trim(0), nil
}

func validID(id string) bool {
	if len(id) < 2 || len(id) > 63 {
		return false
	}
	for i, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0:
		default:
			return false
		}
	}
	return true
}
