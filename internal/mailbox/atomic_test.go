package mailbox

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func TestWriteAtomicLeavesNoTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "a.csv")
	if err := WriteAtomic(p, 0o644, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err }); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "a.csv" {
		t.Fatalf("%v", entries)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

// TestSweepTempsRemovesOnlyAbandoned: a temporary file whose writer was
// killed (a real process, SIGKILL) is swept; one a live writer holds is not.
func TestSweepTempsRemovesOnlyAbandoned(t *testing.T) {
	if os.Getenv("MAILBOX_WRITER") != "" {
		f, err := CreateTemp(os.Getenv("MAILBOX_WRITER"), "x.ack.csv")
		if err != nil {
			os.Exit(3)
		}
		_, _ = f.WriteString("half an ack")
		os.Stdout.WriteString("ready\n")
		time.Sleep(time.Hour) // killed here
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSweepTempsRemovesOnlyAbandoned$")
	cmd.Env = append(os.Environ(), "MAILBOX_WRITER="+dir)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(out, buf); err != nil {
		t.Fatal(err)
	}
	live, err := CreateTemp(dir, "y.ack.csv") // this process's own, still writing
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	old := time.Now().Add(-time.Minute)
	temps, _ := filepath.Glob(filepath.Join(dir, ".*"+tempMarker+"*"))
	for _, p := range temps {
		_ = os.Chtimes(p, old, old)
	}
	if len(temps) != 2 {
		t.Fatalf("temps: %v", temps)
	}
	if removed, _ := SweepTemps(dir); len(removed) != 0 {
		t.Fatalf("swept while both writers live: %v", removed)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	removed, err := SweepTemps(dir)
	if err != nil || len(removed) != 1 || !IsTemp(removed[0]) || removed[0][:10] != ".x.ack.csv" {
		t.Fatalf("removed %v, %v", removed, err)
	}
	if _, err := os.Stat(live.Name()); err != nil {
		t.Fatalf("the live writer's file was removed: %v", err)
	}
}
