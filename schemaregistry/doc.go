// Package schemaregistry is the schema registry cdcd serves itself when no registry URL is
// configured: Confluent Schema Registry's HTTP API for Avro and JSON Schema schemas (schemaType
// JSON; PROTOBUF is refused), persisted in a compacted Kafka topic, so that one cdcd binary plus
// Kafka is a complete setup.
//
// # Storage
//
// The topic (DefaultTopic, one partition, cleanup.policy=compact) is the registry: every
// process's in-memory state is only the result of applying its records in order. Records are
// laid out as in Confluent's `_schemas` topic: a JSON key {"keytype":"SCHEMA","subject":..,
// "version":..,"magic":1} with a value {subject, version, id, schema, deleted}, a key
// {"keytype":"CONFIG","subject":..,"magic":0} with a value {compatibilityLevel}, and a null
// value for a hard delete. cdcd adds one key type, ID_WATERMARK, written before hard deletes so
// that the highest id ever issued survives compaction and no id is ever issued twice.
//
// Open reads the topic from its start up to the end offset it had at startup before it
// returns, and a reader keeps following it afterwards, so that a process sharing the topic
// sees the schemas another registers.
//
// # Writes
//
// A write (register, delete, config) decides from the state, produces its records (idempotent
// producer, acks=all), waits for the broker's acknowledgement, and then waits for its own
// reader to apply them, so that an answer never runs ahead of the topic. Writes of one process
// are serialized by a mutex held from the decision to the read-back.
//
// Schemas are kept in a canonical text (see canonicalize, and jsonschema.Canonicalize for JSON
// Schema; a schema's identity is its type and that text): registering the same schema again
// under a subject returns its id, and the same schema under another subject reuses its id.
// New ids are the highest seen plus one; new versions the subject's highest plus one.
//
// # Security
//
// Handler answers only what a legitimate client sends (guard.go, with the REST API's checks
// from internal/httpguard): without a token (WithToken) the Host header must name loopback, so
// that a web page under a rebound host name cannot reach it; with one, every request must carry
// it (bearer, or the basic authentication password); cross-origin browser requests are
// refused; and a request body must be declared JSON (RequestContentTypes), since a browser sends
// text/plain, forms and untyped bodies cross-origin without asking. Listen refuses an address
// that is not loopback unless the registry has a token.
//
// # The single-writer assumption
//
// Two processes that register at the same instant both decide from a state that lacks the
// other's record, and may both pick the same new id (for different schemas) or the same new
// version of a subject. The reader resolves an id clash deterministically (the first record in
// the log keeps the id; the later one is skipped in every process), and the losing writer,
// which reads its own write back, answers ErrConcurrentWriter as a store error instead of an id
// that is not its schema's. Two versions with the same key are not resolved: compaction keeps
// the last. The fix, left open by the design (all writes already go through Registry.write
// and a read-back), is a single writer elected through Kafka: the processes join a consumer
// group on the topic, the member that owns its partition is the writer, and the others
// forward writes to it over HTTP, as Confluent's leader election does; or a transactional
// producer with a fixed transactional.id, which fences every writer but the latest.
package schemaregistry
