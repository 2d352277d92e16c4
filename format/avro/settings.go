package avro

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cdcd-dev/cdcd/format"
)

// The keys of format.Config.Settings the avro format reads besides the handling modes
// (format.SettingDecimalMode, ...): Confluent's serializer properties.
const (
	// SettingKeySubjectStrategy is key.subject.name.strategy (ParseSubjectStrategy).
	SettingKeySubjectStrategy = "key.subject.name.strategy"
	// SettingValueSubjectStrategy is value.subject.name.strategy (ParseSubjectStrategy).
	SettingValueSubjectStrategy = "value.subject.name.strategy"
)

// confluentStrategyPackage is where Confluent's serializers keep the strategies' classes.
const confluentStrategyPackage = "io.confluent.kafka.serializers.subject."

var strategyNames = map[string]SubjectStrategy{
	"TopicNameStrategy":       TopicNameStrategy,
	"RecordNameStrategy":      RecordNameStrategy,
	"TopicRecordNameStrategy": TopicRecordNameStrategy,
}

// ErrUnknownStrategy is wrapped by ParseSubjectStrategy's error.
var ErrUnknownStrategy = errors.New("unknown subject name strategy")

// ParseSubjectStrategy reads a strategy as Confluent's serializers are configured with it:
// the Java class name (io.confluent.kafka.serializers.subject.RecordNameStrategy) or its short
// name (RecordNameStrategy); "" is TopicNameStrategy.
func ParseSubjectStrategy(name string) (SubjectStrategy, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return TopicNameStrategy, nil
	}
	if s, ok := strategyNames[strings.TrimPrefix(n, confluentStrategyPackage)]; ok {
		return s, nil
	}
	return 0, fmt.Errorf("%w %q: not TopicNameStrategy, RecordNameStrategy or TopicRecordNameStrategy (short or %s... class names)",
		ErrUnknownStrategy, name, confluentStrategyPackage)
}

// String returns the strategy's short name, as ParseSubjectStrategy reads it.
func (s SubjectStrategy) String() string {
	for n, v := range strategyNames {
		if v == s {
			return n
		}
	}
	return fmt.Sprintf("SubjectStrategy(%d)", uint8(s))
}

// ParseSettings returns the options of the avro format's settings (the handling modes and the
// subject name strategies); an unknown key or value is an error wrapping ErrConfig.
func ParseSettings(settings map[string]string) ([]Option, error) {
	var modes format.Modes
	var opts []Option
	for k, v := range settings {
		var err error
		switch k {
		case SettingKeySubjectStrategy, SettingValueSubjectStrategy:
			var s SubjectStrategy
			if s, err = ParseSubjectStrategy(v); err == nil {
				if k == SettingKeySubjectStrategy {
					opts = append(opts, WithKeySubjectStrategy(s))
				} else {
					opts = append(opts, WithValueSubjectStrategy(s))
				}
			}
		default:
			var known bool
			if known, err = modes.ParseModeSetting(k, v); !known {
				err = errors.New("unknown setting")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s=%q: %w", ErrConfig, k, v, err)
		}
	}
	return append(opts, WithModes(modes)), nil
}
