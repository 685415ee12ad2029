package main_test

import (
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// inotify watches folders for created files (Linux), so that a test can
// kill a process the instant it starts writing one.
type inotify struct{ fd int }

func watchCreates(t *testing.T, dirs ...string) *inotify {
	t.Helper()
	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		t.Skipf("no inotify here: %v", err)
	}
	for _, dir := range dirs {
		if _, err := syscall.InotifyAddWatch(fd, dir, syscall.IN_CREATE); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return &inotify{fd}
}

// next blocks until a file whose name has prefix is created in a folder.
func (w *inotify) next(prefix string) string {
	buf := make([]byte, 64<<10)
	for {
		n, err := syscall.Read(w.fd, buf)
		if err != nil {
			return ""
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			if strings.HasPrefix(name, prefix) {
				return name
			}
		}
	}
}
