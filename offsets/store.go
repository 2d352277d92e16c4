package offsets

import (
	"encoding/json"
	"errors"
	"fmt"
)

// DefaultTopic is the default name of the offsets topic.
const DefaultTopic = "_cdcd_offsets"

// ErrCorrupt means a record of the offsets topic under the connector's key holds a value that
// is not a Position. Resuming from a guess would lose or duplicate changes, so it is an error.
var ErrCorrupt = errors.New("offsets: corrupt offset record")

// Key names whose position an offset record holds: a connector and its source partition.
type Key struct {
	// Connector is the connector's name.
	Connector string
	// Server is the connector's topic prefix, its logical server name.
	Server string
}

// keyServer is the source partition of a Key, in Kafka Connect's field name.
type keyServer struct {
	Server string `json:"server"`
}

// Bytes returns the record key: JSON ["<connector>",{"server":"<server>"}], the shape Kafka
// Connect uses for source offsets, so that its offset tooling (KIP-875) reads ours.
func (k Key) Bytes() []byte {
	// Marshalling a string and a struct of one string cannot fail.
	b, _ := json.Marshal([]any{k.Connector, keyServer{Server: k.Server}})
	return b
}

// Value returns the value of an offset record holding pos: its JSON. The pipeline produces the
// record, under [Key.Bytes], as the last record of each Kafka transaction, so that the position
// commits or aborts with the records it covers; a tombstone (no value) resets the offset.
func Value(pos Position) ([]byte, error) {
	value, err := json.Marshal(pos)
	if err != nil {
		return nil, fmt.Errorf("offsets: encoding position %s: %w", pos, err)
	}
	return value, nil
}

// ParseValue reads the value of an offset record: the Position it holds, the zero Position for
// a tombstone (nil). Its error, the JSON's, means the record is corrupt (see [ErrCorrupt]).
func ParseValue(value []byte) (Position, error) {
	var p Position
	if value == nil {
		return p, nil
	}
	if err := json.Unmarshal(value, &p); err != nil {
		return Position{}, err
	}
	return p, nil
}

// ValidTopic applies Kafka's rule for topic names: 1 to 249 characters of [a-zA-Z0-9._-], not
// "." or "..". Every topic cdcd names (data, offsets, dead-letter, heartbeat, history) is checked
// with it before the broker is asked.
func ValidTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}
