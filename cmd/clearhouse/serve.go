package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/pipeline"
	"github.com/clearhouse/clearhouse/internal/sftpd"
)

// ServeFlags configure the long-running service.
type ServeFlags struct {
	SFTPAddr       string        `name:"sftp-addr" env:"CLEARHOUSE_SFTP_ADDR" default:"127.0.0.1:2222" help:"SFTP listen address for partners."`
	HTTPAddr       string        `name:"http-addr" env:"CLEARHOUSE_HTTP_ADDR" default:"127.0.0.1:8080" help:"HTTP listen address (/metrics, /healthz, /readyz)."`
	AllowPasswords bool          `name:"sftp-allow-passwords" env:"CLEARHOUSE_SFTP_ALLOW_PASSWORDS" help:"Accept password logins of partners that have a password_hash (off: keys only)."`
	MaxUploadMB    int64         `name:"sftp-max-upload-mb" env:"CLEARHOUSE_SFTP_MAX_UPLOAD_MB" default:"2048" help:"Largest upload accepted, in MB."`
	IdleTimeout    time.Duration `name:"sftp-idle-timeout" env:"CLEARHOUSE_SFTP_IDLE_TIMEOUT" default:"10m" help:"Close SFTP connections idle this long."`
	MaxSessions    int           `name:"sftp-max-sessions" env:"CLEARHOUSE_SFTP_MAX_SESSIONS" default:"4" help:"Concurrent SFTP sessions per partner (a partner's max_sessions overrides)."`
	MaxTotal       int           `name:"sftp-max-total-sessions" env:"CLEARHOUSE_SFTP_MAX_TOTAL_SESSIONS" default:"64" help:"Concurrent SFTP sessions in all (each active upload holds about 16 MiB)."`
	Workers        int           `name:"intake-workers" env:"CLEARHOUSE_INTAKE_WORKERS" default:"2" help:"Files processed at once by this instance."`
	ScanEvery      time.Duration `name:"intake-scan" env:"CLEARHOUSE_INTAKE_SCAN" default:"30s" help:"How often inboxes are scanned for files missed."`
	JobTimeout     time.Duration `name:"job-timeout" env:"CLEARHOUSE_JOB_TIMEOUT" default:"30m" help:"Longest a job (one file) may run."`
	RescueAfter    time.Duration `name:"job-rescue-after" env:"CLEARHOUSE_JOB_RESCUE_AFTER" default:"31m" help:"When a job still running (its instance died) is given to another instance; more than --job-timeout."`
	DeadAfter      time.Duration `name:"instance-dead-after" env:"CLEARHOUSE_INSTANCE_DEAD_AFTER" default:"15s" help:"An instance silent this long (killed, machine lost) has its running jobs given to the others."`
	DrainTimeout   time.Duration `name:"drain-timeout" env:"CLEARHOUSE_DRAIN_TIMEOUT" default:"30s" help:"On SIGTERM, how long running jobs may take to finish before they are cancelled (and retried elsewhere)."`
}

// ServeCmd runs the service.
type ServeCmd struct {
	ServeFlags `embed:""`
}

func (c *ServeCmd) Run(ctx context.Context, g *Globals) error {
	return g.withDB(ctx, true, func(e *env) error {
		ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return serve(ctx, g, e, c.ServeFlags, os.Stdout)
	})
}

// serve runs the SFTP server, the job workers, the inbox scan, the
// scheduler and the HTTP endpoints until ctx ends, then drains.
func serve(ctx context.Context, g *Globals, e *env, f ServeFlags, out *os.File) error {
	srv, err := pipeline.NewServer(e.pool, g.DataDir, g.log, g.ingestSettings(), pipeline.Serve{
		SFTP: sftpd.Config{Addr: f.SFTPAddr, AllowPasswords: f.AllowPasswords, MaxUploadBytes: f.MaxUploadMB << 20, IdleTimeout: f.IdleTimeout,
			MaxSessions: f.MaxSessions, MaxTotalSessions: f.MaxTotal},
		HTTPAddr: f.HTTPAddr, Workers: f.Workers, ScanEvery: f.ScanEvery, JobTimeout: f.JobTimeout, RescueAfter: f.RescueAfter,
		DeadAfter: f.DeadAfter, DrainTimeout: f.DrainTimeout, BillingBatch: g.BillingBatch,
	})
	if err != nil {
		return err
	}
	db := "local cluster in " + filepath.Join(g.DataDir, "pg")
	if g.DatabaseURL != "" {
		db = redact(g.DatabaseURL)
	}
	g.log.Info("serve starting", "database", db, "data_dir", g.DataDir, "sftp_addr", srv.SFTPAddr(), "http_addr", srv.HTTPAddr(),
		"instance", srv.Runner.ID, "workers", f.Workers, "scan", f.ScanEvery, "job_timeout", f.JobTimeout, "dead_after", f.DeadAfter,
		"sftp_passwords", f.AllowPasswords, "config", string(g.Config))
	return srv.Run(ctx, func() {
		fmt.Fprintf(out, `serving
  sftp:    %s   host key %s
  http:    http://%s/metrics   /healthz   /readyz
  client key for partners' servers: %s
`, srv.SFTPAddr(), srv.HostKey(), srv.HTTPAddr(), srv.ClientPublicKey())
	})
}

// SFTPCmd holds the SFTP helper commands.
type SFTPCmd struct {
	Keys         SFTPKeysCmd         `cmd:"" help:"Print the server's host key fingerprint (partners pin it) and Clearhouse's client public key (partners authorise it)."`
	HashPassword SFTPHashPasswordCmd `cmd:"" name:"hash-password" help:"Read a password on stdin and print its argon2id hash, for a partner's password_hash."`
}

// errNoKeys: a data folder without SFTP keys (most often the wrong one).
var errNoKeys = errors.New("no SFTP keys")

type SFTPKeysCmd struct {
	Create bool `help:"Make the keys when the data folder has none (serve makes them on its first start). A new host key is not the one partners pinned."`
}

// Run prints the keys. A data folder without them is most often the wrong
// --data-dir: printing a fingerprint just made would hand partners a key
// that no running server has, so they are made only when asked, and said.
func (c SFTPKeysCmd) Run(g *Globals) error {
	paths := []string{filepath.Join(g.DataDir, "sftp", "host_ed25519_key"), filepath.Join(g.DataDir, "sftp", "client_ed25519_key")}
	var missing []string
	for _, p := range paths {
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 && !c.Create {
		return fmt.Errorf("%w: no key at %s: is --data-dir %s the server's? `clearhouse serve` makes the keys on its first start; pass --create to make them here",
			errNoKeys, strings.Join(missing, " and "), g.DataDir)
	}
	host, err := sftpd.LoadOrCreateKey(paths[0])
	if err != nil {
		return err
	}
	client, err := sftpd.LoadOrCreateKey(paths[1])
	if err != nil {
		return err
	}
	for _, p := range missing {
		fmt.Fprintf(os.Stderr, "made a new key: %s\n", p)
	}
	fmt.Printf("host key:   %s\n            %s", ssh.FingerprintSHA256(host.PublicKey()), ssh.MarshalAuthorizedKey(host.PublicKey()))
	fmt.Printf("client key: %s", ssh.MarshalAuthorizedKey(client.PublicKey()))
	return nil
}

type SFTPHashPasswordCmd struct{}

func (SFTPHashPasswordCmd) Run() error {
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return fmt.Errorf("no password on stdin (%v)", err)
	}
	fmt.Println(sftpd.HashPassword(pw))
	return nil
}
