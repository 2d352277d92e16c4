package connectors

import "testing"

func TestCheckHost(t *testing.T) {
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"db.example.com", true},
		{"db.example.com.", true},
		{"postgres_primary", true},
		{"::1", true},
		{"[fe80::1]", true},
		{"", false},
		{"db\nexample", false},
		{"db example", false},
		{"postgres://db", false},
		{"-db", false},
		{"db..example", false},
		{string(make([]byte, 300)), false},
	} {
		if err := CheckHost(tc.host); (err == nil) != tc.ok {
			t.Errorf("CheckHost(%q) = %v, want ok=%v", tc.host, err, tc.ok)
		}
	}
}
