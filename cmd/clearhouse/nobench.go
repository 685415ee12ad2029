//go:build !bench

package main

// benchCommands is empty in the shipped binary: the benchmark harness is
// built with -tags bench (make bench).
type benchCommands struct{}
