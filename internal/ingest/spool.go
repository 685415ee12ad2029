package ingest

import (
	"bufio"
	"bytes"
	"io"
	"os"
)

// spool holds COPY rows that a file's transaction writes after its main
// COPY: in memory up to spillAt, then in an unlinked temporary file, so a
// small file costs no file creation and a large one no memory.
type spool struct {
	dir string
	buf bytes.Buffer
	f   *os.File
	row copyRow
	n   int
}

const spillAt = 1 << 20

func newSpool(dir string) *spool {
	s := &spool{dir: dir}
	s.row = copyRow{w: bufio.NewWriterSize(s, 64<<10)}
	return s
}

// Write takes what the row writer flushes.
func (s *spool) Write(p []byte) (int, error) {
	if s.f == nil && s.buf.Len()+len(p) <= spillAt {
		return s.buf.Write(p)
	}
	if s.f == nil {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return 0, err
		}
		f, err := os.CreateTemp(s.dir, "spool-*")
		if err != nil {
			return 0, err
		}
		_ = os.Remove(f.Name()) // nothing to clean up after a crash
		s.f = f
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			return 0, err
		}
		s.buf = bytes.Buffer{}
	}
	return s.f.Write(p)
}

// reader flushes the spool and reads it from the start.
func (s *spool) reader() (io.Reader, error) {
	if err := s.row.w.Flush(); err != nil {
		return nil, err
	}
	if s.f == nil {
		return bytes.NewReader(s.buf.Bytes()), nil
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(s.f, 256<<10), nil
}

func (s *spool) close() {
	if s.f != nil {
		s.f.Close()
	}
}
