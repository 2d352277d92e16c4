package main

import (
	"github.com/cdcd-dev/cdcd/format"
	"github.com/cdcd-dev/cdcd/format/avro"
)

// formats is the table of output formats a connector's `format` field chooses from, their
// encoders registering schemas in registry with compatibility (registry.compatibility) as the
// default level. A new format is one entry here.
func formats(compatibility string, registry avro.Registry) format.Formats {
	var avroOpts []avro.Option
	if level, err := avro.ParseCompatibility(compatibility); err == nil {
		avroOpts = append(avroOpts, avro.WithDefaultCompatibility(level))
	}
	return format.Formats{
		avro.Format(registry, avroOpts...),
	}
}
