package snapshot

// KeysetWhere returns the condition of a keyset chunk on a table whose key columns are keys
// (quoted and joined, "a, b"): rows whose key, compared as a row (so that a composite key
// pages in its index's order), is after the key values after and up to and including upTo,
// both rendered by the source's dialect (literals, or placeholders); "" leaves that bound out.
// It is " WHERE ..." with a leading space, or "" without bounds.
func KeysetWhere(keys, after, upTo string) string {
	switch {
	case after != "" && upTo != "":
		return " WHERE (" + keys + ") > (" + after + ") AND (" + keys + ") <= (" + upTo + ")"
	case after != "":
		return " WHERE (" + keys + ") > (" + after + ")"
	case upTo != "":
		return " WHERE (" + keys + ") <= (" + upTo + ")"
	}
	return ""
}
