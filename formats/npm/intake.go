package npm

import (
	"bufio"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"unicode/utf16"

	"github.com/stockpile-proxy/stockpile/formats"
)

// A publish body is one JSON document whose _attachments carry the tarball
// base64-encoded (npm's registry API: PUT /{package}). It is read as a
// stream: everything but the attachments' data is kept in memory, at most
// max_metadata_size bytes of it, and each attachment's data is decoded
// into a spool file on the way, at most max_publish_size bytes. The kept
// document has each spooled string replaced by the spool's index, so that
// parsePut and the rest read it as before.

// Limits of the stream parser besides the intake's sizes.
const (
	maxAttachments = 8   // a tarball and provenance bundles
	maxDepth       = 512 // nesting of the document
)

// spooled is one attachment's decoded data.
type spooled struct {
	spool  *formats.Spool
	sha512 hash.Hash
	sha1   hash.Hash
}

func (s *spooled) digests() formats.Digests {
	return formats.Digests{SHA512: hex.EncodeToString(s.sha512.Sum(nil)), SHA1: hex.EncodeToString(s.sha1.Sum(nil))}
}

// putBody is a publish body as read: the document without attachment data,
// and the spooled data.
type putBody struct {
	doc   []byte
	atts  []*spooled
	total int64 // decoded attachment bytes
}

// Close removes the spool files.
func (b *putBody) Close() {
	for _, a := range b.atts {
		a.spool.Close()
	}
}

// attachment returns the spool a kept document's data member names.
func (b *putBody) attachment(raw []byte) (*spooled, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return nil, false
	}
	i, err := strconv.Atoi(s)
	if err != nil || i < 0 || i >= len(b.atts) {
		return nil, false
	}
	return b.atts[i], true
}

// bodyBound is the most a publish body may declare or send: the document,
// and the tarball in base64 with room for line breaks in it.
func bodyBound(in formats.Intake) int64 {
	return in.MaxMetadataSize + (in.MaxPublishSize+2)/3*4 + in.MaxPublishSize/16 + 1024
}

// putScanner reads a publish body.
type putScanner struct {
	r     *bufio.Reader
	in    formats.Intake
	body  putBody
	meta  int64 // bytes read outside attachment data
	depth int
}

// ctx says where a value is, for the members that matter.
type scanCtx int

const (
	ctxOther scanCtx = iota
	ctxTop
	ctxAttachments // the value of the top-level _attachments
	ctxAttachment  // one member of _attachments
	ctxData        // the data member of an attachment
)

// readPut reads a publish or update body from r under the intake's bounds.
// The caller closes the result.
func readPut(r io.Reader, in formats.Intake) (*putBody, error) {
	s := &putScanner{r: bufio.NewReaderSize(r, 64<<10), in: in}
	err := s.value(ctxTop)
	if err == nil {
		err = s.end()
	}
	if err != nil {
		s.body.Close()
		return nil, err
	}
	return &s.body, nil
}

var errSyntax = fmt.Errorf("%w: npm: the request body is not valid JSON", formats.ErrInvalid)

func (s *putScanner) tooLarge() error {
	return formats.TooLarge("npm", "the publish document without its tarball", s.in.MaxMetadataSize)
}

// readByte reads one byte outside attachment data, within the bound.
func (s *putScanner) readByte() (byte, error) {
	s.meta++
	if s.meta > s.in.MaxMetadataSize {
		return 0, s.tooLarge()
	}
	b, err := s.r.ReadByte()
	if err == io.EOF {
		return 0, invalid("the request body ends early")
	}
	if err != nil {
		return 0, readError(err)
	}
	return b, nil
}

func readError(err error) error {
	if errors.Is(err, formats.ErrTooLarge) {
		return err
	}
	return fmt.Errorf("%w: npm: reading the request body: %v", formats.ErrInvalid, err)
}

func (s *putScanner) emit(b ...byte) { s.body.doc = append(s.body.doc, b...) }

// next returns the next byte that is not white space.
func (s *putScanner) next() (byte, error) {
	for {
		b, err := s.readByte()
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return b, nil
	}
}

// end checks nothing but white space follows the document.
func (s *putScanner) end() error {
	for {
		b, err := s.r.ReadByte()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return readError(err)
		}
		if s.meta++; s.meta > s.in.MaxMetadataSize {
			return s.tooLarge()
		}
		switch b {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return invalid("the request body has data after its JSON document")
	}
}

func (s *putScanner) value(ctx scanCtx) error {
	b, err := s.next()
	if err != nil {
		return err
	}
	return s.valueFrom(b, ctx)
}

func (s *putScanner) valueFrom(b byte, ctx scanCtx) error {
	switch {
	case b == '{':
		return s.object(ctx)
	case b == '[':
		return s.array()
	case b == '"' && ctx == ctxData:
		return s.spool()
	case b == '"':
		_, err := s.str()
		return err
	}
	return s.literal(b)
}

func (s *putScanner) enter() error {
	if s.depth++; s.depth > maxDepth {
		return invalid("the request body nests deeper than %d levels", maxDepth)
	}
	return nil
}

// container copies an object or array whose open byte was read: members
// separated by commas up to closing, each copied by member from its first
// byte.
func (s *putScanner) container(open, closing byte, member func(first byte) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer func() { s.depth-- }()
	s.emit(open)
	b, err := s.next()
	if err != nil {
		return err
	}
	if b == closing {
		s.emit(closing)
		return nil
	}
	for {
		if err := member(b); err != nil {
			return err
		}
		done, err := s.separator(closing)
		if done || err != nil {
			return err
		}
		if b, err = s.next(); err != nil {
			return err
		}
	}
}

func (s *putScanner) object(ctx scanCtx) error {
	return s.container('{', '}', func(b byte) error {
		if b != '"' {
			return errSyntax
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		if b, err = s.next(); err != nil {
			return err
		}
		if b != ':' {
			return errSyntax
		}
		s.emit(':')
		return s.value(childCtx(ctx, key))
	})
}

// separator reads what follows a member or element: the closing byte
// (done) or a comma, copying either; anything else is a syntax error.
func (s *putScanner) separator(closing byte) (done bool, err error) {
	b, err := s.next()
	if err != nil {
		return false, err
	}
	switch b {
	case closing:
		s.emit(closing)
		return true, nil
	case ',':
		s.emit(',')
		return false, nil
	}
	return false, errSyntax
}

func childCtx(ctx scanCtx, key string) scanCtx {
	switch {
	case ctx == ctxTop && key == "_attachments":
		return ctxAttachments
	case ctx == ctxAttachments:
		return ctxAttachment
	case ctx == ctxAttachment && key == "data":
		return ctxData
	}
	return ctxOther
}

func (s *putScanner) array() error {
	return s.container('[', ']', func(b byte) error { return s.valueFrom(b, ctxOther) })
}

// literal copies a number, true, false or null; json.Valid checks it later.
func (s *putScanner) literal(b byte) error {
	if !literalByte(b) {
		return errSyntax
	}
	s.emit(b)
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return nil // the caller reports the early end
		}
		if !literalByte(c) {
			return s.r.UnreadByte()
		}
		if s.meta++; s.meta > s.in.MaxMetadataSize {
			return s.tooLarge()
		}
		s.emit(c)
	}
}

func literalByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '+' || b == '.' || b == 'E'
}

// str copies a string whose opening quote was read and returns it decoded
// when it is short (object keys).
func (s *putScanner) str() (string, error) {
	start := len(s.body.doc)
	s.emit('"')
	for {
		if err := s.plainRun(); err != nil {
			return "", err
		}
		b, err := s.readByte()
		if err != nil {
			return "", err
		}
		s.emit(b)
		switch {
		case b == '"':
			raw := s.body.doc[start:]
			if len(raw) > 1024 {
				return "", nil
			}
			var out string
			if err := json.Unmarshal(raw, &out); err != nil {
				return "", errSyntax
			}
			return out, nil
		case b == '\\':
			e, err := s.readByte()
			if err != nil {
				return "", err
			}
			s.emit(e)
		case b < 0x20:
			return "", errSyntax
		}
	}
}

// plainRun copies the buffered run of string characters that need no care.
func (s *putScanner) plainRun() error {
	buf, _ := s.r.Peek(s.r.Buffered())
	n := 0
	for n < len(buf) && buf[n] != '"' && buf[n] != '\\' && buf[n] >= 0x20 {
		n++
	}
	if s.meta+int64(n) > s.in.MaxMetadataSize {
		return s.tooLarge()
	}
	s.meta += int64(n)
	s.emit(buf[:n]...)
	_, _ = s.r.Discard(n)
	return nil
}

// spool decodes an attachment's base64 data into a spool file.
func (s *putScanner) spool() error {
	if len(s.body.atts) >= maxAttachments {
		return invalid("a publish carries at most %d attachments", maxAttachments)
	}
	limit := min(s.in.MaxPublishSize, s.in.MaxPublishSize+s.in.MaxMetadataSize-s.body.total)
	sp, err := s.in.NewSpool(limit, "npm: the tarball")
	if err != nil {
		return err
	}
	a := &spooled{spool: sp, sha512: sha512.New(), sha1: sha1.New()}
	s.body.atts = append(s.body.atts, a)
	raw := (limit+2)/3*4*2 + limit/8 + 1024
	sr := &stringReader{r: s.r, left: raw, limit: raw}
	_, err = io.Copy(io.MultiWriter(sp, a.sha512, a.sha1), base64.NewDecoder(base64.StdEncoding, sr))
	switch {
	case errors.Is(err, formats.ErrTooLarge):
		return err
	case sr.err != nil:
		return sr.err
	case err != nil:
		return invalid("an attachment is not valid base64")
	}
	s.body.total += sp.Size()
	s.emit('"')
	s.emit([]byte(strconv.Itoa(len(s.body.atts) - 1))...)
	s.emit('"')
	return nil
}

// stringReader yields the characters of a JSON string whose opening quote
// was read, unescaped, up to its closing quote (then io.EOF). Characters
// past U+007F are not base64 and fail the decoder.
type stringReader struct {
	r     *bufio.Reader
	left  int64 // raw bytes the string may still take
	limit int64
	done  bool
	err   error // why reading stopped, other than the closing quote
}

func (sr *stringReader) Read(p []byte) (int, error) {
	if sr.done {
		return 0, io.EOF
	}
	n := sr.plain(p)
	for n < len(p) {
		if n > 0 && sr.r.Buffered() == 0 {
			return n, nil // hand over what we have before blocking
		}
		b, err := sr.readByte()
		if err != nil {
			return n, err
		}
		switch {
		case b == '"':
			sr.done = true
			return n, nil
		case b == '\\':
			c, err := sr.escape()
			if err != nil {
				return n, err
			}
			p[n] = c
		case b < 0x20:
			sr.err = errSyntax
			return n, sr.err
		default:
			p[n] = b
		}
		n++
	}
	return n, nil
}

// plain copies the buffered run of characters that need no care.
func (sr *stringReader) plain(p []byte) int {
	buf, _ := sr.r.Peek(min(sr.r.Buffered(), len(p)))
	n := 0
	for n < len(buf) && buf[n] != '"' && buf[n] != '\\' && buf[n] >= 0x20 {
		n++
	}
	if int64(n) > sr.left {
		n = int(max(sr.left, 0))
	}
	copy(p, buf[:n])
	_, _ = sr.r.Discard(n)
	sr.left -= int64(n)
	return n
}

func (sr *stringReader) readByte() (byte, error) {
	if sr.left--; sr.left < 0 {
		sr.err = formats.TooLarge("npm", "an attachment's data", sr.limit)
		return 0, sr.err
	}
	b, err := sr.r.ReadByte()
	if err == io.EOF {
		sr.err = invalid("the request body ends early")
		return 0, sr.err
	}
	if err != nil {
		sr.err = readError(err)
		return 0, sr.err
	}
	return b, nil
}

// escape reads an escape after its backslash; it returns '!' (not base64,
// so the decoder fails) for characters past U+007F.
func (sr *stringReader) escape() (byte, error) {
	e, err := sr.readByte()
	if err != nil {
		return 0, err
	}
	switch e {
	case '"', '\\', '/':
		return e, nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't', 'b', 'f':
		return '!', nil
	case 'u':
		var hex [4]byte
		for i := range hex {
			if hex[i], err = sr.readByte(); err != nil {
				return 0, err
			}
		}
		v, err := strconv.ParseUint(string(hex[:]), 16, 16)
		if err != nil {
			sr.err = errSyntax
			return 0, sr.err
		}
		if v > 0x7f || utf16.IsSurrogate(rune(v)) {
			return '!', nil
		}
		return byte(v), nil
	}
	sr.err = errSyntax
	return 0, sr.err
}
