package declare

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"slices"
	"syscall"

	"github.com/clearhouse/clearhouse/internal/problem"
	"github.com/clearhouse/clearhouse/internal/schema"
	"github.com/clearhouse/clearhouse/internal/tabular"
)

// Repeats say, row by row, which ids of a file occur elsewhere in it and
// where each occurs for the last time, as Prescan found them. Ids are
// declaration ids together with subscription refs (a TERMINATE of a
// subscription started in the same file repeats its id), and customer ids.
// The checker remembers an id only if it occurs again, and forgets it
// after its last occurrence: its memory follows how far apart the rows
// that refer to one another are, not the size of the file.
//
// Ids are known by a 64-bit hash here; two ids that share one are both
// remembered, one of them until the end of the file, which costs a little
// memory and changes nothing else.
type Repeats struct {
	flags []byte // one per row (header excluded), mapped from a temporary file
	file  *os.File
}

// Flags of a row: keep* the id occurs elsewhere; last* it does not occur
// after this row.
const (
	keepID byte = 1 << iota
	keepRef
	keepCust
	lastID
	lastRef
	lastCust
)

// fields of a row whose ids the prescan records, in a position's low bits
const (
	fieldID = iota
	fieldRef
	fieldCust
)

// row returns the flags of row number i (0 is the first after the header).
// A row past the prescanned ones keeps everything and forgets nothing.
func (r *Repeats) row(i int) byte {
	if i < len(r.flags) {
		return r.flags[i]
	}
	return keepID | keepRef | keepCust
}

// Close releases the flags.
func (r *Repeats) Close() error {
	if r == nil {
		return nil
	}
	var err error
	if r.flags != nil {
		err = syscall.Munmap(r.flags)
	}
	return errors.Join(err, r.file.Close())
}

// prescanParts is how many temporary files the occurrences are spread over
// by hash: the largest is what is sorted in memory at once (16 bytes per id
// occurrence, over 64).
const (
	prescanBits  = 6
	prescanParts = 1 << prescanBits
)

// occurrence is one id in one field of one row: hash, then row<<2 | field.
type occurrence struct{ hash, pos uint64 }

// Prescan reads a file of the kind (declarations or customers) and returns
// its Repeats: for customers files, keepID and lastID of their customer ids. Every id's
// occurrence goes to one of prescanParts temporary files in dir (unlinked
// at once) by its hash; each file is then sorted alone, which groups the
// occurrences of an id, and the rows' flags are set in a temporary file
// mapped in memory, one byte a row. A file-level problem part way (an
// unclosed quote, the row limit) ends the prescan where it ends the check;
// without a header Prescan returns nil, and the check reports it.
func Prescan(r tabular.Reader, kind, dir string) (rep *Repeats, err error) {
	header, err := r.Next()
	if err != nil {
		return nil, nil
	}
	bind, _ := schema.MustLoad(kind).Bind(header.Fields, problem.Position{})
	seed := maphash.MakeSeed()
	var parts [prescanParts]*os.File
	var bufs [prescanParts]*bufio.Writer
	defer func() {
		for _, f := range parts {
			if f != nil {
				f.Close()
			}
		}
	}()
	temp := func() (*os.File, error) {
		f, err := os.CreateTemp(dir, "prescan-*")
		if err != nil {
			return nil, fmt.Errorf("prescan: %w", err)
		}
		if err := os.Remove(f.Name()); err != nil {
			f.Close()
			return nil, fmt.Errorf("prescan: %w", err)
		}
		return f, nil
	}
	for i := range parts {
		if parts[i], err = temp(); err != nil {
			return nil, err
		}
		bufs[i] = bufio.NewWriterSize(parts[i], 16<<10)
	}
	var rec [16]byte
	rows := 0
	put := func(id string, kind uint64, field int) error {
		if id == "" {
			return nil
		}
		h := maphash.String(seed, id)&^1 | kind // declaration ids and refs in one space, customers in another
		binary.LittleEndian.PutUint64(rec[:8], h)
		binary.LittleEndian.PutUint64(rec[8:], uint64(rows)<<2|uint64(field))
		_, err := bufs[h>>(64-prescanBits)].Write(rec[:])
		return err
	}
	for ; ; rows++ {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var p *problem.Problem
		if errors.As(err, &p) && p.Scope == problem.ScopeRow {
			continue // counted: the checker numbers it too, and remembers nothing of it
		}
		if err != nil {
			break // a file-level problem: the check stops at the same row, and needs no flags beyond
		}
		// Every id, ref and customer, whatever the action: a superset of
		// what the checker looks up is safe.
		if kind == "customers" {
			err = put(bind.Raw(row.Fields, cc.id), 0, fieldID)
		} else {
			err = errors.Join(put(bind.Raw(row.Fields, dc.id), 0, fieldID), put(bind.Raw(row.Fields, dc.ref), 0, fieldRef),
				put(bind.Raw(row.Fields, dc.customer), 1, fieldCust))
		}
		if err != nil {
			return nil, fmt.Errorf("prescan: %w", err)
		}
	}
	rep = &Repeats{}
	if rep.file, err = temp(); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			rep.Close()
			rep = nil
		}
	}()
	if rows > 0 {
		if err := rep.file.Truncate(int64(rows)); err != nil {
			return nil, fmt.Errorf("prescan: %w", err)
		}
		if rep.flags, err = syscall.Mmap(int(rep.file.Fd()), 0, rows, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED); err != nil {
			return nil, fmt.Errorf("prescan: %w", err)
		}
	}
	keep := [3]byte{keepID, keepRef, keepCust}
	last := [3]byte{lastID, lastRef, lastCust}
	var occ []occurrence
	var raw []byte
	for i, f := range parts {
		if err := bufs[i].Flush(); err != nil {
			return nil, fmt.Errorf("prescan: %w", err)
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			return nil, fmt.Errorf("prescan: %w", err)
		}
		raw = slices.Grow(raw[:0], int(size))[:size]
		if _, err := f.ReadAt(raw, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("prescan: %w", err)
		}
		occ = occ[:0]
		for b := raw; len(b) >= 16; b = b[16:] {
			occ = append(occ, occurrence{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])})
		}
		slices.SortFunc(occ, func(a, b occurrence) int {
			if a.hash != b.hash {
				return cmp.Compare(a.hash, b.hash)
			}
			return cmp.Compare(a.pos, b.pos)
		})
		for j := 0; j < len(occ); {
			k := j + 1
			for k < len(occ) && occ[k].hash == occ[j].hash {
				k++
			}
			if k-j > 1 {
				for _, o := range occ[j:k] {
					rep.flags[o.pos>>2] |= keep[o.pos&3]
				}
				o := occ[k-1]
				rep.flags[o.pos>>2] |= last[o.pos&3]
			}
			j = k
		}
	}
	return rep, nil
}
