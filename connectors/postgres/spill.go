package postgres

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jackc/pglogrepl"
)

// ErrSpillCorrupt wraps a spill file that does not read back as it was written.
var ErrSpillCorrupt = errors.New("postgres source: corrupt spill file")

const (
	// spillSuffix ends every spill file's name; clearing a spill directory removes only these.
	spillSuffix = ".spill"
	// spillBufferSize is the write and read buffer of the one spill file open at a time.
	spillBufferSize = 64 << 10
	// spillHeaderSize is a record's header: the message's length (4 bytes) and the LSN of its
	// XLogData (8 bytes), big-endian.
	spillHeaderSize = 12
	// maxSpillRecord bounds a record's length when reading back, so a damaged file cannot ask
	// for an absurd allocation; PostgreSQL's messages stay under 1 GB.
	maxSpillRecord = 1 << 30
)

// spool keeps the streamed chunks of in-progress transactions (pgoutput streaming) on disk
// until their Stream Commit, one file per top-level xid, so memory stays bounded whatever a
// transaction's size: at most one file is open, through one buffer, at a time.
//
// A file is a sequence of records, each the header (length, XLogData LSN) and then the raw
// pgoutput message as received inside a stream block, xid included: every Relation, Type,
// Insert, Update, Delete, Truncate and logical message. They are decoded only at replay, in
// the order received, so a Relation message describes the changes that follow it in the same
// transaction, exactly as when it was sent, and reaches the decoder's relation cache only if
// and when the transaction commits, as pgoutput assumes of its subscriber.
//
// A spool has no network code; it is not safe for concurrent use (one Stream has one).
type spool struct {
	dir string
	// session prefixes this spool's file names, so that a stale process that still writes
	// into the same directory cannot touch them.
	session string
	bufSize int

	txns map[uint32]*spoolTxn
	// cur is the transaction of the open stream block, nil between blocks; f and w are its
	// file, open for appending, while it is set.
	cur *spoolTxn
	f   *os.File
	w   *bufio.Writer
	r   *bufio.Reader
	hdr [spillHeaderSize]byte
}

// spoolTxn is what the spool knows of one streamed, uncommitted top-level transaction.
type spoolTxn struct {
	xid  uint32
	path string
	// size is the file's length once the writer is flushed.
	size int64
	// subs are the subtransactions seen, in the order of their first record, with the offset
	// of that record: a subtransaction's abort cuts the file there, as PostgreSQL's own apply
	// worker does. subOff indexes them by xid.
	subs   []subxact
	subOff map[uint32]int64
	// lastXID is the xid of the last record written, to skip the lookup on a run of records
	// of one (sub)transaction.
	lastXID uint32
	// descs are the offsets of the Relation and Type records, which survive a subtransaction's
	// abort: pgoutput does not send a description again to a transaction it already sent it to.
	descs []int64
}

type subxact struct {
	xid uint32
	off int64
}

// newSpool returns a spool writing in dir, which it creates, after deleting the spill files
// left there by earlier runs: the server sends again whatever was not acknowledged.
func newSpool(dir string, bufSize int) (*spool, error) {
	if err := clearSpillDir(dir); err != nil {
		return nil, err
	}
	var id [6]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("postgres source: naming spill files: %w", err)
	}
	return &spool{dir: dir, session: hex.EncodeToString(id[:]), bufSize: bufSize, txns: make(map[uint32]*spoolTxn)}, nil
}

// clearSpillDir creates dir if needed and deletes the spill files in it, and nothing else:
// the directory may be shared.
func clearSpillDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &ConfigError{Source: "postgres", Field: "spill dir", Problem: fmt.Sprintf("cannot create %s", dir),
			Fix: "set a writable directory for streamed transactions", Err: err}
	}
	names, err := filepath.Glob(filepath.Join(dir, "*"+spillSuffix))
	if err != nil {
		return fmt.Errorf("postgres source: listing spill dir %s: %w", dir, err)
	}
	for _, n := range names {
		if err := os.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("postgres source: clearing spill dir %s: %w", dir, err)
		}
	}
	// Find out now, not at the first large transaction, that files cannot be written there.
	probe, err := os.CreateTemp(dir, "probe-*"+spillSuffix)
	if err != nil {
		return &ConfigError{Source: "postgres", Field: "spill dir", Problem: fmt.Sprintf("cannot write in %s", dir),
			Fix: "set a writable directory for streamed transactions", Err: err}
	}
	_ = probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return fmt.Errorf("postgres source: removing %s: %w", probe.Name(), err)
	}
	return nil
}

// inBlock tells whether a stream block is open.
func (s *spool) inBlock() bool { return s.cur != nil }

// start opens the stream block of xid: its file is created by the first segment and appended
// to by the later ones.
func (s *spool) start(xid uint32, first bool) error {
	if s.cur != nil {
		return fmt.Errorf("%w: Stream Start of xid %d inside the block of xid %d", ErrProtocol, xid, s.cur.xid)
	}
	t := s.txns[xid]
	flags := os.O_WRONLY | os.O_APPEND
	switch {
	case first && t != nil:
		return fmt.Errorf("%w: first Stream Start of xid %d, already streaming", ErrProtocol, xid)
	case !first && t == nil:
		// Its earlier segments were sent before this Stream began: they are lost to us.
		return fmt.Errorf("%w: a later Stream Start of xid %d whose first segment was not received", ErrProtocol, xid)
	case first:
		t = &spoolTxn{xid: xid, path: filepath.Join(s.dir, s.session+"-"+strconv.FormatUint(uint64(xid), 10)+spillSuffix),
			subOff: make(map[uint32]int64)}
		flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(t.path, flags, 0o600)
	if err != nil {
		return fmt.Errorf("postgres source: opening spill file for xid %d: %w", xid, err)
	}
	if first {
		s.txns[xid] = t
	}
	s.cur, s.f = t, f
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, s.bufSize)
	} else {
		s.w.Reset(f)
	}
	return nil
}

// write appends data, a message received inside the open block at walStart; it keeps a
// reference to neither. Its xid (bytes 1 to 4) is the (sub)transaction it belongs to.
func (s *spool) write(data []byte, walStart pglogrepl.LSN) error {
	t := s.cur
	if t == nil {
		return fmt.Errorf("%w: a streamed message outside a stream block", ErrProtocol)
	}
	if len(data) < 5 {
		return fmt.Errorf("%w: streamed message %q of %d bytes has no xid", ErrProtocol, data[:min(len(data), 1)], len(data))
	}
	if xid := binary.BigEndian.Uint32(data[1:5]); xid != t.lastXID {
		t.lastXID = xid
		if _, seen := t.subOff[xid]; !seen && xid != t.xid {
			t.subOff[xid] = t.size
			t.subs = append(t.subs, subxact{xid: xid, off: t.size})
		}
	}
	if data[0] == 'R' || data[0] == 'Y' {
		t.descs = append(t.descs, t.size)
	}
	if err := s.writeRecord(data, walStart); err != nil {
		return fmt.Errorf("postgres source: spilling xid %d: %w", t.xid, err)
	}
	return nil
}

func (s *spool) writeRecord(data []byte, walStart pglogrepl.LSN) error {
	binary.BigEndian.PutUint32(s.hdr[:4], uint32(len(data)))
	binary.BigEndian.PutUint64(s.hdr[4:], uint64(walStart))
	if _, err := s.w.Write(s.hdr[:]); err != nil {
		return err
	}
	if _, err := s.w.Write(data); err != nil {
		return err
	}
	s.cur.size += spillHeaderSize + int64(len(data))
	return nil
}

// stop closes the open block: its records are flushed to the file, which is closed.
func (s *spool) stop() error {
	if s.cur == nil {
		return fmt.Errorf("%w: Stream Stop outside a stream block", ErrProtocol)
	}
	xid := s.cur.xid
	err := s.w.Flush()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.cur, s.f = nil, nil
	s.w.Reset(nil)
	if err != nil {
		return fmt.Errorf("postgres source: writing spill file for xid %d: %w", xid, err)
	}
	return nil
}

// abort applies a Stream Abort: the whole transaction when subXID is xid, else exactly the
// changes of subXID and of the subtransactions that began after it, which are its children
// (a subtransaction that began later and is not nested in it can only begin after it ended).
// An xid or subxid with no change spilled has nothing to drop.
func (s *spool) abort(xid, subXID uint32) error {
	if s.cur != nil {
		return fmt.Errorf("%w: Stream Abort of xid %d inside the block of xid %d", ErrProtocol, xid, s.cur.xid)
	}
	t := s.txns[xid]
	if t == nil {
		return nil
	}
	if subXID == xid {
		return s.discard(xid)
	}
	cut, ok := t.subOff[subXID]
	if !ok {
		return nil
	}
	if err := s.truncate(t, cut); err != nil {
		return fmt.Errorf("postgres source: dropping subtransaction %d of xid %d from its spill file: %w", subXID, xid, err)
	}
	return nil
}

// truncate cuts t's file at cut, then appends again the Relation and Type records that were
// after it.
func (s *spool) truncate(t *spoolTxn, cut int64) error {
	i := len(t.subs)
	for i > 0 && t.subs[i-1].off >= cut {
		i--
		delete(t.subOff, t.subs[i].xid)
	}
	t.subs = t.subs[:i]
	t.lastXID = 0
	j := len(t.descs)
	for j > 0 && t.descs[j-1] >= cut {
		j--
	}
	kept := t.descs[j:]
	t.descs = t.descs[:j]

	f, err := os.OpenFile(t.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	var descs [][]byte
	var lsns []pglogrepl.LSN
	for _, off := range kept {
		data, lsn, err := readRecordAt(f, off, t.size)
		if err != nil {
			return err
		}
		descs, lsns = append(descs, data), append(lsns, lsn)
	}
	if err := f.Truncate(cut); err != nil {
		return err
	}
	t.size = cut
	if len(descs) == 0 {
		return f.Close()
	}
	if _, err := f.Seek(cut, io.SeekStart); err != nil {
		return err
	}
	s.cur = t
	s.w.Reset(f)
	for k, data := range descs {
		t.descs = append(t.descs, t.size)
		if err := s.writeRecord(data, lsns[k]); err != nil {
			s.cur = nil
			return err
		}
	}
	s.cur = nil
	err = s.w.Flush()
	s.w.Reset(nil)
	if err != nil {
		return err
	}
	return f.Close()
}

// readRecordAt reads the record at off of a file of length size.
func readRecordAt(f *os.File, off, size int64) ([]byte, pglogrepl.LSN, error) {
	var hdr [spillHeaderSize]byte
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return nil, 0, fmt.Errorf("%w: %s at %d: %w", ErrSpillCorrupt, f.Name(), off, err)
	}
	n := int64(binary.BigEndian.Uint32(hdr[:4]))
	if off+spillHeaderSize+n > size {
		return nil, 0, fmt.Errorf("%w: %s: record of %d bytes at %d runs past the end", ErrSpillCorrupt, f.Name(), n, off)
	}
	data := make([]byte, n)
	if _, err := f.ReadAt(data, off+spillHeaderSize); err != nil {
		return nil, 0, fmt.Errorf("%w: %s at %d: %w", ErrSpillCorrupt, f.Name(), off, err)
	}
	return data, pglogrepl.LSN(binary.BigEndian.Uint64(hdr[4:])), nil
}

// has tells whether xid has a spill file.
func (s *spool) has(xid uint32) bool { return s.txns[xid] != nil }

// replay reads xid's records in order, calling fn with each message (a new slice fn may keep)
// and the LSN it was received at. It reads sequentially through one buffer.
func (s *spool) replay(xid uint32, fn func(data []byte, walStart pglogrepl.LSN) error) error {
	t := s.txns[xid]
	if t == nil {
		return fmt.Errorf("%w: Stream Commit of xid %d, which was never streamed", ErrProtocol, xid)
	}
	if s.cur != nil {
		return fmt.Errorf("%w: Stream Commit of xid %d inside the block of xid %d", ErrProtocol, xid, s.cur.xid)
	}
	f, err := os.Open(t.path)
	if err != nil {
		return fmt.Errorf("postgres source: opening spill file of xid %d: %w", xid, err)
	}
	defer func() { _ = f.Close() }()
	if s.r == nil {
		s.r = bufio.NewReaderSize(f, s.bufSize)
	} else {
		s.r.Reset(f)
	}
	defer s.r.Reset(nil)
	var hdr [spillHeaderSize]byte
	for off := int64(0); off < t.size; {
		if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
			return fmt.Errorf("%w: %s at %d of %d: %w", ErrSpillCorrupt, t.path, off, t.size, err)
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n > maxSpillRecord || off+spillHeaderSize+int64(n) > t.size {
			return fmt.Errorf("%w: %s: record of %d bytes at %d", ErrSpillCorrupt, t.path, n, off)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(s.r, data); err != nil {
			return fmt.Errorf("%w: %s at %d: %w", ErrSpillCorrupt, t.path, off, err)
		}
		if err := fn(data, pglogrepl.LSN(binary.BigEndian.Uint64(hdr[4:]))); err != nil {
			return err
		}
		off += spillHeaderSize + int64(n)
	}
	return nil
}

// discard deletes xid's file and forgets it.
func (s *spool) discard(xid uint32) error {
	t := s.txns[xid]
	if t == nil {
		return nil
	}
	delete(s.txns, xid)
	if err := os.Remove(t.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("postgres source: deleting spill file of xid %d: %w", xid, err)
	}
	return nil
}

// close ends the spool at the end of a Stream: its files are deleted, as nothing in them can
// be used by another Stream.
func (s *spool) close() {
	if s.cur != nil {
		_ = s.f.Close()
		s.cur, s.f = nil, nil
	}
	for xid := range s.txns {
		_ = s.discard(xid)
	}
}
