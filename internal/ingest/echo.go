package ingest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// echo keeps, while a file is checked, what its rejects file repeats back:
// the header as sent and each row that had a problem (declare.Echo). The
// rows go to a spool (memory, then a temporary file) and into file_echo in
// the transaction that finishes the file, so an ack written or rewritten
// later never reads the upload again.
type echo struct {
	fileID int64
	header echoHeader
	rows   *spool
}

type echoHeader struct {
	Line   int      `json:"line"`
	Fields []string `json:"fields"`
}

func newEcho(tmp string, fileID int64) (*echo, error) {
	sp, err := newSpool(tmp)
	if err != nil {
		return nil, err
	}
	return &echo{fileID: fileID, rows: sp}, nil
}

func (e *echo) Header(line int, fields []string) {
	e.header = echoHeader{Line: line, Fields: append([]string(nil), fields...)}
}

func (e *echo) Row(line int, fields []string) {
	e.rows.n++
	e.rows.row.begin()
	e.rows.row.int(e.fileID)
	e.rows.row.int(int64(line))
	if fields == nil {
		e.rows.row.null()
	} else {
		b, _ := json.Marshal(fields) // []string always marshals
		e.rows.row.text(string(b))
	}
	e.rows.row.end()
}

func (e *echo) close() { e.rows.close() }

// store writes what was kept, in the file's finishing transaction.
func (e *echo) store(ctx context.Context, tx pgx.Tx) error {
	fileID := e.fileID
	var header *string
	if e.header.Fields != nil {
		b, _ := json.Marshal(e.header)
		s := string(b)
		header = &s
	}
	if _, err := tx.Exec(ctx, `UPDATE files SET echoed = true, echo_header = $2 WHERE id = $1`, fileID, header); err != nil {
		return fmt.Errorf("keeping the header of file %d: %w", fileID, err)
	}
	if e.rows.n == 0 {
		return nil
	}
	r, err := e.rows.reader()
	if err != nil {
		return err
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, r, `COPY file_echo (file_id, line, fields) FROM STDIN`); err != nil {
		return fmt.Errorf("keeping the rejected rows of file %d: %w", fileID, err)
	}
	return nil
}
