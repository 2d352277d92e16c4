package procmem

import (
	"os"
	"testing"
)

func TestResidentOfThisProcess(t *testing.T) {
	rss, err := Resident(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// A Go test binary holds at least a megabyte and far less than a terabyte.
	if rss < 1<<20 || rss > 1<<40 {
		t.Fatalf("VmRSS of this process = %d bytes", rss)
	}
	if _, err := Resident(-1); err == nil {
		t.Fatal("Resident(-1) gave no error")
	}
}
