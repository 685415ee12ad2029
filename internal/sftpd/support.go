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

// throttle refuses a source address after too many failed logins in a
// window, for the rest of that window.
type throttle struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	fails  map[string][]time.Time
}

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, fails: map[string][]time.Time{}}
}

func (t *throttle) recent(ip string, now time.Time) []time.Time {
	f := t.fails[ip]
	i := 0
	for i < len(f) && now.Sub(f[i]) > t.window {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(t.fails, ip)
	} else {
		t.fails[ip] = f
	}
	return f
}

func (t *throttle) blocked(ip string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.recent(ip, time.Now())) >= t.max
}

func (t *throttle) fail(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	f := t.recent(ip, now)
	if len(f) < 4*t.max { // bounded memory per address
		t.fails[ip] = append(f, now)
	}
	if len(t.fails) > 100_000 { // bounded memory overall: forget the oldest state
		for k := range t.fails {
			delete(t.fails, k)
			if len(t.fails) < 50_000 {
				break
			}
		}
	}
}

func (t *throttle) success(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fails, ip)
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
			Help: "Connections refused because their address failed to log in too often."}),
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
