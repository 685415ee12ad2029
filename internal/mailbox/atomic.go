// Package mailbox is the one home of partners' folders and file names:
// where a partner's inbox, outbox and hidden work folders are under the
// data folder (Layout), which names a partner may send, which are
// temporary uploads, done files and uploader side files; and how files are
// placed there: written under a hidden temporary name, synced and renamed,
// so a reader never sees half a file, with what a writer that died left
// swept. It imports nothing of Clearhouse's.
package mailbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// tempMarker is in every temporary name this package makes.
const tempMarker = ".tmp-"

// CreateTemp creates a temporary file in dir for final name base
// (".<base>.tmp-<random>") and holds an exclusive lock on it until it is
// closed: while the writer lives, SweepTemps leaves it alone; once the
// writer is gone (closed, killed), the lock is free.
func CreateTemp(dir, base string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "."+base+tempMarker+"*")
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return f, nil
}

// IsTemp tells whether a name is one of this package's temporary names.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker)
}

// WriteAtomic writes path under a temporary name in the same folder, syncs
// it and renames it into place: readers see the old file or the new one,
// never a part.
func WriteAtomic(path string, mode os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := CreateTemp(dir, filepath.Base(path))
	if err != nil {
		return err
	}
	defer tmp.Close()
	defer os.Remove(tmp.Name()) // after a rename there is nothing left to remove
	if err := fill(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	// Renamed while still open and locked: a sweep never takes it mid-way.
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return nil
}

// minTempAge spares a temporary file in the instant between its creation and
// its lock.
const minTempAge = 2 * time.Second

// SweepTemps removes the temporary files in dir whose writer is gone (a
// process killed mid-write, a disk that filled): their lock is free. It
// returns the names removed.
func SweepTemps(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		if fi, err := e.Info(); err != nil || time.Since(fi.ModTime()) < minTempAge {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if abandoned(path) {
			removed = append(removed, e.Name())
		}
	}
	return removed, nil
}

// abandoned removes path if no writer holds its lock.
func abandoned(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false // a live writer
	}
	return os.Remove(path) == nil
}
