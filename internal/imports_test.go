// Package imports_test holds the import rules of the map (STYLE.md,
// DESIGN.md §5) against what `go list` says the packages import. A rule is
// one row of the table: the packages it is about, whether it judges their
// direct imports or everything they link, and what they may not import.
package imports_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// module is the module path; rules name packages relative to it.
const module = "github.com/clearhouse/clearhouse/"

// leaves are the packages that import nothing of Clearhouse's.
var leaves = []string{"internal/money", "internal/problem", "internal/civil", "internal/exchange", "internal/mailbox", "internal/sepa", "internal/render", "internal/taxid"}

// rule is one import rule.
type rule struct {
	name string
	// who are the packages the rule is about (relative to the module);
	// nil: every package.
	who []string
	// except are packages the rule is not about (with who nil).
	except []string
	// deps judges everything a package links (go list's Deps: tests not
	// included), not only what it imports itself.
	deps bool
	// bad tells whether a package may not import imp (a full import path).
	bad func(imp string) bool
}

var rules = []rule{
	{
		name: "transports (sftpd, sftpc) import only mailbox and leaves",
		who:  []string{"internal/sftpd", "internal/sftpc"},
		bad:  internalBut(leaves...),
	},
	{
		name: "transports (sftpd, sftpc) never link pgx",
		who:  []string{"internal/sftpd", "internal/sftpc"},
		deps: true,
		bad:  isPgx,
	},
	{
		name: "leaves import nothing of Clearhouse's",
		who:  leaves,
		bad:  internalBut(),
	},
	{
		// invoice is the document model, ubl and invoicepdf write it: they
		// work from the document alone (invoice imports civil, money and
		// render, so it is not a leaf). Judged on everything they link,
		// which also keeps pgx out.
		name: "document writers (invoice, ubl, invoicepdf) link only leaves and invoice; never pgx",
		who:  []string{"internal/invoice", "internal/ubl", "internal/invoicepdf"},
		deps: true,
		bad: func(imp string) bool {
			return isPgx(imp) || internalBut(slices.Concat(leaves, []string{"internal/invoice"})...)(imp)
		},
	},
	{
		name: "readers (tabular, schema) never touch the database",
		who:  []string{"internal/tabular", "internal/schema"},
		deps: true,
		bad:  isPgx,
	},
	{
		// One layer speaks SQL: the others pass store.Pool and store.Tx and
		// call store's typed queries. pgserver starts the local cluster
		// (admin connections); pgtest is for tests.
		name:   "only store (and pgserver, pgtest) import pgx",
		except: []string{"internal/store", "internal/pgserver", "internal/pgtest"},
		bad:    isPgx,
	},
	{
		name: "pgtest is for tests only: no package links it",
		deps: true,
		bad:  func(imp string) bool { return imp == module+"internal/pgtest" },
	},
}

// isPgx tells whether imp is the database driver or one of its packages.
func isPgx(imp string) bool { return strings.HasPrefix(imp, "github.com/jackc/pgx") }

// internalBut returns a test for an import of Clearhouse's other than the
// packages allowed.
func internalBut(allowed ...string) func(string) bool {
	return func(imp string) bool {
		rel, ok := strings.CutPrefix(imp, module)
		return ok && !slices.Contains(allowed, rel)
	}
}

// pkg is what go list says of a package.
type pkg struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// violations lists, for each rule, the imports of pkgs it forbids.
func violations(pkgs []pkg) []string {
	var out []string
	for _, r := range rules {
		for _, p := range pkgs {
			rel := strings.TrimPrefix(p.ImportPath, module)
			if (r.who != nil && !slices.Contains(r.who, rel)) || slices.Contains(r.except, rel) {
				continue
			}
			imps := p.Imports
			if r.deps {
				imps = p.Deps
			}
			for _, imp := range imps {
				if r.bad(imp) {
					out = append(out, fmt.Sprintf("%s: %s imports %s", r.name, rel, strings.TrimPrefix(imp, module)))
				}
			}
		}
	}
	return out
}

func goList(t *testing.T) []pkg {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, "list", "-json=ImportPath,Imports,Deps", "./...")
	cmd.Dir = ".." // the module's root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestImportRules: every package keeps every rule.
func TestImportRules(t *testing.T) {
	t.Parallel()
	pkgs := goList(t)
	if !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.ImportPath == module+"internal/sftpd" }) {
		t.Fatalf("go list did not list internal/sftpd: %d packages", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestImportRulesCatch: each rule finds the import it forbids, and passes
// what it allows.
func TestImportRulesCatch(t *testing.T) {
	t.Parallel()
	m := func(rel string) string { return module + rel }
	for _, tc := range []struct {
		p    pkg
		want string // "" for none
	}{
		{pkg{ImportPath: m("internal/sftpd"), Imports: []string{m("internal/mailbox"), m("internal/exchange")}}, ""},
		{pkg{ImportPath: m("internal/sftpd"), Imports: []string{m("internal/mailbox"), "github.com/jackc/pgx/v5"}}, "only store (and pgserver, pgtest) import pgx: internal/sftpd imports github.com/jackc/pgx/v5"},
		{pkg{ImportPath: m("internal/jobs"), Imports: []string{m("internal/store"), "github.com/jackc/pgx/v5/pgxpool"}}, "only store (and pgserver, pgtest) import pgx: internal/jobs imports github.com/jackc/pgx/v5/pgxpool"},
		{pkg{ImportPath: m("internal/store"), Imports: []string{"github.com/jackc/pgx/v5", "github.com/jackc/pgx/v5/pgxpool"}}, ""},
		{pkg{ImportPath: m("internal/sftpd"), Imports: []string{m("internal/world")}}, "transports (sftpd, sftpc) import only mailbox and leaves: internal/sftpd imports internal/world"},
		{pkg{ImportPath: m("internal/sftpc"), Imports: []string{m("internal/sftpd")}}, "transports (sftpd, sftpc) import only mailbox and leaves: internal/sftpc imports internal/sftpd"},
		{pkg{ImportPath: m("internal/sftpc"), Imports: []string{m("internal/exchange")}, Deps: []string{m("internal/exchange"), "github.com/jackc/pgx/v5/pgxpool"}}, "transports (sftpd, sftpc) never link pgx: internal/sftpc imports github.com/jackc/pgx/v5/pgxpool"},
		{pkg{ImportPath: m("internal/sftpd"), Deps: []string{m("internal/mailbox"), "github.com/jackc/pgx/v5"}}, "transports (sftpd, sftpc) never link pgx: internal/sftpd imports github.com/jackc/pgx/v5"},
		{pkg{ImportPath: m("internal/mailbox"), Imports: []string{m("internal/problem")}}, "leaves import nothing of Clearhouse's: internal/mailbox imports internal/problem"},
		{pkg{ImportPath: m("internal/sepa"), Imports: []string{m("internal/money")}}, "leaves import nothing of Clearhouse's: internal/sepa imports internal/money"},
		{pkg{ImportPath: m("internal/tabular"), Imports: []string{m("internal/problem")}, Deps: []string{"github.com/jackc/pgx/v5/pgconn"}}, "readers (tabular, schema) never touch the database: internal/tabular imports github.com/jackc/pgx/v5/pgconn"},
		{pkg{ImportPath: m("cmd/clearhouse"), Deps: []string{m("internal/pgtest"), "testing"}}, "pgtest is for tests only: no package links it: cmd/clearhouse imports internal/pgtest"},
		{pkg{ImportPath: m("internal/ingest"), Imports: []string{m("internal/store")}, Deps: []string{"github.com/jackc/pgx/v5"}}, ""},
		{pkg{ImportPath: m("internal/ubl"), Imports: []string{m("internal/invoice"), m("internal/money")}, Deps: []string{m("internal/invoice"), m("internal/civil"), m("internal/money"), "github.com/govalues/decimal"}}, ""},
		{pkg{ImportPath: m("internal/ubl"), Deps: []string{m("internal/invoice"), m("internal/store")}}, "document writers (invoice, ubl, invoicepdf) link only leaves and invoice; never pgx: internal/ubl imports internal/store"},
		{pkg{ImportPath: m("internal/invoice"), Deps: []string{m("internal/money"), "github.com/jackc/pgx/v5/pgtype"}}, "document writers (invoice, ubl, invoicepdf) link only leaves and invoice; never pgx: internal/invoice imports github.com/jackc/pgx/v5/pgtype"},
		{pkg{ImportPath: m("internal/invoicepdf"), Imports: []string{m("internal/invoice"), m("internal/money"), m("internal/civil")}}, ""},
		{pkg{ImportPath: m("internal/invoicepdf"), Deps: []string{m("internal/invoice"), m("internal/billing")}}, "document writers (invoice, ubl, invoicepdf) link only leaves and invoice; never pgx: internal/invoicepdf imports internal/billing"},
		{pkg{ImportPath: m("internal/invoicepdf"), Deps: []string{m("internal/invoice"), "github.com/jackc/pgx/v5"}}, "document writers (invoice, ubl, invoicepdf) link only leaves and invoice; never pgx: internal/invoicepdf imports github.com/jackc/pgx/v5"},
	} {
		got := strings.Join(violations([]pkg{tc.p}), "\n")
		if got != tc.want {
			t.Errorf("%s %v %v:\n got %q\nwant %q", tc.p.ImportPath, tc.p.Imports, tc.p.Deps, got, tc.want)
		}
	}
}
