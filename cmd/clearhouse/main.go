// Command clearhouse is the one binary of Clearhouse: a batch file-exchange
// hub for reseller OEM programs. See README.md, or `clearhouse --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/clearhouse/clearhouse/internal/billing"
	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/ingest"
	"github.com/clearhouse/clearhouse/internal/pgserver"
	"github.com/clearhouse/clearhouse/internal/pipeline"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/tabular"
	"github.com/clearhouse/clearhouse/internal/world"
)

// Exit codes beyond the per-file ones documented in the README (0, 1, 2).
const (
	exitFailure = 3  // the system failed (database, disk): retry later
	exitUsage   = 64 // the command line is wrong
)

// Globals are the flags every command takes.
type Globals struct {
	Config       kong.ConfigFlag `name:"config" env:"CLEARHOUSE_CONFIG" help:"YAML file of settings, keyed by flag name (deploy/clearhouse.yaml); environment variables and flags override it."`
	DatabaseURL  string          `name:"database-url" env:"DATABASE_URL" help:"PostgreSQL URL. Unset: the local cluster under --data-dir/pg, which only run and db start make (the others exit 64 when there is none)."`
	DataDir      string          `name:"data-dir" env:"CLEARHOUSE_DATA" default:".data" help:"Folder for the archive, partners' outboxes and the local database."`
	BillingBatch int             `name:"billing-batch" env:"CLEARHOUSE_BILLING_BATCH" default:"100" help:"Resellers a billing run issues per transaction (bill, serve's billing schedule)."`
	LogLevel     string          `name:"log-level" env:"CLEARHOUSE_LOG_LEVEL" default:"warn" enum:"debug,info,warn,error" help:"Log level (logs are JSON on stderr)."`

	Limits LimitFlags `embed:"" prefix:"max-" group:"Limits on input files"`

	log *slog.Logger
}

// LimitFlags bound what one input file may cost; defaults suit real files.
type LimitFlags struct {
	FileMB   int64 `name:"file-mb" env:"CLEARHOUSE_MAX_FILE_MB" default:"2048" help:"Largest file accepted, in MB."`
	RecordKB int   `name:"record-kb" env:"CLEARHOUSE_MAX_RECORD_KB" default:"1024" help:"Longest CSV record (line), in KB."`
	FieldKB  int   `name:"field-kb" env:"CLEARHOUSE_MAX_FIELD_KB" default:"64" help:"Longest value, in KB."`
	Columns  int   `name:"columns" env:"CLEARHOUSE_MAX_COLUMNS" default:"256" help:"Most columns in a row."`
	Rows     int   `name:"rows" env:"CLEARHOUSE_MAX_ROWS" default:"20000000" help:"Most rows in a file."`
	UnzipMB  int64 `name:"unzip-mb" env:"CLEARHOUSE_MAX_UNZIP_MB" default:"2048" help:"Largest unpacked size of a workbook, in MB (zip bombs)."`
	XMLMB    int64 `name:"xml-mb" env:"CLEARHOUSE_MAX_XML_MB" default:"16" help:"Largest workbook part kept in memory, in MB; larger ones go to temporary files."`
	Strings  int   `name:"shared-strings" env:"CLEARHOUSE_MAX_SHARED_STRINGS" default:"2000000" help:"Most different texts (shared strings) in a workbook; the reader keeps about 110 bytes of each in memory."`
	Problems int   `name:"problems" env:"CLEARHOUSE_MAX_PROBLEMS" default:"10000" help:"Problems collected before a file is rejected whole."`
	InMemMB  int64 `name:"in-memory-mb" env:"CLEARHOUSE_MAX_IN_MEMORY_MB" default:"128" help:"Largest declarations CSV whose ids are all kept in memory while it is checked, in MB; a larger one is read twice, first to find the ids it repeats, so that memory does not grow with it."`
}

// Validate refuses limits that make no sense.
func (l LimitFlags) Validate() error {
	if l.FileMB < 1 || l.RecordKB < 1 || l.FieldKB < 1 || l.Columns < 1 || l.Rows < 1 || l.UnzipMB < 1 || l.XMLMB < 1 || l.Strings < 1 || l.Problems < 1 || l.InMemMB < 1 {
		return errors.New("every --max-* limit must be at least 1")
	}
	if l.FieldKB > l.RecordKB {
		return errors.New("--max-field-kb cannot exceed --max-record-kb")
	}
	return nil
}

func (l LimitFlags) tabular() tabular.Limits {
	return tabular.Limits{MaxRecordBytes: l.RecordKB << 10, MaxFieldBytes: l.FieldKB << 10, MaxFields: l.Columns, MaxRows: l.Rows,
		MaxUnzipBytes: l.UnzipMB << 20, MaxXMLBytes: min(l.XMLMB, l.UnzipMB) << 20, MaxSharedStrings: l.Strings}
}

// CLI is the command tree.
type CLI struct {
	Globals

	Migrate  MigrateCmd  `cmd:"" help:"Apply pending database migrations."`
	Apply    ApplyCmd    `cmd:"" help:"Load partners and catalogs from YAML (idempotent); prints what changed."`
	Ingest   IngestCmd   `cmd:"" help:"Process files as if uploaded by a reseller: archive, check, post, acknowledge."`
	Validate ValidateCmd `cmd:"" help:"Check files like ingest does, without writing anything."`
	Ledger   LedgerCmd   `cmd:"" help:"Ledger invariants and balances."`
	Samples  SamplesCmd  `cmd:"" help:"Sample data: generate large valid declaration files."`
	Run      RunCmd      `cmd:"" help:"Start everything on the sample world and process its drops (make run)."`
	Serve    ServeCmd    `cmd:"" help:"Run the service: SFTP server for partners, intake, pulls and pushes, /metrics."`
	Bill     BillCmd     `cmd:"" help:"Bill a month: invoices and credit notes per reseller (earlier months never billed first); --dry-run previews."`
	Invoices InvoicesCmd `cmd:"" help:"List issued invoices and credit notes, with what is open."`
	Invoice  InvoiceCmd  `cmd:"" help:"One document: credit it, show it, write its files again."`
	Status   StatusCmd   `cmd:"" help:"Recent files with their state and last error, the job queue, schedules and running instances."`
	Health   HealthCmd   `cmd:"" help:"Ask a running serve whether it is ready (GET /readyz): exit 0 if so, 1 if not (the container's health check)."`
	Replay   ReplayCmd   `cmd:"" help:"Process an archived file again, from the archive (idempotent: a finished file is left as it is)."`
	SFTP     SFTPCmd     `cmd:"" name:"sftp" help:"SFTP keys and password hashes."`
	DB       DBCmd       `cmd:"" name:"db" help:"The local PostgreSQL cluster used when DATABASE_URL is unset."`

	// benchCommands is `bench` in a binary built with -tags bench
	// (bin/clearhouse-bench, make bench), nothing in the shipped one.
	benchCommands `embed:""`
}

func main() {
	var cli CLI
	parser, err := kong.New(&cli, kong.Name("clearhouse"),
		kong.Description("Batch file-exchange hub for reseller OEM programs.\n\n"+
			"Exit codes: 0 every row accepted; 1 some rows rejected, the others posted (PARTIAL); 2 a file rejected whole or a duplicate, "+
			"or a configuration with problems; 3 the system failed (database, disk): nothing was posted, run again; 64 the command line is wrong "+
			"(an unknown partner, file or folder). With several files the highest code wins."),
		kong.Configuration(yamlConfig), kong.Exit(func(code int) {
			if code != 0 {
				code = exitUsage
			}
			os.Exit(code)
		}))
	if err != nil {
		panic(err)
	}
	kctx, err := parser.Parse(os.Args[1:])
	if err == nil {
		err = onceEach(kctx)
	}
	if err != nil {
		// The mistake and where help is, not forty lines of help.
		fmt.Fprintf(os.Stderr, "clearhouse: %v\n  clearhouse --help lists the commands and the exit codes; clearhouse COMMAND --help its flags\n", err)
		os.Exit(exitUsage)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cli.LogLevel))
	cli.log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if path := os.Getenv("CLEARHOUSE_CPUPROFILE"); path != "" { // for make bench and profiling sessions; %p is the pid
		if f, err := os.Create(strings.ReplaceAll(path, "%p", strconv.Itoa(os.Getpid()))); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	err = kctx.Run(&cli.Globals)
	pprof.StopCPUProfile()
	if path := os.Getenv("CLEARHOUSE_MEMPROFILE"); path != "" { // the heap as of the last GC
		if f, ferr := os.Create(path); ferr == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	var ec exitCode
	switch {
	case errors.As(err, &ec):
		os.Exit(int(ec))
	case errors.Is(err, errNoDatabase), isUsage(err):
		fmt.Fprintln(os.Stderr, "clearhouse:", err)
		os.Exit(exitUsage)
	case errors.Is(err, store.ErrNoHub):
		fmt.Fprintln(os.Stderr, "clearhouse:", err)
		os.Exit(2) // a configuration with problems
	case err != nil:
		fmt.Fprintln(os.Stderr, "clearhouse:", err)
		os.Exit(exitFailure)
	}
}

// isUsage tells a mistake of the command line (a partner, file or folder
// that is not there) from a failure of the system: exit 64, not 3.
func isUsage(err error) bool {
	return errors.Is(err, declare.ErrUnknownReseller) || errors.Is(err, ingest.ErrUnknownPartner) || errors.Is(err, ingest.ErrUnknownFile) ||
		errors.Is(err, world.ErrNoConfig) || errors.Is(err, errUnknownPartner) || errors.Is(err, errNoKeys) ||
		errors.Is(err, billing.ErrPeriod) || errors.Is(err, billing.ErrUnknownReseller) || errors.Is(err, billing.ErrNoDocument) ||
		errors.Is(err, billing.ErrNotAnInvoice) || errors.Is(err, billing.ErrNothingToCredit) || errors.Is(err, billing.ErrNoSuchLine) || errors.Is(err, billing.ErrNoReason)
}

// errUnknownPartner: a --partner or --reseller that the applied configuration lacks.
var errUnknownPartner = errors.New("unknown partner")

// knownPartner refuses a partner id the database does not know ("" is all).
func knownPartner(ctx context.Context, e *env, id string) error {
	if id == "" {
		return nil
	}
	ok, err := store.PartnerExists(ctx, e.pool, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w %q: it is not in the applied configuration (clearhouse status lists the partners' files)", errUnknownPartner, id)
	}
	return nil
}

// withDB runs fn on the database (connect, migrated first when migrate),
// closing it after.
func (g *Globals) withDB(ctx context.Context, migrate bool, fn func(*env) error) error {
	e, err := g.connect(ctx, migrate)
	if err != nil {
		return err
	}
	defer e.close()
	return fn(e)
}

// forPartner runs fn on the database once partner ("": all) is known.
func (g *Globals) forPartner(ctx context.Context, partner string, fn func(*env) error) error {
	return g.withDB(ctx, false, func(e *env) error {
		if err := knownPartner(ctx, e, partner); err != nil {
			return err
		}
		return fn(e)
	})
}

// exitCode ends the program with a status that is not a failure report.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// env is a connected database plus the local server, if one was started.
type env struct {
	pool   *store.Pool
	server *pgserver.Server
	url    string
	svc    *ingest.Service
}

func (e *env) close() {
	if e.svc != nil {
		e.svc.Close()
	}
	e.pool.Close()
	if e.server != nil {
		_ = e.server.Stop()
	}
}

// errNoDatabase: DATABASE_URL is unset and the data folder holds no local
// cluster. Only run and db start make one (exit 64: the command line or the
// configuration names no database).
var errNoDatabase = errors.New("no database")

// connect opens the database. Without DATABASE_URL it starts (or attaches
// to) the local cluster under data-dir, if run or db start made one there,
// and migrates it; it never makes one (errNoDatabase). With DATABASE_URL it
// refuses to run on a schema that is behind unless migrate is true.
func (g *Globals) connect(ctx context.Context, migrate bool) (*env, error) {
	return g.open(ctx, migrate, false)
}

// connectOrCreate is connect for run: without DATABASE_URL it makes the
// local cluster under data-dir when there is none yet.
func (g *Globals) connectOrCreate(ctx context.Context) (*env, error) {
	return g.open(ctx, true, true)
}

func (g *Globals) open(ctx context.Context, migrate, create bool) (*env, error) {
	e := &env{url: g.DatabaseURL}
	local := e.url == ""
	if local {
		s, err := g.startLocal(ctx, create)
		if err != nil {
			return nil, err
		}
		e.server = s
		e.url = s.URL("clearhouse")
	}
	pool, err := store.Open(ctx, e.url)
	if err != nil {
		if e.server != nil {
			_ = e.server.Stop()
		}
		return nil, err
	}
	e.pool = pool
	if local || migrate {
		if _, err := store.MigratePool(ctx, pool); err != nil {
			e.close()
			return nil, err
		}
		return e, nil
	}
	if err := store.CheckSchema(ctx, pool); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// startLocal starts (or attaches to) the local cluster under data-dir and
// makes sure it has the clearhouse database; create allows initdb.
func (g *Globals) startLocal(ctx context.Context, create bool) (*pgserver.Server, error) {
	dir := filepath.Join(g.DataDir, "pg")
	s, err := pgserver.Start(ctx, pgserver.Options{DataDir: dir, Create: create})
	if errors.Is(err, pgserver.ErrNoCluster) {
		abs, _ := filepath.Abs(dir)
		return nil, fmt.Errorf("%w: DATABASE_URL is not set and there is no local cluster in %s; "+
			"set DATABASE_URL (or --database-url) to the PostgreSQL server, or point --data-dir at the folder where "+
			"`clearhouse db start` or `clearhouse run` made one (only those two make a local cluster)", errNoDatabase, abs)
	}
	if err != nil {
		return nil, fmt.Errorf("starting the local database: %w", err)
	}
	if err := ensureDatabase(ctx, s.URL("postgres"), "clearhouse"); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("creating the clearhouse database in the local cluster: %w", err)
	}
	return s, nil
}

func ensureDatabase(ctx context.Context, adminURL, name string) error {
	return store.EnsureDatabase(ctx, adminURL, name)
}

func (g *Globals) service(e *env) *ingest.Service {
	e.svc = pipeline.NewService(e.pool, g.DataDir, g.log, g.ingestSettings(), nil, nil)
	return e.svc
}

// ingestSettings are the input limits of the flags.
func (g *Globals) ingestSettings() pipeline.Ingest {
	return pipeline.Ingest{Limits: g.Limits.tabular(), MaxFileBytes: g.Limits.FileMB << 20, MaxProblems: g.Limits.Problems, PrescanBytes: g.Limits.InMemMB << 20}
}

// onceEach refuses a flag of one value given twice on the command line:
// kong keeps the last one, and `bill --reseller a --reseller b` billed b
// alone without a word.
func onceEach(k *kong.Context) error {
	seen := map[*kong.Flag]bool{}
	for _, p := range k.Path {
		f := p.Flag
		if f == nil || p.Resolved || f.IsCumulative() || f.IsBool() || f.IsCounter() {
			continue
		}
		if seen[f] {
			return fmt.Errorf("--%s is given twice: it takes one value", f.Name)
		}
		seen[f] = true
	}
	return nil
}
