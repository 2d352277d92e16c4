package avro

import (
	"context"
	"errors"

	"github.com/riferrei/srclient"
)

// RegisterJSON registers schema as a JSON Schema (schemaType JSON, as Confluent's
// JsonSchemaConverter registers its schemas) under subject and returns its id; registering a
// schema the subject already has returns the existing id. It is the registry client of the
// json-registry format (format/jsonschema), with the same errors as Register.
func (c *SRClient) RegisterJSON(ctx context.Context, subject, schema string) (int, error) {
	s, err := call(ctx, func() (*srclient.Schema, error) {
		return c.client.CreateSchema(subject, schema, srclient.Json)
	})
	if err != nil {
		return 0, c.wrap("register", subject, err)
	}
	return s.ID(), nil
}

// Refusal returns the registry's error code and message when err holds a registry's answer
// that refuses the request for good (a 4xx status other than 404, 408 and 429: 409 for an
// incompatible schema, 42201 for an invalid one), so that a caller can stop rather than retry.
func Refusal(err error) (code int, message string, ok bool) {
	var srErr srclient.Error
	if !errors.As(err, &srErr) {
		return 0, "", false
	}
	status := srErr.Code
	if status >= 10000 {
		status /= 100
	}
	if status < 400 || status >= 500 || status == 404 || status == 408 || status == 429 {
		return 0, "", false
	}
	return srErr.Code, srErr.Message, true
}
