package ubl

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// PeppolCheck checks the Peppol BIS Billing 3.0 rules that the CEN rules do
// not contain and that are simple enough to be sure of here (the rule texts
// are at docs.peppol.eu/poacc/billing/3.0): R002, R003, R004, R007, R008,
// R010, R020, R053, R061, R120 and PEPPOL-COMMON-R043. It returns one
// message per broken rule and place, each starting with the rule's id;
// none when the document keeps them all.
func PeppolCheck(data []byte) []string {
	root, err := readUBL(data)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	fail := func(id, format string, args ...any) {
		out = append(out, id+": "+fmt.Sprintf(format, args...))
	}
	const peppol = "PEPPOL-EN16931-"

	seller := root.path("AccountingSupplierParty", "Party")
	buyer := root.path("AccountingCustomerParty", "Party")
	country := func(p *node) string { return p.path("PostalAddress", "Country", "IdentificationCode").value() }
	if n := len(root.all("Note")); n > 1 && (country(seller) != "DE" || country(buyer) != "DE") {
		fail(peppol+"R002", "no more than one note is allowed on document level; there are %d", n)
	}
	if root.path("BuyerReference").value() == "" && root.path("OrderReference", "ID").value() == "" {
		fail(peppol+"R003", "a buyer reference or purchase order reference MUST be provided")
	}
	if c := root.path("CustomizationID").value(); !strings.HasPrefix(c, CustomizationID) {
		fail(peppol+"R004", "specification identifier MUST start with %s, not %q", CustomizationID, c)
	}
	if p := root.path("ProfileID").value(); !peppolProfile.MatchString(p) {
		fail(peppol+"R007", "business process MUST be in the format urn:fdc:peppol.eu:2017:poacc:billing:NN:1.0, not %q", p)
	}
	root.walk(func(n *node) {
		if len(n.kids) == 0 && strings.TrimSpace(n.text) == "" {
			fail(peppol+"R008", "document MUST not contain empty elements: %s is empty", n.where())
		}
	})
	for _, e := range []struct {
		id, who string
		party   *node
	}{{"R010", "buyer", buyer}, {"R020", "seller", seller}} {
		ep := e.party.path("EndpointID")
		if ep.value() == "" || ep.attr("schemeID") == "" {
			fail(peppol+e.id, "the %s electronic address MUST be provided, with its scheme (EndpointID schemeID)", e.who)
		}
	}
	if n := len(root.filter("TaxTotal", func(t *node) bool { return t.path("TaxSubtotal") != nil })); n != 1 {
		fail(peppol+"R053", "only one tax total with tax subtotals MUST be provided; there are %d", n)
	}
	for _, pm := range root.all("PaymentMeans") {
		if c := pm.path("PaymentMeansCode").value(); (c == "49" || c == "59") && pm.path("PaymentMandate", "ID").value() == "" {
			fail(peppol+"R061", "mandate reference MUST be provided for direct debit (payment means %s)", c)
		}
	}
	for _, ln := range append(root.all("InvoiceLine"), root.all("CreditNoteLine")...) {
		if msg := lineNet(ln); msg != "" {
			fail(peppol+"R120", "line %s: %s", ln.path("ID").value(), msg)
		}
	}
	root.walk(func(n *node) {
		if n.attr("schemeID") == "0208" && (n.name.Local == "EndpointID" || n.name.Local == "CompanyID" || (n.name.Local == "ID" && n.parent.name.Local == "PartyIdentification")) && !belgianEnterprise(n.value()) {
			fail("PEPPOL-COMMON-R043", "%s %q is not a Belgian enterprise number (10 digits, mod 97)", n.where(), n.value())
		}
	})
	return out
}

var peppolProfile = regexp.MustCompile(`urn:fdc:peppol\.eu:2017:poacc:billing:[0-9]{2}:1\.0`)

// lineNet checks R120: the line net is quantity × price / base quantity +
// line charges - line allowances, within 0.02. It says what is wrong, or "".
func lineNet(ln *node) string {
	q := ln.path("InvoicedQuantity")
	if q == nil {
		q = ln.path("CreditedQuantity")
	}
	nums := map[string]string{"line net": ln.path("LineExtensionAmount").value(), "quantity": q.value(), "price": ln.path("Price", "PriceAmount").value(), "base quantity": "1"}
	if b := ln.path("Price", "BaseQuantity"); b != nil {
		nums["base quantity"] = b.value()
	}
	v := map[string]*big.Rat{}
	for name, s := range nums {
		x, ok := decimal(s)
		if !ok {
			return fmt.Sprintf("the %s %q is not a number", name, s)
		}
		v[name] = x
	}
	if v["base quantity"].Sign() <= 0 {
		return "the base quantity is not positive"
	}
	want := new(big.Rat).Quo(v["price"], v["base quantity"])
	want.Mul(want, v["quantity"])
	for _, ac := range ln.all("AllowanceCharge") {
		a, ok := decimal(ac.path("Amount").value())
		if !ok {
			return fmt.Sprintf("an allowance or charge amount %q is not a number", ac.path("Amount").value())
		}
		if ci := ac.path("ChargeIndicator").value(); ci == "true" || ci == "1" {
			want.Add(want, a)
		} else {
			want.Sub(want, a)
		}
	}
	diff := new(big.Rat).Sub(v["line net"], want)
	if diff.Abs(diff).Cmp(big.NewRat(2, 100)) > 0 {
		return fmt.Sprintf("net %s is not quantity %s × price %s / base quantity %s (±allowances, charges) within 0.02: %s",
			nums["line net"], nums["quantity"], nums["price"], nums["base quantity"], want.FloatString(6))
	}
	return ""
}

// xsDecimal is the lexical space of xs:decimal.
var xsDecimal = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)

func decimal(s string) (*big.Rat, bool) {
	if !xsDecimal.MatchString(s) {
		return nil, false
	}
	return new(big.Rat).SetString(s)
}

// belgianEnterprise checks a Belgian enterprise number: 10 digits, the last
// two 97 less the first eight mod 97.
func belgianEnterprise(s string) bool {
	if len(s) != 10 || strings.Trim(s, "0123456789") != "" {
		return false
	}
	n, _ := strconv.Atoi(s[:8])
	check, _ := strconv.Atoi(s[8:])
	return 97-n%97 == check
}

// node is an element of the document, as PeppolCheck reads it.
type node struct {
	name   xml.Name
	attrs  []xml.Attr
	text   string
	kids   []*node
	parent *node
}

func parseTree(data []byte) (*node, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var root, cur *node
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name, attrs: t.Attr, parent: cur}
			if cur == nil && root != nil {
				return nil, errors.New("more than one root element")
			}
			if cur == nil {
				root = n
			} else {
				cur.kids = append(cur.kids, n)
			}
			cur = n
		case xml.EndElement:
			cur = cur.parent
		case xml.CharData:
			if cur != nil {
				cur.text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no element")
	}
	return root, nil
}

// path follows children by local name (the first of each); nil when one is missing.
func (n *node) path(names ...string) *node {
	for _, name := range names {
		if n == nil {
			return nil
		}
		var next *node
		for _, k := range n.kids {
			if k.name.Local == name {
				next = k
				break
			}
		}
		n = next
	}
	return n
}

// all are the children named name.
func (n *node) all(name string) []*node {
	return n.filter(name, func(*node) bool { return true })
}

func (n *node) filter(name string, keep func(*node) bool) []*node {
	if n == nil {
		return nil
	}
	var out []*node
	for _, k := range n.kids {
		if k.name.Local == name && keep(k) {
			out = append(out, k)
		}
	}
	return out
}

// value is the element's text, trimmed; "" for a missing element.
func (n *node) value() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.text)
}

func (n *node) attr(name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return strings.TrimSpace(a.Value)
		}
	}
	return ""
}

// walk calls f on n and every element below it, in document order.
func (n *node) walk(f func(*node)) {
	f(n)
	for _, k := range n.kids {
		k.walk(f)
	}
}

// where is the element's path from the root, by local names.
func (n *node) where() string {
	if n.parent == nil {
		return "/" + n.name.Local
	}
	return n.parent.where() + "/" + n.name.Local
}
