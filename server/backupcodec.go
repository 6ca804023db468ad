package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"strings"

	"github.com/devapi-dev/devapi"
)

// The content of a backup, as the store keeps it.
//
// Version 2 (since the backups stream): backupMagic, then a gzip stream of
// one record per key, in Snapshot order, until the stream ends:
//
//	record  = uvarint(db) string(key) byte(type) varint(ttl_millis) value
//	string  = uvarint(length) bytes
//	value   = string                          (type 1: string)
//	        | uvarint(n) n*string             (2: list, 3: set)
//	        | uvarint(n) n*(string float64)   (4: zset; member, IEEE 754 bits, little endian)
//	        | uvarint(n) n*(string string)    (5: hash; field, value)
//	        | uvarint(n) n*(string uvarint(m) m*string) (6: stream; id, fields)
//	        | string                          (7: ReJSON-RL; the document as JSON text)
//
// Values go through as they are read, without a message buffer around
// them: taking a backup holds one key (as the plane read it), and restoring
// one the key being decoded, each value allocated once. Binary values and
// infinite scores stay intact (JSON keeps neither). gzip, the standard
// library's at BestSpeed (~400 MB/s on incompressible values, on one core),
// keeps backups of text-like values 3-5 times smaller at a cost below that
// of reading the keys, and its checksum catches a damaged or truncated
// backup before a restore flushes anything (see RestoreBackup).
//
// Version 1, what devapi wrote before: one gob-encoded devapi.Snapshot,
// without a header (schema migration 0007 moved it into a chunk as it was).
// It is read whole, as it was written.
const backupMagic = "devapi-backup/2\n"

// Type codes of version 2's records.
var (
	typeCodes = map[string]byte{devapi.TypeString: 1, devapi.TypeList: 2, devapi.TypeSet: 3, devapi.TypeZSet: 4, devapi.TypeHash: 5, devapi.TypeStream: 6, devapi.TypeJSON: 7}
	typeNames = map[byte]string{1: devapi.TypeString, 2: devapi.TypeList, 3: devapi.TypeSet, 4: devapi.TypeZSet, 5: devapi.TypeHash, 6: devapi.TypeStream, 7: devapi.TypeJSON}
)

// maxBackupString bounds one string of a backup when it is read back:
// Redis's own limit on a bulk string (proto-max-bulk-len), so that a
// damaged length cannot ask for more memory than any real value takes.
const maxBackupString = 512 << 20

// errBackupLimit is what limitWriter fails with, for writeBackup to turn
// into the answer.
var errBackupLimit = errors.New("backup over its size limit")

// limitWriter passes writes to w until more than limit bytes have come.
type limitWriter struct {
	w     io.Writer
	limit int64
	n     int64
}

// Write implements io.Writer.
func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n += int64(len(p)); l.n > l.limit {
		return 0, errBackupLimit
	}
	return l.w.Write(p)
}

// tooLargeError is what a backup over its size limit fails with: an
// EINVALID that says the limit, which the daily schedule tells apart.
type tooLargeError struct{ limit int64 }

// Error implements error.
func (e *tooLargeError) Error() string { return e.Unwrap().Error() }

// Unwrap returns the domain error the client gets.
func (e *tooLargeError) Unwrap() error {
	return devapi.Errorf(devapi.EINVALID, "database is larger than the backup limit (%s)", sizeText(e.limit))
}

// sizeText writes a limit of bytes in whole MB (MiB), or in bytes when it
// is less than one.
func sizeText(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d MB", n>>20)
}

// writeBackup writes to w the content of a backup of the keys snapshot
// emits. limit caps the bytes of the records, before compression, which is
// about the size of the database's keys and values: as soon as it is
// passed, writeBackup stops the snapshot and fails with a *tooLargeError.
func writeBackup(w io.Writer, limit int64, snapshot func(emit func(devapi.SnapshotKey) error) error) error {
	if _, err := io.WriteString(w, backupMagic); err != nil {
		return err
	}
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	e := &encoder{w: bufio.NewWriterSize(&limitWriter{w: zw, limit: limit}, 64<<10)}
	err = snapshot(e.key)
	if err == nil {
		err = e.w.Flush()
	}
	if errors.Is(err, errBackupLimit) {
		return &tooLargeError{limit: limit}
	}
	if err != nil {
		return err
	}
	return zw.Close()
}

// encoder writes version 2's records.
type encoder struct {
	w   *bufio.Writer
	buf [binary.MaxVarintLen64]byte
}

func (e *encoder) uvarint(v uint64) {
	_, _ = e.w.Write(binary.AppendUvarint(e.buf[:0], v)) // errors stick in w, for the key's end
}

func (e *encoder) string(s string) {
	e.uvarint(uint64(len(s)))
	_, _ = e.w.WriteString(s)
}

// key writes the record of k.
func (e *encoder) key(k devapi.SnapshotKey) error {
	code, ok := typeCodes[k.Type]
	if !ok {
		return devapi.Errorf(devapi.EINVALID, "key %q in db %d is of type %q, which a backup cannot hold", k.Key, k.DB, k.Type)
	}
	e.uvarint(uint64(k.DB))
	e.string(k.Key)
	_ = e.w.WriteByte(code)
	_, _ = e.w.Write(binary.AppendVarint(e.buf[:0], k.TTLMillis))
	switch k.Type {
	case devapi.TypeString:
		e.string(k.String)
	case devapi.TypeJSON: // the document as JSON text, as a string is
		e.string(k.JSON)
	case devapi.TypeList, devapi.TypeSet:
		l := k.List
		if k.Type == devapi.TypeSet {
			l = k.Set
		}
		e.uvarint(uint64(len(l)))
		for _, s := range l {
			e.string(s)
		}
	case devapi.TypeZSet:
		e.uvarint(uint64(len(k.ZSet)))
		for _, m := range k.ZSet {
			e.string(m.Member)
			_, _ = e.w.Write(binary.LittleEndian.AppendUint64(e.buf[:0], math.Float64bits(m.Score)))
		}
	case devapi.TypeHash:
		e.uvarint(uint64(len(k.Hash)))
		for f, v := range k.Hash {
			e.string(f)
			e.string(v)
		}
	case devapi.TypeStream:
		e.uvarint(uint64(len(k.Stream)))
		for _, entry := range k.Stream {
			e.string(entry.ID)
			e.uvarint(uint64(len(entry.Fields)))
			for _, f := range entry.Fields {
				e.string(f)
			}
		}
	}
	// bufio.Writer keeps its first error and returns it from every call.
	if _, err := e.w.Write(nil); err != nil {
		return err
	}
	return nil
}

// backupKeys yields the keys of backup content r, of either version, one at
// a time; content it cannot decode yields an error (EINTERNAL).
func backupKeys(r io.Reader) iter.Seq2[devapi.SnapshotKey, error] {
	return func(yield func(devapi.SnapshotKey, error) bool) {
		fail := func(err error) { yield(devapi.SnapshotKey{}, fmt.Errorf("server: decode backup: %w", err)) }
		br := bufio.NewReaderSize(r, 64<<10)
		v2, err := isVersion2(br)
		if err != nil {
			fail(err)
			return
		}
		if !v2 {
			var snap devapi.Snapshot
			if err := gob.NewDecoder(br).Decode(&snap); err != nil {
				fail(err)
				return
			}
			for k := range snap.All() {
				if !yield(k, nil) {
					return
				}
			}
			return
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			fail(err)
			return
		}
		d := &decoder{r: bufio.NewReaderSize(zr, 64<<10)}
		for {
			k, err := d.key()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				fail(err)
				return
			}
			if !yield(k, nil) {
				return
			}
		}
	}
}

// isVersion2 reads backupMagic off br if it is there.
func isVersion2(br *bufio.Reader) (bool, error) {
	head, err := br.Peek(len(backupMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	if !bytes.Equal(head, []byte(backupMagic)) {
		return false, nil
	}
	_, err = br.Discard(len(backupMagic))
	return true, err
}

// checkBackup reads backup content r to its end and reports whether it is
// whole: version 2's gzip checksum and length must match (decoding no key),
// version 1 must decode.
func checkBackup(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	v2, err := isVersion2(br)
	if err != nil {
		return fmt.Errorf("server: check backup: %w", err)
	}
	if !v2 {
		var snap devapi.Snapshot
		if err := gob.NewDecoder(br).Decode(&snap); err != nil {
			return fmt.Errorf("server: check backup: %w", err)
		}
		return nil
	}
	zr, err := gzip.NewReader(br)
	if err == nil {
		_, err = io.Copy(io.Discard, zr)
	}
	if err != nil {
		return fmt.Errorf("server: check backup: %w", err)
	}
	return nil
}

// decoder reads version 2's records.
type decoder struct {
	r       *bufio.Reader
	scratch [32 << 10]byte
}

// key reads one record; io.EOF when the stream ends before one starts.
func (d *decoder) key() (devapi.SnapshotKey, error) {
	var k devapi.SnapshotKey
	db, err := binary.ReadUvarint(d.r)
	if err != nil {
		return k, err // io.EOF at the end
	}
	if db > 15 {
		return k, fmt.Errorf("db %d", db)
	}
	k.DB = int(db)
	if k.Key, err = d.string(); err != nil {
		return k, unexpected(err)
	}
	code, err := d.r.ReadByte()
	if err != nil {
		return k, unexpected(err)
	}
	if k.Type = typeNames[code]; k.Type == "" {
		return k, fmt.Errorf("key %q: type code %d", k.Key, code)
	}
	if k.TTLMillis, err = binary.ReadVarint(d.r); err != nil {
		return k, unexpected(err)
	}
	if err := d.value(&k); err != nil {
		return k, fmt.Errorf("key %q: %w", k.Key, unexpected(err))
	}
	return k, nil
}

// value reads the value of k, whose Type is set.
func (d *decoder) value(k *devapi.SnapshotKey) error {
	switch k.Type {
	case devapi.TypeString:
		var err error
		k.String, err = d.string()
		return err
	case devapi.TypeJSON:
		var err error
		k.JSON, err = d.string()
		return err
	}
	n, err := binary.ReadUvarint(d.r)
	if err != nil {
		return err
	}
	// Grown as elements come, not sized by n: a damaged n asks for nothing.
	capHint := int(min(n, 1024))
	switch k.Type {
	case devapi.TypeList, devapi.TypeSet:
		l := make([]string, 0, capHint)
		for range n {
			s, err := d.string()
			if err != nil {
				return err
			}
			l = append(l, s)
		}
		if k.Type == devapi.TypeList {
			k.List = l
		} else {
			k.Set = l
		}
	case devapi.TypeZSet:
		k.ZSet = make([]devapi.ScoredMember, 0, capHint)
		for range n {
			m, err := d.string()
			if err != nil {
				return err
			}
			var bits [8]byte
			if _, err := io.ReadFull(d.r, bits[:]); err != nil {
				return err
			}
			k.ZSet = append(k.ZSet, devapi.ScoredMember{Member: m, Score: math.Float64frombits(binary.LittleEndian.Uint64(bits[:]))})
		}
	case devapi.TypeHash:
		k.Hash = make(map[string]string, capHint)
		for range n {
			f, err := d.string()
			if err != nil {
				return err
			}
			if k.Hash[f], err = d.string(); err != nil {
				return err
			}
		}
	case devapi.TypeStream:
		k.Stream = make([]devapi.StreamEntry, 0, capHint)
		for range n {
			id, err := d.string()
			if err != nil {
				return err
			}
			m, err := binary.ReadUvarint(d.r)
			if err != nil {
				return err
			}
			e := devapi.StreamEntry{ID: id, Fields: make([]string, 0, min(m, 1024))}
			for range m {
				f, err := d.string()
				if err != nil {
					return err
				}
				e.Fields = append(e.Fields, f)
			}
			k.Stream = append(k.Stream, e)
		}
	}
	return nil
}

// string reads one string into memory of its own, allocated once.
func (d *decoder) string() (string, error) {
	n, err := binary.ReadUvarint(d.r)
	if err != nil {
		return "", err
	}
	if n > maxBackupString {
		return "", fmt.Errorf("a string of %d bytes", n)
	}
	if n <= uint64(len(d.scratch)) {
		b := d.scratch[:n]
		if _, err := io.ReadFull(d.r, b); err != nil {
			return "", err
		}
		return string(b), nil
	}
	// Grown up front only up to 16 MiB: a damaged length asks for no more
	// than that before its bytes turn out to be missing.
	var sb strings.Builder
	sb.Grow(int(min(n, 16<<20)))
	for left := int(n); left > 0; {
		b := d.scratch[:min(left, len(d.scratch))]
		if _, err := io.ReadFull(d.r, b); err != nil {
			return "", err
		}
		sb.Write(b)
		left -= len(b)
	}
	return sb.String(), nil
}

// unexpected turns an io.EOF inside a record into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
