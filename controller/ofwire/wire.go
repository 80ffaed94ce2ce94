// Package ofwire reads OpenFlow 1.3 messages off a connection and decodes
// the message bodies that Satellite receives from switches.
//
// Outgoing messages are built with github.com/netrack/openflow/ofp. Incoming
// messages are decoded here, by hand, because every byte of them comes from
// a peer we do not trust: each decoder checks lengths before it reads, never
// panics, and returns an error that says which field was wrong. It also
// covers what the library decodes wrongly or not at all (group buckets,
// multipart reassembly, NUL-padded names).
package ofwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	of "github.com/netrack/openflow"
)

// Version is the only OpenFlow version Satellite speaks (1.3).
const Version = 4

// HeaderLen is the length of the OpenFlow header.
const HeaderLen = 8

// maxHelloLen bounds the first message of a connection.
const maxHelloLen = 1024

// Header is the fixed OpenFlow message header.
type Header struct {
	Version uint8
	Type    of.Type
	Length  uint16
	XID     uint32
}

// Message is one whole message as read off the wire. Body excludes the header.
type Message struct {
	Header
	Body []byte
}

// Errors returned by ReadMessage. A connection that produces any of them is
// out of sync (or hostile) and should be closed.
var (
	ErrShortLength = errors.New("openflow header length is shorter than the header itself")
	ErrBadVersion  = errors.New("unsupported OpenFlow version")
)

// DecodeHeader decodes the 8-byte header in b.
func DecodeHeader(b []byte) (Header, error) {
	if len(b) < HeaderLen {
		return Header{}, fmt.Errorf("header: %w", io.ErrUnexpectedEOF)
	}
	h := Header{
		Version: b[0],
		Type:    of.Type(b[1]),
		Length:  binary.BigEndian.Uint16(b[2:4]),
		XID:     binary.BigEndian.Uint32(b[4:8]),
	}
	if h.Length < HeaderLen {
		return h, fmt.Errorf("%w (length %d)", ErrShortLength, h.Length)
	}
	return h, nil
}

// PutHeader writes h into the first 8 bytes of b.
func PutHeader(b []byte, h Header) {
	b[0] = h.Version
	b[1] = uint8(h.Type)
	binary.BigEndian.PutUint16(b[2:4], h.Length)
	binary.BigEndian.PutUint32(b[4:8], h.XID)
}

// Reader reads whole messages from a stream. It is not safe for concurrent use.
type Reader struct {
	r   io.Reader
	hdr [HeaderLen]byte
	// Version, when non-zero, is the only version accepted (set it once the
	// handshake has negotiated one). While it is zero only a hello is accepted.
	Version uint8
}

// NewReader returns a Reader on r. Wrap r in a bufio.Reader for throughput.
func NewReader(r io.Reader) *Reader { return &Reader{r: r} }

// ReadMessage reads one message. The body is a fresh slice the caller owns.
// Any error means the stream can no longer be trusted.
func (r *Reader) ReadMessage() (Message, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		return Message{}, err
	}
	h, err := DecodeHeader(r.hdr[:])
	if err != nil {
		return Message{Header: h}, err
	}
	if r.Version == 0 && (h.Type != 0 || h.Version == 0 || h.Version > 6 || h.Length > maxHelloLen) {
		// Before the handshake only a hello is legal; refuse anything else
		// before reading a body it announces (an HTTP request, say).
		return Message{Header: h}, fmt.Errorf("not an OpenFlow hello (version 0x%02x, type %d, length %d)", h.Version, h.Type, h.Length)
	}
	if r.Version != 0 && h.Version != r.Version {
		return Message{Header: h}, fmt.Errorf("%w 0x%02x in %v (negotiated 0x%02x)", ErrBadVersion, h.Version, h.Type, r.Version)
	}
	body := make([]byte, int(h.Length)-HeaderLen)
	if _, err := io.ReadFull(r.r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Message{Header: h}, fmt.Errorf("%v body (%d bytes announced): %w", h.Type, len(body), err)
	}
	return Message{Header: h, Body: body}, nil
}

// Encode serialises one outgoing message: header with the given type and xid,
// then body (which may be nil). The length is filled in.
func Encode(t of.Type, xid uint32, body io.WriterTo) ([]byte, error) {
	buf := make([]byte, HeaderLen, 64)
	if body != nil {
		w := appendWriter{buf: buf}
		if _, err := body.WriteTo(&w); err != nil {
			return nil, fmt.Errorf("encode %v: %w", t, err)
		}
		buf = w.buf
	}
	if len(buf) > 0xffff {
		return nil, fmt.Errorf("encode %v: message of %d bytes exceeds the OpenFlow limit of 65535", t, len(buf))
	}
	PutHeader(buf, Header{Version: Version, Type: t, Length: uint16(len(buf)), XID: xid})
	return buf, nil
}

type appendWriter struct{ buf []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	return len(p), nil
}
