package ubl

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Result is what validation found in one file.
type Result struct {
	Path string
	// SchemaErrors are the UBL 2.1 XSD's complaints (xmllint's messages,
	// "line N: …"), or why the file is not a UBL Invoice or CreditNote.
	SchemaErrors []string
	// Fatal and Warnings are the EN 16931 rules the file breaks, by flag.
	Fatal, Warnings []Assert
}

// Valid tells whether the file passed the XSD and every fatal rule.
func (r Result) Valid() bool { return len(r.SchemaErrors) == 0 && len(r.Fatal) == 0 }

// Assert is one broken rule (an SVRL failed-assert).
type Assert struct {
	ID       string // the rule, e.g. BR-CO-16
	Text     string // the rule's sentence
	Location string // the element, as an XPath without namespaces: /Invoice[1]/LegalMonetaryTotal[1]
}

// RulesEnv names the folder of the validation artefacts (see RulesDir).
const RulesEnv = "CLEARHOUSE_EINVOICE_RULES"

// DefaultSaxon is where Debian's libsaxonhe-java installs Saxon-HE.
const DefaultSaxon = "/usr/share/java/Saxon-HE.jar"

// The artefacts, relative to the rules folder (the layout of
// shared/external/einvoice).
const (
	invoiceXSD    = "ubl-2.1/xsd/maindoc/UBL-Invoice-2.1.xsd"
	creditNoteXSD = "ubl-2.1/xsd/maindoc/UBL-CreditNote-2.1.xsd"
	rulesXSLT     = "en16931-rules/EN16931-UBL-validation.xslt"
)

var (
	// ErrTools: a program validation runs is not installed.
	ErrTools = errors.New("validation tools missing: install the Debian packages default-jre-headless libsaxonhe-java libxml2-utils")
	// ErrRules: the XSDs or the EN 16931 rules were not found.
	ErrRules = errors.New("e-invoice validation artefacts not found")
)

// Validator validates UBL files against the UBL 2.1 XSD and the CEN
// EN 16931 rules.
type Validator struct {
	// Dir holds the artefacts, laid out as shared/external/einvoice:
	// ubl-2.1/xsd/{maindoc,common} and en16931-rules/. Empty: RulesDir.
	Dir string
	// Saxon is the Saxon-HE jar; empty: DefaultSaxon.
	Saxon string
}

// Validate validates files with the artefacts RulesDir finds.
func Validate(ctx context.Context, paths ...string) ([]Result, error) {
	return Validator{}.Validate(ctx, paths...)
}

// RulesDir finds the folder of the artefacts: the one $CLEARHOUSE_EINVOICE_RULES
// names, else shared/external/einvoice in the working directory or the
// nearest of its parents that has one (a worktree's ../shared).
func RulesDir() (string, error) {
	if dir := os.Getenv(RulesEnv); dir != "" {
		if err := hasRules(dir); err != nil {
			return "", fmt.Errorf("$%s: %w", RulesEnv, err)
		}
		return dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the e-invoice rules: %w", err)
	}
	return findRules(wd)
}

// findRules walks up from dir to a shared/external/einvoice holding the artefacts.
func findRules(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", "external", "einvoice")
		if hasRules(cand) == nil {
			return cand, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: no shared/external/einvoice above %s; set $%s", ErrRules, dir, RulesEnv)
		}
	}
}

func hasRules(dir string) error {
	for _, f := range []string{invoiceXSD, creditNoteXSD, rulesXSLT} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("%w: %s has no %s", ErrRules, dir, f)
		}
	}
	return nil
}

// Validate validates the files: each against the XSD of its root element
// (xmllint), then all of them against the EN 16931 rules in one Saxon run
// (a JVM start costs about 2 s). A file that is not well-formed UBL gets
// only its SchemaErrors. Results are in the order of paths. The error is
// for validation that could not run: ErrTools, ErrRules, a failing tool.
func (v Validator) Validate(ctx context.Context, paths ...string) ([]Result, error) {
	saxon := v.Saxon
	if saxon == "" {
		saxon = DefaultSaxon
	}
	if err := haveTools(saxon); err != nil {
		return nil, err
	}
	dir := v.Dir
	if dir == "" {
		var err error
		if dir, err = RulesDir(); err != nil {
			return nil, err
		}
	} else if err := hasRules(dir); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "ubl-validate-*")
	if err != nil {
		return nil, fmt.Errorf("validating: %w", err)
	}
	defer os.RemoveAll(tmp)
	in, out := filepath.Join(tmp, "in"), filepath.Join(tmp, "out")
	for _, d := range []string{in, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("validating: %w", err)
		}
	}

	results, copies, bySchema, err := stage(paths, in)
	if err != nil || len(copies) == 0 {
		return results, err
	}
	for _, xsd := range []string{invoiceXSD, creditNoteXSD} {
		if files := bySchema[xsd]; len(files) > 0 {
			errs, err := xmllint(ctx, filepath.Join(dir, xsd), files)
			if err != nil {
				return nil, err
			}
			for cp, msgs := range errs {
				results[copies[cp]].SchemaErrors = msgs
			}
		}
	}
	failed, err := runRules(ctx, saxon, filepath.Join(dir, rulesXSLT), in, out)
	if err != nil {
		return nil, err
	}
	for cp, i := range copies {
		name := filepath.Base(cp)
		if msg, ok := failed[name]; ok {
			results[i].Fatal = append(results[i].Fatal, Assert{ID: "XSLT", Text: "the EN 16931 rules could not be run on this file: " + msg})
			continue
		}
		svrl, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			return nil, fmt.Errorf("reading the EN 16931 report of %s: %w", results[i].Path, err)
		}
		if results[i].Fatal, results[i].Warnings, err = parseSVRL(svrl); err != nil {
			return nil, fmt.Errorf("reading the EN 16931 report of %s: %w", results[i].Path, err)
		}
	}
	return results, nil
}

// stage copies each file that is a UBL Invoice or CreditNote to
// in/NNNN.xml (the tools see names chosen here, and Saxon takes the folder
// in one run) and gives the others their SchemaErrors. copies maps a copy
// to its index in results; bySchema lists the copies per XSD.
func stage(paths []string, in string) (results []Result, copies map[string]int, bySchema map[string][]string, err error) {
	results = make([]Result, len(paths))
	copies, bySchema = map[string]int{}, map[string][]string{}
	for i, p := range paths {
		results[i].Path = p
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("validating: %w", err)
		}
		root, err := readUBL(data)
		if err != nil {
			results[i].SchemaErrors = []string{err.Error()}
			continue
		}
		cp := filepath.Join(in, fmt.Sprintf("%04d.xml", i))
		if err := os.WriteFile(cp, data, 0o644); err != nil {
			return nil, nil, nil, fmt.Errorf("validating %s: %w", p, err)
		}
		copies[cp] = i
		xsd := invoiceXSD
		if root.name.Local == "CreditNote" {
			xsd = creditNoteXSD
		}
		bySchema[xsd] = append(bySchema[xsd], cp)
	}
	return results, copies, bySchema, nil
}

func haveTools(saxon string) error {
	var missing []string
	for _, prog := range []string{"xmllint", "java"} {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, prog)
		}
	}
	if _, err := os.Stat(saxon); err != nil {
		missing = append(missing, saxon)
	}
	if missing != nil {
		return fmt.Errorf("%w (not found: %s)", ErrTools, strings.Join(missing, ", "))
	}
	return nil
}

// readUBL parses a whole document (it must be well-formed) whose root is
// a UBL 2.1 Invoice or CreditNote.
func readUBL(data []byte) (*node, error) {
	root, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("not well-formed XML: %v", err)
	}
	if (root.name != xml.Name{Space: nsInvoice, Local: "Invoice"}) && (root.name != xml.Name{Space: nsCreditNote, Local: "CreditNote"}) {
		name := root.name.Local
		if root.name.Space != "" {
			name = "{" + root.name.Space + "}" + name
		}
		return nil, fmt.Errorf("the root element %s is not a UBL 2.1 Invoice or CreditNote", name)
	}
	return root, nil
}

// xmllint validates files against xsd and returns each invalid file's
// messages, without its name ("line 12: element …").
func xmllint(ctx context.Context, xsd string, files []string) (map[string][]string, error) {
	cmd := exec.CommandContext(ctx, "xmllint", append([]string{"--noout", "--schema", xsd}, files...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	// xmllint exits 3 when a file is not valid.
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		return nil, fmt.Errorf("xmllint --schema %s: %v: %s", filepath.Base(xsd), err, firstLines(stderr.String(), 5))
	}
	out := map[string][]string{}
	for _, ln := range strings.Split(stderr.String(), "\n") {
		for _, f := range files {
			rest, ok := strings.CutPrefix(ln, f)
			if !ok || rest == " validates" {
				continue
			}
			if rest == " fails to validate" {
				if out[f] == nil {
					out[f] = []string{"fails to validate"}
				}
				continue
			}
			if msg, ok := strings.CutPrefix(rest, ":"); ok {
				out[f] = append(out[f], "line "+msg)
			}
		}
	}
	return out, nil
}

// failedFile is Saxon's line for a file it could not transform.
var failedFile = regexp.MustCompile(`(?m)^While processing (\S+): (.*)$`)

// runRules runs the EN 16931 XSLT over every file of in, writing SVRL to
// out, and returns the files it could not transform, with Saxon's reason.
// The JVM runs with the client compiler and the serial collector: a run is
// short, and they make it 2–3 times faster on a busy machine.
func runRules(ctx context.Context, saxon, xslt, in, out string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, "java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-jar", saxon, "-s:"+in, "-o:"+out, "-xsl:"+xslt)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	failed := map[string]string{}
	for _, m := range failedFile.FindAllStringSubmatch(stderr.String(), -1) {
		failed[m[1]] = m[2]
	}
	if err != nil && len(failed) == 0 {
		return nil, fmt.Errorf("running the EN 16931 rules (Saxon): %v: %s", err, firstLines(stderr.String(), 5))
	}
	return failed, nil
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(strings.TrimSpace(s), "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " / ")
}

// svrl is the part of the SVRL report read here.
type svrl struct {
	XMLName xml.Name `xml:"http://purl.oclc.org/dsdl/svrl schematron-output"`
	Failed  []struct {
		ID       string `xml:"id,attr"`
		Flag     string `xml:"flag,attr"`
		Location string `xml:"location,attr"`
		Text     string `xml:"http://purl.oclc.org/dsdl/svrl text"`
	} `xml:"http://purl.oclc.org/dsdl/svrl failed-assert"`
}

// nsStep is the namespace test in the rules' locations.
var nsStep = regexp.MustCompile(`\[namespace-uri\(\)='[^']*'\]`)

// parseSVRL splits a report's failed asserts by flag: warning (or
// information) is a warning, anything else fatal.
func parseSVRL(data []byte) (fatal, warnings []Assert, err error) {
	var rep svrl
	if err := xml.Unmarshal(data, &rep); err != nil {
		return nil, nil, err
	}
	for _, f := range rep.Failed {
		a := Assert{
			ID:       f.ID,
			Text:     strings.TrimPrefix(strings.Join(strings.Fields(f.Text), " "), "["+f.ID+"]-"),
			Location: strings.ReplaceAll(nsStep.ReplaceAllString(f.Location, ""), "*:", ""),
		}
		if f.Flag == "warning" || f.Flag == "information" {
			warnings = append(warnings, a)
		} else {
			fatal = append(fatal, a)
		}
	}
	return fatal, warnings, nil
}
