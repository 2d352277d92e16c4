package main

import (
	"github.com/cdcd-dev/cdcd/api"
)

// debeziumFlatKeys are Debezium's names of connector settings that cdcd reads in the same
// form under a key of its own: the flat form (the REST API) accepts either, so that a
// Debezium connector's configuration posts unchanged.
var debeziumFlatKeys = map[string]string{
	// "<table regex>:<col>,<col>;..." (schema.table for PostgreSQL, database.table for
	// MySQL), as transform.ParseKeyColumns reads it.
	"message.key.columns": "message_key_columns",
}

// debeziumFlatKey returns cdcd's key for key of cfg: the key itself, or its own name for a key
// of debeziumFlatKeys; a field error when cfg sets both names.
func debeziumFlatKey(cfg api.Config, key string) (string, *api.FieldError) {
	own, ok := debeziumFlatKeys[key]
	if !ok {
		return key, nil
	}
	if _, both := cfg[own]; both {
		return "", &api.FieldError{Name: key, Message: "is Debezium's name of " + own + ", which is set too: keep one"}
	}
	return own, nil
}
