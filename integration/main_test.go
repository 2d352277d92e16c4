package integration

import (
	"os"
	"testing"
)

// TestMain removes the binaries the tests built once they have all run.
func TestMain(m *testing.M) {
	code := m.Run()
	removeBinaries()
	os.Exit(code)
}
