package connectors

// ConfigError says what is wrong with a source's configuration or its server's setup, and how
// to fix it. It never holds a password.
type ConfigError struct {
	// Source names the source kind: "postgres", "mysql".
	Source string
	// Field is the configuration field or server setting at fault.
	Field string
	// Problem says what is wrong.
	Problem string
	// Fix says what to do about it.
	Fix string
	// Err is the underlying error, if any.
	Err error
}

// Error implements error.
func (e *ConfigError) Error() string {
	msg := e.Source + " source: " + e.Field + ": " + e.Problem
	if e.Fix != "" {
		msg += " (fix: " + e.Fix + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// Retryable is false: the same configuration meets the same problem again, so the connector
// stops with the error instead of restarting.
func (e *ConfigError) Retryable() bool { return false }
