package world

import (
	"fmt"
	"reflect"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/clearhouse/clearhouse/internal/render"
)

// Configured text reaches invoices (PDF, UBL), the resellers' CSVs, the
// publishers' files and the operator's terminal. What a reader cannot see,
// or what rewrites what they see, is refused where it was written: a
// control character (C0, DEL, C1: a bell, an escape sequence, a line break
// inside a name) and the characters that reorder or hide text (the
// bidirectional controls, zero-width characters, line and paragraph
// separators, the byte order mark). Rows of files get the same treatment
// at ingest (INVALID_TEXT).

// textProblem says what is wrong with s, or "".
func textProblem(s string) string {
	r, at, ok := render.Unprintable(s)
	switch {
	case !ok:
		return ""
	case r == utf8.RuneError:
		return fmt.Sprintf("is not valid UTF-8 (at character %d)", at)
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		return fmt.Sprintf("has the control character U+%04X at character %d: names and addresses are printed text (no tab, line break or escape)", r, at)
	}
	return fmt.Sprintf("has the invisible formatting character U+%04X at character %d, which reorders or hides text on a document", r, at)
}

// checkTexts checks every text value of the world, each at its field's
// line: the structs' yaml fields, their lists and the entries below them.
func (w *World) checkTexts(bad badFunc) {
	walkTexts(reflect.ValueOf(w).Elem(), Where{}, "", bad)
}

var whereType = reflect.TypeFor[Where]()

func walkTexts(v reflect.Value, at Where, prefix string, bad badFunc) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			walkTexts(v.Elem(), at, prefix, bad)
		}
	case reflect.Slice:
		for i := range v.Len() {
			// An entry of a list (a reseller, an item, a key) names its
			// fields from itself, as the other checks do.
			if e := reflect.Indirect(v.Index(i)); e.Kind() == reflect.Struct && hasWhere(e.Type()) {
				walkTexts(e, at, "", bad)
				continue
			}
			walkTexts(v.Index(i), at, prefix, bad)
		}
	case reflect.String:
		if p := textProblem(v.String()); p != "" {
			bad(at, strings.TrimSuffix(prefix, "."), "%s", p)
		}
	case reflect.Struct:
		if hasWhere(v.Type()) {
			if own := v.FieldByName("Where").Interface().(Where); own.Line != 0 {
				at = own
			}
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			tag := strings.Split(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || tag[0] == "-" || f.Type == whereType {
				continue
			}
			p := prefix
			if tag[0] != "" && !(len(tag) > 1 && tag[1] == "inline") {
				p = prefix + tag[0] + "."
			}
			walkTexts(v.Field(i), at, p, bad)
		}
	}
}

func hasWhere(t reflect.Type) bool {
	f, ok := t.FieldByName("Where")
	return ok && f.Type == whereType && f.Anonymous
}

// checkName refuses a blank or overlong name or address line: it is
// printed on every invoice (a PDF line holds about 60 characters; two
// lines are shown).
func checkName(bad badFunc, at Where, field, v string, max int) {
	switch {
	case v != "" && strings.TrimSpace(v) == "":
		bad(at, field, "is blank: write the name or leave the field out")
	case utf8.RuneCountInString(v) > max:
		bad(at, field, "has %d characters; at most %d fit on a document", utf8.RuneCountInString(v), max)
	}
}

// pruneEmpty takes the empty entries (a lone "-" in a list: a nil pointer)
// out of every list of v; emptyEntries says where they were.
func pruneEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			pruneEmpty(v.Elem())
		}
	case reflect.Slice:
		kept := reflect.MakeSlice(v.Type(), 0, v.Len())
		for i := range v.Len() {
			e := v.Index(i)
			if e.Kind() == reflect.Pointer && e.IsNil() {
				continue
			}
			pruneEmpty(e)
			kept = reflect.Append(kept, e)
		}
		if kept.Len() != v.Len() && v.CanSet() {
			v.Set(kept)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				pruneEmpty(v.Field(i))
			}
		}
	}
}

// emptyEntries finds the empty entries of the lists of a YAML document
// (file f), each at its line, named by the key of its list.
func emptyEntries(data []byte, f string) Errors {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil // the decoder says what is wrong
	}
	var errs Errors
	var walk func(n *yaml.Node, key string)
	walk = func(n *yaml.Node, key string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], n.Content[i].Value)
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if c.Kind == yaml.ScalarNode && c.Tag == "!!null" {
					errs = append(errs, &FieldError{Where: Where{File: f, Line: c.Line}, Field: key,
						Msg: "an empty entry (a lone \"-\"): remove it or write the entry"})
					continue
				}
				walk(c, key)
			}
		}
	}
	walk(&doc, "")
	return errs
}
