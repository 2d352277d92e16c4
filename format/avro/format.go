package avro

import "github.com/cdcd-dev/cdcd/format"

// Name is the avro format's name in a connector's configuration.
const Name = "avro"

var _ format.Encoder = (*Encoder)(nil)

// Format is the avro format of a daemon's format table: its encoders register their schemas in
// registry, and take opts (the default compatibility, say) after the options made from the
// connector's format.Config (its Settings: ParseSettings).
func Format(registry Registry, opts ...Option) format.Format {
	return format.Format{Name: Name, New: func(c format.Config) (format.Encoder, error) {
		o := []Option{WithTopicPrefix(c.TopicPrefix), WithConnectorName(c.ConnectorName), WithRegistry(registry),
			WithDatabase(c.Database)}
		if c.Version != "" {
			o = append(o, WithVersion(c.Version))
		}
		if c.Source != nil {
			o = append(o, WithSource(c.Source))
		}
		if c.Placeholder != "" {
			o = append(o, WithPlaceholder(c.Placeholder))
		}
		settings, err := ParseSettings(c.Settings)
		if err != nil {
			return nil, err
		}
		o = append(o, settings...)
		enc, err := NewEncoder(append(o, opts...)...)
		if err != nil {
			return nil, err
		}
		return enc, nil
	}}
}
