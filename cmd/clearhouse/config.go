package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/alecthomas/kong"
	"gopkg.in/yaml.v3"
)

// yamlConfig loads a configuration file for --config: YAML whose keys are
// the long flag names, flat (sftp-addr: ...) or nested (sftp: {addr: ...}).
// Precedence, lowest first: defaults, the file, environment variables,
// flags. A key that names no flag is an error, so a typo never passes
// silently for a default.
func yamlConfig(r io.Reader) (kong.Resolver, error) {
	var doc map[string]any
	if err := yaml.NewDecoder(r).Decode(&doc); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	values := map[string]any{}
	var flatten func(prefix string, m map[string]any)
	flatten = func(prefix string, m map[string]any) {
		for k, v := range m {
			key := strings.ReplaceAll(prefix+k, "_", "-")
			if sub, ok := v.(map[string]any); ok {
				flatten(key+"-", sub)
				continue
			}
			values[key] = v
		}
	}
	flatten("", doc)
	return &configResolver{values: values}, nil
}

type configResolver struct{ values map[string]any }

func (c *configResolver) Validate(app *kong.Application) error {
	known := map[string]bool{}
	var walk func(n *kong.Node)
	walk = func(n *kong.Node) {
		for _, f := range n.Flags {
			known[f.Name] = true
		}
		for _, ch := range n.Children {
			walk(ch)
		}
	}
	walk(app.Node)
	var unknown []string
	for k := range c.values {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		return fmt.Errorf("configuration: unknown settings %s (clearhouse serve --help lists them)", strings.Join(unknown, ", "))
	}
	return nil
}

func (c *configResolver) Resolve(_ *kong.Context, _ *kong.Path, flag *kong.Flag) (any, error) {
	v, ok := c.values[flag.Name]
	if !ok {
		return nil, nil
	}
	for _, env := range flag.Envs { // the environment overrides the file
		if _, set := os.LookupEnv(env); set {
			return nil, nil
		}
	}
	return fmt.Sprint(v), nil
}
