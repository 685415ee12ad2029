package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/ssh"

	"github.com/clearhouse/clearhouse/internal/intake"
	"github.com/clearhouse/clearhouse/internal/sftpc"
	"github.com/clearhouse/clearhouse/internal/sftpd"
	"github.com/clearhouse/clearhouse/internal/world"
)

// ServeFlags configure the long-running service.
type ServeFlags struct {
	SFTPAddr       string        `name:"sftp-addr" env:"CLEARHOUSE_SFTP_ADDR" default:"127.0.0.1:2222" help:"SFTP listen address for partners."`
	HTTPAddr       string        `name:"http-addr" env:"CLEARHOUSE_HTTP_ADDR" default:"127.0.0.1:8080" help:"HTTP listen address (/metrics, /healthz, /readyz)."`
	AllowPasswords bool          `name:"sftp-allow-passwords" env:"CLEARHOUSE_SFTP_ALLOW_PASSWORDS" help:"Accept password logins of partners that have a password_hash (off: keys only)."`
	MaxUploadMB    int64         `name:"sftp-max-upload-mb" env:"CLEARHOUSE_SFTP_MAX_UPLOAD_MB" default:"2048" help:"Largest upload accepted, in MB."`
	IdleTimeout    time.Duration `name:"sftp-idle-timeout" env:"CLEARHOUSE_SFTP_IDLE_TIMEOUT" default:"10m" help:"Close SFTP connections idle this long."`
	MaxSessions    int           `name:"sftp-max-sessions" env:"CLEARHOUSE_SFTP_MAX_SESSIONS" default:"4" help:"Concurrent SFTP sessions per partner (a partner's max_sessions overrides)."`
	Workers        int           `name:"intake-workers" env:"CLEARHOUSE_INTAKE_WORKERS" default:"2" help:"Files processed at once."`
	ScanEvery      time.Duration `name:"intake-scan" env:"CLEARHOUSE_INTAKE_SCAN" default:"30s" help:"How often inboxes are scanned for files missed."`
}

// ServeCmd runs the service.
type ServeCmd struct {
	ServeFlags `embed:""`
}

func (c *ServeCmd) Run(ctx context.Context, g *Globals) error {
	e, err := g.connect(ctx, true)
	if err != nil {
		return err
	}
	defer e.close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, g, e, c.ServeFlags, os.Stdout)
}

// serve runs the SFTP server, intake, pulls and pushes, and the HTTP
// endpoints until ctx ends.
func serve(ctx context.Context, g *Globals, e *env, f ServeFlags, out *os.File) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	svc := g.service(e)
	in := &intake.Intake{Service: svc, Pool: e.pool, DataDir: g.DataDir, Log: g.log}
	m := sftpd.NewMetrics(reg)
	srv, err := sftpd.New(sftpd.Config{Addr: f.SFTPAddr, DataDir: g.DataDir, HostKeyPath: filepath.Join(g.DataDir, "sftp", "host_ed25519_key"),
		AllowPasswords: f.AllowPasswords, MaxUploadBytes: f.MaxUploadMB << 20, IdleTimeout: f.IdleTimeout, MaxSessions: f.MaxSessions}, e.pool, in.Publish, m, g.log)
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return fmt.Errorf("sftp: %w", err)
	}
	ln, err := net.Listen("tcp", f.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := e.pool.Ping(ctx); err != nil {
			http.Error(w, "database: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if c, err := net.DialTimeout("tcp", srv.Addr(), 2*time.Second); err != nil {
			http.Error(w, "sftp: "+err.Error(), http.StatusServiceUnavailable)
			return
		} else {
			c.Close()
		}
		fmt.Fprintln(w, "ready")
	})
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	clientKey, err := sftpd.LoadOrCreateKey(filepath.Join(g.DataDir, "sftp", "client_ed25519_key"))
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	run := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	run(func() { _ = srv.Serve(ctx) })
	run(func() { in.Run(ctx, f.Workers, f.ScanEvery) })
	run(func() { _ = hs.Serve(ln) })
	run(func() { remotes(ctx, g, e, in, clientKey) })
	fmt.Fprintf(out, `serving
  sftp:    %s   host key %s
  http:    http://%s/metrics   /healthz   /readyz
  client key for partners' servers: %s
`, srv.Addr(), srv.Fingerprint(), ln.Addr(), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(clientKey.PublicKey()))))
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = hs.Shutdown(sctx)
	wg.Wait()
	return nil
}

// remotes pulls from and pushes to the partners' servers on their intervals.
func remotes(ctx context.Context, g *Globals, e *env, in *intake.Intake, key ssh.Signer) {
	pl := &sftpc.Puller{Pool: e.pool, DataDir: g.DataDir, Log: g.log, Publish: in.Publish}
	next := map[string]time.Time{}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		rows, err := e.pool.Query(ctx, `SELECT id, sftp FROM partners WHERE status = 'active' AND sftp LIKE '%"remote"%' ORDER BY id`)
		if err == nil {
			type partner struct{ id, settings string }
			var ps []partner
			for rows.Next() {
				var p partner
				if rows.Scan(&p.id, &p.settings) == nil {
					ps = append(ps, p)
				}
			}
			rows.Close()
			for _, p := range ps {
				st, err := world.ParseSettings(p.settings)
				if err != nil || st.Remote == nil {
					continue
				}
				exchange(ctx, g, e, pl, p.id, st.Remote, key, next)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func exchange(ctx context.Context, g *Globals, e *env, pl *sftpc.Puller, partner string, r *world.Remote, key ssh.Signer, next map[string]time.Time) {
	now := time.Now()
	pull := r.Pull != nil && !now.Before(next["pull "+partner])
	push := r.Push != nil && !now.Before(next["push "+partner])
	if push {
		if n, err := sftpc.Enqueue(ctx, e.pool, partner, filepath.Join(g.DataDir, "partners", partner, sftpd.Outbox)); err != nil {
			g.log.Error("push: queueing the outbox failed", "partner", partner, "err", err)
		} else if n == 0 {
			var due int
			_ = e.pool.QueryRow(ctx, `SELECT count(*) FROM deliveries WHERE partner_id = $1 AND state = 'pending' AND next_at <= now()`, partner).Scan(&due)
			push = due > 0
		}
	}
	if !pull && !push {
		return
	}
	log := g.log.With("partner", partner, "remote", r.Address)
	auth, err := sftpc.AuthFor(r, key)
	if err == nil {
		var c *sftpc.Conn
		if c, err = sftpc.Dial(ctx, r, auth); err == nil {
			defer c.Close()
			if pull {
				res, perr := pl.Pull(ctx, c, partner, r.Pull)
				err = errors.Join(err, perr)
				log.Info("pull", "taken", res.Taken, "waiting", res.Waiting)
			}
			if push {
				res, perr := sftpc.Push(ctx, e.pool, c, partner, r.Push.Dir, log)
				err = errors.Join(err, perr)
				log.Info("push", "delivered", res.Delivered, "failed", res.Failed)
			}
		}
	}
	if err != nil {
		log.Error("exchange with the partner's server failed; retried next interval", "err", err)
	}
	if r.Pull != nil && pull {
		next["pull "+partner] = now.Add(world.Duration(r.Pull.Every, 5*time.Minute))
	}
	if r.Push != nil && push {
		next["push "+partner] = now.Add(world.Duration(r.Push.Every, time.Minute))
	}
}

// SFTPCmd holds the SFTP helper commands.
type SFTPCmd struct {
	Keys         SFTPKeysCmd         `cmd:"" help:"Print the server's host key fingerprint (partners pin it) and Clearhouse's client public key (partners authorise it)."`
	HashPassword SFTPHashPasswordCmd `cmd:"" name:"hash-password" help:"Read a password on stdin and print its argon2id hash, for a partner's password_hash."`
}

type SFTPKeysCmd struct{}

func (SFTPKeysCmd) Run(g *Globals) error {
	host, err := sftpd.LoadOrCreateKey(filepath.Join(g.DataDir, "sftp", "host_ed25519_key"))
	if err != nil {
		return err
	}
	client, err := sftpd.LoadOrCreateKey(filepath.Join(g.DataDir, "sftp", "client_ed25519_key"))
	if err != nil {
		return err
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
