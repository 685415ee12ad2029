package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"gopkg.in/yaml.v3"

	"github.com/clearhouse/clearhouse/internal/fulfil"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/ledger"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// setup gives a test its own database with the sample world applied, and
// checks the ledger's invariants when the test ends.
func setup(t *testing.T, configDirs ...string) (*ingest.Service, *pgxpool.Pool) {
	t.Helper()
	if len(configDirs) == 0 {
		configDirs = []string{pgtest.SampleConfig}
	}
	pool := pgtest.WithWorld(t, configDirs...)
	data := t.TempDir()
	svc := ingest.New(pool, data)
	t.Cleanup(svc.Close)
	t.Cleanup(func() {
		v, err := ledger.Check(context.Background(), store.New(pool))
		if err != nil || len(v) > 0 {
			t.Errorf("ledger invariants after the test: %v %v", v, err)
		}
	})
	return svc, pool
}

func drop(reseller, name string) string {
	return filepath.Join(pgtest.Samples, "drops", reseller, name)
}

func ingestFile(t *testing.T, svc *ingest.Service, reseller, path string) *ingest.Outcome {
	t.Helper()
	o, err := svc.Ingest(context.Background(), ingest.Request{Partner: reseller, Path: path})
	if err != nil {
		t.Fatalf("ingest %s: %v", path, err)
	}
	return o
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func balance(t *testing.T, pool *pgxpool.Pool, code string) int64 {
	t.Helper()
	var b int64
	if err := pool.QueryRow(context.Background(), `SELECT coalesce(sum(balance), 0)::bigint FROM accounts WHERE code = $1`, code).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func codesByLine(o *ingest.Outcome) map[int][]string {
	m := map[int][]string{}
	for _, p := range o.Problems {
		m[p.Pos.Line] = append(m[p.Pos.Line], string(p.Code))
	}
	return m
}

// TestSampleWorld runs every sample drop the way `make run` does and pins
// each outcome: the samples are the product's documentation.
func TestSampleWorld(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	want := []struct {
		reseller, file, status string
		rows, accepted         int
		amount                 int64
	}{
		{"telco-fr", "01_customers_2026-01.csv", "ACCEPTED", 3, 3, 0},
		{"telco-fr", "02_declarations_2026-01.csv", "ACCEPTED", 4, 4, 12110},
		{"telco-fr", "03_declarations_2026-07.csv", "ACCEPTED", 3, 3, 2690},
		{"telco-fr", "04_declarations_2026-01_resent.csv", "DUPLICATE", 0, 0, 0},
		{"telco-fr", "05_declarations_2026-08.csv", "REJECTED", 3, 0, 0},
		{"isp-de", "01_sales_2026-03.csv", "PARTIAL", 27, 5, 6900},
		{"isp-de", "02_sales_2026-04.csv", "PARTIAL", 4, 2, 400},
		{"isp-de", "03_sales_header_only.csv", "REJECTED", 0, 0, 0},
		{"isp-de", "04_sales_missing_column.csv", "REJECTED", 0, 0, 0},
		{"isp-de", "05_sales_empty.csv", "REJECTED", 0, 0, 0},
		{"isp-de", "06_customers_2026-05.csv", "PARTIAL", 3, 2, 0},
		{"mvno-be", "01_declarations_2026-02.csv", "REJECTED", 0, 0, 0},
		// Dialects: declared (semicolon, Windows-1252, decimal comma, dd/mm/yyyy, title lines)…
		{"cable-be", "01_ventes_2026-09.csv", "PARTIAL", 4, 3, 9400},
		// …and sniffed: UTF-16LE tab-separated, pipe, old-Mac CR line ends.
		{"isp-de", "07_clients_2026-06.txt", "ACCEPTED", 2, 2, 0},
		{"isp-de", "08_sales_2026-06_pipe.csv", "ACCEPTED", 2, 2, 2300},
		{"telco-fr", "06_declarations_2026-09_mac.csv", "ACCEPTED", 2, 2, 2690},
		// A workbook as Excel writes it: sheet "Ventes", date cells, headers by alias.
		{"telco-fr", "07_declarations_2026-10.xlsx", "ACCEPTED", 3, 3, 5918},
		// A Belgian clerk's workbook: title rows, a date typed as text, "23,50" as text.
		{"cable-be", "02_ventes_2026-10.xlsx", "ACCEPTED", 3, 3, 7050},
		// Customer ids typed as numbers in Excel: accepted, with a NUMBER_CELL warning each.
		{"isp-de", "09_customers_2026-07.xlsx", "ACCEPTED", 3, 3, 0},
		// Excel's "CSV UTF-8": a byte order mark, CRLF, quotes around a comma, doubled quotes and
		// a line break inside a note, and an empty row of commas at the end.
		{"isp-de", "10_sales_2026-08_excel.csv", "ACCEPTED", 2, 2, 4400},
		// A damaged export (a stray quote, a NUL byte, a pasted 66 KB note) and a
		// workbook with an error cell: the row-level problems of reading.
		{"isp-de", "11_sales_2026-09_damaged.csv", "PARTIAL", 5, 1, 2200},
		{"isp-de", "12_sales_2026-10.xlsx", "PARTIAL", 2, 1, 2200},
	}
	codes := map[string]bool{}
	for _, w := range want {
		o := ingestFile(t, svc, w.reseller, drop(w.reseller, w.file))
		if o.Status != w.status || o.Rows != w.rows || o.Accepted != w.accepted || o.Amount != w.amount {
			t.Errorf("%s/%s: %s rows %d accepted %d amount %d; want %s %d %d %d", w.reseller, w.file, o.Status, o.Rows, o.Accepted, o.Amount, w.status, w.rows, w.accepted, w.amount)
		}
		if _, err := os.Stat(o.AckPath); err != nil {
			t.Errorf("%s: no ack: %v", w.file, err)
		}
		for _, p := range o.Problems {
			codes[string(p.Code)] = true
		}
	}
	// telco-fr: 24.90 + 3×24.90 + 1000×0.0215 (January) + 26.90 (July price).
	if got := balance(t, pool, "reseller:telco-fr:unbilled"); got != 14800+2690+5918 {
		t.Errorf("telco-fr unbilled %d, want 23408", got)
	}
	if got := balance(t, pool, "reseller:isp-de:unbilled"); got != 7300+2300+4400+2200+2200 {
		t.Errorf("isp-de unbilled %d, want 18400", got)
	}
	// The README's claim: together, the sample drops raise every row-level
	// code of schemas/problems.yaml but AMOUNT_TOO_LARGE, which needs a
	// unit price of tens of millions (TestAmountTooLarge).
	var doc struct {
		Problems map[string]struct {
			Scope string `yaml:"scope"`
		} `yaml:"problems"`
	}
	b, err := os.ReadFile("../../schemas/problems.yaml")
	if err != nil || yaml.Unmarshal(b, &doc) != nil {
		t.Fatal(err)
	}
	var missing []string
	for code, p := range doc.Problems {
		if p.Scope == "row" && !codes[code] && code != "AMOUNT_TOO_LARGE" {
			missing = append(missing, code)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no sample drop raises the row-level codes %v", missing)
	}
	var names []string
	rows, _ := pool.Query(context.Background(), `SELECT name FROM customers WHERE reseller_id = 'isp-de' AND customer_id IN ('K-160', 'K-161') ORDER BY customer_id`)
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		names = append(names, n)
	}
	if fmt.Sprint(names) != `[Vogel, Ute Volker "VoBo" Bosch]` {
		t.Errorf("Excel CSV UTF-8 names %q", names)
	}
	var name string
	_ = pool.QueryRow(context.Background(), `SELECT name FROM customers WHERE reseller_id = 'isp-de' AND customer_id = 'K-151'`).Scan(&name)
	if name != "Grete Weiß" {
		t.Errorf("UTF-16 customer name %q", name)
	}
	// cable-be's rejects come back in its own format: semicolons, Windows-1252.
	raw, _ := os.ReadFile(filepath.Join(svc.Outbox("cable-be"), "01_ventes_2026-09.csv.rejects.csv"))
	rejects, _ := charmap.Windows1252.NewDecoder().Bytes(raw)
	if !strings.Contains(string(rejects), "7;INVALID_DECIMAL;unit_price;23.50;unit_price must be a number written like 12,50;BE-2026-0904;NEW;B-103;zoe@example.be;Zoë Maes") ||
		bytes.Contains(raw, []byte("Zoë")) {
		t.Errorf("rejects not in cable-be's format (semicolons, Windows-1252) or not located:\n%s", rejects)
	}
	var state string
	_ = pool.QueryRow(context.Background(), `SELECT state FROM subscriptions WHERE subscription_id = 'FR-2026-0002'`).Scan(&state)
	if state != "terminated" {
		t.Errorf("FR-2026-0002 is %q after its TERMINATE", state)
	}
	// Every row-level and header code a reseller can trigger is shown by a sample.
	for _, c := range []string{"REQUIRED", "INVALID_EMAIL", "INVALID_COUNTRY", "INVALID_LANGUAGE", "INVALID_INTEGER", "OUT_OF_RANGE",
		"INVALID_DATE", "INVALID_DECIMAL", "INVALID_CURRENCY", "INVALID_VALUE", "TOO_LONG", "UNKNOWN_SKU", "NO_PRICE_ON_DATE",
		"PRICE_MISMATCH", "CURRENCY_MISMATCH", "ACTION_NOT_ALLOWED", "END_BEFORE_START", "DUPLICATE_IN_FILE", "DUPLICATE_DECLARATION",
		"SUBSCRIPTION_NOT_FOUND", "SUBSCRIPTION_NOT_ACTIVE", "SUBSCRIPTION_MISMATCH", "CUSTOMER_UNKNOWN", "CREDIT_LIMIT_EXCEEDED",
		"EXTRA_VALUES", "UNKNOWN_COLUMN", "MISSING_COLUMN", "NO_DATA_ROWS", "EMPTY_FILE", "RESELLER_NOT_ELIGIBLE"} {
		if !codes[c] {
			t.Errorf("no sample drop exercises %s", c)
		}
	}
}

func TestRejectsFileLocatesEveryProblemAndIsResendable(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	o := ingestFile(t, svc, "isp-de", drop("isp-de", "01_sales_2026-03.csv"))
	got := codesByLine(o)
	want := map[int]string{1: "UNKNOWN_COLUMN", 5: "REQUIRED", 6: "INVALID_EMAIL", 7: "INVALID_COUNTRY INVALID_LANGUAGE", 8: "INVALID_INTEGER",
		9: "OUT_OF_RANGE", 10: "INVALID_DATE", 11: "INVALID_DECIMAL", 12: "INVALID_CURRENCY", 13: "INVALID_VALUE", 14: "TOO_LONG",
		15: "UNKNOWN_SKU", 16: "NO_PRICE_ON_DATE", 17: "PRICE_MISMATCH", 18: "CURRENCY_MISMATCH", 19: "ACTION_NOT_ALLOWED",
		20: "END_BEFORE_START", 21: "DUPLICATE_IN_FILE", 22: "SUBSCRIPTION_NOT_FOUND", 23: "SUBSCRIPTION_MISMATCH",
		24: "CUSTOMER_UNKNOWN", 25: "CREDIT_LIMIT_EXCEEDED", 26: "EXTRA_VALUES"}
	for line, codes := range want {
		if strings.Join(got[line], " ") != codes {
			t.Errorf("line %d: %v, want %s", line, got[line], codes)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems on lines %v", got)
	}
	raw, err := os.ReadFile(o.RejectsPath)
	if err != nil {
		t.Fatal(err)
	}
	// UTF-8 with a byte order mark (Excel opens it right); one row per
	// line with errors, a line's further problem on its own row below it;
	// the warning of line 1 (the unknown column) is in the warnings file.
	rejects, ok := bytes.CutPrefix(raw, []byte("\uFEFF"))
	if !ok {
		t.Fatalf("no byte order mark: %q", raw[:10])
	}
	lines := strings.Split(strings.TrimSpace(string(rejects)), "\n")
	if len(lines) != 1+len(want)-1+1 || !strings.HasPrefix(lines[0], "line,problem_code,problem_column,problem_value,problem_message,declaration_id,action") {
		t.Fatalf("rejects:\n%s", rejects)
	}
	if !strings.Contains(string(rejects), "\n7,INVALID_LANGUAGE,language,xx-123456789,language must be a language tag such as fr or en-GB\n") {
		t.Errorf("line 7's second problem is not on its own row:\n%s", rejects)
	}
	warnings, _ := os.ReadFile(o.WarningsPath)
	if !strings.Contains(string(warnings), "1,UNKNOWN_COLUMN,notes,notes,") || strings.Contains(string(rejects), "UNKNOWN_COLUMN") {
		t.Errorf("the warning is not in the warnings file only:\n%s\n%s", warnings, rejects)
	}
	if !strings.Contains(string(rejects), "17,PRICE_MISMATCH,unit_price,19.99,the catalog price of IDE-AV-1Y on 2026-03-06 is 22.00,DE-0016,NEW,K-113") {
		t.Errorf("rejects row 17 lacks the original values:\n%s", rejects)
	}
	// The clerk fixes a rejected row in the rejects file and sends it back as
	// is: the rejects columns are ignored.
	var row17 string
	for _, l := range lines {
		if strings.HasPrefix(l, "17,") {
			row17 = l
		}
	}
	fixed := lines[0] + "\n" + strings.Replace(row17, ",19.99,EUR", ",22.00,EUR", 1) + "\n"
	o2 := ingestFile(t, svc, "isp-de", writeFile(t, "resend.csv", fixed))
	if o2.Status != ingest.Accepted || o2.Accepted != 1 || o2.Amount != 2200 || len(o2.Problems) != 1 || o2.Problems[0].Code != "UNKNOWN_COLUMN" {
		t.Fatalf("resent rejects row: %+v %v", o2, o2.Problems)
	}
}

func TestDuplicateFileIsAckedAndNeverPostedTwice(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	first := ingestFile(t, svc, "telco-fr", drop("telco-fr", "02_declarations_2026-01.csv"))
	before := balance(t, pool, "reseller:telco-fr:unbilled")
	second := ingestFile(t, svc, "telco-fr", drop("telco-fr", "02_declarations_2026-01.csv"))
	if second.Status != ingest.Duplicate || second.DuplicateOf != first.FileID || second.ExitCode() != 2 {
		t.Fatalf("second upload: %+v", second)
	}
	if after := balance(t, pool, "reseller:telco-fr:unbilled"); after != before {
		t.Fatalf("balance moved on a duplicate: %d → %d", before, after)
	}
	if n := count(t, pool, `SELECT count(*) FROM declarations`); n != 4 {
		t.Fatalf("%d declarations", n)
	}
	ack, _ := os.ReadFile(second.AckPath)
	if !strings.Contains(string(ack), fmt.Sprintf(",DUPLICATE,0,0,0,,,0,%d,", first.FileID)) {
		t.Fatalf("duplicate ack: %s", ack)
	}
}

func TestDuplicateDeclarationInAnotherFileIsRejected(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	ingestFile(t, svc, "telco-fr", drop("telco-fr", "02_declarations_2026-01.csv"))
	// Same declaration_id, other bytes (another date): not a duplicate file, but the id is taken.
	o := ingestFile(t, svc, "telco-fr", writeFile(t, "again.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"FR-2026-0001,NEW,C-1,claire.martin@example.fr,TFR-AV-1Y,1,2026-02-01\n"))
	if o.Status != ingest.Rejected || len(o.Problems) != 1 || o.Problems[0].Code != "DUPLICATE_DECLARATION" || o.Problems[0].Pos.Line != 2 {
		t.Fatalf("%+v %v", o, o.Problems)
	}
}

func TestCreditLimitInFileOrderAndExactlyAtLimit(t *testing.T) {
	t.Parallel()
	cfg := t.TempDir()
	for _, f := range []string{"hub.yaml", "publishers.yaml"} {
		b, _ := os.ReadFile(filepath.Join(pgtest.SampleConfig, f))
		_ = os.WriteFile(filepath.Join(cfg, f), b, 0o644)
	}
	cat, _ := os.ReadFile(filepath.Join(pgtest.SampleConfig, "catalogs.yaml"))
	_ = os.WriteFile(filepath.Join(cfg, "catalogs.yaml"), []byte(strings.Split(string(cat), "  - id: de-main")[0]), 0o644)
	_ = os.WriteFile(filepath.Join(cfg, "resellers.yaml"), []byte(`resellers:
  - id: telco-fr
    name: Tight credit
    oem_eligible: true
    currency: EUR
    vat: {treatment: standard, rate: "20"}
    credit_limit: "49.80"
    payment: {method: pay_now}
    file_policy: accept_valid_rows
    billing:
      address: {street: 5 avenue Félix Faure, city: Lyon, postal_code: "69003", country: FR}
      vat_id: FR14845123785
      emails: [factures@telco-fr.example]
`), 0o644)
	svc, pool := setup(t, cfg)
	h := "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"
	o := ingestFile(t, svc, "telco-fr", writeFile(t, "credit.csv", h+
		"D1,NEW,C1,a@example.fr,TFR-AV-1Y,1,2026-01-10\n"+ // 24.90 → exposure 24.90
		"D2,NEW,C2,b@example.fr,TFR-AV-1Y,2,2026-01-10\n"+ // +49.80 = 74.70 > 49.80: rejected
		"D3,NEW,C3,c@example.fr,TFR-VPN-M,1,2026-01-10\n"+ // first month 3.99 → 28.89
		"D4,NEW,C4,d@example.fr,TFR-BKP-GB,1,2026-01-10\n"+ // usage item with NEW: rejected, adds nothing
		"D5,USAGE,C1,,TFR-BKP-GB,973,2026-01-01\n")) // needs end_date: rejected
	if got := codesByLine(o); strings.Join(got[3], "") != "CREDIT_LIMIT_EXCEEDED" || strings.Join(got[5], "") != "ACTION_NOT_ALLOWED" || strings.Join(got[6], "") != "REQUIRED" || len(got) != 3 {
		t.Fatalf("problems %v", got)
	}
	// After commit only the one-time sale counts (a subscription's fees accrue
	// at billing): 24.90 used, 24.90 left. Exactly the limit is accepted, one cent more is not.
	h2 := h[:len(h)-1] + ",end_date\n"
	o = ingestFile(t, svc, "telco-fr", writeFile(t, "edge.csv", h2+
		"E1,USAGE,C1,,TFR-BKP-GB,1159,2026-01-01,2026-01-31\n"+ // 24.9185 → 24.92 → 49.82: rejected
		"E2,USAGE,C1,,TFR-BKP-GB,1158,2026-01-01,2026-01-31\n")) // 24.897 → 24.90 → 49.80: accepted
	if got := codesByLine(o); strings.Join(got[2], "") != "CREDIT_LIMIT_EXCEEDED" || len(got) != 1 || o.Accepted != 1 {
		t.Fatalf("problems %v", got)
	}
	o = ingestFile(t, svc, "telco-fr", writeFile(t, "cent.csv", h2+"F1,USAGE,C1,,TFR-BKP-GB,1,2026-02-01,2026-02-28\n")) // 0.02 more
	if o.Accepted != 0 || o.Problems[0].Code != "CREDIT_LIMIT_EXCEEDED" {
		t.Fatalf("one cent over the limit: %+v", o)
	}
	if got := balance(t, pool, "reseller:telco-fr:unbilled"); got != 4980 {
		t.Fatalf("unbilled %d, want the limit 4980", got)
	}
}

func TestExactlyAtCreditLimitIsAccepted(t *testing.T) {
	t.Parallel()
	cfg := t.TempDir()
	for _, f := range []string{"hub.yaml", "publishers.yaml", "catalogs.yaml", "be-2026_tarifs.csv"} {
		b, _ := os.ReadFile(filepath.Join(pgtest.SampleConfig, f))
		_ = os.WriteFile(filepath.Join(cfg, f), b, 0o644)
	}
	r, _ := os.ReadFile(filepath.Join(pgtest.SampleConfig, "resellers.yaml"))
	_ = os.WriteFile(filepath.Join(cfg, "resellers.yaml"), []byte(strings.Replace(string(r), `credit_limit: "5000.00"`, `credit_limit: "49.80"`, 1)), 0o644)
	svc, _ := setup(t, cfg)
	h := "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"
	o := ingestFile(t, svc, "telco-fr", writeFile(t, "at.csv", h+"A1,NEW,C1,a@example.fr,TFR-AV-1Y,2,2026-01-10\n"))
	if o.Status != ingest.Accepted || o.Amount != 4980 {
		t.Fatalf("exactly at the limit: %+v %v", o, o.Problems)
	}
	o = ingestFile(t, svc, "telco-fr", writeFile(t, "over.csv", h+"A2,NEW,C1,a@example.fr,TFR-VPN-M,1,2026-01-10\n"))
	if o.Status != ingest.Rejected || o.Problems[0].Code != "CREDIT_LIMIT_EXCEEDED" {
		t.Fatalf("over the limit (reject_file): %+v %v", o, o.Problems)
	}
}

func TestPriceVersionByDate(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	h := "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"
	o := ingestFile(t, svc, "telco-fr", writeFile(t, "p.csv", h+
		"P1,NEW,C1,a@example.fr,TFR-AV-1Y,1,2026-06-30\n"+
		"P2,NEW,C1,a@example.fr,TFR-AV-1Y,1,2026-07-01\n"))
	if o.Status != ingest.Accepted {
		t.Fatal(o.Problems)
	}
	rows, _ := pool.Query(context.Background(), `SELECT declaration_id, amount, publisher_amount, hub_amount, unit_price::text, price_valid_from::text FROM declarations ORDER BY line`)
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var id, price, from string
		var a, p, h int64
		err := r.Scan(&id, &a, &p, &h, &price, &from)
		return fmt.Sprintf("%s %d %d %d %s %s", id, a, p, h, price, from), err
	})
	if err != nil {
		t.Fatal(err)
	}
	// 70% of 24.90 = 17.43; of 26.90 = 18.83.
	want := []string{"P1 2490 1743 747 24.900000 2026-01-01", "P2 2690 1883 807 26.900000 2026-07-01"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%v\nwant %v", got, want)
	}
}

// TestFailureAtAnyPointOfPostingLeavesNothing injects a failure at every
// step of posting a file that creates a customer, terminates a subscription
// and posts amounts, and checks that none of its effects remain; then the
// same file goes through once the failure is gone.
func TestFailureAtAnyPointOfPostingLeavesNothing(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"copy", "after-copy", "after-entry", "after-subscriptions", "after-customers", "after-outbox", "before-commit"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			svc, pool := setup(t)
			ingestFile(t, svc, "telco-fr", drop("telco-fr", "02_declarations_2026-01.csv"))
			snapshot := func() string {
				var s string
				err := pool.QueryRow(context.Background(), `SELECT format('%s|%s|%s|%s|%s|%s|%s',
					(SELECT count(*) FROM declarations), (SELECT count(*) FROM journal_entries), (SELECT count(*) FROM postings),
					(SELECT string_agg(customer_id || email, ',' ORDER BY customer_id) FROM customers),
					(SELECT string_agg(declaration_id || sub_state, ',') FROM declarations WHERE sub_state IS NOT NULL),
					(SELECT count(*) FROM fulfillment_outbox), (SELECT string_agg(code || balance, ',' ORDER BY code) FROM accounts))`).Scan(&s)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
			before := snapshot()
			injected := errors.New("boom")
			svc.FailAt = func(p string) error {
				if p == point {
					return injected
				}
				return nil
			}
			_, err := svc.Ingest(context.Background(), ingest.Request{Partner: "telco-fr", Path: drop("telco-fr", "03_declarations_2026-07.csv")})
			if !errors.Is(err, injected) {
				t.Fatalf("want the injected failure, got %v", err)
			}
			if after := snapshot(); after != before {
				t.Fatalf("a failed file left effects:\nbefore %s\nafter  %s", before, after)
			}
			var state, lastErr string
			_ = pool.QueryRow(context.Background(), `SELECT state, coalesce(last_error, '') FROM files WHERE name = '03_declarations_2026-07.csv'`).Scan(&state, &lastErr)
			if state != "received" || !strings.Contains(lastErr, "boom") {
				t.Fatalf("file state %q, last_error %q", state, lastErr)
			}
			if _, err := os.Stat(filepath.Join(svc.Outbox("telco-fr"), "03_declarations_2026-07.csv.ack.csv")); !os.IsNotExist(err) {
				t.Fatal("an ack was written for a file that was not posted")
			}
			svc.FailAt = nil
			o := ingestFile(t, svc, "telco-fr", drop("telco-fr", "03_declarations_2026-07.csv"))
			if o.Status != ingest.Accepted || o.Amount != 2690 {
				t.Fatalf("replay after the failure: %+v %v", o, o.Problems)
			}
			if n := count(t, pool, `SELECT count(*) FROM files WHERE name = '03_declarations_2026-07.csv'`); n != 1 {
				t.Fatalf("the replay made %d file records, want 1 (resumed)", n)
			}
		})
	}
}

func TestRejectFilePolicyPostsNothingAndMayBeResent(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	o := ingestFile(t, svc, "telco-fr", drop("telco-fr", "05_declarations_2026-08.csv"))
	if o.Status != ingest.Rejected || o.ExitCode() != 2 || count(t, pool, `SELECT count(*) FROM declarations`) != 0 || count(t, pool, `SELECT count(*) FROM customers`) != 0 {
		t.Fatalf("%+v", o)
	}
	// Nothing was posted, so the same bytes may come again (after the catalog was fixed, say).
	o2 := ingestFile(t, svc, "telco-fr", drop("telco-fr", "05_declarations_2026-08.csv"))
	if o2.Status != ingest.Rejected || o2.FileID == o.FileID {
		t.Fatalf("resend of a rejected file: %+v", o2)
	}
}

func TestTooManyProblemsRejectsTheFileWhole(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	svc.MaxProblems = 3
	var b strings.Builder
	b.WriteString("declaration_id,action,customer_id,customer_email,sku,quantity,start_date\nOK1,NEW,K1,k@example.de,IDE-AV-1Y,1,2026-03-01\n")
	for i := range 10 {
		fmt.Fprintf(&b, "B%d,NEW,K1,k@example.de,NOPE,1,2026-03-01\n", i)
	}
	o := ingestFile(t, svc, "isp-de", writeFile(t, "many.csv", b.String()))
	first := o.Problems[0]
	if o.Status != ingest.Rejected || len(o.Problems) != 4 || first.Code != problem.CodeTooMany || count(t, pool, `SELECT count(*) FROM declarations`) != 0 {
		t.Fatalf("%+v %v", o, o.Problems)
	}
}

func TestConcurrentFilesOfOneResellerNeverDoublePost(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	h := "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"
	var files []string
	for i := range 4 {
		var b strings.Builder
		b.WriteString(h)
		for j := range 50 { // every file declares the same ids, with its own dates
			fmt.Fprintf(&b, "X%d,NEW,K%d,k%d@example.de,IDE-AV-1Y,1,2026-03-%02d\n", j, j, j, i+1)
		}
		files = append(files, writeFile(t, fmt.Sprintf("c%d.csv", i), b.String()))
	}
	var wg sync.WaitGroup
	outs := make([]*ingest.Outcome, len(files))
	errs := make([]error, len(files))
	for i, f := range files {
		wg.Go(func() {
			outs[i], errs[i] = svc.Ingest(context.Background(), ingest.Request{Partner: "isp-de", Path: f})
		})
	}
	wg.Wait()
	accepted := 0
	for i := range files {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		accepted += outs[i].Accepted
	}
	// The credit line (400.00) caps how many of the 50 × 22.00 go through, once.
	if accepted != 18 || count(t, pool, `SELECT count(*) FROM declarations`) != 18 {
		t.Fatalf("accepted %d over 4 racing files", accepted)
	}
}

func TestValidateWritesNothingAndAgreesWithIngest(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	ingestFile(t, svc, "isp-de", drop("isp-de", "01_sales_2026-03.csv"))
	filesBefore := count(t, pool, `SELECT count(*) FROM files`)
	v, err := svc.Validate(context.Background(), ingest.Request{Partner: "isp-de", Path: drop("isp-de", "02_sales_2026-04.csv")})
	if err != nil {
		t.Fatal(err)
	}
	if count(t, pool, `SELECT count(*) FROM files`) != filesBefore {
		t.Fatal("validate wrote a file record")
	}
	o := ingestFile(t, svc, "isp-de", drop("isp-de", "02_sales_2026-04.csv"))
	if v.Status != o.Status || v.Accepted != o.Accepted || v.Amount != o.Amount || fmt.Sprint(codesByLine(v)) != fmt.Sprint(codesByLine(o)) {
		t.Fatalf("validate %+v\ningest %+v", v, o)
	}
}

func TestLedgerCheckCatchesTampering(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	ingestFile(t, svc, "telco-fr", drop("telco-fr", "02_declarations_2026-01.csv"))
	ctx := context.Background()
	tamper := `UPDATE declarations SET amount = amount + 1, hub_amount = hub_amount + 1 WHERE declaration_id = 'FR-2026-0001'`
	if _, err := pool.Exec(ctx, tamper); store.Constraint(err) != "declarations_frozen" {
		t.Fatalf("a posted amount was updated: %v", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM declarations`); store.Constraint(err) != "ledger_immutable" {
		t.Fatalf("posted declarations were deleted: %v", err)
	}
	// Someone with the rights to switch the guard off: the check still sees it.
	if _, err := pool.Exec(ctx, `ALTER TABLE declarations DISABLE TRIGGER declarations_frozen; `+tamper); err != nil {
		t.Fatal(err)
	}
	v, err := ledger.Check(ctx, store.New(pool))
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	for _, x := range v {
		checks = append(checks, x.Check)
	}
	sort.Strings(checks)
	// The unbilled balance no longer matches what is posted either.
	if strings.Join(checks, ";") != "declaration detail sums to its entry's postings;declaration detail sums to its entry's postings;file totals equal its declarations;unbilled is what is posted and not invoiced" {
		t.Fatalf("violations %v", v)
	}
	// Put it back so the end-of-test check passes.
	_, _ = pool.Exec(ctx, `UPDATE declarations SET amount = amount - 1, hub_amount = hub_amount - 1 WHERE declaration_id = 'FR-2026-0001'`)
	_, _ = pool.Exec(ctx, `ALTER TABLE declarations ENABLE TRIGGER declarations_frozen`)
}

func TestCustomersFileUpserts(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	ingestFile(t, svc, "isp-de", drop("isp-de", "01_sales_2026-03.csv"))
	o := ingestFile(t, svc, "isp-de", drop("isp-de", "06_customers_2026-05.csv"))
	if o.Status != ingest.Partial || strings.Join(codesByLine(o)[4], "") != "DUPLICATE_IN_FILE" {
		t.Fatalf("%+v %v", o, o.Problems)
	}
	var email, name string
	_ = pool.QueryRow(context.Background(), `SELECT email, name FROM customers WHERE reseller_id = 'isp-de' AND customer_id = 'K-100'`).Scan(&email, &name)
	if email != "anna.schmidt@example.de" || name != "Anna Schmidt" {
		t.Fatalf("K-100: %s %s", email, name)
	}
}

func TestFormulaLikeValuesAreNeutralisedInRejects(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	o := ingestFile(t, svc, "isp-de", writeFile(t, "f.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"=HYPERLINK(\"http://x\"),NEW,@K1,k@example.de,+IDE,-1,2026-03-01\n"))
	b, _ := os.ReadFile(o.RejectsPath)
	for _, cell := range strings.Split(strings.Split(string(b), "\n")[1], ",") {
		if c := strings.Trim(cell, `"`); c != "" && strings.ContainsRune("=+-@", rune(c[0])) {
			t.Fatalf("formula-like cell %q in rejects:\n%s", cell, b)
		}
	}
}

func TestUnknownResellerIsRefusedBeforeAnythingIsRecorded(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	_, err := svc.Ingest(context.Background(), ingest.Request{Partner: "nobody", Path: drop("telco-fr", "02_declarations_2026-01.csv")})
	if !errors.Is(err, ingest.ErrUnknownPartner) || count(t, pool, `SELECT count(*) FROM files`) != 0 {
		t.Fatalf("%v", err)
	}
}

// Hostile input: each gets a clear, located, file-level answer; nothing is
// posted; the raw bytes are archived all the same.
func TestHostileFilesAreRefusedClearlyAndArchived(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	huge := filepath.Join(t.TempDir(), "huge_line.csv")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("declaration_id,action,customer_id,sku,quantity,start_date\n")
	chunk := []byte(strings.Repeat("x", 1<<20))
	for range 200 { // a 200 MB line
		_, _ = f.Write(chunk)
	}
	f.Close()
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i/13)
	}
	cases := []struct {
		name, path string
		code       problem.Code
	}{
		{"huge line", huge, "LINE_TOO_LONG"},
		{"garbage", writeFile(t, "garbage.csv", string(garbage)), "INVALID_ENCODING"},
		{"NUL bytes", writeFile(t, "nul.csv", strings.Repeat("\x00", 5000)), "INVALID_ENCODING"},
		{"zip renamed csv", writeFile(t, "sales.csv", "PK\x03\x04\x14\x00\x00\x00\x08\x00"+string(garbage[:2000])), "UNSUPPORTED_FORMAT"},
		{"xls", writeFile(t, "old.xls", "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"+string(garbage[:2000])), "UNSUPPORTED_FORMAT"},
		{"unclosed quote", writeFile(t, "quote.csv", "declaration_id,action,customer_id,sku,quantity,start_date\n\"D1,NEW,C1,IDE-AV-1Y,1,2026-03-01\n"), "CSV_SYNTAX"},
	}
	for _, c := range cases {
		o := ingestFile(t, svc, "isp-de", c.path)
		if o.Status != ingest.Rejected || len(o.Problems) == 0 {
			t.Errorf("%s: %+v", c.name, o)
			continue
		}
		found := false
		for _, p := range o.Problems {
			found = found || (p.Code == c.code && p.Message != "" && p.Pos.File != "")
		}
		if !found {
			t.Errorf("%s: problems %v, want %s", c.name, o.Problems, c.code)
		}
		if _, err := os.Stat(o.RejectsPath); err != nil {
			t.Errorf("%s: no rejects file: %v", c.name, err)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM declarations`); n != 0 {
		t.Fatalf("%d declarations posted from hostile files", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM files WHERE state = 'rejected'`); n != len(cases) {
		t.Fatalf("%d files recorded rejected", n)
	}
	archived, _ := filepath.Glob(filepath.Join(svc.Archive.Dir, "sha256", "*", "*"))
	if len(archived) != len(cases) {
		t.Fatalf("%d files archived, want %d", len(archived), len(cases))
	}
}

// A workbook ingested from another sheet than the declared one gets its
// rejects from that same sheet.
func TestSheetChosenAtIngestIsTheOneInRejects(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	src := filepath.Join("..", "..", "..", "shared", "external", "xlsx", "csvkit_sheets.xlsx")
	if _, err := os.Stat(src); err != nil {
		t.Skip("../shared/external not present")
	}
	o, err := svc.Ingest(context.Background(), ingest.Request{Partner: "isp-de", Path: src, Sheet: "data", Kind: "declarations"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != ingest.Rejected || o.Problems[0].Pos.Sheet != "data" {
		t.Fatalf("%+v %v", o, o.Problems)
	}
	b, _ := os.ReadFile(o.RejectsPath)
	if !strings.Contains(string(b), "text,date,integer") { // the header of sheet "data", echoed in the rejects
		t.Fatalf("rejects not read from sheet data:\n%s", b)
	}
}

// History look-ups are skipped only for ids outside the range a reseller
// already used (byte order): duplicates at both ends are still caught.
func TestIDsOutsideTheUsedRangeNeedNoLookupAndDuplicatesAreStillCaught(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	h := "declaration_id,action,customer_id,customer_email,sku,quantity,start_date,end_date\n"
	o := ingestFile(t, svc, "isp-de", writeFile(t, "first.csv", h+
		"M-5,NEW,K-M,m@example.de,IDE-AV-1Y,1,2026-03-01,\n"+
		"M-7,NEW,K-M,m@example.de,IDE-AV-1Y,1,2026-03-01,\n"))
	if o.Status != ingest.Accepted {
		t.Fatal(o.Problems)
	}
	o = ingestFile(t, svc, "isp-de", writeFile(t, "second.csv", h+
		"A-1,NEW,K-A,a@example.de,IDE-AV-1Y,1,2026-03-02,\n"+ // below the range
		"M-5,NEW,K-M,m@example.de,IDE-AV-1Y,1,2026-03-02,\n"+ // the range's first id
		"M-6,NEW,K-M,m@example.de,IDE-AV-1Y,1,2026-03-02,\n"+ // inside, new
		"M-7,NEW,K-M,m@example.de,IDE-AV-1Y,1,2026-03-02,\n"+ // the range's last id
		"m-1,NEW,K-M,m@example.de,IDE-AV-1Y,1,2026-03-02,\n"+ // above in byte order (lower case)
		"U-1,USAGE,K-Z,,IDE-BKP-GB,10,2026-03-01,2026-03-31\n")) // customer above the customers' range
	got := codesByLine(o)
	if strings.Join(got[3], "") != "DUPLICATE_DECLARATION" || strings.Join(got[5], "") != "DUPLICATE_DECLARATION" ||
		strings.Join(got[7], "") != "CUSTOMER_UNKNOWN" || len(got) != 3 || o.Accepted != 3 {
		t.Fatalf("%v accepted %d", got, o.Accepted)
	}
}

// TestOutcomeDoesNotDependOnBatchesOrWorkers checks every sample
// declarations drop row by row through four workers, so that batches come
// back out of order, prescanned (remembering only the ids a file repeats),
// and with the defaults: the problems, in order, and the totals must be the
// same, and so must what ingest then posts.
func TestOutcomeDoesNotDependOnBatchesOrWorkers(t *testing.T) {
	t.Parallel()
	svc, pool := setup(t)
	data := t.TempDir()
	tiny := ingest.New(pool, data)
	tiny.BatchSize, tiny.Workers = 1, 4
	t.Cleanup(tiny.Close)
	// Every CSV prescanned: only the ids it repeats are remembered.
	pre := ingest.New(pool, data)
	pre.BatchSize, pre.PrescanBytes = 3, 1
	t.Cleanup(pre.Close)
	ingestFile(t, svc, "telco-fr", drop("telco-fr", "01_customers_2026-01.csv"))
	ingestFile(t, svc, "telco-fr", drop("telco-fr", "02_declarations_2026-01.csv"))
	files := []struct{ reseller, name string }{
		{"telco-fr", "03_declarations_2026-07.csv"}, {"telco-fr", "05_declarations_2026-08.csv"}, {"telco-fr", "06_declarations_2026-09_mac.csv"},
		{"telco-fr", "07_declarations_2026-10.xlsx"}, {"isp-de", "01_sales_2026-03.csv"}, {"isp-de", "08_sales_2026-06_pipe.csv"},
		{"cable-be", "01_ventes_2026-09.csv"}, {"cable-be", "02_ventes_2026-10.xlsx"}, {"mvno-be", "01_declarations_2026-02.csv"},
		{"isp-de", "06_customers_2026-05.csv"}, {"isp-de", "07_clients_2026-06.txt"},
	}
	text := func(o *ingest.Outcome) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s rows=%d accepted=%d rejected=%d amount=%d\n", o.Status, o.Rows, o.Accepted, o.Rejected, o.Amount)
		for _, p := range o.Problems {
			fmt.Fprintf(&b, "%s %s %s %q %s\n", p.Pos, p.Code, p.Severity, p.Value, p.Message)
		}
		return b.String()
	}
	problems := 0
	for _, f := range files {
		req := ingest.Request{Partner: f.reseller, Path: drop(f.reseller, f.name)}
		want, err := svc.Validate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tiny.Validate(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if text(got) != text(want) {
			t.Errorf("%s, one row per batch on 4 workers:\n%s\ndefaults:\n%s", f.name, text(got), text(want))
		}
		if got, err = pre.Validate(context.Background(), req); err != nil {
			t.Fatal(err)
		} else if text(got) != text(want) {
			t.Errorf("%s, prescanned:\n%s\ndefaults:\n%s", f.name, text(got), text(want))
		}
		problems += len(want.Problems)
		posted := ingestFile(t, tiny, f.reseller, drop(f.reseller, f.name))
		if posted.Accepted != want.Accepted || posted.Amount != want.Amount {
			t.Errorf("%s: ingest one row per batch accepted %d (%d), validate %d (%d)", f.name, posted.Accepted, posted.Amount, want.Accepted, want.Amount)
		}
	}
	if problems < 20 {
		t.Fatalf("only %d problems in the drops: the comparison proves little", problems)
	}
}

// TestPrescannedIngestPostsTheSame ingests the sample drops into two
// databases, once prescanned (every CSV: only repeated ids remembered) and
// once not: the declarations, customers and balances must be the same.
func TestPrescannedIngestPostsTheSame(t *testing.T) {
	t.Parallel()
	files := []struct{ reseller, name string }{
		{"telco-fr", "01_customers_2026-01.csv"}, {"telco-fr", "02_declarations_2026-01.csv"}, {"telco-fr", "03_declarations_2026-07.csv"},
		{"telco-fr", "06_declarations_2026-09_mac.csv"}, {"isp-de", "01_sales_2026-03.csv"}, {"isp-de", "02_sales_2026-04.csv"},
		{"isp-de", "08_sales_2026-06_pipe.csv"}, {"isp-de", "10_sales_2026-08_excel.csv"}, {"cable-be", "01_ventes_2026-09.csv"},
	}
	state := func(prescan int64) string {
		svc, pool := setup(t)
		svc.PrescanBytes = prescan
		for _, f := range files {
			ingestFile(t, svc, f.reseller, drop(f.reseller, f.name))
		}
		var b strings.Builder
		for _, q := range []string{
			`SELECT reseller_id, declaration_id, line, action, customer_id, sku, amount, sub_state, terminated_by FROM declarations ORDER BY 1, 2`,
			`SELECT reseller_id, customer_id, email, name, created_file_id IS NOT NULL FROM customers ORDER BY 1, 2`,
			`SELECT code, balance FROM accounts ORDER BY 1`,
		} {
			rows, err := pool.Query(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				vals, _ := rows.Values()
				fmt.Fprintln(&b, vals...)
			}
			rows.Close()
		}
		return b.String()
	}
	plain, prescanned := state(-1), state(1)
	if plain != prescanned {
		t.Fatalf("prescanned ingest differs:\n%s\nplain:\n%s", prescanned, plain)
	}
	if strings.Count(plain, "\n") < 40 {
		t.Fatalf("too little was posted to compare:\n%s", plain)
	}
}

// TestProgressCoversThePrescan: a prescanned file is read twice, and the
// progress shown goes to the end of both passes.
func TestProgressCoversThePrescan(t *testing.T) {
	t.Parallel()
	svc, _ := setup(t)
	path := drop("isp-de", "01_sales_2026-03.csv")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, prescan := range []int64{-1, 1} {
		svc.PrescanBytes = prescan
		var read, total int64
		if _, err := svc.Validate(context.Background(), ingest.Request{Partner: "isp-de", Path: path, Progress: func(r, s int64) { read, total = r, s }}); err != nil {
			t.Fatal(err)
		}
		passes := int64(1)
		if prescan > 0 {
			passes = 2
		}
		if read != passes*fi.Size() || total != passes*fi.Size() {
			t.Errorf("prescan %d: progress ends at %d of %d, want %d", prescan, read, total, passes*fi.Size())
		}
	}
}

// TestAckIsWrittenWithoutReadingTheUploadAgain (issue 11, 3): what the
// rejects file repeats is kept when the file is checked, so the ack and
// rejects of every sample drop are written again, byte for byte, with the
// archive gone: a file is read once for its check and its rejects.
func TestAckIsWrittenWithoutReadingTheUploadAgain(t *testing.T) {
	svc, pool := setup(t)
	ctx := context.Background()
	var outcomes []*ingest.Outcome
	for _, reseller := range []string{"telco-fr", "isp-de", "cable-be"} {
		files, _ := filepath.Glob(filepath.Join(pgtest.Samples, "drops", reseller, "*"))
		for _, f := range files {
			outcomes = append(outcomes, ingestFile(t, svc, reseller, f))
		}
	}
	before := map[string][]byte{}
	for _, o := range outcomes {
		for _, p := range []string{o.AckPath, o.RejectsPath, o.WarningsPath} {
			if p != "" {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				before[p] = b
			}
		}
	}
	if err := os.RemoveAll(filepath.Join(svc.Archive.Dir, "sha256")); err != nil { // every upload; what Clearhouse made stays
		t.Fatal(err)
	}
	rejects := 0
	for _, o := range outcomes {
		if o.RejectsPath != "" {
			rejects++
			_ = os.Remove(o.RejectsPath)
		}
		_ = os.Remove(o.WarningsPath)
		if err := svc.WriteAck(ctx, o.FileID); err != nil {
			t.Fatalf("%s: %v", o.Name, err)
		}
	}
	if rejects < 5 {
		t.Fatalf("only %d sample drops have a rejects file: the test proves little", rejects)
	}
	for p, b := range before {
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s rewritten differently (%v):\n%s\nwas:\n%s", p, err, got, b)
		}
	}
	_ = pool
}

// TestStaleRejectsFileIsRemovedByAnAcceptedAck (issue 12, 7): a file sent
// again under the same name, fixed, is ACCEPTED: the rejects file of the
// first upload no longer stands beside its ack.
func TestStaleRejectsFileIsRemovedByAnAcceptedAck(t *testing.T) {
	svc, _ := setup(t)
	bad := writeFile(t, "ventes.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"STALE-1,NEW,SC1,sc1@example.com,IDE-AV-1Y,1,2026-01-15\nSTALE-2,NEW,SC2,sc2@example.com,NOPE,1,2026-01-15\n")
	o := ingestFile(t, svc, "isp-de", bad)
	if o.RejectsPath == "" {
		t.Fatalf("first upload: %s, no rejects", o.Status)
	}
	if _, err := os.Stat(o.RejectsPath); err != nil {
		t.Fatal(err)
	}
	good := writeFile(t, "ventes.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"STALE-3,NEW,SC3,sc3@example.com,IDE-AV-1Y,1,2026-01-15\n")
	o2 := ingestFile(t, svc, "isp-de", good)
	if o2.Status != ingest.Accepted {
		t.Fatalf("second upload: %s %v", o2.Status, o2.Problems)
	}
	if _, err := os.Stat(o.RejectsPath); !os.IsNotExist(err) {
		t.Fatalf("the first upload's rejects file is still beside the ACCEPTED ack (%v)", err)
	}
}

// TestFileWithEveryRowRejectedIsRejectedAndMayBeSentAgain (issue 13, 4): for
// an accept_valid_rows reseller, a file whose every row is rejected posted
// nothing: REJECTED (exit 2), not PARTIAL, and the same bytes sent again
// after the cause is fixed are checked again, not a DUPLICATE.
func TestFileWithEveryRowRejectedIsRejectedAndMayBeSentAgain(t *testing.T) {
	svc, _ := setup(t)
	path := writeFile(t, "ventes_nope.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"NOPE-1,NEW,N1,n1@example.com,NOPE,1,2026-01-15\nNOPE-2,NEW,N2,n2@example.com,NOPE,1,2026-01-15\n")
	o := ingestFile(t, svc, "isp-de", path)
	if o.Status != ingest.Rejected || o.ExitCode() != 2 || o.Accepted != 0 || o.Rejected != 2 {
		t.Fatalf("%s (exit %d), %d accepted, %d rejected", o.Status, o.ExitCode(), o.Accepted, o.Rejected)
	}
	again := ingestFile(t, svc, "isp-de", path)
	if again.Status == ingest.Duplicate || again.FileID == o.FileID {
		t.Fatalf("sent again: %s (file %d, first %d)", again.Status, again.FileID, o.FileID)
	}
}

// resend writes content (UTF-8 text) in the encoding of a reseller's files
// and ingests it under name.
func resend(t *testing.T, svc *ingest.Service, reseller, name, content string, cp1252 bool) *ingest.Outcome {
	t.Helper()
	b := []byte(content)
	if cp1252 {
		var err error
		if b, err = charmap.Windows1252.NewEncoder().Bytes(b); err != nil {
			t.Fatal(err)
		}
	}
	return ingestFile(t, svc, reseller, writeFile(t, name, string(b)))
}

// TestRejectsGoBackAsTheyAre (issue 13, 1 2 3): a rejects file, fixed and
// sent back as it is, posts the rows: in the reseller's own format
// (cable-be: semicolons, Windows-1252, two title lines declared but none in
// the rejects file); for a reject_file reseller rejected whole, with every
// row, the good one too (telco-fr/05's line 2); and a value the spreadsheet
// guard protected ('@home Services) comes back as sent, in the database and
// in the publisher's fulfillment file.
func TestRejectsGoBackAsTheyAre(t *testing.T) {
	svc, pool := setup(t)
	ctx := context.Background()

	// telco-fr, reject_file: REJECTED whole; the rejects file repeats every row.
	o := ingestFile(t, svc, "telco-fr", drop("telco-fr", "05_declarations_2026-08.csv"))
	if o.Status != ingest.Rejected {
		t.Fatalf("telco-fr/05: %s", o.Status)
	}
	raw, _ := os.ReadFile(o.RejectsPath)
	text := strings.TrimPrefix(string(raw), "\uFEFF")
	for _, want := range []string{"\n2,,,,\"no problem in this row, but nothing of the file was posted", ",FR-2026-0201,NEW,C-1,", "\n3,UNKNOWN_SKU,", "\n4,PRICE_MISMATCH,"} {
		if !strings.Contains(text, want) {
			t.Fatalf("telco-fr/05 rejects lacks %q:\n%s", want, text)
		}
	}
	// Read back as it is, it finds the same problems.
	v, err := svc.Validate(ctx, ingest.Request{Partner: "telco-fr", Path: o.RejectsPath, Name: "05_fixed.csv"})
	if err != nil || v.Status != ingest.Rejected || fmt.Sprint(codesByLine(v)) != "map[3:[UNKNOWN_SKU] 4:[PRICE_MISMATCH]]" {
		t.Fatalf("telco-fr/05 rejects read back: %v %v %v", v.Status, codesByLine(v), err)
	}
	fixed := strings.NewReplacer(",TFR-AV-2Y,", ",TFR-AV-1Y,", ",24.90,EUR,", ",26.90,EUR,").Replace(text)
	o2 := resend(t, svc, "telco-fr", "05_fixed.csv", fixed, false)
	if o2.Status != ingest.Accepted || o2.Accepted != 3 {
		t.Fatalf("telco-fr/05 fixed: %s, %d accepted, %v", o2.Status, o2.Accepted, o2.Problems)
	}
	if n := count(t, pool, `SELECT count(*) FROM declarations WHERE reseller_id = 'telco-fr' AND declaration_id = 'FR-2026-0201'`); n != 1 {
		t.Fatalf("the good row of the rejected file was not posted by the resend")
	}

	// cable-be: its own format, no title lines in the rejects file.
	ob := ingestFile(t, svc, "cable-be", drop("cable-be", "01_ventes_2026-09.csv"))
	if ob.Status != ingest.Partial {
		t.Fatalf("cable-be/01: %s", ob.Status)
	}
	rb, _ := os.ReadFile(ob.RejectsPath)
	decoded, _ := charmap.Windows1252.NewDecoder().Bytes(rb)
	vb, err := svc.Validate(ctx, ingest.Request{Partner: "cable-be", Path: ob.RejectsPath, Name: "01_retour.csv"})
	if err != nil || fmt.Sprint(codesByLine(vb)) != "map[2:[INVALID_DECIMAL]]" {
		t.Fatalf("cable-be rejects read back in its format: %v %v\n%s", codesByLine(vb), err, decoded)
	}
	ob2 := resend(t, svc, "cable-be", "01_retour.csv", strings.Replace(string(decoded), ";23.50;EUR;", ";23,50;EUR;", 1), true)
	if ob2.Status != ingest.Accepted || ob2.Accepted != 1 || ob2.Amount != 2350 {
		t.Fatalf("cable-be fixed: %s, %d accepted, %d, %v", ob2.Status, ob2.Accepted, ob2.Amount, ob2.Problems)
	}

	// The spreadsheet guard comes off on the way back in.
	og := resend(t, svc, "isp-de", "guard.csv", "declaration_id,action,customer_id,customer_email,customer_name,sku,quantity,start_date\n"+
		"G-1,NEW,G1,g1@example.de,@home Services,IDE-NOPE,1,2026-03-06\nG-2,NEW,G2,g2@example.de,=1+1,IDE-AV-1Y,1,2026-03-06\n", false)
	rg, _ := os.ReadFile(og.RejectsPath)
	if !strings.Contains(string(rg), ",'@home Services,") {
		t.Fatalf("the rejects file does not guard the value:\n%s", rg)
	}
	og2 := resend(t, svc, "isp-de", "guard_fixed.csv", strings.ReplaceAll(strings.TrimPrefix(string(rg), "\uFEFF"), ",IDE-NOPE,", ",IDE-AV-1Y,"), false)
	if og2.Status != ingest.Accepted {
		t.Fatalf("guard resend: %s %v", og2.Status, og2.Problems)
	}
	var name string
	_ = pool.QueryRow(ctx, `SELECT name FROM customers WHERE reseller_id = 'isp-de' AND customer_id = 'G1'`).Scan(&name)
	if name != "@home Services" {
		t.Fatalf("the customer's name is %q", name)
	}
	res, err := fulfil.Run(ctx, store.New(pool), svc.DataDir, "secureco", time.Now())
	if err != nil || len(res.Files) == 0 {
		t.Fatalf("fulfil: %v %v", res, err)
	}
	var all string
	for _, f := range res.Files {
		b, _ := os.ReadFile(f)
		all += string(b)
	}
	if !strings.Contains(all, ",@home Services,") || strings.Contains(all, "'@home") || !strings.Contains(all, ",=1+1,") {
		t.Fatalf("fulfillment file does not carry the values as declared:\n%s", all)
	}
}

// TestAnAckIsNeverSeenWithoutItsCompanions (outside trial of issue 11): the
// rejects and warnings files are in place before the ack appears (an ack
// read as "done" always has its rejects beside it).
func TestAnAckIsNeverSeenWithoutItsCompanions(t *testing.T) {
	svc, _ := setup(t)
	outbox := svc.Outbox("isp-de")
	if err := os.MkdirAll(outbox, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	defer syscall.Close(fd)
	if _, err := syscall.InotifyAddWatch(fd, outbox, syscall.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	o := ingestFile(t, svc, "isp-de", drop("isp-de", "01_sales_2026-03.csv"))
	if o.RejectsPath == "" || o.WarningsPath == "" {
		t.Fatalf("isp-de/01 should have rejects and warnings: %s", o.Status)
	}
	buf := make([]byte, 64<<10)
	n, _ := syscall.Read(fd, buf)
	var order []string
	for off := 0; off+syscall.SizeofInotifyEvent <= n; {
		ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
		name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
		off += syscall.SizeofInotifyEvent + int(ev.Len)
		order = append(order, strings.TrimPrefix(name, "01_sales_2026-03.csv."))
	}
	if strings.Join(order, " ") != "warnings.csv rejects.csv ack.csv" {
		t.Fatalf("files appeared in the order %v", order)
	}
}

// TestALaterUploadsAnswerIsNeverReplacedByAnOlderOne (outside trial of
// issue 11): two uploads under one name; the older one's ack written late
// (a retry after a full disk) leaves the newer one's answer in place.
func TestALaterUploadsAnswerIsNeverReplacedByAnOlderOne(t *testing.T) {
	svc, pool := setup(t)
	ctx := context.Background()
	header := "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"
	v1 := ingestFile(t, svc, "isp-de", writeFile(t, "z.csv", header+"Z-1,NEW,Z1,z1@example.de,IDE-AV-1Y,1,2026-03-06\nZ-2,NEW,Z2,z2@example.de,NOPE,1,2026-03-06\n"))
	v2 := ingestFile(t, svc, "isp-de", writeFile(t, "z.csv", header+"Z-3,NEW,Z3,z3@example.de,IDE-AV-1Y,1,2026-03-06\n"))
	if v1.Status != ingest.Partial || v2.Status != ingest.Accepted {
		t.Fatalf("%s, %s", v1.Status, v2.Status)
	}
	if _, err := pool.Exec(ctx, `UPDATE files SET acked_at = NULL WHERE id = $1`, v1.FileID); err != nil {
		t.Fatal(err)
	}
	if err := svc.AckOnce(ctx, v1.FileID); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(v2.AckPath)
	if !strings.HasPrefix(strings.SplitN(string(b), "\n", 2)[1], fmt.Sprintf("%d,z.csv,", v2.FileID)) {
		t.Fatalf("the outbox shows an older answer:\n%s", b)
	}
	if _, err := os.Stat(v1.RejectsPath); !os.IsNotExist(err) {
		t.Fatalf("the older upload's rejects file came back beside the newer ack (%v)", err)
	}
	var acked bool
	_ = pool.QueryRow(ctx, `SELECT acked_at IS NOT NULL FROM files WHERE id = $1`, v1.FileID).Scan(&acked)
	if !acked {
		t.Fatal("the older upload is still waiting for its ack")
	}
}

// TestNULRowIsEchoedLikeAnyRejectedRow (issue 13, 8): the rejects file
// repeats the row with the NUL written out, under its column.
func TestNULRowIsEchoedLikeAnyRejectedRow(t *testing.T) {
	svc, _ := setup(t)
	o := ingestFile(t, svc, "isp-de", writeFile(t, "nul.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"N-1,NEW,N1,n1@example.de,HX\x00\x00,1,2026-03-06\nN-2,NEW,N2,n2@example.de,IDE-AV-1Y,1,2026-03-06\n"))
	b, _ := os.ReadFile(o.RejectsPath)
	if !strings.Contains(string(b), `2,INVALID_ENCODING,sku,HX\x00\x00,sku is not valid text`) || !strings.Contains(string(b), `,N-1,NEW,N1,n1@example.de,HX\x00\x00,1,2026-03-06`) {
		t.Fatalf("rejects:\n%s", b)
	}
}

// TestAmountTooLarge: quantity × price beyond what a line can bill is a row
// problem, never an overflow (the one row-level code the sample world,
// with its real prices, cannot raise).
func TestAmountTooLarge(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"hub.yaml", "publishers.yaml", "resellers.yaml", "catalogs.yaml", "be-2026_tarifs.csv"} {
		b, _ := os.ReadFile(filepath.Join(pgtest.SampleConfig, f))
		if f == "catalogs.yaml" {
			b = bytes.Replace(b, []byte(`buy_price: "22.00", resale_price: "34.95"`), []byte(`buy_price: "99999999.00", resale_price: "99999999.00"`), 1)
		}
		_ = os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	svc, _ := setup(t, dir)
	o := ingestFile(t, svc, "isp-de", writeFile(t, "big.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"BIG-1,NEW,B1,b1@example.de,IDE-AV-1Y,999999999,2026-03-06\n"))
	if fmt.Sprint(codesByLine(o)) != "map[2:[AMOUNT_TOO_LARGE]]" {
		t.Fatalf("%v", codesByLine(o))
	}
}

// TestReadMeSheetFirst (issue 13, 9): with no sheet declared, a workbook
// whose first sheet is a read-me is read from the first sheet whose header
// binds to the layout, with a warning naming it; with none, the problem
// names the sheets found and how to choose one.
func TestReadMeSheetFirst(t *testing.T) {
	svc, _ := setup(t)
	book := func(name string, sheets map[string][][]any, order []string) string {
		f := excelize.NewFile()
		for i, s := range order {
			if i == 0 {
				_ = f.SetSheetName("Sheet1", s)
			} else {
				_, _ = f.NewSheet(s)
			}
			for r, row := range sheets[s] {
				cell, _ := excelize.CoordinatesToCellName(1, r+1)
				_ = f.SetSheetRow(s, cell, &row)
			}
		}
		path := filepath.Join(t.TempDir(), name)
		if err := f.SaveAs(path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	readme := [][]any{{"Comment remplir ce fichier"}, {"Une ligne par vente; voir l'onglet Données."}}
	data := [][]any{{"declaration_id", "action", "customer_id", "customer_email", "sku", "quantity", "start_date"},
		{"RM-1", "NEW", "RM1", "rm1@example.de", "IDE-AV-1Y", 1, "2026-03-06"}}
	o := ingestFile(t, svc, "isp-de", book("ventes.xlsx", map[string][][]any{"Lisez-moi": readme, "Données": data}, []string{"Lisez-moi", "Données"}))
	if o.Status != ingest.Accepted || o.Accepted != 1 || len(o.Problems) != 1 || o.Problems[0].Code != "SHEET_CHOSEN" ||
		!strings.Contains(o.Problems[0].Message, `sheet "Données" was read`) {
		t.Fatalf("%s %d %v", o.Status, o.Accepted, o.Problems)
	}
	o = ingestFile(t, svc, "isp-de", book("notes.xlsx", map[string][][]any{"Lisez-moi": readme, "Notes": readme}, []string{"Lisez-moi", "Notes"}))
	if o.Status != ingest.Rejected || len(o.Problems) != 1 || o.Problems[0].Code != "SHEET_NOT_FOUND" || !strings.Contains(o.Problems[0].Message, "its sheets are: Lisez-moi, Notes") {
		t.Fatalf("%s %v", o.Status, o.Problems)
	}
}

// TestTruncatedFileIsToldFirstAndItsRowsNotEchoed (outside trial of issue
// 12): a file cut short is answered by its TRUNCATED_FILE first, and the
// rows that arrived are not repeated for sending back (that would post a
// part of the file): the file must be sent again whole.
func TestTruncatedFileIsToldFirstAndItsRowsNotEchoed(t *testing.T) {
	svc, _ := setup(t)
	path := writeFile(t, "cut.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"T-1,NEW,T1,t1@example.de,IDE-AV-1Y,1,2026-03-06\nT-2,NEW,T2,t2@exam")
	o, err := svc.Ingest(context.Background(), ingest.Request{Partner: "isp-de", Path: path, Transferred: true})
	if err != nil || o.Status != ingest.Rejected {
		t.Fatalf("%v %v", o, err)
	}
	b, _ := os.ReadFile(o.RejectsPath)
	lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(b), "\uFEFF")), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "TRUNCATED_FILE") || strings.Contains(string(b), "T-1") {
		t.Fatalf("rejects:\n%s", b)
	}
}

// TestRejectsOfARejectsFileDoNotRepeatItsProblemColumns (outside trial of
// issue 13): a rejects file sent back with a row still wrong gets a rejects
// file with one set of rejects columns, the new problems only.
func TestRejectsOfARejectsFileDoNotRepeatItsProblemColumns(t *testing.T) {
	svc, _ := setup(t)
	o := ingestFile(t, svc, "isp-de", writeFile(t, "r1.csv", "declaration_id,action,customer_id,customer_email,sku,quantity,start_date\n"+
		"RR-1,NEW,R1,r1@example.de,NOPE,1,2026-03-06\nRR-2,NEW,R2,r2@example.de,IDE-AV-1Y,1,2026-03-06\n"))
	b, _ := os.ReadFile(o.RejectsPath)
	o2 := ingestFile(t, svc, "isp-de", writeFile(t, "r1_back.csv", strings.TrimPrefix(string(b), "\uFEFF")))
	b2, _ := os.ReadFile(o2.RejectsPath)
	header := strings.SplitN(strings.TrimPrefix(string(b2), "\uFEFF"), "\n", 2)[0]
	if strings.Count(header, "problem_code") != 1 || !strings.HasPrefix(header, "line,problem_code,problem_column,problem_value,problem_message,declaration_id") {
		t.Fatalf("header of the second rejects file: %s", header)
	}
	if rows := strings.Split(strings.TrimSpace(string(b2)), "\n"); len(rows) != 2 || !strings.HasPrefix(rows[1], "2,UNKNOWN_SKU,sku,NOPE,") {
		t.Fatalf("second rejects file:\n%s", b2)
	}
}
