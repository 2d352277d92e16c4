package transform

import "github.com/cdcd-dev/cdcd/internal/sanitize"

// DefaultTopic returns the topic of a table's changes before any route: prefix.namespace.name
// with every character of namespace and name that Kafka does not take in a topic name (it
// takes [A-Za-z0-9._-]) replaced by '_', one '_' per character, as Debezium's topic naming
// does: "my schema"."Ümlaut Tab" is <prefix>.my_schema._mlaut_Tab. The prefix is a valid
// topic name already (the configuration checks it). Two tables may so share a topic: the
// sources and the encoder refuse that (see TopicCollision).
func DefaultTopic(prefix, namespace, name string) string {
	return prefix + "." + SanitizeTopicPart(namespace) + "." + SanitizeTopicPart(name)
}

// SanitizeTopicPart replaces each character of s that is not in [A-Za-z0-9._-] by '_', as
// Debezium does per UTF-16 unit: one '_' for a character of the Basic Multilingual Plane, two
// for one past it.
func SanitizeTopicPart(s string) string {
	return sanitize.Replace(s, topicChars)
}

// topicChars is what Kafka takes in a topic name, anywhere in it.
var topicChars = sanitize.NewCharset(topicByte, topicByte)

func topicByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// TopicCollision returns the first two tables, each {namespace, name}, whose default topics
// are the same although the tables are not; ok is false when there are none. Their topic is
// DefaultTopic(prefix, ...) of either.
func TopicCollision(tables [][2]string) (a, b [2]string, ok bool) {
	seen := make(map[string][2]string, len(tables))
	for _, t := range tables {
		k := DefaultTopic("", t[0], t[1])
		if prev, dup := seen[k]; dup && prev != t {
			return prev, t, true
		}
		seen[k] = t
	}
	return a, b, false
}
