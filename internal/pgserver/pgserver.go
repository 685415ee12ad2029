// Package pgserver runs a local PostgreSQL cluster from the server binaries
// installed on the machine (Debian's postgresql package): for `make run`
// without DATABASE_URL, and one throwaway cluster per test run. initdb and
// postgres refuse to run as root, so as root they run as the postgres user.
package pgserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoCluster is returned by Start when the data directory holds no
// cluster and Options.Create is not set.
var ErrNoCluster = errors.New("no PostgreSQL cluster")

// ErrNoBinaries is returned when no PostgreSQL server binaries are installed.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (install Debian's postgresql package, set PG_BINDIR, or set DATABASE_URL)")

// SuperUser is the superuser that initdb creates in clusters made here.
const SuperUser = "clearhouse"

// Options configure a cluster.
type Options struct {
	// DataDir holds the cluster.
	DataDir string
	// Create makes the cluster with initdb when DataDir holds none;
	// without it Start only starts (or attaches to) a cluster made before,
	// and returns ErrNoCluster, creating nothing, when there is none.
	Create bool
	// Ephemeral trades durability for speed (fsync off): for test clusters.
	Ephemeral bool
	// BinDir overrides where initdb and postgres are found.
	BinDir string
}

// Server is a running cluster.
type Server struct {
	DataDir  string
	Port     int
	cmd      *exec.Cmd
	done     chan error
	attached bool
	users    *os.File // a shared lock held while this process uses the cluster
}

// FindBinDir returns the directory holding initdb and postgres: $PG_BINDIR,
// the newest /usr/lib/postgresql/*/bin, or the directory of initdb on PATH.
func FindBinDir() (string, error) {
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoBinaries
}

func version(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// Start starts the cluster in opts.DataDir, making it first if opts.Create
// is set. If a postmaster is already running on that directory, Start
// attaches to it and Stop leaves it running.
func Start(ctx context.Context, opts Options) (*Server, error) {
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	// Commands started at once start it once: the others wait, then attach.
	if opts.Create {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(dir); err == nil || opts.Create {
		if unlock, err := lockDir(dir); err == nil {
			defer unlock()
		}
	}
	if port, ok := running(dir); ok {
		s := &Server{DataDir: dir, Port: port, attached: true, users: useDir(dir)}
		return s, s.wait(ctx)
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if !opts.Create { // checked before anything is made: not even the folder
			return nil, fmt.Errorf("%s: %w", dir, ErrNoCluster)
		}
	}
	bin := opts.BinDir
	if bin == "" {
		if bin, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	cred, err := credential()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := own(dir, cred); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		args := []string{"-D", dir, "-U", SuperUser, "--auth=trust", "-E", "UTF8", "--locale=C"}
		if opts.Ephemeral {
			args = append(args, "--no-sync")
		}
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("initdb %s: %w\n%s", dir, err, out)
		}
	}
	for attempt := 0; ; attempt++ {
		s, err := launch(ctx, bin, dir, cred, opts.Ephemeral)
		if err == nil {
			s.users = useDir(dir)
		}
		if err == nil || attempt == 3 {
			return s, err
		}
	}
}

func launch(ctx context.Context, bin, dir string, cred *syscall.Credential, ephemeral bool) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"-D", dir, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "shared_buffers=256MB"}
	if ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logf, err := os.OpenFile(filepath.Join(dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if cred != nil {
		_ = os.Chown(logf.Name(), int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	if ephemeral {
		// A throwaway cluster dies with the process that started it, even on a panic.
		cmd.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting postgres: %w", err)
	}
	s := &Server{DataDir: dir, Port: port, cmd: cmd, done: make(chan error, 1)}
	go func() { s.done <- cmd.Wait(); logf.Close() }()
	if err := s.wait(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%w (see %s)", err, logf.Name())
	}
	return s, nil
}

// wait polls until the server accepts connections.
func (s *Server) wait(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if s.done != nil {
			select {
			case err := <-s.done:
				s.done <- err
				return fmt.Errorf("postgres exited during start: %v", err)
			default:
			}
		}
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			c.Close(ctx)
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("postgres did not accept connections: %w", last)
}

// URL is a connection string for database db on this cluster.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", SuperUser, s.Port, db)
}

// Stop shuts the cluster down (fast shutdown), unless Start attached to a
// cluster it did not start.
//
// A cluster that other processes are using when this one is done (a command
// that attached to it meanwhile) is left running for them: stopping it
// would cut them off mid-work. `clearhouse db stop` stops it.
func (s *Server) Stop() error {
	if s.attached || s.cmd == nil {
		s.release()
		return nil
	}
	if unlock, err := lockDir(s.DataDir); err == nil {
		defer unlock() // no command attaches between the look and the stop
	}
	s.release()
	// Another process holds the users' lock from its start (or attach)
	// to its end; a session of another program (psql) counts too.
	if f, err := os.OpenFile(s.DataDir+".users", os.O_CREATE|os.O_RDWR, 0o644); err == nil {
		defer f.Close()
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
			s.attached = true
			return nil
		}
	}
	if n, err := s.otherClients(); err == nil && n > 0 {
		s.attached = true
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
		return nil
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		<-s.done
		return errors.New("postgres did not stop in 30s")
	}
}

// otherClients counts the client sessions of other processes.
func (s *Server) otherClients() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return 0, err
	}
	defer c.Close(ctx)
	var n int
	err = c.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&n)
	return n, err
}

// useDir takes a shared lock on the users' file of the cluster in dir,
// held until release (or this process's end): a process that started the
// cluster does not stop it while others hold it. nil when it cannot.
func useDir(dir string) *os.File {
	f, err := os.OpenFile(dir+".users", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH); err != nil {
		f.Close()
		return nil
	}
	return f
}

// release lets go of the users' lock.
func (s *Server) release() {
	if s.users != nil {
		s.users.Close()
		s.users = nil
	}
}

// lockDir takes the lock of the cluster in dir (a file beside it) that
// serialises starting and stopping it across processes.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}

// Detach leaves the cluster running when this process ends: Stop becomes a
// no-op and later commands attach to it.
func (s *Server) Detach() { s.attached = true }

// StopDir stops the postmaster running on dir, if any, and waits for it.
func StopDir(dir string) (bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	if _, ok := running(dir); !ok {
		return false, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return false, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return false, err
	}
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		return false, err
	}
	for range 600 {
		if syscall.Kill(pid, 0) != nil {
			return true, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false, fmt.Errorf("postgres (pid %d) did not stop in 30s", pid)
}

// running reads postmaster.pid and reports the port of a live postmaster.
func running(dir string) (int, bool) {
	f, err := os.Open(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if len(lines) < 4 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(lines[0])
	port, err2 := strconv.Atoi(lines[3])
	if err1 != nil || err2 != nil || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	return port, true
}

// credential returns the postgres user's credential when running as root.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root needs a postgres user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func own(dir string, cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
		return err
	}
	// The server user must be able to reach the data directory.
	for d := filepath.Dir(dir); d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				return err
			}
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// TestURLEnv names the variable holding a server URL shared by a test run
// (`clearhouse db exec` sets it; pgtest reads it).
const TestURLEnv = "CLEARHOUSE_TEST_DATABASE_URL"

// StartThrowaway starts a throwaway cluster (fsync off, temp directory,
// random port); the caller stops it and removes dir.
func StartThrowaway(ctx context.Context) (s *Server, dir string, err error) {
	dir, err = os.MkdirTemp("", "clearhouse-pg-")
	if err != nil {
		return nil, "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, "", err
	}
	s, err = Start(ctx, Options{DataDir: filepath.Join(dir, "data"), Ephemeral: true, Create: true})
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return s, dir, nil
}
