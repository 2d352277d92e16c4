package connectors

import "strings"

// PrefixOnce returns err with each repetition of prefix (e.g. "postgres source: ") after its
// first removed from the message: an error wrapped at several depths of a source, each adding
// the source's name, reads "postgres source: snapshot: starting the transaction: ..." instead of
// "postgres source: snapshot: postgres source: starting ...". errors.Is and errors.As still see
// err. It returns err itself when the prefix is not repeated (and nil for nil).
//
// Both sources apply it at their boundaries (Open, Stream), so that a wrap added deep inside
// cannot make the message name its source twice.
func PrefixOnce(prefix string, err error) error {
	if err == nil || prefix == "" {
		return err
	}
	msg := err.Error()
	i := strings.Index(msg, prefix)
	if i < 0 {
		return err
	}
	head, tail := msg[:i+len(prefix)], msg[i+len(prefix):]
	if !strings.Contains(tail, prefix) {
		return err
	}
	return &prefixedOnce{msg: head + strings.ReplaceAll(tail, prefix, ""), err: err}
}

// prefixedOnce is err with the message PrefixOnce made of it.
type prefixedOnce struct {
	msg string
	err error
}

func (e *prefixedOnce) Error() string { return e.msg }
func (e *prefixedOnce) Unwrap() error { return e.err }
