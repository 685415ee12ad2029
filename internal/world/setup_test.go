package world_test

// What the world tests share: configuration folders written, or copied
// from the sample and edited, and applied to a database of their own.

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/world"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func apply(t *testing.T, pool *pgxpool.Pool, dir string) (*world.Result, error) {
	t.Helper()
	w, err := world.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var res *world.Result
	err = pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		res, err = world.Apply(context.Background(), store.New(tx), w)
		return err
	})
	return res, err
}

// sampleEdited copies the sample configuration's files (those named, or
// all) into a new folder, each file's text passed through edit (nil: as
// it is).
func sampleEdited(t *testing.T, edit func(string) string, names ...string) string {
	t.Helper()
	if len(names) == 0 {
		names = []string{"hub.yaml", "publishers.yaml", "resellers.yaml", "catalogs.yaml", "be-2026_tarifs.csv"}
	}
	files := map[string]string{}
	for _, f := range names {
		b, err := os.ReadFile(filepath.Join(pgtest.SampleConfig, f))
		if err != nil {
			t.Fatal(err)
		}
		if files[f] = string(b); edit != nil {
			files[f] = edit(files[f])
		}
	}
	return configDir(t, files)
}

// configDir is a new configuration folder holding files (name → text).
func configDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return dir
}

// writeFiles writes files (name → text) into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// appliedSample is a database with the sample configuration applied.
func appliedSample(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.New(t)
	if _, err := apply(t, pool, pgtest.SampleConfig); err != nil {
		t.Fatal(err)
	}
	return pool
}
