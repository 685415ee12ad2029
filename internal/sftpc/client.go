// Package sftpc talks to partners' own SFTP servers: pull their files from
// a folder (complete ones only, each once, across restarts), and push files
// to them (temporary name, then rename; never twice, never under two
// names). Every server is pinned by the fingerprints of its host keys.
package sftpc

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/exchange"
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
func AuthFor(r *exchange.Remote, defaultKey ssh.Signer) (Auth, error) {
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

// Dial connects to r. A server whose host key is not pinned is refused
// before any authentication.
func Dial(ctx context.Context, r *exchange.Remote, auth Auth) (*Conn, error) {
	c, chans, reqs, err := handshake(ctx, r, auth)
	if err != nil {
		return nil, err
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

// hostKeyAlgorithms are the host key algorithms of each key type, the
// types in the order a server is asked for them when a pin does not say
// its type.
var hostKeyAlgorithms = []struct {
	keyType string
	algos   []string
}{
	{ssh.KeyAlgoED25519, []string{ssh.KeyAlgoED25519}},
	{ssh.KeyAlgoECDSA256, []string{ssh.KeyAlgoECDSA256}},
	{ssh.KeyAlgoECDSA384, []string{ssh.KeyAlgoECDSA384}},
	{ssh.KeyAlgoECDSA521, []string{ssh.KeyAlgoECDSA521}},
	{ssh.KeyAlgoRSA, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}},
}

// askFor lists the key types to ask the server for, in order: those the
// pins name first; then, if a pin names none, every other type.
func askFor(pins []exchange.Pin) []string {
	var types []string
	untyped := false
	for _, p := range pins {
		if p.Type == "" {
			untyped = true
		} else if !slices.Contains(types, p.Type) {
			types = append(types, p.Type)
		}
	}
	if untyped {
		for _, h := range hostKeyAlgorithms {
			if !slices.Contains(types, h.keyType) {
				types = append(types, h.keyType)
			}
		}
	}
	return types
}

func algorithmsOf(types []string) []string {
	var algos []string
	for _, t := range types {
		for _, h := range hostKeyAlgorithms {
			if h.keyType == t {
				algos = append(algos, h.algos...)
			}
		}
	}
	return algos
}

// handshake connects and authenticates. The server is asked for the key
// types of the pins first: a server has a key of each type (a stock OpenSSH
// has ED25519, ECDSA and RSA) and shows the one the client prefers, so
// asking in x/crypto's default order got the ECDSA key of a server pinned
// by its ED25519 one. A pin that gives only a fingerprint does not say
// which key it is: the server is asked again for each other type, one
// connection each, until a key it shows is pinned or it has none left.
func handshake(ctx context.Context, r *exchange.Remote, auth Auth) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, error) {
	if len(r.HostKey) == 0 {
		return nil, nil, nil, fmt.Errorf("%s: no host key pinned: refusing to connect", r.Address)
	}
	pins := make([]exchange.Pin, 0, len(r.HostKey))
	for _, s := range r.HostKey {
		p, err := exchange.ParsePin(s)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: host_key %q: %w: refusing to connect", r.Address, s, err)
		}
		pins = append(pins, p)
	}
	var methods []ssh.AuthMethod
	if auth.Key != nil {
		methods = append(methods, ssh.PublicKeys(auth.Key))
	}
	if auth.Password != "" {
		methods = append(methods, ssh.Password(auth.Password))
	}
	types := askFor(pins)
	var presented []string // "type SHA256:…" of each key seen and not pinned
	var offered []string   // the server's host key algorithms, when it has none of those asked for
	for len(types) > 0 {
		var shown ssh.PublicKey
		cfg := &ssh.ClientConfig{
			User:              r.User,
			Auth:              methods,
			HostKeyAlgorithms: algorithmsOf(types),
			HostKeyCallback: func(host string, _ net.Addr, key ssh.PublicKey) error {
				shown = key
				fp := ssh.FingerprintSHA256(key)
				for _, p := range pins {
					if p.Fingerprint == fp {
						return nil
					}
				}
				return fmt.Errorf("%w: %s presented %s %s, which is not pinned", ErrHostKey, host, key.Type(), fp)
			},
			Config:  ssh.Config{Ciphers: []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr"}},
			Timeout: 30 * time.Second,
		}
		d := net.Dialer{Timeout: 30 * time.Second}
		nc, err := d.DialContext(ctx, "tcp", r.Address)
		if err != nil {
			return nil, nil, nil, err
		}
		c, chans, reqs, err := ssh.NewClientConn(nc, r.Address, cfg)
		if err == nil {
			return c, chans, reqs, nil
		}
		nc.Close()
		var neg *ssh.AlgorithmNegotiationError
		switch {
		case errors.Is(err, ErrHostKey) && shown != nil:
			presented = append(presented, shown.Type()+" "+ssh.FingerprintSHA256(shown))
			n := len(types)
			if types = slices.DeleteFunc(types, func(t string) bool { return t == shown.Type() }); len(types) == n {
				types = nil // a key of a type not asked for: ask no more
			}
		case errors.As(err, &neg) && neg.What == "host key":
			types, offered = nil, neg.RequestedAlgorithms // the server has no key of the types left
		default:
			return nil, nil, nil, fmt.Errorf("%s: %w", r.Address, err)
		}
	}
	if len(presented) == 0 {
		return nil, nil, nil, fmt.Errorf("%w: %s has no host key of the pinned types (it offers %s); pinned: %s: refusing to connect",
			ErrHostKey, r.Address, strings.Join(offered, ", "), strings.Join(r.HostKey, ", "))
	}
	return nil, nil, nil, fmt.Errorf("%w: %s presented %s; pinned: %s: refusing to connect",
		ErrHostKey, r.Address, strings.Join(presented, ", "), strings.Join(r.HostKey, ", "))
}
