package connectors

import (
	"fmt"
	"net"
	"strings"
)

// maxHostLength is DNS's limit on a full host name.
const maxHostLength = 253

// CheckHost tells what is wrong with host as a server's address, or nil: it must be a DNS name
// (labels of letters, digits, '-' and '_'), an IPv4 address or an IPv6 address (brackets
// allowed). A host is pasted into connection strings and logs, so a space, a control character
// or a URL is refused here rather than met as a confusing dial error later.
func CheckHost(host string) error {
	switch {
	case host == "":
		return fmt.Errorf("is empty")
	case len(host) > maxHostLength:
		return fmt.Errorf("is %d characters long, DNS allows at most %d", len(host), maxHostLength)
	}
	for _, r := range host {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%q holds a space or a control character", host)
		}
	}
	if net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")) != nil {
		return nil
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(host, "."), ".") {
		if !validHostLabel(label) {
			return fmt.Errorf("%q is not a host name or an IP address (a host name is labels of 1 to 63 letters, digits, '-' and '_' joined by dots)", host)
		}
	}
	return nil
}

func validHostLabel(label string) bool {
	if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
		return false
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
