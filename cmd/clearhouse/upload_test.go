package main_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/samplegen"
)

// uploadWorld is the bench world whose reseller bench-telco logs in with a
// fresh key (key, for OpenSSH's -i), its uploads under the given sftp
// settings (YAML flow map, "" for none), and serve running on it.
type uploadWorld struct {
	telcoWorld
	key, port string
	serve     *serveProc
}

func newUploadWorld(t *testing.T, upload string, serveArgs ...string) uploadWorld {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "clerk")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "clerk", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	yml, err := os.ReadFile(filepath.Join(pgtest.Samples, "bench", "config", "bench.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	block := fmt.Sprintf("    sftp:\n      keys: [{name: clerk, key: %q}]\n", strings.TrimSpace(string(pub)))
	if upload != "" {
		block += "      upload: " + upload + "\n"
	}
	anchor := "    file_policy: accept_valid_rows\n"
	yml = bytes.Replace(yml, []byte(anchor), []byte(anchor+block), 1) // the first reseller: bench-telco
	world := filepath.Join(dir, "world")
	if err := os.MkdirAll(world, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(world, "bench.yaml"), yml, 0o640); err != nil {
		t.Fatal(err)
	}
	w := uploadWorld{telcoWorld: telcoWorldOn(t, pgtest.WithWorld(t, world)), key: key}
	addr := freeAddr(t)
	w.port = addr[strings.LastIndex(addr, ":")+1:]
	w.serve = serveFor(t, w.url, w.data, append([]string{"--sftp-addr", addr}, serveArgs...)...)
	waitFor(t, 30*time.Second, "serve's SFTP port", func() bool { return strings.Contains(w.serve.logText(), "sftp server listening") })
	return w
}

// sftpCmd is OpenSSH's sftp running batch on the embedded server as
// bench-telco (a throwaway server on loopback: its host key is not pinned).
func (w uploadWorld) sftpCmd(batch string, extra ...string) *exec.Cmd {
	args := append([]string{"-b", "-", "-F", "/dev/null", "-i", w.key, "-P", w.port, "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "LogLevel=ERROR"}, extra...)
	cmd := exec.Command("sftp", append(args, "bench-telco@127.0.0.1")...)
	cmd.Stdin = strings.NewReader(batch)
	return cmd
}

// bigDeclarations writes rows generated declarations, every line padded
// (trailing spaces in the last value, which is trimmed) to 128 bytes and
// the header to 64k+1: no line ends on a multiple of 64 bytes, where an
// interrupted client's last write ends (its writes are 32 KiB), so the cut
// always falls inside a line. It returns the file's sha256.
func bigDeclarations(t *testing.T, path string, rows int) string {
	t.Helper()
	var b bytes.Buffer
	if err := samplegen.Write(&b, samplegen.Options{Rows: rows, Prefix: "BIG"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for i, line := range bytes.SplitAfter(b.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		width := 128
		if i == 0 { // the header: the next length that is 1 past a multiple of 64
			width = (len(line)+63)/64*64 + 1
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line)+1 > width {
			t.Fatalf("line %d is %d bytes: too long to pad to %d", i+1, len(line)+1, width)
		}
		out.Write(line)
		out.Write(bytes.Repeat([]byte(" "), width-1-len(line)))
		out.WriteByte('\n')
	}
	if err := os.WriteFile(path, out.Bytes(), 0o640); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	return hex.EncodeToString(sum[:])
}

// interrupt starts cmd and sends it sig once the upload it makes has more
// than min bytes on the server (the hidden file in .uploads), then waits.
func (w uploadWorld) interrupt(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, min int64) string {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	uploads := filepath.Join(w.data, "partners", "bench-telco", ".uploads")
	waitFor(t, 60*time.Second, "the upload to start", func() bool {
		entries, _ := os.ReadDir(uploads)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil && fi.Size() > min {
				return true
			}
		}
		return false
	})
	_ = cmd.Process.Signal(sig)
	err := cmd.Wait()
	t.Logf("sftp after %v: %v\n%s", sig, err, out.String())
	return out.String()
}

func (w uploadWorld) records(t *testing.T) []string { return fileRecords(t, w.pool, "bench-telco") }

// problemCodes lists the codes of the file's problems.
func (w uploadWorld) problemCodes(t *testing.T, name string) []string {
	t.Helper()
	return texts(t, w.pool, `SELECT p.code FROM file_problems p JOIN files f ON f.id = p.file_id WHERE f.name = $1 ORDER BY p.seq`, name)
}

const bigRows = 160_000 // 20.5 MB at 128 bytes a line

// TestInterruptedPutIsRejectedAsTruncated (issue 12, 1a): Ctrl-C on
// OpenSSH's sftp during a put closes the remote file normally, so the
// server publishes what it got. The cut falls inside a line (see
// bigDeclarations): the file is REJECTED whole as TRUNCATED_FILE, nothing
// posted, whatever the policy (bench-telco accepts valid rows).
func TestInterruptedPutIsRejectedAsTruncated(t *testing.T) {
	t.Parallel()
	w := newUploadWorld(t, "")
	src := filepath.Join(t.TempDir(), "declarations_big.csv")
	bigDeclarations(t, src, bigRows)
	// -l: 40 Mbit/s, so that the put lasts about 4 s and is cut at 5 MB.
	w.interrupt(t, w.sftpCmd("put "+src+" inbox/declarations_big.csv\n", "-l", "40000"), syscall.SIGINT, 5<<20)
	ackPath := filepath.Join(w.outbox, "declarations_big.csv.ack.csv")
	waitFor(t, 60*time.Second, "the ack", func() bool { return readAckIfComplete(ackPath) })
	a := readAck(t, ackPath)
	if a["status"] != "REJECTED" || a["rows_accepted"] != "0" {
		t.Fatalf("a truncated upload was taken: %v\nrecords %v", a, w.records(t))
	}
	if codes := w.problemCodes(t, "declarations_big.csv"); len(codes) != 1 || codes[0] != "TRUNCATED_FILE" {
		t.Fatalf("problems %v, want [TRUNCATED_FILE]", codes)
	}
	var size int64
	_ = w.pool.QueryRow(context.Background(), `SELECT size FROM files WHERE name = 'declarations_big.csv'`).Scan(&size)
	t.Logf("received %d bytes before the interrupt", size)
	var entries int
	_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FROM declarations`).Scan(&entries)
	if entries != 0 {
		t.Fatalf("%d declarations posted from a truncated upload", entries)
	}
}

// TestDoneFileProtocol (issue 12, 1b): bench-telco's uploads wait for their
// done file. A batch `put X` then `put X.done` interrupted mid-put posts
// nothing: on SIGINT OpenSSH's sftp closes the remote file normally, exits
// 0 and the batch goes on to send the done file, whose sha256 then rejects
// the file (CHECKSUM_MISMATCH); on SIGKILL the connection drops, and the
// file is not taken at all. Sending the pair again replaces the waiting
// attempt; a wrong sha256 or row count (ROW_COUNT_MISMATCH) rejects the
// file; the complete pair is ACCEPTED once, and the done file goes with it.
func TestDoneFileProtocol(t *testing.T) {
	t.Parallel()
	w := newUploadWorld(t, "{complete: done_file}")
	dir := t.TempDir()
	src := filepath.Join(dir, "declarations_big.csv")
	sum := bigDeclarations(t, src, bigRows)
	done := func(content string) string {
		p := filepath.Join(dir, fmt.Sprintf("done-%d", time.Now().UnixNano()))
		if err := os.WriteFile(p, []byte(content), 0o640); err != nil {
			t.Fatal(err)
		}
		return p
	}
	batch := func(name, doneFile string) string {
		return "put " + src + " inbox/" + name + "\nput " + doneFile + " inbox/" + name + ".done\n"
	}
	good := done("sha256=" + sum + "\nrows=" + fmt.Sprint(bigRows) + "\n")
	ackOf := func(name string, limit time.Duration) ack {
		t.Helper()
		p := filepath.Join(w.outbox, name+".ack.csv")
		waitFor(t, limit, "the ack of "+name, func() bool { return readAckIfComplete(p) })
		return readAck(t, p)
	}
	wantRejected := func(name, code string) {
		t.Helper()
		if a := ackOf(name, 120*time.Second); a["status"] != "REJECTED" || a["rows_accepted"] != "0" {
			t.Fatalf("%s: %v", name, a)
		}
		if codes := w.problemCodes(t, name); len(codes) != 1 || codes[0] != code {
			t.Fatalf("%s: problems %v, want [%s]", name, codes, code)
		}
	}

	// SIGINT: the batch goes on to the done file; the sha256 it holds
	// rejects the truncated file.
	out := w.interrupt(t, w.sftpCmd(batch("declarations_big.csv", good), "-l", "40000"), syscall.SIGINT, 5<<20)
	if !strings.Contains(out, "Interrupt") {
		t.Fatalf("sftp was not interrupted mid-put:\n%s", out)
	}
	wantRejected("declarations_big.csv", "CHECKSUM_MISMATCH")
	rejects, _ := os.ReadFile(filepath.Join(w.outbox, "declarations_big.csv.rejects.csv"))
	if !bytes.Contains(rejects, []byte("CHECKSUM_MISMATCH")) || !bytes.Contains(rejects, []byte(sum)) {
		t.Fatalf("rejects file:\n%s", rejects)
	}

	// SIGKILL: no done file, nothing taken; the attempt waits.
	w.interrupt(t, w.sftpCmd(batch("declarations_kill.csv", good), "-l", "40000"), syscall.SIGKILL, 5<<20)
	time.Sleep(2 * time.Second) // several intake scans
	if recs := w.records(t); len(recs) != 1 {
		t.Fatalf("a killed upload was taken: %v", recs)
	}
	// The same name again, complete, with a wrong sha256: the waiting
	// attempt is replaced, and the file rejected.
	wrong := strings.Repeat("0", 64)
	if out, err := w.sftpCmd(batch("declarations_kill.csv", done("sha256="+wrong+"\n"))).CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	wantRejected("declarations_kill.csv", "CHECKSUM_MISMATCH")

	// A wrong row count (rows are checked once the whole file is read).
	if out, err := w.sftpCmd(batch("declarations_rows.csv", done("rows=7\n"))).CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	wantRejected("declarations_rows.csv", "ROW_COUNT_MISMATCH")

	// Complete, with the right sha256 and rows: accepted once.
	if out, err := w.sftpCmd(batch("declarations_ok.csv", good)).CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if a := ackOf("declarations_ok.csv", 180*time.Second); a["status"] != "ACCEPTED" || a["rows_accepted"] != fmt.Sprint(bigRows) {
		t.Fatalf("the complete upload: %v", a)
	}
	waitFor(t, 10*time.Second, "the inbox to empty", func() bool {
		entries, _ := os.ReadDir(w.inbox)
		return len(entries) == 0
	})
	if recs := w.records(t); len(recs) != 4 {
		t.Fatalf("file records %v, want one per pair sent whole", recs)
	}
	var posted int
	_ = w.pool.QueryRow(context.Background(), `SELECT count(*) FROM declarations`).Scan(&posted)
	if posted != bigRows {
		t.Fatalf("%d declarations posted, want %d", posted, bigRows)
	}
}
