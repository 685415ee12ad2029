package sftpd_test

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/clearhouse/clearhouse/internal/sftpd"
)

// TestInstancesStartingAtOnceShareOneKey: serve instances started together
// on a new data folder each made the key with O_EXCL, and all but one
// exited with "file exists" (make test's killed-instance test lost two of
// its three that way). Now every one gets the same key, and no temporary
// file is left.
func TestInstancesStartingAtOnceShareOneKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "sftp")
	path := filepath.Join(dir, "host_ed25519_key")
	keys := make([][]byte, 16)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			s, err := sftpd.LoadOrCreateKey(path)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = s.PublicKey().Marshal()
		})
	}
	wg.Wait()
	for _, k := range keys {
		if !bytes.Equal(k, keys[0]) {
			t.Fatal("instances starting at once got different keys")
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key: %v %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left in %s: %v", dir, ents)
	}
}
