package invoicepdf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// glyphSet is the characters of the Basic Multilingual Plane that a font
// draws, read from its cmap. fpdf's UTF-8 fonts know nothing beyond the
// BMP (a rune above U+FFFF makes it index out of its width table) and draw
// a character the font lacks as an empty box; the writer asks this set
// first and draws a replacement instead.
type glyphSet [0x10000 / 64]uint64

func (g *glyphSet) has(r rune) bool {
	return r >= 0 && r < 0x10000 && g[r/64]&(1<<(r%64)) != 0
}

func (g *glyphSet) add(r rune) { g[r/64] |= 1 << (r % 64) }

// fontGlyphs is what both embedded fonts draw (a text may be set in either
// style), read once.
var fontGlyphs = sync.OnceValues(func() (*glyphSet, error) {
	regular, err := readCmap(regularTTF)
	if err != nil {
		return nil, fmt.Errorf("reading the glyphs of DejaVu Sans: %w", err)
	}
	bold, err := readCmap(boldTTF)
	if err != nil {
		return nil, fmt.Errorf("reading the glyphs of DejaVu Sans Bold: %w", err)
	}
	for i := range regular {
		regular[i] &= bold[i]
	}
	return regular, nil
})

var errCmap = errors.New("no readable Unicode BMP cmap (format 4)")

// readCmap reads the characters a TrueType font maps to a glyph from its
// Unicode BMP subtable (platform 3 encoding 1, or platform 0), format 4:
// segments of consecutive characters, each mapped by a delta or through
// an array of glyph ids; glyph 0 is "missing".
func readCmap(ttf []byte) (*glyphSet, error) {
	u16 := func(off int) (int, bool) {
		if off < 0 || off+2 > len(ttf) {
			return 0, false
		}
		return int(binary.BigEndian.Uint16(ttf[off:])), true
	}
	u32 := func(off int) (int, bool) {
		if off < 0 || off+4 > len(ttf) {
			return 0, false
		}
		return int(binary.BigEndian.Uint32(ttf[off:])), true
	}
	numTables, ok := u16(4)
	if !ok {
		return nil, errCmap
	}
	cmap := -1
	for i := range numTables {
		rec := 12 + 16*i
		if tag := ttf[min(rec, len(ttf)):min(rec+4, len(ttf))]; string(tag) == "cmap" {
			if cmap, ok = u32(rec + 8); !ok {
				return nil, errCmap
			}
			break
		}
	}
	if cmap < 0 {
		return nil, errCmap
	}
	n, _ := u16(cmap + 2)
	sub := -1
	for i := range n {
		rec := cmap + 4 + 8*i
		platform, _ := u16(rec)
		encoding, _ := u16(rec + 2)
		off, _ := u32(rec + 4)
		if format, _ := u16(cmap + off); format == 4 && (platform == 3 && encoding == 1 || platform == 0) {
			sub = cmap + off
			if platform == 3 {
				break
			}
		}
	}
	if sub < 0 {
		return nil, errCmap
	}
	segX2, ok := u16(sub + 6)
	if !ok {
		return nil, errCmap
	}
	ends, starts := sub+14, sub+16+segX2
	deltas, ranges := starts+segX2, starts+2*segX2
	var g glyphSet
	for seg := 0; seg < segX2; seg += 2 {
		end, ok1 := u16(ends + seg)
		start, ok2 := u16(starts + seg)
		delta, ok3 := u16(deltas + seg)
		ro, ok4 := u16(ranges + seg)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			return nil, errCmap
		}
		for c := start; c <= end && c < 0xFFFF; c++ {
			gid := c + delta
			if ro != 0 {
				if gid, ok = u16(ranges + seg + ro + 2*(c-start)); !ok {
					return nil, errCmap
				}
				if gid != 0 {
					gid += delta
				}
			}
			if gid%0x10000 != 0 {
				g.add(rune(c))
			}
		}
	}
	return &g, nil
}
