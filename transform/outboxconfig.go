package transform

import (
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// BuildOption configures FromConfig.
type BuildOption func(*buildOptions)

type buildOptions struct {
	log *zerolog.Logger
}

// WithLogger gives the transforms that log (the outbox router's ignored updates) a logger,
// default none.
func WithLogger(l zerolog.Logger) BuildOption { return func(o *buildOptions) { o.log = &l } }

// outboxSettings are the outbox router's settings.
var outboxSettings = []string{
	OutboxTables, OutboxRouteByField, OutboxRouteTopicRegex, OutboxRouteTopicReplace, OutboxTombstoneOnEmpty,
	OutboxFieldEventID, OutboxFieldEventKey, OutboxFieldEventType, OutboxFieldEventPayload,
	OutboxFieldEventTimestamp, OutboxFieldsAdditional, OutboxAdditionalMissing, OutboxExpandJSONPayload,
	OutboxOpInvalidBehavior, OutboxMessagePrefix,
}

func buildOutbox(get func(string) string, settings map[string]string, o buildOptions) (Transform, error) {
	cfg := OutboxConfig{
		RouteByField:     get(OutboxRouteByField),
		TopicRegex:       get(OutboxRouteTopicRegex),
		TopicReplacement: get(OutboxRouteTopicReplace),
		IDField:          get(OutboxFieldEventID),
		KeyField:         get(OutboxFieldEventKey),
		TypeField:        get(OutboxFieldEventType),
		PayloadField:     get(OutboxFieldEventPayload),
		TimestampField:   get(OutboxFieldEventTimestamp),
		MessagePrefix:    get(OutboxMessagePrefix),
		Logger:           o.log,
	}
	if _, ok := settings[OutboxTables]; ok {
		cfg.Tables = splitTableList(get(OutboxTables))
		if len(cfg.Tables) == 0 {
			return nil, &SettingError{Setting: OutboxTables, Reason: "empty: leave it out for the default " + DefaultOutboxTables}
		}
	}
	boolean := func(key string, dst *bool) error {
		v := get(key)
		if v == "" {
			return nil
		}
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return &SettingError{Setting: key, Value: v, Reason: "want true or false"}
		}
		*dst = b
		return nil
	}
	if err := boolean(OutboxTombstoneOnEmpty, &cfg.TombstoneOnEmpty); err != nil {
		return nil, err
	}
	if err := boolean(OutboxExpandJSONPayload, &cfg.ExpandJSON); err != nil {
		return nil, err
	}
	errOnMissing := true
	if err := boolean(OutboxAdditionalMissing, &errOnMissing); err != nil {
		return nil, err
	}
	cfg.AllowMissing = !errOnMissing
	if v := get(OutboxOpInvalidBehavior); v != "" {
		b, err := ParseOpInvalidBehavior(v)
		if err != nil {
			return nil, err
		}
		cfg.OnInvalidOp = b
	}
	var err error
	if cfg.Additional, err = ParseOutboxPlacement(get(OutboxFieldsAdditional)); err != nil {
		return nil, err
	}
	return NewOutbox(cfg)
}
