package sftpc_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshd is Debian's OpenSSH server on a loopback port, serving internal-sftp
// chrooted (when the tests run as root, as CI does) to one key.
type sshd struct {
	t       testing.TB
	dir     string // config, keys, pid
	root    string // the chroot
	Base    string // the writable folder, as the client sees it
	Local   string // the same folder on disk
	Addr    string
	HostKey string // SHA256 fingerprint (of the first host key)
	// HostKeys are the fingerprints of each host key by type (ed25519,
	// ecdsa, rsa), when the server was started with ssh-keygen's keys.
	HostKeys map[string]string
	Client   ssh.Signer
	User     string
	cmd      *exec.Cmd
	confPath string
	log      bytes.Buffer // sshd's own messages, shown when a test fails
}

func key(t testing.TB, path string) ssh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := ssh.NewSignerFromKey(priv)
	return s
}

func freePort(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startSSHD(t testing.TB) *sshd {
	t.Helper()
	return startSSHDWithHostKeys(t)
}

// startSSHDWithHostKeys starts a server with host keys made by ssh-keygen
// of each type given (ed25519, ecdsa, rsa: a stock Debian server has the
// three), in that order in its config; with none, one ed25519 key.
func startSSHDWithHostKeys(t testing.TB, types ...string) *sshd {
	t.Helper()
	bin, err := exec.LookPath("sshd")
	if err != nil {
		if bin, err = exec.LookPath("/usr/sbin/sshd"); err != nil {
			t.Fatal("OpenSSH's sshd is needed (Debian openssh-server; .ci/run installs it)")
		}
	}
	s := &sshd{t: t, dir: t.TempDir(), Addr: freePort(t)}
	user := os.Getenv("USER")
	if os.Geteuid() == 0 {
		user = "root"
		// A chroot must be owned by root and writable by no one else, all
		// the way up: /tmp is not, /run is.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
		if s.root, err = os.MkdirTemp("/run", "clearhouse-sshd-"); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(s.root, 0o755)
		t.Cleanup(func() { os.RemoveAll(s.root) })
		s.Base, s.Local = "/data", filepath.Join(s.root, "data")
	} else {
		s.root = t.TempDir()
		s.Base = filepath.Join(s.root, "data")
		s.Local = s.Base
	}
	if user == "" {
		user = "root"
	}
	s.User = user
	if err := os.MkdirAll(s.Local, 0o755); err != nil {
		t.Fatal(err)
	}
	hostKeys := []string{filepath.Join(s.dir, "host_key")}
	if len(types) == 0 {
		host := key(t, hostKeys[0])
		s.HostKey = ssh.FingerprintSHA256(host.PublicKey())
	} else {
		hostKeys, s.HostKeys = nil, map[string]string{}
		for _, typ := range types {
			path := filepath.Join(s.dir, "ssh_host_"+typ+"_key")
			if out, err := exec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-f", path).CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -t %s: %v\n%s", typ, err, out)
			}
			b, err := os.ReadFile(path + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			pk, _, _, _, err := ssh.ParseAuthorizedKey(b)
			if err != nil {
				t.Fatal(err)
			}
			s.HostKeys[typ] = ssh.FingerprintSHA256(pk)
			hostKeys = append(hostKeys, path)
		}
		s.HostKey = s.HostKeys[types[0]]
	}
	s.Client = key(t, filepath.Join(s.dir, "client_key"))
	if err := os.WriteFile(filepath.Join(s.dir, "authorized_keys"), ssh.MarshalAuthorizedKey(s.Client.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	conf := []string{
		"Port " + port, "ListenAddress 127.0.0.1",
		"PidFile " + filepath.Join(s.dir, "sshd.pid"), "AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"StrictModes no", "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
		"PermitRootLogin prohibit-password", "AllowTcpForwarding no", "X11Forwarding no", "LogLevel ERROR",
		"Subsystem sftp internal-sftp", "ForceCommand internal-sftp",
	}
	for _, k := range hostKeys {
		conf = append(conf, "HostKey "+k)
	}
	if os.Geteuid() == 0 {
		conf = append(conf, "ChrootDirectory "+s.root)
	}
	s.confPath = filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(s.confPath, []byte(strings.Join(conf, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start(bin)
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd said:\n%s", s.log.String())
		}
	})
	return s
}

func (s *sshd) start(bin string) {
	s.t.Helper()
	s.cmd = exec.Command(bin, "-D", "-e", "-f", s.confPath)
	s.cmd.Stderr = &s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			c.Close()
			return
		}
	}
	s.t.Fatal("sshd did not start listening")
}

// Stop kills the server and every session it forked: the server going
// away mid-transfer. Sessions run in their own process sessions, so they
// are found by parentage, before the listener dies and they are orphaned.
func (s *sshd) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	for _, pid := range descendants(s.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 1 {
				pp, _ := strconv.Atoi(f[1])
				parent[p] = pp
			}
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Restart starts the same server again, same port and host key.
func (s *sshd) Restart() {
	s.t.Helper()
	bin, _ := exec.LookPath("sshd")
	if bin == "" {
		bin = "/usr/sbin/sshd"
	}
	s.start(bin)
}
