package schemas_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/clearhouse/clearhouse/internal/fulfil"
	"github.com/clearhouse/clearhouse/internal/invoice"
	"github.com/clearhouse/clearhouse/schemas"
)

// Every problem code the code can raise is documented, and every documented
// code is raised somewhere.
func TestEveryProblemCodeIsDocumented(t *testing.T) {
	t.Parallel()
	data, err := fs.ReadFile(schemas.FS, "problems.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Problems map[string]struct {
			Scope    string `yaml:"scope"`
			Severity string `yaml:"severity"`
			Meaning  string `yaml:"meaning"`
			Fix      string `yaml:"fix"`
		} `yaml:"problems"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`Code[A-Za-z]*\s+(?:problem\.)?Code = "([A-Z_]+)"`)
	inCode := map[string]bool{}
	err = filepath.WalkDir("../internal", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		for _, m := range re.FindAllSubmatch(b, -1) {
			inCode[string(m[1])] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(inCode) < 30 {
		t.Fatalf("found only %d codes in the source: is the pattern stale?", len(inCode))
	}
	var missing, unused []string
	for c := range inCode {
		p, ok := doc.Problems[c]
		if !ok {
			missing = append(missing, c)
		} else if (p.Scope != "row" && p.Scope != "file") || p.Meaning == "" || p.Fix == "" {
			t.Errorf("%s: needs scope row|file, meaning and fix", c)
		}
	}
	for c := range doc.Problems {
		if !inCode[c] {
			unused = append(unused, c)
		}
	}
	sort.Strings(missing)
	sort.Strings(unused)
	if len(missing)+len(unused) > 0 {
		t.Fatalf("undocumented codes %v; documented but never raised %v", missing, unused)
	}
}

// TestWrittenFilesAreDocumented: the columns a schema file documents for a
// file Clearhouse writes are the header its writer writes, in order.
func TestWrittenFilesAreDocumented(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		schema, file string
		header       []string
	}{
		{"fulfillment.yaml", "fulfillment_<publisher>_<timestamp>_<seq>.csv", fulfil.Header},
		{"invoice.yaml", "<number>.csv", invoice.LinesHeader},
		{"invoice.yaml", "<number>_detail.csv", invoice.DetailHeader},
	} {
		data, err := fs.ReadFile(schemas.FS, tc.schema)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Files map[string]struct {
				Description string `yaml:"description"`
				Columns     []struct {
					Name        string `yaml:"name"`
					Description string `yaml:"description"`
				} `yaml:"columns"`
			} `yaml:"files"`
		}
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", tc.schema, err)
		}
		f, ok := doc.Files[tc.file]
		if !ok || f.Description == "" {
			t.Errorf("%s does not describe %s", tc.schema, tc.file)
			continue
		}
		var names []string
		for _, c := range f.Columns {
			names = append(names, c.Name)
		}
		if strings.Join(names, ",") != strings.Join(tc.header, ",") {
			t.Errorf("%s %s documents the columns\n  %v\nits writer writes\n  %v", tc.schema, tc.file, names, tc.header)
		}
	}
}
