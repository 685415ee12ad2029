package world_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

func TestSampleConfigLoads(t *testing.T) {
	t.Parallel()
	w, err := world.Load(pgtest.SampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Resellers) != 4 || len(w.Publishers) != 2 || len(w.Catalogs) != 3 {
		t.Fatalf("%d resellers %d publishers %d catalogs", len(w.Resellers), len(w.Publishers), len(w.Catalogs))
	}
}

func TestBadConfigNamesFileLineAndField(t *testing.T) {
	t.Parallel()
	dir := configDir(t, map[string]string{"a.yaml": `publishers:
  - id: pub
    name: Pub
    fulfillment: {every: 15m, schedule: "0 * * * *"}
  - id: pub2
    name: Pub 2
    fulfillment: {schedule: "0 6 * * *", timezone: Mars/Olympus}
resellers:
  - id: Telco_FR
    name: Bad
    oem_eligible: true
    currency: EUR
    vat: {treatment: standard, rate: "120"}
    credit_limit: "10.001"
    payment: {method: wallet, iban: FR7630006000011234567890188, mandate_id: M1, mandate_signed_on: 2026-13-01}
    file_policy: reject_file
catalogs:
  - id: c
    reseller: nobody
    name: C
    currency: EUR
    items:
      - sku: S
        name: S
        publisher: ghost
        publisher_sku: G
        billing_model: yearly
        prices:
          - {valid_from: 2026-01-01, buy_price: "10", publisher_share: "110%"}
          - {valid_from: 2026-03-01, valid_to: 2026-02-01, buy_price: "10", publisher_share: "5"}
`})
	_, err := world.Load(dir)
	var errs world.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("%v", err)
	}
	// Each problem at its field's line (issue 13), not the entry's "- id".
	want := []string{
		"a.yaml:9: id:", "a.yaml:13: vat.rate:", "a.yaml:14: credit_limit:", "a.yaml:15: payment.iban:", "a.yaml:15: payment.mandate_signed_on:",
		"a.yaml:19: reseller: unknown reseller", "a.yaml:25: publisher: unknown publisher", "a.yaml:27: billing_model:",
		"a.yaml:29: publisher_share:", "a.yaml:30: valid_to:",
		"a.yaml:4: fulfillment: every and schedule both set", `a.yaml:7: fulfillment: timezone "Mars/Olympus" is not an IANA time zone`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	writeFiles(t, dir, map[string]string{"a.yaml": "publishers:\n  - id: pub\n    nmae: Pub\n"})
	_, err = world.Load(dir)
	if err == nil || !strings.Contains(err.Error(), `a.yaml:3: nmae: unknown field (known: fulfillment, id, name, sftp)`) {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestApplyIsIdempotentAndReportsChanges(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	res, err := apply(t, pool, pgtest.SampleConfig)
	if err != nil || len(res.Changes) != 37 {
		t.Fatalf("%v %v", res, err)
	}
	res, err = apply(t, pool, pgtest.SampleConfig)
	if err != nil || len(res.Changes) != 0 || res.Unchanged != 37 {
		t.Fatalf("second apply: %v %v", res.Changes, err)
	}
	dir := sampleEdited(t, func(s string) string {
		s = strings.Replace(s, `credit_limit: "5000.00"`, `credit_limit: "7500"`, 1)
		return strings.Replace(s, `buy_price: "0.0215"`, `buy_price: "0.021500"`, 1) // same value, other spelling
	})
	res, err = apply(t, pool, dir)
	if err != nil || len(res.Changes) != 1 || res.Changes[0].String() != "~ reseller telco-fr: credit_limit 5000.00 → 7500.00" {
		t.Fatalf("%v %v", res.Changes, err)
	}
	// A key taken out of the config is revoked: keys are authorisations.
	b, err := os.ReadFile(filepath.Join(dir, "resellers.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"resellers.yaml": strings.Replace(string(b), "- name: clerk", "- name: clerk2", 1)})
	res, err = apply(t, pool, dir)
	if err != nil || len(res.Changes) != 2 || !strings.HasPrefix(res.Changes[0].String(), "- sftp key telco-fr/clerk:") || !strings.HasPrefix(res.Changes[1].String(), "+ sftp key telco-fr/clerk2:") {
		t.Fatalf("%v %v", res.Changes, err)
	}
	// Applying another world leaves the keys of the partners it does not
	// name (issue 13: the bench world revoked telco-fr's demo key).
	if _, err := apply(t, pool, filepath.Join(pgtest.Samples, "bench", "config")); err != nil {
		t.Fatal(err)
	}
	var keys int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM partner_keys WHERE partner_id = 'telco-fr'`).Scan(&keys)
	if keys == 0 {
		t.Fatal("applying the bench world revoked telco-fr's keys")
	}
}

func TestApplyRefusesToDropAUsedPrice(t *testing.T) {
	t.Parallel()
	pool := appliedSample(t)
	ctx := context.Background()
	// A declaration priced with the January version.
	_, err := pool.Exec(ctx, `INSERT INTO declarations (file_id, line, reseller_id, declaration_id, action, customer_id, sku, publisher_id, billing_model,
		quantity, start_date, price_valid_from, currency, amount, publisher_amount, hub_amount, entry_id)
		VALUES (1, 2, 'telco-fr', 'X', 'NEW', 'C', 'TFR-AV-1Y', 'secureco', 'one_time', 1, '2026-02-01', '2026-01-01', 'EUR', 0, 0, 0, 1)`)
	if err != nil {
		t.Fatal(err)
	}
	dir := sampleEdited(t, func(s string) string {
		return strings.Replace(s, `{valid_from: 2026-01-01, valid_to: 2026-06-30, buy_price: "24.90", resale_price: "39.99", publisher_share: "70%"}`,
			`{valid_from: 2026-02-01, valid_to: 2026-06-30, buy_price: "24.90", resale_price: "39.99", publisher_share: "70%"}`, 1)
	})
	if _, err := apply(t, pool, dir); err == nil || !strings.Contains(err.Error(), "declarations were priced with it") {
		t.Fatalf("%v", err)
	}
	var n int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM price_versions WHERE sku = 'TFR-AV-1Y' AND valid_from = '2026-02-01'`).Scan(&n)
	if n != 0 {
		t.Fatal("a failed apply changed something")
	}

}

// A reseller that has declared keeps its currency: its declarations,
// accounts and documents are in it, and a run bills only those in the
// reseller's currency (from an outside trial: apply took EUR → USD). One
// that has declared nothing may still change it.
func TestApplyRefusesToChangeADeclaredCurrency(t *testing.T) {
	t.Parallel()
	pool := appliedSample(t)
	ctx := context.Background()
	toUSD := func(reseller string) string {
		return sampleEdited(t, func(s string) string {
			i := strings.Index(s, "id: "+reseller)
			if i < 0 {
				return strings.ReplaceAll(s, "currency: EUR", "currency: USD") // the catalogs of both
			}
			j := i + strings.Index(s[i:], "currency: EUR")
			return s[:j] + "currency: USD" + s[j+len("currency: EUR"):]
		}, "hub.yaml", "publishers.yaml", "resellers.yaml")
	}
	_, err := pool.Exec(ctx, `INSERT INTO declarations (file_id, line, reseller_id, declaration_id, action, customer_id, sku, publisher_id, billing_model,
		quantity, start_date, price_valid_from, currency, amount, publisher_amount, hub_amount, entry_id)
		VALUES (1, 2, 'mvno-be', 'X', 'NEW', 'C', 'S', 'secureco', 'one_time', 1, '2026-02-01', '2026-01-01', 'EUR', 0, 0, 0, 1)`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = apply(t, pool, toUSD("mvno-be"))
	if !errors.Is(err, store.ErrCurrencyFixed) || !strings.Contains(err.Error(), "reseller mvno-be has declarations in EUR: its currency cannot become USD") {
		t.Fatalf("mvno-be to USD: %v", err)
	}
	var cur string
	_ = pool.QueryRow(ctx, `SELECT currency FROM resellers WHERE partner_id = 'mvno-be'`).Scan(&cur)
	if cur != "EUR" {
		t.Fatalf("mvno-be's currency is %s after a refused apply", cur)
	}
	if _, err := apply(t, pool, toUSD("isp-de")); err != nil {
		t.Fatalf("isp-de, which has declared nothing, to USD: %v", err)
	}
}

// TestPriceListIsReadInTheResellersDialect: cable-be's catalog comes from a
// price list in its own dialect (Windows-1252, semicolons, two title lines,
// decimal commas, dd/mm/yyyy), the same as the items YAML would give.
func TestPriceListIsReadInTheResellersDialect(t *testing.T) {
	t.Parallel()
	w, err := world.Load(pgtest.SampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range w.Catalogs {
		if c.Reseller != "cable-be" {
			continue
		}
		for _, it := range c.Items {
			for _, p := range it.Prices {
				got = append(got, fmt.Sprintf("%s %s %s %s %s %s %s|%s|%s|%s|%s %s", it.SKU, it.Name, it.Publisher, it.PublisherSKU, it.BillingModel, it.TaxCategory,
					p.ValidFrom, p.ValidTo, p.BuyPrice, p.ResalePrice, p.PublisherShare, p.Where))
			}
		}
	}
	want := []string{
		"CBE-AV-1Y Antivirus 1 an secureco SC-AV-STD-12M one_time standard 2026-01-01||23.50|34.99|70% ../../samples/config/be-2026_tarifs.csv:4",
		"CBE-BKP-M Sauvegarde mensuelle cloudvault CV-BACKUP-100G monthly standard 2026-01-01||4.20||2.90 ../../samples/config/be-2026_tarifs.csv:5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestBadPriceListNamesLineAndColumn: every problem of a price list is
// located in it, by line and column, and nothing is loaded.
func TestBadPriceListNamesLineAndColumn(t *testing.T) {
	t.Parallel()
	dir := sampleEdited(t, nil, "hub.yaml", "publishers.yaml", "resellers.yaml")
	writeFiles(t, dir, map[string]string{"catalogs.yaml": `catalogs:
  - id: de-list
    reseller: isp-de
    name: Preisliste
    currency: EUR
    price_list: preise.csv
`, "preise.csv": "sku,name,publisher,publisher_sku,billing_model,valid_from,valid_to,buy_price,publisher_share\n" +
		"A-1,Antivirus,secureco,SC-1,one_time,2026-01-01,2026-06-30,22.00,70%\n" +
		"A-1,Antivirus,secureco,SC-1,one_time,2026-06-01,,23.00,70%\n" + // overlaps the row above
		"A-1,Anti-virus,secureco,SC-1,one_time,2027-01-01,,24.00,70%\n" + // another name for the same SKU
		"B-1,Backup,nobody,NB-1,monthly,2026-01-01,,4.2x,2.90\n" + // unknown publisher, bad price
		"C-1,Cloud,cloudvault,CV-1,weekly,31.02.2026,,1.00,60%\n"}) // bad model, bad date
	_, err := world.Load(dir)
	if err == nil {
		t.Fatal("a bad price list loaded")
	}
	for _, want := range []string{
		"preise.csv:3: valid_from: price version starting 2026-06-01 overlaps the one at " + filepath.Join(dir, "preise.csv") + ":2",
		"preise.csv:4: name: INVALID_VALUE: name of A-1 differs from line 2",
		"preise.csv:5: buy_price: INVALID_DECIMAL",
		"preise.csv:6: valid_from: INVALID_DATE",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no %q in:\n%v", want, err)
		}
	}
}

// TestPriceListWorkbook: a price list saved from Excel, with date cells,
// number cells for prices and a title row, reads like its CSV.
func TestPriceListWorkbook(t *testing.T) {
	t.Parallel()
	dir := sampleEdited(t, func(s string) string { return strings.Replace(s, "skip_lines: 2", "skip_lines: 1", 1) },
		"hub.yaml", "publishers.yaml", "resellers.yaml")
	writeFiles(t, dir, map[string]string{"catalogs.yaml": `catalogs:
  - id: be-2026
    reseller: cable-be
    name: Tarifs
    currency: EUR
    price_list: tarifs.xlsx
`})
	book := excelize.NewFile()
	sh := "Sheet1"
	_ = book.SetSheetRow(sh, "A1", &[]any{"Grille tarifaire 2026"})
	_ = book.SetSheetRow(sh, "A2", &[]any{"article", "libelle", "publisher", "publisher_sku", "billing_model", "valid_from", "valid_to", "buy_price", "resale_price", "share"})
	_ = book.SetSheetRow(sh, "A3", &[]any{"CBE-AV-1Y", "Antivirus 1 an", "secureco", "SC-AV-STD-12M", "one_time",
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC), 23.5, 34.99, "70%"})
	_ = book.SetSheetRow(sh, "A4", &[]any{"CBE-AV-1Y", "Antivirus 1 an", "secureco", "SC-AV-STD-12M", "one_time",
		time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), nil, 24.5, nil, "70%"})
	if err := book.SaveAs(filepath.Join(dir, "tarifs.xlsx")); err != nil {
		t.Fatal(err)
	}
	w, err := world.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	it := w.Catalogs[0].Items[0]
	got := fmt.Sprint(it.SKU, " ", it.BillingModel)
	for _, p := range it.Prices {
		got += fmt.Sprintf(" [%s %s %s %s %s]", p.ValidFrom, p.ValidTo, p.BuyPrice, p.ResalePrice, p.PublisherShare)
	}
	if got != "CBE-AV-1Y one_time [2026-01-01 2026-06-30 23.5 34.99 70%] [2026-07-01  24.5  70%]" {
		t.Fatal(got)
	}
}

// TestSFTPProblemsNameTheFile: a problem in a partner's sftp section said
// ":11: schedule: …", without its file.
func TestSFTPProblemsNameTheFile(t *testing.T) {
	t.Parallel()
	dir := configDir(t, map[string]string{"a.yaml": `publishers:
  - id: pub
    name: Pub
    sftp:
      remote:
        address: sftp.pub.example:22
        host_key: "SHA256:x"
        user: u
        push: {dir: /in, every: 1m, timezone: Europe/Paris}
`})
	_, err := world.Load(dir)
	if err == nil || !strings.Contains(err.Error(), "a.yaml:9: schedule: timezone goes with schedule") {
		t.Fatalf("%v", err)
	}
}

// TestEveryProblemOfEveryFileAtOnce (issue 13): five mistakes across two
// files, two of them unknown keys, are all reported by one apply, each at
// its field; nothing stops at the first unknown key.
func TestEveryProblemOfEveryFileAtOnce(t *testing.T) {
	t.Parallel()
	dir := configDir(t, map[string]string{"a.yaml": `publishers:
  - id: pub
    nmae: Pub
    name: Pub
resellers:
  - id: r1
    name: R1
    oem_eligible: true
    curency: EUR
    currency: EUR
    vat: {treatment: standard, rate: "20"}
    credit_limit: "100.00"
    payment: {method: pay_now}
    file_policy: reject_file
`, "b.yaml": `catalogs:
  - id: c
    reseller: r1
    name: C
    currency: EUR
    items:
      - sku: S
        name: S
        publisher: pub
        publisher_sku: P
        billing_model: yearly
        tax_cat: standard
        prices:
          - {valid_from: 2026-01-01, buy_price: "ten", publisher_share: "50%"}
`})
	_, err := world.Load(dir)
	if err == nil {
		t.Fatal("loaded")
	}
	for _, w := range []string{"a.yaml:3: nmae: unknown field", "a.yaml:9: curency: unknown field", "b.yaml:12: tax_cat: unknown field",
		"b.yaml:11: billing_model:", "b.yaml:14: buy_price:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%s", w, err)
		}
	}
}

// Issue 12, 1b: sftp.upload.complete is close (the default) or done_file,
// and is kept in the settings that the SFTP server and intake read.
func TestUploadCompletionSetting(t *testing.T) {
	t.Parallel()
	base, err := os.ReadFile(filepath.Join(pgtest.Samples, "bench", "config", "bench.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	anchor := "    file_policy: accept_valid_rows\n"
	load := func(upload string) (*world.World, error) {
		y := strings.Replace(string(base), anchor, anchor+"    sftp: {upload: "+upload+"}\n", 1)
		return world.Load(configDir(t, map[string]string{"bench.yaml": y}))
	}
	if _, err := load("{complete: when_done}"); err == nil || !strings.Contains(err.Error(), "complete: must be close or done_file") {
		t.Fatalf("a bad completion protocol: %v", err)
	}
	w, err := load("{complete: done_file}")
	if err != nil {
		t.Fatal(err)
	}
	st, err := exchange.ParseSettings(w.Resellers[0].SFTP.JSON())
	if err != nil || !st.Upload.DoneFile() {
		t.Fatalf("settings %+v %v", st, err)
	}
}

// TestSettingsChangeSaysWhichField (outside trial of issue 13): a change
// inside a partner's settings names the field and its values, never a
// secret's: not "sftp (updated) → (updated)".
func TestSettingsChangeSaysWhichField(t *testing.T) {
	t.Parallel()
	pool := appliedSample(t)
	dir := sampleEdited(t, func(s string) string {
		return strings.Replace(s, `fulfillment: {schedule: "0 6-20 * * 1-5", timezone: Europe/Paris}`, `fulfillment: {every: 2m}`, 1)
	})
	res, err := apply(t, pool, dir)
	if err != nil || len(res.Changes) != 1 {
		t.Fatalf("%v %v", res, err)
	}
	got := res.Changes[0].String()
	for _, want := range []string{`sftp.fulfillment.Every (none) → "2m"`, `sftp.fulfillment.Schedule "0 6-20 * * 1-5" → (none)`} {
		if !strings.Contains(got, want) {
			t.Fatalf("change %q lacks %q", got, want)
		}
	}
}
