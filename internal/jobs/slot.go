package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/clearhouse/clearhouse/internal/store"
)

// maxSlots bounds the instances that may share one data folder on one host.
const maxSlots = 64

// slot is this instance's place among the instances of its host and data
// folder: an exclusive lock on <data-dir>/run/serve-<n>.lock, held for the
// life of the process and released by the kernel when it dies.
type slot struct {
	key  string // host, data folder and number: what an earlier holder recorded
	file *os.File
}

// takeSlot locks the first free slot of dir.
func takeSlot(dir, host string) (*slot, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	run := filepath.Join(abs, "run")
	if err := os.MkdirAll(run, 0o750); err != nil {
		return nil, fmt.Errorf("making %s: %w", run, err)
	}
	for n := range maxSlots {
		path := filepath.Join(run, fmt.Sprintf("serve-%d.lock", n))
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue // held by a live instance
		}
		return &slot{key: fmt.Sprintf("%s:%s:%d", host, abs, n), file: f}, nil
	}
	return nil, fmt.Errorf("all %d instance slots of %s are taken by running instances", maxSlots, abs)
}

func (s *slot) release() {
	if s != nil {
		s.file.Close()
	}
}

// takeOver forgets the earlier incarnations of this instance's slot (they
// are dead: their lock was free) and puts the jobs they were running back
// in the queue at once. It returns how many jobs it handed back.
func (r *Runner) takeOver(ctx context.Context) (int64, error) {
	if r.slot == nil {
		return 0, nil
	}
	dead, n, err := store.ForgetSlot(ctx, r.cfg.Pool, r.slot.key, r.ID)
	if err != nil || len(dead) == 0 {
		return 0, err
	}
	r.cfg.Log.Warn("this instance's slot was held by an instance that died: its running jobs are back in the queue",
		"slot", r.slot.key, "dead_instances", dead, "jobs", n)
	return n, nil
}
