package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
)

// TestHubAndBillingProfilesReadBack: the sample world's hub and profiles,
// as apply wrote them, read back typed, their defaults resolved.
func TestHubAndBillingProfilesReadBack(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	q := store.New(pgtest.New(t))
	if _, err := q.Hub(ctx); !errors.Is(err, store.ErrNoHub) {
		t.Fatalf("an empty database's hub: %v", err)
	}
	q = store.New(pgtest.WithWorld(t, pgtest.SampleConfig))
	h, err := q.Hub(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Hub{LegalName: "Clearhouse Services SAS", TradingName: "Clearhouse",
		Address: store.Address{Street: "18 rue de la Bourse", City: "Paris", PostalCode: "75002", Country: "FR"},
		VATID:   "FR44732829320", CompanyID: "732829320", CompanyIDScheme: "0002", EndpointScheme: "0009", EndpointID: "73282932000017",
		Email: "billing@clearhouse.example", CreditorID: "FR18ZZZ8A4B2C", IBAN: "FR7630004000031234567890143", BIC: "BNPAFRPP",
		AccountName: "Clearhouse Services SAS", InvoicePrefix: "CH", CreditNotePrefix: "CN", TimeZone: "Europe/Paris", Schedule: "0 6 1 * *",
		PaymentTermsDays: 30}
	if h.Notes["fr"] == nil || len(h.Notes["en"]) != 2 || len(h.Notes) != 3 {
		t.Errorf("hub notes %q", h.Notes)
	}
	h.Notes = nil
	if !reflect.DeepEqual(h, want) {
		t.Fatalf("hub\n got %+v\nwant %+v", h, want)
	}
	for _, tc := range []struct {
		id   string
		want string
	}{
		{"telco-fr", "{telco-fr Télécom Exemple France SA {5 avenue Félix Faure  Lyon 69003  FR} FR14845123785 845123785 0002 0009 84512378500014 TFR-ACHATS [factures@telco-fr.example] 30 fr}"},
		{"isp-de", "{isp-de Beispiel Internet GmbH {Müllerstraße 12 Aufgang B Berlin 13353  DE} DE123456789   9930 DE123456789 991-33333TEST-33 [rechnung@isp-de.example] 14 de}"},
		// The defaults: the reseller's name, its id as buyer reference, the hub's terms, English.
		{"cable-be", "{cable-be Câble Exemple Belgique SA {Rue Neuve 1  Bruxelles 1000  BE} BE0477472701 0477472701 0208 0208 0477472701 cable-be [facturation@cable-be.example] 30 en}"},
	} {
		p, ok, err := q.BillingProfile(ctx, tc.id)
		if err != nil || !ok || fmt.Sprint(p) != tc.want {
			t.Errorf("%s: %v %v\n got %v\nwant %s", tc.id, ok, err, p, tc.want)
		}
	}
	if _, ok, err := q.BillingProfile(ctx, "nobody"); ok || err != nil {
		t.Fatalf("an unknown reseller's profile: %v %v", ok, err)
	}
}

// TestTextArrayIsPostgresTextForm: what TextArray writes is what
// PostgreSQL reads back as text, so apply sees no change the second time.
func TestTextArrayIsPostgresTextForm(t *testing.T) {
	t.Parallel()
	pool := pgtest.New(t)
	for _, elems := range [][]string{
		{"a@example.com"},
		{"a@example.com", "b.c+d@example.org"},
		{"", "null", "with space", `quo"te`, `back\slash`, "com,ma", "{brace}"},
	} {
		var got string
		if err := pool.QueryRow(context.Background(), `SELECT $1::text::text[]::text`, store.TextArray(elems)).Scan(&got); err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := pool.QueryRow(context.Background(), `SELECT $1::text::text[]`, store.TextArray(elems)).Scan(&back); err != nil {
			t.Fatal(err)
		}
		if got != store.TextArray(elems) || fmt.Sprint(back) != fmt.Sprint(elems) {
			t.Errorf("%q: written %s, read back %s, %q", elems, store.TextArray(elems), got, back)
		}
	}
}
