// Package ingest composes the stages a received file goes through: archive
// the raw bytes, register the file (duplicates by content), read and check
// every row, post the accepted ones in one transaction (declarations,
// customers, subscriptions, a balanced journal entry, the fulfillment
// outbox), and acknowledge to the sender's outbox. A failure at any point
// leaves all of a file's effects or none.
package ingest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/clearhouse/clearhouse/internal/archive"
	"github.com/clearhouse/clearhouse/internal/declare"
	"github.com/clearhouse/clearhouse/internal/mailbox"
	"github.com/clearhouse/clearhouse/internal/money"
	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/store"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// File statuses, as acknowledged to the sender.
const (
	Accepted  = "ACCEPTED"
	Partial   = "PARTIAL"
	Rejected  = "REJECTED"
	Duplicate = "DUPLICATE"
)

// CodeFileTooLarge rejects a file over the size limit.
const CodeFileTooLarge problem.Code = "FILE_TOO_LARGE"

// ErrFileTooLarge is its cause.
var ErrFileTooLarge = errors.New("file too large")

// ErrUnknownPartner is returned for a sender that is not a configured reseller.
var ErrUnknownPartner = errors.New("unknown reseller")

// Service runs files through the pipeline.
type Service struct {
	Pool    *store.Pool
	Archive *archive.Store
	// DataDir holds the partners' outboxes (mailbox.Layout).
	DataDir string
	Limits  tabular.Limits
	// MaxFileBytes rejects larger files whole (0: 2 GiB).
	MaxFileBytes int64
	// MaxProblems caps the problems collected per file (0: 10,000).
	MaxProblems int
	Log         *slog.Logger
	// FailAt, when set, is called at named points of posting; an error it
	// returns aborts the file there (tests prove nothing is left behind).
	FailAt func(point string) error
	// Finished, when set, is called in the transaction that finishes a
	// file (posted, rejected or duplicate): serve queues the file's ack job
	// there, so the ack follows whatever happens to this process.
	Finished func(ctx context.Context, tx store.Tx, fileID int64, partner string) error
	// Stage, when set, is told how long each stage of a file took:
	// archive, register, the stages of posting (check+copy, entry,
	// subscriptions, customers, outbox, commit) and ack.
	Stage func(stage string, seconds float64)
	// BatchSize and Workers tune the declarations checker (0: its
	// defaults); tests prove the outcome does not depend on them.
	BatchSize, Workers int
	// PrescanBytes: a CSV at least this large is read twice, first to find
	// which ids its rows repeat and where for the last time
	// (declare.Prescan), so that the check's memory does not grow with the
	// file (0: 128 MB; <0: never).
	PrescanBytes int64

	lookupsOnce sync.Once
	lookups     *store.Pool
	lookupsErr  error
}

// New is a Service on pool for the data folder dataDir, its archive there
// (ArchiveIn), every other setting at its default.
func New(pool *store.Pool, dataDir string) *Service {
	return &Service{Pool: pool, Archive: ArchiveIn(dataDir), DataDir: dataDir}
}

// ArchiveIn is the archive of the data folder dataDir: dataDir/archive.
func ArchiveIn(dataDir string) *archive.Store {
	return &archive.Store{Dir: filepath.Join(dataDir, "archive")}
}

// lookupPool returns the pool that history lookups use. It is separate from
// Pool: a file's transaction holds a connection (and the reseller lock)
// while its rows are looked up, so sharing one pool would let concurrent
// files exhaust it and wait on each other forever.
func (s *Service) lookupPool(ctx context.Context) (*store.Pool, error) {
	s.lookupsOnce.Do(func() {
		s.lookups, s.lookupsErr = store.LookupPool(context.WithoutCancel(ctx), s.Pool)
	})
	return s.lookups, s.lookupsErr
}

// Close releases what the service opened (not Pool, which the caller owns).
func (s *Service) Close() {
	if s.lookups != nil {
		s.lookups.Close()
	}
}

// Request names a file to process.
type Request struct {
	Partner  string
	Path     string // the file on disk
	Name     string // the name it was sent under (default: base of Path)
	Kind     string // declarations or customers; "" guesses from the name
	Uploader string // who sent it (SFTP key fingerprint, "cli", ...)
	Sheet    string // the worksheet to read, over the reseller's declared one
	// UploadKey names this upload across retries (the intake job's id): a
	// record registered under it is taken up again, never made twice.
	UploadKey string
	// Transferred: the file arrived by a transfer (an SFTP upload, a pull),
	// which can be cut short at a line boundary and still close normally: a
	// CSV whose last line has no line end is rejected whole as truncated.
	// Off for files read locally, where exports often lack the last one.
	Transferred bool
	// Expect is what the sender's done file declares of the file (its
	// sha256, its rows): a file that does not match is rejected whole.
	Expect *Expect
	// FileID takes up a registered file (replay).
	FileID int64
	// spooled is the file already read (a workbook, decoded before the
	// reseller's lock was taken): the check replays it.
	spooled tabular.Reader
	// Progress, when set, is told how many bytes of the file were read so
	// far and its size, as reading goes (for a terminal's progress line).
	Progress func(read, size int64)
}

// Outcome is what happened to a file.
type Outcome struct {
	FileID       int64
	Name         string
	Kind         string
	Status       string
	Rows         int
	Accepted     int
	Rejected     int
	Currency     money.Currency
	Amount       int64
	DuplicateOf  int64
	Problems     []*problem.Problem
	AckPath      string
	RejectsPath  string // when the file had errors: the rows to fix
	WarningsPath string // when it had warnings
}

// ExitCode is the documented exit status for scripts: 0 every row accepted,
// 1 some rows rejected, 2 the file rejected whole or a duplicate.
func (o *Outcome) ExitCode() int {
	switch o.Status {
	case Accepted:
		return 0
	case Partial:
		return 1
	}
	return 2
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

func (s *Service) fail(point string) error {
	if s.FailAt == nil {
		return nil
	}
	if err := s.FailAt(point); err != nil {
		return fmt.Errorf("injected failure at %s: %w", point, err)
	}
	return nil
}

func (s *Service) maxProblems() int {
	if s.MaxProblems > 0 {
		return s.MaxProblems
	}
	return 10_000
}

func (s *Service) maxFileBytes() int64 {
	if s.MaxFileBytes > 0 {
		return s.MaxFileBytes
	}
	return 2 << 30
}

// Kind returns the file kind for a name: customers if it matches the
// customers layout's patterns, else declarations.
func Kind(name string) string {
	if schema.MustLoad("customers").MatchesName(name) {
		return "customers"
	}
	return "declarations"
}

func (r *Request) normalize() error {
	if r.Name == "" {
		r.Name = filepath.Base(r.Path)
	}
	if r.Kind == "" {
		r.Kind = Kind(r.Name)
	}
	if r.Kind != "declarations" && r.Kind != "customers" {
		return fmt.Errorf("unknown file kind %q (declarations or customers)", r.Kind)
	}
	if r.Uploader == "" {
		r.Uploader = "cli"
	}
	return nil
}

// Ingest archives, registers, checks and posts a file, then writes its
// acknowledgement. Errors are failures of the system (database, disk), not
// of the file: a bad file is an Outcome with status REJECTED.
//
// A request with an UploadKey (the intake job carrying the upload) or a
// FileID (a replay) that names a file already registered goes on with that
// record, from the archived bytes: a retry after the commit only writes the
// ack again (the same), it never registers the upload a second time.
func (s *Service) Ingest(ctx context.Context, req Request) (*Outcome, error) {
	if err := req.normalize(); err != nil {
		return nil, err
	}
	if s.Finished == nil {
		// No queue to write the acks of files finished by an attempt that
		// died before writing them (the CLI): write them now.
		if err := s.ackPending(ctx, req.Partner); err != nil {
			return nil, err
		}
	}
	reg, err := s.resume(ctx, req)
	if err != nil {
		return nil, err
	}
	if reg.id == 0 {
		f, err := os.Open(req.Path)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", req.Path, err)
		}
		t := time.Now()
		reg.blob, err = s.Archive.Put(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("archiving %s: %w", req.Name, err)
		}
		t = s.stageDone("archive", t)
		if reg, err = s.register(ctx, req, reg.blob); err != nil {
			return nil, err
		}
		s.stageDone("register", t)
	}
	log := s.log().With("file_id", reg.id, "partner", req.Partner, "file", reg.name)
	switch {
	case reg.fresh && reg.state == "duplicate":
		log.Info("duplicate file: this content was posted before")
	case reg.finished():
		log.Info("file already finished by an earlier attempt: acknowledging it", "state", reg.state)
	default:
		log.Info("file registered", "size", reg.blob.Size, "sha256", reg.blob.Hex(), "kind", reg.kind)
		preq := req
		preq.Name, preq.Kind, preq.Sheet = reg.name, reg.kind, reg.sheet
		if err := s.process(ctx, preq, reg.blob, reg.id); err != nil {
			s.recordError(ctx, reg.id, err)
			log.Error("processing failed; the file stays received and can be replayed", "err", err)
			return nil, fmt.Errorf("processing file %d: %w", reg.id, err)
		}
	}
	t := time.Now()
	if err := s.AckOnce(ctx, reg.id); err != nil {
		return nil, fmt.Errorf("writing the acknowledgement of file %d: %w", reg.id, err)
	}
	s.stageDone("ack", t)
	return s.Outcome(ctx, reg.id)
}

func (s *Service) finished(ctx context.Context, tx store.Tx, fileID int64, partner string) error {
	if s.Finished == nil {
		return nil
	}
	return s.Finished(ctx, tx, fileID, partner)
}

// stageDone reports a stage begun at start and returns now.
func (s *Service) stageDone(stage string, start time.Time) time.Time {
	now := time.Now()
	if s.Stage != nil {
		s.Stage(stage, now.Sub(start).Seconds())
	}
	return now
}

// registration is a file's record as this attempt found or made it.
type registration struct {
	id                int64
	state             string
	fresh             bool // made by this attempt
	name, kind, sheet string
	blob              archive.Blob
}

func registrationOf(f store.FileRecord, fresh bool) registration {
	return registration{id: f.ID, state: f.State, fresh: fresh, name: f.Name, kind: f.Kind, sheet: f.Sheet,
		blob: archive.Blob{SHA256: f.SHA256, Size: f.Size}}
}

func (r registration) finished() bool {
	return store.FileRecord{State: r.state}.Finished()
}

// resume finds the record of an upload registered by an earlier attempt:
// by its key (the intake job's) or its id (a replay). The zero
// registration when there is none.
func (s *Service) resume(ctx context.Context, req Request) (registration, error) {
	switch {
	case req.FileID != 0:
		f, ok, err := store.FileOfPartner(ctx, s.Pool, req.Partner, req.FileID)
		if err != nil {
			return registration{}, fmt.Errorf("finding the record of upload %s: %w", req.UploadKey, err)
		}
		if !ok {
			return registration{}, fmt.Errorf("%w: file %d of %s", ErrUnknownFile, req.FileID, req.Partner)
		}
		return registrationOf(f, false), nil
	case req.UploadKey != "":
		f, ok, err := store.FileByUploadKey(ctx, s.Pool, req.Partner, req.UploadKey)
		if err != nil {
			return registration{}, fmt.Errorf("finding the record of upload %s: %w", req.UploadKey, err)
		}
		if !ok {
			return registration{}, nil
		}
		return registrationOf(f, false), nil
	}
	return registration{}, nil
}

// Registered tells whether an upload with this key has a file record.
func (s *Service) Registered(ctx context.Context, partner, key string) (bool, error) {
	ok, err := store.UploadRegistered(ctx, s.Pool, partner, key)
	if err != nil {
		return false, fmt.Errorf("finding the record of upload %s: %w", key, err)
	}
	return ok, nil
}

// ErrUnknownFile is a replay of a file id that was never registered.
var ErrUnknownFile = errors.New("no such file")

// register records the upload. The same content already posted by the same
// partner is recorded as a duplicate at once; the same content received by
// the CLI but never finished (a crash) resumes under its first id. An upload
// with a key is always its own record: two uploads of the same bytes at once
// are told apart when they are checked, under the reseller lock.
func (s *Service) register(ctx context.Context, req Request, blob archive.Blob) (registration, error) {
	var reg registration
	nf := store.NewFile{Partner: req.Partner, Kind: req.Kind, Name: req.Name, Size: blob.Size, SHA256: blob.SHA256[:],
		Uploader: req.Uploader, Sheet: req.Sheet, UploadKey: req.UploadKey}
	err := store.BeginFunc(ctx, s.Pool, func(tx store.Tx) error {
		if kind, err := store.PartnerKind(ctx, tx, req.Partner); err != nil || kind != "reseller" {
			return fmt.Errorf("%w %q (is it in the configuration you applied?)", ErrUnknownPartner, req.Partner)
		}
		posted, err := store.PostedFile(ctx, tx, req.Partner, blob.SHA256[:])
		if err != nil {
			return err
		}
		if posted != 0 {
			f, err := store.InsertDuplicateFile(ctx, tx, nf, posted)
			if err != nil {
				return err
			}
			reg = registrationOf(f, true)
			return s.finished(ctx, tx, reg.id, req.Partner)
		}
		if req.UploadKey == "" {
			f, ok, err := store.ResumableFile(ctx, tx, req.Partner, blob.SHA256[:])
			if err != nil {
				return err
			}
			if ok {
				reg = registrationOf(f, false)
				return nil // an earlier attempt did not finish: resume it
			}
		}
		f, err := store.InsertFile(ctx, tx, nf)
		reg = registrationOf(f, true)
		return err
	})
	if err != nil {
		return reg, fmt.Errorf("registering %s: %w", req.Name, err)
	}
	return reg, nil
}

// recordError notes on an unfinished file why processing it failed (best
// effort: the failure itself is what the caller reports).
func (s *Service) recordError(ctx context.Context, id int64, cause error) {
	_ = store.RecordFileError(context.WithoutCancel(ctx), s.Pool, id, cause.Error())
}

// Validate runs every check of Ingest on a file without writing anything:
// no archive, no file record, no outbox. The report is the same.
func (s *Service) Validate(ctx context.Context, req Request) (*Outcome, error) {
	if err := req.normalize(); err != nil {
		return nil, err
	}
	f, err := os.Open(req.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	reseller, catalog, err := declare.LoadReseller(ctx, resellers{s.Pool}, req.Partner)
	if err != nil {
		return nil, err
	}
	// The dry run predicts the real outcome: the same bytes posted before
	// would be a DUPLICATE. Only a file of the size of a posted one can be:
	// the others are not read an extra time to be hashed.
	if same, err := store.PostedOfSize(ctx, s.Pool, req.Partner, fi.Size()); err != nil {
		return nil, err
	} else if same {
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return nil, fmt.Errorf("reading %s: %w", req.Name, err)
		}
		posted, err := store.PostedFile(ctx, s.Pool, req.Partner, h.Sum(nil))
		if err != nil {
			return nil, err
		}
		if posted != 0 {
			return &Outcome{Name: req.Name, Kind: req.Kind, Currency: reseller.Currency, Status: Duplicate, DuplicateOf: posted}, nil
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
	}
	rep := problem.NewReport(s.maxProblems())
	out := &Outcome{Name: req.Name, Kind: req.Kind, Currency: reseller.Currency}
	var sum declare.Summary
	var whole bool
	if fi.Size() > s.maxFileBytes() {
		rep.Add(tooLarge(req.Name, fi.Size(), s.maxFileBytes()))
		whole = true
	} else {
		sum, whole, err = s.check(ctx, req, f, reseller, catalog, rep, nil, nil, nil)
		if err != nil {
			return nil, err
		}
	}
	out.fill(sum, rep, whole)
	return out, nil
}

func tooLarge(name string, size, max int64) *problem.Problem {
	p := problem.New(CodeFileTooLarge, problem.Position{File: name}, "", ErrFileTooLarge, "the file is %d bytes; at most %d are accepted: split it", size, max)
	p.Scope = problem.ScopeFile
	return p
}

func (o *Outcome) fill(sum declare.Summary, rep *problem.Report, whole bool) {
	o.Rows, o.Problems = sum.Rows, rep.Problems
	switch {
	case whole:
		o.Status, o.Accepted, o.Rejected, o.Amount = Rejected, 0, sum.Rows, 0
	case sum.Rejected > 0:
		o.Status, o.Accepted, o.Rejected, o.Amount = Partial, sum.Accepted, sum.Rejected, sum.Amount
	default:
		o.Status, o.Accepted, o.Amount = Accepted, sum.Accepted, sum.Amount
	}
}

// check reads r with the checker of the request's kind, feeding accepted
// records to the sinks. whole reports that the file is rejected whole.
func (s *Service) check(ctx context.Context, req Request, r io.Reader, reseller *declare.Reseller, catalog declare.Catalog, rep *problem.Report,
	decl func(*declare.Decl) error, cust func(*declare.Customer) error, echo declare.Echo) (declare.Summary, bool, error) {
	if f, ok := r.(*os.File); ok && req.Progress != nil {
		r = newProgressFile(f, req.Progress)
	}
	opts := s.readerOptions(reseller, req)
	tr := req.spooled
	if tr == nil {
		var err error
		if tr, err = tabular.Open(r, opts); err != nil {
			return declare.Summary{}, false, err
		}
	}
	repeats, err := s.prescan(r, tr, req.Kind, opts)
	if err != nil {
		return declare.Summary{}, false, err
	}
	defer repeats.Close()
	if req.Kind == "customers" {
		c := &declare.CustomerChecker{Reseller: reseller, Report: rep, Accept: cust, Repeats: repeats, Echo: echo}
		sum, err := c.Run(ctx, tr, req.Name)
		return sum, c.RejectedWhole() || postsNothing(sum), err
	}
	lookups, err := s.lookupPool(ctx)
	if err != nil {
		return declare.Summary{}, false, err
	}
	c := &declare.Checker{Reseller: reseller, Catalog: catalog, History: history{lookups}, Report: rep, Accept: decl, Echo: echo, ExpectedRows: expectedRows(r),
		BatchSize: s.BatchSize, Workers: s.Workers, Repeats: repeats}
	sum, err := c.Run(ctx, tr, req.Name)
	return sum, c.RejectedWhole() || postsNothing(sum), err
}

// postsNothing: a file none of whose rows is accepted is REJECTED whatever
// the policy (never PARTIAL and counted as posted), so the same bytes may
// be sent again once the cause is fixed.
func postsNothing(sum declare.Summary) bool { return sum.Accepted == 0 }

// readerOptions are how a request's file is read: the reseller's format,
// the sheet asked for, the end-of-file rule of transfers, and the layout's
// header to find the data sheet of a workbook.
func (s *Service) readerOptions(reseller *declare.Reseller, req Request) tabular.Options {
	format := reseller.Format
	if req.Sheet != "" {
		format.Sheet = req.Sheet
	}
	opts := format.ReaderOptions(req.Name, s.Limits)
	opts.RequireLineEnd = req.Transferred
	opts.HeaderTest = schema.MustLoad(req.Kind).Accepts
	return opts
}

// prescan finds which ids of a large CSV its rows repeat, and
// where for the last time, reading it from the start through its own
// reader; nil for a small file, a workbook (Excel stops at 1,048,576 rows a
// sheet) or input that is not a file.
func (s *Service) prescan(r io.Reader, tr tabular.Reader, kind string, opts tabular.Options) (*declare.Repeats, error) {
	limit := s.PrescanBytes
	if limit == 0 {
		limit = 128 << 20
	}
	shown, _ := r.(*progressFile)
	if shown != nil {
		r = shown.File
	}
	f, ok := r.(*os.File)
	if limit < 0 || !ok || tr.Sheet() != "" {
		return nil, nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() < limit {
		return nil, err
	}
	var section io.Reader = io.NewSectionReader(f, 0, fi.Size())
	if shown != nil {
		shown.before, shown.total = fi.Size(), 2*fi.Size() // the check is the second half
		section = progressSection{io.NewSectionReader(f, 0, fi.Size()), &progress{report: shown.report, total: 2 * fi.Size()}}
	}
	pr, err := tabular.Open(section, opts)
	if err != nil {
		return nil, nil // the check reports it
	}
	if err := os.MkdirAll(s.tmpDir(), 0o700); err != nil {
		return nil, err
	}
	if kind != "customers" {
		kind = "declarations"
	}
	return declare.Prescan(pr, kind, s.tmpDir())
}

// expectedRows guesses a file's rows from its size (about 90 bytes a row),
// so the checker's in-file sets are sized once instead of growing.
func expectedRows(r io.Reader) int {
	if f, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil {
			return int(min(fi.Size()/90, 20_000_000))
		}
	}
	return 0
}

// Outcome reads what happened to a file from the database.
func (s *Service) Outcome(ctx context.Context, id int64) (*Outcome, error) {
	f, err := store.FileOutcome(ctx, s.Pool, id)
	if err != nil {
		return nil, err
	}
	o := &Outcome{FileID: id, Name: f.Name, Kind: f.Kind, Status: f.Status, Rows: f.Rows, Accepted: f.Accepted, Rejected: f.Rejected,
		Currency: money.Currency(f.Currency), Amount: f.Amount, DuplicateOf: f.DuplicateOf}
	if o.Problems, err = s.problems(ctx, id); err != nil {
		return nil, err
	}
	o.AckPath = filepath.Join(s.Outbox(f.Partner), o.Name+".ack.csv")
	if o.Status != Duplicate {
		for _, p := range o.Problems {
			switch {
			case p.Severity == problem.Warning:
				o.WarningsPath = filepath.Join(s.Outbox(f.Partner), o.Name+".warnings.csv")
			default:
				o.RejectsPath = filepath.Join(s.Outbox(f.Partner), o.Name+".rejects.csv")
			}
		}
	}
	return o, nil
}

func (s *Service) tmpDir() string { return filepath.Join(s.DataDir, "tmp") }

// Outbox is the folder where a partner's outgoing files are left.
func (s *Service) Outbox(partner string) string {
	return mailbox.Layout{DataDir: s.DataDir}.Outbox(partner)
}

func (s *Service) problems(ctx context.Context, id int64) ([]*problem.Problem, error) {
	return store.FileProblems(ctx, s.Pool, id)
}

// progressFile reports how far reading a file got, at most a few times a second.
type progressFile struct {
	*os.File
	*progress
}

// progress reports how much of a file's passes was read: a prescanned file
// is read twice, and its first pass is the first half of the bar.
type progress struct {
	report        func(read, size int64)
	before, total int64 // bytes of earlier passes; of all passes
	read          int64
	last          time.Time
}

func (p *progress) add(n int, err error) {
	p.read += int64(n)
	if now := time.Now(); now.Sub(p.last) > 200*time.Millisecond || err != nil {
		p.last = now
		p.report(p.before+p.read, p.total)
	}
}

func newProgressFile(f *os.File, report func(read, size int64)) *progressFile {
	p := &progressFile{File: f, progress: &progress{report: report}}
	if fi, err := f.Stat(); err == nil {
		p.total = fi.Size()
	}
	return p
}

func (p *progressFile) Read(b []byte) (int, error) {
	n, err := p.File.Read(b)
	p.add(n, err)
	return n, err
}

// progressSection is the prescan's reader of a file whose reading is shown.
type progressSection struct {
	*io.SectionReader
	*progress
}

func (p progressSection) Read(b []byte) (int, error) {
	n, err := p.SectionReader.Read(b)
	p.add(n, err)
	return n, err
}
