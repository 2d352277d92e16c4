package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cdcd-dev/cdcd/pipeline"
)

// heartbeatPrefix is the prefix of the logical decoding messages the heartbeat writes; their
// content is the name of the slot whose Stream wrote them.
const heartbeatPrefix = "cdcd-heartbeat"

// DefaultHeartbeatTopic returns the heartbeat topic of a connector whose topic prefix is
// prefix: Debezium's name, "__debezium-heartbeat.<prefix>".
func DefaultHeartbeatTopic(prefix string) string {
	return DefaultHeartbeatTopicPrefix + "." + prefix
}

// heartbeats is what the assembler needs to turn this source's heartbeat messages into
// records. The record's shape is Debezium's heartbeat (key {"serverName"}, value {"ts_ms"}),
// in schemaless JSON.
type heartbeats struct {
	// slot tells this source's heartbeats from other slots' of the same database.
	slot  string
	topic string
	key   []byte
}

func newHeartbeats(cfg Config) *heartbeats {
	// A struct of one string cannot fail to marshal.
	key, _ := json.Marshal(struct {
		ServerName string `json:"serverName"`
	}{cfg.TopicPrefix})
	return &heartbeats{slot: cfg.Slot, topic: cfg.HeartbeatTopic, key: key}
}

// mine tells whether content, a heartbeat message's, was written by this source's Stream.
func (h *heartbeats) mine(content []byte) bool { return string(content) == h.slot }

// record returns the heartbeat record of a heartbeat transaction committed at commitTime. The
// value holds the commit time rather than the time of emission (Debezium's), so that a
// heartbeat delivered again after a restart is the same record.
func (h *heartbeats) record(commitTime time.Time) *pipeline.Record {
	value := make([]byte, 0, 32)
	value = append(value, `{"ts_ms":`...)
	value = strconv.AppendInt(value, commitTime.UnixMilli(), 10)
	value = append(value, '}')
	// The receiver owns the record: a key of its own.
	return &pipeline.Record{Topic: h.topic, Key: append([]byte(nil), h.key...), Value: value}
}

// beat writes a heartbeat message every HeartbeatInterval on a normal connection of its own,
// until ctx ends. Each is a transactional message in a transaction of its own, so it comes
// back through the slot as Begin, Message, Commit, whose commit position is past every WAL
// record written before it. A failed write is logged and tried again at the next tick on a
// new connection: a server that is gone fails the stream itself.
func (s *Source) beat(ctx context.Context) {
	tick := time.NewTicker(s.cfg.HeartbeatInterval)
	defer tick.Stop()
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		err := s.writeHeartbeat(ctx, &conn)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn().Err(err).Str("slot", s.cfg.Slot).Msg("heartbeat not written; trying again at the next interval")
		}
	}
}

// writeHeartbeat writes one heartbeat message on *conn, connecting first when it is nil and
// dropping it after a failure.
func (s *Source) writeHeartbeat(ctx context.Context, conn **pgx.Conn) error {
	if *conn == nil {
		c, err := connect(ctx, s.cfg)
		if err != nil {
			return err
		}
		*conn = c
	}
	// A write stuck longer than this (a lock, a server in trouble) is given up and retried.
	wctx, cancel := context.WithTimeout(ctx, max(s.cfg.HeartbeatInterval, s.cfg.ConnectTimeout))
	defer cancel()
	_, err := (*conn).Exec(wctx, "SELECT pg_logical_emit_message(true, $1::text, $2::text)", heartbeatPrefix, s.cfg.Slot)
	if err != nil {
		_ = (*conn).Close(context.WithoutCancel(ctx))
		*conn = nil
		return fmt.Errorf("postgres source: writing a heartbeat message: %w", err)
	}
	return nil
}

// ensureHeartbeatTopic creates the heartbeat topic if it does not exist, with one partition
// (Debezium writes its heartbeats to partition 0) and the broker's defaults otherwise.
func ensureHeartbeatTopic(ctx context.Context, opts []kgo.Opt, topic string) error {
	client, err := kgo.NewClient(opts...)
	if err != nil {
		return &ConfigError{Source: "postgres", Field: "kafka", Problem: "invalid Kafka client options", Err: err}
	}
	defer client.Close()
	resp, err := kadm.NewClient(client).CreateTopic(ctx, 1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("postgres source: creating the heartbeat topic %s: %w", topic, err)
	}
	return nil
}

// validTopic tells whether s is a legal Kafka topic name.
func validTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return false
		}
	}
	return true
}
