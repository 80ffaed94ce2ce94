package ofwire

import (
	"encoding/binary"
	"fmt"
)

// cursor reads big-endian fields from a byte slice and remembers the first
// short read, so decoders can read a whole struct and check once.
type cursor struct {
	b   []byte
	off int
	err error
	// what names the structure being decoded, for error messages.
	what string
}

func newCursor(what string, b []byte) *cursor { return &cursor{b: b, what: what} }

func (c *cursor) need(n int) bool {
	if c.err != nil {
		return false
	}
	if n < 0 || len(c.b)-c.off < n {
		c.err = fmt.Errorf("%s: truncated at byte %d (need %d more, have %d)", c.what, c.off, n, len(c.b)-c.off)
		return false
	}
	return true
}

func (c *cursor) u8() uint8 {
	if !c.need(1) {
		return 0
	}
	v := c.b[c.off]
	c.off++
	return v
}

func (c *cursor) u16() uint16 {
	if !c.need(2) {
		return 0
	}
	v := binary.BigEndian.Uint16(c.b[c.off:])
	c.off += 2
	return v
}

func (c *cursor) u32() uint32 {
	if !c.need(4) {
		return 0
	}
	v := binary.BigEndian.Uint32(c.b[c.off:])
	c.off += 4
	return v
}

func (c *cursor) u64() uint64 {
	if !c.need(8) {
		return 0
	}
	v := binary.BigEndian.Uint64(c.b[c.off:])
	c.off += 8
	return v
}

func (c *cursor) skip(n int) {
	if c.need(n) {
		c.off += n
	}
}

// bytes returns the next n bytes (sharing the underlying array).
func (c *cursor) bytes(n int) []byte {
	if !c.need(n) {
		return nil
	}
	v := c.b[c.off : c.off+n : c.off+n]
	c.off += n
	return v
}

func (c *cursor) rest() []byte {
	if c.err != nil {
		return nil
	}
	v := c.b[c.off:]
	c.off = len(c.b)
	return v
}

func (c *cursor) remaining() int { return len(c.b) - c.off }

// cstring decodes a fixed-size, NUL-padded string field.
func (c *cursor) cstring(n int) string {
	b := c.bytes(n)
	for i, ch := range b {
		if ch == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func (c *cursor) failf(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%s: "+format, append([]any{c.what}, args...)...)
	}
}
