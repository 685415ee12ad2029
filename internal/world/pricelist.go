package world

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// loadPriceLists fills the items of each catalog that names a price list
// (a CSV or XLSX beside its YAML file), read like its reseller's own files.
// Every problem is a FieldError at the price list's line and column.
func (w *World) loadPriceLists() Errors {
	var errs Errors
	bad := func(at Where, field, format string, args ...any) {
		errs = append(errs, &FieldError{at, field, fmt.Sprintf(format, args...)})
	}
	res := map[string]*Reseller{}
	for _, r := range w.Resellers {
		res[r.ID] = r
	}
	for _, c := range w.Catalogs {
		if c.PriceList == "" {
			continue
		}
		if len(c.Items) > 0 {
			bad(c.Where, "price_list", "a catalog takes its items either from price_list or from items, not both")
			continue
		}
		r, ok := res[c.Reseller]
		if !ok {
			continue // Check reports the unknown reseller
		}
		path := c.PriceList
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(c.File), path)
		}
		items, probs, err := readPriceList(path, r.FileFormat.Format())
		if err != nil {
			bad(c.Where, "price_list", "%v", err)
			continue
		}
		for _, p := range probs {
			at := Where{File: path, Line: p.Pos.Line}
			if p.Pos.Sheet != "" {
				at.File += "[" + p.Pos.Sheet + "]"
			}
			field := p.Pos.Column
			if field == "" {
				field = "price_list"
			}
			bad(at, field, "%s: %s", p.Code, p.Message)
		}
		c.Items = items
	}
	return errs
}

// readPriceList reads a price list's rows into items, one per SKU in the
// order first seen, each row a price version. Problems (unreadable values,
// an SKU whose item columns differ from row to row) come back located;
// warnings (an unknown column) are not problems here.
func readPriceList(path string, format schema.Format) ([]*Item, []*problem.Problem, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	r, err := tabular.Open(f, format.ReaderOptions(path, tabular.Limits{}))
	if err != nil {
		return nil, nil, err
	}
	var probs []*problem.Problem
	add := func(p *problem.Problem) {
		if p.Severity != problem.Warning {
			probs = append(probs, p)
		}
	}
	header, err := r.Next()
	if err != nil {
		var p *problem.Problem
		if errors.As(err, &p) || errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: no header line: it needs sku, publisher, publisher_sku, billing_model, valid_from, buy_price and publisher_share", path)
		}
		return nil, nil, err
	}
	layout := schema.MustLoad("price_list")
	bind, hp := layout.Bind(header.Fields, problem.Position{File: path, Sheet: r.Sheet(), Line: header.Line})
	for _, p := range append(r.Notes(), hp...) {
		add(p)
	}
	if len(probs) > 0 {
		return nil, probs, nil
	}
	bind.Locale = format.Locale()
	if wb, ok := r.(interface{ Date1904() bool }); ok {
		bind.Locale.Workbook, bind.Locale.Date1904 = true, wb.Date1904()
	}
	col := func(name string) int { return layout.Index(name) }
	vals := bind.NewValues()
	bySKU := map[string]*Item{}
	var items []*Item
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var p *problem.Problem
		if errors.As(err, &p) {
			add(p)
			if p.Scope == problem.ScopeFile {
				break
			}
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if !bind.Check(row, vals, add) {
			continue
		}
		at := Where{File: path, Line: row.Line}
		if r.Sheet() != "" {
			at.File += "[" + r.Sheet() + "]"
		}
		str := func(name string) string { return vals.Str[col(name)] }
		share := str("publisher_share")
		pct := strings.HasSuffix(share, "%")
		if n, ok := bind.Locale.Number(strings.TrimSpace(strings.TrimSuffix(share, "%"))); ok {
			share = n
			if pct {
				share += "%"
			}
		}
		price := &Price{Where: at, ValidFrom: vals.Date[col("valid_from")].String(), BuyPrice: vals.Dec[col("buy_price")].String(), PublisherShare: share}
		if vals.Present[col("valid_to")] {
			price.ValidTo = vals.Date[col("valid_to")].String()
		}
		if vals.Present[col("resale_price")] {
			price.ResalePrice = vals.Dec[col("resale_price")].String()
		}
		it := &Item{Where: at, SKU: str("sku"), Name: str("name"), Publisher: str("publisher"), PublisherSKU: str("publisher_sku"),
			BillingModel: strings.ToLower(str("billing_model")), TaxCategory: strings.ToLower(str("tax_category"))}
		first, seen := bySKU[it.SKU]
		if !seen {
			bySKU[it.SKU] = it
			items = append(items, it)
			first = it
		} else if differs := first.differs(it); differs != "" {
			add(problem.New(schema.CodeInvalidValue, problem.Position{File: path, Sheet: r.Sheet(), Line: row.Line, Column: differs}, "", schema.ErrFormat,
				"%s of %s differs from line %d: the rows of one SKU are its price versions and repeat its item columns", differs, it.SKU, first.Line))
			continue
		}
		first.Prices = append(first.Prices, price)
	}
	return items, probs, nil
}

// differs names the first item column in which b differs from a.
func (a *Item) differs(b *Item) string {
	switch {
	case a.Name != b.Name:
		return "name"
	case a.Publisher != b.Publisher:
		return "publisher"
	case a.PublisherSKU != b.PublisherSKU:
		return "publisher_sku"
	case a.BillingModel != b.BillingModel:
		return "billing_model"
	case a.TaxCategory != b.TaxCategory:
		return "tax_category"
	}
	return ""
}
