package worker

import (
	"errors"
	"testing"
	"time"

	"github.com/cdcd-dev/cdcd/api"
)

func TestValidateOptions(t *testing.T) {
	base := []Option{SeedBrokers("127.0.0.1:9092")}
	tests := []struct {
		name string
		opts []Option
		ok   bool
	}{
		{"defaults", nil, true},
		{"no brokers", []Option{SeedBrokers()}, false},
		{"kafka opts instead of brokers", []Option{SeedBrokers(), KafkaOpts()}, false},
		{"empty config topic", []Option{ConfigTopic("")}, false},
		{"empty offsets topic", []Option{OffsetsTopic("")}, false},
		{"one topic for both", []Option{ConfigTopic("t"), OffsetsTopic("t")}, false},
		{"empty worker id", []Option{WorkerID("")}, false},
		{"zero build retry", []Option{BuildRetry(0, time.Second)}, false},
		{"build retry max under min", []Option{BuildRetry(time.Second, time.Millisecond)}, false},
		{"build retry fixed", []Option{BuildRetry(time.Second, time.Second)}, true},
		{"static connector", []Option{StaticConnectors(map[string]api.Config{"a": {}})}, true},
		{"static connector without a name", []Option{StaticConnectors(map[string]api.Config{"": {}})}, false},
		{"static connector with a slash", []Option{StaticConnectors(map[string]api.Config{"a/b": {}})}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultConfig()
			for _, o := range append(append([]Option(nil), base...), tt.opts...) {
				o(&cfg)
			}
			err := cfg.validate()
			if (err == nil) != tt.ok {
				t.Fatalf("validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidOption) {
				t.Fatalf("validate() = %v, want ErrInvalidOption", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	cfg := defaultConfig()
	if cfg.configTopic != DefaultConfigTopic || cfg.offsetsTopic != "_cdcd_offsets" || cfg.workerID == "" {
		t.Fatalf("defaults: config topic %q, offsets topic %q, worker id %q", cfg.configTopic, cfg.offsetsTopic, cfg.workerID)
	}
}

func TestNewRequiresAFactory(t *testing.T) {
	if _, err := New(t.Context(), nil, SeedBrokers("127.0.0.1:1")); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("New(nil factory) = %v, want ErrInvalidOption", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"", "a/b", `a\b`, "a\nb", string(make([]byte, maxNameLen+1))} {
		if err := checkName(name); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("checkName(%q) = %v, want ErrInvalid", name, err)
		}
	}
	for _, name := range []string{"inventory", "pg-1.orders_v2", "é"} {
		if err := checkName(name); err != nil {
			t.Errorf("checkName(%q) = %v", name, err)
		}
	}
}
