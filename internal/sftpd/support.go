package sftpd

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/ssh"
)

// LoadOrCreateKey reads an OpenSSH private key, creating an ed25519 one
// (mode 0600) on first use. It holds the host key, which must never change by
// accident or every partner's pinned fingerprint breaks, and Clearhouse's
// client key for partners' servers. Instances starting at once on one data
// folder all get the same key: it is written under a temporary name and
// linked into place, so it appears complete, and the first link wins.
func LoadOrCreateKey(path string) (ssh.Signer, error) {
	if s, err := loadKey(path); !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "clearhouse")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	if err := errors.Join(pem.Encode(f, block), f.Sync(), f.Close()); err != nil {
		return nil, err
	}
	if err := os.Link(f.Name(), path); errors.Is(err, os.ErrExist) {
		return loadKey(path) // another instance made it first
	} else if err != nil {
		return nil, err
	}
	return ssh.NewSignerFromKey(priv)
}

func loadKey(path string) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := ssh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return s, nil
}

// Password hashing: argon2id, in the PHC string form.
const (
	argonTime    = 2
	argonMemory  = 64 << 10
	argonThreads = 2
)

// dummyHash is checked for unknown users, so that a reply takes as long
// whether the user exists or not. Made on first use: hashing costs 64 MiB
// and 0.2 s, which no command but the server should pay at start.
var dummyHash = sync.OnceValue(func() string { return HashPassword("no such user") })

// HashPassword returns an argon2id hash of pw with a fresh salt.
func HashPassword(pw string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, 32)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key))
}

// CheckPassword reports whether pw matches an argon2id hash, in constant time.
func CheckPassword(hash string, pw []byte) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m > 1<<20 || t > 16 || p == 0 {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey(pw, salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// throttle counts failed logins in a sliding window twice: per source
// address and per account (the user name a client logs in as). An address
// with max failures in the window is refused for every account; an account
// with max failures, from any addresses, is refused password logins (keys
// cannot be guessed, and refusing them would let anyone lock a partner's
// automated transfers out). A successful login as account A from address X
// forgets A's own failures from X, and only those: another account's
// failures, and A's failures from other addresses, still count.
type throttle struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	addr   map[string][]failure // by address; failure.who is the account
	acct   map[string][]failure // by account; failure.who is the address
}

// failure is one failed login, at a time, by or from who.
type failure struct {
	at  time.Time
	who string
}

// Why a login is throttled.
const (
	throttledAddress = "throttled_address"
	throttledAccount = "throttled_account"
)

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, addr: map[string][]failure{}, acct: map[string][]failure{}}
}

// recent drops the failures of m[k] older than the window and returns the
// rest.
func (t *throttle) recent(m map[string][]failure, k string, now time.Time) []failure {
	f := m[k]
	i := 0
	for i < len(f) && now.Sub(f[i].at) > t.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(m, k)
	} else {
		m[k] = f
	}
	return f
}

// blocked says why a login as user from ip is refused ("" when it is not);
// password says whether it is a password login.
func (t *throttle) blocked(ip, user string, password bool) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if len(t.recent(t.addr, ip, now)) >= t.max {
		return throttledAddress
	}
	if password && len(t.recent(t.acct, user, now)) >= t.max {
		return throttledAccount
	}
	return ""
}

// fail counts a failed login as user from ip.
func (t *throttle) fail(ip, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	add := func(m map[string][]failure, k, who string) {
		f := t.recent(m, k, now)
		if len(f) < 4*t.max { // bounded memory per address and account
			m[k] = append(f, failure{now, who})
		}
		if len(m) > 100_000 { // bounded memory overall: forget some state
			for k := range m {
				delete(m, k)
				if len(m) < 50_000 {
					break
				}
			}
		}
	}
	add(t.addr, ip, user)
	add(t.acct, user, ip)
}

// success forgets the failures of user from ip (see throttle).
func (t *throttle) success(ip, user string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	drop := func(m map[string][]failure, k, who string) {
		f := m[k][:0:0]
		for _, x := range m[k] {
			if x.who != who {
				f = append(f, x)
			}
		}
		if len(f) == 0 {
			delete(m, k)
		} else {
			m[k] = f
		}
	}
	drop(t.addr, ip, user)
	drop(t.acct, user, ip)
}

// idleConn closes a connection that sees no traffic for idle.
type idleConn struct {
	net.Conn
	idle time.Duration
	m    *Metrics
}

func (c *idleConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	n, err := c.Conn.Read(b)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.m.limits.WithLabelValues("idle_timeout").Inc()
	}
	return n, err
}

func (c *idleConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(b)
}

// Metrics are the server's Prometheus metrics.
type Metrics struct {
	sessions     prometheus.Gauge
	authFailures *prometheus.CounterVec
	throttled    prometheus.Counter
	limits       *prometheus.CounterVec
	bytes        *prometheus.CounterVec
	uploads      *prometheus.CounterVec
}

// NewMetrics registers the server's metrics on r (nil: not registered).
func NewMetrics(r prometheus.Registerer) *Metrics {
	m := &Metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "clearhouse_sftp_sessions", Help: "Open SFTP sessions of partners."}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_sftp_auth_failures_total",
			Help: "Failed SFTP logins, by method."}, []string{"method"}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{Name: "clearhouse_sftp_throttled_connections_total",
			Help: "Connections refused because their address or account failed to log in too often."}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_sftp_limit_hits_total",
			Help: "Sessions or transfers stopped by a limit: sessions, upload_size, idle_timeout."}, []string{"limit"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_sftp_bytes_total",
			Help: "Bytes transferred by the SFTP server, by direction."}, []string{"direction"}),
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "clearhouse_sftp_uploads_total",
			Help: "Uploads by outcome: started, completed, interrupted, refused."}, []string{"outcome"}),
	}
	for _, l := range []string{"sessions", "upload_size", "idle_timeout"} {
		m.limits.WithLabelValues(l)
	}
	for _, o := range []string{"started", "completed", "interrupted", "refused"} {
		m.uploads.WithLabelValues(o)
	}
	if r != nil {
		r.MustRegister(m.sessions, m.authFailures, m.throttled, m.limits, m.bytes, m.uploads)
	}
	return m
}

// UploadsCounter is the counter of uploads that ended with outcome.
func UploadsCounter(m *Metrics, outcome string) prometheus.Counter {
	return m.uploads.WithLabelValues(outcome)
}

// ThrottledCounter counts connections refused for too many failed logins.
func ThrottledCounter(m *Metrics) prometheus.Counter { return m.throttled }

// LimitCounter counts sessions or transfers stopped by limit.
func LimitCounter(m *Metrics, limit string) prometheus.Counter {
	return m.limits.WithLabelValues(limit)
}
