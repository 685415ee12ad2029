// Package archive keeps every received file's raw bytes, immutably and
// content-addressed by sha256, before anything else reads them. It is a
// local directory now; the interface is small enough for object storage.
package archive

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clearhouse/clearhouse/internal/mailbox"
)

// Store is a directory of files named by their sha256.
type Store struct {
	Dir string
}

// Blob identifies an archived file.
type Blob struct {
	SHA256 [32]byte
	Size   int64
}

// Hex is the digest in hex.
func (b Blob) Hex() string { return hex.EncodeToString(b.SHA256[:]) }

// Put copies r into the archive, hashing as it goes, and returns its
// identity. Writing is atomic (temporary file, fsync, rename); putting the
// same bytes twice keeps one copy.
func (s *Store) Put(r io.Reader) (Blob, error) {
	if err := os.MkdirAll(filepath.Join(s.Dir, "tmp"), 0o755); err != nil {
		return Blob{}, err
	}
	tmp, err := mailbox.CreateTemp(filepath.Join(s.Dir, "tmp"), "put")
	if err != nil {
		return Blob{}, err
	}
	defer tmp.Close()
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tmp, h), r, make([]byte, 1<<20))
	if err != nil {
		return Blob{}, fmt.Errorf("archiving: %w", err)
	}
	var b Blob
	copy(b.SHA256[:], h.Sum(nil))
	b.Size = n
	if err := tmp.Sync(); err != nil {
		return Blob{}, err
	}
	final := s.Path(b)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return Blob{}, err
	}
	if _, err := os.Stat(final); err == nil {
		return b, nil
	}
	if err := tmp.Chmod(0o444); err != nil {
		return Blob{}, err
	}
	// Renamed while still open and locked, so a sweep of tmp never takes it.
	if err := os.Rename(tmp.Name(), final); err != nil {
		return Blob{}, err
	}
	return b, syncDir(filepath.Dir(final))
}

// Path is where a blob lives.
func (s *Store) Path(b Blob) string {
	h := b.Hex()
	return filepath.Join(s.Dir, "sha256", h[:2], h)
}

// Open opens an archived blob.
func (s *Store) Open(b Blob) (*os.File, error) { return os.Open(s.Path(b)) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
