//go:build chaos

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestChaos runs every fault of the chaos suite (`make chaos`, docs/reliability.md), each as a
// sub-test, then prints the table of what each did to the data and writes it to
// $CDCD_CHAOS_TABLE (default .stack/chaos-table.md). -run 'TestChaos/partition' runs some.
func TestChaos(t *testing.T) {
	lab := newChaosLab(t)
	// A cleanup, so that the table is printed however the cases ended.
	t.Cleanup(func() { writeChaosTable(t, lab.rows) })
	for _, c := range chaosCases() {
		runChaosCase(t, lab, c)
	}
}

// writeChaosTable prints the table and writes it to $CDCD_CHAOS_TABLE (default
// .stack/chaos-table.md at the repository's root, ignored by git).
func writeChaosTable(t *testing.T, rows []chaosRow) {
	table := chaosTable(rows)
	fmt.Printf("\nchaos table (%d faults):\n%s\n", len(rows), table)
	path := envOr("CDCD_CHAOS_TABLE", filepath.Join("..", ".stack", "chaos-table.md"))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Errorf("writing the chaos table: %v", err)
		return
	}
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Errorf("writing the chaos table: %v", err)
		return
	}
	abs, _ := filepath.Abs(path)
	fmt.Printf("chaos table written to %s\n", abs)
}
