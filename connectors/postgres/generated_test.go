package postgres

import "testing"

func TestPublicationOptions(t *testing.T) {
	for _, tc := range []struct {
		routing   PartitionRouting
		generated bool
		want      string
	}{
		{PartitionsViaLeaves, false, ""},
		{PartitionsViaRoot, false, " WITH (publish_via_partition_root = true)"},
		{PartitionsViaLeaves, true, " WITH (publish_generated_columns = stored)"},
		{PartitionsViaRoot, true, " WITH (publish_via_partition_root = true, publish_generated_columns = stored)"},
	} {
		got := publicationOptions(Config{PartitionRouting: tc.routing, PublishGeneratedColumns: tc.generated})
		if got != tc.want {
			t.Errorf("%v, generated %t: %q, want %q", tc.routing, tc.generated, got, tc.want)
		}
	}
}
