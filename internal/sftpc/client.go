// Package sftpc talks to partners' own SFTP servers: pull their files from
// a folder (complete ones only, each once, across restarts), and push files
// to them (temporary name, then rename; never twice, never under two
// names). Every server is pinned by its host key's fingerprint.
package sftpc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/world"
)

// ErrHostKey is a server whose host key is not the pinned one.
var ErrHostKey = errors.New("host key mismatch")

// Conn is a connection to a partner's server.
type Conn struct {
	SSH  *ssh.Client
	SFTP *sftp.Client
}

func (c *Conn) Close() error {
	c.SFTP.Close()
	return c.SSH.Close()
}

// Auth is how Clearhouse logs in: a key (its own client key by default), or
// a password from the environment.
type Auth struct {
	Key      ssh.Signer
	Password string
}

// AuthFor resolves a remote's login: its key_file, else the default key;
// its password_env, if set.
func AuthFor(r *world.Remote, defaultKey ssh.Signer) (Auth, error) {
	a := Auth{Key: defaultKey}
	if r.KeyFile != "" {
		b, err := os.ReadFile(r.KeyFile)
		if err != nil {
			return a, err
		}
		if a.Key, err = ssh.ParsePrivateKey(b); err != nil {
			return a, fmt.Errorf("%s: %w", r.KeyFile, err)
		}
	}
	if r.PasswordEnv != "" {
		a.Password = os.Getenv(r.PasswordEnv)
		if a.Password == "" {
			return a, fmt.Errorf("the environment variable %s (password_env) is empty", r.PasswordEnv)
		}
	}
	return a, nil
}

// Dial connects to r. A server whose host key does not have the pinned
// fingerprint is refused before any authentication.
func Dial(ctx context.Context, r *world.Remote, auth Auth) (*Conn, error) {
	if r.HostKey == "" {
		return nil, fmt.Errorf("%s: no host key pinned: refusing to connect", r.Address)
	}
	var methods []ssh.AuthMethod
	if auth.Key != nil {
		methods = append(methods, ssh.PublicKeys(auth.Key))
	}
	if auth.Password != "" {
		methods = append(methods, ssh.Password(auth.Password))
	}
	cfg := &ssh.ClientConfig{
		User: r.User,
		Auth: methods,
		HostKeyCallback: func(host string, _ net.Addr, key ssh.PublicKey) error {
			if got := ssh.FingerprintSHA256(key); got != r.HostKey {
				return fmt.Errorf("%w: %s presented %s, but %s is pinned: refusing to connect", ErrHostKey, host, got, r.HostKey)
			}
			return nil
		},
		Config:  ssh.Config{Ciphers: []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr"}},
		Timeout: 30 * time.Second,
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", r.Address)
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, r.Address, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("%s: %w", r.Address, err)
	}
	sc := ssh.NewClient(c, chans, reqs)
	// Concurrent writes of 255 KiB: the default sequential 32 KB writes reach
	// half OpenSSH's speed, and OpenSSH closes the connection on a message
	// over 256 KiB, header included.
	fc, err := sftp.NewClient(sc, sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true), sftp.MaxPacketUnchecked(261120))
	if err != nil {
		sc.Close()
		return nil, err
	}
	return &Conn{SSH: sc, SFTP: fc}, nil
}

// hashFile returns the size and sha256 of a local file.
func hashFile(path string) (int64, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, nil, err
	}
	return n, h.Sum(nil), nil
}
