package main

import (
	"fmt"
	"os"

	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// SamplesCmd groups sample-data commands.
type SamplesCmd struct {
	Generate GenerateCmd `cmd:"" help:"Write a large, valid, deterministic declarations file."`
}

// BenchCmd is filled in bench.go.

// GenerateCmd writes a generated declarations file.
type GenerateCmd struct {
	Rows   int    `default:"1000000" help:"Number of declaration rows."`
	Prefix string `default:"GEN" help:"Prefix of declaration ids (use another to make a second file)."`
	Out    string `short:"o" default:"-" help:"Output file (- for stdout)."`
}

func (c *GenerateCmd) Run(g *Globals) error {
	w := os.Stdout
	if c.Out != "-" {
		f, err := os.Create(c.Out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if err := samplegen.Write(w, samplegen.Options{Rows: c.Rows, Prefix: c.Prefix}); err != nil {
		return err
	}
	if c.Out != "-" {
		fmt.Fprintf(os.Stderr, "wrote %d rows to %s (apply samples/bench/config and ingest with --reseller bench-telco)\n", c.Rows, c.Out)
	}
	return nil
}
