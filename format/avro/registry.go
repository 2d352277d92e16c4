package avro

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/riferrei/srclient"

	"github.com/cdcd-dev/cdcd/format"
)

// Schema is one registered version of a subject.
type Schema struct {
	// ID is the registry-wide schema id written in the wire format.
	ID int
	// Version is the version within the subject, from 1.
	Version int
	// Schema is the schema text.
	Schema string
}

// Registry is the part of a Confluent-compatible schema registry the Encoder needs. Every
// method blocks on the network; a failure to reach the registry is a *RegistryError (see
// IsRetryable).
type Registry interface {
	// Compatibility returns the subject's level, or the registry's global level when the
	// subject has none, or "" when neither is set.
	Compatibility(ctx context.Context, subject string) (Compatibility, error)
	// Versions returns the subject's versions, oldest first; none for an unknown subject.
	Versions(ctx context.Context, subject string) ([]Schema, error)
	// Lookup returns the version of subject that holds schema, found as the registry compares
	// schemas (Confluent's POST /subjects/{subject}: the parsed schema, not its text), and
	// false when the subject has no such version or does not exist. A registry stores and
	// answers its own rendering of a schema, so comparing the texts Versions returns with ours
	// finds nothing; this asks the registry itself.
	Lookup(ctx context.Context, subject, schema string) (Schema, bool, error)
	// Register registers schema (Avro) under subject and returns its id; registering a schema
	// the subject already has returns the existing id.
	Register(ctx context.Context, subject, schema string) (int, error)
}

// RegistryError is a failed registry call.
type RegistryError struct {
	// URL is the registry's address.
	URL string
	// Subject is the subject the call was about.
	Subject string
	// Op says what was asked: "compatibility", "versions", "lookup", "register".
	Op string
	// Err is the cause.
	Err error
}

// Error names the registry, the subject and the operation.
func (e *RegistryError) Error() string {
	return fmt.Sprintf("schema registry %s: %s %s: %v", e.URL, e.Op, e.Subject, e.Err)
}

// Unwrap returns the cause.
func (e *RegistryError) Unwrap() error { return e.Err }

// Is makes a *RegistryError of the kind format.ErrRegistry.
func (e *RegistryError) Is(target error) bool { return target == format.ErrRegistry }

// IsRetryable tells whether err may go away by itself: the registry could not be reached, or
// answered with a server-side error. An incompatible schema, a rejected schema or a cancelled
// context is not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrIncompatible) {
		return false
	}
	if _, denied := errors.AsType[*DeniedError](err); denied {
		return false
	}
	var srErr srclient.Error
	if errors.As(err, &srErr) {
		// The registry's error codes are the HTTP status followed by two digits (40401,
		// 42201, 50001); a plain HTTP status may also appear.
		code := srErr.Code
		if code >= 10000 {
			code /= 100
		}
		return code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout
	}
	var urlErr *url.Error
	var netErr net.Error
	if errors.As(err, &urlErr) || errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var regErr *RegistryError
	if errors.As(err, &regErr) {
		// srclient reports an answer without a JSON body (a proxy's 502/503, typically) as a
		// bare status error; treat it as transient.
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		return !errors.As(err, &syntaxErr) && !errors.As(err, &typeErr) && !errors.Is(err, ErrUnknownCompatibility)
	}
	return false
}

// Confluent's error codes that mean "nothing there" rather than a failure.
const (
	codeSubjectNotFound      = 40401
	codeVersionNotFound      = 40402
	codeSchemaNotFound       = 40403
	codeSubjectLevelNotFound = 40408
)

// SRClient is a Registry over github.com/riferrei/srclient.
type SRClient struct {
	url    string
	client srclient.ISchemaRegistryClient
}

var _ Registry = (*SRClient)(nil)

// NewSRClient returns a Registry talking to the Confluent-compatible registry at baseURL
// through httpClient (nil: a client with a 10 s timeout, which also bounds a call whose ctx
// ends first).
func NewSRClient(baseURL string, httpClient *http.Client) *SRClient {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &SRClient{url: baseURL, client: srclient.NewSchemaRegistryClient(baseURL, srclient.WithClient(httpClient))}
}

// bearerTransport adds the bearer token to the requests to one host.
type bearerTransport struct {
	host, token string
	base        http.RoundTripper
}

func (t *bearerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.token == "" || req.URL.Host != t.host {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not change the request it is given.
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+t.token)
	return t.base.RoundTrip(req)
}

// call runs f, returning early when ctx ends: srclient takes no context, so f goes on in the
// background until the HTTP client's timeout.
func call[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

func (c *SRClient) wrap(op, subject string, err error) error {
	if backendDenied(err) {
		err = &DeniedError{Err: err}
	}
	return &RegistryError{URL: c.url, Subject: subject, Op: op, Err: err}
}

// DeniedError is a registry's answer that its backend (Kafka, for cdcd's embedded registry and
// Confluent's) refused the registry an operation: an ACL of the registry's principal is
// missing. It is not retryable: the ACL stays missing until an operator adds it.
type DeniedError struct{ Err error }

// Error is the registry's answer.
func (e *DeniedError) Error() string { return e.Err.Error() }

// Unwrap returns the registry's answer.
func (e *DeniedError) Unwrap() error { return e.Err }

// Retryable is false (see pipeline.IsRetryable).
func (e *DeniedError) Retryable() bool { return false }

// backendDenied tells whether err is a registry's server error whose message names a Kafka
// authorization failure: the name of Kafka's error code (TOPIC_AUTHORIZATION_FAILED, as
// franz-go and cdcd's embedded registry write it) or of the Java exception
// (TopicAuthorizationException, as Confluent's registry writes it). Only the message tells it
// apart from an outage, which the same status (500, code 50001) reports.
func backendDenied(err error) bool {
	var srErr srclient.Error
	if !errors.As(err, &srErr) || srErr.Code < 500 || (srErr.Code >= 600 && srErr.Code < 50000) {
		return false
	}
	return strings.Contains(srErr.Message, "_AUTHORIZATION_FAILED") || strings.Contains(srErr.Message, "AuthorizationException")
}

func hasCode(err error, codes ...int) bool {
	var srErr srclient.Error
	if !errors.As(err, &srErr) {
		return false
	}
	for _, c := range codes {
		if srErr.Code == c {
			return true
		}
	}
	return false
}

// Compatibility implements Registry.
func (c *SRClient) Compatibility(ctx context.Context, subject string) (Compatibility, error) {
	lvl, err := call(ctx, func() (*srclient.CompatibilityLevel, error) {
		return c.client.GetCompatibilityLevel(subject, true)
	})
	if hasCode(err, codeSubjectNotFound, codeSubjectLevelNotFound) {
		return "", nil
	}
	if err != nil {
		return "", c.wrap("compatibility", subject, err)
	}
	if lvl == nil || *lvl == "" {
		return "", nil
	}
	out, err := ParseCompatibility(string(*lvl))
	if err != nil {
		return "", c.wrap("compatibility", subject, err)
	}
	return out, nil
}

// Versions implements Registry.
func (c *SRClient) Versions(ctx context.Context, subject string) ([]Schema, error) {
	nums, err := call(ctx, func() ([]int, error) { return c.client.GetSchemaVersions(subject) })
	if hasCode(err, codeSubjectNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, c.wrap("versions", subject, err)
	}
	sort.Ints(nums)
	out := make([]Schema, 0, len(nums))
	for _, n := range nums {
		s, err := call(ctx, func() (*srclient.Schema, error) { return c.client.GetSchemaByVersion(subject, n) })
		if hasCode(err, codeVersionNotFound) {
			continue // deleted between the two calls
		}
		if err != nil {
			return nil, c.wrap("versions", subject, fmt.Errorf("version %d: %w", n, err))
		}
		out = append(out, Schema{ID: s.ID(), Version: s.Version(), Schema: s.Schema()})
	}
	return out, nil
}

// Lookup implements Registry with POST /subjects/{subject}.
func (c *SRClient) Lookup(ctx context.Context, subject, schema string) (Schema, bool, error) {
	s, err := call(ctx, func() (*srclient.Schema, error) {
		return c.client.LookupSchema(subject, schema, srclient.Avro)
	})
	if hasCode(err, codeSubjectNotFound, codeSchemaNotFound) {
		return Schema{}, false, nil
	}
	if err != nil {
		return Schema{}, false, c.wrap("lookup", subject, err)
	}
	return Schema{ID: s.ID(), Version: s.Version(), Schema: s.Schema()}, true, nil
}

// Register implements Registry.
func (c *SRClient) Register(ctx context.Context, subject, schema string) (int, error) {
	s, err := call(ctx, func() (*srclient.Schema, error) {
		return c.client.CreateSchema(subject, schema, srclient.Avro)
	})
	if err != nil {
		return 0, c.wrap("register", subject, err)
	}
	return s.ID(), nil
}

// SchemaByID returns the schema the registry holds under id.
func (c *SRClient) SchemaByID(ctx context.Context, id int) (string, error) {
	s, err := call(ctx, func() (*srclient.Schema, error) { return c.client.GetSchema(id) })
	if err != nil {
		return "", c.wrap(fmt.Sprintf("schema by id %d", id), "", err)
	}
	return s.Schema(), nil
}
