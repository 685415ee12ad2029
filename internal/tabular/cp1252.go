package tabular

import (
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// cp1252 holds the UTF-8 form of each byte of Windows-1252 at or above
// 0x80, taken from x/text's table so that both decoders agree exactly.
var cp1252 = func() (t [128]string) {
	for b := range 128 {
		t[b] = string(charmap.Windows1252.DecodeByte(byte(b + 0x80)))
	}
	return t
}()

// cp1252Reader decodes Windows-1252 to UTF-8. Exports are mostly ASCII,
// which it copies in runs; x/text's transform.Reader decodes byte by byte
// through 4 KB buffers and cost a third of the reading time here.
type cp1252Reader struct {
	r   io.Reader
	src []byte
	buf []byte // decoded
	off int    // buf[off:] is not yet returned
	err error
}

func newCP1252Reader(r io.Reader) *cp1252Reader {
	return &cp1252Reader{r: r, src: make([]byte, 64<<10), buf: make([]byte, 0, 3*64<<10)}
}

func (d *cp1252Reader) Read(p []byte) (int, error) {
	for d.off == len(d.buf) {
		if d.err != nil {
			return 0, d.err
		}
		n, err := d.r.Read(d.src)
		d.err = err
		d.buf, d.off = decodeCP1252(d.buf[:0], d.src[:n]), 0
	}
	n := copy(p, d.buf[d.off:])
	d.off += n
	return n, nil
}

// decodeCP1252 appends the UTF-8 form of src to dst.
func decodeCP1252(dst, src []byte) []byte {
	for len(src) > 0 {
		i := 0
		for i < len(src) && src[i] < utf8.RuneSelf {
			i++
		}
		dst = append(dst, src[:i]...)
		if i == len(src) {
			break
		}
		dst = append(dst, cp1252[src[i]-0x80]...)
		src = src[i+1:]
	}
	return dst
}
