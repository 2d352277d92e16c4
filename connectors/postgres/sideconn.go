package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// catalogIdle is how long the streaming catalog's connection stays open after its last query:
// the Relation messages at a stream's start, or after DDL, come in bursts that one connection
// serves, and a smart shutdown waits at most this long for it.
const catalogIdle = time.Second

// closeTimeout bounds the goodbye to the server of a connection that is closed.
const closeTimeout = 5 * time.Second

// lazyConn is a normal (non-replication) connection beside the replication stream: opened when
// a task needs it, closed after idleAfter without use (at once when idleAfter is 0) and after
// any error. A session held open while cdcd only streams would keep a smart shutdown
// (pg_ctl stop -m smart) waiting forever: PostgreSQL waits for every normal session to end
// before it ends its walsenders, and refuses new sessions meanwhile, so a connection opened on
// demand fails then, the shutdown goes on, and the stream ends and is retried as for a fast
// shutdown. A lazyConn is safe for concurrent use; its tasks run one at a time.
type lazyConn struct {
	cfg       Config
	idleAfter time.Duration

	mu   sync.Mutex
	conn *pgx.Conn
	// uses counts the uses and closes, so that an idle timer closes only the connection it
	// was set for, unused since.
	uses uint64
}

func newLazyConn(cfg Config, idleAfter time.Duration) *lazyConn {
	return &lazyConn{cfg: cfg, idleAfter: idleAfter}
}

// do runs f on the connection, connecting first if none is open.
func (l *lazyConn) do(ctx context.Context, f func(context.Context, *pgx.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uses++
	if l.conn == nil {
		c, err := connect(ctx, l.cfg)
		if err != nil {
			return err
		}
		l.conn = c
	}
	err := f(ctx, l.conn)
	if err != nil || l.idleAfter <= 0 {
		l.closeLocked()
		return err
	}
	use := l.uses
	time.AfterFunc(l.idleAfter, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.uses == use {
			l.closeLocked()
		}
	})
	return nil
}

// close closes the connection if one is open; a later do opens another.
func (l *lazyConn) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uses++
	l.closeLocked()
}

func (l *lazyConn) closeLocked() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = l.conn.Close(ctx)
	l.conn = nil
}
