package pipeline

import (
	"context"
	"time"

	"github.com/cdcd-dev/cdcd/connectors"
	"github.com/cdcd-dev/cdcd/decoder"
)

// The first change of a table makes the encoder register the table's schemas, a few registry
// round trips, before the change can be encoded; met one table after the other, a connector
// of 1,000 tables waited 1,000 times that (30 s on a loaded machine, the first Kafka
// transaction cut at half its timeout meanwhile; docs/benchmarks.md, "Scale"). So when the
// encode stage meets a change of a table it has not seen, it looks at the events already
// waiting in the queue, collects their new tables and has an encoder that can
// (tablePreparer) register them all, several at once, before it goes on in order. It changes
// no outcome: the encoder's preparing is a hint, and each change still meets, in its place,
// whatever error its table's schemas bring. The record size limits of the prepared tables'
// topics (oversize.go) are read then too, in one request.

// tablePreparer is an encoder that can build the codecs of tables ahead of their first
// changes (format/avro's Encoder). PrepareTables blocks on the schema registry and returns
// the topics of the tables it has codecs for; its error is only logged, since each table's
// first change meets it again in its place.
type tablePreparer interface {
	PrepareTables(ctx context.Context, tables []*decoder.Table) ([]string, error)
}

// maxLookahead bounds the events the encode stage takes out of the queue ahead of their turn
// to find new tables: they stay counted in the queue's bounds until handed over, so this
// bounds only the slice holding them.
const maxLookahead = 1024

// maxPrepareTables bounds the tables of one PrepareTables call: the changes before a call's
// last table wait for the whole call, and the Kafka stage creates a batch's topics (and waits
// for their leaders) only once the batch is handed over, so smaller calls let the topics of
// the first tables be created while the next tables' schemas are registered (measured: 552
// tables in one call took 15 s on a loaded machine, with no topic created meanwhile).
const maxPrepareTables = 128

// maxPreparedTables bounds the table versions the encode stage remembers as prepared; past it
// the set starts again (a forgotten table costs one more PrepareTables call, whose encoder
// skips it).
const maxPreparedTables = 1 << 16

// preparerOf returns the encoder's tablePreparer when preparing tables ahead is the same as
// encoding them: no transform chain and no message key columns, which could change a
// change's table, topic or shape, and so the schemas its record needs. Nil otherwise.
func preparerOf(p *Pipeline) tablePreparer {
	tp, ok := p.enc.(tablePreparer)
	if !ok || len(p.cfg.chain) > 0 || p.cfg.keyColumns != nil {
		return nil
	}
	return tp
}

// nextPending returns the next event taken ahead out of the queue, if any.
func (s *encodeStage) nextPending() (connectors.Event, bool) {
	if s.ahead >= len(s.pending) {
		return connectors.Event{}, false
	}
	ev := s.pending[s.ahead]
	s.pending[s.ahead] = connectors.Event{}
	s.ahead++
	if s.ahead == len(s.pending) {
		s.pending, s.ahead = s.pending[:0], 0
	}
	return ev, true
}

// newTable returns the table of ev when it is a change the encoder will meet for the first
// time in this run, nil otherwise.
func (s *encodeStage) newTable(ev *connectors.Event) *decoder.Table {
	if ev.Kind != connectors.EventChange || ev.Change == nil || ev.Change.Table == nil || s.cfg.skipped.skip[ev.Change.Op] {
		return nil
	}
	// Most changes are of the table of the change before: no map lookup for them.
	if ev.Change.Table == s.lastTable {
		return nil
	}
	if _, ok := s.prepared[ev.Change.Table]; ok {
		s.lastTable = ev.Change.Table
		return nil
	}
	return ev.Change.Table
}

// prepareAhead, when ev is the first change of a table, takes the events waiting in events
// (up to maxLookahead held ahead) and has the encoder prepare the new tables among ev and
// them, together.
func (s *encodeStage) prepareAhead(ctx context.Context, ev *connectors.Event, events <-chan connectors.Event) {
	if s.preparer == nil {
		return
	}
	first := s.newTable(ev)
	if first == nil {
		return
	}
take:
	for len(s.pending) < maxLookahead {
		select {
		case next := <-events:
			s.pending = append(s.pending, next)
		default:
			break take
		}
	}
	if len(s.prepared) >= maxPreparedTables {
		clear(s.prepared)
	}
	tables := []*decoder.Table{first}
	s.prepared[first] = struct{}{}
	for i := s.ahead; i < len(s.pending) && len(tables) < maxPrepareTables; i++ {
		if t := s.newTable(&s.pending[i]); t != nil {
			tables = append(tables, t)
			s.prepared[t] = struct{}{}
		}
	}
	start := time.Now()
	topics, err := s.preparer.PrepareTables(ctx, tables)
	// Their record size limits too, in one request rather than one at each first record.
	if s.limits != nil && ctx.Err() == nil {
		s.limits.prefetch(ctx, topics)
	}
	log := s.cfg.log.Debug()
	if err != nil && ctx.Err() == nil {
		log = s.cfg.log.Info().AnErr("error", err)
	}
	log.Str("connector", s.cfg.connector).Int("tables", len(tables)).
		Stringer("took", time.Since(start).Round(time.Millisecond)).
		Msg("schemas of new tables prepared ahead of their first changes")
}
