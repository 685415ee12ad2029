// Package schema loads the file layouts of schemas/ (columns, aliases, types,
// required-ness per action) and applies them to rows: it binds a header to a
// layout and turns each row into typed values, reporting every problem with
// its position. Partner quirks are options here, never a forked parser.
package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/clearhouse/clearhouse/schemas"
)

// Type is the value type of a column.
type Type string

const (
	Text     Type = "text"
	Enum     Type = "enum"
	Email    Type = "email"
	Country  Type = "country"
	Language Type = "language"
	Integer  Type = "integer"
	Date     Type = "date"
	Decimal  Type = "decimal"
	Currency Type = "currency"
)

var knownTypes = map[Type]bool{Text: true, Enum: true, Email: true, Country: true, Language: true, Integer: true, Date: true, Decimal: true, Currency: true}

// Required says when a column must hold a value: always, or for some actions.
type Required struct {
	Always  bool
	Actions []string
}

func (r *Required) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "always":
			r.Always = true
		case "never", "":
		default:
			return fmt.Errorf("line %d: required must be always, never or a list of actions", n.Line)
		}
		return nil
	case yaml.SequenceNode:
		return n.Decode(&r.Actions)
	}
	return fmt.Errorf("line %d: required must be always, never or a list of actions", n.Line)
}

// Column is one column of a layout.
type Column struct {
	Name        string   `yaml:"name"`
	Aliases     []string `yaml:"aliases"`
	Type        Type     `yaml:"type"`
	Values      []string `yaml:"values"`
	MaxLength   int      `yaml:"max_length"`
	Min         *int64   `yaml:"min"`
	Max         *int64   `yaml:"max"`
	MaxScale    int      `yaml:"max_scale"`
	Required    Required `yaml:"required"`
	Description string   `yaml:"description"`
}

// RequiredFor reports whether the column must be filled on a row with action.
func (c *Column) RequiredFor(action string) bool {
	if c.Required.Always {
		return true
	}
	for _, a := range c.Required.Actions {
		if a == action {
			return true
		}
	}
	return false
}

// Layout is a file layout: the columns of one kind of file.
type Layout struct {
	Kind         string   `yaml:"kind"`
	Version      int      `yaml:"version"`
	Description  string   `yaml:"description"`
	FilePatterns []string `yaml:"file_patterns"`
	ActionColumn string   `yaml:"action_column"`
	// IgnoreColumns are read past without a warning (the problem_* columns
	// of a rejects file sent back after fixing).
	IgnoreColumns []string `yaml:"ignore_columns"`
	Columns       []Column `yaml:"columns"`

	ignore map[string]bool

	byName map[string]int
	action int
}

// ErrUnknownKind is returned for a kind with no layout.
var ErrUnknownKind = errors.New("unknown file kind")

// Load reads the layout of kind from schemas/<kind>.yaml (embedded).
func Load(kind string) (*Layout, error) {
	return LoadFS(schemas.FS, kind)
}

// LoadFS reads the layout of kind from fsys.
func LoadFS(fsys fs.FS, kind string) (*Layout, error) {
	data, err := fs.ReadFile(fsys, kind+".yaml")
	if err != nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownKind, kind)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var l Layout
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("schemas/%s.yaml: %w", kind, err)
	}
	if err := l.init(); err != nil {
		return nil, fmt.Errorf("schemas/%s.yaml: %w", kind, err)
	}
	return &l, nil
}

// MustLoad is Load for layouts that ship with the binary.
func MustLoad(kind string) *Layout {
	l, err := Load(kind)
	if err != nil {
		panic(err)
	}
	return l
}

func (l *Layout) init() error {
	if l.Kind == "" || len(l.Columns) == 0 {
		return errors.New("a layout needs a kind and columns")
	}
	l.byName = map[string]int{}
	l.ignore = map[string]bool{}
	for _, n := range l.IgnoreColumns {
		l.ignore[NormalizeHeader(n)] = true
	}
	l.action = -1
	for i := range l.Columns {
		c := &l.Columns[i]
		if !knownTypes[c.Type] {
			return fmt.Errorf("column %s: unknown type %q", c.Name, c.Type)
		}
		if c.Type == Enum && len(c.Values) == 0 {
			return fmt.Errorf("column %s: enum without values", c.Name)
		}
		for _, n := range append([]string{c.Name}, c.Aliases...) {
			k := NormalizeHeader(n)
			if j, dup := l.byName[k]; dup {
				return fmt.Errorf("column %s: name %q already used by %s", c.Name, n, l.Columns[j].Name)
			}
			l.byName[k] = i
		}
		if c.Name == l.ActionColumn {
			l.action = i
		}
	}
	if l.ActionColumn != "" && l.action < 0 {
		return fmt.Errorf("action_column %q is not a column", l.ActionColumn)
	}
	return nil
}

// Index returns the position of the named column in the layout, or panics:
// callers name columns of layouts that ship with the binary.
func (l *Layout) Index(name string) int {
	i, ok := l.byName[NormalizeHeader(name)]
	if !ok || l.Columns[i].Name != name {
		panic("schema: layout " + l.Kind + " has no column " + name)
	}
	return i
}

// MatchesName reports whether a file name matches one of the layout's patterns.
func (l *Layout) MatchesName(name string) bool {
	base := strings.ToLower(path.Base(name))
	for _, p := range l.FilePatterns {
		if ok, _ := path.Match(p, base); ok {
			return true
		}
	}
	return false
}

// NormalizeHeader folds a header name for matching: trimmed, lower case,
// runs of spaces, dashes, dots and underscores as one underscore.
func NormalizeHeader(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "\uFEFF")
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(s) {
		switch r {
		case ' ', '_', '-', '.', '\t':
			sep = b.Len() > 0
			continue
		}
		if sep {
			b.WriteByte('_')
			sep = false
		}
		b.WriteRune(r)
	}
	return b.String()
}
