// Package sftpd is Clearhouse's SFTP server for partners: public-key logins
// looked up through Accounts (passwords only when allowed, as argon2id
// hashes), a jailed inbox/outbox tree per partner (mailbox.Layout), atomic
// uploads handed to intake as soon as they are complete, and limits against
// abuse, each with a metric. It imports no domain package and no database
// driver: what it reads of partners is the Accounts it is given.
package sftpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/exchange"
	"github.com/clearhouse/clearhouse/internal/mailbox"
)

// Config is the server's configuration.
type Config struct {
	Addr           string        // listen address, e.g. 127.0.0.1:2222
	DataDir        string        // partners' roots are in it (mailbox.Layout)
	HostKeyPath    string        // created on first start
	AllowPasswords bool          // off by default
	MaxUploadBytes int64         // per file
	IdleTimeout    time.Duration // no traffic for this long closes the connection
	MaxSessions    int           // per partner, unless the partner sets its own
	// MaxTotalSessions caps sessions across partners: each active upload
	// holds about 16 MiB of transfer buffers, so this bounds the server's
	// memory (default 64).
	MaxTotalSessions int
	// A source address with MaxAuthFailures failed logins within
	// FailureWindow is refused; so are password logins to an account with
	// as many, from any addresses (see throttle).
	MaxAuthFailures int
	FailureWindow   time.Duration
	// KeyRecheck is how often an open connection's key is checked again:
	// one revoked (removed at apply) closes the connection (default 10 s).
	KeyRecheck time.Duration
}

func (c *Config) defaults() {
	if c.MaxUploadBytes <= 0 {
		c.MaxUploadBytes = 2 << 30
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 4
	}
	if c.MaxTotalSessions <= 0 {
		c.MaxTotalSessions = 64
	}
	if c.MaxAuthFailures <= 0 {
		c.MaxAuthFailures = 10
	}
	if c.FailureWindow <= 0 {
		c.FailureWindow = 5 * time.Minute
	}
	if c.KeyRecheck <= 0 {
		c.KeyRecheck = keyRecheckEvery
	}
}

// Server is a running SFTP server.
type Server struct {
	cfg      Config
	accounts Accounts
	publish  Published
	log      *slog.Logger
	m        *Metrics
	signer   ssh.Signer
	ln       net.Listener
	throttle *throttle
	recent   *recentUploads

	mu       sync.Mutex
	sessions map[string]int // per partner
	total    int            // across partners
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// Accounts is what the server reads of partners and their keys
// (store.Partners reads them from the database). A failed lookup other
// than an unknown key or partner refuses a login without counting it.
type Accounts interface {
	// Key is the key of a fingerprint; exchange.ErrUnknownKey when none.
	Key(ctx context.Context, fingerprint string) (exchange.Key, error)
	// Partner is a partner's status and stored settings;
	// exchange.ErrUnknownPartner when none.
	Partner(ctx context.Context, id string) (exchange.Partner, error)
	// KeyAuthorised tells whether the key of fingerprint still logs in as
	// partner; PasswordAuthorised whether partner's password still does.
	KeyAuthorised(ctx context.Context, partner, fingerprint string) (bool, error)
	PasswordAuthorised(ctx context.Context, partner string) (bool, error)
}

// New prepares a server; publish is told of every complete upload.
func New(cfg Config, accounts Accounts, publish Published, m *Metrics, log *slog.Logger) (*Server, error) {
	cfg.defaults()
	signer, err := LoadOrCreateKey(cfg.HostKeyPath)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	return &Server{cfg: cfg, accounts: accounts, publish: publish, log: log, m: m, signer: signer,
		throttle: newThrottle(cfg.MaxAuthFailures, cfg.FailureWindow), recent: newRecentUploads(), sessions: map[string]int{}, conns: map[net.Conn]struct{}{}}, nil
}

// Fingerprint is the host key's SHA256 fingerprint, for partners to pin.
func (s *Server) Fingerprint() string { return ssh.FingerprintSHA256(s.signer.PublicKey()) }

// Listen binds the address; Addr then tells the bound one (for port 0).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	return nil
}

// Addr is the address listened on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve accepts connections until ctx ends, then closes them all and waits.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	go func() {
		<-ctx.Done()
		s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
	}()
	s.log.Info("sftp server listening", "addr", s.Addr(), "host_key", s.Fingerprint())
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		ip := remoteIP(c)
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			s.handle(ctx, &idleConn{Conn: c, idle: s.cfg.IdleTimeout, m: s.m}, ip)
		}()
	}
}

func remoteIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// config is the SSH configuration: modern algorithms only. chacha20-poly1305
// is left out on purpose: x/crypto has no assembly for it on amd64 and an
// OpenSSH client picks it first when offered, at 25–40% of the throughput.
// AES-CTR stays for libssh2-based clients, which have no AES-GCM; and
// libssh2 before 1.11 (Debian 12's curl, PHP ssh2, many appliances) has no
// encrypt-then-MAC MACs either, so the plain SHA-2 HMACs are offered after
// the ETM ones (with AES-GCM no MAC is used at all).
func (s *Server) config(ip string) *ssh.ServerConfig {
	throttled := false // this connection was counted as throttled
	cfg := &ssh.ServerConfig{
		Config: ssh.Config{
			KeyExchanges: []string{"mlkem768x25519-sha256", "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384"},
			Ciphers:      []string{"aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "aes128-ctr", "aes256-ctr"},
			MACs:         []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"},
		},
		MaxAuthTries:  6,
		ServerVersion: "SSH-2.0-Clearhouse",
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if err := s.gate(ip, meta.User(), false); err != nil {
				return nil, err
			}
			return s.authKey(meta, key)
		},
		AuthLogCallback: func(meta ssh.ConnMetadata, method string, err error) {
			s.logAuth(ip, meta.User(), method, err, &throttled)
		},
	}
	if s.cfg.AllowPasswords {
		cfg.PasswordCallback = func(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
			if err := s.gate(ip, meta.User(), true); err != nil {
				return nil, err
			}
			return s.authPassword(meta, pw)
		}
	}
	cfg.AddHostKey(s.signer)
	return cfg
}

// errSystem marks a login that could not be checked (the database is
// unreachable): it is refused, but it is not a failed login and is not
// counted against the address or the account.
var errSystem = errors.New("login not checked")

// throttledError refuses a login attempt without checking it; why is
// throttledAddress or throttledAccount.
type throttledError struct{ why string }

func (e *throttledError) Error() string { return "too many failed logins (" + e.why + ")" }

// gate refuses an attempt to log in as user from ip while the address (or,
// for a password, the account) is throttled.
func (s *Server) gate(ip, user string, password bool) error {
	why := s.throttle.blocked(ip, user, password)
	if why == "" {
		return nil
	}
	return &ssh.BannerError{Err: &throttledError{why}, Message: "Too many failed logins: try again later.\n"}
}

// logAuth logs every refused attempt at warn with its reason, counts
// failures against the address and the account, and counts a throttled
// connection once in the throttled metric. A system error is logged, never
// counted as a failure.
func (s *Server) logAuth(ip, user, method string, err error, throttled *bool) {
	if err == nil || method == "none" || errors.Is(err, ssh.ErrNoAuth) {
		return
	}
	var te *throttledError
	switch {
	case errors.As(err, &te):
		if !*throttled {
			*throttled = true
			s.m.throttled.Inc()
		}
		s.log.Warn("sftp login refused", "user", user, "addr", ip, "method", method, "reason", te.why)
	case errors.Is(err, errSystem):
		s.log.Error("sftp login refused", "user", user, "addr", ip, "method", method, "reason", "system_error", "err", err)
	default:
		s.m.authFailures.WithLabelValues(method).Inc()
		s.throttle.fail(ip, user)
		s.log.Warn("sftp login refused", "user", user, "addr", ip, "method", method, "reason", "failed", "err", err)
	}
}

// authKey looks the key up by fingerprint and compares it whole. Whether
// the session is allowed is decided later from the permissions of the
// connection (what the successful method returned), never from keys seen
// here: a client may offer keys it does not hold (CVE-2024-45337).
func (s *Server) authKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	fp := ssh.FingerprintSHA256(key)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	k, err := s.accounts.Key(ctx, fp)
	if errors.Is(err, exchange.ErrUnknownKey) {
		return nil, fmt.Errorf("unknown key %s", fp)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up key %s: %w: %w", fp, errSystem, err)
	}
	want, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.AuthorizedKey))
	if err != nil || !bytes.Equal(want.Marshal(), key.Marshal()) {
		return nil, fmt.Errorf("key %s does not match", fp)
	}
	if k.Partner != meta.User() {
		return nil, fmt.Errorf("key %s is not authorised for user %q", fp, meta.User())
	}
	if !k.Active() {
		return nil, fmt.Errorf("partner %s is %s", k.Partner, k.Status)
	}
	return &ssh.Permissions{Extensions: map[string]string{"partner": k.Partner, "uploader": k.Name + " " + fp, "fingerprint": fp}}, nil
}

func (s *Server) authPassword(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pa, err := s.accounts.Partner(ctx, meta.User())
	if errors.Is(err, exchange.ErrUnknownPartner) {
		CheckPassword(dummyHash(), pw) // the same time whether the user exists or not
		return nil, errors.New("unknown user or wrong password")
	}
	if err != nil {
		return nil, fmt.Errorf("looking up partner %q: %w: %w", meta.User(), errSystem, err)
	}
	if st := pa.Settings; st.PasswordHash == "" || !CheckPassword(st.PasswordHash, pw) || !pa.Active() {
		return nil, errors.New("unknown user or wrong password")
	}
	return &ssh.Permissions{Extensions: map[string]string{"partner": meta.User(), "uploader": "password"}}, nil
}

func (s *Server) maxSessions(partner string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if pa, err := s.accounts.Partner(ctx, partner); err == nil && pa.Settings.MaxSessions > 0 {
		return pa.Settings.MaxSessions
	}
	return s.cfg.MaxSessions
}

// handle runs one connection: handshake (bounded), then sftp subsystems.
func (s *Server) handle(ctx context.Context, c net.Conn, ip string) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(c, s.config(ip))
	if err != nil {
		s.logHandshake(ip, err)
		return
	}
	defer conn.Close()
	_ = c.SetDeadline(time.Time{})
	go ssh.DiscardRequests(reqs)
	partner, uploader := conn.Permissions.Extensions["partner"], conn.Permissions.Extensions["uploader"]
	if partner == "" {
		return
	}
	s.throttle.success(ip, partner)
	log := s.log.With("partner", partner, "uploader", uploader, "addr", ip)

	limit := s.maxSessions(partner) // a database query: not under the lock every connection takes
	s.mu.Lock()
	over, full := s.sessions[partner] >= limit, s.total >= s.cfg.MaxTotalSessions
	if !over && !full {
		s.sessions[partner]++
		s.total++
	}
	s.mu.Unlock()
	if over || full {
		why, msg := "sessions", "too many concurrent sessions for "+partner+"; try again when one ends"
		if full {
			why, msg = "total_sessions", "the server is busy; try again in a minute"
		}
		s.m.limits.WithLabelValues(why).Inc()
		log.Warn("sftp session refused", "limit", why)
		for nc := range chans {
			_ = nc.Reject(ssh.ResourceShortage, msg)
		}
		return
	}
	defer func() {
		s.mu.Lock()
		s.sessions[partner]--
		s.total--
		s.mu.Unlock()
	}()
	s.m.sessions.Inc()
	defer s.m.sessions.Dec()
	log.Info("sftp login")
	watch, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go s.watchKey(watch, conn, partner, conn.Permissions.Extensions["fingerprint"])

	dir, err := mailbox.Layout{DataDir: s.cfg.DataDir}.Create(partner)
	if err != nil {
		log.Error("sftp: cannot create the partner's folders", "err", err)
		return
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		log.Error("sftp: cannot open the partner's root", "err", err)
		return
	}
	defer root.Close()
	pfs := &partnerFS{partner: partner, uploader: uploader, dir: dir, root: root, maxSize: s.cfg.MaxUploadBytes, publish: s.publish, log: log, m: s.m,
		doneFiles: s.waitsForDone(partner), recent: s.recent}

	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sftp sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.Close()
			subsystem := make(chan bool, 1)
			go func() {
				for req := range chReqs {
					ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
					_ = req.Reply(ok, nil)
					if ok {
						select {
						case subsystem <- true:
						default:
						}
					}
				}
				close(subsystem)
			}()
			if !<-subsystem {
				return
			}
			rs := sftp.NewRequestServer(ch, pfs.handlers(), sftp.WithRSAllocator(), sftp.WithStartDirectory("/"))
			if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
				log.Debug("sftp session ended", "err", err)
			}
			rs.Close()
		}()
	}
}

// logHandshake says why a handshake failed. A client that shares no
// algorithm with the server is a partner who cannot connect, and what it
// offered is what tells an operator why: a warning. Anything else (a port
// scan, a cut connection, a failed login) stays at debug.
func (s *Server) logHandshake(ip string, err error) {
	var neg *ssh.AlgorithmNegotiationError
	if errors.As(err, &neg) {
		s.log.Warn("ssh handshake failed: no common algorithm", "addr", ip, "what", neg.What,
			"peer_offered", strings.Join(neg.RequestedAlgorithms, ","), "we_offered", strings.Join(neg.SupportedAlgorithms, ","))
		return
	}
	s.log.Debug("ssh handshake failed", "addr", ip, "err", err)
}
