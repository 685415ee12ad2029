package sftpc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/pgtest"
	"github.com/clearhouse/clearhouse/internal/sftpc"
	"github.com/clearhouse/clearhouse/internal/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func setup(t *testing.T) (*pgxpool.Pool, *sshd, *exchange.Remote) {
	t.Helper()
	pool := pgtest.WithWorld(t, pgtest.SampleConfig)
	s := startSSHD(t)
	r := &exchange.Remote{Address: s.Addr, HostKey: exchange.HostKeys{s.HostKey}, User: s.User}
	return pool, s, r
}

func dial(t *testing.T, s *sshd, r *exchange.Remote) *sftpc.Conn {
	t.Helper()
	c, err := sftpc.Dial(context.Background(), r, sftpc.Auth{Key: s.Client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// folder makes the folder name in the server's writable one: its path on
// disk, and the same folder as the client sees it.
func folder(t *testing.T, s *sshd, name string) (local, remote string) {
	t.Helper()
	local = filepath.Join(s.Local, name)
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	return local, path.Join(s.Base, name)
}

func TestHostKeyIsPinned(t *testing.T) {
	t.Parallel()
	_, s, r := setup(t)
	// The last: a type the server (one ED25519 key) does not have.
	for _, pin := range []exchange.HostKeys{nil, {"SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, {"ssh-rsa " + s.HostKey}} {
		bad := *r
		bad.HostKey = pin
		if c, err := sftpc.Dial(context.Background(), &bad, sftpc.Auth{Key: s.Client}); err == nil {
			c.Close()
			t.Fatalf("connected with pin %q", pin)
		} else if pin != nil && !errors.Is(err, sftpc.ErrHostKey) {
			t.Fatalf("pin %q: %v", pin, err)
		}
	}
}

type published struct {
	mu    sync.Mutex
	files []string
}

func (p *published) add(partner, local, uploader string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, _ := os.ReadFile(local)
	p.files = append(p.files, partner+"/"+filepath.Base(local)+":"+string(b))
}

func (p *published) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.files...)
}

// TestPullTakesCompleteFilesOnce: temp names wait; a taken file is deleted
// remotely; nothing is taken twice, even by a new puller (a restart) that
// finds a file whose removal failed after it was taken.
func TestPullTakesCompleteFilesOnce(t *testing.T) {
	t.Parallel()
	pool, s, r := setup(t)
	data := t.TempDir()
	in, out := folder(t, s, "out")
	_ = os.WriteFile(filepath.Join(in, "a_declarations.csv"), []byte("A"), 0o644)
	_ = os.WriteFile(filepath.Join(in, "b_declarations.csv.part"), []byte("B"), 0o644)
	pub := &published{}
	pl := &sftpc.Puller{Files: store.New(pool), DataDir: data, Publish: pub.add}
	c := dial(t, s, r)
	cfg := &exchange.Pull{Dir: out, Complete: "temp_name", After: "delete"}
	res, err := pl.Pull(context.Background(), c, "telco-fr", cfg)
	if err != nil || res.Taken != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := pub.list(); len(got) != 1 || got[0] != "telco-fr/a_declarations.csv:A" {
		t.Fatalf("published %v", got)
	}
	if _, err := os.Stat(filepath.Join(in, "a_declarations.csv")); !os.IsNotExist(err) {
		t.Fatal("the taken file is still on the remote")
	}
	if _, err := os.Stat(filepath.Join(data, "partners", "telco-fr", "inbox", "a_declarations.csv")); err != nil {
		t.Fatal("the taken file is not in the inbox")
	}
	// The upload finishes: renamed to its final name, it is taken.
	_ = os.Rename(filepath.Join(in, "b_declarations.csv.part"), filepath.Join(in, "b_declarations.csv"))
	// A file taken before whose removal failed (a crash just after taking):
	// found again, it is removed, never processed again.
	again := filepath.Join(in, "c_declarations.csv")
	_ = os.WriteFile(again, []byte("C"), 0o644)
	fi, _ := os.Stat(again)
	if _, err := pool.Exec(context.Background(), `INSERT INTO remote_files (partner_id, remote_path, size, mtime, state) VALUES ('telco-fr', $1, 1, $2, 'taken')`,
		path.Join(cfg.Dir, "c_declarations.csv"), fi.ModTime().UTC().Truncate(time.Second)); err != nil {
		t.Fatal(err)
	}
	pl2 := &sftpc.Puller{Files: store.New(pool), DataDir: data, Publish: pub.add}
	res, err = pl2.Pull(context.Background(), c, "telco-fr", cfg)
	if err != nil || res.Taken != 1 || res.Cleaned != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := pub.list(); len(got) != 2 || got[1] != "telco-fr/b_declarations.csv:B" {
		t.Fatalf("published %v", got)
	}
	if _, err := os.Stat(again); !os.IsNotExist(err) {
		t.Fatal("the already-taken file was not removed")
	}
}

// TestPullStableAcrossInstances: with complete: stable, a file is taken
// once its size and mtime held for stable_for, as seen by any instance: the
// puller that takes it is not the one that first saw it.
func TestPullStableAcrossInstances(t *testing.T) {
	t.Parallel()
	pool, s, r := setup(t)
	in, out := folder(t, s, "out")
	_ = os.WriteFile(filepath.Join(in, "s_declarations.csv"), []byte("S"), 0o644)
	cfg := &exchange.Pull{Dir: out, Complete: "stable", StableFor: "1s", After: "delete"}
	c := dial(t, s, r)
	data := t.TempDir()
	first := &sftpc.Puller{Files: store.New(pool), DataDir: data, Log: slogDiscard()}
	if res, err := first.Pull(context.Background(), c, "telco-fr", cfg); err != nil || res.Waiting != 1 || res.Taken != 0 {
		t.Fatalf("first sight: %+v %v", res, err)
	}
	// Still growing: the clock starts again.
	time.Sleep(600 * time.Millisecond)
	_ = os.WriteFile(filepath.Join(in, "s_declarations.csv"), []byte("SS"), 0o644)
	_ = os.Chtimes(filepath.Join(in, "s_declarations.csv"), time.Now().Add(time.Second), time.Now().Add(time.Second))
	if res, err := first.Pull(context.Background(), c, "telco-fr", cfg); err != nil || res.Waiting != 1 {
		t.Fatalf("changed: %+v %v", res, err)
	}
	time.Sleep(600 * time.Millisecond) // 1.2 s since first sight, 0.6 s since the change
	if res, err := first.Pull(context.Background(), c, "telco-fr", cfg); err != nil || res.Waiting != 1 {
		t.Fatalf("0.6 s after a change: %+v %v", res, err)
	}
	time.Sleep(500 * time.Millisecond)
	pub := &published{}
	second := &sftpc.Puller{Files: store.New(pool), DataDir: data, Publish: pub.add, Log: slogDiscard()}
	if res, err := second.Pull(context.Background(), c, "telco-fr", cfg); err != nil || res.Taken != 1 {
		t.Fatalf("another instance, after stable_for: %+v %v", res, err)
	}
	if got := pub.list(); len(got) != 1 || got[0] != "telco-fr/s_declarations.csv:SS" {
		t.Fatalf("published %v", got)
	}
}

// TestPullDoneFileChecksum: a done file's sha256 is checked; a mismatch
// takes nothing and leaves the file; "move" keeps the remote file aside.
func TestPullDoneFileChecksum(t *testing.T) {
	t.Parallel()
	pool, s, r := setup(t)
	in, out := folder(t, s, "out")
	done, moveTo := folder(t, s, "done")
	body := []byte("declaration_id\n")
	_ = os.WriteFile(filepath.Join(in, "d.csv"), body, 0o644)
	_ = os.WriteFile(filepath.Join(in, "d.csv.done"), []byte(hex.EncodeToString(make([]byte, 32))+"\n"), 0o644)
	_ = os.WriteFile(filepath.Join(in, "e.csv"), body, 0o644) // no done file yet
	pub := &published{}
	pl := &sftpc.Puller{Files: store.New(pool), DataDir: t.TempDir(), Publish: pub.add}
	c := dial(t, s, r)
	cfg := &exchange.Pull{Dir: out, Complete: "done_file", After: "move", MoveTo: moveTo}
	if _, err := pl.Pull(context.Background(), c, "isp-de", cfg); err == nil {
		t.Fatal("a checksum mismatch was taken")
	}
	sum := sha256.Sum256(body)
	_ = os.WriteFile(filepath.Join(in, "d.csv.done"), []byte(hex.EncodeToString(sum[:])+"  d.csv\n"), 0o644)
	res, err := pl.Pull(context.Background(), c, "isp-de", cfg)
	if err != nil || res.Taken != 1 || res.Waiting != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(done, "d.csv")); err != nil {
		t.Fatal("the taken file was not moved aside")
	}
	if len(pub.list()) != 1 {
		t.Fatalf("published %v", pub.list())
	}
}

// TestPullSurvivesTheServerGoingAway: a download cut by the server dying
// leaves nothing in the inbox and no partial file; once the server is back
// the file is taken whole, once, and removed remotely.
func TestPullSurvivesTheServerGoingAway(t *testing.T) {
	t.Parallel()
	pool, s, r := setup(t)
	ctx := context.Background()
	in, out := folder(t, s, "out")
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<20/16) // 64 MiB
	_ = os.WriteFile(filepath.Join(in, "big_declarations.csv"), big, 0o644)
	data := t.TempDir()
	partner := filepath.Join(data, "partners", "telco-fr")
	pub := &published{}
	pl := &sftpc.Puller{Files: store.New(pool), DataDir: data, Publish: pub.add, Log: slogDiscard()}
	cfg := &exchange.Pull{Dir: out, Complete: "temp_name", After: "delete"}
	c := dial(t, s, r)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			parts, _ := filepath.Glob(filepath.Join(partner, ".uploads", "pull-*"))
			for _, p := range parts {
				if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
					s.Stop()
					return
				}
			}
		}
	}()
	res, err := pl.Pull(ctx, c, "telco-fr", cfg)
	<-stopped
	if err == nil && res.Taken == 1 {
		t.Skip("the download finished before the server could be stopped")
	}
	if got := pub.list(); len(got) != 0 {
		t.Fatalf("a cut download was published: %d files", len(got))
	}
	for _, d := range []string{"inbox", ".uploads"} {
		if entries, _ := os.ReadDir(filepath.Join(partner, d)); len(entries) != 0 {
			t.Fatalf("%s holds %d files after a cut download", d, len(entries))
		}
	}
	s.Restart()
	// The failed claim is released at once for the next round (no wait for
	// a stale claim): the puller's own failure, not a crash.
	c2 := dial(t, s, r)
	res, err = pl.Pull(ctx, c2, "telco-fr", cfg)
	if err != nil || res.Taken != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	got, err := os.ReadFile(filepath.Join(partner, "inbox", "big_declarations.csv"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("pulled %d bytes, %v", len(got), err)
	}
	if _, err := os.Stat(filepath.Join(in, "big_declarations.csv")); !os.IsNotExist(err) {
		t.Fatal("the taken file is still on the remote")
	}
	res, err = pl.Pull(ctx, c2, "telco-fr", cfg)
	if err != nil || res.Taken+res.Cleaned != 0 || len(pub.list()) != 1 {
		t.Fatalf("second round: %+v %v, published %d", res, err, len(pub.list()))
	}
}

// TestPushSurvivesTheServerGoingAway: a push cut by the server dying is
// retried once it is back, lands once under its one name, with no
// temporary file left; a second round sends nothing.
func TestPushSurvivesTheServerGoingAway(t *testing.T) {
	t.Parallel()
	pool, s, r := setup(t)
	ctx := context.Background()
	outbox := filepath.Join(t.TempDir(), "outbox")
	_ = os.MkdirAll(outbox, 0o755)
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<20/16*4) // 64 MiB
	_ = os.WriteFile(filepath.Join(outbox, "fulfillment_secureco_1.csv"), big, 0o644)
	_ = os.WriteFile(filepath.Join(outbox, "fulfillment_secureco_2.csv"), []byte("small"), 0o644)
	if n, err := sftpc.Enqueue(ctx, store.New(pool), "secureco", outbox); err != nil || n != 2 {
		t.Fatalf("enqueue: %d %v", n, err)
	}
	remote, in := folder(t, s, "in")
	c := dial(t, s, r)
	// Kill the server once the temporary file has started growing.
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if fi, err := os.Stat(filepath.Join(remote, "fulfillment_secureco_1.csv.part")); err == nil && fi.Size() > 0 {
				s.Stop()
				return
			}
		}
	}()
	res, _ := sftpc.Push(ctx, store.New(pool), c, "secureco", in, slogDiscard())
	<-stopped
	if res.Delivered == 2 {
		t.Skip("the push finished before the server could be stopped")
	}
	if _, err := os.Stat(filepath.Join(remote, "fulfillment_secureco_1.csv")); err == nil {
		t.Fatal("a cut transfer was published under its final name")
	}
	s.Restart()
	_, _ = pool.Exec(ctx, `UPDATE deliveries SET next_at = now()`)
	c2 := dial(t, s, r)
	res, err := sftpc.Push(ctx, store.New(pool), c2, "secureco", in, slogDiscard())
	if err != nil || res.Failed != 0 {
		var last string
		_ = pool.QueryRow(ctx, `SELECT string_agg(last_error, '; ') FROM deliveries`).Scan(&last)
		t.Fatalf("%+v %v: %s", res, err, last)
	}
	got, err := os.ReadFile(filepath.Join(remote, "fulfillment_secureco_1.csv"))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("delivered %d bytes, %v", len(got), err)
	}
	entries, _ := os.ReadDir(remote)
	if len(entries) != 2 {
		t.Fatalf("the remote folder holds %d files", len(entries))
	}
	if n, _ := sftpc.Enqueue(ctx, store.New(pool), "secureco", outbox); n != 0 {
		t.Fatal("a delivered file was queued again")
	}
	var pending int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE state <> 'delivered'`).Scan(&pending)
	if pending != 0 {
		t.Fatalf("%d deliveries pending", pending)
	}
	res, err = sftpc.Push(ctx, store.New(pool), c2, "secureco", in, slogDiscard())
	if err != nil || res.Delivered+res.Failed != 0 {
		t.Fatalf("second round: %+v %v", res, err)
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
