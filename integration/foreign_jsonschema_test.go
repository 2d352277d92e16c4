package integration

// The json-registry format joins the formats the foreign reader decodes: Confluent's Python
// JSONDeserializer with its SchemaRegistryClient against cdcd's embedded registry, which fetches
// each record's JSON Schema by the id in the wire format and validates the document against it
// before the test compares it field by field (TestForeignConfluentPythonReadsEveryPostgresType,
// TestForeignConfluentPythonReadsEveryMariaDBType).
func init() {
	foreignFormats = append(foreignFormats, foreignFormat{name: "json_registry", wire: "json-registry",
		extra: []string{"format: json-registry"}})
}
